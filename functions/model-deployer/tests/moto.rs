//! The deployer against moto: approve, reject, re-approve, duplicate, out-of-order,
//! withdraw and concurrent events; the routing table and the multi-model prefix end right.
//! The handler's clients record its AWS calls; `iam_actions_are_exactly_what_the_handler_calls`
//! holds them against `IAM_ACTIONS`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
#![cfg(feature = "moto")]

use std::collections::BTreeMap;

use futures_util::future::join_all;
use mmp_common::aws::moto::{IamRecorder, MotoServer};
use mmp_common::aws::{S3Store, SageMakerRegistry};
use mmp_common::config::EndpointLayout;
use mmp_common::events::{EventBridgeEvent, ModelPackageStateChange};
use mmp_common::ports::{
    ApprovalStatus, ModelRegistry, ModelRegistryOperator, ModelVersionSummary, ObjectStore,
    PutCondition,
};
use mmp_common::registry_admin::{ModelRegistryAdmin, NewModelVersion};
use mmp_common::routing::{self, RoutingTable};
use model_deployer::{handle_event, DeployerConfig, Deployment, IAM_ACTIONS};
use serde_json::json;

const BUCKET: &str = "mmp-data";

mmp_common::moto_scenarios! {
    crate: "model-deployer",
    iam_actions: IAM_ACTIONS,
    scenarios: [
        approve_reject_reapprove_duplicate_out_of_order_and_withdraw,
        concurrent_approvals_across_groups_lose_no_update,
        a_bad_model_data_url_and_a_corrupt_table_are_reported,
    ]
}

struct Harness {
    _moto: MotoServer,
    /// The handler's clients (recorded).
    store: S3Store,
    registry: SageMakerRegistry,
    /// The test's own, for registering, approving and checking (not recorded).
    seed: S3Store,
    admin: SageMakerRegistry,
    config: DeployerConfig,
}

async fn harness(recorder: &IamRecorder) -> Harness {
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).await.unwrap();
    let store = S3Store::new(moto.s3_recorded(recorder).await, BUCKET);
    let registry = SageMakerRegistry::new(moto.sagemaker_recorded(recorder).await);
    let seed = S3Store::new(moto.s3().await, BUCKET);
    let admin = SageMakerRegistry::new(moto.sagemaker().await);
    let config = DeployerConfig {
        s3_path_style: true,
        bucket: BUCKET.into(),
        pipeline_name: "mmp".into(),
        layout: EndpointLayout::default(),
    };
    Harness {
        _moto: moto,
        store,
        registry,
        seed,
        admin,
        config,
    }
}

/// Registers a version whose archive holds `<group> v<n>`.
async fn register(h: &Harness, group: &str, status: ApprovalStatus) -> ModelVersionSummary {
    h.admin.ensure_group(group).await.unwrap();
    let n = h.admin.list_versions(group, None).await.unwrap().len() + 1;
    let key = format!("pipelines/mmp/{group}-{n}/RefitBestModel/output/model.tar.gz");
    h.seed
        .put(
            &key,
            format!("{group} v{n}").into_bytes(),
            PutCondition::None,
        )
        .await
        .unwrap();
    let version = NewModelVersion {
        group: group.into(),
        model_data_url: format!("s3://{BUCKET}/{key}"),
        evaluation_uri: None,
        status,
        image_uri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/mmp:latest".into(),
        metadata: Default::default(),
    };
    h.admin.register_version(&version).await.unwrap()
}

fn event(
    version: &ModelVersionSummary,
    status: ApprovalStatus,
) -> EventBridgeEvent<ModelPackageStateChange> {
    serde_json::from_value(json!({
        "version": "0", "id": "e", "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker", "account": "123456789012", "time": "2026-11-26T06:30:00Z",
        "region": "us-east-1", "resources": [version.arn],
        "detail": {
            "ModelPackageGroupName": version.group, "ModelPackageVersion": version.version,
            "ModelPackageArn": version.arn, "ModelApprovalStatus": status.as_str()
        }
    }))
    .unwrap()
}

async fn table(h: &Harness) -> RoutingTable {
    routing::load(&h.seed, &h.config.layout.routing_key)
        .await
        .unwrap()
        .0
}

/// dataset → version, from the table.
async fn routes(h: &Harness) -> BTreeMap<String, u32> {
    table(h)
        .await
        .routes
        .into_iter()
        .map(|(dataset, route)| (dataset, route.version))
        .collect()
}

/// Artifact name → content, under the multi-model prefix.
async fn artifacts(h: &Harness) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    for meta in h.seed.list(&h.config.layout.models_prefix).await.unwrap() {
        let body = h.seed.get(&meta.key).await.unwrap().body;
        let name = meta
            .key
            .trim_start_matches(&h.config.layout.models_prefix)
            .to_string();
        found.insert(name, String::from_utf8(body).unwrap());
    }
    found
}

fn map<V: Clone>(pairs: &[(&str, V)]) -> BTreeMap<String, V> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

async fn approve_reject_reapprove_duplicate_out_of_order_and_withdraw(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    let h = &h;
    let deploy = |e| async move {
        handle_event(&h.store, &h.registry, &h.config, &e)
            .await
            .unwrap()
    };

    // Approve v1: deployed.
    let v1 = register(h, "mmp-wine", ApprovalStatus::Approved).await;
    let outcome = deploy(event(&v1, ApprovalStatus::Approved)).await;
    assert!(
        matches!(&outcome, Deployment::Deployed { previous: None, .. }),
        "{outcome:?}"
    );
    assert_eq!(routes(h).await, map(&[("wine", 1)]));
    assert_eq!(
        artifacts(h).await,
        map(&[("mmp-wine-v1.tar.gz", "mmp-wine v1".to_string())])
    );

    // Approve v2: the route moves, v1's artifact goes only afterwards.
    let v2 = register(h, "mmp-wine", ApprovalStatus::Approved).await;
    deploy(event(&v2, ApprovalStatus::Approved)).await;
    assert_eq!(routes(h).await, map(&[("wine", 2)]));
    assert_eq!(
        artifacts(h).await,
        map(&[("mmp-wine-v2.tar.gz", "mmp-wine v2".to_string())])
    );

    // Duplicate and out-of-order (v1's old approval arrives late): nothing changes.
    assert!(matches!(
        deploy(event(&v2, ApprovalStatus::Approved)).await,
        Deployment::Unchanged { .. }
    ));
    assert!(matches!(
        deploy(event(&v1, ApprovalStatus::Approved)).await,
        Deployment::Unchanged { .. }
    ));
    assert_eq!(routes(h).await, map(&[("wine", 2)]));

    // Reject v2: rolls back to v1 (re-copied).
    h.admin
        .set_status(&v2.arn, ApprovalStatus::Rejected)
        .await
        .unwrap();
    deploy(event(&v2, ApprovalStatus::Rejected)).await;
    assert_eq!(routes(h).await, map(&[("wine", 1)]));
    assert_eq!(
        artifacts(h).await,
        map(&[("mmp-wine-v1.tar.gz", "mmp-wine v1".to_string())])
    );

    // Re-approve v2.
    h.admin
        .set_status(&v2.arn, ApprovalStatus::Approved)
        .await
        .unwrap();
    deploy(event(&v2, ApprovalStatus::Approved)).await;
    assert_eq!(routes(h).await, map(&[("wine", 2)]));

    // Reject everything: the route is withdrawn (the original crashed here).
    h.admin
        .set_status(&v1.arn, ApprovalStatus::Rejected)
        .await
        .unwrap();
    h.admin
        .set_status(&v2.arn, ApprovalStatus::Rejected)
        .await
        .unwrap();
    let outcome = deploy(event(&v2, ApprovalStatus::Rejected)).await;
    assert!(
        matches!(outcome, Deployment::Withdrawn { .. }),
        "{outcome:?}"
    );
    assert!(routes(h).await.is_empty());
    assert!(artifacts(h).await.is_empty());
    // Replayed once more: still nothing, no error.
    assert!(matches!(
        deploy(event(&v1, ApprovalStatus::Rejected)).await,
        Deployment::Unchanged { route: None, .. }
    ));

    // Another pipeline's group is ignored.
    let foreign = register(h, "other-wine", ApprovalStatus::Approved).await;
    assert!(matches!(
        deploy(event(&foreign, ApprovalStatus::Approved)).await,
        Deployment::Ignored { .. }
    ));
    assert!(routes(h).await.is_empty());
}

async fn concurrent_approvals_across_groups_lose_no_update(recorder: &IamRecorder) {
    let h = &harness(recorder).await;
    let groups = ["mmp-wine", "mmp-diabetes", "mmp-breast-cancer", "mmp-iris"];
    let mut events = Vec::new();
    for group in groups {
        for _ in 0..3 {
            let version = register(h, group, ApprovalStatus::Approved).await;
            events.push(event(&version, ApprovalStatus::Approved));
        }
    }
    let outcomes = join_all(
        events
            .iter()
            .map(|e| handle_event(&h.store, &h.registry, &h.config, e)),
    )
    .await;
    for outcome in &outcomes {
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    let expected = map(&[
        ("breast-cancer", 3),
        ("diabetes", 3),
        ("iris", 3),
        ("wine", 3),
    ]);
    assert_eq!(routes(h).await, expected);
    let names: Vec<String> = artifacts(h).await.into_keys().collect();
    assert_eq!(
        names,
        vec![
            "mmp-breast-cancer-v3.tar.gz",
            "mmp-diabetes-v3.tar.gz",
            "mmp-iris-v3.tar.gz",
            "mmp-wine-v3.tar.gz"
        ]
    );

    // Concurrent rejections of the newest versions roll every group back to v2.
    let mut rejections = Vec::new();
    for group in groups {
        let newest = h.admin.list_versions(group, None).await.unwrap().remove(0);
        h.admin
            .set_status(&newest.arn, ApprovalStatus::Rejected)
            .await
            .unwrap();
        rejections.push(event(&newest, ApprovalStatus::Rejected));
        rejections.push(event(&newest, ApprovalStatus::Rejected)); // duplicated delivery
    }
    let outcomes = join_all(
        rejections
            .iter()
            .map(|e| handle_event(&h.store, &h.registry, &h.config, e)),
    )
    .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let expected = map(&[
        ("breast-cancer", 2),
        ("diabetes", 2),
        ("iris", 2),
        ("wine", 2),
    ]);
    assert_eq!(routes(h).await, expected);
    assert_eq!(artifacts(h).await.len(), 4);
    assert!(artifacts(h)
        .await
        .values()
        .all(|content| content.ends_with("v2")));
}

async fn a_bad_model_data_url_and_a_corrupt_table_are_reported(recorder: &IamRecorder) {
    let h = harness(recorder).await;
    h.admin.ensure_group("mmp-wine").await.unwrap();
    let bad = NewModelVersion {
        group: "mmp-wine".into(),
        model_data_url: "https://example.com/model.tar.gz".into(),
        evaluation_uri: None,
        status: ApprovalStatus::Approved,
        image_uri: "image".into(),
        metadata: Default::default(),
    };
    let version = h.admin.register_version(&bad).await.unwrap();
    let error = handle_event(
        &h.store,
        &h.registry,
        &h.config,
        &event(&version, ApprovalStatus::Approved),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("not an s3:// URI"), "{error}");

    let h = harness(recorder).await;
    let good = register(&h, "mmp-wine", ApprovalStatus::Approved).await;
    h.seed
        .put(
            "endpoint/routing.json",
            b"{not json".to_vec(),
            PutCondition::None,
        )
        .await
        .unwrap();
    let error = handle_event(
        &h.store,
        &h.registry,
        &h.config,
        &event(&good, ApprovalStatus::Approved),
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("routing table `endpoint/routing.json` is not valid JSON"),
        "{error}"
    );
}
