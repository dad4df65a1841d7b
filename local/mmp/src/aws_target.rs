//! `mmp --target aws`: the operator's commands against the deployed system. A profile saved by
//! `mmp aws connect` (from `terraform output -json`) names the deployment; the AWS SDK adapters
//! of `mmp_common::aws` stand where the local runtime's adapters stand for `--target local`,
//! under the same [`crate::operator`] code. Credentials and region come from the standard AWS
//! chain (environment, profile, SSO, instance role); the profile's region wins.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{anyhow, bail, Context, Result};
use aws_credential_types::provider::ProvideCredentials;
use mmp_common::aws::{
    s3_client, sagemaker_client, sdk_config_loader, S3Store, SageMakerPipelines, SageMakerRegistry,
};
use mmp_common::naming;
use serde::{Deserialize, Serialize};

use crate::operator::Deployment;
use crate::target::{post, FunctionUrlAnswer, FunctionUrlError, Target};

/// The file under the data folder that `mmp aws connect` writes.
pub const PROFILE_FILE: &str = "aws-target.json";

/// What `--target aws` needs to know of one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The region the deployment is in.
    pub region: String,
    /// The data bucket.
    pub bucket: String,
    /// The SageMaker pipeline.
    pub pipeline_name: String,
    /// The multi-model endpoint.
    pub endpoint_name: String,
    /// The prediction Function URL.
    pub function_url: String,
    /// `AWS_IAM` (requests are SigV4-signed) or `NONE`.
    pub function_url_auth_type: String,
    /// The routing table's key in the bucket.
    #[serde(default = "default_routing_key")]
    pub routing_key: String,
    /// Where the reports are (rejected uploads under `rejected-uploads/`).
    #[serde(default = "default_reports_prefix")]
    pub reports_prefix: String,
}

fn default_routing_key() -> String {
    naming::DEFAULT_ROUTING_KEY.to_string()
}

fn default_reports_prefix() -> String {
    naming::DEFAULT_REPORTS_PREFIX.to_string()
}

impl Profile {
    /// Reads `terraform output -json` of infra/ (each output is `{"value": …}`). The region is
    /// the pipeline ARN's.
    pub fn from_terraform_outputs(text: &str) -> Result<Profile> {
        let outputs: serde_json::Value =
            serde_json::from_str(text).context("not the JSON of `terraform output -json`")?;
        let output = |name: &str| -> Result<String> {
            outputs[name]["value"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("the Terraform outputs have no `{name}`: is this infra/'s `terraform output -json`?"))
        };
        let pipeline_arn = output("pipeline_arn")?;
        let region = pipeline_arn
            .split(':')
            .nth(3)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| anyhow!("pipeline_arn {pipeline_arn} names no region"))?
            .to_string();
        Ok(Profile {
            region,
            bucket: output("bucket")?,
            pipeline_name: output("pipeline_name")?,
            endpoint_name: output("endpoint_name")?,
            function_url: output("function_url")?,
            function_url_auth_type: output("function_url_auth_type")?,
            routing_key: default_routing_key(),
            reports_prefix: default_reports_prefix(),
        })
    }

    /// The profile's path in a data folder.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(PROFILE_FILE)
    }

    /// Reads the profile `mmp aws connect` saved.
    pub fn load(data_dir: &Path) -> Result<Profile> {
        let path = Profile::path(data_dir);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: run `mmp aws connect OUTPUTS.json` first (OUTPUTS.json from `terraform -chdir=infra output -json`)",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Saves it in the data folder.
    pub fn save(&self, data_dir: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let path = Profile::path(data_dir);
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// The deployed system's adapters.
pub struct AwsTarget {
    /// The deployment's names.
    pub profile: Profile,
    sdk: aws_config::SdkConfig,
    store: S3Store,
    registry: SageMakerRegistry,
    pipelines: SageMakerPipelines,
    http: reqwest::Client,
}

impl AwsTarget {
    /// Clients for the profile's deployment, with the standard credential chain.
    pub async fn connect(profile: Profile) -> Result<AwsTarget> {
        // The app name marks mmp's requests in the user agent (`app/mmp`): CloudTrail, and the
        // emulated deployment's test, tell them from the functions'.
        let app_name = aws_config::AppName::new("mmp").context("the SDK app name")?;
        let sdk = sdk_config_loader()
            .region(aws_config::Region::new(profile.region.clone()))
            .app_name(app_name)
            .load()
            .await;
        let path_style = std::env::var(mmp_common::config::ENV_S3_FORCE_PATH_STYLE)
            .is_ok_and(|v| v == "true" || v == "1");
        let store = S3Store::new(s3_client(&sdk, path_style), profile.bucket.clone());
        let sagemaker = sagemaker_client(&sdk);
        Ok(AwsTarget {
            store,
            registry: SageMakerRegistry::new(sagemaker.clone()),
            pipelines: SageMakerPipelines::new(sagemaker),
            http: reqwest::Client::new(),
            profile,
            sdk,
        })
    }

    /// POSTs `{"model", "data"}` to the Function URL. Returns the status and body.
    pub async fn invoke(&self, model: &str, csv: &str) -> Result<(u16, String)> {
        let body = serde_json::to_vec(&serde_json::json!({ "model": model, "data": csv }))?;
        let answer = self.post_function_url(body).await?;
        Ok((
            answer.status,
            String::from_utf8_lossy(&answer.body).into_owned(),
        ))
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, the session token) for one request.
    async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let provider = self
            .sdk
            .credentials_provider()
            .ok_or_else(|| anyhow!("no AWS credentials: the Function URL uses AWS_IAM auth"))?;
        let credentials = provider
            .provide_credentials()
            .await
            .context("loading AWS credentials to sign the Function URL request")?;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.profile.region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .context("SigV4 signing parameters")?
            .into();
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .with_context(|| format!("signing a request to {url}"))?;
        let (instructions, _) = sign(signable, &params)
            .with_context(|| format!("signing a request to {url}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

#[async_trait::async_trait]
impl Target for AwsTarget {
    fn kind(&self) -> &'static str {
        "aws"
    }

    fn deployment(&self) -> Deployment<'_> {
        Deployment {
            pipeline_name: &self.profile.pipeline_name,
            store: &self.store,
            registry: &self.registry,
            history: &self.pipelines,
            routing_key: &self.profile.routing_key,
            reports_prefix: &self.profile.reports_prefix,
        }
    }

    fn function_url(&self) -> &str {
        &self.profile.function_url
    }

    /// SigV4-signed for service `lambda` with the caller's credentials when the URL uses
    /// AWS_IAM auth.
    async fn post_function_url(
        &self,
        body: Vec<u8>,
    ) -> Result<FunctionUrlAnswer, FunctionUrlError> {
        let url = &self.profile.function_url;
        let mut headers = Vec::new();
        if self.profile.function_url_auth_type == "AWS_IAM" {
            let content_type = [("content-type".to_string(), "application/json".to_string())];
            headers = self
                .sign("POST", url, &content_type, &body)
                .await
                .map_err(|e| FunctionUrlError {
                    url: url.clone(),
                    reason: format!("{e:#}"),
                })?;
        }
        post(&self.http, url, &headers, body).await
    }
}

/// Refuses a URL that is not HTTPS, unless it is on loopback (a stand-in's).
pub fn check_function_url(url: &str) -> Result<()> {
    let loopback = url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:");
    if !url.starts_with("https://") && !loopback {
        bail!("the Function URL {url} is not HTTPS");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_read_from_terraform_outputs_and_names_what_is_missing() {
        let value = |v: &str| serde_json::json!({ "value": v, "type": "string" });
        let mut outputs = serde_json::json!({
            "bucket": value("mmp-data-1"),
            "pipeline_name": value("mmp"),
            "pipeline_arn": value("arn:aws:sagemaker:eu-west-1:123456789012:pipeline/mmp"),
            "endpoint_name": value("mmp-endpoint"),
            "function_url": value("https://abc.lambda-url.eu-west-1.on.aws/"),
            "function_url_auth_type": value("AWS_IAM"),
        });
        let profile = Profile::from_terraform_outputs(&outputs.to_string()).unwrap();
        assert_eq!(profile.region, "eu-west-1");
        assert_eq!(profile.bucket, "mmp-data-1");
        assert_eq!(profile.routing_key, naming::DEFAULT_ROUTING_KEY);

        outputs.as_object_mut().unwrap().remove("function_url");
        let error = Profile::from_terraform_outputs(&outputs.to_string()).unwrap_err();
        assert!(error.to_string().contains("`function_url`"), "{error}");
        let error = Profile::from_terraform_outputs("not json").unwrap_err();
        assert!(
            error.to_string().contains("terraform output -json"),
            "{error}"
        );
    }

    #[test]
    fn only_https_or_loopback_function_urls_are_taken() {
        assert!(check_function_url("https://abc.lambda-url.us-east-1.on.aws/").is_ok());
        assert!(check_function_url("http://127.0.0.1:8080/").is_ok());
        assert!(check_function_url("http://example.com/").is_err());
    }
}
