//! The registry console `mmp up` serves, used as a person would in a real headless Chromium:
//! upload a dataset from the page, watch its execution finish, compare and approve the version,
//! predict from the try-it form. Each stage leaves a screenshot in
//! `<target>/console-screenshots/`. What the page shows is checked against the CLI's view of
//! the same data folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod harness;

use std::time::Duration;

use browser::Browser;
use harness::{feature_rows, sample, World, FAST};
use serde_json::Value;

const SECONDS: fn(u64) -> Duration = Duration::from_secs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_watch_approve_and_predict_from_the_console() {
    let world = World::new();
    let up = world.up();
    let page = |hash: &str| format!("{}{hash}", up.console);
    let b = Browser::start().await;

    // Nothing yet: the page says what to do next.
    b.goto(&page("#/executions")).await;
    b.wait_text("[data-testid=empty]", SECONDS(20), |t| {
        t.contains("No executions yet")
    })
    .await;
    b.shot("01-no-executions").await;
    assert_eq!(b.text_nodes("null").await, 0, "a stray null on the page");
    // The data folder's size, from the data folder itself.
    b.wait_text("#data-folder", SECONDS(20), |t| {
        t.contains("data folder") && (t.contains(" B") || t.contains("KiB") || t.contains("MiB"))
    })
    .await;

    // Upload from the page, with a small tuning budget in the settings file.
    let inputs = world.data_dir().join("inputs");
    std::fs::create_dir_all(&inputs).unwrap();
    let csv = sample("breast-cancer");
    let csv_file = inputs.join("breast-cancer.csv");
    std::fs::write(&csv_file, &csv).unwrap();
    let settings_file = inputs.join("pipeline.json");
    std::fs::write(&settings_file, FAST).unwrap();
    b.goto(&page("#/upload")).await;
    b.type_into("[data-testid=upload-file]", csv_file.to_str().unwrap())
        .await;
    b.type_into(
        "[data-testid=upload-settings]",
        settings_file.to_str().unwrap(),
    )
    .await;
    // A name the browser accepts but whose group name SageMaker would refuse: the error says why.
    let long_name = "a".repeat(70);
    b.type_into("[data-testid=upload-dataset]", &long_name)
        .await;
    b.click("[data-testid=upload-submit]").await;
    b.wait_text("[data-testid=error-banner]", SECONDS(20), |t| {
        t.contains("characters") && t.contains("63")
    })
    .await;
    b.type_into("[data-testid=upload-dataset]", "breast-cancer")
        .await;
    b.click("[data-testid=upload-submit]").await;
    b.wait_text("[data-testid=info-banner]", SECONDS(20), |t| {
        t.contains("datasets/breast-cancer/breast-cancer.csv")
    })
    .await;

    // The execution appears on the list; its page follows it to the end.
    b.click("tr[data-execution]").await;
    let status = b
        .wait_text("[data-testid=execution-status]", SECONDS(20), |t| {
            !t.is_empty()
        })
        .await;
    if status.contains("Executing") {
        b.shot("02-execution-running").await;
    }
    b.wait_text("[data-testid=execution-status]", SECONDS(240), |t| {
        t == "Succeeded"
    })
    .await;
    assert_eq!(b.count("[data-testid=step-graph] g.node").await, 7);
    let node_status = |step: &str| format!("[data-testid=step-graph] g.node[data-step={step}]");
    for (step, status) in [
        ("PreprocessData", "Succeeded"),
        ("RegisterBestModel", "Succeeded"),
        ("RegistrationMetricTooLow", "NotStarted"),
    ] {
        assert_eq!(
            b.attr(&node_status(step), "data-status").await.as_deref(),
            Some(status)
        );
    }
    // The tuning step is shown with its trials; a trial's log carries the score the table shows.
    let executions = world.executions();
    let id = executions[0]["id"].as_str().unwrap();
    let steps = world.json(&["executions", id, "--json"]);
    let trials = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_type"] == "Tuning")
        .unwrap()["jobs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        b.count("[data-testid=jobs-table] tbody tr").await,
        trials.len()
    );
    let first = trials[0]["name"].as_str().unwrap();
    b.click(&format!("tr[data-job=\"{first}\"]")).await;
    let log = b
        .wait_text("[data-testid=job-log]", SECONDS(20), |t| {
            t.contains("mmp-val-score:")
        })
        .await;
    // One line per fold (the running mean); the last is the objective.
    let logged: f64 = log
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("mmp-val-score:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let objective = trials[0]["objective"].as_f64().unwrap();
    assert!((logged - objective).abs() < 1e-6, "{logged} vs {objective}");
    let row = b
        .wait_text(&format!("tr[data-job=\"{first}\"]"), SECONDS(5), |_| true)
        .await;
    assert!(row.contains(&format!("{objective:.4}")), "{row}");
    tuning_curve_matches_the_api(&b, &up.console, id).await;
    b.shot("03-execution-succeeded").await;

    // The registered version: metrics from evaluation.json, curves, confusion matrix.
    b.goto(&page("#/models")).await;
    b.wait_text("[data-group=mmp-breast-cancer]", SECONDS(20), |t| {
        t.contains("Pending approval")
    })
    .await;
    // Beside the family the definition tuned, what was fitted (evaluation.json's estimator).
    let listed = &world.models()[0];
    let estimator = listed["estimator"].as_str().unwrap().to_string();
    if listed["package"]["metadata"]["algorithm"] != estimator.as_str() {
        b.wait_text(
            "tr[data-version=\"1\"] [data-testid=estimator]",
            SECONDS(20),
            |t| t.contains(&format!("({estimator})")),
        )
        .await;
    }
    assert_eq!(b.text_nodes("null").await, 0, "a stray null on the page");
    b.goto(&page("#/models/mmp-breast-cancer")).await;
    let accuracy = b
        .wait_text("tr[data-metric=accuracy]", SECONDS(20), |t| {
            t.contains("accuracy")
        })
        .await;
    let bucket = world.data_dir().join("bucket");
    let model = &world.models()[0]["package"];
    let metrics_key = model["metrics_url"]
        .as_str()
        .unwrap()
        .strip_prefix("s3://mmp-local/")
        .unwrap();
    let report: Value =
        serde_json::from_slice(&std::fs::read(bucket.join(metrics_key)).unwrap()).unwrap();
    let expected = report["binary_classification_metrics"]["accuracy"]["value"]
        .as_f64()
        .unwrap();
    assert!(accuracy.contains(&format!("{expected:.4}")), "{accuracy}");
    for chart in ["roc-chart", "pr-chart", "confusion-matrix"] {
        assert!(
            b.find(&format!(
                "[data-testid={chart}] svg, [data-testid={chart}] table"
            ))
            .await
            .is_some(),
            "{chart} is drawn"
        );
    }
    // The version links to the execution that registered it.
    assert_eq!(
        b.attr("tr[data-version=\"1\"] a[href^=\"#/executions/\"]", "href")
            .await
            .as_deref(),
        Some(format!("#/executions/{id}").as_str())
    );
    b.shot("04-version-metrics").await;
    // Unchanged data is not redrawn: a row outlives refreshes, so selections and clicks do too.
    let row = b.find("tr[data-version=\"1\"]").await.unwrap();
    tokio::time::sleep(SECONDS(4)).await;
    assert!(row.text().await.is_ok(), "the page redrew unchanged data");

    // Approve: the same path as `mmp approve`, so the deployer deploys it.
    b.click("[data-testid=approve-1]").await;
    b.wait_text("[data-testid=deployed]", SECONDS(60), |t| t == "DEPLOYED")
        .await;
    world.wait_route("breast-cancer", Some(1));
    assert_eq!(world.models()[0]["package"]["approval_status"], "Approved");
    b.shot("05-approved-and-deployed").await;

    // A second version (uploaded with the CLI): compared side by side, approved, then rejected
    // from the page, which rolls the endpoint back to version 1.
    // (Another file name: the same bytes under the same key are one upload, started once.)
    // Another random state: another split and search, so the versions differ.
    let reseeded = r#"{"max_tuning_jobs": 3, "max_parallel_tuning_jobs": 2, "random_state": 7}"#;
    world.upload("breast-cancer", "breast-cancer-again.csv", &csv, reseeded);
    world.wait_executions("breast-cancer", 2, SECONDS(240));
    b.wait_text("tr[data-version=\"2\"]", SECONDS(30), |t| {
        t.contains("Pending approval")
    })
    .await;
    // Newest two are compared by default: a column each, curves overlaid with a legend entry each.
    b.wait_text("[data-testid=metrics-table] thead", SECONDS(20), |t| {
        t.contains("V1") && t.contains("V2")
    })
    .await;
    let legend = b
        .wait_text("[data-testid=roc-chart] .legend", SECONDS(5), |_| true)
        .await;
    assert!(legend.contains("v1") && legend.contains("v2"), "{legend}");
    assert_eq!(b.count("[data-testid=confusion-matrix]").await, 2);
    // Where the versions differ, exactly one value of the row is marked best.
    let models = world.models();
    let report = |version: i64| -> Value {
        let p = models
            .iter()
            .find(|m| m["package"]["version"] == version)
            .unwrap();
        let key = p["package"]["metrics_url"].as_str().unwrap();
        let path = bucket.join(key.strip_prefix("s3://mmp-local/").unwrap());
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let (r1, r2) = (report(1), report(2));
    let metric = |r: &Value, m: &str| r["binary_classification_metrics"][m]["value"].as_f64();
    for m in ["accuracy", "auc", "f1", "precision", "recall"] {
        let (a, c) = (metric(&r1, m).unwrap(), metric(&r2, m).unwrap());
        let marked = b.count(&format!("tr[data-metric={m}] td.best")).await;
        let differ = format!("{a:.4}") != format!("{c:.4}");
        assert_eq!(marked, usize::from(differ), "{m}: {a} vs {c}");
    }
    // Tall enough for the whole comparison (the README's picture).
    b.client.set_window_size(1400, 1250).await.unwrap();
    b.shot("07-two-versions-compared").await;
    b.client.set_window_size(1400, 1000).await.unwrap();
    b.click("[data-testid=approve-2]").await;
    world.wait_route("breast-cancer", Some(2));
    b.wait_text("tr[data-version=\"2\"]", SECONDS(20), |t| {
        t.contains("DEPLOYED")
    })
    .await;
    b.click("[data-testid=reject-2]").await;
    world.wait_route("breast-cancer", Some(1));
    b.wait_text("tr[data-version=\"1\"]", SECONDS(20), |t| {
        t.contains("DEPLOYED")
    })
    .await;
    b.wait_text("tr[data-version=\"2\"]", SECONDS(20), |t| {
        t.contains("Rejected")
    })
    .await;

    // A model of many classes: its confusion matrix is named, not drawn as a table of every
    // cell. Version 2's report is given one of 300 classes, with only the cells that are not
    // zero, as the evaluation writes it beyond 100 classes.
    let key = models
        .iter()
        .find(|m| m["package"]["version"] == 2)
        .unwrap()["package"]["metrics_url"]
        .as_str()
        .unwrap()
        .strip_prefix("s3://mmp-local/")
        .unwrap()
        .to_string();
    let mut many = r2.clone();
    let matrix: serde_json::Map<String, Value> = (0..300)
        .map(|c| {
            (
                format!("k{c:03}"),
                serde_json::json!({ format!("k{c:03}"): 1 }),
            )
        })
        .collect();
    many["binary_classification_metrics"]["confusion_matrix"] = Value::Object(matrix);
    std::fs::write(bucket.join(&key), serde_json::to_vec(&many).unwrap()).unwrap();
    b.client.refresh().await.unwrap();
    let note = b
        .wait_text("[data-testid=confusion-not-drawn]", SECONDS(20), |_| true)
        .await;
    assert!(note.contains("300 classes"), "{note}");
    assert_eq!(b.count("[data-testid=confusion-matrix] table").await, 1);

    // Try it: rows in, the Function URL's predictions out, as `mmp invoke` gets them.
    b.goto(&page("#/endpoint")).await;
    b.wait_text("tr[data-dataset=breast-cancer]", SECONDS(20), |t| {
        t.contains("mmp-breast-cancer")
    })
    .await;
    let rows = feature_rows(&csv, "CLASS", 3);
    b.type_into("[data-testid=try-rows]", &rows).await;
    b.click("[data-testid=try-submit]").await;
    b.wait_text("[data-testid=try-status]", SECONDS(60), |t| t == "200")
        .await;
    let shown: Value = serde_json::from_str(
        &b.wait_text("[data-testid=try-output]", SECONDS(5), |_| true)
            .await,
    )
    .unwrap();
    let from_cli: Value = serde_json::from_str(&world.ok(&[
        "invoke",
        "breast-cancer",
        "--csv",
        &rows.replace('\n', "\\n"),
    ]))
    .unwrap();
    assert_eq!(shown, from_cli);
    // The serving process now holds the model, with its memory.
    b.wait_text("[data-testid=loaded-table]", SECONDS(20), |t| {
        t.contains("MiB") || t.contains("KiB")
    })
    .await;
    b.shot("06-endpoint-try-it").await;

    // A row of the wrong width: a client error, with the model's own words.
    b.type_into("[data-testid=try-rows]", "1,2").await;
    b.click("[data-testid=try-submit]").await;
    b.wait_text("[data-testid=try-output]", SECONDS(30), |t| {
        t.contains("model breast-cancer cannot take these rows: row 0 has 2 values")
    })
    .await;
    let status = b
        .wait_text("[data-testid=try-status]", SECONDS(5), |_| true)
        .await;
    assert_eq!(status, "400");

    // Both executions are listed; the API pages and filters them.
    b.goto(&page("#/executions")).await;
    b.wait_text("[data-testid=dataset-filter]", SECONDS(20), |t| {
        t.contains("breast-cancer")
    })
    .await;
    assert_eq!(b.count("tr[data-execution]").await, 2);
    assert_eq!(
        b.text_nodes("null").await,
        0,
        "a stray null under the executions"
    );
    let api = |query: &str| {
        let url = format!("{}api/executions{query}", up.console);
        async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let one = api("?limit=1").await;
    assert_eq!(
        (one["executions"].as_array().unwrap().len(), &one["total"]),
        (1, &Value::from(2))
    );
    assert_eq!(
        one["executions"][0]["id"],
        world.executions()[0]["id"],
        "newest first"
    );
    let other = api("?dataset=wine").await;
    assert_eq!(other["total"], 0);
    assert_eq!(other["datasets"], serde_json::json!(["breast-cancer"]));

    // Stop: a run with the full tuning budget, stopped from its page, ends Stopped.
    world.upload("breast-cancer", "breast-cancer-full.csv", &csv, "{}");
    b.wait_text(
        "[data-testid=executions-table] tbody tr:first-child",
        SECONDS(30),
        |t| t.contains("Executing"),
    )
    .await;
    b.click("[data-testid=executions-table] tbody tr:first-child")
        .await;
    b.click("[data-testid=stop-execution]").await;
    b.wait_text("[data-testid=execution-status]", SECONDS(60), |t| {
        t == "Stopped"
    })
    .await;
    assert_eq!(world.executions()[0]["status"], "Stopped");
    assert!(b.find("[data-testid=stop-execution]").await.is_none());

    // Retry: the stopped run resumes under the same id, keeping the steps that succeeded.
    let stopped = world.executions()[0].clone();
    let id = stopped["id"].as_str().unwrap().to_string();
    let succeeded_steps = |id: &str| -> Vec<Value> {
        world
            .json(&["executions", id, "--json"])
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "Succeeded")
            .cloned()
            .collect()
    };
    let kept = succeeded_steps(&id);
    assert!(
        !kept.is_empty(),
        "the preprocessing succeeded before the stop"
    );
    b.click("[data-testid=retry-execution]").await;
    b.wait_text("[data-testid=execution-status]", SECONDS(30), |t| {
        t == "Executing"
    })
    .await;
    b.shot("09-execution-retried").await;
    let resumed = world.executions();
    assert_eq!(resumed.len(), 3, "a retry starts no new execution");
    assert_eq!(resumed[0]["id"], stopped["id"]);
    assert_eq!(resumed[0]["arn"], stopped["arn"]);
    for step in &kept {
        assert!(
            succeeded_steps(&id).contains(step),
            "{} was kept as it was",
            step["name"]
        );
    }
    b.click("[data-testid=stop-execution]").await;
    b.wait_text("[data-testid=execution-status]", SECONDS(60), |t| {
        t == "Stopped"
    })
    .await;
    assert!(b.find("[data-testid=retry-execution]").await.is_some());

    // The same bytes again start nothing: the executions page lists the rejected upload.
    let (ok, _, err) = world.upload_again("breast-cancer", "breast-cancer-full.csv");
    assert!(!ok && err.contains("started nothing"), "{err}");
    b.goto(&page("#/executions")).await;
    b.wait_text("[data-testid=rejected-uploads]", SECONDS(30), |t| {
        t.contains("datasets/breast-cancer/breast-cancer-full.csv") && t.contains("identical")
    })
    .await;
    b.shot("10-rejected-upload").await;

    // Offline: everything the page loaded came from mmp itself.
    let loaded = b
        .client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .unwrap();
    let origin = up.console.trim_end_matches('/');
    for url in loaded.as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(url.starts_with(origin), "{url} is not served by mmp");
    }
    b.close().await;
}

/// The execution page's tuning curve against `GET /api/executions/{id}`: a dot per finished
/// trial in trial order, a best-so-far line that never falls, ending at the tuning step's best
/// objective; and the page's own computation on trials made up here (failed, stopped, still
/// running, and a minimized objective).
async fn tuning_curve_matches_the_api(b: &Browser, console: &str, id: &str) {
    let answer: Value = reqwest::get(format!("{console}api/executions/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tuning = answer["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_type"] == "Tuning")
        .unwrap();
    let jobs = tuning["jobs"].as_array().unwrap();
    let finished: Vec<usize> = (1..=jobs.len())
        .filter(|&n| {
            ["Completed", "Failed", "Stopped"].contains(&jobs[n - 1]["status"].as_str().unwrap())
        })
        .collect();
    assert!(!finished.is_empty(), "{tuning}");
    assert_eq!(tuning["objective"]["type"], "Maximize", "{tuning}");
    let best = tuning["objective"]["value"].as_f64().unwrap();
    let budget = &answer["parameters"]["MaxTuningJobs"];
    let summary = b
        .wait_text("[data-testid=tuning-summary]", SECONDS(20), |t| {
            t.contains("trials finished")
        })
        .await;
    assert!(
        summary.contains(&format!(
            "{} of {} trials finished",
            finished.len(),
            budget.as_str().unwrap()
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("best CV score {best:.4}")),
        "{summary}"
    );

    let points = b
        .client
        .execute(
            "return [...document.querySelectorAll('[data-testid=tuning-chart] circle.trial')]
               .map(c => [Number(c.dataset.trial), c.dataset.best === undefined ? null : Number(c.dataset.best)]);",
            vec![],
        )
        .await
        .unwrap();
    let points: Vec<(usize, Option<f64>)> = serde_json::from_value(points).unwrap();
    assert_eq!(
        points.iter().map(|p| p.0).collect::<Vec<_>>(),
        finished,
        "one dot per finished trial, in trial order"
    );
    let bests: Vec<f64> = points.iter().filter_map(|p| p.1).collect();
    assert!(
        bests.windows(2).all(|w| w[1] >= w[0]),
        "the best so far falls: {bests:?}"
    );
    let last = *bests.last().unwrap();
    assert!((last - best).abs() < 1e-9, "{last} vs the API's {best}");
    // The line as drawn: SVG's y grows downwards, so a best that never falls is a y that
    // never grows.
    let d = b
        .attr("[data-testid=tuning-chart] [data-testid=best-so-far]", "d")
        .await
        .unwrap();
    let heights = svg_heights(&d);
    assert!(!heights.is_empty(), "{d}");
    assert!(
        heights.windows(2).all(|w| w[1] <= w[0] + 1e-6),
        "the line goes down: {d}"
    );

    // The computation itself, on made-up trials: failed, stopped and running trials have no
    // value and keep the best; a minimized objective keeps the lowest.
    let jobs = serde_json::json!([
        {"status": "Completed", "objective": 0.5},
        {"status": "Failed", "objective": null},
        {"status": "InProgress", "objective": null},
        {"status": "Completed", "objective": 0.7},
        {"status": "Stopped", "objective": 0.9},
        {"status": "Completed", "objective": 0.4},
    ]);
    let computed = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             import('/app.js').then(m => done([false, true].map(min => m.bestSoFar(arguments[0], min)
               .map(p => [p.trial, p.value, p.best]))), e => done(String(e)));",
            vec![jobs],
        )
        .await
        .unwrap();
    assert_eq!(
        computed,
        serde_json::json!([
            [
                [1, 0.5, 0.5],
                [2, null, 0.5],
                [4, 0.7, 0.7],
                [5, null, 0.7],
                [6, 0.4, 0.7]
            ],
            [
                [1, 0.5, 0.5],
                [2, null, 0.5],
                [4, 0.7, 0.5],
                [5, null, 0.5],
                [6, 0.4, 0.4]
            ],
        ])
    );
}

/// The y of every point of an SVG path made of `Mx,y`, `Hx` and `Vy` commands, in order.
fn svg_heights(d: &str) -> Vec<f64> {
    d.split_whitespace()
        .filter_map(|token| match token.split_at(1) {
            ("M", xy) => xy.split(',').nth(1).map(|y| y.parse().unwrap()),
            ("V", y) => Some(y.parse().unwrap()),
            _ => None,
        })
        .collect()
}

/// The API names what is wrong, and refuses changes a page on another site could send and
/// hosts other than loopback.
#[tokio::test]
async fn the_console_api_names_what_is_wrong_and_refuses_cross_site_changes() {
    let world = World::new();
    let up = world.up();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}api/{path}", up.console);
    let error = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, body["error"].as_str().unwrap().to_string())
    };

    let approve = url("models/mmp-x/1/approval");
    let plain = http
        .post(&approve)
        .json(&serde_json::json!({"status": "Approved"}))
        .send()
        .await
        .unwrap();
    let (status, message) = error(plain).await;
    assert_eq!(status, 403);
    assert!(message.contains("x-mmp-console"), "{message}");
    let change = |request: reqwest::RequestBuilder| request.header("x-mmp-console", "1").send();
    let (status, message) = error(
        change(
            http.post(&approve)
                .json(&serde_json::json!({"status": "Approved"})),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{message}");
    assert!(
        message.contains("no model package group mmp-x or mmp-mmp-x"),
        "{message}"
    );
    let rebound = http
        .get(url("models"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);

    let (status, message) = error(http.get(url("executions/nope")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert!(message.contains("nope"), "{message}");
    let (status, _) = error(http.get(url("nothing-here")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    let (status, message) = error(
        change(http.post(url("executions/nope/stop")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "{message}");
    assert!(message.contains("nope"), "{message}");
    for (path, expected) in [
        ("executions/nope/jobs/j/log", "nope"),
        ("models/mmp-x/1/evaluation", "mmp-x"),
    ] {
        let (status, message) = error(http.get(url(path)).send().await.unwrap()).await;
        assert_eq!(status, 404, "{path}: {message}");
        assert!(message.contains(expected), "{path}: {message}");
    }

    // Uploads: what is missing or malformed, by name.
    let form = |dataset: &str, settings: Option<&str>| {
        let mut form = reqwest::multipart::Form::new().text("dataset", dataset.to_string());
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(b"a,CLASS\n1,0\n".to_vec()).file_name("d.csv"),
        );
        if let Some(settings) = settings {
            form = form.part(
                "settings",
                reqwest::multipart::Part::bytes(settings.as_bytes().to_vec())
                    .file_name("pipeline.json"),
            );
        }
        form
    };
    for (form, expected) in [
        (form("Bad Name", None), "Bad Name"),
        (form("ok", Some("{not json")), "not valid settings JSON"),
        // What the trigger itself would refuse, checked by its own code, naming the field.
        (
            form("ok", Some(r#"{"max_tuning_jobs": 0}"#)),
            "field `max_tuning_jobs`: must be at least 1",
        ),
        (
            form("ok", Some(r#"{"max_tuning_job": 3}"#)),
            "max_tuning_job",
        ),
        (
            reqwest::multipart::Form::new().text("dataset", "ok"),
            "no CSV file was chosen",
        ),
    ] {
        let (status, message) = error(
            change(http.post(url("datasets")).multipart(form))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{message}");
        assert!(message.contains(expected), "{message}");
    }
    assert!(
        world.executions().is_empty(),
        "no refused upload started anything"
    );
    assert!(
        !world.data_dir().join("bucket/datasets/ok").exists(),
        "no refused upload wrote anything"
    );

    // Errors axum makes itself are JSON too: a malformed path, a wrong method.
    for (request, status) in [
        (http.get(url("models/mmp-x/not-a-number/evaluation")), 400),
        (http.get(url("datasets")), 405),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let (_, message) = error(response).await;
        assert!(!message.is_empty());
    }
}

/// A console upload over the limit (here set small) is 413 with a JSON error and leaves
/// nothing in the bucket: the file streams to a temporary file, never renamed into place.
#[tokio::test]
async fn an_upload_over_the_limit_is_413_json_and_writes_nothing() {
    let world = World::new();
    let up = world.up_with_env(&[("MMP_CONSOLE_UPLOAD_LIMIT_BYTES", "1000")]);
    let http = reqwest::Client::new();
    let url = format!("{}api/datasets", up.console);
    let post = |csv: Vec<u8>| {
        let form = reqwest::multipart::Form::new().text("dataset", "big").part(
            "file",
            reqwest::multipart::Part::bytes(csv).file_name("big.csv"),
        );
        http.post(&url)
            .header("x-mmp-console", "1")
            .multipart(form)
            .send()
    };
    let mut csv = b"a,CLASS\n".to_vec();
    while csv.len() <= 4000 {
        csv.extend_from_slice(b"1,0\n");
    }
    let response = post(csv).await.unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("1000 bytes") && message.contains("MMP_CONSOLE_UPLOAD_LIMIT_BYTES"),
        "{message}"
    );
    let bucket = world.data_dir().join("bucket");
    let left: Vec<_> = walk(&bucket);
    assert!(left.is_empty(), "nothing is written: {left:?}");
    assert!(world.executions().is_empty());

    // Under the limit, the same form uploads.
    let response = post(b"a,CLASS\n1,0\n".to_vec()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        std::fs::read(bucket.join("datasets/big/big.csv")).unwrap(),
        b"a,CLASS\n1,0\n"
    );
    // The upload's event wakes the trigger at once, and its copy under pinned-datasets/ is
    // staged the same way while it runs: wait for in-flight copies to land. A temporary file
    // that is left behind is still there after the wait.
    let temporary = || -> Vec<String> {
        walk(&bucket)
            .into_iter()
            .filter(|f| {
                f.rsplit('/')
                    .next()
                    .is_some_and(|name| name.starts_with(".tmp"))
            })
            .collect()
    };
    let mut staged = temporary();
    for _ in 0..100 {
        if staged.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        staged = temporary();
    }
    assert!(staged.is_empty(), "no temporary file is left: {staged:?}");
}

/// Every file under `dir` (temporary ones included), relative.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

/// Retry from the console's API: refused while the execution runs (409, JSON), accepted once
/// it is stopped, under the same id.
#[tokio::test]
async fn the_console_api_retries_stopped_executions_only() {
    let world = World::new();
    let up = world.up();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}api/{path}", up.console);
    let post = |path: String| http.post(path).header("x-mmp-console", "1").send();
    let slow = r#"{"max_tuning_jobs": 60, "max_parallel_tuning_jobs": 1}"#;
    world.upload(
        "breast-cancer",
        "breast-cancer.csv",
        &sample("breast-cancer"),
        slow,
    );
    let id = world.executions()[0]["id"].as_str().unwrap().to_string();

    let running = post(url(&format!("executions/{id}/retry"))).await.unwrap();
    assert_eq!(running.status().as_u16(), 409);
    let body: Value = running.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("is Executing") && message.contains("only a Failed or Stopped"),
        "{message}"
    );

    let stopped = post(url(&format!("executions/{id}/stop"))).await.unwrap();
    assert_eq!(stopped.status().as_u16(), 200);
    let ended = world.wait_executions("breast-cancer", 1, SECONDS(60));
    assert_eq!(ended[0]["status"], "Stopped");

    let retried = post(url(&format!("executions/{id}/retry"))).await.unwrap();
    assert_eq!(retried.status().as_u16(), 200);
    let row: Value = retried.json().await.unwrap();
    assert_eq!(
        (row["id"].as_str(), row["status"].as_str()),
        (Some(id.as_str()), Some("Executing"))
    );
    assert_eq!(world.executions().len(), 1, "no new execution");
    post(url(&format!("executions/{id}/stop"))).await.unwrap();

    let missing = post(url("executions/nope/retry")).await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    // The same bytes again: the API lists the rejected upload with the trigger's reason.
    let (ok, _, err) = world.upload_again("breast-cancer", "breast-cancer.csv");
    assert!(!ok && err.contains("started nothing"), "{err}");
    let deadline = std::time::Instant::now() + SECONDS(60);
    loop {
        let answer: Value = http
            .get(url("executions?dataset=breast-cancer"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(r) = answer["rejected_uploads"]
            .as_array()
            .and_then(|l| l.first())
        {
            assert_eq!(r["key"], "datasets/breast-cancer/breast-cancer.csv");
            assert!(r["reason"].as_str().unwrap().contains("identical"), "{r}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
