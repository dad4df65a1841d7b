//! Lambda handler: model-deployer. On "SageMaker Model Package State Change" it makes the
//! endpoint serve the group's newest Approved version — whatever the event says, the registry
//! is the source of truth — so replayed, duplicated and out-of-order events converge.
//!
//! Per event: read the routing table (with its ETag), ask the registry for the newest Approved
//! version, copy its `model.tar.gz` into the multi-model prefix as `<group>-v<version>.tar.gz`,
//! and replace the table with `If-Match` (or `If-None-Match: *` when there is none yet). A lost
//! race reloads the table and asks the registry again, so the last successful write always
//! reflects a registry read made after the previous write. With no Approved version left the
//! route is withdrawn. The old artifact is deleted only after the route has moved, and only if
//! no route and no newest-Approved version still uses it.
#![warn(missing_docs)]

use std::time::Duration;

use mmp_common::config::{self, CommonConfig, ConfigError, EndpointLayout, Env};
use mmp_common::events::{EventBridgeEvent, ModelPackageStateChange};
use mmp_common::naming;
use mmp_common::ports::{ApprovalStatus, ModelRegistry, ObjectStore, ObjectUri};
use mmp_common::routing::{self, Route, RoutingError};
use mmp_common::PortError;

/// Every environment variable this function reads.
pub const ENV_VARS: &[&str] = &[
    config::ENV_BUCKET,
    config::ENV_PIPELINE_NAME,
    config::ENV_ROUTING_KEY,
    config::ENV_MODELS_PREFIX,
    config::ENV_S3_FORCE_PATH_STYLE,
    config::ENV_LOG,
];

/// Every AWS API action this function's adapters call (CopyObject needs Get on the source and
/// Put on the destination; HeadObject needs Get).
pub const IAM_ACTIONS: &[&str] = &[
    "s3:GetObject",
    // Without ListBucket, S3 answers a missing key with 403 instead of 404.
    "s3:ListBucket",
    "s3:PutObject",
    "s3:DeleteObject",
    "sagemaker:ListModelPackages",
    "sagemaker:DescribeModelPackage",
];

/// Writes of the routing table before giving up: each lost race (another writer won) reloads
/// the table and asks the registry again. Optimistic concurrency, not a transport retry: those
/// are the adapters' (see [`mmp_common::retry`]).
pub const MAX_TABLE_WRITES: u32 = 30;

/// The deployer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployerConfig {
    /// Path-style S3 addressing (emulators only).
    pub s3_path_style: bool,
    /// The bucket holding the routing table and the artifacts.
    pub bucket: String,
    /// Only this pipeline's groups (`<pipeline>-<dataset>`) are deployed.
    pub pipeline_name: String,
    /// Where the routing table and the artifacts are.
    pub layout: EndpointLayout,
}

impl DeployerConfig {
    /// Reads [`ENV_VARS`]; fails naming the first missing or bad variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let (common, pipeline_name) = CommonConfig::with_pipeline(env)?;
        Ok(DeployerConfig {
            s3_path_style: common.s3_path_style,
            bucket: common.bucket,
            pipeline_name,
            layout: EndpointLayout::from_env(env)?,
        })
    }
}

/// What one event changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    /// The dataset now routes to `route` (previously `previous`).
    Deployed {
        /// The dataset.
        dataset: String,
        /// Its new route.
        route: Route,
        /// The route it replaced, if any.
        previous: Option<Route>,
    },
    /// No Approved version is left: the route was removed.
    Withdrawn {
        /// The dataset.
        dataset: String,
        /// The route it had.
        previous: Route,
    },
    /// The table already matched the registry.
    Unchanged {
        /// The dataset.
        dataset: String,
        /// Its route, if it has one.
        route: Option<Route>,
    },
    /// Not a group of this pipeline.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// Why a deployment failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployError {
    #[error("model package {arn} has a ModelDataUrl that is not an s3:// URI: `{url}`")]
    /// The version's model archive is not in S3.
    BadModelDataUrl {
        /// The version's model package ARN.
        arn: String,
        /// Its `ModelDataUrl`.
        url: String,
    },
    #[error("gave up after {MAX_TABLE_WRITES} lost races on the routing table")]
    /// Other writers kept winning the routing table.
    Contention,
    #[error(transparent)]
    /// The routing table cannot be read.
    Routing(#[from] RoutingError),
    #[error(transparent)]
    /// A port failed.
    Port(#[from] PortError),
}

/// Handles one state-change event.
pub async fn handle_event<S, R>(
    store: &S,
    registry: &R,
    config: &DeployerConfig,
    event: &EventBridgeEvent<ModelPackageStateChange>,
) -> Result<Deployment, DeployError>
where
    S: ObjectStore + ?Sized,
    R: ModelRegistry + ?Sized,
{
    let group = &event.detail.model_package_group_name;
    let Some(dataset) = naming::dataset_of_group(&config.pipeline_name, group) else {
        let reason = format!(
            "group `{group}` is not `{}-<dataset>`",
            config.pipeline_name
        );
        tracing::info!(%reason, "ignoring event");
        return Ok(Deployment::Ignored { reason });
    };
    tracing::info!(
        %group,
        version = ?event.detail.model_package_version,
        status = ?event.detail.model_approval_status,
        "reconciling the group with the registry"
    );
    reconcile(store, registry, config, &dataset).await
}

/// Makes the dataset's route match its group's newest Approved version.
pub async fn reconcile<S, R>(
    store: &S,
    registry: &R,
    config: &DeployerConfig,
    dataset: &str,
) -> Result<Deployment, DeployError>
where
    S: ObjectStore + ?Sized,
    R: ModelRegistry + ?Sized,
{
    let group = naming::group_name(&config.pipeline_name, dataset)
        .map_err(|e| PortError::Other(e.to_string()))?;
    let key = &config.layout.routing_key;
    for attempt in 1..=MAX_TABLE_WRITES {
        let (mut table, etag) = routing::load(store, key).await?;
        let desired = newest_approved(registry, &group).await?;
        let current = table.routes.get(dataset).cloned();
        if current.as_ref() == desired.as_ref().map(|d| &d.route) {
            if let Some(desired) = &desired {
                ensure_artifact(store, config, desired).await?;
            }
            return Ok(Deployment::Unchanged {
                dataset: dataset.to_string(),
                route: current,
            });
        }
        match &desired {
            Some(desired) => {
                ensure_artifact(store, config, desired).await?;
                table
                    .routes
                    .insert(dataset.to_string(), desired.route.clone());
            }
            None => {
                table.routes.remove(dataset);
            }
        }
        match routing::save(store, key, &table, etag.as_deref()).await {
            Ok(_) => {
                if let Some(previous) = &current {
                    retire(store, registry, config, previous).await?;
                }
                return Ok(match (desired, current) {
                    (Some(desired), previous) => {
                        // A concurrent retire may have removed the artifact between the copy
                        // and the write; make sure the route points at an object.
                        ensure_artifact(store, config, &desired).await?;
                        tracing::info!(dataset, version = desired.route.version, "route moved");
                        Deployment::Deployed {
                            dataset: dataset.to_string(),
                            route: desired.route,
                            previous,
                        }
                    }
                    (None, Some(previous)) => {
                        tracing::info!(dataset, "no Approved version left: route withdrawn");
                        Deployment::Withdrawn {
                            dataset: dataset.to_string(),
                            previous,
                        }
                    }
                    (None, None) => Deployment::Unchanged {
                        dataset: dataset.to_string(),
                        route: None,
                    },
                });
            }
            Err(PortError::PreconditionFailed(_) | PortError::NotFound(_)) => {
                tracing::debug!(
                    dataset,
                    attempt,
                    "routing table changed under us; reloading"
                );
                tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(DeployError::Contention)
}

/// The route the registry asks for, with where its artifact comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Desired {
    route: Route,
    source: ObjectUri,
}

async fn newest_approved<R: ModelRegistry + ?Sized>(
    registry: &R,
    group: &str,
) -> Result<Option<Desired>, DeployError> {
    let approved = registry
        .list_versions(group, Some(ApprovalStatus::Approved))
        .await?;
    let Some(newest) = approved.into_iter().next() else {
        return Ok(None);
    };
    let described = registry.describe_version(&newest.arn).await?;
    let source = ObjectUri::parse(&described.model_data_url).ok_or_else(|| {
        DeployError::BadModelDataUrl {
            arn: newest.arn.clone(),
            url: described.model_data_url.clone(),
        }
    })?;
    Ok(Some(Desired {
        route: Route {
            group: group.to_string(),
            version: newest.version,
            target_model: naming::artifact_name(group, newest.version),
            model_package_arn: newest.arn,
        },
        source,
    }))
}

/// Copies the version's archive into the multi-model prefix unless it is already there.
async fn ensure_artifact<S: ObjectStore + ?Sized>(
    store: &S,
    config: &DeployerConfig,
    desired: &Desired,
) -> Result<(), PortError> {
    let key = config.layout.artifact_key(&desired.route.target_model);
    match store.head(&key).await {
        Ok(_) => Ok(()),
        Err(PortError::NotFound(_)) => {
            store.copy(&desired.source, &key).await?;
            tracing::info!(source = %desired.source, key, "artifact copied");
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// Deletes a replaced artifact unless a route or the group's newest Approved version uses it.
async fn retire<S, R>(
    store: &S,
    registry: &R,
    config: &DeployerConfig,
    previous: &Route,
) -> Result<(), DeployError>
where
    S: ObjectStore + ?Sized,
    R: ModelRegistry + ?Sized,
{
    let (table, _) = routing::load(store, &config.layout.routing_key).await?;
    if table.references(&previous.target_model) {
        return Ok(());
    }
    if let Some(desired) = newest_approved(registry, &previous.group).await? {
        if desired.route.target_model == previous.target_model {
            return Ok(());
        }
    }
    store
        .delete(&config.layout.artifact_key(&previous.target_model))
        .await?;
    tracing::info!(artifact = %previous.target_model, "old artifact removed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_exactly_env_vars() {
        let parsed = mmp_common::contract::config_reads_exactly(
            DeployerConfig::from_env,
            &[
                (config::ENV_BUCKET, "b"),
                (config::ENV_PIPELINE_NAME, "mmp"),
            ],
            ENV_VARS,
        );
        assert_eq!(parsed.layout, EndpointLayout::default());
    }
}
