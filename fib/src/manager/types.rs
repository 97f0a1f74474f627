//! The manager's settings and what it reports: hold reasons, route states, counters.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use ipnetwork::IpNetwork;

/// The manager's configuration (from `[fib]` and the node's pod CIDRs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerSettings {
    pub table: u32,
    pub protocol: u8,
    /// The metric of learned routes.
    pub metric: u32,
    pub pod_cidrs: Vec<IpNetwork>,
    /// Install a blackhole route (metric [`BLACKHOLE_METRIC`]) for each pod CIDR.
    pub blackhole_pod_cidrs: bool,
    /// How long routes of ours from a previous run survive at start.
    pub sweep_delay: Duration,
}

/// Why a prefix the RIB wants is not installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldReason {
    /// Equal to or inside one of our pod CIDRs (`pod_cidr`, `with` is the CIDR), or holding
    /// one of our interface addresses and at least as specific as its subnet (`with` is the
    /// address with its prefix length).
    Overlap { with: IpNetwork, pod_cidr: bool },
    /// Another protocol's route holds the key (table, prefix, metric) bgpod would write.
    Conflict { protocol: u8 },
    /// None of the next hops resolves.
    Unresolved { next_hops: Vec<IpAddr> },
}

impl HoldReason {
    /// A short name for counting: `overlap`, `conflict`, `unresolved`.
    pub fn kind(&self) -> &'static str {
        match self {
            HoldReason::Overlap { .. } => "overlap",
            HoldReason::Conflict { .. } => "conflict",
            HoldReason::Unresolved { .. } => "unresolved",
        }
    }
}

impl fmt::Display for HoldReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoldReason::Overlap {
                with,
                pod_cidr: true,
            } => write!(f, "overlaps our pod CIDR {with}"),
            HoldReason::Overlap { with, .. } => {
                write!(f, "covers our interface address {with} within its subnet")
            }
            HoldReason::Conflict { protocol } => write!(
                f,
                "a route of protocol {protocol} holds the same table, prefix and metric"
            ),
            HoldReason::Unresolved { next_hops } => {
                write!(f, "no kernel route reaches next hop(s) {next_hops:?}")
            }
        }
    }
}

/// What bgpod knows of one prefix (for the control socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteState {
    /// The kernel holds the route bgpod wants.
    Installed,
    /// A write is due.
    Pending,
    Held(HoldReason),
    /// The last write failed; it is retried.
    Failed(String),
    /// A route of ours from a previous run, kept until the sweep.
    Stale,
}

/// Counters for status output and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Routes of ours the kernel holds (stale ones included).
    pub installed: usize,
    /// Prefixes wanted (RIB routes and blackholes).
    pub desired: usize,
    pub held: usize,
    /// Prefixes waiting for a write.
    pub pending: usize,
    /// Kernel errors since start.
    pub errors: u64,
    /// Routes put back after someone else changed or removed them.
    pub repairs: u64,
    /// Dumps compared (start, ENOBUFS, link changes).
    pub resyncs: u64,
    /// Netlink events handled (our own writes' echoes are filtered out in the kernel).
    pub events: u64,
}
