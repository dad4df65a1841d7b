//! The deployment `mmp` drives (`--target local|aws`): its ports, seen as a
//! [`Deployment`](crate::operator::Deployment), and its Function URL. The console and the
//! operator's commands hold a `dyn Target`, so each page and command is written once.

use async_trait::async_trait;

use crate::adapters::LocalPorts;
use crate::operator::Deployment;

/// What the Function URL answered.
#[derive(Debug, Clone)]
pub struct FunctionUrlAnswer {
    /// The HTTP status.
    pub status: u16,
    /// Its media type, if it said.
    pub content_type: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The Function URL did not answer.
#[derive(Debug, thiserror::Error)]
#[error("the Function URL {url} did not answer: {reason}")]
pub struct FunctionUrlError {
    /// The URL asked.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// One deployment: this machine's runtime or the AWS one.
#[async_trait]
pub trait Target: Send + Sync {
    /// `local` or `aws`.
    fn kind(&self) -> &'static str;
    /// The deployment's ports.
    fn deployment(&self) -> Deployment<'_>;
    /// The prediction Function URL.
    fn function_url(&self) -> &str;
    /// POSTs a JSON body to the Function URL, signed where its auth needs it.
    async fn post_function_url(&self, body: Vec<u8>)
        -> Result<FunctionUrlAnswer, FunctionUrlError>;
}

/// This machine's runtime: its ports and its Function URL on loopback (no auth).
pub struct LocalTarget {
    /// This machine's adapters.
    pub ports: LocalPorts,
    /// `http://127.0.0.1:<port>/`.
    pub function_url: String,
    /// The client the try-it form's requests go through.
    pub http: reqwest::Client,
}

#[async_trait]
impl Target for LocalTarget {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn deployment(&self) -> Deployment<'_> {
        self.ports.deployment()
    }

    fn function_url(&self) -> &str {
        &self.function_url
    }

    async fn post_function_url(
        &self,
        body: Vec<u8>,
    ) -> Result<FunctionUrlAnswer, FunctionUrlError> {
        post(&self.http, &self.function_url, &[], body).await
    }
}

/// POSTs `body` as JSON with `headers` and reads the whole answer.
pub async fn post(
    http: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<FunctionUrlAnswer, FunctionUrlError> {
    let failed = |e: reqwest::Error| FunctionUrlError {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let mut request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.bytes().await.map_err(failed)?.to_vec();
    Ok(FunctionUrlAnswer {
        status,
        content_type,
        body,
    })
}
