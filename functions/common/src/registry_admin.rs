//! Test support: writes to the model registry. No handler or operator creates groups or
//! registers versions (the pipeline's RegisterModel step does), so this is not a port: the
//! contract suite, the fakes and the handlers' tests use it to set up state, and each registry
//! adapter implements it only when `contract-tests` is on. Changing a version's status is an
//! operator's act, a real port: [`ModelRegistryOperator::set_status`], which this extends.

use async_trait::async_trait;

use crate::ports::{ApprovalStatus, ModelRegistryOperator, ModelVersionSummary};
use crate::PortError;

/// What registering a version needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewModelVersion {
    /// The group to register in (it must exist).
    pub group: String,
    /// `s3://…/model.tar.gz` of the inference container.
    pub model_data_url: String,
    /// `s3://…/evaluation.json`, if the version has one.
    pub evaluation_uri: Option<String>,
    /// The status it is registered with.
    pub status: ApprovalStatus,
    /// The inference image (SageMaker needs one; the local registry may ignore it).
    pub image_uri: String,
    /// `CustomerMetadataProperties`.
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// Writes to the registry, as the pipeline's register step makes them (approvals are the
/// operator's [`ModelRegistryOperator::set_status`]).
#[async_trait]
pub trait ModelRegistryAdmin: ModelRegistryOperator {
    /// Creates the group if it does not exist (idempotent).
    async fn ensure_group(&self, group: &str) -> Result<(), PortError>;
    /// Registers a new version (the group must exist) and returns it.
    async fn register_version(
        &self,
        version: &NewModelVersion,
    ) -> Result<ModelVersionSummary, PortError>;
}
