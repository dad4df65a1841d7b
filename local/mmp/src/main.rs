//! `mmp`: the whole multi-model pipeline on one machine.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match mmp::cli::run(mmp::args::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain on one line (`{:#}`): the Debug form `main` would print adds a stack
            // backtrace whenever RUST_BACKTRACE is set, which is noise for a user's mistake.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
