//! Command-line interface: argument parsing and dispatch to the commands.

use std::io::Write;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use mmp_pipeline::definition::{self, Placeholders};

#[derive(Debug, Parser)]
#[command(
    name = "mmp",
    version,
    about = "The SageMaker multi-model pipeline, whole on one machine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The pipeline definition.
    #[command(subcommand)]
    Pipeline(PipelineCommand),
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Print the SageMaker Pipeline definition (the template Terraform deploys, or rendered).
    Definition(DefinitionArgs),
}

#[derive(Debug, Args)]
pub struct DefinitionArgs {
    /// Fill the placeholders: all four values must be given together.
    #[arg(long, requires_all = ["role_arn", "bucket", "pipeline_name"])]
    image_uri: Option<String>,
    #[arg(long, requires = "image_uri")]
    role_arn: Option<String>,
    #[arg(long, requires = "image_uri")]
    bucket: Option<String>,
    #[arg(long, requires = "image_uri")]
    pipeline_name: Option<String>,
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Pipeline(PipelineCommand::Definition(args)) => print_definition(&args),
    }
}

fn print_definition(args: &DefinitionArgs) -> Result<()> {
    let text = match (
        &args.image_uri,
        &args.role_arn,
        &args.bucket,
        &args.pipeline_name,
    ) {
        (Some(image_uri), Some(role_arn), Some(bucket), Some(pipeline_name)) => {
            definition::render(&Placeholders {
                image_uri,
                role_arn,
                bucket,
                pipeline_name,
            })
        }
        _ => definition::template(),
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
