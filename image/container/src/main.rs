//! `mmp-container`: the one binary every job of the pipeline runs.
//!
//! Metric lines go to stdout (the tuner reads them from the job's log); logs go to stderr.
//! A failing job writes its reason to `output/failure` under the ML root (processing jobs
//! also to `output/message`) and exits with 1.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mmp_container::jobs::{evaluate, preprocess, train};
use mmp_container::paths::MlRoot;
use mmp_ml::target::Task;
use mmp_pipeline::contract::{FAILURE_FILE, PROCESSING_MESSAGE_FILE};

#[derive(Parser)]
#[command(
    name = "mmp-container",
    version,
    about = "Runs one SageMaker job of the mmp pipeline. Paths are under MMP_ML_ROOT (default /opt/ml)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Processing job: split the uploaded CSV into train/ and test/.
    Preprocess {
        #[arg(long)]
        target: String,
        #[arg(long, default_value = "0.2")]
        test_size: f64,
        #[arg(long, default_value = "True")]
        stratify: String,
        #[arg(long, default_value = "42")]
        random_state: u64,
        #[arg(long, default_value = "dataset.csv")]
        file_name: String,
        /// binary, multiclass or regression; detected from the target when absent.
        #[arg(long)]
        task: Option<String>,
    },
    /// Training job (tuning trial or refit), configured by input/config/hyperparameters.json.
    Train,
    /// Processing job: score the model on the test split into evaluation/evaluation.json.
    Evaluate {
        #[arg(long)]
        target: Option<String>,
        #[arg(long, default_value = "dataset.csv")]
        file_name: String,
        #[arg(long, default_value = "auc")]
        register_metric: String,
    },
    /// Endpoint: SageMaker's single- and multi-model serving contract (port from SAGEMAKER_BIND_TO_PORT).
    Serve,
}

fn main() -> ExitCode {
    // Colour only on a terminal: a job's stderr is what SageMaker sends to CloudWatch (and
    // what `mmp` keeps under `jobs/`), where escapes are noise.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let root = MlRoot::from_env();
    // Training jobs report failure through output/failure (FailureReason); processing jobs
    // through output/message (ExitMessage). Every job writes the first; processing jobs both.
    let processing = matches!(
        cli.command,
        Command::Preprocess { .. } | Command::Evaluate { .. }
    );
    let is_job = !matches!(cli.command, Command::Serve);
    let result = run(&root, cli.command);
    if is_job {
        report_cpu_time();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let reason = format!("{e:#}");
            tracing::error!("{reason}");
            write_reason(&root, FAILURE_FILE, &reason);
            if processing {
                write_reason(&root, PROCESSING_MESSAGE_FILE, &reason);
            }
            eprintln!("{reason}");
            ExitCode::FAILURE
        }
    }
}

/// The job's CPU time (user + system, every thread) as one line of its log:
/// `mmp-cpu-seconds: <s>` (`scripts/bench/executor_share.py` sums them). From /proc/self/stat,
/// whose times are in USER_HZ (100 per second on Linux); nothing where there is no /proc.
fn report_cpu_time() {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces, inside parentheses).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
        eprintln!("mmp-cpu-seconds: {:.2}", (user + system) as f64 / 100.0);
    }
    report_peak_memory();
}

/// The job's peak resident memory as one line of its log, `mmp-peak-memory-mib: <MiB>`
/// (`scripts/bench/job_resources.py` reads it per step): `VmHWM` of /proc/self/status.
fn report_peak_memory() {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(kib) = kib {
        eprintln!("mmp-peak-memory-mib: {:.1}", kib as f64 / 1024.0);
    }
}

fn write_reason(root: &MlRoot, relative: &str, reason: &str) {
    let path = root.path(relative);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(e) = std::fs::write(&path, reason) {
        tracing::error!("could not write {}: {e}", path.display());
    }
}

fn run(root: &MlRoot, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Preprocess {
            target,
            test_size,
            stratify,
            random_state,
            file_name,
            task,
        } => {
            let args = preprocess::PreprocessArgs {
                target,
                test_size,
                stratify: mmp_container::jobs::parse_bool(&stratify)
                    .map_err(|e| e.context("--stratify"))?,
                random_state,
                file_name,
                task: task.as_deref().map(Task::parse).transpose()?,
            };
            let s = preprocess::run(root, &args)?;
            tracing::info!(
                task = s.task.name(),
                train = s.train_rows,
                test = s.test_rows,
                stratified = s.stratified,
                "split written"
            );
        }
        Command::Train => match train::run(root)? {
            train::TrainOutcome::Trial { algorithm, score } => {
                tracing::info!(%algorithm, score, "trial scored")
            }
            train::TrainOutcome::Refit { algorithm, task } => {
                tracing::info!(%algorithm, task = task.name(), "model written")
            }
        },
        Command::Evaluate {
            target,
            file_name,
            register_metric,
        } => {
            let report = evaluate::run(
                root,
                &evaluate::EvaluateArgs {
                    target,
                    file_name,
                    register_metric,
                },
            )?;
            tracing::info!(register_metric = %report["register_metric"], "evaluation written");
        }
        Command::Serve => {
            mmp_serve::run_from_env(std::sync::Arc::new(mmp_container::MmpModelLoader))?
        }
    }
    Ok(())
}
