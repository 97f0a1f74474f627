//! A top-of-rack topology with BIRD 2 as the ToR: three bgpod nodes, each in its own AS
//! (65001, 65002, 65003), peer over eBGP with BIRD (AS 65000) only, never with each other.
//! BIRD passes every node's pod CIDRs on to the other nodes, and the nodes install them as
//! kernel routes. Needs root (`sudo scripts/test.sh`).
//!
//! Everything is on one fabric bridge (`10.99.0.0/24`, `fd00:99::/64`; BIRD at `.254` /
//! `::fe`). BIRD re-advertises between single-hop eBGP sessions on the same interface with
//! the next hop unchanged (BIRD's `bgp_use_next_hop`: "keep it when forwarded between
//! single-hop BGPs on the same iface"), so a node's route to another node's pods points at
//! that node's own fabric address — IPv4 and IPv6 alike — and pod traffic goes node to
//! node, not through the ToR. The ToR namespace does not forward at all here, which the
//! pings prove.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use common::pods::{node_v4, node_v6};
use common::{
    via, wait_ping, wait_until, Bgpod, BgpodConfig, BgpodPeer, Bird, BirdConfig, BirdNeighbor,
    Bridge, KernelTable, Lab, Netns, PodNode,
};

const TOR_AS: u32 = 65000;
const PROTO: u8 = 200;
const TIMEOUT: Duration = Duration::from_secs(30);
const PROMPT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);
const PING: Duration = Duration::from_secs(10);
const NODES: u8 = 3;

fn tor_v4() -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 0, 254)
}

fn tor_v6() -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 0xfe)
}

fn node_as(i: u8) -> u32 {
    65000 + u32::from(i)
}

/// Field order is drop order; the lab's log directory goes last.
struct Rack {
    nodes: Vec<PodNode>,
    tor: Netns,
    _fabric: Bridge,
    _lab: Lab,
}

impl Rack {
    fn new(test: &str) -> Rack {
        let lab = Lab::new(test);
        let fabric = lab.bridge();
        let tor = lab.netns("tor");
        fabric.attach(
            &tor,
            &[&format!("{}/24", tor_v4()), &format!("{}/64", tor_v6())],
        );
        // The ToR routes nothing: pod traffic must go node to node.
        tor.sysctl("net.ipv4.ip_forward", "0");
        tor.sysctl("net.ipv6.conf.all.forwarding", "0");
        let nodes = (1..=NODES)
            .map(|i| PodNode::new(&lab, &fabric, i, 1))
            .collect();
        Rack {
            nodes,
            tor,
            _fabric: fabric,
            _lab: lab,
        }
    }

    fn node(&self, i: u8) -> &PodNode {
        &self.nodes[usize::from(i) - 1]
    }

    /// BIRD: one eBGP session per node over IPv4, both address families, exporting
    /// everything it learned.
    fn start_bird(&self) -> Bird {
        let config = (1..=NODES).fold(BirdConfig::new(tor_v4(), TOR_AS), |c, i| {
            c.neighbor(
                BirdNeighbor::new(self.node(i).v4(), node_as(i))
                    .local(IpAddr::V4(tor_v4()))
                    .channels(true, true)
                    .v6_next_hop(tor_v6())
                    .export("all"),
            )
        });
        Bird::start(&self.tor, "tor", &config)
    }

    /// Node `i`: its pod CIDRs, BIRD as its only peer, kernel routes with [`PROTO`].
    fn start_node(&self, i: u8) -> Bgpod<'_> {
        let n = self.node(i);
        let config = BgpodConfig::new(node_v4(i), node_as(i))
            .pod_cidr(&n.pod_cidrs()[0])
            .pod_cidr(&n.pod_cidrs()[1])
            .local_v6_next_hop(node_v6(i))
            .fib_enabled(true)
            .fib_protocol(PROTO)
            .peer(BgpodPeer::new(IpAddr::V4(tor_v4()), TOR_AS));
        Bgpod::start(&n.ns, &format!("node{i}"), &config)
    }

    /// `Ok` once node `at` has node `from`'s pod CIDRs from BIRD (AS path ToR, node) and
    /// in its kernel via `from`'s own fabric addresses.
    fn expect_learned(&self, at: u8, daemon: &Bgpod, from: u8) -> Result<(), String> {
        let [v4, v6] = self.node(from).pod_cidrs();
        let tor = IpAddr::V4(tor_v4());
        let path = [TOR_AS, node_as(from)];
        let (nh4, nh6) = (IpAddr::V4(node_v4(from)), IpAddr::V6(node_v6(from)));
        daemon.expect_route(&v4, tor, nh4, &path)?;
        daemon.expect_route(&v6, tor, nh6, &path)?;
        let kernel = KernelTable::new(&self.node(at).ns, PROTO);
        let dev = &self.node(at).fabric_if;
        kernel.expect_via(&v4, &[via(nh4, dev)])?;
        kernel.expect_via(&v6, &[via(nh6, dev)])?;
        Ok(())
    }

    fn expect_gone(&self, at: u8, from: u8) -> Result<(), String> {
        let kernel = KernelTable::new(&self.node(at).ns, PROTO);
        for p in self.node(from).pod_cidrs() {
            kernel.expect_absent(&p)?;
        }
        Ok(())
    }

    fn wait_converged(&self, bird: &Bird, daemons: &[Bgpod]) {
        let tor = IpAddr::V4(tor_v4());
        for (i, d) in (1..).zip(daemons) {
            wait_until(TIMEOUT, POLL, || d.established(tor));
            wait_until(TIMEOUT, POLL, || bird.established(self.node(i).v4()));
        }
        for (i, d) in (1..).zip(daemons) {
            for j in (1..=NODES).filter(|&j| j != i) {
                wait_until(TIMEOUT, POLL, || self.expect_learned(i, d, j));
            }
        }
    }

    /// Every node's pod pings every other node's pod, IPv4 and IPv6.
    fn ping_all(&self) {
        for a in &self.nodes {
            for b in self.nodes.iter().filter(|b| b.index != a.index) {
                for addr in b.pod_addrs(0) {
                    wait_ping(&a.pods[0], addr, PING);
                }
            }
        }
    }
}

/// Nodes learn each other's pod CIDRs through BIRD only: BGP next hop and kernel next hop
/// are the originating node's fabric address (BIRD keeps third-party next hops on a shared
/// subnet), AS path ToR then node; BIRD has every node's CIDRs; pods ping pods across
/// nodes over IPv4 and IPv6 with the ToR not forwarding.
#[test]
fn nodes_learn_pod_cidrs_through_bird_and_pods_reach_each_other() {
    let rack = Rack::new("tor-mesh");
    let bird = rack.start_bird();
    let daemons: Vec<Bgpod> = (1..=NODES).map(|i| rack.start_node(i)).collect();
    rack.wait_converged(&bird, &daemons);
    for i in 1..=NODES {
        let [v4, v6] = rack.node(i).pod_cidrs();
        let (a4, a6) = (IpAddr::V4(node_v4(i)), IpAddr::V6(node_v6(i)));
        wait_until(TIMEOUT, POLL, || bird.expect_route(&v4, a4, &[node_as(i)]));
        wait_until(TIMEOUT, POLL, || bird.expect_route(&v6, a6, &[node_as(i)]));
    }
    rack.ping_all();
}

/// A node that stops (SIGTERM, Cease to BIRD) leaves the other nodes' kernels promptly —
/// BIRD withdraws it from them at once — and comes back when it restarts.
#[test]
fn stopped_node_is_withdrawn_through_bird_and_comes_back() {
    let rack = Rack::new("tor-stop");
    let bird = rack.start_bird();
    let mut daemons: Vec<Bgpod> = (1..=NODES).map(|i| rack.start_node(i)).collect();
    rack.wait_converged(&bird, &daemons);

    let start = Instant::now();
    daemons[2].stop();
    for i in [1, 2] {
        wait_until(PROMPT, POLL, || rack.expect_gone(i, 3));
    }
    eprintln!(
        "node 3's pod CIDRs left the other kernels {:?} after SIGTERM",
        start.elapsed()
    );
    rack.expect_learned(1, &daemons[0], 2)
        .and_then(|()| rack.expect_learned(2, &daemons[1], 1))
        .unwrap_or_else(|e| panic!("node 3 took other routes along: {e}"));

    daemons[2] = rack.start_node(3);
    rack.wait_converged(&bird, &daemons);
    rack.ping_all();
}
