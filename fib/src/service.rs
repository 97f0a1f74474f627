//! The FIB service: [`FibManager`] and the netlink sockets on a thread of their own.
//!
//! The thread runs a single-threaded tokio runtime. Each turn it takes every RIB batch that is
//! queued (so a prefix changed three times is written once), reads the listener, dumps the
//! kernel when the manager asks (start, `ENOBUFS`, link changes), runs the timers, and writes
//! up to `8 × per_write` operations; it sleeps only when there is nothing to write. Writes are
//! synchronous `sendmsg` calls from this thread: no wake-up per route anywhere.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipnetwork::IpNetwork;
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::error::Error;
use crate::manager::{FibManager, ManagerSettings, RouteState};
use crate::netlink::{Listener, NetlinkFib, WriterOptions};
use crate::types::{KernelEvent, RouteUpdate};
use crate::view::RT_TABLE_MAIN;

/// Writes per turn of the loop before inputs are read again.
const WRITES_PER_TURN: usize = 8;
/// RIB batches taken per turn (each is one UPDATE's worth).
const BATCHES_PER_TURN: usize = 256;
/// Listener events handled per turn.
const EVENTS_PER_TURN: usize = 4096;
/// How often the status is refreshed while busy.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// Everything the service needs.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub manager: ManagerSettings,
    pub writer: WriterOptions,
    /// On shutdown, leave bgpod's routes in the kernel (the next run adopts or sweeps them).
    pub retain_on_exit: bool,
    /// How long a shutdown may take to remove the routes.
    pub shutdown_timeout: Duration,
}

/// What the control socket shows about the FIB.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FibStatus {
    /// Routes of ours the kernel holds.
    pub installed: usize,
    /// Prefixes wanted (learned best routes and pod CIDR blackholes).
    pub desired: usize,
    /// Prefixes waiting for a write.
    pub pending: usize,
    /// Prefixes held back, by reason (`overlap`, `conflict`, `unresolved`).
    pub held: Vec<(String, usize)>,
    /// Some held-back prefixes with their reason.
    pub held_examples: Vec<(IpNetwork, String)>,
    /// Kernel errors since start.
    pub errors: u64,
    /// Some prefixes whose last write failed, with the error.
    pub recent_errors: Vec<(IpNetwork, String)>,
    /// Routes put back after someone else removed or changed them.
    pub repairs: u64,
    /// Kernel dumps compared since start.
    pub resyncs: u64,
    /// Route, address and link events handled since start.
    pub events: u64,
    /// How long the last burst of changes took to reach the kernel.
    pub last_sync: Option<Duration>,
}

enum Command {
    State(IpNetwork, oneshot::Sender<Option<RouteState>>),
    Freeze,
    Shutdown(oneshot::Sender<()>),
}

/// Reads the FIB's counters without going through the FIB thread.
#[derive(Debug, Clone)]
pub struct FibStatusReader(Arc<Mutex<FibStatus>>);

impl FibStatusReader {
    /// The counters as they are now.
    pub fn read(&self) -> FibStatus {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The daemon's handle on the FIB thread.
#[derive(Debug)]
pub struct FibHandle {
    status: Arc<Mutex<FibStatus>>,
    cmd: mpsc::UnboundedSender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::State(p, _) => write!(f, "State({p})"),
            Command::Freeze => write!(f, "Freeze"),
            Command::Shutdown(_) => write!(f, "Shutdown"),
        }
    }
}

impl FibHandle {
    /// The latest status (refreshed every second while busy and whenever the FIB is idle).
    pub fn status(&self) -> FibStatus {
        self.status_reader().read()
    }

    /// A cheap handle that reads the counters from anywhere (the control socket).
    pub fn status_reader(&self) -> FibStatusReader {
        FibStatusReader(self.status.clone())
    }

    /// What the FIB knows of `prefix`.
    pub async fn route_state(&self, prefix: IpNetwork) -> Option<RouteState> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Command::State(prefix, tx)).ok()?;
        rx.await.ok().flatten()
    }

    /// Whether the kernel holds the route bgpod wants for `prefix`.
    pub async fn installed(&self, prefix: IpNetwork) -> bool {
        matches!(self.route_state(prefix).await, Some(RouteState::Installed))
    }

    /// Stops taking changes from the RIB: call it when the daemon starts shutting down, before
    /// the sessions go, so that their withdrawals do not empty the kernel table first (with
    /// `retain_on_exit` the routes must stay as they were; without, [`FibHandle::shutdown`]
    /// removes them all anyway).
    pub fn freeze(&self) {
        let _ = self.cmd.send(Command::Freeze);
    }

    /// Stops the thread: removes bgpod's routes first unless `retain_on_exit`.
    pub async fn shutdown(mut self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// Opens the sockets, then starts the FIB thread. `convert` turns the RIB's change type into
/// a [`RouteUpdate`]; it runs on the FIB thread.
pub fn spawn<T: Send + 'static>(
    opts: ServiceOptions,
    rx: mpsc::UnboundedReceiver<Vec<T>>,
    convert: fn(T) -> RouteUpdate,
) -> Result<FibHandle, Error> {
    let writer = NetlinkFib::open(opts.writer.clone())?;
    let listener = Listener::open(writer.port_id(), opts.writer.rcvbuf)?;
    let status = Arc::new(Mutex::new(FibStatus::default()));
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let st = Arc::clone(&status);
    let thread = std::thread::Builder::new()
        .name("bgpod-fib".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    error!(error = %e, "cannot start the FIB thread's runtime; no kernel routes");
                    return;
                }
            };
            rt.block_on(run(opts, writer, listener, rx, cmd_rx, convert, st));
        })
        .map_err(Error::io("spawning the FIB thread"))?;
    Ok(FibHandle {
        status,
        cmd: cmd_tx,
        thread: Some(thread),
    })
}

struct Loop<T> {
    mgr: FibManager,
    writer: NetlinkFib,
    rx: mpsc::UnboundedReceiver<Vec<T>>,
    cmd: mpsc::UnboundedReceiver<Command>,
    rib_open: bool,
    /// The daemon is shutting down: RIB batches are no longer applied.
    frozen: bool,
    /// A shutdown was asked for; answered once the routes are dealt with.
    stop: Option<oneshot::Sender<()>>,
    convert: fn(T) -> RouteUpdate,
    status: Arc<Mutex<FibStatus>>,
    busy_since: Option<Instant>,
    last_sync: Option<Duration>,
    status_at: Instant,
    events: Vec<KernelEvent>,
}

async fn run<T>(
    opts: ServiceOptions,
    writer: NetlinkFib,
    listener: Listener,
    rx: mpsc::UnboundedReceiver<Vec<T>>,
    cmd: mpsc::UnboundedReceiver<Command>,
    convert: fn(T) -> RouteUpdate,
    status: Arc<Mutex<FibStatus>>,
) {
    // `AsyncFd::new` is deprecated because it cannot check that the descriptor stays open and
    // the same while registered (the condition of the `unsafe` `register`); `Listener` owns its
    // socket and is moved into the `AsyncFd`, which holds it until both are dropped together.
    #[allow(deprecated)]
    let mut listener = match AsyncFd::new(listener) {
        Ok(l) => l,
        Err(e) => {
            error!(error = %e, "cannot watch the netlink listener; no kernel routes");
            return;
        }
    };
    let now = Instant::now();
    info!(
        table = opts.writer.table,
        protocol = opts.writer.protocol,
        metric = opts.manager.metric,
        sweep_delay = ?opts.manager.sweep_delay,
        "FIB started"
    );
    let mut l = Loop {
        mgr: FibManager::new(opts.manager.clone(), now),
        writer,
        rx,
        cmd,
        rib_open: true,
        frozen: false,
        stop: None,
        convert,
        status,
        busy_since: None,
        last_sync: None,
        status_at: now,
        events: Vec::new(),
    };
    loop {
        // Commands first: a shutdown must not wait for a million writes.
        l.take_commands();
        let now = Instant::now();
        l.take_rib(now);
        if let Some(stop) = l.stop.take() {
            l.shutdown(&opts);
            let _ = stop.send(());
            return;
        }
        l.take_events(listener.get_mut(), now);
        if l.mgr.resync_due(now) {
            l.resync();
        }
        l.mgr.tick(now);
        let wrote = l.write(now);
        l.refresh_status(now, false);
        if wrote || l.mgr.pending() > 0 {
            // Let the runtime breathe (commands, timers) without sleeping.
            tokio::task::yield_now().await;
            continue;
        }
        l.refresh_status(now, true);
        let deadline = l.mgr.next_deadline();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        // Wake on whatever comes; the top of the loop takes it (commands before RIB batches).
        tokio::select! {
            biased;
            c = l.cmd.recv() => match c {
                Some(c) => l.command(c),
                // The daemon is gone without saying goodbye: leave the routes.
                None => return,
            },
            batch = l.rx.recv(), if l.rib_open && !l.frozen => match batch {
                Some(b) => {
                    // Anything sent before this batch (a Freeze) is handled before it.
                    l.take_commands();
                    if !l.frozen {
                        l.apply_batch(b, Instant::now());
                    }
                }
                None => l.rib_open = false,
            },
            ready = listener.readable_mut() => {
                if let Ok(mut guard) = ready {
                    guard.clear_ready();
                }
            }
            () = sleep => {}
        }
    }
}

impl<T> Loop<T> {
    fn command(&mut self, c: Command) {
        match c {
            Command::State(p, reply) => {
                let _ = reply.send(self.mgr.state(&p));
            }
            Command::Freeze => self.frozen = true,
            Command::Shutdown(reply) => {
                self.frozen = true;
                self.stop = Some(reply);
            }
        }
    }

    fn take_commands(&mut self) {
        while let Ok(c) = self.cmd.try_recv() {
            self.command(c);
        }
    }

    fn apply_batch(&mut self, batch: Vec<T>, now: Instant) {
        if self.busy_since.is_none() && !batch.is_empty() {
            self.busy_since = Some(now);
        }
        for c in batch {
            self.mgr.update((self.convert)(c));
        }
    }

    fn take_rib(&mut self, now: Instant) {
        if self.frozen {
            return;
        }
        for _ in 0..BATCHES_PER_TURN {
            match self.rx.try_recv() {
                Ok(b) => {
                    // Anything sent before this batch (a Freeze) is handled before it.
                    self.take_commands();
                    if self.frozen {
                        return;
                    }
                    self.apply_batch(b, now);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.rib_open = false;
                    break;
                }
            }
        }
    }

    fn take_events(&mut self, listener: &mut Listener, now: Instant) {
        self.events.clear();
        if let Err(e) = listener.drain(&mut self.events, EVENTS_PER_TURN) {
            warn!(error = %e, "netlink listener failed; resynchronising");
            self.events.push(KernelEvent::Overrun);
        }
        for ev in self.events.drain(..) {
            if ev == KernelEvent::Overrun {
                warn!("netlink listener overrun (ENOBUFS): resynchronising with a dump");
            }
            self.mgr.kernel_event(ev, now);
        }
    }

    fn resync(&mut self) {
        let table = self.writer.options().table;
        let tables: Vec<u32> = if table == RT_TABLE_MAIN {
            vec![table]
        } else {
            vec![table, RT_TABLE_MAIN]
        };
        let started = Instant::now();
        let routes = match self.writer.dump_routes(&tables) {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "route dump failed; trying again in a second");
                self.mgr
                    .request_resync(Instant::now() + Duration::from_secs(1));
                return;
            }
        };
        let addresses = match self.writer.dump_addresses() {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "address dump failed; trying again in a second");
                self.mgr
                    .request_resync(Instant::now() + Duration::from_secs(1));
                return;
            }
        };
        let n = routes.len();
        self.mgr.snapshot(routes, addresses);
        debug!(routes = n, took = ?started.elapsed(), "kernel dump compared");
    }

    /// Up to `WRITES_PER_TURN` writes. Returns whether anything was written.
    fn write(&mut self, now: Instant) -> bool {
        let max = self.writer.options().per_write.max(1) * WRITES_PER_TURN;
        let ops = self.mgr.poll_ops(max, now);
        if ops.is_empty() {
            return false;
        }
        let outcome = self.writer.write(&ops);
        let after = Instant::now();
        self.mgr.applied(&ops, &outcome.errors, after);
        if let Some(e) = outcome.lost {
            warn!(error = %e, "netlink answers lost; resynchronising with a dump");
            self.mgr.request_resync(after);
        }
        true
    }

    fn refresh_status(&mut self, now: Instant, idle: bool) {
        if idle {
            if let Some(t) = self.busy_since.take() {
                let took = now.duration_since(t);
                self.last_sync = Some(took);
                info!(installed = self.mgr.installed_count(), took = ?took, "kernel routes in sync");
            }
        } else if now.duration_since(self.status_at) < STATUS_EVERY {
            return;
        }
        self.status_at = now;
        let c = self.mgr.counters();
        let s = FibStatus {
            installed: c.installed,
            desired: c.desired,
            pending: c.pending,
            held: self
                .mgr
                .held_by_kind()
                .into_iter()
                .map(|(k, n)| (k.to_string(), n))
                .collect(),
            held_examples: self
                .mgr
                .held(20)
                .into_iter()
                .map(|(p, r)| (p, r.to_string()))
                .collect(),
            errors: c.errors,
            recent_errors: self
                .mgr
                .errors()
                .iter()
                .take(20)
                .map(|(p, e)| (*p, e.clone()))
                .collect(),
            repairs: c.repairs,
            resyncs: c.resyncs,
            events: c.events,
            last_sync: self.last_sync,
        };
        if let Ok(mut g) = self.status.lock() {
            *g = s;
        }
    }

    fn shutdown(&mut self, opts: &ServiceOptions) {
        // Take what the RIB still had to say? No: the peers are gone; remove or keep all.
        self.mgr.shutdown(opts.retain_on_exit);
        if opts.retain_on_exit {
            info!(
                routes = self.mgr.installed_count(),
                "FIB stopped; routes left in the kernel (retain_on_exit)"
            );
            return;
        }
        let deadline = Instant::now() + opts.shutdown_timeout;
        let before = self.mgr.installed_count();
        while self.mgr.pending() > 0 && Instant::now() < deadline {
            let now = Instant::now();
            let ops = self.mgr.poll_ops(
                self.writer.options().per_write.max(1) * WRITES_PER_TURN,
                now,
            );
            if ops.is_empty() {
                break;
            }
            let outcome = self.writer.write(&ops);
            self.mgr.applied(&ops, &outcome.errors, Instant::now());
        }
        let left = self.mgr.installed_count();
        if left > 0 {
            warn!(
                removed = before - left.min(before),
                left, "FIB stopped before every route of ours was removed"
            );
        } else {
            info!(removed = before, "FIB stopped; routes of ours removed");
        }
    }
}
