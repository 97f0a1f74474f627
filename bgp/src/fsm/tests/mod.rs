//! Conformance tests for the session state machine: one test per RFC 4271 §8.2.2 row, run as
//! scripts of inputs with no socket and no clock.
//!
//! Outputs are rendered as short lines (`"send NOTIFICATION 5/1"`, `"arm Hold 90s"`,
//! `"OpenSent -> Idle"`) so that a test reads like the RFC row it checks. Jittered timers
//! (ConnectRetry, Keepalive) render as `"arm Keepalive ~30s"` after the harness has checked
//! that the duration lies in [0.75, 1.0] × the base (RFC 4271 §10).

mod connect_active;
mod established;
mod idle;
mod open_check;
mod openconfirm;
mod opensent;
mod scenarios;

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;

use super::{DownReason, Input, Output, Session, SessionConfig, State, Timer};
use crate::wire::iana::{Afi, Safi};
use crate::wire::{Capability, DecodeError, Message, Notification, Open, RouteRefresh, Update};

pub(super) const LOCAL_ASN: u32 = 65001;
pub(super) const PEER_ASN: u32 = 65002;
pub(super) const LOCAL_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(super) const PEER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// eBGP 65001 → 65002, hold 90, connect retry 5 s, idle hold 1 s, IPv4+IPv6 unicast.
pub(super) fn cfg() -> SessionConfig {
    let mut c = SessionConfig::new(LOCAL_ASN, LOCAL_ID, PEER_ASN);
    c.jitter_seed = 0x5eed;
    c
}

pub(super) fn passive_cfg() -> SessionConfig {
    SessionConfig {
        passive: true,
        ..cfg()
    }
}

/// The OPEN a well-behaved 65002 sends: 4-octet AS, IPv4+IPv6 unicast, route refresh.
pub(super) fn peer_open() -> Open {
    Open {
        version: 4,
        my_as: 65002,
        hold_time: 90,
        bgp_id: PEER_ID,
        capabilities: vec![
            Capability::Multiprotocol {
                afi: Afi::Ipv4,
                safi: Safi::Unicast,
            },
            Capability::Multiprotocol {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs(PEER_ASN),
        ],
    }
}

pub(super) fn recv_open(open: Open) -> Input {
    Input::Received(Message::Open(open))
}

pub(super) fn keepalive() -> Input {
    Input::Received(Message::Keepalive)
}

pub(super) fn update() -> Input {
    Input::Received(Message::Update(Update::default()))
}

pub(super) fn route_refresh(afi: Afi, safi: Safi) -> Input {
    Input::Received(Message::RouteRefresh(RouteRefresh {
        afi,
        subtype: 0,
        safi,
    }))
}

pub(super) fn notification(code: u8, subcode: u8) -> Notification {
    Notification {
        code,
        subcode,
        data: Bytes::new(),
    }
}

pub(super) fn recv_notification(code: u8, subcode: u8) -> Input {
    Input::Received(Message::Notification(notification(code, subcode)))
}

/// Cease / Administrative Shutdown (RFC 4486), what the daemon sends on ManualStop.
pub(super) fn admin_shutdown() -> Input {
    Input::ManualStop(notification(6, 2))
}

pub(super) fn malformed(code: u8, subcode: u8) -> Input {
    Input::Malformed(DecodeError {
        code,
        subcode,
        data: vec![0xAB],
        reason: "test".into(),
    })
}

pub(super) fn expire(t: Timer) -> Input {
    Input::TimerExpired(t)
}

/// Feeds every input in order and collects all outputs: the replay helper.
pub(super) fn replay(
    session: &mut Session,
    inputs: impl IntoIterator<Item = Input>,
) -> Vec<Output> {
    inputs.into_iter().flat_map(|i| session.handle(i)).collect()
}

/// A session under test that renders its outputs as lines.
pub(super) struct Peer {
    pub s: Session,
}

impl Peer {
    pub fn new(config: SessionConfig) -> Peer {
        Peer {
            s: Session::new(config),
        }
    }

    /// A session driven from Idle into `state` along the usual path.
    pub fn in_state(config: SessionConfig, state: State) -> Peer {
        let mut p = Peer::new(config);
        let path: Vec<Input> = match state {
            State::Idle => vec![],
            State::Connect => vec![Input::ManualStart],
            // Passive sessions wait in Active; active ones get there when OpenSent loses TCP.
            State::Active if p.s.config().passive => vec![Input::ManualStart],
            State::Active => vec![Input::ManualStart, Input::TcpConnected, Input::TcpFailed],
            State::OpenSent => vec![Input::ManualStart, Input::TcpConnected],
            State::OpenConfirm => {
                vec![
                    Input::ManualStart,
                    Input::TcpConnected,
                    recv_open(peer_open()),
                ]
            }
            State::Established => vec![
                Input::ManualStart,
                Input::TcpConnected,
                recv_open(peer_open()),
                keepalive(),
            ],
        };
        p.run(path);
        assert_eq!(p.s.state(), state, "could not reach {state}");
        p
    }

    pub fn step(&mut self, input: Input) -> Vec<String> {
        let out = self.s.handle(input);
        self.render(&out)
    }

    pub fn run(&mut self, inputs: impl IntoIterator<Item = Input>) -> Vec<String> {
        inputs.into_iter().flat_map(|i| self.step(i)).collect()
    }

    fn render(&self, out: &[Output]) -> Vec<String> {
        out.iter().map(|o| self.line(o)).collect()
    }

    fn line(&self, o: &Output) -> String {
        match o {
            Output::Connect => "connect".into(),
            Output::CloseTcp => "close".into(),
            Output::Send(m) => format!("send {}", msg(m)),
            Output::ArmTimer(t @ (Timer::ConnectRetry | Timer::Keepalive), d) => {
                let base = match t {
                    Timer::ConnectRetry => self.s.config().connect_retry,
                    _ => {
                        let n = self
                            .s
                            .negotiated()
                            .expect("keepalive armed without negotiation");
                        Duration::from_secs(u64::from(n.keepalive))
                    }
                };
                assert_jittered(*d, base);
                format!("arm {t:?} ~{}", secs(base))
            }
            Output::ArmTimer(t, d) => format!("arm {t:?} {}", secs(*d)),
            Output::CancelTimer(t) => format!("cancel {t:?}"),
            Output::StateChange { from, to } => format!("{from} -> {to}"),
            Output::Established(_) => "established".into(),
            Output::Down(r) => format!("down: {}", reason(r)),
            Output::Deliver(m) => format!("deliver {}", msg(m)),
        }
    }
}

/// RFC 4271 §10: jitter is "a random factor, which is uniformly distributed in the range from
/// 0.75 to 1.0".
pub(super) fn assert_jittered(d: Duration, base: Duration) {
    assert!(
        d >= base * 3 / 4 && d <= base,
        "{d:?} is not within [0.75, 1.0] x {base:?}"
    );
}

/// `DownReason` with NOTIFICATIONs as bare `code/subcode` (their Display adds the IANA names).
fn reason(r: &DownReason) -> String {
    let short = |n: &Notification| format!("{}/{}", n.code, n.subcode);
    match r {
        DownReason::NotificationSent(n) => format!("sent NOTIFICATION {}", short(n)),
        DownReason::NotificationReceived(n) => format!("received NOTIFICATION {}", short(n)),
        DownReason::AutomaticStop(n) => format!("automatic stop, {}", short(n)),
        other => other.to_string(),
    }
}

fn secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{d:?}")
    }
}

fn msg(m: &Message) -> String {
    match m {
        Message::Open(_) => "OPEN".into(),
        Message::Update(_) => "UPDATE".into(),
        Message::Keepalive => "KEEPALIVE".into(),
        Message::RouteRefresh(_) => "ROUTE-REFRESH".into(),
        Message::Notification(n) => format!("NOTIFICATION {}/{}", n.code, n.subcode),
    }
}

/// The NOTIFICATION sent in `out`, if any.
pub(super) fn sent_notification(out: &[Output]) -> Option<&Notification> {
    out.iter().find_map(|o| match o {
        Output::Send(Message::Notification(n)) => Some(n),
        _ => None,
    })
}

/// Every state, in RFC order.
pub(super) const ALL_STATES: [State; 6] = [
    State::Idle,
    State::Connect,
    State::Active,
    State::OpenSent,
    State::OpenConfirm,
    State::Established,
];
