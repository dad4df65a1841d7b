//! The commands with `--target aws`: each loads the profile `mmp aws connect` saved, does one
//! thing through [`crate::operator`] over the AWS adapters, and prints.

use anyhow::{bail, Context, Result};
use comfy_table::Table;
use mmp_common::ports::ApprovalStatus;

use crate::args::{AwsCommand, Command, ConnectArgs, Global};
use crate::aws_target::{check_function_url, AwsTarget, Profile};
use crate::operator::IAM_ACTIONS;
use crate::system::format_ms;
use crate::target::Target;

/// How many executions `mmp executions` lists.
const EXECUTIONS_LISTED: usize = 50;

/// `mmp aws …`.
pub fn aws(g: &Global, command: &AwsCommand) -> Result<()> {
    match command {
        AwsCommand::Connect(args) => connect(g, args),
        AwsCommand::Policy => {
            println!("{}", serde_json::to_string_pretty(IAM_ACTIONS)?);
            Ok(())
        }
    }
}

fn connect(g: &Global, args: &ConnectArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.outputs)
        .with_context(|| format!("reading {}", args.outputs.display()))?;
    let mut profile = Profile::from_terraform_outputs(&text)
        .with_context(|| format!("reading {}", args.outputs.display()))?;
    if let Some(url) = &args.function_url {
        profile.function_url = url.clone();
    }
    check_function_url(&profile.function_url)?;
    let path = profile.save(&g.data_dir)?;
    println!(
        "connected to pipeline {} in {} (bucket {}); saved {}",
        profile.pipeline_name,
        profile.region,
        profile.bucket,
        path.display()
    );
    println!("`mmp --target aws models` (or MMP_TARGET=aws) now reads that deployment");
    Ok(())
}

/// Runs one of the operator's commands against the deployment the profile names.
pub fn run(g: &Global, command: &Command) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let target = AwsTarget::connect(Profile::load(&g.data_dir)?).await?;
        if let Command::Up(args) = command {
            return serve_console(g, target, args.console_port).await;
        }
        let deployment = target.deployment();
        match command {
            Command::Upload(args) => {
                let file_name = args
                    .file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .with_context(|| format!("{} has no file name", args.file.display()))?;
                let read = |path: &std::path::Path| {
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
                };
                let settings = args.settings.as_deref().map(read).transpose()?;
                let written = deployment
                    .upload(&args.dataset, file_name, read(&args.file)?, settings)
                    .await
                    .with_context(|| format!("uploading {}", args.file.display()))?;
                for uri in written {
                    println!("uploaded {uri}");
                }
                println!("the bucket's notification starts the execution: `mmp --target aws executions` lists it");
                Ok(())
            }
            Command::Executions(args) => {
                if args.rejected {
                    let rejected = deployment.rejected_uploads().await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&rejected)?);
                    } else {
                        crate::commands::print_rejected(&rejected);
                    }
                    return Ok(());
                }
                if let Some(id) = &args.execution {
                    let detail = deployment.execution(id).await?;
                    if args.json {
                        println!("{}", serde_json::to_string_pretty(&detail)?);
                        return Ok(());
                    }
                    print_execution(&detail);
                    return Ok(());
                }
                let executions = deployment.executions(EXECUTIONS_LISTED).await?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&executions)?);
                    return Ok(());
                }
                let mut table = Table::new();
                table.set_header(["execution", "name", "status", "started"]);
                for e in &executions {
                    table.add_row([
                        e.arn.rsplit('/').next().unwrap_or(&e.arn).to_string(),
                        e.display_name.clone().unwrap_or_default(),
                        e.status.as_str().to_string(),
                        e.started_at_ms.map(format_ms).unwrap_or_default(),
                    ]);
                }
                println!("{table}");
                Ok(())
            }
            Command::Models(args) => {
                let groups = deployment.models().await?;
                if args.json {
                    println!("{}", serde_json::to_string_pretty(&groups)?);
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
                for group in &groups {
                    for v in &group.versions {
                        let s = &v.summary;
                        table.add_row([
                            s.group.clone(),
                            s.version.to_string(),
                            s.status.as_str().to_string(),
                            v.metadata.get("algorithm").cloned().unwrap_or_default(),
                            s.created_at_ms.map(format_ms).unwrap_or_default(),
                            if v.deployed { "yes".into() } else { String::new() },
                        ]);
                    }
                }
                println!("{table}");
                Ok(())
            }
            Command::Approve(args) => {
                let version = args.version.map(version_number).transpose()?;
                let v = deployment
                    .set_approval(&args.name, version, ApprovalStatus::Approved)
                    .await?;
                println!(
                    "{} version {} is Approved: the deployer routes it once SageMaker's event arrives",
                    v.group, v.version
                );
                Ok(())
            }
            Command::Reject(args) => {
                let version = version_number(args.version)?;
                let v = deployment
                    .set_approval(&args.name, Some(version), ApprovalStatus::Rejected)
                    .await?;
                println!("{} version {} is Rejected", v.group, v.version);
                Ok(())
            }
            Command::Invoke(args) => {
                // The invoker resolves a dataset or a group name, as locally.
                let (status, body) = target.invoke(&args.name, &args.csv).await?;
                if !(200..300).contains(&status) {
                    bail!("the Function URL answered {status}: {body}");
                }
                println!("{body}");
                Ok(())
            }
            other => bail!(
                "`mmp {}` is not available with --target aws",
                other.name()
            ),
        }
    })
}

/// `mmp --target aws up [--console-only]`: the console on loopback over the AWS adapters,
/// until Ctrl-C. Its step graph is the pipeline definition's, the one Terraform deployed.
async fn serve_console(g: &Global, target: AwsTarget, port: u16) -> Result<()> {
    let definition = crate::runtime::local_definition(&target.profile.pipeline_name);
    let steps = mmp_executor::step_graph(&definition)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .context("binding the console")?;
    let address = listener.local_addr()?;
    let profile = target.profile.clone();
    let app = crate::console::router(std::sync::Arc::new(crate::console::ConsoleState {
        target: std::sync::Arc::new(target),
        local: None,
        steps,
    }));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let server = crate::runtime::serve(
        "the console",
        listener,
        app,
        crate::runtime::read_timeouts()?,
        stop_rx,
    );
    println!(
        "the console of pipeline {} in {} (bucket {}), from {}",
        profile.pipeline_name,
        profile.region,
        profile.bucket,
        Profile::path(&g.data_dir).display()
    );
    println!("  Console:      http://{address}/");
    println!("Ctrl-C stops.");
    crate::commands::stop_signal().await?;
    let _ = stop.send(true);
    let _ = server.await;
    Ok(())
}

/// An execution's steps, then each tuning step's trials with their objective values.
fn print_execution(detail: &crate::operator::ExecutionDetail) {
    let e = &detail.execution;
    println!(
        "{} {} (dataset {})",
        e.summary.arn,
        e.summary.status.as_str(),
        e.dataset.as_deref().unwrap_or("?")
    );
    if let Some(reason) = &e.summary.failure_reason {
        println!("failure: {reason}");
    }
    let mut table = Table::new();
    table.set_header(["step", "status", "started", "ended", "reason"]);
    for view in &detail.steps {
        let step = &view.step;
        table.add_row([
            step.name.clone(),
            step.status.as_str().to_string(),
            step.started_at_ms.map(format_ms).unwrap_or_default(),
            step.ended_at_ms.map(format_ms).unwrap_or_default(),
            step.failure_reason.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
    for view in detail.steps.iter().filter(|v| !v.jobs.is_empty()) {
        let mut trials = Table::new();
        trials.set_header(["trial", "algorithm", "status", "objective", "reason"]);
        for job in &view.jobs {
            trials.add_row([
                job.name.clone(),
                job.definition_name.clone().unwrap_or_default(),
                job.status.clone(),
                job.objective.map(|v| format!("{v:.4}")).unwrap_or_default(),
                job.failure_reason.clone().unwrap_or_default(),
            ]);
        }
        println!("trials of {}\n{trials}", view.step.name);
    }
}

fn version_number(version: i64) -> Result<u32> {
    u32::try_from(version)
        .ok()
        .filter(|v| *v > 0)
        .with_context(|| format!("version {version} is not a version number (1, 2, 3…)"))
}
