#!/usr/bin/env python3
"""Cold start, bootstrap start -> first event handled, against a local Lambda Runtime API.

Starts moto (S3 + sagemaker-runtime for both handlers), a minimal Runtime API on loopback, and
then, alternating, N cold starts of the Rust endpoint-invoker and of the original-style Python
handler under awslambdaric. Each sample: spawn the process, serve it one Function URL event,
stop the clock when its response is POSTed, kill it. Prints medians and the ratio.

usage: cold_start.py RUST_BINARY [N] [--arm64 BOOTSTRAP --launcher CMD] [--no-python]

--arm64 adds a third contestant: the arm64 `bootstrap` of the shipped zip (scripts/build-functions.sh)
started under CMD, e.g. "qemu-aarch64-static -L $(bash scripts/arm64-sysroot.sh)", to set the cold
start under emulation beside the native one. --no-python leaves the original out (it needs
`pip install awslambdaric boto3`).
"""
import argparse
import json
import os
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "mmp-bench"
PREFIX = "/2018-06-01/runtime"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RuntimeApi(BaseHTTPRequestHandler):
    """One event per cold start; `next` blocks afterwards until the process is killed."""

    state = None  # one subclass per sample sets it: {"event", "served", "done", then "body", "path", "end"}

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path != PREFIX + "/invocation/next":
            self.send_error(404)
            return
        state = self.state
        if state["served"]:
            state["done"].wait(30)
            time.sleep(30)
            return
        state["served"] = True
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(state["event"])))
        self.end_headers()
        self.wfile.write(state["event"])

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        state = self.state
        state["body"] = body
        state["path"] = self.path
        state["end"] = time.perf_counter()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        state["done"].set()


def moto_request(endpoint, method, path, body=None):
    request = urllib.request.Request(endpoint + path, data=body, method=method,
                                     headers={"Content-Type": "application/octet-stream"})
    return urllib.request.urlopen(request, timeout=10).read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rust_binary")
    parser.add_argument("samples", nargs="?", type=int, default=10)
    parser.add_argument("--arm64", help="an arm64 bootstrap, started under --launcher")
    parser.add_argument("--launcher", default="qemu-aarch64-static", help="the command the arm64 bootstrap runs under")
    parser.add_argument("--no-python", action="store_true", help="leave the original Python handler out")
    args = parser.parse_args()
    rust_binary = os.path.abspath(args.rust_binary)
    samples = args.samples

    moto_port = free_port()
    moto = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{moto_port}"
    try:
        for _ in range(100):
            try:
                moto_request(endpoint, "GET", "/moto-api/data.json")
                break
            except OSError:
                time.sleep(0.1)
        moto_request(endpoint, "PUT", f"/{BUCKET}")
        routing = {"schema": 1, "routes": {"wine": {"group": "mmp-wine", "version": 1,
                   "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/mmp-wine/1",
                   "target_model": "mmp-wine-v1.tar.gz"}}}
        moto_request(endpoint, "PUT", f"/{BUCKET}/endpoint/routing.json", json.dumps(routing).encode())
        moto_request(endpoint, "PUT", f"/{BUCKET}/endpoint/models/map.json",
                     json.dumps({"wine": "mmp-wine-v1.tar.gz"}).encode())

        with open(os.path.join(HERE, "../../events/samples/function-url-predict.json")) as f:
            event = json.load(f)
        event["body"] = json.dumps({"model": "wine", "data": "13.2,1.78,2.14"})
        event_bytes = json.dumps(event).encode()

        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "MMP_BUCKET": BUCKET,
            "MMP_ENDPOINT_NAME": "mmp-endpoint",
            "MMP_S3_FORCE_PATH_STYLE": "true",
            "RUST_LOG": "warn",
            "PYTHONPATH": HERE,
        }
        commands = {"rust endpoint-invoker": [rust_binary]}
        if args.arm64:
            commands["rust endpoint-invoker, arm64 under emulation"] = [*shlex.split(args.launcher), os.path.abspath(args.arm64)]
        if not args.no_python:
            commands["python original (awslambdaric + boto3)"] = [sys.executable, "-m", "awslambdaric", "original_invoker.handler"]
        times = {name: [] for name in commands}
        for _ in range(samples):
            for name, command in commands.items():
                # A fresh Runtime API per sample, so a killed process's late `next` cannot
                # take the following sample's event.
                state = {"event": event_bytes, "served": False, "done": threading.Event()}
                handler = type("SampleRuntimeApi", (RuntimeApi,), {"state": state})
                server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
                server.daemon_threads = True
                threading.Thread(target=server.serve_forever, daemon=True).start()
                run_env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
                start = time.perf_counter()
                process = subprocess.Popen(command, env=run_env, cwd=HERE,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                finished = state["done"].wait(60)
                process.kill()
                _, stderr = process.communicate()
                server.shutdown()
                server.server_close()
                if not finished or "/response" not in state.get("path", ""):
                    sys.exit(f"{name}: no response ({state.get('path')}): {stderr.decode()[-2000:]}")
                answer = json.loads(state["body"])
                if answer.get("statusCode") != 200:
                    sys.exit(f"{name}: unexpected answer {answer}")
                times[name].append((state["end"] - start) * 1000)
    finally:
        moto.kill()
        moto.wait()

    medians = {}
    for name, values in times.items():
        medians[name] = statistics.median(values)
        print(f"{name}: median {medians[name]:.1f} ms, min {min(values):.1f}, max {max(values):.1f} (n={len(values)})")
    rust = medians["rust endpoint-invoker"]
    for name, median in medians.items():
        if name != "rust endpoint-invoker":
            print(f"ratio ({name} / rust endpoint-invoker): {median / rust:.1f}x")


if __name__ == "__main__":
    main()
