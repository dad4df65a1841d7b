//! `mmp`: the whole multi-model pipeline on one machine.

use anyhow::Result;
use clap::Parser;

fn main() -> Result<()> {
    mmp::cli::run(mmp::cli::Cli::parse())
}
