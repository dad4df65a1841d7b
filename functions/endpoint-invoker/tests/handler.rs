//! The invoker's logic over the in-memory fakes of the ports (no moto): routing, listing,
//! the answer's shape, and the status of every failure.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::time::Duration;

use endpoint_invoker::{Invoker, InvokerConfig};
use http::{Method, StatusCode};
use mmp_common::config::EndpointLayout;
use mmp_common::fakes::{MemoryEndpoint, MemoryStore};
use mmp_common::ports::{ObjectStore, PutCondition};
use mmp_common::PortError;
use serde_json::{json, Value};

const WINE_V2: &str = "mmp-wine-v2.tar.gz";

/// A store whose routing table sends `wine` (group `mmp-wine`) to version 2.
async fn routed_store() -> MemoryStore {
    let store = MemoryStore::new("mmp-data");
    let table = json!({"schema": 1, "routes": {"wine": {
        "group": "mmp-wine", "version": 2, "target_model": WINE_V2,
        "model_package_arn": "arn:aws:sagemaker:us-east-1:000000000000:model-package/mmp-wine/2"
    }}});
    let key = EndpointLayout::default().routing_key;
    store
        .put(&key, table.to_string().into_bytes(), PutCondition::None)
        .await
        .unwrap();
    store
}

fn config() -> InvokerConfig {
    InvokerConfig {
        s3_path_style: false,
        bucket: "mmp-data".into(),
        endpoint_name: "mmp-endpoint".into(),
        layout: EndpointLayout::default(),
        cache_ttl: Duration::from_secs(60),
        max_request_bytes: 1024,
    }
}

async fn post(invoker: &Invoker<&MemoryStore, &MemoryEndpoint>, body: &str) -> (StatusCode, Value) {
    let response = invoker.handle(&Method::POST, body.as_bytes()).await;
    let status = response.status();
    (status, serde_json::from_str(response.body()).unwrap())
}

#[tokio::test]
async fn a_dataset_or_its_group_is_routed_to_the_deployed_version() {
    let store = routed_store().await;
    let endpoint = MemoryEndpoint::new();
    endpoint.serve(WINE_V2, r#"{"predictions": [1, 0]}"#);
    let invoker = Invoker::new(&store, &endpoint, config());
    for model in ["wine", "mmp-wine"] {
        let body = json!({"model": model, "data": [[1.5, 2], [3, 4]]}).to_string();
        let (status, answer) = post(&invoker, &body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(
            answer,
            json!({"model": "wine", "group": "mmp-wine", "version": 2, "predictions": [1, 0]})
        );
    }
    let sent = endpoint.invocations();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].target_model, WINE_V2);
    assert_eq!(sent[0].content_type, "text/csv");
    assert_eq!(String::from_utf8_lossy(&sent[0].body).lines().count(), 2);

    let listed = invoker.handle(&Method::GET, b"").await;
    let models: Value = serde_json::from_str(listed.body()).unwrap();
    assert_eq!(models["models"][0]["model"], "wine");
    assert_eq!(models["models"][0]["target_model"], WINE_V2);
}

#[tokio::test]
async fn unknown_models_bad_bodies_and_endpoint_failures_get_their_status() {
    let store = routed_store().await;
    let endpoint = MemoryEndpoint::new();
    let invoker = Invoker::new(&store, &endpoint, config());
    let rows = r#"{"model": "wine", "data": "1,2"}"#;

    assert_eq!(post(&invoker, "{").await.0, StatusCode::BAD_REQUEST);
    let (status, answer) = post(&invoker, r#"{"model": "beer", "data": "1"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(
        endpoint.invocations().is_empty(),
        "nothing is sent for a bad request"
    );

    // The route names an artifact the endpoint does not have: a 502.
    let (status, answer) = post(&invoker, rows).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");

    endpoint.serve(WINE_V2, r#"{"predictions": [1]}"#);
    endpoint.fail_next(PortError::BadInput(
        r#"{"error": "row 0 has 2 values"}"#.into(),
    ));
    let (status, answer) = post(&invoker, rows).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"],
        "model wine cannot take these rows: row 0 has 2 values"
    );
    assert_eq!(
        post(&invoker, rows).await.0,
        StatusCode::OK,
        "the failure was once"
    );
}

#[tokio::test]
async fn a_route_moved_by_the_deployer_is_read_again_after_a_not_found() {
    let store = routed_store().await;
    let endpoint = MemoryEndpoint::new();
    endpoint.serve(WINE_V2, r#"{"predictions": [2]}"#);
    let invoker = Invoker::new(&store, &endpoint, config());
    let rows = r#"{"model": "wine", "data": "1,2"}"#;
    assert_eq!(post(&invoker, rows).await.0, StatusCode::OK);

    // The deployer withdraws the route and the artifact within the cache's TTL.
    let key = EndpointLayout::default().routing_key;
    let empty = json!({"schema": 1, "routes": {}}).to_string().into_bytes();
    store.put(&key, empty, PutCondition::None).await.unwrap();
    endpoint.fail_next(PortError::NotFound(format!("target model {WINE_V2}")));
    assert_eq!(post(&invoker, rows).await.0, StatusCode::BAD_GATEWAY);
    let (status, answer) = post(&invoker, rows).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the table was read again: {answer}"
    );
}

#[tokio::test]
async fn an_unreadable_routing_table_is_a_503() {
    let store = MemoryStore::new("mmp-data");
    let key = EndpointLayout::default().routing_key;
    store
        .put(&key, b"[]".to_vec(), PutCondition::None)
        .await
        .unwrap();
    let endpoint = MemoryEndpoint::new();
    let invoker = Invoker::new(&store, &endpoint, config());
    let response = invoker.handle(&Method::GET, b"").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.body().contains("routing table"),
        "{}",
        response.body()
    );
}
