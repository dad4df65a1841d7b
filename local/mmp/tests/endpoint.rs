//! The local endpoint's multi-model front-end: models load on first use (once, however many
//! requests ask at once) and, when the serving process's memory budget is full, the least
//! recently used one is unloaded to make room; a withdrawn model is unloaded and its folder
//! removed.

#![allow(clippy::unwrap_used)]

mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::{sample, World, FAST};
use mmp::endpoint::{EndpointConfig, LocalEndpoint};
use mmp::home::Home;
use mmp::system::System;
use mmp_common::ports::ApprovalStatus;
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
        mmp::endpoint::unpack_archive(&archive, &dir.path().join("m"), &Default::default())
            .unwrap();
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
            archive_limits: Default::default(),
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
            archive_limits: Default::default(),
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

/// Fits a small model and registers it, Approved, as version 1 of `mmp-<dataset>`, as a
/// pipeline's RegisterModel step would: the deployer in `mmp up` routes `dataset` to it.
/// Returns rows to send it.
fn register_approved_model(system: &System, dataset: &str) -> String {
    use mmp_ml::estimators::{from_hyperparams, Algorithm};
    use mmp_ml::hyperparams::HyperParams;
    use mmp_ml::model::{write_archive, Model, TrainingData};

    let csv = sample("breast-cancer");
    let table = mmp_ml::table::Table::from_reader(Path::new("data.csv"), csv.as_bytes()).unwrap();
    let data = TrainingData::from_table(&table, "CLASS", None).unwrap();
    let estimator = from_hyperparams(Algorithm::NaiveBayes, &HyperParams::default()).unwrap();
    let model = Model::fit(estimator.as_ref(), &data, Default::default(), 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(&dir.path().join("model")).unwrap();
    let archive = dir.path().join("model.tar.gz");
    write_archive(&dir.path().join("model"), &archive).unwrap();
    let key = format!("artifacts/{dataset}/model.tar.gz");
    system
        .store
        .put(
            &key,
            &std::fs::read(&archive).unwrap(),
            mmp_object_store::PutCondition::None,
        )
        .unwrap();
    system
        .registry
        .create_package(&serde_json::json!({
            "ModelPackageGroupName": format!("mmp-{dataset}"),
            "ModelApprovalStatus": "Approved",
            "InferenceSpecification": {"Containers": [{"ModelDataUrl": system.store.uri_of(&key)}]},
        }))
        .unwrap();
    harness::feature_rows(&csv, "CLASS", 2)
}

/// The names in the endpoint's cache folder (where `mmp up` unpacks archives).
fn cache_entries(world: &World) -> Vec<String> {
    let cache = Home::new(world.data_dir()).unwrap().endpoint_cache();
    let mut names: Vec<String> = match std::fs::read_dir(cache) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

async fn predict(client: &reqwest::Client, url: &str, dataset: &str, rows: &str) -> (u16, String) {
    let response = client
        .post(url)
        .json(&serde_json::json!({"model": dataset, "data": rows}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_first_invocations_of_a_new_model_all_succeed_and_leave_no_temporary_folder() {
    let world = World::new();
    let up = world.up();
    let system = System::open(Home::new(world.data_dir()).unwrap(), "mmp").unwrap();
    let rows = register_approved_model(&system, "tiny");
    world.wait_route("tiny", Some(1));
    assert_eq!(
        cache_entries(&world),
        Vec::<String>::new(),
        "nothing loaded yet"
    );
    let client = reqwest::Client::new();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, url, rows) = (client.clone(), up.url.clone(), rows.clone());
        requests.spawn(async move { predict(&client, &url, "tiny", &rows).await });
    }
    let answers = requests.join_all().await;
    let failed: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 16 failed: {failed:?}",
        failed.len()
    );
    let entries = cache_entries(&world);
    assert!(
        entries.iter().all(|name| !name.starts_with(".tmp")),
        "temporary folders left: {entries:?}"
    );
    assert_eq!(entries, ["mmp-tiny-v1.tar.gz"], "one folder, unpacked once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_withdrawn_model_is_unloaded_and_its_folder_removed() {
    let world = World::new();
    let up = world.up();
    let system = System::open(Home::new(world.data_dir()).unwrap(), "mmp").unwrap();
    let rows = register_approved_model(&system, "tiny");
    world.wait_route("tiny", Some(1));
    let client = reqwest::Client::new();
    let (status, body) = predict(&client, &up.url, "tiny", &rows).await;
    assert_eq!(status, 200, "{body}");
    let loaded = || async {
        let endpoint: serde_json::Value = client
            .get(format!("{}api/endpoint", up.console))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        endpoint["loaded"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["modelName"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(loaded().await, ["mmp-tiny-v1.tar.gz"]);
    assert_eq!(cache_entries(&world), ["mmp-tiny-v1.tar.gz"]);

    // Rejecting the only approved version withdraws the route and deletes the archive.
    system
        .registry
        .set_approval("mmp-tiny", 1, ApprovalStatus::Rejected)
        .unwrap();
    world.wait_route("tiny", None);
    // The withdrawal's clean-up follows the route's removal in the same delivery.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (models, entries) = (loaded().await, cache_entries(&world));
        if models.is_empty() && entries.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the withdrawal, loaded: {models:?}, on disk: {entries:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A .tar.gz of `(header, data)` entries, the names written raw.
fn archive_of(entries: &[(tar::EntryType, &str, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (kind, name, data, link) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_path(name).unwrap();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(*kind);
        if let Some(link) = link {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_archive_fails_its_load_naming_why_and_leaves_nothing_on_disk() {
    let world = World::new();
    let system = System::open(Home::new(world.data_dir()).unwrap(), "mmp").unwrap();
    let cache = world.data_dir().join("endpoint-refused");
    let endpoint = LocalEndpoint::new(
        EndpointConfig {
            container_bin: harness::container_bin(),
            cache_dir: cache.clone(),
            model_prefix: "endpoint/models/".into(),
            memory_budget_bytes: None,
            log_file: world.data_dir().join("endpoint-refused.log"),
            archive_limits: mmp_model_archive::Limits {
                max_unpacked_bytes: 1000,
                ..Default::default()
            },
        },
        system.store.clone(),
    );
    let manifest: &[u8] = br#"{"format_version": 1}"#;
    let cases = [
        (
            "big.tar.gz",
            archive_of(&[
                (tar::EntryType::Regular, "manifest.json", manifest, None),
                (tar::EntryType::Regular, "model.json", &[b' '; 5000], None),
            ]),
            "more than 1000 bytes",
        ),
        (
            "link.tar.gz",
            archive_of(&[
                (tar::EntryType::Regular, "model.json", b"{}", None),
                (
                    tar::EntryType::Symlink,
                    "manifest.json",
                    b"",
                    Some("/etc/passwd"),
                ),
            ]),
            "symbolic links are not allowed",
        ),
    ];
    for (name, archive, why) in cases {
        system
            .store
            .put(
                &format!("endpoint/models/{name}"),
                &archive,
                mmp_object_store::PutCondition::None,
            )
            .unwrap();
        let answer = endpoint
            .invoke(name, "text/csv", "application/json", b"1".to_vec())
            .await;
        match answer {
            Err(mmp::endpoint::EndpointError::LoadFailed { reason, .. }) => {
                assert!(reason.contains(why), "{name}: {reason}")
            }
            other => panic!("{name}: {other:?}"),
        }
        let left: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{name}: left in the cache: {left:?}");
    }
    endpoint.stop().await;
}
