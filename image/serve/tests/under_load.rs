//! Loads and unloads while invocations flow; concurrent loads of one name; graceful stop.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::fake::predictions_started;
use common::{FakeSpec, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_and_unload_during_traffic_never_fails_other_models() {
    let server = Arc::new(TestServer::start().await);
    let stable: Vec<String> = (0..4).map(|i| format!("stable-{i}")).collect();
    for name in &stable {
        server
            .load_ok(name, &FakeSpec::regressor(&["a", "b"]))
            .await;
    }
    let churn_spec = FakeSpec::classifier(&["a", "b"]);
    let churn_dirs: Vec<_> = (0..3)
        .map(|i| server.model_dir(&format!("churn-{i}"), &churn_spec))
        .collect();

    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let churn_hits = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for client in 0..8usize {
        let (server, done, answered, churn_hits) = (
            Arc::clone(&server),
            Arc::clone(&done),
            Arc::clone(&answered),
            Arc::clone(&churn_hits),
        );
        let stable = stable.clone();
        clients.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !done.load(Ordering::Relaxed) {
                i += 1;
                let name = &stable[(client + i) % stable.len()];
                let response = server
                    .invoke(name, "text/csv", &format!("{i},{client}\n"))
                    .await;
                assert_eq!(response.status(), 200, "{name} failed during churn");
                let expected = format!("{}\n", i + client);
                assert_eq!(response.text().await.unwrap(), expected);
                answered.fetch_add(1, Ordering::Relaxed);
                // Churning models answer or are absent; nothing else.
                let churn = format!("churn-{}", i % 3);
                let response = server.invoke(&churn, "text/csv", "1,1").await;
                match response.status().as_u16() {
                    200 => {
                        assert_eq!(response.text().await.unwrap(), "yes\n");
                        churn_hits.fetch_add(1, Ordering::Relaxed);
                    }
                    404 => {}
                    other => panic!("{churn} answered {other}"),
                }
            }
        }));
    }

    for _round in 0..40 {
        for (i, dir) in churn_dirs.iter().enumerate() {
            let name = format!("churn-{i}");
            let response = server.load(&name, dir).await;
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        for i in 0..churn_dirs.len() {
            let response = server.delete(&format!("/models/churn-{i}")).await;
            assert_eq!(response.status(), 200);
        }
    }
    done.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert!(answered.load(Ordering::Relaxed) >= 8, "traffic did flow");
    let listed = common::json(server.get("/models").await).await.1;
    assert_eq!(listed["models"].as_array().unwrap().len(), stable.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_loads_of_one_name_admit_exactly_one() {
    let server = Arc::new(TestServer::start().await);
    let dir = server.model_dir("same", &FakeSpec::classifier(&["a"]));
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let (server, dir) = (Arc::clone(&server), dir.clone());
            tokio::spawn(async move { server.load("same", &dir).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_finishes_in_flight_requests_then_refuses_new_ones() {
    let mut server = TestServer::start().await;
    let marker = tempfile::tempdir().unwrap();
    let started = marker.path().join("predictions-started");
    let slow = FakeSpec {
        sleep_ms: 400,
        started_marker: Some(started.clone()),
        ..FakeSpec::classifier(&["a"])
    };
    server.load_ok("slow", &slow).await;
    let client = server.client.clone();
    let url = server.url("/models/slow/invoke");
    let in_flight = tokio::spawn(async move {
        let response = client
            .post(url)
            .header("content-type", "text/csv")
            .body("1")
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    });
    predictions_started(&started, 1).await;
    server.stop().await.unwrap();
    assert_eq!(in_flight.await.unwrap(), (200, "yes\n".to_owned()));
    let after = reqwest::Client::new().get(server.url("/ping")).send().await;
    assert!(after.is_err(), "a stopped server accepts no connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_models_load_concurrently_list_and_answer() {
    let config = mmp_serve::ServeConfig {
        list_page_size: 300,
        ..mmp_serve::ServeConfig::default()
    };
    let server = Arc::new(TestServer::start_with(config, |_| {}).await);
    // One artifact folder serves every name, as SageMaker may unpack one archive for many.
    let dir = server.model_dir("shared", &FakeSpec::regressor(&["a"]));
    let loads: Vec<_> = (0..16)
        .map(|worker| {
            let (server, dir) = (Arc::clone(&server), dir.clone());
            tokio::spawn(async move {
                for i in (worker..1000).step_by(16) {
                    let response = server.load(&format!("model-{i:04}"), &dir).await;
                    assert_eq!(response.status(), 200);
                }
            })
        })
        .collect();
    for load in loads {
        load.await.unwrap();
    }
    let mut listed = 0;
    let mut path = "/models".to_owned();
    loop {
        let (status, body) = common::json(server.get(&path).await).await;
        assert_eq!(status, 200);
        listed += body["models"].as_array().unwrap().len();
        match body["nextPageToken"].as_str() {
            Some(token) => path = format!("/models?next_page_token={token}"),
            None => break,
        }
    }
    assert_eq!(listed, 1000);
    for i in [0, 499, 999] {
        let response = server
            .invoke(&format!("model-{i:04}"), "text/csv", "7")
            .await;
        assert_eq!(response.text().await.unwrap(), "7\n");
    }
}
