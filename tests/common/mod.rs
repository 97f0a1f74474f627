//! The namespace test harness shared by every integration test.
//!
//! Each test builds a small lab: a [`Lab`] owns a per-test log directory, and hands out
//! [`Netns`] guards (one network namespace each), joined by [`veth_pair`] or a [`Bridge`].
//! Daemons run inside a namespace through `ip netns exec`, with stdout and stderr in a log
//! file of the lab directory: [`Bird`], [`Frr`] (bgpd alone, without zebra) and [`Bgpod`].
//!
//! [`PodNode`] is a container host: a node namespace on the fabric bridge, forwarding on, a
//! pod bridge and pod namespaces behind it ([`pods`]). [`KernelTable`] reads a namespace's
//! kernel routes (`ip -j route`) as one routing daemon owns them: one table, one route
//! protocol number ([`kernel`]).
//!
//! Cleanup is by drop guard, on success and on panic alike: a [`Netns`] sends SIGTERM to every
//! process it started (by PID), SIGKILL after a grace period, then deletes the namespace. The
//! log directory is removed when the test passes and kept (its path and the tail of every log
//! printed) when it fails. Set `BGPOD_KEEP_LOGS=1` to keep it always.
//!
//! Nothing here touches the host namespace: links are created inside the namespaces
//! (`ip -n NS link add ... peer ... netns OTHER`), sysctls are set with `ip netns exec`.
//!
//! Tests never sleep blindly: they poll with [`wait_until`] (and [`holds_for`] for "stays
//! true"), which panics with the last observed error on timeout.
//!
//! Everything needs root; `scripts/test.sh` is the entry point.

// Every test binary compiles this module and each uses only part of it.
#![allow(dead_code)]

pub mod bgpod;
pub mod bird;
pub mod frr;
pub mod interop;
pub mod kernel;
pub mod lab;
pub mod netns;
pub mod pods;
pub mod wait;

#[allow(unused_imports)] // re-exports: each test binary uses a different subset
pub use self::{
    bgpod::{
        bgpod_query, Bgpod, BgpodConfig, BgpodFib, BgpodPeer, PeerStatus, RoutePath, Routes, Status,
    },
    bird::{Bird, BirdConfig, BirdNeighbor, BirdProtocol, BirdRoute},
    frr::{Frr, FrrConfig, FrrNeighbor, FrrRoute},
    kernel::{kernel_routes, route_get, via, KernelRoute, KernelTable, NextHop},
    lab::Lab,
    netns::{netns_exists, veth_pair, Bridge, Netns, Proc},
    pods::{enable_forwarding, ping, wait_ping, PodNode},
    wait::{holds_for, wait_until},
};

use std::net::IpAddr;

/// Parse `"addr/len"` into its parts; `None` if it is not a prefix.
pub fn parse_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.trim().split_once('/')?;
    Some((addr.parse().ok()?, len.parse().ok()?))
}

/// Whether two prefixes written as text are the same (`fd00:0::/64` == `fd00::/64`).
pub fn same_prefix(a: &str, b: &str) -> bool {
    match (parse_prefix(a), parse_prefix(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// Whether an address written as text is `addr` (textual forms of IPv6 vary).
pub fn same_addr(text: &str, addr: IpAddr) -> bool {
    text.trim().parse::<IpAddr>().is_ok_and(|a| a == addr)
}

/// The address part of `"addr/len"` (or of a bare address).
pub fn addr_of(cidr: &str) -> IpAddr {
    let a = cidr.split('/').next().unwrap_or(cidr);
    a.parse()
        .unwrap_or_else(|e| panic!("{cidr:?} is not an address: {e}"))
}
