//! The CLI's commands other than `demo`: each opens the data folder, does one thing, prints.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use comfy_table::Table;
use mmp_executor::Executor;

use crate::actions;
use crate::cli::{ExecutionsArgs, Global, InvokeArgs, UpArgs, UploadArgs};
use crate::home::Home;
use crate::runtime::{Runtime, RuntimeInfo, RuntimeOptions};
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
async fn stop_signal() -> Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

pub fn upload(g: &Global, args: &UploadArgs) -> Result<()> {
    let file_name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} has no file name", args.file.display()))?;
    let system = open_system(g)?;
    let settings = args.settings.as_deref().map(read).transpose()?;
    let body = read(&args.file)?;
    let written = actions::upload_dataset(
        &system,
        &args.dataset,
        file_name,
        &body,
        settings.as_deref(),
    )
    .with_context(|| format!("uploading {}", args.file.display()))?;
    for uri in written {
        println!("uploaded {uri}");
    }
    if running(&system.home).is_none() {
        println!("no `mmp up` is running: the execution starts when one does");
    }
    Ok(())
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
        table.set_header(["step", "type", "status", "jobs", "failure reason"]);
        for s in &steps {
            table.add_row([
                s.name.clone(),
                s.step_type.clone(),
                s.status.to_string(),
                s.jobs.len().to_string(),
                s.failure_reason.clone().unwrap_or_default(),
            ]);
        }
        println!("{table}");
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
    Ok(())
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
        let out: Vec<_> = rows
            .iter()
            .map(|(p, deployed)| serde_json::json!({"package": p, "deployed": deployed}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let mut table = Table::new();
    table.set_header([
        "group",
        "version",
        "status",
        "algorithm",
        "registered",
        "deployed",
    ]);
    for (p, deployed) in &rows {
        table.add_row([
            p.group.clone(),
            p.version.to_string(),
            p.approval_status.clone(),
            p.metadata["algorithm"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
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

pub fn set_status(g: &Global, name: &str, version: Option<i64>, status: &str) -> Result<()> {
    let system = open_system(g)?;
    let p = actions::set_approval(&system, name, version, status)?;
    println!(
        "{} version {} is now {}",
        p.group, p.version, p.approval_status
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
