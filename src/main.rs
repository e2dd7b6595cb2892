//! The `replay360` command line. Library code reports errors with `thiserror` types; this binary
//! adds context with `anyhow` and turns them into a message and a non-zero exit.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    cli::ensure_runtime_dir();
    replay360::util::interrupt::install_handler();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
