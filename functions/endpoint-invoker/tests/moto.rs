//! The invoker end to end through moto (S3 routing table, sagemaker-runtime InvokeEndpoint),
//! and every error status with its message. The handler's clients record its AWS calls;
//! `iam_actions_are_exactly_what_the_handler_calls` holds them against `IAM_ACTIONS`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
#![cfg(feature = "moto")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use endpoint_invoker::{Invoker, InvokerConfig, IAM_ACTIONS};
use http::{Method, StatusCode};
use mmp_common::aws::moto::{IamRecorder, MotoServer};
use mmp_common::aws::{S3Store, SageMakerEndpoint};
use mmp_common::config::EndpointLayout;
use mmp_common::ports::{Invocation, InvocationOutput, ModelEndpoint, ObjectStore, PutCondition};
use mmp_common::retry::{Backoff, Retrying};
use mmp_common::routing::{Route, RoutingTable};
use mmp_common::PortError;
use serde_json::{json, Value};

const BUCKET: &str = "mmp-data";

mmp_common::moto_scenarios! {
    crate: "endpoint-invoker",
    iam_actions: IAM_ACTIONS,
    scenarios: [
        predicts_through_sagemaker_runtime_and_lists_models,
        routing_table_is_cached_then_revalidated_by_etag,
        every_bad_input_and_failure_gets_its_status_and_message,
    ]
}

fn config(ttl: Duration) -> InvokerConfig {
    InvokerConfig {
        s3_path_style: true,
        bucket: BUCKET.into(),
        endpoint_name: "mmp-endpoint".into(),
        layout: EndpointLayout::default(),
        cache_ttl: ttl,
        max_request_bytes: 1024,
    }
}

fn table(versions: &[(&str, u32)]) -> Vec<u8> {
    let mut table = RoutingTable::new();
    for (dataset, version) in versions {
        let group = format!("mmp-{dataset}");
        table.routes.insert(
            dataset.to_string(),
            Route {
                target_model: mmp_common::naming::artifact_name(&group, *version),
                model_package_arn: format!(
                    "arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/{version}"
                ),
                group,
                version: *version,
            },
        );
    }
    table.to_vec()
}

/// moto with the bucket, the handler's store (recorded) and the test's own (not recorded).
async fn moto_store(recorder: &IamRecorder) -> (MotoServer, S3Store, S3Store) {
    let moto = MotoServer::start().unwrap();
    moto.create_bucket(BUCKET).await.unwrap();
    let store = S3Store::new(moto.s3_recorded(recorder).await, BUCKET);
    let seed = S3Store::new(moto.s3().await, BUCKET);
    (moto, store, seed)
}

fn json_body(response: &http::Response<String>) -> Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    serde_json::from_str(response.body()).unwrap()
}

async fn predicts_through_sagemaker_runtime_and_lists_models(recorder: &IamRecorder) {
    let (moto, store, seed) = moto_store(recorder).await;
    seed.put(
        "endpoint/routing.json",
        table(&[("wine", 3), ("diabetes", 1)]),
        PutCondition::None,
    )
    .await
    .unwrap();
    moto.queue_endpoint_results(&[("1\n2\n", "text/csv"), ("[151.2]", "application/json")])
        .unwrap();
    let endpoint = SageMakerEndpoint::new(
        moto.sagemaker_runtime_recorded(recorder).await,
        "mmp-endpoint",
    );
    let invoker = Invoker::new(store, endpoint, config(Duration::from_secs(60)));

    let response = invoker
        .handle(
            &Method::POST,
            br#"{"model": "wine", "data": "1,2,3\n4,5,6"}"#,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.body());
    assert_eq!(
        json_body(&response),
        json!({"model": "wine", "group": "mmp-wine", "version": 3, "predictions": [1.0, 2.0]})
    );

    // By group name, JSON rows; the endpoint's JSON answer passes through.
    let response = invoker
        .handle(
            &Method::POST,
            br#"{"model": "mmp-diabetes", "data": [[0.03, 0.05]]}"#,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.body());
    assert_eq!(json_body(&response)["predictions"], json!([151.2]));

    let response = invoker.handle(&Method::GET, b"").await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed = json_body(&response);
    let models: Vec<(String, u64)> = listed["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model"].as_str().unwrap().to_string(),
                m["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        models,
        vec![("diabetes".to_string(), 1), ("wine".to_string(), 3)]
    );
}

async fn routing_table_is_cached_then_revalidated_by_etag(recorder: &IamRecorder) {
    let (moto, store, seed) = moto_store(recorder).await;
    seed.put(
        "endpoint/routing.json",
        table(&[("wine", 1)]),
        PutCondition::None,
    )
    .await
    .unwrap();
    // Two invokers, one whose TTL outlasts the test and one whose TTL has always passed, so
    // that neither assertion depends on how long moto takes to answer.
    let cached = Invoker::new(
        store,
        SageMakerEndpoint::new(
            moto.sagemaker_runtime_recorded(recorder).await,
            "mmp-endpoint",
        ),
        config(Duration::from_secs(3600)),
    );
    let revalidated = Invoker::new(
        S3Store::new(moto.s3_recorded(recorder).await, BUCKET),
        SageMakerEndpoint::new(
            moto.sagemaker_runtime_recorded(recorder).await,
            "mmp-endpoint",
        ),
        config(Duration::ZERO),
    );
    let version =
        |response: http::Response<String>| json_body(&response)["models"][0]["version"].as_u64();

    assert_eq!(version(cached.handle(&Method::GET, b"").await), Some(1));
    assert_eq!(
        version(revalidated.handle(&Method::GET, b"").await),
        Some(1)
    );
    seed.put(
        "endpoint/routing.json",
        table(&[("wine", 2)]),
        PutCondition::None,
    )
    .await
    .unwrap();
    assert_eq!(
        version(cached.handle(&Method::GET, b"").await),
        Some(1),
        "within the TTL the cache answers"
    );
    assert_eq!(
        version(revalidated.handle(&Method::GET, b"").await),
        Some(2),
        "after the TTL the new ETag is seen"
    );
    seed.delete("endpoint/routing.json").await.unwrap();
    assert_eq!(
        json_body(&revalidated.handle(&Method::GET, b"").await),
        json!({"models": []})
    );
}

/// An endpoint that always fails with one error, counting calls.
struct Failing {
    error: PortError,
    calls: AtomicU32,
}

#[async_trait]
impl ModelEndpoint for Failing {
    async fn invoke(&self, _: &Invocation) -> Result<InvocationOutput, PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(self.error.clone())
    }
}

async fn every_bad_input_and_failure_gets_its_status_and_message(recorder: &IamRecorder) {
    let (_moto, store, seed) = moto_store(recorder).await;
    seed.put(
        "endpoint/routing.json",
        table(&[("wine", 1)]),
        PutCondition::None,
    )
    .await
    .unwrap();
    let fast = Backoff {
        attempts: 3,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    };
    let throttled = Failing {
        error: PortError::Throttled("ThrottlingException".into()),
        calls: AtomicU32::new(0),
    };
    let invoker = Invoker::new(
        &store,
        Retrying::new(&throttled, fast),
        config(Duration::from_secs(60)),
    );

    let cases: [(&[u8], StatusCode, &str); 7] = [
        (
            b"{",
            StatusCode::BAD_REQUEST,
            "request body is not valid JSON",
        ),
        (
            br#"{"model": "wine"}"#,
            StatusCode::BAD_REQUEST,
            "missing field `data`",
        ),
        (
            br#"{"model": "wine", "data": "1,2\n3"}"#,
            StatusCode::BAD_REQUEST,
            "`data` row 2 has 1 fields; row 1 has 2",
        ),
        (
            br#"{"model": "wine", "data": [[1, {}]]}"#,
            StatusCode::BAD_REQUEST,
            "`data` row 1: column 2",
        ),
        (
            br#"{"model": "nope", "data": "1"}"#,
            StatusCode::NOT_FOUND,
            "No model found for nope",
        ),
        (
            &[b' '; 2000],
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is 2000 bytes; the limit is 1024",
        ),
        (
            br#"{"model": "wine", "data": "1"}"#,
            StatusCode::SERVICE_UNAVAILABLE,
            "ThrottlingException",
        ),
    ];
    for (body, status, message) in cases {
        let response = invoker.handle(&Method::POST, body).await;
        assert_eq!(response.status(), status, "{}", response.body());
        let error = json_body(&response)["error"].as_str().unwrap().to_string();
        assert!(error.contains(message), "{error} should contain {message}");
    }
    assert_eq!(
        throttled.calls.load(Ordering::SeqCst),
        3,
        "throttling is retried, then 503"
    );

    let response = invoker.handle(&Method::DELETE, b"").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, POST");
    assert!(json_body(&response)["error"]
        .as_str()
        .unwrap()
        .contains("method DELETE is not allowed"));

    // A model error is a 502 and is not retried; rows the model refuses (its container's 4xx)
    // are the caller's to fix: 400, in the model's words, not retried either.
    for (error, status, expected) in [
        (
            PortError::Rejected("ModelError: bad row".into()),
            StatusCode::BAD_GATEWAY,
            "ModelError: bad row",
        ),
        (
            PortError::BadInput(r#"{"error": "row 0 has 1 values; the model takes 13"}"#.into()),
            StatusCode::BAD_REQUEST,
            "model wine cannot take these rows: row 0 has 1 values; the model takes 13",
        ),
    ] {
        let failing = Failing {
            error,
            calls: AtomicU32::new(0),
        };
        let invoker = Invoker::new(
            &store,
            Retrying::new(&failing, fast),
            config(Duration::from_secs(60)),
        );
        let response = invoker
            .handle(&Method::POST, br#"{"model": "wine", "data": "1"}"#)
            .await;
        assert_eq!(response.status(), status);
        let message = json_body(&response)["error"].as_str().unwrap().to_string();
        assert!(message.contains(expected), "{message}");
        assert_eq!(
            failing.calls.load(Ordering::SeqCst),
            1,
            "{expected}: not retried"
        );
    }

    // A corrupt routing table is a 503 naming it.
    seed.put("endpoint/routing.json", b"[]".to_vec(), PutCondition::None)
        .await
        .unwrap();
    let model_error = Failing {
        error: PortError::Rejected("ModelError: bad row".into()),
        calls: AtomicU32::new(0),
    };
    let invoker = Invoker::new(&store, &model_error, config(Duration::ZERO));
    let response = invoker.handle(&Method::GET, b"").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(json_body(&response)["error"]
        .as_str()
        .unwrap()
        .contains("routing table `endpoint/routing.json`"));
}
