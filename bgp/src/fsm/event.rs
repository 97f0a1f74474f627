//! The session's inputs (RFC 4271 §8.1 events) and outputs (actions for the driver), and
//! what a successful OPEN exchange negotiated.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::wire::iana::{Afi, Safi};
use crate::wire::{
    AddPathFamily, DecodeError, GracefulRestart, Message, Notification, Open, SessionContext,
};

use super::{State, Timer};

/// An event for the session (RFC 4271 §8.1; see the table in the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
// `Received(Message)` dwarfs the other variants. Each message moves through once; boxing it
// would cost an allocation per message and change the API the driver is written against.
#[allow(clippy::large_enum_variant)]
pub enum Input {
    /// Event 1 ManualStart (Event 5 when `passive`).
    ManualStart,
    /// Event 2 ManualStop: send this NOTIFICATION if a connection is open, go Idle, stay there.
    ManualStop(Notification),
    /// Event 8 AutomaticStop (max-prefix, collision loser with Cease 6/7, …): automatic
    /// restart after the IdleHold back-off.
    AutomaticStop(Notification),
    /// Events 16/17: the driver has one TCP connection for this session.
    TcpConnected,
    /// Event 18 TcpConnectionFails.
    TcpFailed,
    /// Events 19, 25, 26, 27 (and ROUTE-REFRESH).
    Received(Message),
    /// Events 21, 22, 28: a message that could not be decoded.
    Malformed(DecodeError),
    /// Events 9, 10, 11, 13.
    TimerExpired(Timer),
    /// The driver sent an UPDATE: restart the KeepaliveTimer (RFC 4271 §8.2.2 Established:
    /// "Each time the local system sends a KEEPALIVE or UPDATE message, it restarts its
    /// KeepaliveTimer, unless the negotiated HoldTime value is zero").
    UpdateSent,
}

/// An action for the driver, to be carried out in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection to the peer; report `TcpConnected` or `TcpFailed`.
    Connect,
    /// Close the TCP connection, or abandon the connection attempt.
    CloseTcp,
    Send(Message),
    /// (Re)start the timer; the driver fires `TimerExpired(timer)` after the duration.
    ArmTimer(Timer, Duration),
    CancelTimer(Timer),
    StateChange {
        from: State,
        to: State,
    },
    /// The session reached Established (exactly once per session attempt).
    Established(Negotiated),
    /// The session attempt ended (exactly once per attempt; see module docs). If it had
    /// reached Established, the RIB drops the peer's routes.
    Down(DownReason),
    /// An UPDATE or ROUTE-REFRESH received in Established, for the RIB / export side.
    Deliver(Message),
}

/// What both OPENs agreed on (RFC 4271 §4.2, RFC 5492).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_open: Open,
    /// The peer's real ASN (4-octet capability if present).
    pub peer_asn: u32,
    pub peer_id: Ipv4Addr,
    /// Negotiated Hold Time in seconds; 0 = no hold timer and no keepalives.
    pub hold_time: u16,
    /// Keepalive interval in seconds (before jitter); 0 when `hold_time` is 0.
    pub keepalive: u16,
    pub ctx: SessionContext,
    /// Families both sides advertised (RFC 4760 §8), in our configured order.
    pub families: Vec<(Afi, Safi)>,
    /// Both sides advertised Route Refresh (RFC 2918).
    pub route_refresh: bool,
    pub peer_graceful_restart: Option<GracefulRestart>,
    pub peer_add_path: Vec<AddPathFamily>,
}

/// Why a session attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownReason {
    /// We found an error in what the peer sent (or when it sent it) and sent this.
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The TCP connection (or the attempt to open it) failed.
    TcpFailed,
    /// No message from the peer within the Hold Time; NOTIFICATION 4/0 was sent.
    HoldTimerExpired,
    /// ManualStop; its NOTIFICATION was sent if a connection was open.
    Stopped,
    /// AutomaticStop with this NOTIFICATION (sent if a connection was open).
    AutomaticStop(Notification),
    /// In Connect or Active, an event §8.2.2 answers by going Idle without a NOTIFICATION.
    UnexpectedEvent { state: State, event: &'static str },
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownReason::NotificationSent(n) => write!(f, "sent NOTIFICATION {}", Describe(n)),
            DownReason::NotificationReceived(n) => {
                write!(f, "received NOTIFICATION {}", Describe(n))
            }
            DownReason::TcpFailed => f.write_str("TCP connection failed"),
            DownReason::HoldTimerExpired => f.write_str("hold timer expired"),
            DownReason::Stopped => f.write_str("stopped by operator"),
            DownReason::AutomaticStop(n) => write!(f, "automatic stop, {}", Describe(n)),
            DownReason::UnexpectedEvent { state, event } => {
                write!(f, "unexpected {event} in state {state}")
            }
        }
    }
}

/// `code/subcode (description)` for logs, with the RFC 9003 Shutdown Communication if any.
struct Describe<'a>(&'a Notification);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        write!(f, "{}/{} ({n})", n.code, n.subcode)
    }
}
