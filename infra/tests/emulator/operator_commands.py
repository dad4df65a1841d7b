"""`mmp --target aws` against the emulated deployment: the operator's commands, from upload to
prediction, as a person runs them after `terraform apply`; then the same run through the console
(`mmp --target aws up --console-only`) in a real headless Chromium (selenium, Debian's chromium
and chromedriver).

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
import os
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

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


class ConsoleProcess:
    """`mmp --target aws up --console-only` on a free loopback port, until closed."""

    def __init__(self, command, env):
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = []
        deadline = time.time() + 60
        self.url = None
        while self.url is None:
            line = self.process.stdout.readline()
            if not line and (self.process.poll() is not None or time.time() > deadline):
                raise AssertionError("the console did not start:\n" + "".join(self.output))
            self.output.append(line)
            if "Console:" in line:
                self.url = line.split("Console:", 1)[1].strip()
        # The rest of its output is drained, so that it never blocks on a full pipe.
        self.drain = threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True)
        self.drain.start()

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.drain.join(timeout=10)  # the pipe ends with the process
        self.process.stdout.close()


class ConsoleBrowser:
    """Headless Chromium on the console, with the waits the test needs. Screenshots go to
    MMP_SCREENSHOT_DIR when it is set."""

    def __init__(self, url, profile):
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
        for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1000", f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        service = ChromeService(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
        self.page = webdriver.Chrome(options=options, service=service)
        self.url = url
        self.page.get(url)

    def go(self, fragment):
        self.page.get(self.url + fragment)

    def wait_for(self, probe, what, timeout=30):
        deadline = time.time() + timeout
        while True:
            try:
                value = probe()
            except (StaleElementReferenceException, IndexError):
                value = None
            if value:
                return value
            if time.time() > deadline:
                banner = self.page.find_elements(By.ID, "banner")
                raise AssertionError(f"no {what} within {timeout} s; banner: {banner[0].text if banner else ''}")
            time.sleep(0.2)

    def wait(self, css):
        return self.wait_for(lambda: next(iter(e for e in self.page.find_elements(By.CSS_SELECTOR, css)
                                               if e.is_displayed()), None), css)

    def text(self, css):
        return self.wait(css).text

    def shot(self, name):
        folder = os.environ.get("MMP_SCREENSHOT_DIR")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.save_screenshot(str(Path(folder) / f"{name}.png"))

    def close(self):
        self.page.quit()


class OperatorCommands:
    """The tests; mixed into test_deployed.DeployedSystem."""

    def mmp_command(self, *args, folder="operator"):
        return [str(self.d.bin_dir / "mmp"), "--data-dir", str(self.d.work / folder), "--target", "aws", *args]

    def mmp(self, *args, env, folder="operator"):
        """Runs `mmp --target aws ARGS`; returns stdout (raises with the output on failure)."""
        command = self.mmp_command(*args, folder=folder)
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

    # -- what the services do between two operator actions ---------------------------------

    def deliver_upload(self, key):
        """S3's notification of `key` to the deployed trigger."""
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        event = json.loads((self.samples / "s3-dataset-upload.json").read_text())
        record = event["Records"][0]
        record["s3"]["bucket"].update(name=self.bucket, arn=f"arn:aws:s3:::{self.bucket}")
        record["s3"]["object"].update(key=key, size=head["ContentLength"], eTag=head["ETag"].strip('"'),
                                      versionId=head["VersionId"])
        self.start("pipeline-trigger").invoke(event)

    def register_version(self, group, execution_id):
        """What the pipeline's register step does: a pending version of `group`. Returns its ARN."""
        try:
            self.sm.create_model_package_group(ModelPackageGroupName=group)
        except self.sm.exceptions.ClientError:
            pass  # registered before
        artifact_key = f"pipelines/{self.pipeline}/{execution_id}/RefitBestModel/output/model.tar.gz"
        self.s3.put_object(Bucket=self.bucket, Key=artifact_key, Body=self.artifact())
        created = self.sm.create_model_package(
            ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [{"Image": self.d.outputs["image_uri"],
                                "ModelDataUrl": f"s3://{self.bucket}/{artifact_key}"}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"],
            })
        return created["ModelPackageArn"]

    def deliver_approval(self, arn, group, version):
        """SageMaker's state-change event of an approval, through the deployed rules."""
        event = self.sample("model-package-approved.json", group)
        event["resources"] = [arn]
        event["detail"].update(ModelPackageArn=arn, ModelPackageVersion=version, ModelPackageGroupName=group)
        self.assertEqual(self.routed_to(event), {"model-deployer"})
        self.start("model-deployer").invoke(event)

    def expected_trials(self):
        """(definition, objective) of each trial the emulator lists for the Tuning step."""
        definition = json.loads(self.sm.describe_pipeline(PipelineName=self.pipeline)["PipelineDefinition"])
        tuning = [step for step in definition["Steps"] if step["Type"] == "Tuning"]
        self.assertEqual(len(tuning), 1)
        names = [d["DefinitionName"] for d in tuning[0]["Arguments"]["TrainingJobDefinitions"]]
        return tuning[0]["Name"], [(name, round(0.5 + 0.04 * place, 4)) for place, name in enumerate(names)]

    def assert_calls_within_policy(self, env):
        """Every call mmp made since recording started is one the operator policy grants."""
        declared = set(json.loads(self.mmp("aws", "policy", env=env)))
        called = {iam_action(r) for r in self.recorded_requests() if MMP_USER_AGENT in str(r.get("headers", {}))}
        self.assertTrue(called, "mmp's calls were recorded")
        called.add("lambda:InvokeFunctionUrl")
        self.assertLessEqual(called, declared, "mmp called what operator::IAM_ACTIONS does not declare")
        return called

    def connect(self, env, url, folder):
        outputs = self.d.work / "outputs.json"
        outputs.write_text(self.d.outputs_json)
        self.mmp("aws", "connect", str(outputs), "--function-url", url.url, env=env, folder=folder)

    # -- the commands ------------------------------------------------------------------------

    def test_mmp_target_aws_from_upload_to_prediction(self):
        env = self.operator_env()
        group = f"{self.pipeline}-{OPERATOR_DATASET}"
        credentials = Credentials("testing", "testing", "testing")
        invoker = self.start("endpoint-invoker")
        url = SigV4FunctionUrl(invoker, credentials, "us-east-1")
        try:
            self.connect(env, url, "operator")
            self.start_recording()

            # Upload: the CSV lands where the notification fires; the trigger starts the execution.
            csv = self.d.work / f"{OPERATOR_DATASET}.csv"
            csv.write_bytes(b"sepal_length,sepal_width,CLASS\n5.1,3.5,0\n6.2,2.9,1\n")
            uploaded = self.mmp("upload", str(csv), "--dataset", OPERATOR_DATASET, env=env)
            key = f"datasets/{OPERATOR_DATASET}/{OPERATOR_DATASET}.csv"
            self.assertIn(f"s3://{self.bucket}/{key}", uploaded)
            self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(), csv.read_bytes())
            self.deliver_upload(key)

            # An upload the trigger refuses (a dataset name it cannot take) is listed with why.
            bad_key = "datasets/Not_A_Name/data.csv"
            self.s3.put_object(Bucket=self.bucket, Key=bad_key, Body=b"a,b\n1,2\n")
            self.deliver_upload(bad_key)
            rejected = json.loads(self.mmp("executions", "--rejected", "--json", env=env))
            self.assertEqual([r["key"] for r in rejected], [bad_key], rejected)
            self.assertIn("Not_A_Name", rejected[0]["reason"])

            # Executions: the one the trigger started, newest first, with its dataset, then its
            # parameters, steps and the tuning step's trials with their objective values.
            executions = json.loads(self.mmp("executions", "--json", env=env))
            newest = executions[0]
            parameters = {p["Name"]: p["Value"] for p in self.sm.list_pipeline_parameters_for_execution(
                PipelineExecutionArn=newest["arn"])["PipelineParameters"]}
            self.assertEqual(parameters["DatasetName"], OPERATOR_DATASET, executions)
            execution_id = newest["arn"].rsplit("/", 1)[1]
            detail = json.loads(self.mmp("executions", execution_id, "--json", env=env))
            self.assertEqual(detail["execution"]["arn"], newest["arn"])
            self.assertEqual(detail["execution"]["dataset"], OPERATOR_DATASET)
            self.assertEqual(detail["parameters"]["DatasetName"], OPERATOR_DATASET)
            tuning_step, trials = self.expected_trials()
            jobs = {s["name"]: s["jobs"] for s in detail["steps"]}
            self.assertEqual([(j["definition_name"], j["objective"]) for j in jobs[tuning_step]], trials)
            self.assertTrue(all(j["status"] == "Completed" and j["hyperparameters"] for j in jobs[tuning_step]))
            self.assertEqual({name for name, listed in jobs.items() if listed}, {tuning_step})
            table = self.mmp("executions", execution_id, env=env)
            self.assertIn(f"trials of {tuning_step}", table)
            self.assertIn(trials[-1][0], table)

            # Models: a version the pipeline registered, pending; approve it.
            arn = self.register_version(group, execution_id)
            models = json.loads(self.mmp("models", "--json", env=env))
            mine = [g for g in models if g["group"] == group]
            self.assertEqual([(v["version"], v["status"]) for v in mine[0]["versions"]], [(1, "PendingManualApproval")])
            self.assertIsNone(mine[0]["deployed_version"])

            self.mmp("approve", OPERATOR_DATASET, env=env)
            self.assertEqual(self.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"], "Approved")
            self.deliver_approval(arn, group, 1)
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

            called = self.assert_calls_within_policy(env)
            self.assertIn("sagemaker:ListTrainingJobsForHyperParameterTuningJob", called)
        finally:
            url.close()

    # -- the console -------------------------------------------------------------------------

    def test_the_console_over_aws_from_upload_to_prediction(self):
        """`mmp --target aws up --console-only`, used in headless Chromium as a person would."""
        env = self.operator_env()
        dataset = f"{OPERATOR_DATASET}-console"
        group = f"{self.pipeline}-{dataset}"
        invoker = self.start("endpoint-invoker")
        url = SigV4FunctionUrl(invoker, Credentials("testing", "testing", "testing"), "us-east-1")
        console = browser = None
        try:
            self.connect(env, url, "console")
            self.start_recording()
            console = ConsoleProcess(self.mmp_command("up", "--console-only", folder="console"), env)
            browser = ConsoleBrowser(console.url, self.d.work / "chromium")
            page = browser.page

            # What it is connected to, and nothing that only a local runtime has.
            self.assertIn("AWS", browser.text("[data-testid=target]"))
            self.assertIn(self.bucket, browser.text("[data-testid=target]"))
            self.assertFalse(page.find_elements(By.ID, "data-folder"))

            # Upload from the page: PutObject to the dataset's prefix; the trigger starts it.
            csv = self.d.work / f"{dataset}.csv"
            csv.write_bytes(b"sepal_length,sepal_width,CLASS\n5.1,3.5,0\n6.2,2.9,1\n")
            browser.go("#/upload")
            browser.wait("[data-testid=upload-dataset]").send_keys(dataset)
            page.find_element(By.CSS_SELECTOR, "[data-testid=upload-file]").send_keys(str(csv))
            page.find_element(By.CSS_SELECTOR, "[data-testid=upload-submit]").click()
            self.assertIn("Uploaded", browser.wait("[data-testid=info-banner]").text)
            key = f"datasets/{dataset}/{dataset}.csv"
            self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(), csv.read_bytes())
            self.deliver_upload(key)

            # Executions: its row (dataset from the display name), then its steps and trials.
            browser.go("#/executions")
            row = browser.wait_for(lambda: [r for r in page.find_elements(By.CSS_SELECTOR, "tr[data-execution]")
                                            if dataset in r.text], "the execution's row")[0]
            execution_id = row.get_attribute("data-execution")
            row.click()
            tuning_step, trials = self.expected_trials()
            browser.wait(f"tr[data-step='{tuning_step}']").click()
            shown = browser.wait_for(lambda: [
                (r.find_elements(By.TAG_NAME, "td")[0].text, r.find_elements(By.TAG_NAME, "td")[3].text)
                for r in page.find_elements(By.CSS_SELECTOR, "[data-testid=jobs-table] tr[data-job]")], "the trials")
            self.assertEqual(shown, [(name, f"{value:.4f}") for name, value in trials])
            page.find_elements(By.CSS_SELECTOR, "[data-testid=jobs-table] tr[data-job]")[0].click()
            self.assertIn("CloudWatch", browser.wait("[data-testid=job-log-where]").text)
            self.assertFalse(page.find_elements(By.CSS_SELECTOR, "[data-testid=retry-execution]"))
            self.assertFalse(page.find_elements(By.CSS_SELECTOR, "[data-testid=failure-reason]"),
                             "a Succeeded execution shows no failure reason")
            browser.shot("aws-execution")

            # Models: the registered version, approved from the page.
            arn = self.register_version(group, execution_id)
            browser.go(f"#/models/{group}")
            browser.wait("[data-testid=approve-1]").click()
            browser.wait_for(lambda: self.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
                             == "Approved", "the approval")
            self.deliver_approval(arn, group, 1)

            # Endpoint: the route the deployer wrote, and a prediction through the signed URL.
            browser.go("#/endpoint")
            browser.wait(f"[data-testid=routes-table] tr[data-dataset='{dataset}']")
            ttl = int(self.env("endpoint-invoker").get("MMP_ROUTE_CACHE_TTL_SECONDS", "5"))
            deadline = time.time() + ttl + 5
            while True:
                self.queue_endpoint_results(["setosa\n"])
                Select(browser.wait("[data-testid=try-model]")).select_by_value(dataset)
                rows = page.find_element(By.CSS_SELECTOR, "[data-testid=try-rows]")
                rows.clear()
                rows.send_keys("5.1,3.5")
                page.find_element(By.CSS_SELECTOR, "[data-testid=try-submit]").click()
                status = browser.wait("[data-testid=try-status]").text
                if status != "404" or time.time() > deadline:
                    break
                time.sleep(1)
            self.assertEqual(status, "200", browser.text("[data-testid=try-output]"))
            self.assertIn("setosa", browser.text("[data-testid=try-output]"))
            self.assertTrue(url.checked and all(ok for ok, _ in url.checked), f"unsigned requests: {url.checked}")
            browser.shot("aws-endpoint")

            # Reject from the page.
            browser.go(f"#/models/{group}")
            browser.wait("[data-testid=reject-1]").click()
            browser.wait_for(lambda: self.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
                             == "Rejected", "the rejection")
            self.assert_calls_within_policy(env)
        finally:
            if browser:
                browser.close()
            if console:
                console.close()
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

