//! Next-hop resolution: turn a BGP next hop into the `via GATEWAY dev IF` the kernel takes.
//!
//! * A next hop on a directly connected subnet (the covering route is a device route, such as
//!   the kernel's `proto kernel scope link` route of an interface address) is installed as
//!   `via NH dev IF`.
//! * A next hop that is not connected (eBGP multihop, a ToR or route reflector a few hops
//!   away) is resolved through the covering kernel route, the default route included, as BIRD's
//!   `gateway recursive` does: the route is installed via that route's gateway(s) and device.
//! * Only foreign routes are looked at (bgpod's own routes are not in the [`KernelView`]), so a
//!   BGP route can never resolve through another BGP route and no loop can form. A kernel
//!   route's gateway is directly reachable by construction (the kernel checked it when the
//!   route was added), so one step is enough; the depth limit guards against views that say
//!   otherwise.

use std::net::IpAddr;

use crate::types::{NextHop, RTN_UNICAST};
use crate::view::{KernelView, RT_TABLE_MAIN};

/// How many covering routes may be followed for one next hop.
const MAX_DEPTH: usize = 4;

/// Why a next hop could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No route covers it (or the covering route is not unicast: blackhole, unreachable...).
    NoRoute,
    /// A link-local IPv6 next hop (needs the session's interface, which the RIB does not give)
    /// or an address of the wrong family for the prefix (RFC 5549 is not supported).
    Unsupported,
    /// The next hop is one of this node's own addresses.
    Local,
}

/// Resolves `nh` for a prefix of the same family in bgpod's table, then `main`.
pub fn resolve(view: &KernelView, nh: IpAddr) -> Result<Vec<NextHop>, Unresolved> {
    if nh.is_unspecified() || nh.is_multicast() || nh.is_loopback() {
        return Err(Unresolved::Unsupported);
    }
    if let IpAddr::V6(v6) = nh {
        if v6.segments()[0] & 0xffc0 == 0xfe80 {
            return Err(Unresolved::Unsupported);
        }
    }
    if view.is_local(nh) {
        return Err(Unresolved::Local);
    }
    let mut out = Vec::new();
    step(view, nh, 0, &mut out)?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn step(
    view: &KernelView,
    nh: IpAddr,
    depth: usize,
    out: &mut Vec<NextHop>,
) -> Result<(), Unresolved> {
    if depth >= MAX_DEPTH {
        return Err(Unresolved::NoRoute);
    }
    let route = view
        .lookup(view.table(), nh)
        .or_else(|| {
            (view.table() != RT_TABLE_MAIN)
                .then(|| view.lookup(RT_TABLE_MAIN, nh))
                .flatten()
        })
        .ok_or(Unresolved::NoRoute)?;
    if route.kind != RTN_UNICAST || route.next_hops.is_empty() {
        return Err(Unresolved::NoRoute);
    }
    let mut any = false;
    for hop in &route.next_hops {
        match hop.gateway {
            // A device route: the next hop is on this link.
            None if hop.ifindex != 0 => {
                out.push(NextHop {
                    gateway: nh,
                    ifindex: hop.ifindex,
                });
                any = true;
            }
            Some(gw) if hop.ifindex != 0 && gw.is_ipv4() == nh.is_ipv4() => {
                out.push(NextHop {
                    gateway: gw,
                    ifindex: hop.ifindex,
                });
                any = true;
            }
            // A gateway without a device (or of the other family): look that one up in turn.
            Some(gw) if gw != nh && gw.is_ipv4() == nh.is_ipv4() => {
                any |= step(view, gw, depth + 1, out).is_ok();
            }
            _ => {}
        }
    }
    if any {
        Ok(())
    } else {
        Err(Unresolved::NoRoute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Address, KernelNextHop, KernelRoute, RTN_BLACKHOLE};

    fn kr(table: u32, prefix: &str, hops: &[(Option<&str>, u32)]) -> KernelRoute {
        KernelRoute {
            table,
            prefix: prefix.parse().expect("prefix"),
            protocol: 2,
            metric: 0,
            kind: RTN_UNICAST,
            next_hops: hops
                .iter()
                .map(|(g, i)| KernelNextHop {
                    gateway: g.map(|g| g.parse().expect("gw")),
                    ifindex: *i,
                })
                .collect(),
        }
    }
    fn a(s: &str) -> IpAddr {
        s.parse().expect("addr")
    }
    fn via(g: &str, i: u32) -> NextHop {
        NextHop {
            gateway: a(g),
            ifindex: i,
        }
    }

    fn view() -> KernelView {
        let mut v = KernelView::new(254, 179, 20);
        v.add_route(kr(254, "10.99.0.0/24", &[(None, 3)]));
        v.add_route(kr(254, "0.0.0.0/0", &[(Some("10.99.0.254"), 3)]));
        v.add_route(kr(
            254,
            "172.16.0.0/12",
            &[(Some("10.99.0.1"), 3), (Some("10.99.0.2"), 3)],
        ));
        v.add_route(kr(254, "fd00:99::/64", &[(None, 3)]));
        v.add_address(Address {
            ifindex: 3,
            network: "10.99.0.10/24".parse().expect("net"),
        });
        v
    }

    #[test]
    fn connected_next_hop_is_via_itself_on_its_device() {
        assert_eq!(
            resolve(&view(), a("10.99.0.7")),
            Ok(vec![via("10.99.0.7", 3)])
        );
        assert_eq!(
            resolve(&view(), a("fd00:99::7")),
            Ok(vec![via("fd00:99::7", 3)])
        );
    }

    #[test]
    fn remote_next_hop_goes_through_the_covering_route() {
        assert_eq!(
            resolve(&view(), a("192.0.2.9")),
            Ok(vec![via("10.99.0.254", 3)])
        );
        assert_eq!(
            resolve(&view(), a("172.16.5.5")),
            Ok(vec![via("10.99.0.1", 3), via("10.99.0.2", 3)])
        );
    }

    #[test]
    fn unresolvable_next_hops() {
        let v = view();
        assert_eq!(resolve(&v, a("fd00:1::1")), Err(Unresolved::NoRoute));
        assert_eq!(resolve(&v, a("fe80::1")), Err(Unresolved::Unsupported));
        assert_eq!(resolve(&v, a("10.99.0.10")), Err(Unresolved::Local));
        let mut v = v;
        let mut bh = kr(254, "192.0.2.0/24", &[]);
        bh.kind = RTN_BLACKHOLE;
        v.add_route(bh);
        assert_eq!(resolve(&v, a("192.0.2.9")), Err(Unresolved::NoRoute));
    }

    #[test]
    fn gateway_without_device_is_looked_up_again_and_loops_stop() {
        let mut v = view();
        v.add_route(kr(254, "198.51.100.0/24", &[(Some("10.99.0.5"), 0)]));
        assert_eq!(
            resolve(&v, a("198.51.100.1")),
            Ok(vec![via("10.99.0.5", 3)])
        );
        // Two routes pointing at each other's gateways with no device: no loop, no route.
        v.add_route(kr(254, "203.0.113.0/25", &[(Some("203.0.113.200"), 0)]));
        v.add_route(kr(254, "203.0.113.128/25", &[(Some("203.0.113.1"), 0)]));
        assert_eq!(resolve(&v, a("203.0.113.5")), Err(Unresolved::NoRoute));
    }

    #[test]
    fn our_table_first_then_main() {
        let mut v = KernelView::new(100, 179, 20);
        v.add_route(kr(254, "10.0.0.0/8", &[(None, 2)]));
        v.add_route(kr(100, "10.1.0.0/16", &[(None, 5)]));
        assert_eq!(resolve(&v, a("10.1.0.1")), Ok(vec![via("10.1.0.1", 5)]));
        assert_eq!(resolve(&v, a("10.2.0.1")), Ok(vec![via("10.2.0.1", 2)]));
    }
}
