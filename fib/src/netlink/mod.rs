//! rtnetlink: the pipelined route writer ([`NetlinkFib`]), dumps and the event listener.
//!
//! One socket writes: requests are serialized into one buffer, up to `per_write` per
//! `sendmsg`, each with its own sequence number. The kernel handles every request of a write
//! inside that `sendmsg`, in order, even after one fails, and queues one NLMSG_ERROR per
//! failed request (and one ACK per request that asked for it) on our socket. So when `sendmsg`
//! returns, the answers of the whole write are waiting; they are read at once and mapped back
//! to their operation by sequence number. At most one write is in flight, and the receive
//! buffer (forced to [`WriterOptions::rcvbuf`]) holds its answers.

mod batch;
mod dump;
mod listen;
mod route;

use std::os::fd::AsFd;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use tracing::debug;

use crate::error::Error;

pub(crate) use listen::Listener;

/// Which requests ask the kernel for an ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// `NLM_F_ACK` on every request: one answer per route.
    Every,
    /// `NLM_F_ACK` on the last request of each write only: failures still answer with their
    /// sequence number, and the ACK of the last request proves that every earlier one of the
    /// write was handled (the kernel handles them in order). One answer per write plus one
    /// per failure: the same exactness, a receive call per write instead of per route.
    Barrier,
}

/// How the writer talks to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    pub table: u32,
    pub protocol: u8,
    pub ack: AckMode,
    /// Requests per `sendmsg` (measured here: gains stop around 64).
    pub per_write: usize,
    /// Receive buffer, set with SO_RCVBUFFORCE (root) or SO_RCVBUF.
    pub rcvbuf: usize,
    /// How long to wait for the answers of a write before giving up on them.
    pub timeout: Duration,
}

impl WriterOptions {
    /// The defaults for `table` and `protocol`.
    pub fn new(table: u32, protocol: u8) -> Self {
        WriterOptions {
            table,
            protocol,
            ack: AckMode::Barrier,
            per_write: 64,
            rcvbuf: 8 << 20,
            timeout: Duration::from_secs(5),
        }
    }
}

/// Opens a bound NETLINK_ROUTE socket with a big receive buffer; returns it and its port id.
pub(crate) fn open_socket(rcvbuf: usize) -> Result<(Socket, u32), Error> {
    let mut sock = Socket::new(NETLINK_ROUTE).map_err(Error::io("socket"))?;
    let addr = sock.bind_auto().map_err(Error::io("bind"))?;
    set_rcvbuf(&sock, rcvbuf);
    // Best effort: older kernels lack these.
    let _ = sock.set_ext_ack(true);
    let _ = sock.set_cap_ack(true);
    let mut local = SocketAddr::new(0, 0);
    sock.get_address(&mut local)
        .map_err(Error::io("getsockname"))?;
    let port = if local.port_number() != 0 {
        local.port_number()
    } else {
        addr.port_number()
    };
    Ok((sock, port))
}

/// SO_RCVBUFFORCE (needs CAP_NET_ADMIN, which bgpod has to have to write routes anyway),
/// else SO_RCVBUF (capped by `net.core.rmem_max`).
pub(crate) fn set_rcvbuf(sock: &impl AsFd, size: usize) {
    use nix::sys::socket::{setsockopt, sockopt};
    if let Err(e) = setsockopt(sock, sockopt::RcvBufForce, &size) {
        debug!(error = %e, "SO_RCVBUFFORCE refused; falling back to SO_RCVBUF");
        let _ = setsockopt(sock, sockopt::RcvBuf, &size);
    }
}

pub use batch::{NetlinkFib, WriteOutcome};
