//! [`ModelEndpoint`] answering from a table of target models in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{Call, Faults};
use super::lock;
use crate::ports::{Invocation, InvocationOutput, ModelEndpoint};
use crate::PortError;

/// A multi-model endpoint whose models answer fixed bodies: `NotFound` for a target model it
/// does not serve, as SageMaker answers for an artifact missing from the prefix.
#[derive(Debug, Default)]
pub struct MemoryEndpoint {
    answers: Mutex<BTreeMap<String, InvocationOutput>>,
    invocations: Mutex<Vec<Invocation>>,
    faults: Faults,
}

impl MemoryEndpoint {
    /// An endpoint that serves no model yet.
    pub fn new() -> Self {
        MemoryEndpoint::default()
    }

    /// Serves `target_model`, answering every invocation with `body` as JSON.
    pub fn serve(&self, target_model: &str, body: &str) {
        let answer = InvocationOutput {
            body: body.as_bytes().to_vec(),
            content_type: Some("application/json".into()),
        };
        lock(&self.answers).insert(target_model.to_string(), answer);
    }

    /// Makes the next invocation fail with `error` (once; failures queue).
    pub fn fail_next(&self, error: PortError) {
        self.faults.fail_next(Call::Invoke, error);
    }

    /// Every invocation received, failed ones included.
    pub fn invocations(&self) -> Vec<Invocation> {
        lock(&self.invocations).clone()
    }
}

#[async_trait]
impl ModelEndpoint for MemoryEndpoint {
    async fn invoke(&self, invocation: &Invocation) -> Result<InvocationOutput, PortError> {
        lock(&self.invocations).push(invocation.clone());
        self.faults.check(Call::Invoke)?;
        let answer = lock(&self.answers).get(&invocation.target_model).cloned();
        answer
            .ok_or_else(|| PortError::NotFound(format!("target model {}", invocation.target_model)))
    }
}
