#!/usr/bin/env python3
"""The deployed system on an AWS emulator.

infra/ is applied by Terraform, as it is, to moto's server (the only differences are the
provider's endpoint, fake credentials and the variables named in APPLY_VARIABLES, each
documented in docs/deploy-aws.md). Everything below reads what that apply created back from
moto's APIs: resource names, the functions' code and environment, the roles' policies, the
rules' patterns, the bucket notification. Then the system is driven end to end: each Lambda
function runs as its real binary, unpacked from the zip Terraform deployed, under a Lambda
Runtime API (lambda_runtime.py), with the deployed function's environment.

    python3 infra/tests/emulator/test_deployed.py --bin-dir target/debug
    python3 infra/tests/emulator/test_deployed.py --bin-dir target/debug \
        --zip-dir target/lambda --launcher "qemu-aarch64-static -L SYSROOT"

--bin-dir holds the `code-contract` and `event-matches` tools of mmp-infra-check and, unless
--zip-dir names the zips scripts/build-functions.sh made, the four function binaries (built
with feature `aws`), which are then zipped as that script zips them. --launcher is a command
that each `bootstrap` is started under (an emulator for another architecture's zips).
Needs `terraform` (with a provider mirror when offline: scripts/terraform-offline-env.sh),
moto's server and boto3.
"""

import argparse
import base64
import fnmatch
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import boto3
from moto.events.models import EventPattern

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lambda_runtime import Function  # noqa: E402
from operator_commands import OperatorCommands  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
INFRA = REPO / "infra"
SAMPLES = REPO / "events" / "samples"
CONFORMANCE = REPO.parent / "shared" / "conformance" / "check_pipeline_definition.py"
FUNCTIONS = ["pipeline-trigger", "model-deployer", "endpoint-invoker", "metrics-reporter"]
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
IMAGE_TAG = "emulator"
# What the emulator apply sets that a real deployment leaves at its default, and why.
APPLY_VARIABLES = {
    # No Docker engine or registry: an image manifest is put into the emulated ECR instead.
    "build_image": "false",
    "image_tag": IMAGE_TAG,
    # moto lacks application-autoscaling's ListTagsForResource, which the scalable target's
    # read needs; the autoscaling resources are covered by the mock-provider tests.
    "endpoint_autoscaling": "false",
}
# Which function each EventBridge sample must reach (None: no function).
EXPECTED_ROUTES = {
    "model-package-approved.json": "model-deployer",
    "model-package-rejected.json": "model-deployer",
    "model-package-pending.json": None,
    "pipeline-execution-succeeded.json": "metrics-reporter",
    "pipeline-execution-failed.json": "metrics-reporter",
    "pipeline-execution-executing.json": None,
}
DATASET = "iris"
# ELF e_machine values, by the Lambda architecture name they run on.
ELF_MACHINES = {0xB7: "arm64", 0x3E: "x86_64"}
# provided.al2023's glibc (Amazon Linux 2023 ships 2.34) and the libraries it alone provides.
AL2023_GLIBC = (2, 34)
AL2023_GLIBC_LIBRARIES = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                          "libgcc_s.so.1", "ld-linux-aarch64.so.1", "ld-linux-x86-64.so.2"}

ARGS = None
STATE = None  # the Deployed system, shared by the tests
COLD_STARTS = {}  # crate -> its Function, for the cold-start report


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(command, env, cwd=None, log=None):
    """Runs a command; on failure raises with its output (the tail, for long ones)."""
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = result.stdout.decode(errors="replace")
    if log is not None:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(command)}\n{output}\n")
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed ({result.returncode}):\n{output[-6000:]}")
    return output


def lambda_zip(binary, folder):
    """A zip as scripts/build-functions.sh makes it: the binary as an executable `bootstrap`."""
    folder.mkdir(parents=True)
    path = folder / "bootstrap.zip"
    info = zipfile.ZipInfo("bootstrap", date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(info, Path(binary).read_bytes())
    return path


def loopback_tls(folder):
    """A certificate authority and a certificate for 127.0.0.1 signed by it: moto serves HTTPS,
    because the deployed bucket policy refuses every request without TLS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    import datetime
    import ipaddress

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mmp emulator CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: folder / f"{name}.pem" for name in ("ca", "cert", "key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return paths


def code_sha256(path):
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def model_artifact():
    """A model.tar.gz as the training job writes one (the deployer copies it as it is)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = json.dumps({"format": "emulator-placeholder"}).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Deployed:
    """moto's server, the Terraform apply against it, and clients reading it back."""

    def __init__(self, bin_dir, zip_dir, work):
        self.work = work
        self.bin_dir = bin_dir
        self.log = work / "terraform.log"
        port = free_port()
        self.endpoint = f"https://127.0.0.1:{port}"
        self.tls = loopback_tls(work)
        # Every client trusts the emulator's authority: boto3 by `verify`, the Terraform
        # provider by AWS_CA_BUNDLE, the functions' rustls by SSL_CERT_FILE.
        self.ssl_context = ssl.create_default_context(cafile=str(self.tls["ca"]))
        # moto's server with the one call it lacks (moto_server.py says which).
        self.moto = subprocess.Popen([sys.executable, str(HERE / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port),
                                      "-c", str(self.tls["cert"]), "-k", str(self.tls["key"])],
                                     stdout=open(work / "moto.log", "wb"), stderr=subprocess.STDOUT)
        try:
            self._wait_for_moto()
            self.session = boto3.session.Session(region_name=REGION, aws_access_key_id="testing",
                                                 aws_secret_access_key="testing", aws_session_token="testing")
            self.contract = json.loads(run([str(bin_dir / "code-contract")], env=os.environ))["functions"]
            self.matcher = bin_dir / "event-matches"

            # The zips Terraform deploys: the shipped ones, or each function's binary as
            # `bootstrap`, zipped here as scripts/build-functions.sh zips it.
            self.zips = {}
            for name in FUNCTIONS:
                if zip_dir is not None:
                    shipped = zip_dir / name / "bootstrap.zip"
                    if not shipped.is_file():
                        raise RuntimeError(f"{shipped} is missing: build it with scripts/build-functions.sh")
                    (work / "lambda" / name).mkdir(parents=True)
                    self.zips[name] = Path(shutil.copy(shipped, work / "lambda" / name / "bootstrap.zip"))
                    continue
                binary = bin_dir / name
                if not binary.is_file():
                    raise RuntimeError(f"{binary} is missing: build it with `cargo build -p {name} --features aws`")
                self.zips[name] = lambda_zip(binary, work / "lambda" / name)
            self._apply()
        except BaseException:
            self.close()
            raise

    def client(self, service):
        return self.session.client(service, endpoint_url=self.endpoint, verify=str(self.tls["ca"]))

    def _wait_for_moto(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=2,
                                       context=self.ssl_context).read()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("moto_server did not answer within 60 s")

    def terraform_env(self):
        env = dict(os.environ)
        env.update(CREDENTIALS)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_CA_BUNDLE": str(self.tls["ca"]),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "TF_DATA_DIR": str(self.work / "terraform-data"),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
        })
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(name, None)
        return env

    def _terraform(self, *args):
        return run(["terraform", f"-chdir={INFRA}", *args], env=self.terraform_env(), log=self.log)

    def _apply(self):
        variables = dict(APPLY_VARIABLES, lambda_zip_dir=str(self.work / "lambda"))
        var_args = [f"-var={k}={v}" for k, v in variables.items()]
        state = f"-state={self.work / 'terraform.tfstate'}"
        self._terraform("init", "-backend=false", "-input=false", "-lockfile=readonly", "-no-color")
        # The repository first, then the image in it (as `build_image = false` asks of a user),
        # then everything.
        self._terraform("apply", "-auto-approve", "-input=false", "-no-color", state,
                        "-target=aws_ecr_repository.container", *var_args)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                       "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest()},
            "layers": [],
        }
        ecr = self.client("ecr")
        repository = ecr.describe_repositories()["repositories"][0]["repositoryName"]
        ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=IMAGE_TAG)
        self._terraform("apply", "-auto-approve", "-input=false", "-no-color", state, *var_args)
        self.outputs_json = self._terraform("output", "-json", state)
        outputs = json.loads(self.outputs_json)
        self.outputs = {name: value["value"] for name, value in outputs.items()}
        # moto ignores the conditions of a bucket policy's statements, so the deployed policy
        # (deny without TLS, deny TLS < 1.2) would refuse every object request. It is read back
        # for the tests, then removed.
        s3 = self.client("s3")
        self.bucket_policy = json.loads(s3.get_bucket_policy(Bucket=self.outputs["bucket"])["Policy"])
        s3.delete_bucket_policy(Bucket=self.outputs["bucket"])

    def close(self):
        self.moto.kill()
        self.moto.wait()


class DeployedSystem(OperatorCommands, unittest.TestCase):
    """What the apply created, read back from moto's APIs (and, from OperatorCommands, the
    operator's commands against it)."""

    samples = SAMPLES

    @classmethod
    def setUpClass(cls):
        cls.d = STATE
        cls.lam = STATE.client("lambda")
        cls.s3 = STATE.client("s3")
        cls.sm = STATE.client("sagemaker")
        cls.events = STATE.client("events")
        cls.iam = STATE.client("iam")
        cls.pipeline = STATE.outputs["pipeline_name"]
        cls.bucket = STATE.outputs["bucket"]
        # Each deployed function, identified by the code it runs.
        by_sha = {code_sha256(path): name for name, path in STATE.zips.items()}
        cls.functions = {}  # crate -> configuration
        for config in cls.lam.list_functions()["Functions"]:
            crate = by_sha.get(config["CodeSha256"])
            if crate is not None:
                cls.functions[crate] = cls.lam.get_function_configuration(FunctionName=config["FunctionName"])
        cls.crate_of_arn = {c["FunctionArn"]: crate for crate, c in cls.functions.items()}
        cls.running = {}

    @classmethod
    def tearDownClass(cls):
        for function in cls.running.values():
            function.close()

    def env(self, crate):
        return self.functions[crate]["Environment"]["Variables"]

    def start(self, crate):
        """The crate's deployed function, running under the Runtime API (started once)."""
        if crate not in self.running:
            config = self.functions[crate]
            folder = self.d.work / "run" / crate
            folder.mkdir(parents=True)
            with zipfile.ZipFile(self.d.zips[crate]) as z:
                z.extractall(folder)
            bootstrap = folder / "bootstrap"
            bootstrap.chmod(0o755)
            # What Lambda adds: the role's credentials and the region; what the emulator adds:
            # its endpoint (the SDK reads AWS_ENDPOINT_URL) and its certificate authority.
            extra = dict(CREDENTIALS, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION,
                         AWS_ENDPOINT_URL=self.d.endpoint, SSL_CERT_FILE=str(self.d.tls["ca"]),
                         PATH="/usr/bin:/bin")
            launcher = shlex.split(ARGS.launcher) if ARGS.launcher else []
            self.running[crate] = Function(bootstrap, config, extra, self.d.work / f"{crate}.log", launcher)
            COLD_STARTS[crate] = self.running[crate]
        return self.running[crate]

    # --- What was deployed ---

    def test_each_function_crate_is_deployed_once(self):
        self.assertEqual(sorted(self.functions), sorted(FUNCTIONS))
        for crate, config in self.functions.items():
            self.assertEqual(config["Runtime"], "provided.al2023", crate)
            self.assertEqual(config["Handler"], "bootstrap", crate)
            self.assertEqual(config["Architectures"], ["arm64"], crate)

    def test_each_shipped_bootstrap_can_start_on_the_deployed_runtime(self):
        """The zip's binary is for the architecture the function is deployed with, and asks of
        the dynamic linker no library and no glibc symbol version that provided.al2023 lacks."""
        if ARGS.zip_dir is None:
            self.skipTest("the zips are the host's debug binaries (no --zip-dir)")
        for crate, config in self.functions.items():
            with self.subTest(crate=crate), zipfile.ZipFile(self.d.zips[crate]) as z:
                self.assertEqual(z.namelist(), ["bootstrap"], "the zip holds exactly `bootstrap`")
                self.assertEqual(z.getinfo("bootstrap").external_attr >> 16 & 0o111, 0o111, "bootstrap is executable")
                binary = self.d.work / f"{crate}.bootstrap"
                binary.write_bytes(z.read("bootstrap"))
            machine = int.from_bytes(binary.read_bytes()[18:20], "little")  # ELF e_machine
            self.assertEqual(ELF_MACHINES.get(machine), config["Architectures"][0], crate)
            dynamic = run(["readelf", "--dynamic", "--version-info", "--wide", str(binary)], env=os.environ)
            needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
            self.assertLessEqual(needed, AL2023_GLIBC_LIBRARIES, f"{crate} needs libraries the runtime lacks")
            versions = {tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_([0-9.]+)", dynamic)}
            self.assertLessEqual(max(versions), AL2023_GLIBC, f"{crate} needs a newer glibc than provided.al2023's")

    def test_each_function_gets_exactly_the_environment_its_code_reads(self):
        for crate in FUNCTIONS:
            read = {v for v in self.d.contract[crate]["env_vars"] if not v.startswith(("AWS_", "LAMBDA_"))}
            self.assertEqual(set(self.env(crate)), read, f"{crate}: deployed environment vs. its ENV_VARS")

    def policy_statements(self, crate):
        """The Allow statements of every policy of the function's role, by policy name."""
        role = self.functions[crate]["Role"].rsplit("/", 1)[1]
        policies = {}
        for name in self.iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = as_json(self.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])
            statements = document["Statement"]
            policies[name] = [s for s in (statements if isinstance(statements, list) else [statements])
                              if s["Effect"] == "Allow"]
        self.assertEqual(self.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"], [],
                         f"{crate}: the role's grants are its inline policies")
        return policies

    def test_each_role_grants_exactly_the_calls_its_code_makes_on_the_keys_it_touches(self):
        # What each function's code does with the keys and prefixes it is configured with.
        touches = {
            "pipeline-trigger": {"MMP_TRIGGER_CLAIMS_PREFIX": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
                                 "MMP_PINNED_DATASETS_PREFIX": {"s3:GetObject", "s3:PutObject"}},
            "model-deployer": {"MMP_ROUTING_KEY": {"s3:GetObject", "s3:PutObject"},
                               "MMP_MODELS_PREFIX": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}},
            "endpoint-invoker": {"MMP_ROUTING_KEY": {"s3:GetObject"}},
            "metrics-reporter": {"MMP_REPORTS_PREFIX": {"s3:GetObject", "s3:PutObject"}},
        }
        for crate in FUNCTIONS:
            policies = self.policy_statements(crate)
            access = policies.pop("access")
            granted = {a for s in access for a in listify(s["Action"])}
            self.assertEqual(granted, set(self.d.contract[crate]["iam_actions"]),
                             f"{crate}: the role's actions vs. its IAM_ACTIONS")
            env = self.env(crate)
            for variable, actions in touches[crate].items():
                # A key as it is; under a prefix, any key.
                key = f"arn:aws:s3:::{self.bucket}/{env[variable]}" + ("x" if env[variable].endswith("/") else "")
                allowed = {a for s in access for a in listify(s["Action"])
                           if any(fnmatch.fnmatchcase(key, r) for r in listify(s["Resource"]))}
                self.assertLessEqual(actions, allowed, f"{crate}: on {variable}={env[variable]}")
            # The runtime's own policy: logs, and the dead-letter queue where one is configured.
            runtime = {a for s in policies.pop("runtime") for a in listify(s["Action"])}
            self.assertLessEqual(runtime, {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}, crate)
            self.assertEqual(policies, {}, f"{crate}: unexpected policies")

    def test_the_bucket_policy_refuses_requests_without_tls_and_grants_nothing(self):
        statements = listify(self.d.bucket_policy["Statement"])
        self.assertEqual({s["Effect"] for s in statements}, {"Deny"})
        conditions = {json.dumps(s["Condition"], sort_keys=True) for s in statements}
        self.assertEqual(conditions, {json.dumps({"Bool": {"aws:SecureTransport": "false"}}),
                                      json.dumps({"NumericLessThan": {"s3:TlsVersion": "1.2"}})})

    def test_the_rendered_pipeline_definition_passes_the_sagemaker_conformance_check(self):
        described = self.sm.describe_pipeline(PipelineName=self.pipeline)
        definition = described["PipelineDefinition"]
        self.assertNotIn("${", definition, "a placeholder reached the deployed definition")
        self.assertIn(self.bucket, definition)
        self.assertIn(described["RoleArn"], definition)
        if not CONFORMANCE.is_file():
            self.skipTest(f"{CONFORMANCE} is not beside the project")
        path = self.d.work / "definition.json"
        path.write_text(definition)
        out = run([sys.executable, str(CONFORMANCE), str(path)], env=os.environ)
        self.assertIn("0 problems", out)

    def pipeline_role_statements(self):
        role = self.sm.describe_pipeline(PipelineName=self.pipeline)["RoleArn"].rsplit("/", 1)[1]
        return [s for name in self.iam.list_role_policies(RoleName=role)["PolicyNames"]
                for s in listify(as_json(self.iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])["Statement"])
                if s["Effect"] == "Allow"]

    def test_the_pipeline_role_can_run_every_step_of_the_definition_and_pass_only_itself(self):
        definition = json.loads(self.sm.describe_pipeline(PipelineName=self.pipeline)["PipelineDefinition"])
        statements = self.pipeline_role_statements()
        granted = {a for s in statements for a in listify(s["Action"])}
        # The call the pipeline service makes with the pipeline's role for each step type.
        needs = {"Processing": "sagemaker:CreateProcessingJob", "Training": "sagemaker:CreateTrainingJob",
                 "Tuning": "sagemaker:CreateHyperParameterTuningJob", "RegisterModel": "sagemaker:CreateModelPackage",
                 "Model": "sagemaker:CreateModel", "Transform": "sagemaker:CreateTransformJob",
                 "Lambda": "lambda:InvokeFunction"}
        steps = all_steps(definition["Steps"])
        self.assertLessEqual({"Processing", "Tuning", "Training", "RegisterModel"}, {s["Type"] for s in steps})
        for step in steps:
            if step["Type"] in needs:
                self.assertIn(needs[step["Type"]], granted, f"step {step['Name']} ({step['Type']})")
        if "PipelineExperimentConfig" in definition:
            self.assertLessEqual({"sagemaker:CreateExperiment", "sagemaker:CreateTrial"}, granted)
        passes = [s for s in statements if "iam:PassRole" in listify(s["Action"])]
        role_arn = self.sm.describe_pipeline(PipelineName=self.pipeline)["RoleArn"]
        self.assertEqual([listify(s["Resource"]) for s in passes], [[role_arn]], "PassRole: its own role only")
        self.assertEqual(passes[0]["Condition"], {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})

    def test_every_bucket_location_of_the_definition_is_inside_the_job_data_grant(self):
        definition = json.loads(self.sm.describe_pipeline(PipelineName=self.pipeline)["PipelineDefinition"])
        paths = bucket_paths(definition, self.bucket)
        self.assertGreaterEqual(len(paths), 5)
        for path in paths:
            self.assertEqual(path[:2], ["pipelines", self.pipeline], f"a job location outside pipelines/<pipeline>/: {path}")
        statements = self.pipeline_role_statements()
        job_data = f"arn:aws:s3:::{self.bucket}/pipelines/{self.pipeline}/"
        for action in ("s3:GetObject", "s3:PutObject"):
            self.assertTrue(any(action in listify(s["Action"]) and f"{job_data}*" in listify(s["Resource"])
                                for s in statements), f"the pipeline role lacks {action} on {job_data}*")
        # Uploads and their pinned copies are read (the input URI is a pipeline parameter), never written.
        for prefix in ("datasets/", self.env("pipeline-trigger")["MMP_PINNED_DATASETS_PREFIX"]):
            inputs = f"arn:aws:s3:::{self.bucket}/{prefix}"
            on_inputs = {a for s in statements for a in listify(s["Action"])
                         if any(r.startswith(inputs) for r in listify(s["Resource"]))}
            self.assertEqual(on_inputs, {"s3:GetObject"}, f"the pipeline role may only read {prefix}")

    # --- Events: what each deployed rule routes ---

    def deployed_rules(self):
        """(function crate, rendered pattern text) for every rule of this deployment."""
        rules = []
        for rule in self.events.list_rules(NamePrefix=f"{self.pipeline}-")["Rules"]:
            for target in self.events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                rules.append((self.crate_of_arn.get(target["Arn"], target["Arn"]), rule["EventPattern"]))
        return rules

    def routed_to(self, event):
        """The functions the deployed rules send an event to, by moto's EventBridge pattern
        engine and by the project's matcher (which must agree)."""
        by_moto, by_ours = set(), set()
        event_file = self.d.work / "event.json"
        event_file.write_text(json.dumps(event))
        for crate, pattern in self.deployed_rules():
            if EventPattern.load(pattern).matches_event(event):
                by_moto.add(crate)
            pattern_file = self.d.work / "pattern.json"
            pattern_file.write_text(pattern)
            if run([str(self.d.matcher), str(pattern_file), str(event_file)], env=os.environ).strip() == "true":
                by_ours.add(crate)
        self.assertEqual(by_moto, by_ours, f"moto and the project's matcher disagree on {event['detail-type']}")
        return by_moto

    def sample(self, name, group):
        """A sample event with this deployment's names in place of the sample's."""
        text = (SAMPLES / name).read_text()
        text = text.replace("mmp-diabetes", group).replace("pipeline/mmp", f"pipeline/{self.pipeline}")
        return json.loads(text)

    def test_every_rule_pattern_is_concrete_json(self):
        rules = self.deployed_rules()
        self.assertEqual(sorted(c for c, _ in rules), ["metrics-reporter", "model-deployer"])
        for crate, pattern in rules:
            self.assertNotIn("${", pattern, f"{crate}'s rule has a placeholder")
            self.assertIsInstance(json.loads(pattern), dict)

    def test_the_rules_route_each_sample_to_exactly_its_function(self):
        for name, expected in EXPECTED_ROUTES.items():
            with self.subTest(sample=name):
                event = self.sample(name, f"{self.pipeline}-{DATASET}")
                self.assertEqual(self.routed_to(event), {expected} if expected else set())

    def test_another_pipelines_groups_reach_no_function(self):
        for name in ("model-package-approved.json", "model-package-rejected.json"):
            with self.subTest(sample=name):
                self.assertEqual(self.routed_to(self.sample(name, f"other-{DATASET}")), set())

    # --- The chain: upload -> execution, approval -> deployment, URL -> endpoint ---

    def test_end_to_end(self):
        csv = b"sepal_length,sepal_width,CLASS\n5.1,3.5,0\n6.2,2.9,1\n"
        group = f"{self.pipeline}-{DATASET}"

        # 1. An upload into the deployed bucket starts the deployed pipeline.
        notification = self.s3.get_bucket_notification_configuration(Bucket=self.bucket)
        configs = notification.get("LambdaFunctionConfigurations", [])
        self.assertEqual(len(configs), 1, "the bucket notifies exactly one function")
        config = configs[0]
        rules = {r["Name"].lower(): r["Value"] for r in config["Filter"]["Key"]["FilterRules"]}
        key = f"{rules.get('prefix', '')}{DATASET}/{DATASET}{rules.get('suffix', '')}"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=csv)
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        self.assertTrue(any(fnmatch.fnmatchcase("s3:ObjectCreated:Put", e) for e in config["Events"]))
        event = json.loads((SAMPLES / "s3-dataset-upload.json").read_text())
        record = event["Records"][0]
        record["s3"]["configurationId"] = config.get("Id", "")
        record["s3"]["bucket"].update(name=self.bucket, arn=f"arn:aws:s3:::{self.bucket}")
        # The bucket keeps versions, so S3's event names the upload's version, as here.
        record["s3"]["object"].update(key=key, size=len(csv), eTag=head["ETag"].strip('"'),
                                      versionId=head["VersionId"])
        trigger = self.crate_of_arn.get(config["LambdaFunctionArn"])
        self.assertEqual(trigger, "pipeline-trigger", "the notification names the trigger")
        before = self.sm.list_pipeline_executions(PipelineName=self.pipeline)["PipelineExecutionSummaries"]
        self.start(trigger).invoke(event)
        after = self.sm.list_pipeline_executions(PipelineName=self.pipeline)["PipelineExecutionSummaries"]
        self.assertEqual(len(after), len(before) + 1, "link 1: the upload started no execution of the deployed pipeline")
        started = [e for e in after if e["PipelineExecutionArn"] not in {b["PipelineExecutionArn"] for b in before}]
        parameters = {p["Name"]: p["Value"] for p in self.sm.list_pipeline_parameters_for_execution(
            PipelineExecutionArn=started[0]["PipelineExecutionArn"])["PipelineParameters"]}
        pinned = f"s3://{self.bucket}/{self.env('pipeline-trigger')['MMP_PINNED_DATASETS_PREFIX']}"
        self.assertTrue(parameters["InputDataUri"].startswith(pinned), f"link 1: not a pinned copy: {parameters}")
        pinned_key = parameters["InputDataUri"][len(f"s3://{self.bucket}/"):]
        self.assertEqual(self.s3.get_object(Bucket=self.bucket, Key=pinned_key)["Body"].read(), csv,
                         "link 1: the execution's input is not the uploaded bytes")
        self.assertEqual(parameters["InputDataVersionId"], head["VersionId"], "link 1: the version pinned")

        # 2. Approving a version in the deployed group deploys it through the deployed rule.
        self.sm.create_model_package_group(ModelPackageGroupName=group)
        artifact_key = f"pipelines/{self.pipeline}/emulator-execution/RefitBestModel/output/model.tar.gz"
        artifact = model_artifact()
        self.s3.put_object(Bucket=self.bucket, Key=artifact_key, Body=artifact)
        created = self.sm.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            InferenceSpecification={
                "Containers": [{"Image": self.d.outputs["image_uri"],
                                "ModelDataUrl": f"s3://{self.bucket}/{artifact_key}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
        package = self.sm.describe_model_package(ModelPackageName=created["ModelPackageArn"])
        event = self.sample("model-package-approved.json", group)
        event["resources"] = [package["ModelPackageArn"]]
        event["detail"].update(ModelPackageArn=package["ModelPackageArn"],
                               ModelPackageVersion=package["ModelPackageVersion"])
        targets = self.routed_to(event)
        self.assertEqual(targets, {"model-deployer"}, "link 2: no deployed rule sends the approval to the deployer")
        self.start("model-deployer").invoke(event)
        env = self.env("model-deployer")
        table = json.loads(self.s3.get_object(Bucket=self.bucket, Key=env["MMP_ROUTING_KEY"])["Body"].read())
        route = table["routes"].get(DATASET)
        self.assertIsNotNone(route, f"link 2: the routing table does not route {DATASET}: {table}")
        self.assertEqual((route["group"], route["model_package_arn"]), (group, package["ModelPackageArn"]))
        copied = self.s3.get_object(Bucket=self.bucket, Key=f"{env['MMP_MODELS_PREFIX']}{route['target_model']}")
        self.assertEqual(copied["Body"].read(), artifact, "link 2: the artifact was not deployed")

        # 3. A Function URL request goes through the invoker to the deployed endpoint.
        url_functions = [c for c, cfg in self.functions.items() if self.function_url(cfg["FunctionName"])]
        self.assertEqual(url_functions, ["endpoint-invoker"], "exactly the invoker has a Function URL")
        self.assertEqual(self.function_url(self.functions["endpoint-invoker"]["FunctionName"]),
                         self.d.outputs["function_url"])
        invoker_env = self.env("endpoint-invoker")
        endpoint = self.sm.describe_endpoint(EndpointName=invoker_env["MMP_ENDPOINT_NAME"])
        self.assertEqual(endpoint["EndpointName"], self.d.outputs["endpoint_name"])
        self.queue_endpoint_results(["1\n"])
        self.start_recording()
        event = json.loads((SAMPLES / "function-url-predict.json").read_text())
        event["body"] = json.dumps({"model": DATASET, "data": "5.1,3.5"})
        answer = self.start("endpoint-invoker").invoke(event)
        invoked = self.recorded_invocations()
        self.assertEqual(answer.get("statusCode"), 200, f"link 3: {answer}")
        self.assertIn("1", answer.get("body", ""), f"link 3: {answer}")
        self.assertEqual(invoked, [(endpoint["EndpointName"], route["target_model"])],
                         "link 3: InvokeEndpoint did not name the deployed endpoint and the deployed model")

        # 4. The execution's end reaches the reporter through the deployed rule; it reports it.
        execution_arn = started[0]["PipelineExecutionArn"]
        event = self.sample("pipeline-execution-succeeded.json", group)
        event["resources"] = [self.sm.describe_pipeline(PipelineName=self.pipeline)["PipelineArn"], execution_arn]
        event["detail"].update(pipelineArn=event["resources"][0], pipelineExecutionArn=execution_arn)
        self.assertEqual(self.routed_to(event), {"metrics-reporter"}, "link 4: the execution's end reaches no reporter")
        answer = self.start("metrics-reporter").invoke(event)
        self.assertEqual(answer, {"outcome": f"{DATASET}: Succeeded"}, f"link 4: {answer}")
        reports = self.env("metrics-reporter")["MMP_REPORTS_PREFIX"]
        report = json.loads(self.s3.get_object(Bucket=self.bucket, Key=f"{reports}{DATASET}.json")["Body"].read())
        self.assertEqual([r["execution_arn"] for r in report["history"]], [execution_arn], f"link 4: {report}")

    def function_url(self, function_name):
        """The function's URL, or None (moto has GetFunctionUrlConfig, not the List call)."""
        try:
            return self.lam.get_function_url_config(FunctionName=function_name)["FunctionUrl"]
        except self.lam.exceptions.ResourceNotFoundException:
            return None

    # --- moto's own API ---

    def moto_api(self, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.d.endpoint}{path}", data=data, method="POST" if data is not None else "GET")
        return urllib.request.urlopen(request, timeout=10, context=self.d.ssl_context).read()

    def queue_endpoint_results(self, bodies):
        self.moto_api("/moto-api/static/sagemaker/endpoint-results", {
            "results": [{"Body": b, "ContentType": "text/csv", "InvokedProductionVariant": "AllTraffic"} for b in bodies],
        })

    def start_recording(self):
        self.moto_api("/moto-api/recorder/reset-recording", {})
        self.moto_api("/moto-api/recorder/start-recording", {})

    def recorded_requests(self):
        """Every request moto received since start_recording (method, url, headers, …)."""
        self.moto_api("/moto-api/recorder/stop-recording", {})
        return [json.loads(line) for line in self.moto_api("/moto-api/recorder/download-recording").decode().splitlines()]

    @staticmethod
    def artifact():
        return model_artifact()

    def recorded_invocations(self):
        """(endpoint, target model) of each InvokeEndpoint moto received since start_recording."""
        invocations = []
        for request in self.recorded_requests():
            path = urllib.parse.urlparse(request.get("url", "")).path
            if path.startswith("/endpoints/") and path.endswith("/invocations"):
                headers = {k.lower(): v for k, v in request.get("headers", {}).items()}
                invocations.append((path.split("/")[2], headers.get("x-amzn-sagemaker-target-model")))
        return invocations


def listify(value):
    return value if isinstance(value, list) else [value]


def as_json(document):
    """A policy document as IAM's API returns it (moto: text; boto3 against AWS: decoded)."""
    return json.loads(document) if isinstance(document, str) else document


def all_steps(steps):
    """Every step of a definition, with the steps nested in conditions."""
    out = []
    for step in steps:
        out.append(step)
        for branch in ("IfSteps", "ElseSteps"):
            out.extend(all_steps(step.get("Arguments", {}).get(branch, [])))
    return out


def bucket_paths(value, bucket):
    """Every location the definition builds in the bucket, as its parts after the bucket
    (parts known only at run time read `<runtime>`)."""
    out = []
    if isinstance(value, dict):
        values = value.get("Std:Join", {}).get("Values")
        if isinstance(values, list) and len(values) > 1 and values[1] == bucket:
            return [[p if isinstance(p, str) else "<runtime>" for p in values[2:]]]
        for v in value.values():
            out.extend(bucket_paths(v, bucket))
    elif isinstance(value, list):
        for v in value:
            out.extend(bucket_paths(v, bucket))
    elif isinstance(value, str) and f"s3://{bucket}/" in value:
        out.append(value.split(f"s3://{bucket}/", 1)[1].split("/"))
    return out


def report_cold_starts():
    """Each started function's init and first invocation, printed (and written as JSON)."""
    starts = {}
    for crate, function in sorted(COLD_STARTS.items()):
        init, first = function.init_seconds(), function.first_invoke_seconds
        starts[crate] = {"init_ms": None if init is None else round(init * 1000, 1),
                         "first_invocation_ms": None if first is None else round(first * 1000, 1)}
        print(f"cold start {crate}: init {starts[crate]['init_ms']} ms, "
              f"first invocation {starts[crate]['first_invocation_ms']} ms", file=sys.stderr)
    if ARGS.cold_starts:
        ARGS.cold_starts.write_text(json.dumps({"launcher": ARGS.launcher or "", "functions": starts}, indent=2) + "\n")


def main():
    global ARGS, STATE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", type=Path, required=True)
    parser.add_argument("--zip-dir", type=Path, help="deploy the zips in DIR/<function>/bootstrap.zip")
    parser.add_argument("--launcher", help="start each bootstrap under this command")
    parser.add_argument("--cold-starts", type=Path, help="write each function's cold start here (JSON)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, state)")
    ARGS, rest = parser.parse_known_args()
    work = Path(tempfile.mkdtemp(prefix="mmp-deployed-"))
    os.environ.setdefault("MOTO_ENABLE_RECORDING", "True")
    os.environ["MOTO_RECORDER_FILEPATH"] = str(work / "moto-recording")
    started = time.time()
    try:
        zip_dir = ARGS.zip_dir.resolve() if ARGS.zip_dir else None
        STATE = Deployed(ARGS.bin_dir.resolve(), zip_dir, work)
        print(f"deployed: applied to moto in {time.time() - started:.0f} s", file=sys.stderr)
        result = unittest.main(argv=[sys.argv[0], *rest], exit=False, verbosity=2).result
        ok = result.wasSuccessful()
        report_cold_starts()
    finally:
        if STATE is not None:
            STATE.close()
        if ARGS.keep or not locals().get("ok", False):
            print(f"deployed: logs and state kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
