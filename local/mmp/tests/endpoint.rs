//! The local endpoint's multi-model front-end: models load on first use and, when the serving
//! process's memory budget is full, the least recently used one is unloaded to make room.

#![allow(clippy::unwrap_used)]

mod harness;

use std::time::Duration;

use harness::{sample, World, FAST};
use mmp::endpoint::{EndpointConfig, LocalEndpoint};
use mmp::home::Home;
use mmp::system::System;
use mmp_serve::port::ModelLoader;

#[tokio::test(flavor = "multi_thread")]
async fn a_full_budget_unloads_the_least_recently_used_model() {
    let world = World::new();
    {
        let _up = world.up();
        world.upload(
            "breast-cancer",
            "breast-cancer.csv",
            &sample("breast-cancer"),
            FAST,
        );
        world.upload("wine", "wine.csv", &sample("wine"), FAST);
        world.wait_executions("breast-cancer", 1, Duration::from_secs(600));
        world.wait_executions("wine", 1, Duration::from_secs(600));
    }
    let system = System::open(Home::new(world.data_dir()).unwrap(), "mmp").unwrap();
    // Put both refit archives in the multi-model prefix, as the deployer would.
    let mut sizes = Vec::new();
    for (name, group) in [("a.tar.gz", "mmp-breast-cancer"), ("b.tar.gz", "mmp-wine")] {
        let package = &system.registry.list(group, None).unwrap()[0];
        let key = system
            .store
            .key_of_uri(&package.model_data_url)
            .unwrap()
            .to_string();
        system
            .store
            .copy(&key, &format!("endpoint/models/{name}"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let archive = system.store.get(&key).unwrap().body;
        mmp::endpoint::unpack_archive(&archive, &dir.path().join("m")).unwrap();
        let model = mmp_container::MmpModelLoader
            .load(&dir.path().join("m"))
            .unwrap();
        sizes.push(model.memory_bytes() as u64);
    }
    // Room for the larger model alone, not for both.
    let budget = sizes[0].max(sizes[1]) + sizes[0].min(sizes[1]) / 2;
    let endpoint = LocalEndpoint::new(
        EndpointConfig {
            container_bin: harness::container_bin(),
            cache_dir: world.data_dir().join("endpoint-test"),
            model_prefix: "endpoint/models/".into(),
            memory_budget_bytes: Some(budget),
            log_file: world.data_dir().join("endpoint-test.log"),
        },
        system.store.clone(),
    );
    let bc_row = harness::feature_rows(&sample("breast-cancer"), "CLASS", 1);
    let wine_row = harness::feature_rows(&sample("wine"), "CLASS", 1);
    for (target, row) in [
        ("a.tar.gz", &bc_row),
        ("b.tar.gz", &wine_row),
        ("a.tar.gz", &bc_row),
    ] {
        let answer = endpoint
            .invoke(
                target,
                "text/csv",
                "application/json",
                row.clone().into_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(
            answer.status,
            200,
            "{target}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let base = endpoint.base_url().await.unwrap();
    let loaded: serde_json::Value = reqwest::get(format!("{base}/models"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = loaded["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["modelName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["a.tar.gz"],
        "only the most recently used model stays loaded"
    );
    let missing = endpoint
        .invoke("nope.tar.gz", "text/csv", "application/json", b"1".to_vec())
        .await;
    assert!(
        matches!(missing, Err(mmp::endpoint::EndpointError::ModelNotFound(_))),
        "{missing:?}"
    );
    endpoint.stop().await;
}
