//! `urbis`: the Urbis command-line tool.
//!
//! Errors are printed as one line, `error: <code>: <detail>`, on stderr; the exit code is 2 for
//! usage errors (clap) and 1 for everything else.

mod bench;
mod blob;
mod cli;
mod commands;
mod consent;
mod dev;
mod election;
mod energy;
mod gov;
mod identity;
mod land;
mod mobility;
mod network;
mod notice;
mod output;
mod passphrase;
mod petition;
mod poll;
mod record;
mod share;
mod values;
mod waste;
mod workflow;

use std::fmt;
use std::process::ExitCode;

use clap::Parser as _;
use urbis_client::{ClientError, KeystoreError};
use urbis_core::UrbisError;

use crate::cli::{Cli, Command};

/// An error with an explicit code, for failures that are not the client's or the keystore's.
#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Failure {}

/// A [`Failure`] as an `anyhow::Error`.
pub fn fail(code: &'static str, detail: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code,
        detail: detail.into(),
    })
}

/// The `<code>: <detail>` line for any error.
fn describe(err: &anyhow::Error) -> String {
    if let Some(f) = err.downcast_ref::<Failure>() {
        return f.to_string();
    }
    if let Some(e) = err.downcast_ref::<ClientError>() {
        return e.to_string();
    }
    if let Some(e) = err.downcast_ref::<KeystoreError>() {
        return e.to_string();
    }
    if let Some(e) = err.downcast_ref::<UrbisError>() {
        return e.to_string();
    }
    format!("internal: {err:#}")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, whatever the detail contains.
            let line = describe(&err).replace(['\n', '\r'], " ");
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that run a node use the node's own async runtime: call them outside of ours.
    match cli.command {
        Command::Dev(args) => {
            network::init_logging(None);
            return dev::run(args, cli.keystore);
        }
        Command::Init(args) => {
            return network::init(args, &passphrase::Source::new(cli.passphrase_file));
        }
        Command::Genesis(args) => return network::genesis(args),
        Command::Node(args) => {
            return network::node(args, &passphrase::Source::new(cli.passphrase_file));
        }
        Command::Testnet(args) => return network::testnet(args),
        Command::Bench(args) => {
            let source = passphrase::Source::new(cli.passphrase_file);
            return bench::run(*args, cli.keystore, &source, cli.output);
        }
        _ => {}
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail("internal", format!("cannot start the async runtime: {e}")))?;
    rt.block_on(commands::run(cli))
}
