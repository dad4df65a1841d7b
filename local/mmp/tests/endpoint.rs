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

/// The machine's address on its outward interface (no packet is sent: a UDP `connect` only
/// picks the route), or `None` on a machine without one.
fn outward_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_serving_process_listens_on_loopback_only() {
    let world = World::new();
    let system = System::open(Home::new(world.data_dir()).unwrap(), "mmp").unwrap();
    let endpoint = LocalEndpoint::new(
        EndpointConfig {
            container_bin: harness::container_bin(),
            cache_dir: world.data_dir().join("endpoint-bind"),
            model_prefix: "endpoint/models/".into(),
            memory_budget_bytes: None,
            log_file: world.data_dir().join("endpoint-bind.log"),
        },
        system.store.clone(),
    );
    let base = endpoint.base_url().await.unwrap();
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    // 127.0.0.2 is this machine too, but not the address the server is bound to; and the
    // machine's own network address must not reach it either.
    let mut others: Vec<std::net::IpAddr> = vec!["127.0.0.2".parse().unwrap()];
    others.extend(outward_address());
    for ip in others {
        let reached = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::new(ip, port),
            Duration::from_secs(2),
        );
        assert!(
            reached.is_err(),
            "the serving process answers on {ip}:{port}: it must listen on 127.0.0.1 only"
        );
    }
    endpoint.stop().await;
}
