//! [`ModelEndpoint`] over SageMaker Runtime's InvokeEndpoint.

use async_trait::async_trait;
use aws_sdk_sagemakerruntime::primitives::Blob;

use super::error::classify;
use crate::ports::{Invocation, InvocationOutput, ModelEndpoint};
use crate::PortError;

/// One multi-model endpoint.
#[derive(Debug, Clone)]
pub struct SageMakerEndpoint {
    client: aws_sdk_sagemakerruntime::Client,
    endpoint_name: String,
}

impl SageMakerEndpoint {
    pub fn new(client: aws_sdk_sagemakerruntime::Client, endpoint_name: impl Into<String>) -> Self {
        SageMakerEndpoint {
            client,
            endpoint_name: endpoint_name.into(),
        }
    }
}

#[async_trait]
impl ModelEndpoint for SageMakerEndpoint {
    async fn invoke(&self, invocation: &Invocation) -> Result<InvocationOutput, PortError> {
        let context = format!(
            "InvokeEndpoint {} ({})",
            self.endpoint_name, invocation.target_model
        );
        let output = self
            .client
            .invoke_endpoint()
            .endpoint_name(&self.endpoint_name)
            .target_model(&invocation.target_model)
            .content_type(&invocation.content_type)
            .set_accept(invocation.accept.clone())
            .body(Blob::new(invocation.body.clone()))
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        Ok(InvocationOutput {
            body: output.body.map(Blob::into_inner).unwrap_or_default(),
            content_type: output.content_type,
        })
    }
}
