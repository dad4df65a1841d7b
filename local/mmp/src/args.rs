//! The command line's arguments, as clap parses them: what each command is given. The
//! commands read these; the `cli` module dispatches them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The whole command line: the options every command takes, and the command.
#[derive(Debug, Parser)]
#[command(
    name = "mmp",
    version,
    about = "The SageMaker multi-model pipeline, whole on one machine"
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the state is and which pipeline it belongs to.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// The data folder holding all local state.
    #[arg(long, global = true, env = "MMP_HOME", default_value = ".mmp")]
    pub data_dir: PathBuf,
    /// The pipeline's name (model package groups are `<pipeline>-<dataset>`).
    #[arg(long, global = true, env = "MMP_PIPELINE_NAME", default_value = crate::system::DEFAULT_PIPELINE_NAME)]
    pub pipeline_name: String,
    /// The mmp-container binary (default: beside this binary, else on PATH).
    #[arg(long, global = true, env = "MMP_CONTAINER_BIN")]
    pub container_bin: Option<PathBuf>,
    /// Which system the commands act on: this machine's, or the AWS deployment `mmp aws
    /// connect` saved (upload, executions, models, approve, reject and invoke).
    #[arg(long, global = true, env = "MMP_TARGET", value_enum, default_value_t = Target::Local)]
    pub target: Target,
}

/// The system a command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The one-machine runtime in the data folder.
    Local,
    /// The deployment named by `<data folder>/aws-target.json` (`mmp aws connect`).
    Aws,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the system: executor, event bus, endpoint and Function URL, until Ctrl-C.
    Up(UpArgs),
    /// Upload a dataset CSV (as to S3): its execution starts on the running system.
    Upload(UploadArgs),
    /// List pipeline executions and the uploads that started none, or the steps of one.
    Executions(ExecutionsArgs),
    /// Retry a Failed or Stopped execution (RetryPipelineExecution): it resumes under the same
    /// ARN, keeping the steps that succeeded and running the failed or stopped ones again.
    Retry(RetryArgs),
    /// List registered model versions and what is deployed.
    Models(JsonArg),
    /// Approve a model version (default: the newest), which deploys it.
    Approve(ApproveArgs),
    /// Reject a model version; the newest still-approved version is served instead.
    Reject(RejectArgs),
    /// Send rows to a dataset's model through the Function URL.
    Invoke(InvokeArgs),
    /// List the events the bus gave up on (dead letters): the function, the attempts and the
    /// last error.
    DeadLetters(JsonArg),
    /// Drop from ended executions' job folders what the bucket holds already (inputs, models,
    /// processing outputs; `mmp up` does this as each ends), and print the data folder's size.
    Gc(JsonArg),
    /// The pipeline definition.
    #[command(subcommand)]
    Pipeline(PipelineCommand),
    /// The AWS deployment: connect to it (then `--target aws`), or print the operator's policy.
    #[command(subcommand)]
    Aws(AwsCommand),
    /// Upload the sample datasets, run their pipelines in parallel, approve, invoke every
    /// model and print a summary.
    Demo(DemoArgs),
}

/// `mmp up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Function URL port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Registry console port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub console_port: u16,
    /// Do not serve the registry console.
    #[arg(long, conflicts_with = "console_port")]
    pub no_console: bool,
    /// Serve only the registry console, over the deployment `--target aws` names (the AWS
    /// target's only mode; the local console needs the runtime `mmp up` starts).
    #[arg(long, conflicts_with = "no_console")]
    pub console_only: bool,
    /// Container processes at once (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub max_parallel_jobs: usize,
    /// Memory budget of the endpoint's loaded models, in bytes.
    #[arg(long)]
    pub model_memory_budget: Option<u64>,
}

/// `mmp upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The CSV file.
    pub file: PathBuf,
    /// Dataset name: lowercase letters, digits and dashes.
    #[arg(long)]
    pub dataset: String,
    /// Per-dataset settings (pipeline.json) to upload first; checked as the trigger checks
    /// them before anything is written.
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Do not wait for the running `mmp up` to say whether the upload started an execution.
    #[arg(long)]
    pub no_wait: bool,
}

/// `mmp retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The execution's id or ARN.
    pub execution: String,
}

/// A command whose only option is `--json`.
#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mmp executions`.
#[derive(Debug, Args)]
pub struct ExecutionsArgs {
    /// An execution id or ARN: list its steps.
    pub execution: Option<String>,
    /// Only the uploads the trigger refused (they started no execution), with the reason.
    #[arg(long, conflicts_with = "execution")]
    pub rejected: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mmp approve`.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Dataset or model package group name.
    pub name: String,
    /// The version to approve (default: the newest).
    #[arg(long)]
    pub version: Option<i64>,
}

/// `mmp reject`.
#[derive(Debug, Args)]
pub struct RejectArgs {
    /// Dataset or model package group name.
    pub name: String,
    /// The version to reject.
    #[arg(long)]
    pub version: i64,
}

/// `mmp invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Dataset or model package group name.
    pub name: String,
    /// CSV rows without a header, in the model's feature order ("\n" separates rows).
    #[arg(long)]
    pub csv: String,
}

/// `mmp demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Tuning trials per dataset (default: the pipeline's, 10 per algorithm).
    #[arg(long)]
    pub max_tuning_jobs: Option<u32>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Container processes at once (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub max_parallel_jobs: usize,
}

/// `mmp aws`'s commands.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Save the deployment's names from `terraform -chdir=infra output -json > OUTPUTS.json`,
    /// for `--target aws`.
    Connect(ConnectArgs),
    /// Print the IAM actions the `--target aws` commands call (what infra/'s operator policy
    /// grants).
    Policy,
}

/// `mmp aws connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The JSON of `terraform output -json` of infra/.
    pub outputs: PathBuf,
    /// Another URL for the prediction function (a proxy in front of the Function URL).
    #[arg(long)]
    pub function_url: Option<String>,
}

impl Command {
    /// The command's name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Up(_) => "up",
            Command::Upload(_) => "upload",
            Command::Executions(_) => "executions",
            Command::Retry(_) => "retry",
            Command::Models(_) => "models",
            Command::Approve(_) => "approve",
            Command::Reject(_) => "reject",
            Command::Invoke(_) => "invoke",
            Command::DeadLetters(_) => "dead-letters",
            Command::Gc(_) => "gc",
            Command::Pipeline(_) => "pipeline",
            Command::Aws(_) => "aws",
            Command::Demo(_) => "demo",
        }
    }
}

/// `mmp pipeline`'s commands.
#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Print the SageMaker Pipeline definition (the template Terraform deploys, or rendered).
    Definition(DefinitionArgs),
}

/// `mmp pipeline definition`.
#[derive(Debug, Args)]
pub struct DefinitionArgs {
    /// Fill the placeholders (with --pipeline-name): the three values go together.
    #[arg(long, requires_all = ["role_arn", "bucket"])]
    pub image_uri: Option<String>,
    /// The SageMaker execution role the steps run as.
    #[arg(long, requires = "image_uri")]
    pub role_arn: Option<String>,
    /// The bucket the pipeline reads and writes.
    #[arg(long, requires = "image_uri")]
    pub bucket: Option<String>,
}

impl Global {
    /// The container binary: the flag, else beside this binary, else `mmp-container` on PATH.
    pub fn container_bin(&self) -> Result<PathBuf> {
        if let Some(bin) = &self.container_bin {
            if !bin.is_file() {
                bail!("--container-bin {} is not a file", bin.display());
            }
            return Ok(bin.clone());
        }
        let exe = std::env::current_exe().context("locating this binary")?;
        let sibling = exe.with_file_name(mmp_pipeline::contract::CONTAINER_BINARY);
        if sibling.is_file() {
            return Ok(sibling);
        }
        Ok(PathBuf::from(mmp_pipeline::contract::CONTAINER_BINARY))
    }
}
