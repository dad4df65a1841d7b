//! The whole system on one machine, driven through the `mmp` CLI: uploads become executions,
//! executions register versions, approvals deploy, rejections roll back, failures explain
//! themselves, and a `kill -9` leaves nothing corrupt.

mod harness;

use std::time::Duration;

use harness::{sample, World, FAST};

const MINUTES: Duration = Duration::from_secs(600);

#[test]
fn upload_registers_approve_deploys_reject_rolls_back() {
    let world = World::new();
    let up = world.up();
    let csv = sample("breast-cancer");
    world.upload("breast-cancer", "breast-cancer.csv", &csv, FAST);
    let runs = world.wait_executions("breast-cancer", 1, MINUTES);
    assert_eq!(runs[0]["status"], "Succeeded", "{:?}", runs[0]);

    let models = world.models();
    assert_eq!(models.len(), 1, "{models:?}");
    assert_eq!(models[0]["package"]["group"], "mmp-breast-cancer");
    assert_eq!(
        models[0]["package"]["approval_status"],
        "PendingManualApproval"
    );
    assert_eq!(
        world.routing_table()["routes"]["breast-cancer"],
        serde_json::Value::Null
    );

    world.ok(&["approve", "breast-cancer"]);
    world.wait_route("breast-cancer", Some(1));

    // Through the Function URL, the same predictions as the container gives directly.
    let rows = harness::feature_rows(&csv, "CLASS", 5);
    let served = harness::post_json(
        &up.url,
        &serde_json::json!({"model": "breast-cancer", "data": rows}),
    );
    assert_eq!(served["version"], 1, "{served}");
    let artifact = models[0]["package"]["model_data_url"].as_str().unwrap();
    let direct = harness::predict_directly(&world, artifact, &rows);
    assert_eq!(
        served["predictions"], direct["predictions"],
        "Function URL vs container"
    );
    let labels: Vec<&str> = direct["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 5);
    assert!(
        labels.iter().all(|l| *l == "0" || *l == "1"),
        "labels come back as in the data: {labels:?}"
    );

    // A new upload (other bytes: one row fewer) trains version 2.
    let fewer: String = csv.lines().take(500).map(|l| format!("{l}\n")).collect();
    world.upload("breast-cancer", "breast-cancer-v2.csv", &fewer, FAST);
    let runs = world.wait_executions("breast-cancer", 2, MINUTES);
    assert!(runs.iter().all(|r| r["status"] == "Succeeded"), "{runs:?}");
    world.ok(&["approve", "mmp-breast-cancer", "--version", "2"]);
    world.wait_route("breast-cancer", Some(2));

    // Rejecting the served version rolls back to the newest still approved; rejecting that
    // one too withdraws the route.
    world.ok(&["reject", "breast-cancer", "--version", "2"]);
    world.wait_route("breast-cancer", Some(1));
    world.ok(&["reject", "breast-cancer", "--version", "1"]);
    world.wait_route("breast-cancer", None);
}

#[test]
fn two_datasets_run_in_parallel() {
    let world = World::new();
    let _up = world.up();
    world.upload(
        "breast-cancer",
        "breast-cancer.csv",
        &sample("breast-cancer"),
        FAST,
    );
    world.upload("wine", "wine.csv", &sample("wine"), FAST);
    let a = world.wait_executions("breast-cancer", 1, MINUTES).remove(0);
    let b = world.wait_executions("wine", 1, MINUTES).remove(0);
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("Succeeded"), Some("Succeeded"))
    );
    let span = |e: &serde_json::Value| {
        let t = |v: &serde_json::Value| {
            v["secs_since_epoch"].as_f64().unwrap_or(0.0)
                + v["nanos_since_epoch"].as_f64().unwrap_or(0.0) / 1e9
        };
        (t(&e["created"]), t(&e["ended"]))
    };
    let ((a0, a1), (b0, b1)) = (span(&a), span(&b));
    assert!(
        a0 < b1 && b0 < a1,
        "the executions overlapped in time: {a0}..{a1} and {b0}..{b1}"
    );
    let groups: Vec<String> = world
        .models()
        .iter()
        .map(|m| m["package"]["group"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(groups, ["mmp-breast-cancer", "mmp-wine"]);

    // The metrics reporter ranks both on the leaderboard and emits their metrics.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let leaderboard = world.data_dir().join("bucket/reports/leaderboard.json");
    loop {
        let board: serde_json::Value = std::fs::read(&leaderboard)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if board["datasets"]["breast-cancer"].is_object() && board["datasets"]["wine"].is_object() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "leaderboard: {board}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(world.data_dir().join("bucket/reports/wine.json").is_file());
    let metrics = std::fs::read_to_string(world.data_dir().join("metrics.jsonl")).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("\"_aws\"") && l.contains("wine")),
        "EMF documents: {metrics}"
    );
}

#[test]
fn an_unusable_csv_fails_its_execution_with_the_reason() {
    let world = World::new();
    let _up = world.up();
    world.upload(
        "broken",
        "broken.csv",
        "a,b,CLASS\n1,2,0\n3,4\n5,6,1\n",
        FAST,
    );
    let run = world.wait_executions("broken", 1, MINUTES).remove(0);
    assert_eq!(run["status"], "Failed");
    let reason = run["failure_reason"].as_str().unwrap();
    assert!(reason.contains("PreprocessData"), "{reason}");
    assert!(
        reason.contains("row 3"),
        "the reason names the ragged row: {reason}"
    );
    let table = world.ok(&["executions"]);
    assert!(
        table.contains("row 3"),
        "`mmp executions` shows the reason:\n{table}"
    );
}

#[test]
fn a_metric_below_the_threshold_ends_in_the_fail_step() {
    let world = World::new();
    let _up = world.up();
    let settings = r#"{"max_tuning_jobs": 2, "registration_threshold": 1.5}"#;
    world.upload(
        "breast-cancer",
        "breast-cancer.csv",
        &sample("breast-cancer"),
        settings,
    );
    let run = world.wait_executions("breast-cancer", 1, MINUTES).remove(0);
    assert_eq!(run["status"], "Failed");
    assert_eq!(
        run["failure_reason"].as_str().unwrap(),
        "Execution failed because auc value is less than the required 1.5"
    );
    assert!(world.models().is_empty(), "nothing is registered");
    let id = run["id"].as_str().unwrap();
    let steps = world.json(&["executions", id, "--json"]);
    let fail = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_type"] == "Fail")
        .expect("a Fail step ran");
    assert_eq!(fail["status"], "Failed");
}

#[test]
fn kill_9_during_an_execution_then_restart() {
    let world = World::new();
    let up = world.up();
    let slow = r#"{"max_tuning_jobs": 60, "max_parallel_tuning_jobs": 1}"#;
    world.upload(
        "breast-cancer",
        "breast-cancer.csv",
        &sample("breast-cancer"),
        slow,
    );
    // Wait until the tuning step is running, then kill the runtime without warning.
    let deadline = std::time::Instant::now() + MINUTES;
    loop {
        let runs = world.executions();
        if let Some(id) = runs.first().and_then(|r| r["id"].as_str()) {
            let steps = world.json(&["executions", id, "--json"]);
            if steps
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["step_type"] == "Tuning")
            {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tuning step never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    up.kill();

    let _up = world.up();
    let run = world
        .wait_executions("breast-cancer", 1, Duration::from_secs(30))
        .remove(0);
    assert_eq!(run["status"], "Failed");
    assert!(
        run["failure_reason"]
            .as_str()
            .unwrap()
            .starts_with("interrupted"),
        "{run:?}"
    );
    // New work runs after the restart.
    world.upload("wine", "wine.csv", &sample("wine"), FAST);
    let run = world.wait_executions("wine", 1, MINUTES).remove(0);
    assert_eq!(run["status"], "Succeeded", "{run:?}");
}
