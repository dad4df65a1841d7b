//! The port contract run against the in-memory fakes the handlers' unit tests use: a fake
//! that breaks a rule the adapters keep would make those tests prove nothing.
#![cfg(feature = "contract-tests")]

use mmp_common::contract;
use mmp_common::fakes::{Call, MemoryEndpoint, MemoryPipelines, MemoryRegistry, MemoryStore};
use mmp_common::ports::{Invocation, ModelEndpoint, ObjectStore, PutCondition};
use mmp_common::PortError;

#[tokio::test]
async fn the_memory_store_passes_the_object_store_contract() {
    contract::object_store(&MemoryStore::new("contract-bucket"), "contract/").await;
}

#[tokio::test]
async fn the_memory_registry_passes_the_registry_contract() {
    contract::model_registry(&MemoryRegistry::new(), "mmp-contract", "mmp-container").await;
}

#[tokio::test]
async fn the_memory_pipelines_pass_the_runner_contract() {
    contract::pipeline_runner(&MemoryPipelines::new(["mmp-contract"]), "mmp-contract").await;
}

#[tokio::test]
async fn the_memory_registry_passes_the_registry_operator_contract() {
    contract::model_registry_operator(&MemoryRegistry::new(), "mmp-operator", "mmp-container")
        .await;
}

#[tokio::test]
async fn the_memory_pipelines_pass_the_execution_history_contract() {
    let pipelines = MemoryPipelines::new(["mmp-contract", "mmp-history"]);
    contract::pipeline_runner(&pipelines, "mmp-contract").await;
    // Another pipeline's executions are not listed.
    contract::execution_history(&pipelines, "mmp-history").await;
}

#[tokio::test]
async fn an_injected_failure_answers_one_call_then_the_store_works_again() {
    let store = MemoryStore::new("b");
    store.fail_next(Call::Put, PortError::Throttled("slow down".into()));
    let first = store.put("k", b"1".to_vec(), PutCondition::None).await;
    assert_eq!(first, Err(PortError::Throttled("slow down".into())));
    assert!(
        store.get("k").await.unwrap_err().is_not_found(),
        "a failed put writes nothing"
    );
    store
        .put("k", b"1".to_vec(), PutCondition::None)
        .await
        .unwrap();
    assert_eq!(store.calls(Call::Put), 2);
    assert_eq!(store.keys(), ["k"]);
}

#[tokio::test]
async fn the_memory_endpoint_answers_served_models_only() {
    let endpoint = MemoryEndpoint::new();
    endpoint.serve("mmp-wine-v1.tar.gz", r#"{"predictions": [1]}"#);
    let invocation = |target: &str| Invocation {
        target_model: target.into(),
        content_type: "text/csv".into(),
        accept: None,
        body: b"1,2".to_vec(),
    };
    let answer = endpoint
        .invoke(&invocation("mmp-wine-v1.tar.gz"))
        .await
        .unwrap();
    assert_eq!(answer.body, br#"{"predictions": [1]}"#);
    let missing = endpoint.invoke(&invocation("mmp-wine-v2.tar.gz")).await;
    assert!(missing.unwrap_err().is_not_found());
    endpoint.fail_next(PortError::Rejected("ModelError".into()));
    let failed = endpoint.invoke(&invocation("mmp-wine-v1.tar.gz")).await;
    assert_eq!(failed, Err(PortError::Rejected("ModelError".into())));
    assert_eq!(endpoint.invocations().len(), 3);
}
