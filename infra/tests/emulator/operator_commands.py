"""`mmp --target aws` against the emulated deployment: the operator's commands, from upload to
prediction, as a person runs them after `terraform apply`.

A mixin of test_deployed.DeployedSystem: it uses that class's deployment (the apply to moto, the
functions' binaries under the Runtime API, the rule routing and moto's recorder). What the
services would do between two commands (S3's notification, SageMaker's state-change event
through the deployed rules) is delivered by the test, as the end-to-end test delivers it.

The Function URL is a stand-in on loopback (`SigV4FunctionUrl`): it checks each request's SigV4
signature for service `lambda` with botocore against the caller's credentials, refuses a request
without one (403, as AWS_IAM auth does), and hands the request to the deployed invoker binary as
a Function URL event.
"""

import base64
import json
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

OPERATOR_DATASET = "iris-operator"
# The SDK user agent's app name `mmp` sets (`app/mmp`): it tells mmp's calls from the functions'.
MMP_USER_AGENT = "app/mmp"


class SigV4FunctionUrl:
    """A Function URL with AWS_IAM auth on loopback, in front of the invoker's Function."""

    def __init__(self, invoker, credentials, region):
        self.checked = []  # (authorized, reason) per request
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok, reason = stand_in.verify(self, body, credentials, region)
                stand_in.checked.append((ok, reason))
                if not ok:
                    return self.reply(403, json.dumps({"Message": f"Forbidden: {reason}"}).encode())
                answer = invoker.invoke(function_url_event(self, body))
                payload = answer.get("body", "")
                if answer.get("isBase64Encoded"):
                    payload = base64.b64decode(payload).decode()
                self.reply(answer.get("statusCode", 502), payload.encode())

            def reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    @staticmethod
    def verify(handler, body, credentials, region):
        """Recomputes the request's signature (botocore, service lambda) and compares."""
        authorization = handler.headers.get("Authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return False, "no SigV4 signature"
        fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 "):].split(","))
        scope = fields["Credential"].split("/")
        if scope[0] != credentials.access_key or scope[2:5] != [region, "lambda", "aws4_request"]:
            return False, f"signed for {fields['Credential']}"
        signed = fields["SignedHeaders"].split(";")
        headers = {name: handler.headers[name] for name in signed if name != "host" and name in handler.headers}
        url = f"http://{handler.headers['Host']}{handler.path}"
        request = AWSRequest(method="POST", url=url, data=body, headers=headers)
        request.context["timestamp"] = handler.headers["X-Amz-Date"]
        signer = SigV4Auth(credentials, "lambda", region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if expected != fields["Signature"]:
            return False, "signature mismatch"
        return True, "ok"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def function_url_event(handler, body):
    """The event Lambda gives a Function URL's function (payload format 2.0)."""
    path, _, query = handler.path.partition("?")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in handler.headers.items()},
        "requestContext": {
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": handler.headers.get("User-Agent", "")},
            "requestId": f"stand-in-{time.time_ns()}",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def iam_action(request):
    """The IAM action behind one request moto recorded (S3 path style, SageMaker JSON)."""
    headers = {k.lower(): v for k, v in request.get("headers", {}).items()}
    target = headers.get("x-amz-target", "")
    if target.startswith("SageMaker."):
        return "sagemaker:" + target.split(".", 1)[1]
    parsed = urllib.parse.urlparse(request.get("url", ""))
    parts = parsed.path.lstrip("/").split("/", 1)
    method = request.get("method", "GET")
    if len(parts) == 1 or parts[1] == "":
        return "s3:ListBucket" if method == "GET" else f"s3:{method} bucket"
    return {"GET": "s3:GetObject", "HEAD": "s3:GetObject", "PUT": "s3:PutObject"}.get(method, f"s3:{method} object")


class OperatorCommands:
    """The tests; mixed into test_deployed.DeployedSystem."""

    def mmp(self, *args, env):
        """Runs `mmp --target aws ARGS`; returns stdout (raises with the output on failure)."""
        command = [str(self.d.bin_dir / "mmp"), "--data-dir", str(self.d.work / "operator"), "--target", "aws", *args]
        result = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"`mmp {' '.join(args)}` failed ({result.returncode}):\n"
                                 f"{result.stdout.decode()}\n{result.stderr.decode()[-4000:]}")
        return result.stdout.decode()

    def operator_env(self):
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.d.work), "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
               "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": self.d.endpoint,
               "SSL_CERT_FILE": str(self.d.tls["ca"]), "MMP_S3_FORCE_PATH_STYLE": "true",
               "AWS_EC2_METADATA_DISABLED": "true", "RUST_LOG": "warn"}

    def test_the_operator_policy_grants_exactly_what_the_operator_commands_call(self):
        declared = set(json.loads(self.mmp("aws", "policy", env=self.operator_env())))
        arn = self.d.outputs["operator_policy_arn"]
        version = self.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        document = self.iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        if isinstance(document, str):
            document = json.loads(urllib.parse.unquote(document))
        granted = set()
        for statement in document["Statement"]:
            self.assertEqual(statement["Effect"], "Allow")
            actions = statement["Action"]
            granted |= set([actions] if isinstance(actions, str) else actions)
        self.assertEqual(granted, declared, "the operator policy vs. operator::IAM_ACTIONS")

    def test_mmp_target_aws_from_upload_to_prediction(self):
        env = self.operator_env()
        group = f"{self.pipeline}-{OPERATOR_DATASET}"
        credentials = Credentials("testing", "testing", "testing")
        invoker = self.start("endpoint-invoker")
        url = SigV4FunctionUrl(invoker, credentials, "us-east-1")
        try:
            outputs = self.d.work / "outputs.json"
            outputs.write_text(self.d.outputs_json)
            self.mmp("aws", "connect", str(outputs), "--function-url", url.url, env=env)
            self.start_recording()

            # Upload: the CSV lands where the notification fires; the trigger starts the execution.
            csv = self.d.work / f"{OPERATOR_DATASET}.csv"
            csv.write_bytes(b"sepal_length,sepal_width,CLASS\n5.1,3.5,0\n6.2,2.9,1\n")
            uploaded = self.mmp("upload", str(csv), "--dataset", OPERATOR_DATASET, env=env)
            key = f"datasets/{OPERATOR_DATASET}/{OPERATOR_DATASET}.csv"
            self.assertIn(f"s3://{self.bucket}/{key}", uploaded)
            self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(), csv.read_bytes())
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
            event = json.loads((self.samples / "s3-dataset-upload.json").read_text())
            record = event["Records"][0]
            record["s3"]["bucket"].update(name=self.bucket, arn=f"arn:aws:s3:::{self.bucket}")
            record["s3"]["object"].update(key=key, size=head["ContentLength"], eTag=head["ETag"].strip('"'),
                                          versionId=head["VersionId"])
            self.start("pipeline-trigger").invoke(event)

            # An upload the trigger refuses (a dataset name it cannot take) is listed with why.
            bad_key = "datasets/Not_A_Name/data.csv"
            self.s3.put_object(Bucket=self.bucket, Key=bad_key, Body=b"a,b\n1,2\n")
            bad_head = self.s3.head_object(Bucket=self.bucket, Key=bad_key)
            bad_event = json.loads(json.dumps(event))
            bad_event["Records"][0]["s3"]["object"].update(key=bad_key, size=bad_head["ContentLength"],
                                                           eTag=bad_head["ETag"].strip('"'),
                                                           versionId=bad_head["VersionId"])
            self.start("pipeline-trigger").invoke(bad_event)
            rejected = json.loads(self.mmp("executions", "--rejected", "--json", env=env))
            self.assertEqual([r["key"] for r in rejected], [bad_key], rejected)
            self.assertIn("Not_A_Name", rejected[0]["reason"])

            # Executions: the one the trigger started, newest first, and its steps.
            executions = json.loads(self.mmp("executions", "--json", env=env))
            newest = executions[0]
            parameters = {p["Name"]: p["Value"] for p in self.sm.list_pipeline_parameters_for_execution(
                PipelineExecutionArn=newest["arn"])["PipelineParameters"]}
            self.assertEqual(parameters["DatasetName"], OPERATOR_DATASET, executions)
            execution_id = newest["arn"].rsplit("/", 1)[1]
            steps = json.loads(self.mmp("executions", execution_id, "--json", env=env))
            self.assertEqual(steps["arn"], newest["arn"])
            self.assertTrue(steps["steps"], "the execution's steps are listed")

            # Models: a version the pipeline registered, pending; approve it.
            self.sm.create_model_package_group(ModelPackageGroupName=group)
            artifact_key = f"pipelines/{self.pipeline}/{execution_id}/RefitBestModel/output/model.tar.gz"
            self.s3.put_object(Bucket=self.bucket, Key=artifact_key, Body=self.artifact())
            created = self.sm.create_model_package(
                ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval",
                InferenceSpecification={
                    "Containers": [{"Image": self.d.outputs["image_uri"],
                                    "ModelDataUrl": f"s3://{self.bucket}/{artifact_key}"}],
                    "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"],
                })
            arn = created["ModelPackageArn"]
            models = json.loads(self.mmp("models", "--json", env=env))
            mine = [g for g in models if g["group"] == group]
            self.assertEqual([(v["version"], v["status"]) for v in mine[0]["versions"]], [(1, "PendingManualApproval")])
            self.assertIsNone(mine[0]["deployed_version"])

            self.mmp("approve", OPERATOR_DATASET, env=env)
            self.assertEqual(self.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"], "Approved")
            # SageMaker's state-change event, through the deployed rules, to the deployer.
            event = self.sample("model-package-approved.json", group)
            event["resources"] = [arn]
            event["detail"].update(ModelPackageArn=arn, ModelPackageVersion=1, ModelPackageGroupName=group)
            self.assertEqual(self.routed_to(event), {"model-deployer"})
            self.start("model-deployer").invoke(event)
            models = json.loads(self.mmp("models", "--json", env=env))
            self.assertEqual([g["deployed_version"] for g in models if g["group"] == group], [1],
                             "the route changed to the approved version")

            # Invoke: SigV4-signed through the Function URL, answered by the deployed endpoint.
            # A warm invoker serves a new route once its cached table is revalidated (its TTL).
            ttl = int(self.env("endpoint-invoker").get("MMP_ROUTE_CACHE_TTL_SECONDS", "5"))
            deadline = time.time() + ttl + 5
            while True:
                self.queue_endpoint_results(["setosa\n"])
                try:
                    answer = self.mmp("invoke", OPERATOR_DATASET, "--csv", "5.1,3.5", env=env)
                    break
                except AssertionError as error:
                    if "answered 404" not in str(error) or time.time() > deadline:
                        raise
                    time.sleep(1)
            self.assertIn("setosa", answer)
            self.assertTrue(url.checked and all(ok for ok, _ in url.checked), f"unsigned requests: {url.checked}")

            # Reject: the version is withdrawn from approval.
            self.mmp("reject", OPERATOR_DATASET, "--version", "1", env=env)
            self.assertEqual(self.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"], "Rejected")

            # Every call mmp made is one the operator policy grants.
            declared = set(json.loads(self.mmp("aws", "policy", env=env)))
            called = {iam_action(r) for r in self.recorded_requests() if MMP_USER_AGENT in str(r.get("headers", {}))}
            called.add("lambda:InvokeFunctionUrl")
            self.assertTrue(called - {"lambda:InvokeFunctionUrl"}, "mmp's calls were recorded")
            self.assertLessEqual(called, declared, "mmp called what operator::IAM_ACTIONS does not declare")
        finally:
            url.close()

    def test_an_unsigned_function_url_request_is_refused_by_the_stand_in(self):
        url = SigV4FunctionUrl(None, Credentials("testing", "testing", "testing"), "us-east-1")
        try:
            request = urllib.request.Request(url.url, data=b"{}", method="POST")
            with self.assertRaises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            self.assertEqual(refused.exception.code, 403)
        finally:
            url.close()

