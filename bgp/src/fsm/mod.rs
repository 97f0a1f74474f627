//! The BGP-4 session state machine (RFC 4271 §8), sans-IO.
//!
//! A [`Session`] is one BGP session attempt over at most one TCP connection. The driver (the
//! peer task) feeds it [`Input`]s — operator start/stop, TCP events, decoded messages, timer
//! expiries — and carries out the [`Output`]s it returns, in order: send a message, open or
//! close the TCP connection, (re)arm or cancel a timer. The session owns no socket, no clock
//! and no randomness beyond a seeded xorshift used for the RFC 4271 §10 jitter, so every row
//! of the §8.2.2 transition table is a unit test (see `tests/`).
//!
//! # Events
//! | Input                      | RFC 4271 §8.1 events                                      |
//! |----------------------------|-----------------------------------------------------------|
//! | `ManualStart`              | 1 ManualStart, or 5 …_with_PassiveTcpEstablishment        |
//! | `ManualStop`               | 2 ManualStop                                              |
//! | `AutomaticStop`            | 8 AutomaticStop; 23 OpenCollisionDump (Cease 6/7)         |
//! | `TcpConnected`             | 16 Tcp_CR_Acked, 17 TcpConnectionConfirmed                |
//! | `TcpFailed`                | 18 TcpConnectionFails                                     |
//! | `Received(Open)`           | 19 BGPOpen (checked here: 22 BGPOpenMsgErr on failure)    |
//! | `Received(Notification)`   | 25 NotifMsg (24 NotifMsgVerErr is handled the same way)   |
//! | `Received(Keepalive)`      | 26 KeepAliveMsg                                           |
//! | `Received(Update)`         | 27 UpdateMsg (ROUTE-REFRESH is treated alike, RFC 2918)   |
//! | `Malformed`                | 21 BGPHeaderErr, 22 BGPOpenMsgErr, 28 UpdateMsgErr        |
//! | `TimerExpired`             | 9 ConnectRetry, 10 Hold, 11 Keepalive, 13 IdleHold        |
//! | `TimerExpired(IdleHold)`   | in Idle: 3/4 AutomaticStart (after DampPeerOscillations)  |
//!
//! # Optional session attributes (§8.1.1)
//! * AllowAutomaticStart: on — after an error the session restarts by itself once the
//!   IdleHold timer expires; ManualStop is the only way to stay down.
//! * DampPeerOscillations: on — the IdleHold delay is `idle_hold`, doubled per consecutive
//!   failure up to 120 s, reset when the session reaches Established or on ManualStart/Stop.
//! * PassiveTcpEstablishment: `SessionConfig::passive`. Deviation: §8.2.2 lets a passive
//!   session connect out after ConnectRetry expires in Active; bgpod's passive never does.
//! * AllowAutomaticStop: on (`Input::AutomaticStop`).
//! * DelayOpen, SendNOTIFICATIONwithoutOPEN, CollisionDetectEstablishedState, TrackTcpState:
//!   off. So no NOTIFICATION is ever sent from Connect or Active (no OPEN has been sent yet),
//!   and a second connection is never compared against an Established one: it is the one
//!   closed (see [`resolve_collision`] for OpenSent / OpenConfirm).
//!
//! # Choices where the RFC is loose
//! * A `TimerExpired` for a timer the session has not armed, or has cancelled, is stale and
//!   ignored: §8.1.3 defines Events 9–13 as a running timer expiring.
//! * A NOTIFICATION received in OpenSent closes the session without a NOTIFICATION back. The
//!   §8.2.2 OpenSent table lists Event 25 among the "other events" answered with an FSM Error,
//!   but the peer closes the connection right after its NOTIFICATION (§4.5), OpenConfirm and
//!   Established answer Event 25 silently, and §6.4 never answers a NOTIFICATION with one.
//! * `Malformed` is mapped to its §8.1.5 event by error code: an UPDATE or ROUTE-REFRESH
//!   error before Established and an OPEN error in Established are messages unexpected in that
//!   state and get RFC 6608 FSM Error subcodes; header errors keep their §6.1 Error Code.
//! * `TcpConnected` in Idle is answered with `CloseTcp` (§8.2.2: Idle "refuses all incoming
//!   BGP connections"); in OpenSent and later it is ignored — a second connection is a
//!   second `Session`, and the driver resolves the collision (§6.8).
//! * `Down` is emitted once for every session attempt that ends (any return to Idle from
//!   another state, and OpenSent → Active when the connection drops), so the driver can log
//!   why; routes exist only if `Established` was emitted before it.
//!
//! # Output order
//! Within one `handle` call: messages to send, then `Connect` / `CloseTcp`, then timer
//! changes, then `StateChange`, then `Established` / `Down` / `Deliver`. A NOTIFICATION is
//! therefore always queued before the connection is closed.

mod collision;
mod event;
mod open_check;
mod timers;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;

use crate::wire::iana::error::{self as err_code, fsm as fsm_err};
use crate::wire::iana::{Afi, Safi};
use crate::wire::{DecodeError, GracefulRestart, Message, Notification, Open, SessionContext};

pub use collision::{resolve_collision, resolve_collision_with_asn, Keep};
pub use event::{DownReason, Input, Negotiated, Output};

use timers::{idle_hold_backoff, Armed, Jitter, OPEN_SENT_HOLD};

/// The six session states (RFC 4271 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Idle => "Idle",
            State::Connect => "Connect",
            State::Active => "Active",
            State::OpenSent => "OpenSent",
            State::OpenConfirm => "OpenConfirm",
            State::Established => "Established",
        })
    }
}

/// The session's timers (RFC 4271 §8, §10). Each is one-shot: the driver fires
/// `Input::TimerExpired` once per `Output::ArmTimer`, unless cancelled or re-armed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Retry of an outgoing TCP connection (Connect, Active).
    ConnectRetry,
    /// Time allowed between two messages from the peer (OpenSent and later).
    Hold,
    /// Time between two KEEPALIVEs we send (OpenConfirm, Established).
    Keepalive,
    /// Back-off before an automatic restart (Idle, §8.1.1 DampPeerOscillations).
    IdleHold,
}

/// What the session needs to know about this peer and ourselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    pub local_asn: u32,
    pub local_id: Ipv4Addr,
    /// The ASN the peer must present (RFC 4271 §6.2 Bad Peer AS otherwise).
    pub peer_asn: u32,
    /// Proposed Hold Time in seconds: 0 (no keepalives) or >= 3. 1 and 2 are sent as 3.
    pub hold_time: u16,
    /// Keepalive interval in seconds; `None` (or 0) = negotiated hold time / 3. Never more.
    pub keepalive: Option<u16>,
    /// ConnectRetryTimer base (RFC 4271 §10 suggests 120 s), jittered ×[0.75, 1.0].
    pub connect_retry: Duration,
    /// Never connect out; wait in Active for the peer.
    pub passive: bool,
    /// Advertised as Multiprotocol capabilities. Empty means plain BGP-4 (IPv4 unicast).
    pub families: Vec<(Afi, Safi)>,
    pub route_refresh: bool,
    pub extended_message: bool,
    /// Advertised as-is if `Some`.
    pub graceful_restart: Option<GracefulRestart>,
    /// Capability codes the peer MUST advertise, else NOTIFICATION 2/7 (RFC 5492 §5).
    pub required_capabilities: Vec<u8>,
    /// Base delay before an automatic restart after an error; doubles per consecutive failure
    /// up to 120 s and resets on Established (RFC 4271 §8.1.1 DampPeerOscillations).
    pub idle_hold: Duration,
    /// Seed of the xorshift generator for the RFC 4271 §10 timer jitter.
    pub jitter_seed: u64,
}

impl SessionConfig {
    /// A configuration with bgpod's defaults: hold time 90 s (RFC 4271 §10), keepalive
    /// hold/3, connect retry 5 s, idle hold 1 s, active, IPv4 and IPv6 unicast, route refresh.
    pub fn new(local_asn: u32, local_id: Ipv4Addr, peer_asn: u32) -> SessionConfig {
        SessionConfig {
            local_asn,
            local_id,
            peer_asn,
            hold_time: 90,
            keepalive: None,
            connect_retry: Duration::from_secs(5),
            passive: false,
            families: vec![(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)],
            route_refresh: true,
            extended_message: false,
            graceful_restart: None,
            required_capabilities: Vec::new(),
            idle_hold: Duration::from_secs(1),
            jitter_seed: u64::from(u32::from(local_id)) ^ u64::from(peer_asn),
        }
    }
}

/// What to do once a session attempt is torn down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Idle, then an automatic restart after the IdleHold back-off (a failure).
    IdleRestart,
    /// Idle until the next ManualStart (ManualStop).
    IdleStopped,
    /// Active, waiting for the peer; retry out after ConnectRetry unless passive.
    Active,
}

/// One BGP session attempt at a time, driven by [`Session::handle`].
#[derive(Debug, Clone)]
pub struct Session {
    config: SessionConfig,
    state: State,
    armed: Armed,
    /// Consecutive failures since the last Established (RFC 4271 §8 ConnectRetryCounter).
    failures: u32,
    /// Set from the received OPEN (OpenConfirm, Established).
    negotiated: Option<Negotiated>,
    jitter: Jitter,
}

impl Session {
    /// A session in Idle; nothing happens until `ManualStart`.
    pub fn new(config: SessionConfig) -> Session {
        let jitter = Jitter::new(config.jitter_seed);
        Session {
            config,
            state: State::Idle,
            armed: Armed::default(),
            failures: 0,
            negotiated: None,
            jitter,
        }
    }

    /// Processes one event and returns what the driver must do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::ManualStart => self.on_start(&mut out, true),
            Input::ManualStop(n) => self.on_manual_stop(&mut out, n),
            Input::AutomaticStop(n) => self.on_automatic_stop(&mut out, n),
            Input::TcpConnected => self.on_tcp_connected(&mut out),
            Input::TcpFailed => self.on_tcp_failed(&mut out),
            Input::Received(msg) => self.on_message(&mut out, msg),
            Input::Malformed(e) => self.on_malformed(&mut out, e),
            Input::TimerExpired(t) => self.on_timer(&mut out, t),
            Input::UpdateSent => self.on_update_sent(&mut out),
        }
        out
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The negotiated parameters, from the moment the peer's OPEN is accepted (OpenConfirm).
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The decoder context: the default before the peer's OPEN is accepted, negotiated after.
    pub fn context(&self) -> SessionContext {
        self.negotiated.as_ref().map(|n| n.ctx).unwrap_or_default()
    }

    /// The BGP Identifier from the accepted OPEN, for collision detection (RFC 4271 §6.8).
    pub fn peer_id(&self) -> Option<Ipv4Addr> {
        self.negotiated.as_ref().map(|n| n.peer_id)
    }

    /// The OPEN this session sends.
    pub fn local_open(&self) -> Open {
        open_check::local_open(&self.config)
    }

    /// Consecutive failed attempts since the last Established (the ConnectRetryCounter).
    pub fn connect_retry_counter(&self) -> u32 {
        self.failures
    }

    /// The configuration this session was created with.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    // --- Events -------------------------------------------------------------------------

    /// Events 1/5 (manual) and the automatic start when IdleHold expires in Idle.
    fn on_start(&mut self, out: &mut Vec<Output>, manual: bool) {
        // §8.2.2: "The start events (Events 1, 3-7) are ignored" outside Idle.
        if self.state != State::Idle {
            return;
        }
        if manual {
            // §8.2.2 Idle, Event 1: "sets ConnectRetryCounter to zero".
            self.failures = 0;
        }
        self.cancel(out, Timer::IdleHold);
        if self.config.passive {
            // §8.2.2 Idle, Event 5: "listens for a connection ... changes its state to Active".
            self.set_state(out, State::Active);
        } else {
            // §8.2.2 Idle, Event 1: "starts the ConnectRetryTimer with the initial value,
            // initiates a TCP connection to the other BGP peer, ... changes its state to Connect".
            self.arm_connect_retry(out);
            out.push(Output::Connect);
            self.set_state(out, State::Connect);
        }
    }

    fn on_manual_stop(&mut self, out: &mut Vec<Output>, n: Notification) {
        match self.state {
            // §8.2.2 Idle: "The ManualStop event (Event 2) and AutomaticStop (Event 8) event are
            // ignored in the Idle state." A pending automatic restart is called off, though.
            State::Idle => self.cancel(out, Timer::IdleHold),
            // §8.2.2 Connect/Active, Event 2: drop the connection, ConnectRetryCounter to zero,
            // Idle. OpenSent and later also "sends the NOTIFICATION with a Cease".
            _ => self.teardown(out, Some(n), DownReason::Stopped, After::IdleStopped),
        }
    }

    fn on_automatic_stop(&mut self, out: &mut Vec<Output>, n: Notification) {
        match self.state {
            State::Idle => {} // §8.2.2 Idle: Event 8 is ignored.
            // §8.2.2 Connect/Active: Event 8 is among the "other events" → Idle.
            // OpenSent and later, Event 8: "sends the NOTIFICATION with a Cease, ...
            // increments the ConnectRetryCounter by 1, ... changes its state to Idle".
            _ => {
                let reason = DownReason::AutomaticStop(n.clone());
                self.teardown(out, Some(n), reason, After::IdleRestart);
            }
        }
    }

    fn on_tcp_connected(&mut self, out: &mut Vec<Output>) {
        match self.state {
            // §8.2.2 Idle: "In this state, BGP FSM refuses all incoming BGP connections for
            // this peer."
            State::Idle => out.push(Output::CloseTcp),
            // §8.2.2 Connect/Active, Events 16/17 with DelayOpen off: "stops the
            // ConnectRetryTimer ..., sends an OPEN message to its peer, sets the HoldTimer to a
            // large value, and changes its state to OpenSent."
            State::Connect | State::Active => {
                self.cancel(out, Timer::ConnectRetry);
                out.push(Output::Send(Message::Open(self.local_open())));
                self.arm(out, Timer::Hold, OPEN_SENT_HOLD);
                self.set_state(out, State::OpenSent);
            }
            // §8.2.2 OpenSent/OpenConfirm: "a second TCP connection may be in progress. This
            // second TCP connection is tracked per Call Collision processing (Section 6.8)" —
            // by the driver, with a second Session. Established: CollisionDetectEstablishedState
            // is off, the new connection is the one to close.
            State::OpenSent | State::OpenConfirm | State::Established => {
                tracing::debug!(state = %self.state, "second TCP connection ignored by this session");
            }
        }
    }

    fn on_tcp_failed(&mut self, out: &mut Vec<Output>) {
        match self.state {
            State::Idle => {}
            // §8.2.2 OpenSent, Event 18: "closes the BGP connection, restarts the
            // ConnectRetryTimer, continues to listen for a connection ..., and changes its
            // state to Active."
            State::OpenSent => self.teardown(out, None, DownReason::TcpFailed, After::Active),
            // §8.2.2 Connect (DelayOpen off), Active, OpenConfirm, Established, Event 18:
            // "drops the TCP connection, ... changes its state to Idle".
            _ => self.teardown(out, None, DownReason::TcpFailed, After::IdleRestart),
        }
    }

    fn on_message(&mut self, out: &mut Vec<Output>, msg: Message) {
        match (self.state, msg) {
            // §8.2.2 Idle: "Any other event (Events 9-12, 15-28) received in the Idle state
            // does not cause change in the state of the local system."
            (State::Idle, _) => {}

            // Every state but Idle, Event 25: close, Idle; never a NOTIFICATION back (§6.4,
            // and see the module docs for OpenSent).
            (_, Message::Notification(n)) => {
                tracing::debug!(code = n.code, subcode = n.subcode, "NOTIFICATION received");
                let reason = DownReason::NotificationReceived(n);
                self.teardown(out, None, reason, After::IdleRestart);
            }

            // §8.2.2 Connect/Active: Events 19, 26, 27 are "other events": drop the
            // connection, increment the ConnectRetryCounter, Idle (no OPEN sent yet, so no
            // NOTIFICATION with SendNOTIFICATIONwithoutOPEN off).
            (state @ (State::Connect | State::Active), msg) => {
                let reason = DownReason::UnexpectedEvent {
                    state,
                    event: msg.name(),
                };
                self.teardown(out, None, reason, After::IdleRestart);
            }

            (State::OpenSent, Message::Open(open)) => self.on_open(out, open),
            // RFC 6608 §4: "If a BGP speaker receives an unexpected message (e.g.,
            // KEEPALIVE/UPDATE/ROUTE-REFRESH message) on a session in OpenSent state, it MUST
            // send to the neighbor a NOTIFICATION message with the Error Code Finite State
            // Machine Error and the Error Subcode 'Receive Unexpected Message in OpenSent State'."
            (State::OpenSent, _) => self.fsm_error(out, fsm_err::UNEXPECTED_IN_OPENSENT),

            // §8.2.2 OpenConfirm, Event 26: "restarts the HoldTimer and changes its state to
            // Established."
            (State::OpenConfirm, Message::Keepalive) => self.on_established(out),
            // RFC 6608 §4: "If a BGP speaker receives an unexpected message (e.g., OPEN/UPDATE/
            // ROUTE-REFRESH message) on a session in OpenConfirm state, it MUST send ... Error
            // Subcode 'Receive Unexpected Message in OpenConfirm State'."
            (State::OpenConfirm, _) => self.fsm_error(out, fsm_err::UNEXPECTED_IN_OPENCONFIRM),

            // §8.2.2 Established, Event 26: "restarts its HoldTimer, if the negotiated HoldTime
            // value is non-zero".
            (State::Established, Message::Keepalive) => self.restart_hold(out),
            // §8.2.2 Established, Event 27: "processes the message, restarts its HoldTimer, if
            // the negotiated HoldTime value is non-zero".
            (State::Established, msg @ Message::Update(_)) => {
                self.restart_hold(out);
                out.push(Output::Deliver(msg));
            }
            (State::Established, Message::RouteRefresh(rr)) => {
                self.restart_hold(out);
                // RFC 2918 §4: a ROUTE-REFRESH for an <AFI, SAFI> not advertised at session
                // establishment "shall" be ignored; bgpod exports only negotiated families.
                let negotiated = self
                    .negotiated
                    .as_ref()
                    .is_some_and(|n| n.families.contains(&(rr.afi, rr.safi)));
                if negotiated {
                    out.push(Output::Deliver(Message::RouteRefresh(rr)));
                } else {
                    tracing::debug!(afi = ?rr.afi, safi = ?rr.safi, "ROUTE-REFRESH for a family not negotiated, ignored");
                }
            }
            // RFC 6608 §4: "If a BGP speaker receives an unexpected message (e.g., OPEN
            // message) on a session in Established State, it MUST send ... Error Subcode
            // 'Receive Unexpected Message in Established State'." (§8.2.2: Event 19 is handled
            // by collision detection only with CollisionDetectEstablishedState, which is off.)
            (State::Established, Message::Open(_)) => {
                self.fsm_error(out, fsm_err::UNEXPECTED_IN_ESTABLISHED)
            }
        }
    }

    /// §8.2.2 OpenSent, Event 19 BGPOpen (or Event 22 BGPOpenMsgErr if the checks fail).
    fn on_open(&mut self, out: &mut Vec<Output>, open: Open) {
        let negotiated = match open_check::check_open(&self.config, &open) {
            Ok(n) => n,
            // §8.2.2 OpenSent, Event 22: "sends a NOTIFICATION message with the appropriate
            // error code, ... increments the ConnectRetryCounter by 1, ... Idle".
            Err(n) => {
                tracing::debug!(code = n.code, subcode = n.subcode, "OPEN rejected");
                let reason = DownReason::NotificationSent(n.clone());
                self.teardown(out, Some(n), reason, After::IdleRestart);
                return;
            }
        };
        // §8.2.2 OpenSent, Event 19: "sends a KEEPALIVE message, and sets a KeepaliveTimer ...
        // If the negotiated hold time value is zero, then the HoldTimer and KeepaliveTimer are
        // not started. ... changes its state to OpenConfirm."
        out.push(Output::Send(Message::Keepalive));
        if negotiated.hold_time == 0 {
            self.cancel(out, Timer::Hold);
        } else {
            self.arm(out, Timer::Hold, secs(negotiated.hold_time));
            let keepalive = self.jitter.apply(secs(negotiated.keepalive));
            self.arm(out, Timer::Keepalive, keepalive);
        }
        self.negotiated = Some(negotiated);
        self.set_state(out, State::OpenConfirm);
    }

    /// §8.2.2 OpenConfirm, Event 26 KeepAliveMsg.
    fn on_established(&mut self, out: &mut Vec<Output>) {
        self.restart_hold(out);
        self.set_state(out, State::Established);
        // §8.1.1 DampPeerOscillations: a successful session ends the series of failures.
        self.failures = 0;
        if let Some(n) = &self.negotiated {
            out.push(Output::Established(n.clone()));
        }
    }

    fn on_malformed(&mut self, out: &mut Vec<Output>, e: DecodeError) {
        tracing::debug!(error = %e, state = %self.state, "malformed message");
        let notification = match (self.state, e.code) {
            (State::Idle, _) => return,
            // §8.2.2 Connect/Active, Events 21/22 (SendNOTIFICATIONwithoutOPEN off) and 28
            // (an "other event"): drop the connection, Idle, no NOTIFICATION.
            (state @ (State::Connect | State::Active), _) => {
                let reason = DownReason::UnexpectedEvent {
                    state,
                    event: "malformed message",
                };
                self.teardown(out, None, reason, After::IdleRestart);
                return;
            }
            // Event 28 (or a ROUTE-REFRESH) before Established is an unexpected message:
            // RFC 6608 §4 FSM Error subcodes, as for a well-formed one.
            (State::OpenSent, err_code::UPDATE_MESSAGE | err_code::ROUTE_REFRESH_MESSAGE) => {
                fsm_notification(fsm_err::UNEXPECTED_IN_OPENSENT)
            }
            (State::OpenConfirm, err_code::UPDATE_MESSAGE | err_code::ROUTE_REFRESH_MESSAGE) => {
                fsm_notification(fsm_err::UNEXPECTED_IN_OPENCONFIRM)
            }
            // §8.2.2 Established: Event 22 is among the "other events (Events 9, 12-13,
            // 20-22)" answered with "the Error Code Finite State Machine Error"; RFC 6608 §4.
            (State::Established, err_code::OPEN_MESSAGE) => {
                fsm_notification(fsm_err::UNEXPECTED_IN_ESTABLISHED)
            }
            // §8.2.2 OpenSent/OpenConfirm Events 21/22 and Established Event 28: "sends a
            // NOTIFICATION message with the appropriate error code". A header error in
            // Established keeps its code too — RFC 4271 §6.1: "All errors detected while
            // processing the Message Header MUST be indicated by sending the NOTIFICATION
            // message with the Error Code Message Header Error."
            _ => e.to_notification(),
        };
        let reason = DownReason::NotificationSent(notification.clone());
        self.teardown(out, Some(notification), reason, After::IdleRestart);
    }

    fn on_timer(&mut self, out: &mut Vec<Output>, timer: Timer) {
        if !self.armed.remove(timer) {
            tracing::trace!(?timer, state = %self.state, "stale timer expiry ignored");
            return;
        }
        match (self.state, timer) {
            // The automatic start (Events 3/4) once the §8.1.1 damping delay is over.
            (State::Idle, Timer::IdleHold) => self.on_start(out, false),
            // §8.2.2 Connect, Event 9: "drops the TCP connection, restarts the
            // ConnectRetryTimer, ... initiates a TCP connection to the other BGP peer, ...
            // stays in the Connect state."
            (State::Connect, Timer::ConnectRetry) => {
                out.push(Output::CloseTcp);
                self.arm_connect_retry(out);
                out.push(Output::Connect);
            }
            // §8.2.2 Active, Event 9: "restarts the ConnectRetryTimer (with initial value),
            // initiates a TCP connection to the other BGP peer, ... changes its state to
            // Connect." (Never armed when passive.)
            (State::Active, Timer::ConnectRetry) => {
                self.arm_connect_retry(out);
                out.push(Output::Connect);
                self.set_state(out, State::Connect);
            }
            // §8.2.2 OpenSent, OpenConfirm, Established, Event 10: "sends a NOTIFICATION
            // message with the error code Hold Timer Expired, ... changes its state to Idle."
            (State::OpenSent | State::OpenConfirm | State::Established, Timer::Hold) => {
                let n = Notification {
                    code: err_code::HOLD_TIMER_EXPIRED,
                    subcode: 0,
                    data: Bytes::new(),
                };
                self.teardown(
                    out,
                    Some(n),
                    DownReason::HoldTimerExpired,
                    After::IdleRestart,
                );
            }
            // §8.2.2 OpenConfirm/Established, Event 11: "sends a KEEPALIVE message, [and]
            // restarts the KeepaliveTimer"; RFC 4271 §10 jitter on each restart.
            (State::OpenConfirm | State::Established, Timer::Keepalive) => {
                out.push(Output::Send(Message::Keepalive));
                self.restart_keepalive(out);
            }
            // Unreachable by construction: each timer is cancelled when its states are left.
            // Should it happen, §8.2.2's "any other event" rows apply.
            (State::Idle, _) => {}
            (state @ (State::Connect | State::Active), _) => {
                let reason = DownReason::UnexpectedEvent {
                    state,
                    event: "timer expiry",
                };
                self.teardown(out, None, reason, After::IdleRestart);
            }
            (State::OpenSent, _) => self.fsm_error(out, fsm_err::UNEXPECTED_IN_OPENSENT),
            (State::OpenConfirm, _) => self.fsm_error(out, fsm_err::UNEXPECTED_IN_OPENCONFIRM),
            (State::Established, _) => self.fsm_error(out, fsm_err::UNEXPECTED_IN_ESTABLISHED),
        }
    }

    /// §8.2.2 Established: "Each time the local system sends a KEEPALIVE or UPDATE message, it
    /// restarts its KeepaliveTimer, unless the negotiated HoldTime value is zero." An UPDATE
    /// resets the peer's hold timer as well as a KEEPALIVE does (§4.4), so none is due yet.
    fn on_update_sent(&mut self, out: &mut Vec<Output>) {
        if self.state == State::Established {
            self.restart_keepalive(out);
        }
    }

    // --- Helpers ------------------------------------------------------------------------

    /// RFC 6608 §4 / §8.2.2 "any other event" in OpenSent, OpenConfirm, Established: "sends
    /// the NOTIFICATION with the Error Code Finite State Machine Error, ... Idle."
    fn fsm_error(&mut self, out: &mut Vec<Output>, subcode: u8) {
        let n = fsm_notification(subcode);
        let reason = DownReason::NotificationSent(n.clone());
        self.teardown(out, Some(n), reason, After::IdleRestart);
    }

    /// Ends the session attempt: NOTIFICATION (only if our OPEN was sent), close, cancel every
    /// timer, then Idle (with or without automatic restart) or Active.
    fn teardown(
        &mut self,
        out: &mut Vec<Output>,
        notification: Option<Notification>,
        reason: DownReason,
        after: After,
    ) {
        let connected = matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        );
        if let (true, Some(n)) = (connected, notification) {
            out.push(Output::Send(Message::Notification(n)));
        }
        // Connect has a connection attempt in flight; OpenSent and later a connection.
        if connected || self.state == State::Connect {
            out.push(Output::CloseTcp);
        }
        for timer in [
            Timer::ConnectRetry,
            Timer::Hold,
            Timer::Keepalive,
            Timer::IdleHold,
        ] {
            self.cancel(out, timer);
        }
        self.negotiated = None;
        let to = match after {
            After::IdleRestart => {
                // §8.2.2: "increments the ConnectRetryCounter by 1, (optionally) performs peer
                // oscillation damping"; the automatic restart waits out the back-off.
                self.failures = self.failures.saturating_add(1);
                let delay = idle_hold_backoff(self.config.idle_hold, self.failures);
                self.arm(out, Timer::IdleHold, delay);
                State::Idle
            }
            After::IdleStopped => {
                // §8.2.2, Event 2 in every state but Idle: "sets ConnectRetryCounter to zero".
                self.failures = 0;
                State::Idle
            }
            After::Active => {
                self.arm_connect_retry(out);
                State::Active
            }
        };
        self.set_state(out, to);
        tracing::info!(reason = %reason, "BGP session down");
        out.push(Output::Down(reason));
    }

    fn set_state(&mut self, out: &mut Vec<Output>, to: State) {
        let from = self.state;
        if from != to {
            tracing::info!(%from, %to, "BGP state change");
            self.state = to;
            out.push(Output::StateChange { from, to });
        }
    }

    fn arm(&mut self, out: &mut Vec<Output>, timer: Timer, after: Duration) {
        self.armed.insert(timer);
        out.push(Output::ArmTimer(timer, after));
    }

    /// Cancels `timer` if it is running; no output otherwise.
    fn cancel(&mut self, out: &mut Vec<Output>, timer: Timer) {
        if self.armed.remove(timer) {
            out.push(Output::CancelTimer(timer));
        }
    }

    /// Arms the jittered ConnectRetryTimer, except for a passive session (never connects).
    fn arm_connect_retry(&mut self, out: &mut Vec<Output>) {
        if !self.config.passive {
            let after = self.jitter.apply(self.config.connect_retry);
            self.arm(out, Timer::ConnectRetry, after);
        }
    }

    /// Restarts the HoldTimer with the negotiated value, unless it is zero.
    fn restart_hold(&mut self, out: &mut Vec<Output>) {
        if let Some(hold) = self
            .negotiated
            .as_ref()
            .map(|n| n.hold_time)
            .filter(|&h| h > 0)
        {
            self.arm(out, Timer::Hold, secs(hold));
        }
    }

    /// Restarts the jittered KeepaliveTimer, unless the negotiated Hold Time is zero.
    fn restart_keepalive(&mut self, out: &mut Vec<Output>) {
        if let Some(k) = self
            .negotiated
            .as_ref()
            .map(|n| n.keepalive)
            .filter(|&k| k > 0)
        {
            let after = self.jitter.apply(secs(k));
            self.arm(out, Timer::Keepalive, after);
        }
    }
}

fn secs(s: u16) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// A Finite State Machine Error NOTIFICATION (RFC 4271 §6.6) with an RFC 6608 subcode.
fn fsm_notification(subcode: u8) -> Notification {
    Notification {
        code: err_code::FSM,
        subcode,
        data: Bytes::new(),
    }
}
