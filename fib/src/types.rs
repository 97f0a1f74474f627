//! The values that cross the crate's boundary: routes, operations, kernel routes and events.

use std::fmt;
use std::net::IpAddr;

use ipnetwork::IpNetwork;

/// The metric of the blackhole routes for our own pod CIDRs: the largest there is, so that any
/// real route for the same prefix (a CNI bridge's connected route, an operator's route) wins.
pub const BLACKHOLE_METRIC: u32 = u32::MAX;

/// A best-route change from the RIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteUpdate {
    /// Install or replace: the ECMP set of BGP next hops, best first.
    Install {
        prefix: IpNetwork,
        next_hops: Vec<IpAddr>,
    },
    /// No usable learned route is left.
    Remove { prefix: IpNetwork },
}

impl RouteUpdate {
    pub fn prefix(&self) -> IpNetwork {
        match self {
            RouteUpdate::Install { prefix, .. } | RouteUpdate::Remove { prefix } => *prefix,
        }
    }
}

/// A resolved next hop as the kernel takes it: `via gateway dev ifindex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NextHop {
    pub gateway: IpAddr,
    pub ifindex: u32,
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "via {} dev #{}", self.gateway, self.ifindex)
    }
}

/// Where a route sends its traffic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteTarget {
    /// One next hop, or several (one multipath route), sorted, without duplicates.
    Unicast(Vec<NextHop>),
    /// Drop (`RTN_BLACKHOLE`): for the unused addresses of our own pod CIDRs.
    Blackhole,
}

/// One route bgpod owns, in its table and with its protocol number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpNetwork,
    pub metric: u32,
    pub target: RouteTarget,
}

/// One change to the forwarding table. Table and protocol are the writer's; a delete names the
/// metric too, so that it can never match a route another protocol installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibOp {
    /// Install, or replace bgpod's route with the same prefix and metric.
    Replace(Route),
    /// Remove bgpod's route for `prefix` with this metric.
    Delete { prefix: IpNetwork, metric: u32 },
}

impl FibOp {
    pub fn prefix(&self) -> IpNetwork {
        match self {
            FibOp::Replace(r) => r.prefix,
            FibOp::Delete { prefix, .. } => *prefix,
        }
    }

    pub fn metric(&self) -> u32 {
        match self {
            FibOp::Replace(r) => r.metric,
            FibOp::Delete { metric, .. } => *metric,
        }
    }
}

/// An operation the FIB did not carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{prefix}: {reason}")]
pub struct FibError {
    /// The operation's position in the batch passed to [`crate::Fib::apply`].
    pub index: usize,
    pub prefix: IpNetwork,
    /// The kernel's errno, if the kernel refused it.
    pub errno: Option<i32>,
    /// What went wrong, with the kernel's extended ACK message when it gave one.
    pub reason: String,
}

/// A route as the kernel reports it (dump or event), reduced to what bgpod looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelRoute {
    pub table: u32,
    pub prefix: IpNetwork,
    pub protocol: u8,
    pub metric: u32,
    /// `RTN_*`: 1 unicast, 6 blackhole, ...
    pub kind: u8,
    /// Next hops; `gateway` is `None` for a device (connected) route.
    pub next_hops: Vec<KernelNextHop>,
}

/// One next hop of a kernel route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KernelNextHop {
    pub gateway: Option<IpAddr>,
    pub ifindex: u32,
}

/// `RTN_UNICAST`.
pub const RTN_UNICAST: u8 = 1;
/// `RTN_BLACKHOLE`.
pub const RTN_BLACKHOLE: u8 = 6;

impl KernelRoute {
    /// What this route would look like as one of ours, if it is representable.
    pub fn target(&self) -> Option<RouteTarget> {
        match self.kind {
            RTN_BLACKHOLE => Some(RouteTarget::Blackhole),
            RTN_UNICAST => {
                let mut hops: Vec<NextHop> = self
                    .next_hops
                    .iter()
                    .map(|nh| {
                        nh.gateway.map(|gateway| NextHop {
                            gateway,
                            ifindex: nh.ifindex,
                        })
                    })
                    .collect::<Option<_>>()?;
                hops.sort_unstable();
                hops.dedup();
                Some(RouteTarget::Unicast(hops))
            }
            _ => None,
        }
    }
}

/// An address configured on an interface of this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    pub ifindex: u32,
    /// The address and the length of its subnet.
    pub network: IpNetwork,
}

/// What the netlink listener saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    RouteAdded(KernelRoute),
    RouteDeleted(KernelRoute),
    AddressAdded(Address),
    AddressDeleted(Address),
    /// A link appeared, went away, or changed its up/running state: IPv4 may have removed
    /// routes through it without a word.
    LinkChanged {
        ifindex: u32,
    },
    /// The listener lost events (`ENOBUFS`): only a dump tells the truth now.
    Overrun,
}
