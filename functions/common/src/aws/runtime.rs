//! [`ModelEndpoint`] over SageMaker Runtime's InvokeEndpoint.

use async_trait::async_trait;
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::InvokeEndpointError;
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
    /// The endpoint `endpoint_name`, called through `client`.
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
            .map_err(|e| {
                e.as_service_error()
                    .and_then(input_refused)
                    .unwrap_or_else(|| classify(e, &context))
            })?;
        Ok(InvocationOutput {
            body: output.body.map(Blob::into_inner).unwrap_or_default(),
            content_type: output.content_type,
        })
    }
}

/// A ModelError whose container answered 4xx: the rows are at fault, with the container's words.
fn input_refused(error: &InvokeEndpointError) -> Option<PortError> {
    let InvokeEndpointError::ModelError(e) = error else {
        return None;
    };
    let status = e.original_status_code()?;
    (400..500).contains(&status).then(|| {
        PortError::BadInput(
            e.original_message()
                .or(e.message())
                .unwrap_or("the model refused the input")
                .to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_sagemakerruntime::types::error::ModelError;

    use super::*;

    fn model_error(status: i32) -> InvokeEndpointError {
        InvokeEndpointError::ModelError(
            ModelError::builder()
                .original_status_code(status)
                .original_message("row 0 has 2 values")
                .message("Received client error (400) from model")
                .build(),
        )
    }

    #[test]
    fn a_container_4xx_is_the_callers_input_and_a_5xx_is_not() {
        assert_eq!(
            input_refused(&model_error(400)),
            Some(PortError::BadInput("row 0 has 2 values".into()))
        );
        assert_eq!(input_refused(&model_error(500)), None);
    }
}
