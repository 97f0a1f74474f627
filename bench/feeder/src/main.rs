//! bgpod-feeder: the convergence benchmark of bgpod.
//!
//! One binary, three roles:
//! * `run` — the driver (as root): for each N (10k, 100k, 1M by default) it measures the raw
//!   kernel rate, BIRD 2 and bgpod in fresh network namespaces and prints a table;
//! * `feed` — the BGP feeder the driver starts in the feeder namespace (see `feeder.rs`);
//! * `raw` — the pipelined netlink writer it starts in the target namespace (`rawfib.rs`).
//!
//! `bench/run.sh` builds the release binaries and calls `run`; `bench/README.md` explains
//! what is measured and how.

mod driver;
mod feeder;
mod prefixes;
mod rawfib;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use driver::Target;

#[derive(Parser)]
#[command(
    name = "bgpod-feeder",
    about = "Convergence benchmark: bgpod vs BIRD 2 vs the raw kernel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole comparison (root; creates and removes its own network namespaces).
    Run {
        /// Numbers of /24s, comma-separated (`10k,100k,1M`; at most 1048576).
        #[arg(long, value_delimiter = ',', default_value = "10k,100k,1M", value_parser = parse_count)]
        sizes: Vec<u32>,
        /// What to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "raw,bird,bgpod")]
        targets: Vec<Target>,
        /// Runs per (N, target); the table shows the median.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// The bgpod binary (a release build).
        #[arg(long, default_value = "target/release/bgpod")]
        bgpod: PathBuf,
        /// The BIRD 2 binary.
        #[arg(long, default_value = "bird")]
        bird: PathBuf,
        /// Routes per netlink write of the raw writer.
        #[arg(long, default_value_t = 1024)]
        raw_batch: usize,
        /// Give a phase up when the kernel's count has not moved for this many seconds.
        #[arg(long, default_value_t = 20)]
        stall_secs: u64,
        /// Deadline of one phase in seconds (default: 60 + 100 µs per route).
        #[arg(long)]
        timeout_secs: Option<u64>,
        /// Also write the machine line and the table to this Markdown file.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Keep the log directory even when every run succeeded.
        #[arg(long)]
        keep_logs: bool,
        /// Before each run, wait until less than this percentage of the machine is busy.
        #[arg(long, default_value_t = 25)]
        quiet_busy_pct: u32,
        /// ... but no longer than this many seconds.
        #[arg(long, default_value_t = 120)]
        quiet_wait_secs: u64,
    },
    /// The BGP feeder (started by `run` in the feeder namespace; commands on stdin).
    Feed {
        /// The target's address and port.
        #[arg(long)]
        connect: SocketAddr,
        /// Number of /24s from 16.0.0.0/24 upward.
        #[arg(long, value_parser = parse_count)]
        count: u32,
        #[arg(long, default_value_t = 65100)]
        local_as: u32,
        #[arg(long, default_value_t = 64512)]
        peer_as: u32,
        #[arg(long)]
        router_id: Ipv4Addr,
        /// NEXT_HOP of the announced routes.
        #[arg(long)]
        next_hop: Ipv4Addr,
        #[arg(long, default_value_t = 240)]
        hold_time: u16,
        /// Seconds to keep retrying the connection while the target starts.
        #[arg(long, default_value_t = 30)]
        connect_timeout: u64,
    },
    /// The raw netlink writer (started by `run` in the target namespace; commands on stdin).
    Raw {
        /// Number of /24s from 16.0.0.0/24 upward.
        #[arg(long, value_parser = parse_count)]
        count: u32,
        /// Next hop of every route.
        #[arg(long)]
        gateway: Ipv4Addr,
        /// Interface towards the next hop.
        #[arg(long)]
        dev: String,
        /// Route protocol number.
        #[arg(long, default_value_t = 201)]
        protocol: u8,
        /// Routes per netlink write.
        #[arg(long, default_value_t = 1024)]
        batch: usize,
    },
}

fn parse_count(text: &str) -> Result<u32, String> {
    prefixes::parse_count(text).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let result: Result<()> = match Cli::parse().command {
        Command::Run {
            sizes,
            targets,
            repeat,
            bgpod,
            bird,
            raw_batch,
            stall_secs,
            timeout_secs,
            markdown,
            keep_logs,
            quiet_busy_pct,
            quiet_wait_secs,
        } => driver::run(driver::DriverConfig {
            sizes,
            targets,
            repeat: repeat.max(1),
            bgpod,
            bird,
            raw_batch,
            stall: Duration::from_secs(stall_secs),
            timeout: timeout_secs.map(Duration::from_secs),
            markdown,
            keep_logs,
            quiet_threshold: f64::from(quiet_busy_pct) / 100.0,
            quiet_wait: Duration::from_secs(quiet_wait_secs),
        }),
        Command::Feed {
            connect,
            count,
            local_as,
            peer_as,
            router_id,
            next_hop,
            hold_time,
            connect_timeout,
        } => feeder::run(feeder::FeedConfig {
            connect,
            local_asn: local_as,
            peer_asn: peer_as,
            router_id,
            next_hop,
            count,
            hold_time,
            connect_timeout: Duration::from_secs(connect_timeout),
        }),
        Command::Raw {
            count,
            gateway,
            dev,
            protocol,
            batch,
        } => rawfib::run(rawfib::RawConfig {
            count,
            gateway,
            dev,
            protocol,
            batch,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
