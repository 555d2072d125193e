//! `edgellm`: a private LLM appliance in one binary.
//!
//! - [`config`]: every flag, env var and default, parsed and validated in one place.
//! - [`serve`]: the daemon (`edgellm serve`): engine, certificates, HTTPS listener, shutdown.
//! - [`ca`]: `edgellm ca show`, to install the LAN CA on clients.
//! - [`generate`]: `edgellm generate`, one answer on stdout (on-device smoke test).
//! - [`bench`]: `edgellm bench`, speed and memory figures for this device.
//! - [`logging`]: tracing setup.
#![forbid(unsafe_code)]

mod bench;
mod ca;
mod config;
mod error;
mod generate;
mod logging;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = config::Cli::parse();
    let result = match cli.command {
        config::Command::Serve(args) => config::ServeConfig::from_args(*args).and_then(serve::run),
        config::Command::Ca(cmd) => ca::run(cmd),
        config::Command::Generate(args) => {
            config::generate_config(*args).and_then(|(o, e)| generate::main(o, e))
        }
        config::Command::Bench(args) => {
            config::bench_config(*args).and_then(|(args, engine)| bench::main(args, engine))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgellm: {e:#}");
            ExitCode::FAILURE
        }
    }
}
