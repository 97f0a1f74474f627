//! The daemon: starts the RIB task, the FIB task, one task per peer, the BGP listener and the
//! control socket, then waits for SIGTERM / SIGINT and shuts every session down with an
//! Administrative Shutdown NOTIFICATION (RFC 8203).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bgpod_bgp::rib::LocalSettings;
use bgpod_bgp::wire::iana::error::cease;
use bgpod_bgp::wire::Notification;
use bgpod_config::Config;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::control;
use crate::fib_task;
use crate::peer::{self, PeerCommand, PeerHandle, PeerSpec};
use crate::rib_task::{self, RibEvent};
use crate::socket;

/// How long peers get to send their Cease before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The RFC 8203 shutdown communication sent to every peer on SIGTERM / SIGINT.
const SHUTDOWN_MESSAGE: &str = "bgpod shutting down";

/// What the control socket needs to answer questions.
pub struct Shared {
    pub config: Config,
    pub started: Instant,
    pub peers: Vec<PeerView>,
    pub rib: mpsc::Sender<RibEvent>,
    /// The kernel FIB's counters; `None` with `[fib] enabled = false`.
    pub fib: Option<bgpod_fib::FibStatusReader>,
}

/// A peer as the control socket sees it.
pub struct PeerView {
    pub id: bgpod_bgp::rib::PeerId,
    pub status: Arc<std::sync::Mutex<peer::PeerStatus>>,
}

pub async fn run(config: Config, path: PathBuf) -> anyhow::Result<()> {
    info!(
        config = %path.display(),
        router_id = %config.router_id,
        asn = config.asn,
        peers = config.peers.len(),
        pod_cidrs = ?config.pod_cidrs,
        "bgpod {} starting",
        env!("CARGO_PKG_VERSION")
    );
    let listener = socket::listen(config.listen, config.port).with_context(|| {
        format!(
            "cannot listen for BGP on {}:{}",
            config.listen.map_or("[::]".to_string(), |a| a.to_string()),
            config.port
        )
    })?;
    let control = control::server::bind(&config.control_socket)?;

    let (rib_tx, rib_rx) = mpsc::channel(1024);
    let (fib_tx, fib_rx) = mpsc::unbounded_channel();

    let mut peers: Vec<PeerHandle> = Vec::new();
    for (i, pc) in config.peers.iter().enumerate() {
        let spec = PeerSpec {
            id: u32::try_from(i + 1).context("too many peers")?,
            config: pc.clone(),
            local_asn: config.asn,
            router_id: config.router_id,
            connect_retry: Duration::from_secs(u64::from(config.connect_retry)),
            idle_hold: Duration::from_secs(u64::from(config.idle_hold)),
            local_v6_next_hop: config.local_v6_next_hop,
        };
        peers.push(peer::spawn(spec, rib_tx.clone()));
    }
    let directory = peers.iter().map(|p| (p.id, p.tx.clone())).collect();
    let settings = LocalSettings {
        asn: config.asn,
        router_id: config.router_id,
        max_paths: config.max_paths,
    };
    let rib_task = tokio::spawn(rib_task::run(
        settings,
        config.pod_cidrs.clone(),
        directory,
        rib_rx,
        fib_tx,
    ));
    let fib_task = fib_task::start(&config, fib_rx)?;

    let by_address: HashMap<IpAddr, mpsc::UnboundedSender<PeerCommand>> =
        peers.iter().map(|p| (p.address, p.tx.clone())).collect();
    let accept_task = tokio::spawn(accept_loop(listener, by_address));

    let shared = Arc::new(Shared {
        started: Instant::now(),
        peers: peers
            .iter()
            .map(|p| PeerView {
                id: p.id,
                status: p.status.clone(),
            })
            .collect(),
        rib: rib_tx.clone(),
        fib: fib_task.status_reader(),
        config: config.clone(),
    });
    let control_task = tokio::spawn(control::server::serve(control, shared));

    wait_for_shutdown_signal().await?;
    fib_task.freeze();
    info!("shutting down: sending Cease / Administrative Shutdown to every peer");
    accept_task.abort();
    control_task.abort();
    let notification = Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some(SHUTDOWN_MESSAGE));
    for p in &peers {
        let _ = p.tx.send(PeerCommand::Shutdown(notification.clone()));
    }
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    for p in peers {
        if tokio::time::timeout_at(deadline, p.task).await.is_err() {
            warn!(peer = %p.address, "peer did not finish its shutdown in time");
        }
    }
    drop(rib_tx);
    rib_task.abort();
    fib_task.shutdown().await;
    control::server::remove(&config.control_socket);
    info!("bgpod stopped");
    Ok(())
}

async fn wait_for_shutdown_signal() -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = int.recv() => info!("SIGINT received"),
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    peers: HashMap<IpAddr, mpsc::UnboundedSender<PeerCommand>>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let ip = socket::canonical(remote.ip());
                match peers.get(&ip) {
                    Some(tx) => {
                        debug!(%remote, "incoming BGP connection");
                        let _ = tx.send(PeerCommand::Incoming(stream));
                    }
                    None => {
                        info!(%remote, "refused BGP connection from an address that is not a configured peer")
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, "accept failed; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
