"""A Lambda Runtime API on loopback: what the Lambda service gives a `provided.al2023` function's
`bootstrap`. The real binary polls `/invocation/next` for an event and posts its answer back,
exactly as on AWS; `invoke` hands it one event and waits for that answer.
See https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html."""

import json
import queue
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/2018-06-01/runtime"


class InvocationError(Exception):
    """The function answered an invocation with an error (or never started)."""


class RuntimeApi:
    def __init__(self, function_arn):
        self.function_arn = function_arn
        self.pending = queue.Queue()
        self.answers = {}
        self.init_error = None
        self.first_poll = None  # time.monotonic() of the first /invocation/next: init is done
        self.answered = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{API}/invocation/next":
                    return self._reply(404)
                if api.first_poll is None:
                    api.first_poll = time.monotonic()
                request_id, event = api.pending.get()
                deadline = int((time.time() + 60) * 1000)
                self._reply(200, json.dumps(event).encode(), [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", api.function_arn),
                    ("Lambda-Runtime-Trace-Id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0"),
                ])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = self.path[len(API):].strip("/").split("/")
                with api.answered:
                    if parts == ["init", "error"]:
                        api.init_error = body.decode(errors="replace")
                    elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                        api.answers[parts[1]] = (parts[2], body)
                    else:
                        return self._reply(404)
                    api.answered.notify_all()
                self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        host, port = self.server.server_address
        return f"{host}:{port}"

    def invoke(self, event, process, timeout=60):
        """Delivers one event; returns the function's answer (decoded JSON) or raises
        InvocationError with the function's error and the tail of its log."""
        request_id = str(uuid.uuid4())
        self.pending.put((request_id, event))
        deadline = time.time() + timeout
        with self.answered:
            while request_id not in self.answers:
                if self.init_error is not None:
                    raise InvocationError(f"init error: {self.init_error}")
                if process.poll() is not None:
                    raise InvocationError(f"the function exited with {process.returncode}")
                if time.time() > deadline:
                    raise InvocationError(f"no answer within {timeout} s")
                self.answered.wait(0.2)
            kind, body = self.answers.pop(request_id)
        if kind == "error":
            raise InvocationError(body.decode(errors="replace"))
        return json.loads(body) if body else None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Function:
    """One deployed function's bootstrap, started the way Lambda starts it: its deployed
    environment, the variables Lambda itself sets, and the Runtime API address. `launcher` is a
    command to start it under (an emulator for another architecture), empty to start it as is.
    Its cold start is measured as Lambda reports one: init (start to the first poll for an
    event) and the first invocation's duration."""

    def __init__(self, bootstrap, config, extra_env, log_path, launcher=()):
        self.name = config["FunctionName"]
        self.api = RuntimeApi(config["FunctionArn"])
        logging = config.get("LoggingConfig", {})
        env = dict(config.get("Environment", {}).get("Variables", {}))
        env.update({
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_VERSION": config.get("Version", "$LATEST"),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_LOG_GROUP_NAME": logging.get("LogGroup", f"/aws/lambda/{self.name}"),
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/02/[$LATEST]emulator",
            "AWS_LAMBDA_LOG_FORMAT": logging.get("LogFormat", "Text"),
            "_HANDLER": config.get("Handler", "bootstrap"),
            "LAMBDA_TASK_ROOT": str(bootstrap.parent),
            "TZ": ":UTC",
        })
        env.update(extra_env)
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.first_invoke_seconds = None
        self.started = time.monotonic()
        self.process = subprocess.Popen([*launcher, str(bootstrap)], env=env, cwd=bootstrap.parent,
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def init_seconds(self):
        """Start to the first poll for an event, or None while it has not polled."""
        first = self.api.first_poll
        return None if first is None else first - self.started

    def invoke(self, event, timeout=60):
        try:
            sent = time.monotonic()
            answer = self.api.invoke(event, self.process, timeout)
            if self.first_invoke_seconds is None:
                # From when the event could be taken (after init) to the answer.
                self.first_invoke_seconds = time.monotonic() - max(sent, self.api.first_poll or sent)
            return answer
        except InvocationError as error:
            self.log.flush()
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise InvocationError(f"{self.name}: {error}\n--- its log ---\n{tail}") from None

    def close(self):
        self.process.kill()
        self.process.wait()
        self.log.close()
        self.api.close()
