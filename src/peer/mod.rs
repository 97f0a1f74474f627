//! The per-peer task: owns the TCP connection(s) of one configured neighbour, frames and
//! decodes messages, runs the timers, and drives the sans-IO [`Session`] machine.
//!
//! RFC 4271 §6.8 connection collisions: while a session is in OpenSent or OpenConfirm, an
//! incoming connection from the same peer runs in a second slot with its own `Session`. As soon
//! as the peer's BGP Identifier is known on either, the connection initiated by the speaker
//! with the higher identifier is kept and the other is closed with Cease / Connection
//! Collision Resolution. An incoming connection while Established is refused the same way
//! (CollisionDetectEstablishedState is off).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bgpod_bgp::fsm::{
    resolve_collision_with_asn, Input, Keep, Negotiated, Output, Session, SessionConfig, State,
    Timer,
};
use bgpod_bgp::rib::{Export, PeerId, PeerInfo};
use bgpod_bgp::wire::iana::error::cease;
use bgpod_bgp::wire::{self, update, Afi, Capability, Message, Notification, Safi, SessionContext};
use bgpod_config::PeerConfig;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn, Instrument};

mod conn;

use conn::{hex_trunc, next_frame, Conn, ReadEvent};

use crate::rib_task::RibEvent;
use crate::socket;

/// How long a closing connection may take to flush what was queued (a NOTIFICATION).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything a peer task needs to know, fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    pub id: PeerId,
    pub config: PeerConfig,
    pub local_asn: u32,
    pub router_id: Ipv4Addr,
    pub connect_retry: Duration,
    pub idle_hold: Duration,
    pub local_v6_next_hop: Option<Ipv6Addr>,
}

impl PeerSpec {
    fn session_config(&self, passive: bool) -> SessionConfig {
        let c = &self.config;
        SessionConfig {
            local_asn: self.local_asn,
            local_id: self.router_id,
            peer_asn: c.asn,
            hold_time: c.hold_time,
            keepalive: c.keepalive,
            connect_retry: self
                .config
                .connect_retry
                .map(|s| Duration::from_secs(u64::from(s)))
                .unwrap_or(self.connect_retry),
            passive,
            families: vec![(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)],
            route_refresh: true,
            extended_message: true,
            graceful_restart: None,
            required_capabilities: c.required_capabilities.iter().map(|r| r.code()).collect(),
            idle_hold: self.idle_hold,
            jitter_seed: u64::from(self.id) ^ u64::from(u32::from(self.router_id)) << 16,
        }
    }
}

/// Commands from the daemon and the RIB task to a peer task.
#[derive(Debug)]
pub enum PeerCommand {
    /// An accepted TCP connection from this peer's address.
    Incoming(TcpStream),
    /// Routes to advertise and withdraw, computed by the RIB for session `generation`.
    Export {
        generation: u64,
        export: Export,
        /// The initial table has been sent: follow with End-of-RIB (RFC 4724 §2).
        end_of_rib: bool,
    },
    /// Send this NOTIFICATION (Cease) and end the task.
    Shutdown(Notification),
}

/// What `bgpod status` shows of a peer.
#[derive(Debug, Clone, Serialize)]
pub struct PeerStatus {
    pub address: IpAddr,
    pub asn: u32,
    pub description: Option<String>,
    pub state: String,
    #[serde(skip)]
    pub established_at: Option<Instant>,
    pub last_error: Option<String>,
    pub established_transitions: u64,
    pub updates_received: u64,
    pub updates_sent: u64,
    pub notifications_received: u64,
    pub notifications_sent: u64,
}

/// The daemon's handle on a running peer task.
pub struct PeerHandle {
    pub id: PeerId,
    pub address: IpAddr,
    pub tx: mpsc::UnboundedSender<PeerCommand>,
    pub status: Arc<Mutex<PeerStatus>>,
    pub task: JoinHandle<()>,
}

/// Start the task for one configured peer.
pub fn spawn(spec: PeerSpec, rib: mpsc::Sender<RibEvent>) -> PeerHandle {
    let (tx, cmd_rx) = mpsc::unbounded_channel();
    let status = Arc::new(Mutex::new(PeerStatus {
        address: spec.config.address,
        asn: spec.config.asn,
        description: spec.config.description.clone(),
        state: State::Idle.to_string(),
        established_at: None,
        last_error: None,
        established_transitions: 0,
        updates_received: 0,
        updates_sent: 0,
        notifications_received: 0,
        notifications_sent: 0,
    }));
    let span = tracing::info_span!("peer", addr = %spec.config.address, asn = spec.config.asn);
    let id = spec.id;
    let address = spec.config.address;
    let task = PeerTask {
        main: Slot::new(
            Session::new(spec.session_config(spec.config.passive)),
            false,
        ),
        secondary: None,
        connecting: None,
        generation: 0,
        established: false,
        writers: Vec::new(),
        rib,
        cmd_rx,
        status: status.clone(),
        spec,
    };
    let task = tokio::spawn(task.run().instrument(span));
    PeerHandle {
        id,
        address,
        tx,
        status,
        task,
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// One TCP connection and the session running on it.
struct Slot {
    session: Session,
    conn: Option<Conn>,
    deadlines: HashMap<Timer, Instant>,
    /// The session was created for an incoming connection that won a collision.
    promoted: bool,
}

impl Slot {
    fn new(session: Session, promoted: bool) -> Slot {
        Slot {
            session,
            conn: None,
            deadlines: HashMap::new(),
            promoted,
        }
    }

    fn next_deadline(&self) -> Option<(Timer, Instant)> {
        self.deadlines
            .iter()
            .min_by_key(|(_, at)| **at)
            .map(|(t, at)| (*t, *at))
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn connecting(fut: &mut Option<ConnectFuture>) -> io::Result<TcpStream> {
    match fut {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Which {
    Main,
    Secondary,
}

struct PeerTask {
    spec: PeerSpec,
    rib: mpsc::Sender<RibEvent>,
    cmd_rx: mpsc::UnboundedReceiver<PeerCommand>,
    status: Arc<Mutex<PeerStatus>>,
    main: Slot,
    secondary: Option<Slot>,
    connecting: Option<ConnectFuture>,
    /// Bumped at every Established, so late exports for an older session are dropped.
    generation: u64,
    established: bool,
    writers: Vec<JoinHandle<()>>,
}

impl PeerTask {
    async fn run(mut self) {
        let outputs = self.main.session.handle(Input::ManualStart);
        self.apply(Which::Main, outputs).await;
        loop {
            let main_max = self.main.session.context().max_message_len();
            let sec_max = self.secondary.as_ref().map_or(wire::MAX_MESSAGE_LEN, |s| {
                s.session.context().max_message_len()
            });
            let main_deadline = self.main.next_deadline();
            let sec_deadline = self.secondary.as_ref().and_then(Slot::next_deadline);
            let deadline = [main_deadline.map(|d| d.1), sec_deadline.map(|d| d.1)]
                .into_iter()
                .flatten()
                .min();
            tokio::select! {
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(PeerCommand::Shutdown(n)) => {
                        self.shutdown(n).await;
                        return;
                    }
                    Some(cmd) => self.command(cmd).await,
                    None => {
                        self.shutdown(Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, None)).await;
                        return;
                    }
                },
                ev = next_frame(self.main.conn.as_mut(), main_max) => self.read_event(Which::Main, ev).await,
                ev = next_frame(self.secondary.as_mut().and_then(|s| s.conn.as_mut()), sec_max) => {
                    self.read_event(Which::Secondary, ev).await
                }
                res = connecting(&mut self.connecting) => {
                    self.connecting = None;
                    self.connected(res).await;
                }
                _ = sleep_until(deadline) => self.fire_timers().await,
            }
            self.writers.retain(|w| !w.is_finished());
        }
    }

    fn slot(&mut self, which: Which) -> Option<&mut Slot> {
        match which {
            Which::Main => Some(&mut self.main),
            Which::Secondary => self.secondary.as_mut(),
        }
    }

    async fn input(&mut self, which: Which, input: Input) {
        let Some(slot) = self.slot(which) else { return };
        let outputs = slot.session.handle(input);
        self.apply(which, outputs).await;
    }

    async fn fire_timers(&mut self) {
        let now = Instant::now();
        for which in [Which::Main, Which::Secondary] {
            let Some(slot) = self.slot(which) else {
                continue;
            };
            let due: Vec<Timer> = slot
                .deadlines
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(t, _)| *t)
                .collect();
            for t in due {
                if let Some(slot) = self.slot(which) {
                    slot.deadlines.remove(&t);
                }
                debug!(timer = ?t, ?which, "timer expired");
                self.input(which, Input::TimerExpired(t)).await;
            }
        }
    }

    async fn command(&mut self, cmd: PeerCommand) {
        match cmd {
            PeerCommand::Incoming(stream) => self.incoming(stream).await,
            PeerCommand::Export {
                generation,
                export,
                end_of_rib,
            } => {
                if generation == self.generation && self.established {
                    self.send_export(export, end_of_rib).await;
                } else {
                    debug!(
                        generation,
                        current = self.generation,
                        "dropping export for an old session"
                    );
                }
            }
            PeerCommand::Shutdown(_) => unreachable!("handled in run()"),
        }
    }

    /// Pack an export into UPDATEs that fit the session's maximum message size and queue them.
    async fn send_export(&mut self, export: Export, end_of_rib: bool) {
        let Some(neg) = self.main.session.negotiated() else {
            return;
        };
        let ctx = neg.ctx;
        let families = neg.families.clone();
        if self.main.conn.is_none() {
            return;
        }
        let mut updates = update::pack_withdrawals(&export.withdraw, &ctx);
        for (attrs, prefixes) in &export.announce {
            // The RIB put the IPv6 next hop for this peer in the MP_REACH_NLRI template.
            let v6_next_hops = attrs
                .mp_reach
                .as_ref()
                .map_or(&[][..], |m| &m.next_hops[..]);
            updates.extend(update::pack_announcements(
                attrs,
                prefixes,
                v6_next_hops,
                &ctx,
            ));
        }
        if end_of_rib {
            for (afi, safi) in families {
                updates.push(update::end_of_rib(afi, safi));
            }
        }
        if updates.is_empty() {
            return;
        }
        let n = updates.len() as u64;
        for u in updates {
            self.send(Which::Main, &Message::Update(u), &ctx);
        }
        if let Ok(mut s) = self.status.lock() {
            s.updates_sent += n;
        }
        self.input(Which::Main, Input::UpdateSent).await;
    }

    fn v6_next_hops(&self, local: SocketAddr) -> Vec<IpAddr> {
        match socket::canonical(local.ip()) {
            IpAddr::V6(v6) => vec![IpAddr::V6(v6)],
            IpAddr::V4(_) => self
                .spec
                .local_v6_next_hop
                .map(|v6| vec![IpAddr::V6(v6)])
                .unwrap_or_default(),
        }
    }

    fn send(&mut self, which: Which, msg: &Message, ctx: &SessionContext) {
        let Some(conn) = self.slot(which).and_then(|s| s.conn.as_ref()) else {
            debug!(?which, "no connection to send on");
            return;
        };
        let bytes = msg.to_bytes(ctx);
        if conn.tx.send(bytes).is_err() {
            debug!("connection writer is gone");
        }
    }

    async fn incoming(&mut self, stream: TcpStream) {
        let ttl = self.spec.config.ttl(self.spec.local_asn);
        if let Err(e) = socket::prepare_accepted(&stream, ttl) {
            warn!(error = %e, "cannot set socket options on an accepted connection; closing it");
            return;
        }
        let state = self.main.session.state();
        match state {
            State::Idle | State::Connect | State::Active => {
                if state == State::Idle {
                    // Accept rather than make the peer wait for its own retry timer.
                    self.main.deadlines.clear();
                    let outputs = self.main.session.handle(Input::ManualStart);
                    let outputs = outputs
                        .into_iter()
                        .filter(|o| !matches!(o, Output::Connect))
                        .collect();
                    self.apply(Which::Main, outputs).await;
                }
                if let Some(old) = self.main.conn.take() {
                    drop(old);
                }
                self.connecting = None;
                info!(remote = ?stream.peer_addr().ok(), "accepted incoming connection");
                self.attach(Which::Main, stream, false).await;
            }
            State::OpenSent | State::OpenConfirm if self.secondary.is_none() => {
                info!("incoming connection while {state}: running both until collision resolution (RFC 4271 §6.8)");
                let mut slot = Slot::new(Session::new(self.spec.session_config(true)), true);
                let outputs = slot.session.handle(Input::ManualStart);
                self.secondary = Some(slot);
                self.apply(Which::Secondary, outputs).await;
                self.attach(Which::Secondary, stream, false).await;
            }
            _ => {
                // RFC 4271 §6.8: "collision with an existing BGP connection that is in the
                // Established state causes closing of the newly created connection."
                info!("refusing incoming connection while {state} (Cease / Connection Collision Resolution)");
                self.refuse(stream);
            }
        }
    }

    fn refuse(&mut self, stream: TcpStream) {
        let Ok((conn, handle)) = Conn::new(stream, false) else {
            return;
        };
        let n = Message::Notification(Notification::cease(
            cease::CONNECTION_COLLISION_RESOLUTION,
            None,
        ));
        let _ = conn.tx.send(n.to_bytes(&SessionContext::default()));
        drop(conn);
        self.track_writer(handle);
    }

    fn track_writer(&mut self, handle: JoinHandle<()>) {
        // Bound how long a closed connection may take to flush.
        let abort = handle.abort_handle();
        tokio::spawn(async move {
            tokio::time::sleep(FLUSH_TIMEOUT).await;
            abort.abort();
        });
        self.writers.push(handle);
    }

    async fn attach(&mut self, which: Which, stream: TcpStream, outgoing: bool) {
        let (conn, handle) = match Conn::new(stream, outgoing) {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "connection lost before it could be used");
                self.input(which, Input::TcpFailed).await;
                return;
            }
        };
        debug!(local = %conn.local, remote = %conn.remote, outgoing, "TCP connection up");
        self.writers.push(handle);
        if let Some(slot) = self.slot(which) {
            slot.conn = Some(conn);
        }
        self.input(which, Input::TcpConnected).await;
    }

    async fn connected(&mut self, res: io::Result<TcpStream>) {
        match res {
            Ok(stream) => {
                if self.main.conn.is_some() || self.main.session.state() != State::Connect {
                    debug!("outgoing connection no longer wanted");
                    return;
                }
                self.attach(Which::Main, stream, true).await;
            }
            Err(e) => {
                debug!(error = %e, "connect failed");
                if self.main.session.state() == State::Connect {
                    self.input(Which::Main, Input::TcpFailed).await;
                }
            }
        }
    }

    async fn read_event(&mut self, which: Which, ev: ReadEvent) {
        match ev {
            ReadEvent::Frame(frame) => {
                let Some(slot) = self.slot(which) else { return };
                let ctx = slot.session.context();
                match Message::decode(&frame, &ctx) {
                    Ok(msg) => {
                        self.note_received(&msg);
                        self.input(which, Input::Received(msg)).await;
                    }
                    Err(e) => {
                        warn!(
                            error = %e,
                            bytes = %hex_trunc(&frame),
                            "malformed message; answering with NOTIFICATION {}/{}",
                            e.code,
                            e.subcode
                        );
                        self.input(which, Input::Malformed(e)).await;
                    }
                }
            }
            ReadEvent::Malformed(e) => {
                let head = self
                    .slot(which)
                    .and_then(|s| s.conn.as_ref())
                    .map(|c| hex_trunc(&c.buf))
                    .unwrap_or_default();
                warn!(error = %e, bytes = %head, "bad message header; answering with NOTIFICATION {}/{}", e.code, e.subcode);
                self.input(which, Input::Malformed(e)).await;
            }
            ReadEvent::Closed => {
                info!(?which, "peer closed the connection");
                self.input(which, Input::TcpFailed).await;
            }
            ReadEvent::Error(e) => {
                info!(?which, error = %e, "connection error");
                self.input(which, Input::TcpFailed).await;
            }
        }
    }

    fn note_received(&self, msg: &Message) {
        if let Message::Update(u) = msg {
            for f in &u.faults {
                warn!(
                    attr = f.type_code,
                    action = ?f.action,
                    reason = %f.reason,
                    bytes = %hex_trunc(&f.data),
                    "malformed attribute handled as RFC 7606 prescribes"
                );
            }
        }
        let Ok(mut s) = self.status.lock() else {
            return;
        };
        match msg {
            Message::Update(_) => s.updates_received += 1,
            Message::Notification(n) => {
                s.notifications_received += 1;
                s.last_error = Some(format!("received {}", n.describe()));
            }
            _ => {}
        }
    }

    /// Carry out what the session asked for. Boxed because handling some outputs feeds the
    /// session again (collision resolution).
    fn apply<'a>(
        &'a mut self,
        which: Which,
        outputs: Vec<Output>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            for out in outputs {
                self.apply_one(which, out).await;
            }
        })
    }

    async fn apply_one(&mut self, which: Which, out: Output) {
        match out {
            Output::Connect => {
                if which == Which::Main && self.main.conn.is_none() {
                    let c = &self.spec.config;
                    let remote = SocketAddr::new(c.address, c.port);
                    let fut = socket::connect(remote, c.local_address, c.ttl(self.spec.local_asn));
                    self.connecting = Some(Box::pin(fut));
                }
            }
            Output::CloseTcp => {
                if which == Which::Main {
                    self.connecting = None;
                }
                if let Some(slot) = self.slot(which) {
                    // Dropping the sender lets the writer flush what is queued, then close.
                    slot.conn = None;
                }
            }
            Output::Send(msg) => {
                let ctx = self
                    .slot(which)
                    .map(|s| s.session.context())
                    .unwrap_or_default();
                if let Message::Notification(n) = &msg {
                    warn!("sending NOTIFICATION {}", n.describe());
                    if let Ok(mut s) = self.status.lock() {
                        s.notifications_sent += 1;
                        s.last_error = Some(format!("sent {}", n.describe()));
                    }
                }
                self.send(which, &msg, &ctx);
            }
            Output::ArmTimer(t, d) => {
                if let Some(slot) = self.slot(which) {
                    slot.deadlines.insert(t, Instant::now() + d);
                }
            }
            Output::CancelTimer(t) => {
                if let Some(slot) = self.slot(which) {
                    slot.deadlines.remove(&t);
                }
            }
            Output::StateChange { from, to } => self.state_change(which, from, to).await,
            Output::Established(neg) => self.established(which, neg).await,
            Output::Down(reason) if which == Which::Secondary => {
                // The colliding connection never carried routes; the peer's session is the
                // main slot's.
                debug!(%reason, "colliding connection closed");
            }
            Output::Down(reason) => {
                info!(%reason, "session down; withdrawing the peer's routes");
                if let Ok(mut s) = self.status.lock() {
                    s.established_at = None;
                    if s.last_error.is_none() {
                        s.last_error = Some(reason.to_string());
                    }
                }
                if self.established {
                    self.established = false;
                    let _ = self
                        .rib
                        .send(RibEvent::PeerDown {
                            peer: self.spec.id,
                            generation: self.generation,
                        })
                        .await;
                }
            }
            Output::Deliver(msg) => match msg {
                Message::Update(update) => {
                    let _ = self
                        .rib
                        .send(RibEvent::Update {
                            peer: self.spec.id,
                            generation: self.generation,
                            update: Box::new(update),
                        })
                        .await;
                }
                Message::RouteRefresh(rr) => {
                    let _ = self
                        .rib
                        .send(RibEvent::RouteRefresh {
                            peer: self.spec.id,
                            generation: self.generation,
                            afi: rr.afi,
                            safi: rr.safi,
                        })
                        .await;
                }
                other => debug!(?other, "ignoring delivered message"),
            },
        }
    }

    async fn state_change(&mut self, which: Which, from: State, to: State) {
        if which == Which::Main {
            info!(%from, %to, "state change");
            if let Ok(mut s) = self.status.lock() {
                s.state = to.to_string();
            }
        } else {
            debug!(%from, %to, "state change (colliding connection)");
        }
        if to == State::OpenConfirm {
            self.resolve_collision().await;
        }
        if to == State::Idle {
            match which {
                Which::Secondary => self.secondary = None,
                Which::Main if self.main.promoted && !self.spec.config.passive => {
                    // The session that won a collision was created passive; restart with the
                    // configured (active) behaviour.
                    self.main = Slot::new(Session::new(self.spec.session_config(false)), false);
                    let outputs = self.main.session.handle(Input::ManualStart);
                    self.apply(Which::Main, outputs).await;
                }
                Which::Main => {}
            }
        }
    }

    /// RFC 4271 §6.8: once the peer's BGP Identifier is known, keep the connection opened by
    /// the speaker with the higher identifier and close the other with Cease 7.
    async fn resolve_collision(&mut self) {
        let Some(sec) = self.secondary.as_ref() else {
            return;
        };
        let remote_id = sec
            .session
            .peer_id()
            .or_else(|| self.main.session.peer_id());
        let Some(remote_id) = remote_id else { return };
        let stop = Input::AutomaticStop(Notification::cease(
            cease::CONNECTION_COLLISION_RESOLUTION,
            None,
        ));
        match self.main.session.state() {
            State::OpenSent | State::OpenConfirm => {}
            State::Established => {
                // RFC 4271 §6.8: "collision with an existing BGP connection that is in the
                // Established state causes closing of the newly created connection."
                info!("colliding connection closed: the session is already Established");
                self.input(Which::Secondary, stop).await;
                self.secondary = None;
                return;
            }
            _ => return,
        }
        // The secondary slot only ever holds an incoming connection.
        let main_outgoing = self.main.conn.as_ref().is_some_and(|c| c.outgoing);
        let keep = resolve_collision_with_asn(
            self.spec.router_id,
            self.spec.local_asn,
            remote_id,
            self.spec.config.asn,
            main_outgoing,
        );
        let drop_main = keep == Keep::New;
        info!(
            local_id = %self.spec.router_id,
            %remote_id,
            kept = if !drop_main && main_outgoing { "outgoing" } else { "incoming" },
            "connection collision resolved (RFC 4271 §6.8)"
        );
        if drop_main {
            let mut old = std::mem::replace(
                &mut self.main,
                self.secondary.take().expect("checked above"),
            );
            let outputs = old.session.handle(stop);
            // Only the sends and the close matter for the loser; it never reached Established.
            for o in outputs {
                match o {
                    Output::Send(msg) => {
                        if let Some(c) = old.conn.as_ref() {
                            let _ = c.tx.send(msg.to_bytes(&old.session.context()));
                        }
                    }
                    Output::CloseTcp => old.conn = None,
                    _ => {}
                }
            }
            if let Ok(mut s) = self.status.lock() {
                s.state = self.main.session.state().to_string();
            }
        } else {
            self.input(Which::Secondary, stop).await;
            self.secondary = None;
        }
    }

    async fn established(&mut self, which: Which, neg: Negotiated) {
        if which != Which::Main {
            warn!("colliding connection reached Established; closing it");
            return;
        }
        let Some(conn) = self.main.conn.as_ref() else {
            return;
        };
        self.generation += 1;
        self.established = true;
        let local = socket::canonical(conn.local.ip());
        let remote = socket::canonical(conn.remote.ip());
        let local_v6 = match self.v6_next_hops(conn.local).first() {
            Some(IpAddr::V6(v6)) => Some(*v6),
            _ => None,
        };
        info!(
            peer_id = %neg.peer_id,
            hold_time = neg.hold_time,
            keepalive = neg.keepalive,
            four_octet_as = neg.ctx.four_octet_as,
            families = ?neg.families,
            "session established"
        );
        if let Ok(mut s) = self.status.lock() {
            s.established_at = Some(Instant::now());
            s.established_transitions += 1;
            s.last_error = None;
        }
        let route_refresh = neg
            .peer_open
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::RouteRefresh));
        debug!(
            route_refresh,
            "peer capabilities: {:?}", neg.peer_open.capabilities
        );
        let info = PeerInfo {
            id: self.spec.id,
            address: remote,
            local_address: local,
            local_v6_next_hop: local_v6,
            asn: neg.peer_asn,
            bgp_id: neg.peer_id,
            ibgp: neg.ctx.ibgp,
            export_learned: self.spec.config.export_learned,
            families: neg.families.clone(),
            four_octet_as: neg.ctx.four_octet_as,
        };
        let _ = self
            .rib
            .send(RibEvent::PeerUp {
                info,
                generation: self.generation,
            })
            .await;
    }

    async fn shutdown(&mut self, n: Notification) {
        info!("shutting down: {}", n.describe());
        if self.secondary.is_some() {
            self.input(Which::Secondary, Input::ManualStop(n.clone()))
                .await;
            self.secondary = None;
        }
        self.input(Which::Main, Input::ManualStop(n)).await;
        self.main.conn = None;
        // Let the writers flush the NOTIFICATIONs before the process exits.
        for w in self.writers.drain(..) {
            let _ = tokio::time::timeout(FLUSH_TIMEOUT, w).await;
        }
    }
}
