//! [`ModelRegistry`], [`ModelRegistryOperator`] (and the test-only admin side) over a map in
//! memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{Call, Faults};
use super::{lock, now_ms};
use crate::ports::{
    ApprovalStatus, ModelRegistry, ModelRegistryOperator, ModelVersion, ModelVersionSummary,
};
use crate::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use crate::PortError;

/// Model package groups in memory, versions numbered 1, 2, 3… per group, ARNs in SageMaker's
/// shape (`arn:aws:sagemaker:…:model-package/<group>/<version>`).
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    groups: Mutex<BTreeMap<String, Vec<ModelVersion>>>,
    faults: Faults,
}

impl MemoryRegistry {
    /// A registry with no groups.
    pub fn new() -> Self {
        MemoryRegistry::default()
    }

    /// Makes the next `call` fail with `error` (once; failures queue).
    pub fn fail_next(&self, call: Call, error: PortError) {
        self.faults.fail_next(call, error);
    }

    /// How many times `call` was made, failed ones included.
    pub fn calls(&self, call: Call) -> usize {
        self.faults.count(call)
    }

    fn with_version<T>(
        &self,
        arn: &str,
        action: impl FnOnce(&mut ModelVersion) -> T,
    ) -> Result<T, PortError> {
        let mut groups = lock(&self.groups);
        groups
            .values_mut()
            .flat_map(|versions| versions.iter_mut())
            .find(|version| version.summary.arn == arn)
            .map(action)
            .ok_or_else(|| PortError::NotFound(format!("model package {arn}")))
    }
}

#[async_trait]
impl ModelRegistry for MemoryRegistry {
    async fn list_versions(
        &self,
        group: &str,
        status: Option<ApprovalStatus>,
    ) -> Result<Vec<ModelVersionSummary>, PortError> {
        self.faults.check(Call::ListVersions)?;
        let groups = lock(&self.groups);
        let versions = groups.get(group).map(Vec::as_slice).unwrap_or_default();
        Ok(versions
            .iter()
            .rev()
            .map(|version| version.summary.clone())
            .filter(|summary| status.is_none_or(|status| summary.status == status))
            .collect())
    }

    async fn describe_version(&self, arn: &str) -> Result<ModelVersion, PortError> {
        self.faults.check(Call::DescribeVersion)?;
        self.with_version(arn, |version| version.clone())
    }
}

#[async_trait]
impl ModelRegistryOperator for MemoryRegistry {
    async fn list_groups(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        self.faults.check(Call::ListGroups)?;
        // A BTreeMap's keys are already sorted.
        Ok(lock(&self.groups)
            .keys()
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn set_status(&self, arn: &str, status: ApprovalStatus) -> Result<(), PortError> {
        self.faults.check(Call::SetStatus)?;
        self.with_version(arn, |version| version.summary.status = status)
    }
}

#[async_trait]
impl ModelRegistryAdmin for MemoryRegistry {
    async fn ensure_group(&self, group: &str) -> Result<(), PortError> {
        lock(&self.groups).entry(group.to_string()).or_default();
        Ok(())
    }

    async fn register_version(
        &self,
        version: &NewModelVersion,
    ) -> Result<ModelVersionSummary, PortError> {
        let mut groups = lock(&self.groups);
        let Some(versions) = groups.get_mut(&version.group) else {
            return Err(PortError::NotFound(format!(
                "model package group {}",
                version.group
            )));
        };
        let number = u32::try_from(versions.len() + 1).unwrap_or(u32::MAX);
        let summary = ModelVersionSummary {
            arn: format!(
                "arn:aws:sagemaker:us-east-1:000000000000:model-package/{}/{number}",
                version.group
            ),
            group: version.group.clone(),
            version: number,
            status: version.status,
            created_at_ms: Some(now_ms()),
        };
        versions.push(ModelVersion {
            summary: summary.clone(),
            model_data_url: version.model_data_url.clone(),
            evaluation_uri: version.evaluation_uri.clone(),
            metadata: version.metadata.clone(),
        });
        Ok(summary)
    }
}
