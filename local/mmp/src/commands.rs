//! The CLI's commands other than `demo`: each opens the data folder, does one thing, prints.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use comfy_table::Table;
use mmp_common::ports::ApprovalStatus;
use mmp_executor::{retention, ExecutionStatus, Executor};

use crate::actions::{self, TriggerOutcome, Upload};
use crate::adapters::LocalPorts;
use crate::args::{ExecutionsArgs, Global, InvokeArgs, RetryArgs, UpArgs, UploadArgs};
use crate::home::Home;
use crate::registry::ModelPackage;
use crate::runtime::{local_definition, Runtime, RuntimeInfo, RuntimeOptions};
use crate::system::{format_ms, unix_ms, System, BUCKET_NAME};

pub fn open_system(g: &Global) -> Result<System> {
    let home =
        Home::new(&g.data_dir).with_context(|| format!("creating {}", g.data_dir.display()))?;
    System::open(home, &g.pipeline_name)
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn up(g: &Global, args: &UpArgs) -> Result<()> {
    if args.console_only {
        bail!("`mmp up --console-only` serves the console of an AWS deployment: add `--target aws` (after `mmp aws connect`); locally, `mmp up` serves the console with the runtime it needs");
    }
    let system = open_system(g)?;
    let options = RuntimeOptions {
        container_bin: g.container_bin()?,
        max_parallel_jobs: args.max_parallel_jobs,
        function_url_port: args.port,
        console_port: (!args.no_console).then_some(args.console_port),
        model_memory_budget_bytes: args.model_memory_budget,
    };
    tokio_runtime()?.block_on(async move {
        let runtime = Runtime::start(system, options).await?;
        println!("mmp is up (data folder {})", g.data_dir.display());
        println!("  Function URL: {}", runtime.function_url());
        if let Some(console) = runtime.console_url() {
            println!("  Console:      {console}");
        }
        println!(
            "  bucket:       s3://{BUCKET_NAME}/ = {}",
            runtime.system.home.bucket().display()
        );
        println!("Upload with `mmp upload FILE --dataset NAME`; Ctrl-C stops.");
        stop_signal().await?;
        println!("stopping…");
        runtime.shutdown().await;
        Ok(())
    })
}

/// SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn stop_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// How long `mmp upload` and `mmp retry` wait for the running `mmp up` to act.
const ANSWER_WAIT: Duration = Duration::from_secs(60);

pub fn upload(g: &Global, args: &UploadArgs) -> Result<()> {
    let file_name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} has no file name", args.file.display()))?;
    let system = open_system(g)?;
    let settings = args.settings.as_deref().map(read).transpose()?;
    let body = read(&args.file)?;
    let upload = actions::upload_dataset(
        &system,
        &args.dataset,
        file_name,
        &body,
        settings.as_deref(),
    )
    .with_context(|| format!("uploading {}", args.file.display()))?;
    for uri in &upload.uploaded {
        println!("uploaded {uri}");
    }
    // Known before the trigger runs: its claim of these very bytes holds an execution.
    if let Some(arn) = &upload.earlier_execution {
        return already_started(g, &system, &upload, arn);
    }
    if running(&system.home).is_none() {
        println!("no `mmp up` is running: the execution starts when one does");
        return Ok(());
    }
    if args.no_wait {
        return Ok(());
    }
    // The trigger runs in `mmp up`, another process: its answer is read from what it writes
    // (its claim of the upload, or its record of a rejected one).
    let deadline = Instant::now() + ANSWER_WAIT;
    loop {
        match actions::trigger_outcome(&system, &upload)? {
            Some(TriggerOutcome::Started { execution_arn }) => {
                let id = execution_arn.rsplit('/').next().unwrap_or(&execution_arn);
                println!("execution {id} started (`mmp executions {id}` for its steps)");
                return Ok(());
            }
            Some(TriggerOutcome::AlreadyStarted { execution_arn }) => {
                return already_started(g, &system, &upload, &execution_arn);
            }
            Some(TriggerOutcome::Rejected(rejected)) if rejected.execution_arn.is_some() => {
                let arn = rejected.execution_arn.unwrap_or_default();
                return already_started(g, &system, &upload, &arn);
            }
            Some(TriggerOutcome::Rejected(rejected)) => {
                bail!(
                    "the upload started nothing: the trigger refused it: {}",
                    rejected.reason
                );
            }
            None if Instant::now() >= deadline => {
                println!(
                    "the trigger has not handled the upload after {}s: `mmp executions` lists its execution once it starts, or the reason it started none",
                    ANSWER_WAIT.as_secs()
                );
                return Ok(());
            }
            None => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// An upload of bytes identical to an earlier one: the trigger starts one execution per
/// upload version (bucket, key, ETag), so this one starts nothing; says what to do instead.
fn already_started(g: &Global, system: &System, upload: &Upload, arn: &str) -> Result<()> {
    let described = executor(g, system).and_then(|e| Ok(e.describe(arn)?));
    let (id, status) = match &described {
        Ok(e) => (e.id.clone(), e.status.to_string()),
        Err(_) => (
            arn.rsplit('/').next().unwrap_or(arn).to_string(),
            "unknown".to_string(),
        ),
    };
    let next = match described.as_ref().map(|e| e.status) {
        Ok(ExecutionStatus::Failed | ExecutionStatus::Stopped) => {
            format!("`mmp retry {id}` runs it again")
        }
        _ => "change the file to start a new one".to_string(),
    };
    bail!(
        "the upload started nothing: the same bytes were uploaded to {} before and started execution {id} ({status}); one execution is started per upload version: {next}",
        upload.key
    )
}

/// `mmp retry`: queued for the running `mmp up`, which runs the executions.
pub fn retry(g: &Global, args: &RetryArgs) -> Result<()> {
    let system = open_system(g)?;
    let executor = executor(g, &system)?;
    let execution = executor.describe(&args.execution)?;
    let request = actions::queue_retry(&system, &execution)?;
    let id = &execution.id;
    if running(&system.home).is_none() {
        println!("no `mmp up` is running: execution {id} is retried when one starts");
        return Ok(());
    }
    let deadline = Instant::now() + ANSWER_WAIT;
    loop {
        let now = executor.describe(id)?;
        if !request.is_due(&now) {
            println!(
                "execution {id} retried: it is {} again, under the same ARN; steps that succeeded are kept (`mmp executions {id}`)",
                now.status
            );
            return Ok(());
        }
        if Instant::now() >= deadline {
            println!(
                "the retry of {id} is queued; `mmp up` has not taken it after {}s",
                ANSWER_WAIT.as_secs()
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The running `mmp up` of this data folder, if any.
pub fn running(home: &Home) -> Option<RuntimeInfo> {
    let info: RuntimeInfo =
        serde_json::from_slice(&std::fs::read(home.runtime_file()).ok()?).ok()?;
    Path::new(&format!("/proc/{}", info.pid))
        .exists()
        .then_some(info)
}

fn executor(g: &Global, system: &System) -> Result<Executor> {
    system.open_executor(g.container_bin()?, 0)
}

/// This machine's ports over `executor`, for the operator's actions.
fn local_ports(system: &System, executor: Executor) -> LocalPorts {
    LocalPorts::new(system, executor, local_definition(&system.pipeline_name))
}

pub fn executions(g: &Global, args: &ExecutionsArgs) -> Result<()> {
    let system = open_system(g)?;
    let executor = executor(g, &system)?;
    if let Some(id) = &args.execution {
        let steps = executor.steps(id)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&steps)?);
            return Ok(());
        }
        let mut table = Table::new();
        table.set_header(["step", "type", "status", "jobs", "result", "failure reason"]);
        for s in &steps {
            table.add_row([
                s.name.clone(),
                s.step_type.clone(),
                s.status.to_string(),
                s.jobs.len().to_string(),
                step_result(s),
                s.failure_reason.clone().unwrap_or_default(),
            ]);
        }
        println!("{table}");
        return Ok(());
    }
    let ports = local_ports(&system, executor.clone());
    let rejected = tokio_runtime()?.block_on(actions::rejected_uploads(&ports))?;
    if args.rejected {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&rejected)?);
        } else {
            print_rejected(&rejected);
        }
        return Ok(());
    }
    let list = executor.list(Some(&g.pipeline_name))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.set_header([
        "execution",
        "dataset",
        "status",
        "started",
        "seconds",
        "failure reason",
    ]);
    for e in &list {
        let seconds = e
            .ended
            .map(|end| format!("{:.1}", (unix_ms(end) - unix_ms(e.created)) as f64 / 1000.0))
            .unwrap_or_default();
        table.add_row([
            e.id.clone(),
            e.parameters
                .get(mmp_pipeline::parameters::DATASET_NAME)
                .cloned()
                .unwrap_or_default(),
            e.status.to_string(),
            format_ms(unix_ms(e.created)),
            seconds,
            e.failure_reason.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
    if !rejected.is_empty() {
        println!();
        print_rejected(&rejected);
    }
    Ok(())
}

/// What a step found: the tuning step's best family and CV score; the evaluation's estimator
/// fitted (the family name covers a classifier and its regression counterpart) and score.
fn step_result(s: &mmp_executor::StepInfo) -> String {
    use mmp_pipeline::parameters as p;
    let best = &s.outputs["BestTrainingJob"];
    if let Some(family) = best["TrainingJobDefinitionName"].as_str() {
        return match best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"].as_f64() {
            Some(score) => format!("best: {family} (CV {score:.4})"),
            None => format!("best: {family}"),
        };
    }
    let report = &s.outputs["PropertyFiles"][p::EVALUATION_PROPERTY_FILE];
    let estimator = report["estimator"]
        .as_str()
        .or(report["algorithm"].as_str());
    match (estimator, report["register_metric"]["value"].as_f64()) {
        (Some(e), Some(score)) => format!("{e}: {score:.4}"),
        (Some(e), None) => e.to_string(),
        _ => String::new(),
    }
}

/// The uploads that started no execution, and why.
pub(crate) fn print_rejected(rejected: &[pipeline_trigger::RejectedUpload]) {
    if rejected.is_empty() {
        println!("no rejected uploads");
        return;
    }
    println!("rejected uploads (they started no execution):");
    let mut table = Table::new();
    table.set_header(["rejected", "dataset", "key", "reason"]);
    for r in rejected {
        table.add_row([
            r.rejected_at.clone(),
            r.dataset.clone(),
            r.key.clone(),
            r.reason.clone(),
        ]);
    }
    println!("{table}");
}

pub fn models(g: &Global, json: bool) -> Result<()> {
    let system = open_system(g)?;
    let routes = actions::routing_table(&system)?;
    let mut rows = Vec::new();
    for group in system.registry.groups()? {
        for p in system.registry.list(&group, None)? {
            let deployed = routes.serves(&p.group, p.version);
            rows.push((p, deployed));
        }
    }
    if json {
        let mut out = Vec::new();
        for (p, deployed) in &rows {
            let mut package = serde_json::to_value(p)?;
            // Times as RFC 3339 beside the registry's milliseconds.
            package["created"] = format_ms(p.created_ms).into();
            package["modified"] = format_ms(p.modified_ms).into();
            out.push(serde_json::json!({
                "package": package,
                "deployed": deployed,
                "estimator": estimator_of(&system, p),
            }));
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.set_header([
        "group",
        "version",
        "status",
        "algorithm",
        "estimator",
        "registered",
        "deployed",
    ]);
    for (p, deployed) in &rows {
        table.add_row([
            p.group.clone(),
            p.version.to_string(),
            p.approval_status.as_str().to_string(),
            p.metadata["algorithm"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            estimator_of(&system, p).unwrap_or_default(),
            format_ms(p.created_ms),
            if *deployed {
                "yes".into()
            } else {
                String::new()
            },
        ]);
    }
    println!("{table}");
    Ok(())
}

/// What was fitted, as the version's evaluation report (`evaluation.json`) names it: the
/// `algorithm` metadata is the family the definition tuned, which covers a classifier and its
/// regression counterpart (the LogisticRegression family fits Ridge on a numeric target).
pub fn estimator_of(system: &System, p: &ModelPackage) -> Option<String> {
    let key = system.store.key_of_uri(p.metrics_url.as_deref()?)?;
    let body = system.store.get(key).ok()?.body;
    let report: serde_json::Value = serde_json::from_slice(&body).ok()?;
    report["estimator"].as_str().map(str::to_string)
}

/// `mmp gc`: prunes every ended execution's job folders (`mmp_executor::retention`); prints
/// what was dropped and the data folder's size before and after, each file counted once however
/// many links it has (a link's removal frees its blocks only with the file's last link).
pub fn gc(g: &Global, json: bool) -> Result<()> {
    let system = open_system(g)?;
    // A retried execution reuses its job folders: only with no runtime running is every
    // ended execution sure to stay ended while its folders are pruned.
    if let Some(up) = running(&system.home) {
        bail!(
            "an `mmp up` (pid {}) is running: it prunes each execution's job folders as it ends; stop it to prune older ones",
            up.pid
        );
    }
    let executor = executor(g, &system)?;
    let root = system.home.root();
    let before =
        retention::disk_usage(root).with_context(|| format!("measuring {}", root.display()))?;
    let mut pruned = 0;
    let mut freed = 0;
    for execution in executor.list(None)? {
        if !execution.status.is_terminal() {
            continue;
        }
        let dir = system.home.jobs().join(&execution.id);
        let bytes = retention::prune_execution(&dir)
            .with_context(|| format!("pruning {}", dir.display()))?;
        if bytes > 0 {
            pruned += 1;
            freed += bytes;
        }
    }
    let after =
        retention::disk_usage(root).with_context(|| format!("measuring {}", root.display()))?;
    if json {
        let out = serde_json::json!({
            "executions_pruned": pruned,
            "bytes_freed": freed,
            "data_folder_bytes_before": before,
            "data_folder_bytes_after": after,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "pruned the job folders of {pruned} ended executions ({} dropped); data folder {}: {} → {}",
            human_bytes(freed),
            root.display(),
            human_bytes(before),
            human_bytes(after)
        );
    }
    Ok(())
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The outbox's dead letters, oldest first: events no delivery will be tried for again.
pub fn dead_letters(g: &Global, json: bool) -> Result<()> {
    let system = open_system(g)?;
    let dead = system.outbox.dead_letters()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&dead)?);
        return Ok(());
    }
    if dead.is_empty() {
        println!("no dead letters: every event was delivered or is still being tried");
        return Ok(());
    }
    let mut table = Table::new();
    table.set_header(["event", "function", "attempts", "last error"]);
    for d in dead {
        table.add_row([
            d.id.to_string(),
            d.target,
            d.attempts.to_string(),
            d.last_error.unwrap_or_default(),
        ]);
    }
    println!("{table}");
    Ok(())
}

pub fn set_status(
    g: &Global,
    name: &str,
    version: Option<i64>,
    status: ApprovalStatus,
) -> Result<()> {
    let system = open_system(g)?;
    let ports = local_ports(&system, executor(g, &system)?);
    let p = tokio_runtime()?.block_on(actions::set_approval(
        &system, &ports, name, version, status,
    ))?;
    println!(
        "{} version {} is now {}",
        p.group,
        p.version,
        p.approval_status.as_str()
    );
    if running(&system.home).is_none() {
        println!("no `mmp up` is running: the deployment happens when one does");
    }
    Ok(())
}

pub fn invoke(g: &Global, args: &InvokeArgs) -> Result<()> {
    let home = Home::new(&g.data_dir)?;
    let info = running(&home)
        .ok_or_else(|| anyhow!("no `mmp up` is running for {}", g.data_dir.display()))?;
    let body = serde_json::json!({"model": args.name, "data": args.csv.replace("\\n", "\n")});
    let answer = tokio_runtime()?.block_on(async {
        let response = reqwest::Client::new()
            .post(&info.function_url)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        anyhow::Ok((status, text))
    })?;
    println!("{}", answer.1);
    if !answer.0.is_success() {
        bail!("the Function URL answered {}", answer.0);
    }
    Ok(())
}
