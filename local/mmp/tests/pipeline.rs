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
    // `mmp executions --json` prints times as RFC 3339 strings.
    let span = |e: &serde_json::Value| {
        let t = |v: &serde_json::Value| {
            let text = v.as_str().unwrap_or_else(|| panic!("not RFC 3339: {v}"));
            chrono::DateTime::parse_from_rfc3339(text)
                .unwrap_or_else(|e| panic!("{text}: {e}"))
                .timestamp_millis() as f64
                / 1000.0
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

/// Settings the trigger would refuse are refused by `mmp upload`, checked by the trigger's own
/// code and naming the field, before anything is written; so is an upload of a dataset whose
/// `pipeline.json` in the bucket the trigger refuses (it would start nothing).
#[test]
fn settings_the_trigger_would_refuse_are_refused_before_anything_is_written() {
    let world = World::new();
    let inputs = world.data_dir().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let csv = inputs.join("d.csv");
    std::fs::write(&csv, "a,CLASS\n1,0\n2,1\n").unwrap();
    let settings = inputs.join("pipeline.json");
    let dataset_folder = world.data_dir().join("bucket/datasets/d");
    for (bad, expected) in [
        (
            r#"{"max_tuning_jobs": 0}"#,
            "field `max_tuning_jobs`: must be at least 1",
        ),
        (r#"{"max_tuning_job": 3}"#, "unknown field `max_tuning_job`"),
        ("target_column = CLASS", "not valid settings JSON"),
    ] {
        std::fs::write(&settings, bad).unwrap();
        let (ok, out, err) = world.run(&[
            "upload",
            csv.to_str().unwrap(),
            "--dataset",
            "d",
            "--settings",
            settings.to_str().unwrap(),
        ]);
        assert!(!ok, "{bad} was accepted: {out}");
        assert!(err.contains(expected), "{bad}: {err}");
        assert!(!out.contains("uploaded"), "{out}");
        assert!(!dataset_folder.exists(), "{bad}: something was written");
    }

    // A bad pipeline.json already in the bucket (written around mmp) blocks the dataset.
    std::fs::create_dir_all(&dataset_folder).unwrap();
    std::fs::write(
        dataset_folder.join("pipeline.json"),
        r#"{"scorer": "nope"}"#,
    )
    .unwrap();
    let (ok, _, err) = world.run(&["upload", csv.to_str().unwrap(), "--dataset", "d"]);
    assert!(!ok);
    assert!(
        err.contains("field `scorer`") && err.contains("starts nothing for this dataset"),
        "{err}"
    );
    assert!(!dataset_folder.join("d.csv").exists());
    // Uploading a corrected one with the data unblocks it.
    std::fs::write(&settings, FAST).unwrap();
    world.ok(&[
        "upload",
        csv.to_str().unwrap(),
        "--dataset",
        "d",
        "--settings",
        settings.to_str().unwrap(),
    ]);
    assert!(dataset_folder.join("d.csv").exists());
}

/// An execution fails for a cause outside its input (here the container: its training jobs
/// fail); uploading the same bytes again starts nothing, and `mmp upload` says so and why;
/// once the cause is fixed, `mmp retry` resumes the execution under the same ARN, keeping the
/// steps that succeeded, and it succeeds.
#[test]
fn a_reupload_says_it_started_nothing_and_retry_resumes_the_failed_execution() {
    let world = World::new();
    let real = harness::container_bin();
    let broken = world.data_dir().join("broken-container");
    std::fs::write(
        &broken,
        format!(
            "#!/bin/sh\nif [ \"$1\" = train ]; then echo 'training is broken' >&2; exit 3; fi\nexec '{}' \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let csv = sample("breast-cancer");
    let up = world.up_with_env(&[("MMP_CONTAINER_BIN", broken.to_str().unwrap())]);
    world.upload("breast-cancer", "breast-cancer.csv", &csv, FAST);
    let failed = world.wait_executions("breast-cancer", 1, MINUTES).remove(0);
    assert_eq!(failed["status"], "Failed", "{failed:?}");
    let id = failed["id"].as_str().unwrap().to_string();
    let steps = |id: &str| -> Vec<serde_json::Value> {
        world
            .json(&["executions", id, "--json"])
            .as_array()
            .unwrap()
            .clone()
    };
    let preprocess = steps(&id)
        .into_iter()
        .find(|s| s["step_type"] == "Processing" && s["status"] == "Succeeded")
        .expect("the preprocessing succeeded");

    // The same bytes again: nothing starts, and the CLI says so, naming the execution.
    let (ok, _, err) = world.upload_again("breast-cancer", "breast-cancer.csv");
    assert!(!ok);
    assert!(
        err.contains("started nothing")
            && err.contains(&format!("execution {id} (Failed)"))
            && err.contains(&format!("mmp retry {id}")),
        "{err}"
    );
    assert_eq!(world.executions().len(), 1);
    // The trigger records it: `mmp executions` lists it under the rejected uploads.
    let deadline = std::time::Instant::now() + MINUTES;
    let rejected = loop {
        let list = world.json(&["executions", "--rejected", "--json"]);
        if let Some(r) = list.as_array().and_then(|l| l.first()).cloned() {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rejected upload recorded"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(rejected["key"], "datasets/breast-cancer/breast-cancer.csv");
    assert_eq!(rejected["execution_arn"], failed["arn"]);
    assert!(
        rejected["reason"].as_str().unwrap().contains("identical"),
        "{rejected}"
    );
    let table = world.ok(&["executions"]);
    assert!(
        table.contains("rejected uploads") && table.contains("identical"),
        "{table}"
    );

    // A running or succeeded execution is not retried; the failed one is, once fixed.
    drop(up);
    let _up = world.up();
    let out = world.ok(&["retry", &id]);
    assert!(out.contains(&format!("execution {id} retried")), "{out}");
    let runs = world.wait_executions("breast-cancer", 1, MINUTES);
    assert_eq!(runs.len(), 1, "a retry starts no new execution");
    assert_eq!(runs[0]["status"], "Succeeded", "{:?}", runs[0]);
    assert_eq!(runs[0]["arn"], failed["arn"]);
    let after = steps(&id);
    assert!(
        after.contains(&preprocess),
        "the succeeded step is kept as it was"
    );
    assert!(
        after.iter().all(|s| s["status"] == "Succeeded"),
        "{after:?}"
    );
    let (ok, _, err) = world.run(&["retry", &id]);
    assert!(!ok);
    assert!(
        err.contains("is Succeeded: only a Failed or Stopped execution can be retried"),
        "{err}"
    );
}

/// A user's mistake (here an empty file) is one clear line on stderr and exit status 1, even
/// with `RUST_BACKTRACE` set: never a Debug dump with a stack backtrace.
#[test]
fn a_user_error_is_one_line_without_a_backtrace() {
    let world = World::new();
    let empty = world.data_dir().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let out = world
        .command(&["upload", empty.to_str().unwrap(), "--dataset", "d"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("empty.csv is empty"), "{err}");
    assert!(!err.to_lowercase().contains("backtrace"), "{err}");
}

/// A regression (diabetes) keeps the family name the definition tunes as `algorithm`, and
/// says what was fitted (the LogisticRegression family fits Ridge on a numeric target) in
/// evaluation.json, `mmp models` and its JSON; registry times are RFC 3339 there too.
#[test]
fn a_regression_winner_is_shown_as_the_estimator_fitted() {
    let world = World::new();
    let _up = world.up();
    let settings = r#"{"target_column": "progression", "scorer": "r2", "registration_metric": "r2",
        "registration_threshold": -1000, "stratify_split": false,
        "max_tuning_jobs": 3, "max_parallel_tuning_jobs": 2}"#;
    world.upload("diabetes", "diabetes.csv", &sample("diabetes"), settings);
    let run = world.wait_executions("diabetes", 1, MINUTES).remove(0);
    assert_eq!(run["status"], "Succeeded", "{run:?}");

    let models = world.models();
    assert_eq!(models.len(), 1, "{models:?}");
    let package = &models[0]["package"];
    let family = package["metadata"]["algorithm"].as_str().unwrap();
    // The LogisticRegression family fits Ridge, or least squares when its penalty is none
    // (which of the two wins depends on the trials the seed draws).
    let expected: &[&str] = match family {
        "LogisticRegression" => &["Ridge", "LinearRegression"],
        "RandomForest" => &["RandomForestRegressor"],
        "NeuralNet" => &["MLPRegressor"],
        "XGBoost" => &["XGBRegressor"],
        "LightGBM" => &["LGBMRegressor"],
        other => panic!("{other} cannot win a regression"),
    };
    let estimator = models[0]["estimator"].as_str().unwrap();
    assert!(
        expected
            .iter()
            .any(|e| estimator == *e || estimator == format!("{e} (mmp-gbdt)")),
        "{family} fitted {estimator}"
    );
    let key = package["metrics_url"]
        .as_str()
        .unwrap()
        .strip_prefix("s3://mmp-local/")
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(world.data_dir().join("bucket").join(key)).unwrap())
            .unwrap();
    assert_eq!(report["algorithm"], family);
    assert_eq!(report["estimator"], estimator);
    let registered = package["created"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(registered).is_ok(),
        "{registered}"
    );

    let table = world.ok(&["models"]);
    assert!(
        table.contains("estimator") && table.contains(estimator),
        "{table}"
    );
    let steps = world.ok(&["executions", run["id"].as_str().unwrap()]);
    assert!(
        steps.contains(&format!("best: {family}")) && steps.contains(&format!("{estimator}: ")),
        "{steps}"
    );
}

/// Job inputs are links to the bucket's files, and what the bucket holds already leaves the job
/// folders when the execution ends; with MMP_KEEP_JOB_INPUTS=1 it stays until `mmp gc`.
#[test]
fn ended_executions_keep_logs_not_inputs_and_gc_drops_what_was_kept() {
    let world = World::new();
    let up = world.up_with_env(&[("MMP_KEEP_JOB_INPUTS", "1")]);
    world.upload("wine", "wine.csv", &sample("wine"), FAST);
    let run = world.wait_executions("wine", 1, MINUTES).remove(0);
    assert_eq!(run["status"], "Succeeded", "{run:?}");
    let jobs = world
        .data_dir()
        .join("jobs")
        .join(run["id"].as_str().unwrap());
    let kept_inputs = |jobs: &std::path::Path| {
        std::fs::read_dir(jobs)
            .unwrap()
            .map(|job| job.unwrap().path().join("input/data"))
            .filter(|inputs| inputs.exists())
            .count()
    };
    assert!(
        kept_inputs(&jobs) > 0,
        "MMP_KEEP_JOB_INPUTS=1 kept no inputs"
    );
    drop(up);

    let gc = world.json(&["gc", "--json"]);
    assert_eq!(gc["executions_pruned"], 1, "{gc}");
    assert!(gc["bytes_freed"].as_u64().unwrap() > 0, "{gc}");
    assert!(
        gc["data_folder_bytes_after"].as_u64() < gc["data_folder_bytes_before"].as_u64(),
        "{gc}"
    );
    assert_eq!(kept_inputs(&jobs), 0);
    let logs = std::fs::read_dir(&jobs)
        .unwrap()
        .filter(|job| job.as_ref().unwrap().path().join("job.log").is_file())
        .count();
    assert!(logs > 5, "the jobs' logs stay");
    assert_eq!(
        world.json(&["gc", "--json"])["bytes_freed"],
        0,
        "a second gc frees nothing"
    );
}

/// A noisy binary dataset the test makes: four numeric columns, one categorical, `CLASS` from
/// a linear rule with label noise, so that families and settings score differently.
fn generated_dataset(rows: usize) -> String {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let mut csv = String::from("x1,x2,x3,x4,colour,CLASS\n");
    for _ in 0..rows {
        let x: Vec<f64> = (0..4).map(|_| next() * 4.0 - 2.0).collect();
        let colour = ["red", "green", "blue"][(next() * 3.0) as usize % 3];
        let shift = if colour == "red" { 0.8 } else { 0.0 };
        let margin = x[0] - 0.5 * x[1] + x[2] * x[3] * 0.7 + shift;
        let noisy = if next() < 0.15 { -margin } else { margin };
        let class = u8::from(noisy > 0.0);
        csv.push_str(&format!(
            "{:.4},{:.4},{:.4},{:.4},{colour},{class}\n",
            x[0], x[1], x[2], x[3]
        ));
    }
    csv
}

/// Each SageMaker tuning strategy, chosen through `pipeline.json`, runs the whole pipeline on a
/// dataset the test makes, and does what the strategy says: Random and Bayesian never repeat a
/// configuration, Grid walks the grid from its first point, Hyperband stops trials early.
#[test]
fn every_tuning_strategy_runs_end_to_end_chosen_by_pipeline_json() {
    use mmp_pipeline::parameters::{STEP_TUNING, TUNING_STRATEGIES};
    let world = World::new();
    let _up = world.up();
    let csv = generated_dataset(600);
    const TRIALS: usize = 12;
    for strategy in TUNING_STRATEGIES {
        let settings = format!(
            r#"{{"tuning_strategy": "{strategy}", "max_tuning_jobs": {TRIALS},
                "max_parallel_tuning_jobs": 2, "registration_threshold": 0}}"#
        );
        let dataset = format!("generated-{}", strategy.to_lowercase());
        world.upload(&dataset, "generated.csv", &csv, &settings);
    }
    for strategy in TUNING_STRATEGIES {
        let dataset = format!("generated-{}", strategy.to_lowercase());
        let run = world.wait_executions(&dataset, 1, MINUTES).remove(0);
        assert_eq!(run["status"], "Succeeded", "{strategy}: {run:?}");
        assert_eq!(run["parameters"]["TuningStrategy"], strategy);
        let steps = world.json(&["executions", run["id"].as_str().unwrap(), "--json"]);
        let tuning = steps
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == STEP_TUNING)
            .unwrap();
        let jobs = tuning["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), TRIALS, "{strategy}: every trial ran");
        let configurations: std::collections::BTreeSet<String> = jobs
            .iter()
            .map(|j| format!("{}{}", j["definition_name"], j["hyperparameters"]))
            .collect();
        assert_eq!(configurations.len(), TRIALS, "{strategy}: no repeats");
        let counters = &tuning["outputs"]["TrainingJobStatusCounters"];
        let stopped = jobs.iter().filter(|j| j["status"] == "Stopped").count();
        assert_eq!(counters["Stopped"], stopped, "{strategy}: {counters}");
        match strategy {
            "Hyperband" => assert!(
                stopped >= 1 && counters["Completed"].as_u64().unwrap() >= 1,
                "Hyperband stops some trials early and completes others: {counters}"
            ),
            _ => assert_eq!(stopped, 0, "{strategy} stops no trial: {counters}"),
        }
        if strategy == "Grid" {
            // The grid starts at every range's first value, definitions taking turns.
            let first = &jobs[0]["hyperparameters"];
            assert_eq!(jobs[0]["definition_name"], "RandomForest");
            assert_eq!(first["n-estimators"], "50");
            assert_eq!(first["criterion"], "gini");
            assert_eq!(first["min-samples-split"], "2");
            assert_eq!(jobs[1]["definition_name"], "NeuralNet");
        }
    }
}
