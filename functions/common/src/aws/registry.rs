//! [`ModelRegistry`] and [`ModelRegistryOperator`] over SageMaker model package groups.

use async_trait::async_trait;
#[cfg(feature = "contract-tests")]
use aws_sdk_sagemaker::types::{
    InferenceSpecification, MetricsSource, ModelMetrics, ModelPackageContainerDefinition,
    ModelQuality,
};
use aws_sdk_sagemaker::types::{ModelApprovalStatus, ModelPackageSortBy, SortOrder};

use super::error::classify;
use super::millis;
use crate::ports::{
    ApprovalStatus, ModelRegistry, ModelRegistryOperator, ModelVersion, ModelVersionSummary,
};
#[cfg(feature = "contract-tests")]
use crate::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use crate::PortError;

/// The model registry through the SageMaker API.
#[derive(Debug, Clone)]
pub struct SageMakerRegistry {
    client: aws_sdk_sagemaker::Client,
}

impl SageMakerRegistry {
    /// The registry behind `client`.
    pub fn new(client: aws_sdk_sagemaker::Client) -> Self {
        SageMakerRegistry { client }
    }
}

fn to_sdk(status: ApprovalStatus) -> ModelApprovalStatus {
    ModelApprovalStatus::from(status.as_str())
}

fn from_sdk(
    status: Option<&ModelApprovalStatus>,
    context: &str,
) -> Result<ApprovalStatus, PortError> {
    let text = status.map(ModelApprovalStatus::as_str).unwrap_or_default();
    ApprovalStatus::parse(text)
        .ok_or_else(|| PortError::Other(format!("{context}: unknown approval status `{text}`")))
}

fn version_of(version: Option<i32>, arn: &str, context: &str) -> Result<u32, PortError> {
    version
        .and_then(|version| u32::try_from(version).ok())
        .or_else(|| arn.rsplit('/').next().and_then(|last| last.parse().ok()))
        .ok_or_else(|| PortError::Other(format!("{context}: model package {arn} has no version")))
}

#[async_trait]
impl ModelRegistry for SageMakerRegistry {
    async fn list_versions(
        &self,
        group: &str,
        status: Option<ApprovalStatus>,
    ) -> Result<Vec<ModelVersionSummary>, PortError> {
        let context = format!("ListModelPackages {group}");
        let mut request = self
            .client
            .list_model_packages()
            .model_package_group_name(group)
            .sort_by(ModelPackageSortBy::CreationTime)
            .sort_order(SortOrder::Descending);
        if let Some(status) = status {
            request = request.model_approval_status(to_sdk(status));
        }
        let mut pages = request.into_paginator().send();
        let mut versions = Vec::new();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(error) => match classify(error, &context) {
                    PortError::NotFound(_) => return Ok(Vec::new()),
                    other => return Err(other),
                },
            };
            for summary in page.model_package_summary_list.unwrap_or_default() {
                let arn = summary.model_package_arn.unwrap_or_default();
                versions.push(ModelVersionSummary {
                    version: version_of(summary.model_package_version, &arn, &context)?,
                    status: from_sdk(summary.model_approval_status.as_ref(), &context)?,
                    group: summary
                        .model_package_group_name
                        .unwrap_or_else(|| group.to_string()),
                    created_at_ms: millis(summary.creation_time.as_ref()),
                    arn,
                });
            }
        }
        // Newest first by version number: creation times can tie, version numbers cannot.
        versions.sort_by_key(|summary| std::cmp::Reverse(summary.version));
        Ok(versions)
    }

    async fn describe_version(&self, arn: &str) -> Result<ModelVersion, PortError> {
        let context = format!("DescribeModelPackage {arn}");
        let output = self
            .client
            .describe_model_package()
            .model_package_name(arn)
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        let model_package_arn = output
            .model_package_arn
            .clone()
            .unwrap_or_else(|| arn.to_string());
        let model_data_url = output
            .inference_specification
            .as_ref()
            .and_then(|spec| spec.containers.as_ref())
            .and_then(|containers| containers.first())
            .and_then(|container| container.model_data_url.clone())
            .ok_or_else(|| {
                PortError::Other(format!("{context}: no container with a ModelDataUrl"))
            })?;
        let evaluation_uri = output
            .model_metrics
            .as_ref()
            .and_then(|metrics| metrics.model_quality.as_ref())
            .and_then(|quality| quality.statistics.as_ref())
            .and_then(|statistics| statistics.s3_uri.clone());
        Ok(ModelVersion {
            summary: ModelVersionSummary {
                version: version_of(output.model_package_version, &model_package_arn, &context)?,
                status: from_sdk(output.model_approval_status.as_ref(), &context)?,
                group: output.model_package_group_name.clone().unwrap_or_default(),
                created_at_ms: millis(output.creation_time.as_ref()),
                arn: model_package_arn,
            },
            model_data_url,
            evaluation_uri,
            metadata: output
                .customer_metadata_properties
                .clone()
                .map(|properties| properties.into_iter().collect())
                .unwrap_or_default(),
        })
    }
}

/// Whether `prefix` can be sent as ListModelPackageGroups' `NameContains` (at most 63 of
/// `[a-zA-Z0-9-]`, SageMaker's constraint). Group names are made of the same characters and
/// are no longer, so a prefix that cannot be sent starts no group's name.
fn sendable_name_filter(prefix: &str) -> bool {
    prefix.len() <= 63
        && prefix
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

#[async_trait]
impl ModelRegistryOperator for SageMakerRegistry {
    async fn list_groups(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        if !sendable_name_filter(prefix) {
            return Ok(Vec::new());
        }
        let context = format!("ListModelPackageGroups {prefix}");
        // NameContains matches anywhere in the name: the prefix test is ours.
        let mut pages = self
            .client
            .list_model_package_groups()
            .set_name_contains((!prefix.is_empty()).then(|| prefix.to_string()))
            .max_results(100)
            .into_paginator()
            .send();
        let mut groups = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(e, &context))?;
            groups.extend(
                page.model_package_group_summary_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|summary| summary.model_package_group_name)
                    .filter(|name| name.starts_with(prefix)),
            );
        }
        groups.sort();
        groups.dedup();
        Ok(groups)
    }

    async fn set_status(&self, arn: &str, status: ApprovalStatus) -> Result<(), PortError> {
        let context = format!("UpdateModelPackage {arn}");
        self.client
            .update_model_package()
            .model_package_arn(arn)
            .model_approval_status(to_sdk(status))
            .send()
            .await
            .map_err(|e| classify(e, &context))?;
        Ok(())
    }
}

// Test support only (see `mmp_common::registry_admin`).
#[cfg(feature = "contract-tests")]
#[async_trait]
impl ModelRegistryAdmin for SageMakerRegistry {
    async fn ensure_group(&self, group: &str) -> Result<(), PortError> {
        let context = format!("CreateModelPackageGroup {group}");
        match self
            .client
            .create_model_package_group()
            .model_package_group_name(group)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = classify(error, &context);
                if error.to_string().contains("already exists") {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn register_version(
        &self,
        version: &NewModelVersion,
    ) -> Result<ModelVersionSummary, PortError> {
        let context = format!("CreateModelPackage {}", version.group);
        let container = ModelPackageContainerDefinition::builder()
            .image(&version.image_uri)
            .model_data_url(&version.model_data_url)
            .build();
        let inference = InferenceSpecification::builder()
            .containers(container)
            .supported_content_types("text/csv")
            .supported_response_mime_types("text/csv")
            .build();
        let mut request = self
            .client
            .create_model_package()
            .model_package_group_name(&version.group)
            .inference_specification(inference)
            .model_approval_status(to_sdk(version.status));
        if !version.metadata.is_empty() {
            request = request.set_customer_metadata_properties(Some(
                version.metadata.clone().into_iter().collect(),
            ));
        }
        if let Some(uri) = &version.evaluation_uri {
            let statistics = MetricsSource::builder()
                .content_type("application/json")
                .s3_uri(uri)
                .build();
            let quality = ModelQuality::builder().statistics(statistics).build();
            request = request.model_metrics(ModelMetrics::builder().model_quality(quality).build());
        }
        let output = request.send().await.map_err(|e| classify(e, &context))?;
        let arn = output
            .model_package_arn
            .ok_or_else(|| PortError::Other(format!("{context}: no ARN returned")))?;
        Ok(self.describe_version(&arn).await?.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prefixes_sagemaker_accepts_are_sent_as_name_filters() {
        assert!(sendable_name_filter(""));
        assert!(sendable_name_filter("mmp-wine-2"));
        assert!(sendable_name_filter(&"a".repeat(63)));
        assert!(!sendable_name_filter(&"a".repeat(64)));
        assert!(!sendable_name_filter("mmp_wine"));
        assert!(!sendable_name_filter("mmp/"));
    }
}
