//! The deployer's logic over the in-memory fakes of the ports (no moto): deploy, duplicate,
//! late and out-of-order events converge on the registry; lost races are retried; bad model
//! URLs, missing archives and corrupt tables are reported.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;

use mmp_common::config::EndpointLayout;
use mmp_common::events::{EventBridgeEvent, ModelPackageStateChange};
use mmp_common::fakes::{Call, MemoryRegistry, MemoryStore};
use mmp_common::ports::{
    ApprovalStatus, ModelRegistry, ModelRegistryOperator, ModelVersionSummary, ObjectStore,
    PutCondition,
};
use mmp_common::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use mmp_common::routing;
use mmp_common::PortError;
use model_deployer::{handle_event, DeployError, DeployerConfig, Deployment};
use serde_json::json;

const BUCKET: &str = "mmp-data";

struct World {
    store: MemoryStore,
    registry: MemoryRegistry,
    config: DeployerConfig,
}

fn world() -> World {
    World {
        store: MemoryStore::new(BUCKET),
        registry: MemoryRegistry::new(),
        config: DeployerConfig {
            s3_path_style: false,
            bucket: BUCKET.into(),
            pipeline_name: "mmp".into(),
            layout: EndpointLayout::default(),
        },
    }
}

impl World {
    /// Registers a version of `group` whose archive (in the bucket) holds `<group> v<n>`.
    async fn register(&self, group: &str, status: ApprovalStatus) -> ModelVersionSummary {
        self.registry.ensure_group(group).await.unwrap();
        let n = self
            .registry
            .list_versions(group, None)
            .await
            .unwrap()
            .len()
            + 1;
        let key = format!("pipelines/mmp/{group}-{n}/model.tar.gz");
        let body = format!("{group} v{n}").into_bytes();
        self.store
            .put(&key, body, PutCondition::None)
            .await
            .unwrap();
        self.register_url(group, &format!("s3://{BUCKET}/{key}"), status)
            .await
    }

    async fn register_url(
        &self,
        group: &str,
        model_data_url: &str,
        status: ApprovalStatus,
    ) -> ModelVersionSummary {
        self.registry.ensure_group(group).await.unwrap();
        let version = NewModelVersion {
            group: group.into(),
            model_data_url: model_data_url.into(),
            evaluation_uri: None,
            status,
            image_uri: "mmp-container".into(),
            metadata: Default::default(),
        };
        self.registry.register_version(&version).await.unwrap()
    }

    async fn handle(&self, version: &ModelVersionSummary) -> Result<Deployment, DeployError> {
        let event = event(&version.group, version);
        handle_event(&self.store, &self.registry, &self.config, &event).await
    }

    /// dataset → deployed version.
    async fn routes(&self) -> BTreeMap<String, u32> {
        let (table, _) = routing::load(&self.store, &self.config.layout.routing_key)
            .await
            .unwrap();
        table
            .routes
            .into_iter()
            .map(|(dataset, route)| (dataset, route.version))
            .collect()
    }

    /// Artifact names under the multi-model prefix.
    fn artifacts(&self) -> Vec<String> {
        let prefix = &self.config.layout.models_prefix;
        self.store
            .keys()
            .into_iter()
            .filter_map(|key| key.strip_prefix(prefix.as_str()).map(str::to_string))
            .collect()
    }
}

fn event(group: &str, version: &ModelVersionSummary) -> EventBridgeEvent<ModelPackageStateChange> {
    serde_json::from_value(json!({
        "version": "0", "id": "e", "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker", "account": "123456789012", "time": "2026-11-26T06:30:00Z",
        "region": "us-east-1", "resources": [version.arn],
        "detail": {
            "ModelPackageGroupName": group, "ModelPackageVersion": version.version,
            "ModelPackageArn": version.arn, "ModelApprovalStatus": version.status.as_str()
        }
    }))
    .unwrap()
}

fn routes(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn an_approval_deploys_and_a_duplicate_changes_nothing() {
    let w = world();
    let v1 = w.register("mmp-wine", ApprovalStatus::Approved).await;
    let deployed = w.handle(&v1).await.unwrap();
    assert!(
        matches!(&deployed, Deployment::Deployed { dataset, route, previous: None }
            if dataset == "wine" && route.version == 1 && route.target_model == "mmp-wine-v1.tar.gz"),
        "{deployed:?}"
    );
    assert_eq!(w.routes().await, routes(&[("wine", 1)]));
    assert_eq!(w.artifacts(), ["mmp-wine-v1.tar.gz"]);
    let key = w.config.layout.artifact_key("mmp-wine-v1.tar.gz");
    assert_eq!(w.store.get(&key).await.unwrap().body, b"mmp-wine v1");

    let again = w.handle(&v1).await.unwrap();
    assert!(matches!(again, Deployment::Unchanged { .. }), "{again:?}");
    assert_eq!(w.store.calls(Call::Copy), 1, "a duplicate copies nothing");
}

#[tokio::test]
async fn late_and_out_of_order_events_converge_on_the_registry() {
    let w = world();
    let v1 = w.register("mmp-wine", ApprovalStatus::Approved).await;
    let v2 = w.register("mmp-wine", ApprovalStatus::Approved).await;
    // v2's event arrives first, then v1's late one: both leave the newest Approved version.
    w.handle(&v2).await.unwrap();
    let late = w.handle(&v1).await.unwrap();
    assert!(matches!(late, Deployment::Unchanged { .. }), "{late:?}");
    assert_eq!(w.routes().await, routes(&[("wine", 2)]));
    assert_eq!(w.artifacts(), ["mmp-wine-v2.tar.gz"]);

    // Rejecting v2 rolls back to v1, and the replaced artifact is removed.
    w.registry
        .set_status(&v2.arn, ApprovalStatus::Rejected)
        .await
        .unwrap();
    let rolled_back = w.handle(&v2).await.unwrap();
    assert!(
        matches!(&rolled_back, Deployment::Deployed { route, previous: Some(previous), .. }
            if route.version == 1 && previous.version == 2),
        "{rolled_back:?}"
    );
    assert_eq!(w.artifacts(), ["mmp-wine-v1.tar.gz"]);

    // Rejecting v1 too withdraws the route and its artifact.
    w.registry
        .set_status(&v1.arn, ApprovalStatus::Rejected)
        .await
        .unwrap();
    let withdrawn = w.handle(&v1).await.unwrap();
    assert!(
        matches!(withdrawn, Deployment::Withdrawn { .. }),
        "{withdrawn:?}"
    );
    assert!(w.routes().await.is_empty());
    assert!(w.artifacts().is_empty());
}

#[tokio::test]
async fn a_pending_version_and_another_pipelines_group_deploy_nothing() {
    let w = world();
    let pending = w
        .register("mmp-wine", ApprovalStatus::PendingManualApproval)
        .await;
    let outcome = w.handle(&pending).await.unwrap();
    assert_eq!(
        outcome,
        Deployment::Unchanged {
            dataset: "wine".into(),
            route: None
        }
    );
    let other = w.register("other-wine", ApprovalStatus::Approved).await;
    let ignored = w.handle(&other).await.unwrap();
    assert!(matches!(ignored, Deployment::Ignored { .. }), "{ignored:?}");
    assert!(w.artifacts().is_empty());
}

#[tokio::test]
async fn a_lost_race_on_the_routing_table_reloads_and_wins() {
    let w = world();
    let v1 = w.register("mmp-wine", ApprovalStatus::Approved).await;
    w.store.fail_next(
        Call::Put,
        PortError::PreconditionFailed("another writer won".into()),
    );
    let deployed = w.handle(&v1).await.unwrap();
    assert!(
        matches!(deployed, Deployment::Deployed { .. }),
        "{deployed:?}"
    );
    assert_eq!(
        w.store.calls(Call::Put),
        3,
        "the seed's put, the lost write, the retry"
    );
    assert_eq!(w.routes().await, routes(&[("wine", 1)]));
}

#[tokio::test]
async fn a_bad_url_a_missing_archive_and_a_corrupt_table_are_errors() {
    let w = world();
    let bad = w
        .register_url(
            "mmp-wine",
            "https://example.com/model.tar.gz",
            ApprovalStatus::Approved,
        )
        .await;
    let error = w.handle(&bad).await.unwrap_err();
    assert!(
        matches!(&error, DeployError::BadModelDataUrl { url, .. } if url.starts_with("https://")),
        "{error}"
    );

    let w = world();
    let missing = w
        .register_url(
            "mmp-wine",
            &format!("s3://{BUCKET}/pipelines/none/model.tar.gz"),
            ApprovalStatus::Approved,
        )
        .await;
    let error = w.handle(&missing).await.unwrap_err();
    assert!(
        matches!(&error, DeployError::Port(PortError::NotFound(_))),
        "{error}"
    );
    assert!(w.routes().await.is_empty(), "no route to a missing archive");

    let w = world();
    let good = w.register("mmp-wine", ApprovalStatus::Approved).await;
    let routing_key = w.config.layout.routing_key.clone();
    w.store
        .put(&routing_key, b"{not json".to_vec(), PutCondition::None)
        .await
        .unwrap();
    let error = w.handle(&good).await.unwrap_err();
    assert!(matches!(error, DeployError::Routing(_)), "{error}");
}

#[test]
fn an_event_without_a_group_does_not_parse() {
    let event = json!({
        "version": "0", "id": "e", "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker", "account": "123456789012", "time": "2026-11-26T06:30:00Z",
        "region": "us-east-1", "resources": [], "detail": {"ModelApprovalStatus": "Approved"}
    });
    let parsed = serde_json::from_value::<EventBridgeEvent<ModelPackageStateChange>>(event);
    assert!(parsed.is_err());
}
