//! FibManager against a fake kernel: a [`MemoryFib`] for bgpod's routes and a hand-made list
//! of foreign routes and addresses.

use super::*;
use crate::types::{KernelNextHop, RTN_BLACKHOLE, RTN_UNICAST};
use crate::{Fib, MemoryFib};
use std::net::IpAddr;

const PROTO: u8 = 179;
const METRIC: u32 = 20;
const DEV: u32 = 2;

fn p(s: &str) -> IpNetwork {
    s.parse().expect("test prefix")
}
fn a(s: &str) -> IpAddr {
    s.parse().expect("test address")
}
fn via(g: &str) -> NextHop {
    NextHop {
        gateway: a(g),
        ifindex: DEV,
    }
}
fn unicast(hops: &[&str]) -> RouteTarget {
    RouteTarget::Unicast(hops.iter().map(|g| via(g)).collect())
}

fn foreign(prefix: &str, protocol: u8, metric: u32, gw: Option<&str>) -> KernelRoute {
    KernelRoute {
        table: 254,
        prefix: p(prefix),
        protocol,
        metric,
        kind: RTN_UNICAST,
        next_hops: vec![KernelNextHop {
            gateway: gw.map(a),
            ifindex: DEV,
        }],
    }
}

fn ours(prefix: &str, metric: u32, gws: &[&str]) -> KernelRoute {
    KernelRoute {
        table: 254,
        prefix: p(prefix),
        protocol: PROTO,
        metric,
        kind: RTN_UNICAST,
        next_hops: gws
            .iter()
            .map(|g| KernelNextHop {
                gateway: Some(a(g)),
                ifindex: DEV,
            })
            .collect(),
    }
}

/// A node with 10.99.0.1/24 and fd00:99::1/64 on device 2, no default route.
fn connected() -> (Vec<KernelRoute>, Vec<Address>) {
    (
        vec![
            foreign("10.99.0.0/24", 2, 0, None),
            foreign("fd00:99::/64", 2, 256, None),
        ],
        vec![
            Address {
                ifindex: DEV,
                network: p("10.99.0.1/24"),
            },
            Address {
                ifindex: DEV,
                network: p("fd00:99::1/64"),
            },
        ],
    )
}

fn settings() -> ManagerSettings {
    ManagerSettings {
        table: 254,
        protocol: PROTO,
        metric: METRIC,
        pod_cidrs: vec![p("10.244.1.0/24"), p("fd00:10:244:1::/64")],
        blackhole_pod_cidrs: true,
        sweep_delay: Duration::from_secs(30),
    }
}

struct Node {
    mgr: FibManager,
    fib: MemoryFib,
    now: Instant,
    foreign: Vec<KernelRoute>,
    addresses: Vec<Address>,
}

impl Node {
    fn new(s: ManagerSettings, extra: Vec<KernelRoute>) -> Node {
        let now = Instant::now();
        let (mut foreign, addresses) = connected();
        let mut mine = Vec::new();
        for r in extra {
            if r.protocol == PROTO {
                mine.push(r);
            } else {
                foreign.push(r);
            }
        }
        let mut fib = MemoryFib::new();
        for r in &mine {
            let target = r.target().expect("representable");
            fib.apply(&[FibOp::Replace(Route {
                prefix: r.prefix,
                metric: r.metric,
                target,
            })]);
        }
        let mut mgr = FibManager::new(s, now);
        let mut all = foreign.clone();
        all.extend(mine);
        mgr.snapshot(all, addresses.clone());
        Node {
            mgr,
            fib,
            now,
            foreign,
            addresses,
        }
    }

    fn plain() -> Node {
        let mut s = settings();
        s.blackhole_pod_cidrs = false;
        Node::new(s, vec![])
    }

    /// Polls and applies until the manager has nothing left; returns every op.
    fn sync(&mut self) -> Vec<FibOp> {
        let mut all = Vec::new();
        for _ in 0..10_000 {
            self.mgr.tick(self.now);
            let ops = self.mgr.poll_ops(7, self.now);
            if ops.is_empty() {
                return all;
            }
            let errs = self.fib.apply(&ops);
            self.mgr.applied(&ops, &errs, self.now);
            all.extend(ops);
        }
        panic!("the manager never went idle");
    }

    fn install(&mut self, prefix: &str, hops: &[&str]) {
        self.mgr.update(RouteUpdate::Install {
            prefix: p(prefix),
            next_hops: hops.iter().map(|h| a(h)).collect(),
        });
    }

    fn remove(&mut self, prefix: &str) {
        self.mgr.update(RouteUpdate::Remove { prefix: p(prefix) });
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.mgr.tick(self.now);
    }

    fn event(&mut self, ev: KernelEvent) {
        match &ev {
            KernelEvent::RouteAdded(r) if r.protocol != PROTO => self.foreign.push(r.clone()),
            KernelEvent::RouteDeleted(r) if r.protocol != PROTO => self
                .foreign
                .retain(|f| !(f.prefix == r.prefix && f.metric == r.metric)),
            KernelEvent::AddressAdded(x) => self.addresses.push(*x),
            KernelEvent::AddressDeleted(x) => self.addresses.retain(|y| y != x),
            _ => {}
        }
        self.mgr.kernel_event(ev, self.now);
    }

    /// The kernel as a dump would show it: foreign routes plus the MemoryFib's.
    fn dump(&self) -> Vec<KernelRoute> {
        let mut v = self.foreign.clone();
        for r in self.fib.routes() {
            v.push(KernelRoute {
                table: 254,
                prefix: r.prefix,
                protocol: PROTO,
                metric: r.metric,
                kind: if r.target == RouteTarget::Blackhole {
                    RTN_BLACKHOLE
                } else {
                    RTN_UNICAST
                },
                next_hops: match &r.target {
                    RouteTarget::Blackhole => vec![],
                    RouteTarget::Unicast(h) => h
                        .iter()
                        .map(|h| KernelNextHop {
                            gateway: Some(h.gateway),
                            ifindex: h.ifindex,
                        })
                        .collect(),
                },
            });
        }
        v
    }

    fn resync(&mut self) {
        let dump = self.dump();
        self.mgr.snapshot(dump, self.addresses.clone());
    }

    fn kernel(&self, prefix: &str) -> Option<&RouteTarget> {
        self.fib.get(&p(prefix), METRIC)
    }

    fn held(&self, prefix: &str) -> Option<HoldReason> {
        match self.mgr.state(&p(prefix)) {
            Some(RouteState::Held(r)) => Some(r),
            _ => None,
        }
    }
}

fn replace(prefix: &str, target: RouteTarget) -> FibOp {
    FibOp::Replace(Route {
        prefix: p(prefix),
        metric: METRIC,
        target,
    })
}

#[test]
fn nothing_is_written_before_the_first_dump() {
    let mut mgr = FibManager::new(settings(), Instant::now());
    mgr.update(RouteUpdate::Install {
        prefix: p("10.244.2.0/24"),
        next_hops: vec![a("10.99.0.2")],
    });
    assert!(mgr.resync_due(Instant::now()));
    assert!(mgr.poll_ops(100, Instant::now()).is_empty());
    let (routes, addrs) = connected();
    mgr.snapshot(routes, addrs);
    assert!(!mgr.resync_due(Instant::now()));
    assert_eq!(
        mgr.poll_ops(100, Instant::now()).len(),
        3,
        "the route and two blackholes"
    );
}

#[test]
fn install_replace_withdraw() {
    let mut n = Node::plain();
    n.install("10.244.2.0/24", &["10.99.0.2"]);
    assert_eq!(
        n.sync(),
        [replace("10.244.2.0/24", unicast(&["10.99.0.2"]))]
    );
    assert!(n.mgr.installed(&p("10.244.2.0/24")));
    assert_eq!(n.mgr.installed_count(), 1);

    n.install("10.244.2.0/24", &["10.99.0.3"]);
    assert_eq!(
        n.sync(),
        [replace("10.244.2.0/24", unicast(&["10.99.0.3"]))]
    );
    // The same again is not a change.
    n.install("10.244.2.0/24", &["10.99.0.3"]);
    assert!(n.sync().is_empty());

    n.remove("10.244.2.0/24");
    assert_eq!(
        n.sync(),
        [FibOp::Delete {
            prefix: p("10.244.2.0/24"),
            metric: METRIC
        }]
    );
    assert!(n.fib.is_empty());
    assert_eq!(n.mgr.state(&p("10.244.2.0/24")), None);
    assert_eq!(n.mgr.installed_count(), 0);
}

#[test]
fn ecmp_set_is_one_multipath_route() {
    let mut n = Node::plain();
    n.install("10.244.3.0/24", &["10.99.0.3", "10.99.0.2", "10.99.0.3"]);
    assert_eq!(
        n.sync(),
        [replace(
            "10.244.3.0/24",
            unicast(&["10.99.0.2", "10.99.0.3"])
        )]
    );
    // One member leaves the set: one replace.
    n.install("10.244.3.0/24", &["10.99.0.2"]);
    assert_eq!(n.sync().len(), 1);
    assert_eq!(n.kernel("10.244.3.0/24"), Some(&unicast(&["10.99.0.2"])));
}

#[test]
fn ipv6_route_via_a_global_next_hop() {
    let mut n = Node::plain();
    n.install("fd00:10:244:2::/64", &["fd00:99::2"]);
    n.sync();
    assert_eq!(
        n.kernel("fd00:10:244:2::/64"),
        Some(&unicast(&["fd00:99::2"]))
    );
    // A link-local next hop needs an interface the RIB does not give: held back.
    n.install("fd00:10:244:3::/64", &["fe80::2"]);
    assert!(n.sync().is_empty());
    assert!(matches!(
        n.held("fd00:10:244:3::/64"),
        Some(HoldReason::Unresolved { .. })
    ));
    // The wrong family (RFC 5549) is held back too.
    n.install("10.244.9.0/24", &["fd00:99::2"]);
    assert!(n.sync().is_empty());
    assert!(n.held("10.244.9.0/24").is_some());
}

#[test]
fn connected_recursive_and_held_back_next_hops() {
    let mut n = Node::plain();
    n.install("10.244.4.0/24", &["192.0.2.7"]);
    assert!(n.sync().is_empty(), "no route reaches 192.0.2.7");
    assert_eq!(
        n.held("10.244.4.0/24"),
        Some(HoldReason::Unresolved {
            next_hops: vec![a("192.0.2.7")]
        })
    );
    assert_eq!(n.mgr.counters().held, 1);

    // A route to the next hop appears: installed through that route's gateway.
    n.event(KernelEvent::RouteAdded(foreign(
        "192.0.2.0/24",
        4,
        0,
        Some("10.99.0.254"),
    )));
    assert_eq!(
        n.sync(),
        [replace("10.244.4.0/24", unicast(&["10.99.0.254"]))]
    );
    assert_eq!(n.held("10.244.4.0/24"), None);

    // It goes away: the route is removed, not left broken.
    n.event(KernelEvent::RouteDeleted(foreign(
        "192.0.2.0/24",
        4,
        0,
        Some("10.99.0.254"),
    )));
    assert_eq!(
        n.sync(),
        [FibOp::Delete {
            prefix: p("10.244.4.0/24"),
            metric: METRIC
        }]
    );
    assert!(n.held("10.244.4.0/24").is_some());

    // The default route counts (a ToR design).
    n.event(KernelEvent::RouteAdded(foreign(
        "0.0.0.0/0",
        16,
        100,
        Some("10.99.0.1"),
    )));
    n.sync();
    assert_eq!(n.kernel("10.244.4.0/24"), Some(&unicast(&["10.99.0.1"])));
}

#[test]
fn ecmp_with_one_unreachable_member_uses_the_others() {
    let mut n = Node::plain();
    n.install("10.244.5.0/24", &["10.99.0.2", "192.0.2.7"]);
    n.sync();
    assert_eq!(n.kernel("10.244.5.0/24"), Some(&unicast(&["10.99.0.2"])));
}

#[test]
fn overlap_with_pod_cidrs_and_interface_subnets() {
    let mut n = Node::plain();
    n.install("10.244.1.128/25", &["10.99.0.2"]);
    n.install("10.99.0.0/25", &["10.99.0.2"]);
    n.install("fd00:99::/96", &["fd00:99::2"]);
    n.install("10.0.0.0/8", &["10.99.0.2"]);
    assert_eq!(n.sync(), [replace("10.0.0.0/8", unicast(&["10.99.0.2"]))]);
    assert_eq!(
        n.held("10.244.1.128/25"),
        Some(HoldReason::Overlap {
            with: p("10.244.1.0/24"),
            pod_cidr: true
        })
    );
    assert_eq!(
        n.held("10.99.0.0/25"),
        Some(HoldReason::Overlap {
            with: p("10.99.0.1/24"),
            pod_cidr: false
        })
    );
    assert!(n.held("fd00:99::/96").is_some());
    assert_eq!(n.mgr.held_by_kind().get("overlap"), Some(&3));

    // Inside our subnet but not holding our address: the peer's business, installed.
    n.install("10.99.0.128/25", &["10.99.0.2"]);
    assert_eq!(n.sync().len(), 1);
    // A flat node network (10.0.0.0/8) holding other nodes' pod CIDRs: installed.
    n.event(KernelEvent::AddressAdded(Address {
        ifindex: 4,
        network: p("10.0.0.5/8"),
    }));
    n.install("10.244.7.0/24", &["10.99.0.2"]);
    let mut ops = n.sync();
    ops.sort_by_key(FibOp::prefix);
    // ... while our 10.0.0.0/8 route now equals the new address's subnet: it goes.
    assert_eq!(
        ops,
        [
            FibOp::Delete {
                prefix: p("10.0.0.0/8"),
                metric: METRIC
            },
            replace("10.244.7.0/24", unicast(&["10.99.0.2"])),
        ]
    );
    assert!(n.mgr.installed(&p("10.244.7.0/24")));

    // A new interface address inside an installed route: it goes.
    n.install("10.50.0.0/24", &["10.99.0.2"]);
    n.sync();
    n.event(KernelEvent::AddressAdded(Address {
        ifindex: 3,
        network: p("10.50.0.1/16"),
    }));
    assert_eq!(
        n.sync(),
        [FibOp::Delete {
            prefix: p("10.50.0.0/24"),
            metric: METRIC
        }]
    );
    // ... and comes back when the address is removed.
    n.event(KernelEvent::AddressDeleted(Address {
        ifindex: 3,
        network: p("10.50.0.1/16"),
    }));
    n.sync();
    assert!(n.kernel("10.50.0.0/24").is_some());
}

#[test]
fn foreign_route_on_our_key_is_never_touched() {
    let mut n = Node::new(
        {
            let mut s = settings();
            s.blackhole_pod_cidrs = false;
            s
        },
        vec![
            foreign("10.60.0.0/24", 77, METRIC, Some("10.99.0.77")),
            foreign("10.61.0.0/24", 77, 0, Some("10.99.0.77")),
        ],
    );
    n.install("10.60.0.0/24", &["10.99.0.2"]);
    n.install("10.61.0.0/24", &["10.99.0.2"]);
    // Same metric: held back. Another metric: a different key, installed beside it.
    assert_eq!(n.sync(), [replace("10.61.0.0/24", unicast(&["10.99.0.2"]))]);
    assert_eq!(
        n.held("10.60.0.0/24"),
        Some(HoldReason::Conflict { protocol: 77 })
    );
    n.remove("10.60.0.0/24");
    assert!(n.sync().is_empty(), "nothing of ours to delete");

    // An operator takes the key of an installed route of ours (ip route replace): we back off.
    n.install("10.62.0.0/24", &["10.99.0.2"]);
    n.sync();
    n.fib.remove_external(&p("10.62.0.0/24"), METRIC);
    n.event(KernelEvent::RouteAdded(foreign(
        "10.62.0.0/24",
        4,
        METRIC,
        Some("10.99.0.9"),
    )));
    assert!(n.sync().is_empty(), "no write may hit the operator's route");
    assert_eq!(
        n.held("10.62.0.0/24"),
        Some(HoldReason::Conflict { protocol: 4 })
    );
    // The operator removes it: ours comes back.
    n.event(KernelEvent::RouteDeleted(foreign(
        "10.62.0.0/24",
        4,
        METRIC,
        Some("10.99.0.9"),
    )));
    assert_eq!(n.sync(), [replace("10.62.0.0/24", unicast(&["10.99.0.2"]))]);
}

#[test]
fn stale_routes_are_adopted_or_swept_after_the_delay() {
    let mut n = Node::new(
        {
            let mut s = settings();
            s.blackhole_pod_cidrs = false;
            s
        },
        vec![
            ours("10.77.0.0/24", METRIC, &["10.99.0.5"]),
            ours("10.78.0.0/24", METRIC, &["10.99.0.5"]),
            ours("10.79.0.0/24", METRIC, &["10.99.0.5"]),
            // A previous run with another metric.
            ours("10.80.0.0/24", 50, &["10.99.0.5"]),
        ],
    );
    assert_eq!(n.mgr.installed_count(), 3);
    assert_eq!(n.mgr.state(&p("10.77.0.0/24")), Some(RouteState::Stale));
    // Peers come back: the same route is adopted without a write, a changed one is replaced.
    n.install("10.78.0.0/24", &["10.99.0.5"]);
    n.install("10.79.0.0/24", &["10.99.0.6"]);
    assert_eq!(n.sync(), [replace("10.79.0.0/24", unicast(&["10.99.0.6"]))]);
    assert!(n.mgr.installed(&p("10.78.0.0/24")));
    n.advance(Duration::from_secs(29));
    assert!(n.sync().is_empty(), "no sweep before the delay");
    n.advance(Duration::from_secs(1));
    let mut ops = n.sync();
    ops.sort_by_key(FibOp::prefix);
    assert_eq!(
        ops,
        [
            FibOp::Delete {
                prefix: p("10.77.0.0/24"),
                metric: METRIC
            },
            FibOp::Delete {
                prefix: p("10.80.0.0/24"),
                metric: 50
            },
        ]
    );
    assert_eq!(n.mgr.installed_count(), 2);
    assert_eq!(n.fib.len(), 2);
}

#[test]
fn routes_removed_or_changed_by_someone_else_are_put_back() {
    let mut n = Node::plain();
    n.install("10.244.6.0/24", &["10.99.0.2"]);
    n.sync();
    n.fib.remove_external(&p("10.244.6.0/24"), METRIC);
    n.event(KernelEvent::RouteDeleted(ours(
        "10.244.6.0/24",
        METRIC,
        &["10.99.0.2"],
    )));
    assert_eq!(
        n.sync(),
        [replace("10.244.6.0/24", unicast(&["10.99.0.2"]))]
    );
    // Changed in place with our protocol (ip route replace ... proto 179): ours again.
    n.event(KernelEvent::RouteAdded(ours(
        "10.244.6.0/24",
        METRIC,
        &["10.99.0.9"],
    )));
    assert_eq!(n.sync().len(), 1);
    assert_eq!(n.mgr.counters().repairs, 2);
    // The echo of what we wrote ourselves changes nothing.
    n.event(KernelEvent::RouteAdded(ours(
        "10.244.6.0/24",
        METRIC,
        &["10.99.0.2"],
    )));
    assert!(n.sync().is_empty());
}

#[test]
fn resync_after_overrun_repairs_the_difference() {
    let mut n = Node::plain();
    n.install("10.1.0.0/24", &["10.99.0.2"]);
    n.install("10.2.0.0/24", &["10.99.0.2"]);
    n.sync();
    n.advance(Duration::from_secs(31)); // past the sweep
                                        // While the listener was overrun: one of ours vanished, an unknown one of ours appeared.
    n.fib.remove_external(&p("10.1.0.0/24"), METRIC);
    n.fib
        .apply(&[replace("10.3.0.0/24", unicast(&["10.99.0.2"]))]);
    n.event(KernelEvent::Overrun);
    assert!(n.mgr.resync_due(n.now));
    n.resync();
    let mut ops = n.sync();
    ops.sort_by_key(FibOp::prefix);
    assert_eq!(
        ops,
        [
            replace("10.1.0.0/24", unicast(&["10.99.0.2"])),
            FibOp::Delete {
                prefix: p("10.3.0.0/24"),
                metric: METRIC
            },
        ]
    );
    assert_eq!(n.fib.routes(), n.mgr.wanted());
}

#[test]
fn link_change_asks_for_a_dump_after_a_short_delay() {
    let mut n = Node::plain();
    n.event(KernelEvent::LinkChanged { ifindex: DEV });
    assert!(!n.mgr.resync_due(n.now));
    assert!(n
        .mgr
        .next_deadline()
        .is_some_and(|t| t <= n.now + RESYNC_DEBOUNCE));
    n.advance(RESYNC_DEBOUNCE);
    assert!(n.mgr.resync_due(n.now));
    n.resync();
    assert!(!n.mgr.resync_due(n.now));
    // A link no route of ours or route we resolve through uses (a new pod's veth): no dump.
    n.event(KernelEvent::LinkChanged { ifindex: 99 });
    n.event(KernelEvent::AddressDeleted(Address {
        ifindex: 99,
        network: p("192.0.2.1/24"),
    }));
    n.advance(RESYNC_DEBOUNCE);
    assert!(!n.mgr.resync_due(n.now));
}

#[test]
fn changes_are_coalesced() {
    let mut n = Node::plain();
    n.install("10.7.0.0/24", &["10.99.0.2"]);
    n.install("10.7.0.0/24", &["10.99.0.3"]);
    n.install("10.7.0.0/24", &["10.99.0.4"]);
    n.install("10.8.0.0/24", &["10.99.0.2"]);
    n.remove("10.8.0.0/24");
    assert_eq!(n.sync(), [replace("10.7.0.0/24", unicast(&["10.99.0.4"]))]);
    // Withdrawn and announced again while a delete is due: one replace.
    n.remove("10.7.0.0/24");
    n.install("10.7.0.0/24", &["10.99.0.5"]);
    assert_eq!(n.sync(), [replace("10.7.0.0/24", unicast(&["10.99.0.5"]))]);
}

#[test]
fn kernel_errors_are_reported_per_prefix_and_retried() {
    let mut n = Node::plain();
    n.fib.fail(p("10.9.0.0/24"), Some(libc::ENETUNREACH));
    n.install("10.9.0.0/24", &["10.99.0.2"]);
    n.install("10.10.0.0/24", &["10.99.0.2"]);
    assert_eq!(n.sync().len(), 2);
    assert!(matches!(
        n.mgr.state(&p("10.9.0.0/24")),
        Some(RouteState::Failed(_))
    ));
    assert!(n.mgr.installed(&p("10.10.0.0/24")));
    assert_eq!(n.mgr.counters().errors, 1);
    assert!(n.mgr.errors().contains_key(&p("10.9.0.0/24")));
    // Retried after the back-off, and again, later, until it works.
    n.advance(Duration::from_millis(100));
    assert_eq!(n.sync().len(), 1);
    n.fib.fail(p("10.9.0.0/24"), None);
    n.advance(Duration::from_millis(199));
    assert!(n.sync().is_empty());
    n.advance(Duration::from_millis(1));
    assert_eq!(n.sync().len(), 1);
    assert!(n.mgr.installed(&p("10.9.0.0/24")));
    assert!(n.mgr.errors().is_empty());
}

#[test]
fn blackholes_for_our_pod_cidrs() {
    let mut n = Node::new(settings(), vec![]);
    let ops = n.sync();
    assert_eq!(ops.len(), 2);
    assert_eq!(
        n.fib.get(&p("10.244.1.0/24"), BLACKHOLE_METRIC),
        Some(&RouteTarget::Blackhole)
    );
    assert_eq!(
        n.fib.get(&p("fd00:10:244:1::/64"), BLACKHOLE_METRIC),
        Some(&RouteTarget::Blackhole)
    );
    // The RIB never installs our own prefixes; if it did, the blackhole would stay.
    n.install("10.244.1.0/24", &["10.99.0.2"]);
    assert!(n.sync().is_empty());
    // Someone deletes the blackhole: it comes back.
    n.fib.remove_external(&p("10.244.1.0/24"), BLACKHOLE_METRIC);
    let mut bh = ours("10.244.1.0/24", BLACKHOLE_METRIC, &[]);
    bh.kind = RTN_BLACKHOLE;
    n.event(KernelEvent::RouteDeleted(bh));
    assert_eq!(n.sync().len(), 1);
    assert_eq!(n.fib.len(), 2);
}

#[test]
fn shutdown_removes_everything_unless_retained() {
    for retain in [false, true] {
        let mut n = Node::new(
            settings(),
            vec![ours("10.77.0.0/24", METRIC, &["10.99.0.5"])],
        );
        n.install("10.244.2.0/24", &["10.99.0.2"]);
        n.install("10.244.3.0/24", &["192.0.2.1"]); // held back, nothing to remove
        n.sync();
        assert_eq!(n.fib.len(), 4);
        n.mgr.shutdown(retain);
        n.sync();
        assert_eq!(n.fib.len(), if retain { 4 } else { 0 }, "retain = {retain}");
    }
}

/// The model check: after any sequence of RIB changes and kernel events, the kernel holds
/// exactly what the manager wants.
#[test]
fn memory_twin_matches_the_wanted_state_after_random_changes() {
    let mut n = Node::new(
        settings(),
        vec![ours("10.200.0.0/24", METRIC, &["10.99.0.9"])],
    );
    let hops = ["10.99.0.2", "10.99.0.3", "10.99.0.4", "192.0.2.1"];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    for round in 0..400 {
        let prefix = format!("10.{}.{}.0/24", 200 + rnd(3), rnd(8));
        match rnd(6) {
            0 => n.remove(&prefix),
            1 => {
                let h: Vec<&str> = (0..1 + rnd(3)).map(|_| hops[rnd(4) as usize]).collect();
                n.install(&prefix, &h);
            }
            2 => n.event(KernelEvent::RouteAdded(foreign(
                "192.0.2.0/24",
                4,
                0,
                Some("10.99.0.254"),
            ))),
            3 => n.event(KernelEvent::RouteDeleted(foreign(
                "192.0.2.0/24",
                4,
                0,
                Some("10.99.0.254"),
            ))),
            _ => n.install(&prefix, &[hops[rnd(4) as usize]]),
        }
        if rnd(4) == 0 {
            n.sync();
        }
        if round == 200 {
            n.advance(Duration::from_secs(31));
        }
    }
    n.advance(Duration::from_secs(31));
    n.sync();
    assert_eq!(n.fib.routes(), n.mgr.wanted());
    let c = n.mgr.counters();
    assert_eq!(c.installed, n.fib.len());
    assert_eq!(c.pending, 0);
    // Withdraw everything: only the blackholes stay, and no next-hop set leaks.
    for x in 200..203 {
        for y in 0..8 {
            n.remove(&format!("10.{x}.{y}.0/24"));
        }
    }
    n.sync();
    assert_eq!(n.fib.len(), 2);
    assert_eq!(n.mgr.next_hop_sets(), 0);
}
