//! `edgellm`: a private LLM appliance in one binary.
//!
//! - [`config`]: every flag, env var and default, parsed and validated in one place.
//! - [`config_file`]: the optional TOML settings file, applied beneath flags and env.
//! - [`serve`]: the daemon (`edgellm serve`): engine, certificates, HTTPS listener, shutdown.
//! - [`ca`]: `edgellm ca show`, to install the LAN CA on clients.
//! - [`key`]: `edgellm key show`, the API key generated on first start.
//! - [`generate`]: `edgellm generate`, one answer on stdout (on-device smoke test).
//! - [`pull`]: `edgellm pull`, a verified, resumable model download.
//! - [`bench`]: `edgellm bench`, speed and memory figures for this device.
//! - [`logging`]: tracing setup.
#![forbid(unsafe_code)]

mod bench;
mod ca;
mod config;
mod config_file;
mod error;
mod generate;
mod key;
mod logging;
mod pull;
mod serve;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Err(e) = config_file::apply(&argv) {
        eprintln!("edgellm: {e}");
        return ExitCode::FAILURE;
    }
    let cli = config::Cli::parse_from(argv);
    let result = match cli.command {
        // Every command: its flags resolved once (`Args::resolve`), then run.
        config::Command::Serve(args) => args.resolve().and_then(serve::run),
        config::Command::Ca(cmd) => ca::run(cmd),
        config::Command::Key(cmd) => key::run(cmd),
        config::Command::Pull(args) => args.resolve().and_then(pull::main),
        config::Command::Config(config::ConfigCommand::Check { .. }) => check_config(),
        config::Command::Config(config::ConfigCommand::Flags) => {
            print!("{}", config::reference::serve_flags_block());
            Ok(())
        }
        config::Command::Generate(args) => args.resolve().and_then(|(o, e)| generate::main(o, e)),
        config::Command::Bench(args) => args
            .resolve()
            .and_then(|(args, engine)| bench::main(args, engine)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgellm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `edgellm config check`: the file was applied in `main`; validate everything as `serve`
/// would and print the result (API keys appear only as a count).
fn check_config() -> Result<(), error::Error> {
    let cli = config::Cli::try_parse_from(["edgellm", "serve"])
        .map_err(|e| error::Error::config("config", e.to_string()))?;
    let config::Command::Serve(args) = cli.command else {
        unreachable!("parsed as serve")
    };
    let effective = args.resolve()?;
    println!("{effective:#?}");
    Ok(())
}
