//! The daemon's FIB task: hands the RIB's best-route changes to the kernel.
//!
//! With `[fib] enabled = true` the changes go to `bgpod_fib`'s service, which runs on a thread
//! of its own (rtnetlink, batched and pipelined; see the crate's documentation); the RIB's
//! channel is read there directly, so a million routes never wake this runtime. With
//! `enabled = false` the changes are kept in memory and logged only.

use std::time::Duration;

use anyhow::Context;
use bgpod_bgp::rib::FibChange;
use bgpod_config::Config;
use bgpod_fib::{
    Fib, FibHandle, FibOp, FibStatusReader, ManagerSettings, MemoryFib, Route, RouteTarget,
    RouteUpdate, ServiceOptions, WriterOptions,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// How long a clean shutdown may spend removing bgpod's routes (a million take ~5 s here).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The running FIB task.
pub enum FibTask {
    Kernel(FibHandle),
    Memory(JoinHandle<()>),
}

fn convert(c: FibChange) -> RouteUpdate {
    match c {
        FibChange::Install { prefix, next_hops } => RouteUpdate::Install { prefix, next_hops },
        FibChange::Remove { prefix } => RouteUpdate::Remove { prefix },
    }
}

/// Starts the FIB task for `config`, reading best-route changes from `rx`.
pub fn start(
    config: &Config,
    rx: mpsc::UnboundedReceiver<Vec<FibChange>>,
) -> anyhow::Result<FibTask> {
    let fib = &config.fib;
    if !fib.enabled {
        info!("[fib] enabled = false: learned routes are not installed in the kernel");
        return Ok(FibTask::Memory(tokio::spawn(memory_loop(rx))));
    }
    let opts = ServiceOptions {
        manager: ManagerSettings {
            table: fib.table,
            protocol: fib.protocol,
            metric: fib.metric,
            pod_cidrs: config.pod_cidrs.clone(),
            blackhole_pod_cidrs: fib.blackhole_pod_cidrs,
            sweep_delay: Duration::from_secs(u64::from(fib.sweep_delay)),
        },
        writer: WriterOptions::new(fib.table, fib.protocol),
        retain_on_exit: fib.retain_on_exit,
        shutdown_timeout: SHUTDOWN_TIMEOUT,
    };
    let handle = bgpod_fib::spawn(opts, rx, convert)
        .context("cannot open rtnetlink to install routes (bgpod needs CAP_NET_ADMIN; or set [fib] enabled = false)")?;
    Ok(FibTask::Kernel(handle))
}

impl FibTask {
    /// Reads the FIB's counters (`None` when routes are kept in memory only).
    pub fn status_reader(&self) -> Option<FibStatusReader> {
        match self {
            FibTask::Kernel(h) => Some(h.status_reader()),
            FibTask::Memory(_) => None,
        }
    }

    /// The daemon is shutting down: stop taking the RIB's changes, so that the sessions'
    /// withdrawals do not touch the kernel (see [`FibHandle::freeze`]).
    pub fn freeze(&self) {
        if let FibTask::Kernel(h) = self {
            h.freeze();
        }
    }

    /// Stops the task; with `retain_on_exit = false` bgpod's routes are removed first.
    pub async fn shutdown(self) {
        match self {
            FibTask::Kernel(h) => h.shutdown().await,
            FibTask::Memory(t) => t.abort(),
        }
    }
}

/// `[fib] enabled = false`: the best routes are held in memory and logged.
async fn memory_loop(mut rx: mpsc::UnboundedReceiver<Vec<FibChange>>) {
    let mut fib = MemoryFib::new();
    while let Some(changes) = rx.recv().await {
        let ops: Vec<FibOp> = changes
            .into_iter()
            .map(|c| match convert(c) {
                RouteUpdate::Install { prefix, next_hops } => FibOp::Replace(Route {
                    prefix,
                    metric: 0,
                    target: RouteTarget::Unicast(
                        next_hops
                            .into_iter()
                            .map(|gateway| bgpod_fib::NextHop {
                                gateway,
                                ifindex: 0,
                            })
                            .collect(),
                    ),
                }),
                RouteUpdate::Remove { prefix } => FibOp::Delete { prefix, metric: 0 },
            })
            .collect();
        for op in &ops {
            debug!(?op, "best route change");
        }
        for e in fib.apply(&ops) {
            warn!(error = %e, "FIB change not applied");
        }
    }
}
