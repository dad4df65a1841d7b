//! `mmp demo`: the README's main job. Uploads the sample datasets into a fresh data folder,
//! runs their pipelines in parallel with progress bars, approves every registered model,
//! invokes each through the Function URL and prints a summary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use comfy_table::Table;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use mmp_common::naming;
use mmp_common::ports::ApprovalStatus;
use mmp_executor::{ExecutionInfo, ExecutionStatus};
use mmp_pipeline::parameters as p;
use serde::Serialize;
use serde_json::Value;

use crate::actions::routing_table;
use crate::args::{DemoArgs, Global};
use crate::home::Home;
use crate::runtime::{Runtime, RuntimeOptions};
use crate::samples::{Sample, SAMPLES};
use crate::system::System;
use mmp_object_store::PutCondition;

/// One dataset's line of the summary.
#[derive(Debug, Serialize)]
pub struct DatasetSummary {
    pub dataset: String,
    pub execution: String,
    pub status: String,
    pub failure_reason: Option<String>,
    pub seconds: f64,
    pub trials: usize,
    /// The family the tuning step chose (the definition's name for it).
    pub best_algorithm: Option<String>,
    /// What was fitted, as the evaluation report names it (`Ridge` for the LogisticRegression
    /// family on a regression target).
    pub best_estimator: Option<String>,
    pub cv_score: Option<f64>,
    pub registration_metric: Option<String>,
    pub registration_value: Option<f64>,
    pub model_version: Option<u32>,
    pub predictions: Option<Value>,
    pub invoke_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct DemoSummary {
    pub data_dir: String,
    pub wall_seconds: f64,
    pub datasets: Vec<DatasetSummary>,
}

pub fn run(g: &Global, args: &DemoArgs) -> Result<()> {
    // A fresh folder: the trigger starts nothing twice for the same upload, by design.
    let dir = g.data_dir.join("demo");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let home = Home::new(&dir)?;
    let system = System::open(home, &g.pipeline_name)?;
    let options = RuntimeOptions {
        container_bin: g.container_bin()?,
        max_parallel_jobs: args.max_parallel_jobs,
        function_url_port: 0,
        console_port: None,
        model_memory_budget_bytes: None,
    };
    let summary = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(demo(system, options, args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_table(&summary);
    }
    if summary.datasets.iter().any(|d| d.predictions.is_none()) {
        bail!("not every dataset ended with a served model");
    }
    Ok(())
}

fn settings_for(sample: &Sample, max_tuning_jobs: Option<u32>) -> Result<Option<Vec<u8>>> {
    let mut settings: serde_json::Map<String, Value> = match sample.settings {
        Some(text) => serde_json::from_str(text).context("sample settings")?,
        None => Default::default(),
    };
    if let Some(n) = max_tuning_jobs {
        settings.insert("max_tuning_jobs".into(), n.into());
    }
    Ok((!settings.is_empty()).then(|| Value::Object(settings).to_string().into_bytes()))
}

async fn demo(system: System, options: RuntimeOptions, args: &DemoArgs) -> Result<DemoSummary> {
    let started = Instant::now();
    let runtime = Runtime::start(system, options).await?;
    let system = runtime.system.clone();
    for sample in &SAMPLES {
        if let Some(settings) = settings_for(sample, args.max_tuning_jobs)? {
            system.store.put(
                &naming::dataset_settings_key(sample.name),
                &settings,
                PutCondition::None,
            )?;
        }
        system.store.put(
            &format!("datasets/{}/{}", sample.name, sample.file_name),
            sample.csv.as_bytes(),
            PutCondition::None,
        )?;
    }

    // Each registered version is approved as soon as its execution succeeds, so the deployer
    // routes it while the other pipelines still run.
    let (executions, approved) = watch_executions(&runtime, &system.pipeline_name).await?;
    let expected: Vec<(String, i64)> = approved.into_iter().collect();
    wait_for_routes(&system, &expected).await?;

    let mut datasets = Vec::new();
    for (dataset, execution) in &executions {
        datasets.push(summarize(&runtime, dataset, execution).await?);
    }
    runtime.shutdown().await;
    Ok(DemoSummary {
        data_dir: runtime_dir(&system),
        wall_seconds: started.elapsed().as_secs_f64(),
        datasets,
    })
}

fn runtime_dir(system: &System) -> String {
    system.home.root().display().to_string()
}

/// Approves the newest registered version of `dataset`'s model; returns it, if there is one.
fn approve_newest(system: &System, dataset: &str) -> Result<Option<i64>> {
    let group = naming::group_name(&system.pipeline_name, dataset)?;
    let Some(newest) = system.registry.list(&group, None)?.into_iter().next() else {
        return Ok(None);
    };
    if newest.approval_status != ApprovalStatus::Approved {
        system
            .registry
            .set_approval(&group, newest.version, ApprovalStatus::Approved)?;
    }
    Ok(Some(newest.version))
}

/// How often the progress is read (a few SQLite reads each time) when nothing wakes the
/// demo sooner: an execution's end, an approval or a routed model each queue or deliver an
/// event, which wakes it at once.
const WATCH_PAUSE: Duration = Duration::from_millis(100);

/// Waits for the outbox's next event or delivery, or [`WATCH_PAUSE`], whichever is first.
async fn pause(activity: &mut tokio::sync::watch::Receiver<u64>) {
    // No sender (the outbox gone) ends `changed` at once: then the pause is slept whole.
    if let Ok(Err(_)) = tokio::time::timeout(WATCH_PAUSE, activity.changed()).await {
        tokio::time::sleep(WATCH_PAUSE).await;
    }
}

/// Waits for one execution per sample to end, drawing a progress bar for each and approving
/// each succeeded execution's model as it ends; returns the executions and the approved
/// versions by dataset.
async fn watch_executions(
    runtime: &Runtime,
    pipeline: &str,
) -> Result<(BTreeMap<String, ExecutionInfo>, BTreeMap<String, i64>)> {
    let mut approved = BTreeMap::new();
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos:>3}/{len:3} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut progress: BTreeMap<String, ProgressBar> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut activity = runtime.system.outbox.activity();
    loop {
        let mut by_dataset = BTreeMap::new();
        for e in runtime.executor.list(Some(pipeline))? {
            if let Some(d) = e.parameters.get(p::DATASET_NAME) {
                by_dataset.entry(d.clone()).or_insert(e);
            }
        }
        for (dataset, e) in &by_dataset {
            let bar = progress.entry(dataset.clone()).or_insert_with(|| {
                let b = bars.add(ProgressBar::new(1));
                b.set_style(style.clone());
                b.set_prefix(dataset.clone());
                b
            });
            let steps = runtime.executor.steps(&e.id)?;
            let trials = steps
                .iter()
                .find(|s| s.step_type == "Tuning")
                .map(|s| s.jobs.len())
                .unwrap_or(0);
            let total: u64 = e
                .parameters
                .get(p::MAX_TUNING_JOBS)
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            bar.set_length(total);
            bar.set_position(trials as u64);
            let current = steps
                .last()
                .map(|s| format!("{} {}", s.name, s.status))
                .unwrap_or_default();
            if e.status == ExecutionStatus::Succeeded && !approved.contains_key(dataset) {
                if let Some(version) = approve_newest(&runtime.system, dataset)? {
                    approved.insert(dataset.clone(), version);
                }
            }
            if e.status.is_terminal() {
                bar.finish_with_message(format!(
                    "{} {}",
                    e.status,
                    e.failure_reason.clone().unwrap_or_default()
                ));
            } else {
                bar.set_message(current);
            }
        }
        let done = by_dataset.len() == SAMPLES.len()
            && by_dataset.values().all(|e| e.status.is_terminal());
        if done {
            return Ok((by_dataset, approved));
        }
        if Instant::now() > deadline {
            bail!("the executions did not finish within an hour");
        }
        pause(&mut activity).await;
    }
}

async fn wait_for_routes(system: &System, expected: &[(String, i64)]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut activity = system.outbox.activity();
    loop {
        let table = routing_table(system)?;
        let all = expected.iter().all(|(dataset, version)| {
            table
                .routes
                .get(dataset)
                .is_some_and(|r| i64::from(r.version) == *version)
        });
        if all {
            return Ok(());
        }
        if Instant::now() > deadline {
            let (pending, dead) = system.outbox.backlog()?;
            bail!("the deployer did not route every approved model within 2 minutes ({pending} events pending, {dead} dead-lettered)");
        }
        pause(&mut activity).await;
    }
}

async fn summarize(runtime: &Runtime, dataset: &str, e: &ExecutionInfo) -> Result<DatasetSummary> {
    let system = &runtime.system;
    let steps = runtime.executor.steps(&e.id)?;
    let tuning = steps.iter().find(|s| s.step_type == "Tuning");
    let best = tuning.map(|s| &s.outputs["BestTrainingJob"]);
    let seconds = e
        .ended
        .and_then(|end| end.duration_since(e.created).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let mut summary = DatasetSummary {
        dataset: dataset.to_string(),
        execution: e.id.clone(),
        status: e.status.to_string(),
        failure_reason: e.failure_reason.clone(),
        seconds,
        trials: tuning.map(|s| s.jobs.len()).unwrap_or(0),
        best_algorithm: best
            .and_then(|b| b["TrainingJobDefinitionName"].as_str())
            .map(str::to_string),
        cv_score: best
            .and_then(|b| b["FinalHyperParameterTuningJobObjectiveMetric"]["Value"].as_f64()),
        registration_metric: e
            .parameters
            .get(p::METRIC_FOR_REGISTRATION_THRESHOLD)
            .cloned(),
        registration_value: None,
        best_estimator: None,
        model_version: None,
        predictions: None,
        invoke_ms: None,
    };
    let evaluate = steps.iter().find(|s| s.name == p::STEP_EVALUATE);
    let report = evaluate.map(|s| &s.outputs["PropertyFiles"][p::EVALUATION_PROPERTY_FILE]);
    summary.registration_value = report.and_then(|r| r["register_metric"]["value"].as_f64());
    summary.best_estimator = report
        .and_then(|r| r["estimator"].as_str())
        .map(str::to_string);
    let table = routing_table(system)?;
    let Some(route) = table.routes.get(dataset) else {
        return Ok(summary);
    };
    summary.model_version = Some(route.version);
    let sample = SAMPLES.iter().find(|s| s.name == dataset);
    let target = e
        .parameters
        .get(p::TARGET_COLUMN)
        .cloned()
        .unwrap_or_default();
    let rows = sample
        .map(|s| s.feature_rows(&target, 3))
        .unwrap_or_default()
        .join("\n");
    let body = serde_json::json!({"model": dataset, "data": rows});
    let client = reqwest::Client::new();
    let started = Instant::now();
    let response = client
        .post(runtime.function_url())
        .json(&body)
        .send()
        .await?;
    summary.invoke_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        summary.predictions = Some(answer);
    } else {
        summary.failure_reason = Some(format!("invoke answered {status}: {answer}"));
    }
    Ok(summary)
}

fn print_table(s: &DemoSummary) {
    let mut table = Table::new();
    table.set_header([
        "dataset",
        "status",
        "seconds",
        "trials",
        "best algorithm",
        "CV score",
        "metric",
        "version",
        "invoke ms",
        "predictions (first 3 rows)",
    ]);
    for d in &s.datasets {
        let opt =
            |v: Option<f64>, digits: usize| v.map(|x| format!("{x:.digits$}")).unwrap_or_default();
        let metric = match (&d.registration_metric, d.registration_value) {
            (Some(m), Some(v)) => format!("{m} {v:.4}"),
            _ => String::new(),
        };
        table.add_row([
            d.dataset.clone(),
            match &d.failure_reason {
                Some(r) => format!("{}: {r}", d.status),
                None => d.status.clone(),
            },
            format!("{:.1}", d.seconds),
            d.trials.to_string(),
            match (&d.best_algorithm, &d.best_estimator) {
                (Some(a), Some(e)) if a != e => format!("{a} ({e})"),
                (a, _) => a.clone().unwrap_or_default(),
            },
            opt(d.cv_score, 4),
            metric,
            d.model_version.map(|v| v.to_string()).unwrap_or_default(),
            opt(d.invoke_ms, 1),
            d.predictions
                .as_ref()
                .map(short_predictions)
                .unwrap_or_default(),
        ]);
    }
    println!("{table}");
    println!(
        "data folder {}; wall time {:.1} s",
        s.data_dir, s.wall_seconds
    );
}

/// Labels or values only, for the table.
fn short_predictions(v: &Value) -> String {
    let items = v["predictions"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|p| match (p.get("label"), p.as_f64(), p.get("value")) {
            (Some(l), _, _) => l
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| l.to_string()),
            (_, Some(x), _) => format!("{x:.1}"),
            (_, _, Some(x)) => x.as_f64().map(|x| format!("{x:.1}")).unwrap_or_default(),
            _ => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
