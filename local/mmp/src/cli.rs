//! Command-line interface: dispatch of the parsed arguments ([`crate::args`]) to the commands.

use std::io::Write;

use anyhow::Result;
use mmp_common::ports::ApprovalStatus;
use mmp_pipeline::definition::{self, Placeholders};

use crate::args::{Cli, Command, DefinitionArgs, PipelineCommand, Target};
use crate::commands;

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> Result<()> {
    crate::telemetry::init();
    let g = cli.global;
    if g.target == Target::Aws && !matches!(cli.command, Command::Aws(_)) {
        return on_aws(&g, &cli.command);
    }
    match cli.command {
        Command::Aws(command) => aws(&g, &command),
        Command::Pipeline(PipelineCommand::Definition(args)) => {
            print_definition(&args, &g.pipeline_name)
        }
        Command::Up(args) => commands::up(&g, &args),
        Command::Upload(args) => commands::upload(&g, &args),
        Command::Executions(args) => commands::executions(&g, &args),
        Command::Retry(args) => commands::retry(&g, &args),
        Command::Models(args) => commands::models(&g, args.json),
        Command::Approve(args) => {
            commands::set_status(&g, &args.name, args.version, ApprovalStatus::Approved)
        }
        Command::Reject(args) => {
            commands::set_status(&g, &args.name, Some(args.version), ApprovalStatus::Rejected)
        }
        Command::Invoke(args) => commands::invoke(&g, &args),
        Command::DeadLetters(args) => commands::dead_letters(&g, args.json),
        Command::Gc(args) => commands::gc(&g, args.json),
        Command::Demo(args) => crate::demo::run(&g, &args),
    }
}

#[cfg(feature = "aws")]
fn aws(g: &crate::args::Global, command: &crate::args::AwsCommand) -> Result<()> {
    crate::aws_commands::aws(g, command)
}

#[cfg(feature = "aws")]
fn on_aws(g: &crate::args::Global, command: &Command) -> Result<()> {
    crate::aws_commands::run(g, command)
}

#[cfg(not(feature = "aws"))]
fn aws(_: &crate::args::Global, _: &crate::args::AwsCommand) -> Result<()> {
    Err(without_aws())
}

#[cfg(not(feature = "aws"))]
fn on_aws(_: &crate::args::Global, _: &Command) -> Result<()> {
    Err(without_aws())
}

#[cfg(not(feature = "aws"))]
fn without_aws() -> anyhow::Error {
    anyhow::anyhow!(
        "this mmp was built without AWS support: build it with `cargo build --release -p mmp --features aws`"
    )
}

fn print_definition(args: &DefinitionArgs, pipeline_name: &str) -> Result<()> {
    let text = match (&args.image_uri, &args.role_arn, &args.bucket) {
        (Some(image_uri), Some(role_arn), Some(bucket)) => definition::render(&Placeholders {
            image_uri,
            role_arn,
            bucket,
            pipeline_name,
        }),
        _ => definition::template(),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
