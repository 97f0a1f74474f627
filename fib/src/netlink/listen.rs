//! The event listener: route, address and link notifications.
//!
//! Our own writes cause a notification each (a million while a full table loads), which would
//! overrun any receive buffer and tell us nothing new. The kernel stamps each notification
//! with the port id of the socket whose request caused it, so a socket filter (classic BPF,
//! run by the kernel before queueing) drops the ones stamped with the writer's port id; what
//! reaches us is what someone else did.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use netlink_sys::Socket;
use socket2::SockFilter;
use tracing::warn;

use super::open_socket;
use super::route::{
    messages, parse_address, parse_link, parse_route, RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE,
    RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE,
};
use crate::error::Error;
use crate::types::KernelEvent;

/// `RTNLGRP_*` multicast groups.
const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV4_ROUTE: u32 = 7;
const RTNLGRP_IPV6_IFADDR: u32 = 9;
const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// `IFF_UP | IFF_RUNNING | IFF_LOWER_UP`: the link flags whose change can make IPv4 drop or
/// keep routes.
const LINK_STATE_FLAGS: u32 = 0x1 | 0x40 | 0x1_0000;

// Classic BPF opcodes (linux/filter.h).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
/// Offset of `nlmsg_pid` in `struct nlmsghdr`.
const NLMSG_PID_OFFSET: u32 = 12;

/// The program: drop a message whose `nlmsg_pid` is `port`, accept the rest. A BPF load
/// reads big-endian; `nlmsg_pid` is in host order, hence the byte swap of the constant.
pub(crate) fn ignore_port_filter(port: u32) -> [SockFilter; 4] {
    let k = u32::from_be_bytes(port.to_ne_bytes());
    [
        SockFilter::new(BPF_LD_W_ABS, 0, 0, NLMSG_PID_OFFSET),
        SockFilter::new(BPF_JEQ_K, 0, 1, k),
        SockFilter::new(BPF_RET_K, 0, 0, 0),
        SockFilter::new(BPF_RET_K, 0, 0, u32::MAX),
    ]
}

/// A non-blocking socket subscribed to route, address and link changes.
#[derive(Debug)]
pub(crate) struct Listener {
    sock: Socket,
    rbuf: Vec<u8>,
    /// Last seen link state flags per interface.
    links: HashMap<u32, u32>,
}

impl Listener {
    /// Subscribes; notifications caused by the socket with port id `ignore` are dropped in
    /// the kernel.
    pub fn open(ignore: u32, rcvbuf: usize) -> Result<Self, Error> {
        let (sock, _) = open_socket(rcvbuf)?;
        for g in [
            RTNLGRP_LINK,
            RTNLGRP_IPV4_IFADDR,
            RTNLGRP_IPV4_ROUTE,
            RTNLGRP_IPV6_IFADDR,
            RTNLGRP_IPV6_ROUTE,
        ] {
            sock.add_membership(g)
                .map_err(Error::io("NETLINK_ADD_MEMBERSHIP"))?;
        }
        if let Err(e) = socket2::SockRef::from(&sock).attach_filter(&ignore_port_filter(ignore)) {
            // Still correct, only slower: our own echoes are recognised as ours.
            warn!(error = %e, "cannot filter our own route notifications; the listener will see them");
        }
        sock.set_non_blocking(true)
            .map_err(Error::io("O_NONBLOCK"))?;
        Ok(Listener {
            sock,
            rbuf: Vec::with_capacity(64 << 10),
            links: HashMap::new(),
        })
    }

    /// Reads what is queued, up to about `max` events, without blocking. Returns whether the
    /// socket is drained.
    pub fn drain(&mut self, out: &mut Vec<KernelEvent>, max: usize) -> Result<bool, Error> {
        let start = out.len();
        while out.len() - start < max {
            self.rbuf.clear();
            match self.sock.recv(&mut self.rbuf, 0) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    out.push(KernelEvent::Overrun);
                    continue;
                }
                Err(source) => {
                    return Err(Error::Io {
                        what: "recv (events)",
                        source,
                    })
                }
            }
            for (h, payload) in messages(&self.rbuf) {
                let ev = match h.kind {
                    RTM_NEWROUTE => parse_route(payload).map(KernelEvent::RouteAdded),
                    RTM_DELROUTE => parse_route(payload).map(KernelEvent::RouteDeleted),
                    RTM_NEWADDR => parse_address(payload).map(KernelEvent::AddressAdded),
                    RTM_DELADDR => parse_address(payload).map(KernelEvent::AddressDeleted),
                    // Only a link that is not (or no longer) fully up matters: IPv4 keeps
                    // quiet about the routes it drops then. Coming up is announced by the
                    // connected routes' own notifications.
                    RTM_NEWLINK => parse_link(payload).and_then(|(ifindex, flags)| {
                        let state = flags & LINK_STATE_FLAGS;
                        let old = self.links.insert(ifindex, state);
                        (old != Some(state) && state != LINK_STATE_FLAGS)
                            .then_some(KernelEvent::LinkChanged { ifindex })
                    }),
                    RTM_DELLINK => parse_link(payload).map(|(ifindex, _)| {
                        self.links.remove(&ifindex);
                        KernelEvent::LinkChanged { ifindex }
                    }),
                    _ => None,
                };
                out.extend(ev);
            }
        }
        Ok(false)
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}
