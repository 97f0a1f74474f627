//! bgpod: a BGP daemon for container networking.
//!
//! This file is the command line: it parses arguments, sets up logging and hands over to the
//! daemon, the control-socket client or the namespace lab.

mod control;
mod daemon;
mod fib_task;
mod lab;
mod peer;
mod rib_task;
mod socket;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// The control socket used when neither `--socket` nor the config names one.
const DEFAULT_CONTROL_SOCKET: &str = "/run/bgpod/bgpod.sock";

#[derive(Parser)]
#[command(
    name = "bgpod",
    version,
    about = "A BGP-4 daemon for container networking"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground.
    Run {
        /// The TOML configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Log line format.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Validate a configuration file: exit 0 if it is good, 1 with every error otherwise.
    CheckConfig {
        /// The TOML configuration file.
        file: PathBuf,
    },
    /// Show the router and its peers (from a running daemon).
    Status {
        /// The daemon's control socket.
        #[arg(long, default_value = DEFAULT_CONTROL_SOCKET)]
        socket: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show the Loc-RIB: every prefix with its paths, best first (from a running daemon).
    Routes {
        /// The daemon's control socket.
        #[arg(long, default_value = DEFAULT_CONTROL_SOCKET)]
        socket: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Build a cluster of bgpod nodes in network namespaces, check that every pod reaches
    /// every other pod, and remove it again (needs root).
    Lab {
        #[command(subcommand)]
        command: Option<LabCommand>,
        /// Number of nodes (2–50).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(2..=50))]
        nodes: u16,
        /// iBGP full mesh among the nodes, each also eBGP to a bgpod ToR (the default).
        #[arg(long, conflicts_with = "tor")]
        mesh: bool,
        /// Every node in its own AS, eBGP to the ToR only; the ToR runs bgpod, or BIRD 2 with
        /// `--tor bird`.
        #[arg(long, value_name = "ROUTER", num_args = 0..=1, default_missing_value = "bgpod")]
        tor: Option<lab::TorRouter>,
        /// Leave the lab up; `bgpod lab down` removes it.
        #[arg(long)]
        keep: bool,
        /// Print every router's sessions, Loc-RIB and kernel routes, and the full ping matrix,
        /// however many nodes.
        #[arg(long, short)]
        verbose: bool,
        /// Give up if the lab has not converged after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum LabCommand {
    /// Remove a lab left up with `--keep`.
    Down,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config, log_format } => {
            init_tracing(log_format);
            run_daemon(config)
        }
        Command::CheckConfig { file } => check_config(&file),
        Command::Status { socket, json } => control::client::status(&socket, json),
        Command::Routes { socket, json } => control::client::routes(&socket, json),
        Command::Lab {
            command: Some(LabCommand::Down),
            ..
        } => lab::down(),
        Command::Lab {
            command: None,
            nodes,
            mesh: _,
            tor,
            keep,
            verbose,
            timeout,
        } => lab::run(lab::LabArgs {
            nodes: usize::from(nodes),
            mode: if tor.is_some() {
                lab::Mode::Tor
            } else {
                lab::Mode::Mesh
            },
            tor: tor.unwrap_or(lab::TorRouter::Bgpod),
            keep,
            verbose,
            timeout: std::time::Duration::from_secs(timeout),
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bgpod: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_daemon(path: PathBuf) -> anyhow::Result<ExitCode> {
    let config = match bgpod_config::Config::load(&path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(daemon::run(config, path))?;
    Ok(ExitCode::SUCCESS)
}

fn check_config(path: &std::path::Path) -> anyhow::Result<ExitCode> {
    match bgpod_config::Config::load(path) {
        Ok(c) => {
            println!(
                "{}: ok (router {} AS {}, {} peer(s), {} pod CIDR(s))",
                path.display(),
                c.router_id,
                c.asn,
                c.peers.len(),
                c.pod_cidrs.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(ExitCode::FAILURE)
        }
    }
}
