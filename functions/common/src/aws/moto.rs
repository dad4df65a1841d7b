//! Test support (feature `moto`): starts moto's server on a free loopback port, points SDK
//! clients at it, and kills it on drop. Needs moto's server installed for `python3`
//! (`pip install "moto[server]"`).
//!
//! The handler under test gets `*_recorded` clients, whose [`IamRecorder`] sees every AWS call
//! it makes; set-up and checks use the plain clients, so they record nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::Region;
use aws_sdk_s3::config::Credentials;

pub use super::recorder::{iam_actions, IamRecorder};

/// The region every moto-backed test uses.
pub const REGION: &str = "us-east-1";
/// The account moto reports.
pub const ACCOUNT: &str = "123456789012";

/// A running moto server, killed when dropped.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    address: SocketAddr,
}

/// Why moto could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("cannot start moto's server with python3 (install it with `pip install \"moto[server]\"`): {0}")]
    /// The `moto_server` process could not be started.
    Spawn(std::io::Error),
    #[error("moto's server did not answer on {0} within 60 s (is `moto[server]` installed for python3?)")]
    /// The server did not answer on its address in time.
    NotReady(SocketAddr),
    #[error("moto API request failed: {0}")]
    /// A set-up call (bucket, pipeline) failed.
    Api(String),
}

/// moto's server (what `moto_server` runs), with two changes:
/// - requests carrying S3 preconditions (`If-Match`, `If-None-Match`,
///   `x-amz-copy-source-if-match`) are served one at a time. moto checks a precondition and
///   then writes without a lock, so two concurrent conditional puts can both succeed, which S3
///   never lets happen; the tests of concurrent writers test the adapters, not that race.
/// - CopyObject's `x-amz-copy-source-if-match` is honoured as S3 does (412 when the source's
///   ETag differs); moto 5.2 ignores it.
const MOTO_SERVER: &str = r#"
import sys, threading
from urllib.parse import urlparse, unquote, parse_qs
from werkzeug.serving import run_simple
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.models import s3_backends

app = DomainDispatcherApplication(create_backend_app)
preconditions = threading.Lock()
PRECONDITION_FAILED = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>'
    b'<Message>At least one of the pre-conditions you specified did not hold</Message>'
    b'<Condition>x-amz-copy-source-If-Match</Condition></Error>')

def copy_source_changed(environ):
    wanted = environ.get("HTTP_X_AMZ_COPY_SOURCE_IF_MATCH")
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if wanted is None or source is None:
        return False
    parsed = urlparse(source)
    bucket, key = unquote(parsed.path).lstrip("/").split("/", 1)
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    try:
        current = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(bucket, key, version_id=version)
    except Exception:
        return False  # moto answers the missing source itself
    return current is not None and current.etag.strip('"') != wanted.strip('"')

def serve(environ, start_response):
    if ("HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ
            or "HTTP_X_AMZ_COPY_SOURCE_IF_MATCH" in environ):
        with preconditions:
            if copy_source_changed(environ):
                start_response("412 Precondition Failed", [("Content-Type", "application/xml")])
                return [PRECONDITION_FAILED]
            return list(app(environ, start_response))
    return app(environ, start_response)

run_simple(sys.argv[1], int(sys.argv[2]), serve, threaded=True)
"#;

/// The Lambda binaries' SDK configuration (their retries included) pointed at `endpoint_url`
/// with dummy credentials: moto, or any stand-in server a test runs.
pub async fn sdk_config_at(endpoint_url: &str) -> aws_config::SdkConfig {
    super::sdk_config_loader()
        .region(Region::new(REGION))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

impl MotoServer {
    /// Starts a server on a free loopback port and waits until it answers.
    pub fn start() -> Result<MotoServer, MotoError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(MotoError::Spawn)?
            .port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        // The python3 that `pip install "moto[server]"` installed moto for (.ci/run's).
        let child = Command::new("python3")
            .args(["-c", MOTO_SERVER, "127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(MotoError::Spawn)?;
        let server = MotoServer { child, address };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if server.request("GET", "/moto-api/data.json", "").is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(MotoError::NotReady(address))
    }

    /// `http://<address>` of the server.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// SDK configuration pointing at this server, with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_at(&self.endpoint_url()).await
    }

    /// An S3 client for setting up and checking, recording nothing (path-style: moto has no
    /// virtual hosts on loopback).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        super::s3_client(&self.sdk_config().await, true)
    }

    /// A SageMaker client for setting up and checking, recording nothing.
    pub async fn sagemaker(&self) -> aws_sdk_sagemaker::Client {
        super::sagemaker_client(&self.sdk_config().await)
    }

    /// A SageMaker Runtime client, recording nothing.
    pub async fn sagemaker_runtime(&self) -> aws_sdk_sagemakerruntime::Client {
        super::sagemaker_runtime_client(&self.sdk_config().await)
    }

    /// An S3 client for the handler under test: built as the Lambda binaries build theirs,
    /// with `recorder` attached.
    pub async fn s3_recorded(&self, recorder: &IamRecorder) -> aws_sdk_s3::Client {
        let config = super::s3_config(&self.sdk_config().await, true)
            .interceptor(recorder.clone())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// A SageMaker client for the handler under test, with `recorder` attached.
    pub async fn sagemaker_recorded(&self, recorder: &IamRecorder) -> aws_sdk_sagemaker::Client {
        let config = super::sagemaker_config(&self.sdk_config().await)
            .interceptor(recorder.clone())
            .build();
        aws_sdk_sagemaker::Client::from_conf(config)
    }

    /// A SageMaker Runtime client for the handler under test, with `recorder` attached.
    pub async fn sagemaker_runtime_recorded(
        &self,
        recorder: &IamRecorder,
    ) -> aws_sdk_sagemakerruntime::Client {
        let config = super::sagemaker_runtime_config(&self.sdk_config().await)
            .interceptor(recorder.clone())
            .build();
        aws_sdk_sagemakerruntime::Client::from_conf(config)
    }

    /// Creates a bucket.
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), MotoError> {
        self.s3()
            .await
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| MotoError::Api(format!("{e:?}")))?;
        Ok(())
    }

    /// Creates a pipeline whose definition declares `parameters` (names only, all strings).
    pub async fn create_pipeline(&self, name: &str, parameters: &[&str]) -> Result<(), MotoError> {
        let declared: Vec<serde_json::Value> = parameters
            .iter()
            .map(|name| serde_json::json!({"Name": name, "Type": "String"}))
            .collect();
        let definition =
            serde_json::json!({"Version": "2020-12-01", "Parameters": declared, "Steps": []});
        self.sagemaker()
            .await
            .create_pipeline()
            .pipeline_name(name)
            .pipeline_definition(definition.to_string())
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/mmp-test"))
            .client_request_token(format!("create-{name}-0000000000000000000000000"))
            .send()
            .await
            .map_err(|e| MotoError::Api(format!("{e:?}")))?;
        Ok(())
    }

    /// Queues bodies InvokeEndpoint will answer with, in order (moto's own API; a request
    /// identical to an earlier one gets that earlier answer again).
    pub fn queue_endpoint_results(&self, bodies: &[(&str, &str)]) -> Result<(), MotoError> {
        let results: Vec<serde_json::Value> = bodies
            .iter()
            .map(|(body, content_type)| {
                serde_json::json!({"Body": body, "ContentType": content_type, "InvokedProductionVariant": "AllTraffic"})
            })
            .collect();
        let payload =
            serde_json::json!({"account_id": ACCOUNT, "region": REGION, "results": results});
        self.request(
            "POST",
            "/moto-api/static/sagemaker/endpoint-results",
            &payload.to_string(),
        )
        .map(|_| ())
    }

    /// A minimal HTTP/1.0 request to moto's own API; returns the body of a 2xx answer.
    fn request(&self, method: &str, path: &str, body: &str) -> Result<String, MotoError> {
        let api = |error: std::io::Error| MotoError::Api(error.to_string());
        let mut stream =
            TcpStream::connect_timeout(&self.address, Duration::from_secs(2)).map_err(api)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(api)?;
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.address,
            body.len()
        );
        stream.write_all(request.as_bytes()).map_err(api)?;
        let mut response = String::new();
        stream.read_to_string(&mut response).map_err(api)?;
        let status_ok = response
            .split_whitespace()
            .nth(1)
            .is_some_and(|status| status.starts_with('2'));
        if !status_ok {
            return Err(MotoError::Api(
                response.lines().next().unwrap_or_default().to_string(),
            ));
        }
        Ok(response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Declares a crate's moto scenarios (`async fn name(recorder: &IamRecorder)`, each building
/// its handler's clients with `recorder`): one test each, in module `scenario`, and
/// `iam_actions_are_exactly_what_the_handler_calls`, which runs them all in sequence with one
/// recorder (so it aggregates under cargo-nextest's process per test too) and fails if the
/// handler called an action `iam_actions` lacks, or `iam_actions` grants one no call needed.
#[macro_export]
macro_rules! moto_scenarios {
    (crate: $crate_name:literal, iam_actions: $iam_actions:expr, scenarios: [$($scenario:ident),+ $(,)?]) => {
        mod scenario {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(&$crate::aws::moto::IamRecorder::default()).await;
                }
            )+
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn iam_actions_are_exactly_what_the_handler_calls() {
            let recorder = $crate::aws::moto::IamRecorder::default();
            $( $scenario(&recorder).await; )+
            println!("{} called:\n{}", $crate_name, recorder.summary());
            if let Err(problems) = recorder.check($crate_name, $iam_actions) {
                panic!("{problems}");
            }
        }
    };
}
