//! Equal-cost multipath in the kernel: a node (bgpod, AS 64512) with two eBGP neighbours in
//! the same AS (65001), each on its own link, both announcing the same prefixes with equal
//! attributes. The node's kernel must hold one multipath route per prefix (one next hop per
//! neighbour, each on its own device), fall back to a single path when a neighbour goes,
//! and hold a single path with `max_paths = 1`. The neighbours are two bgpod instances, or
//! two BIRDs. Needs root (`sudo scripts/test.sh`).
//!
//! Addresses: link 1 `10.0.1.0/24` / `fd00:1::/64`, link 2 `10.0.2.0/24` / `fd00:2::/64`; the
//! node is `.1` / `::1` on both, neighbour `k` is `.2` / `::2` on link `k`. The neighbours
//! also hold the first address of the shared prefix on `lo`, so the node can ping it over
//! either path.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::{
    holds_for, veth_pair, via, wait_ping, wait_until, Bgpod, BgpodConfig, BgpodPeer, Bird,
    BirdConfig, BirdNeighbor, KernelTable, Lab, Netns, NextHop,
};

const NODE_AS: u32 = 64512;
const PEER_AS: u32 = 65001;
const PROTO: u8 = 200;
const TIMEOUT: Duration = Duration::from_secs(30);
const PROMPT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);
const PING: Duration = Duration::from_secs(10);
/// The prefixes both neighbours announce, and the address of each the neighbours hold.
const SHARED: [&str; 2] = ["10.200.0.0/24", "fd00:200::/64"];
const SHARED_ADDRS: [&str; 2] = ["10.200.0.1", "fd00:200::1"];

/// Neighbour `k`'s (1 or 2) addresses on its link.
fn peer_v4(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, k, 2)
}

fn peer_v6(k: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, u16::from(k), 0, 0, 0, 0, 0, 2)
}

/// Field order is drop order; the lab's log directory goes last.
struct Topo {
    node: Netns,
    peers: [Netns; 2],
    /// The node's interface towards neighbour 1 and 2.
    node_ifs: [String; 2],
    _lab: Lab,
}

impl Topo {
    fn new(test: &str) -> Topo {
        let lab = Lab::new(test);
        let node = lab.netns("node");
        let peers = [lab.netns("peer1"), lab.netns("peer2")];
        let mut node_ifs = Vec::new();
        for (k, peer) in (1u8..).zip(&peers) {
            let (nif, _) = veth_pair(
                &node,
                &[&format!("10.0.{k}.1/24"), &format!("fd00:{k}::1/64")],
                peer,
                &[&format!("{}/24", peer_v4(k)), &format!("{}/64", peer_v6(k))],
            );
            peer.add_addrs("lo", &[&format!("{}/32", SHARED_ADDRS[0])]);
            peer.add_addrs("lo", &[&format!("{}/128", SHARED_ADDRS[1])]);
            node_ifs.push(nif);
        }
        let [if1, if2] = <[String; 2]>::try_from(node_ifs).expect("two links");
        Topo {
            node,
            peers,
            node_ifs: [if1, if2],
            _lab: lab,
        }
    }

    /// The node's config: both neighbours, kernel routes with [`PROTO`].
    fn node_config(&self) -> BgpodConfig {
        BgpodConfig::new(Ipv4Addr::new(10, 0, 1, 1), NODE_AS)
            .fib_enabled(true)
            .fib_protocol(PROTO)
            .peer(BgpodPeer::new(IpAddr::V4(peer_v4(1)), PEER_AS))
            .peer(BgpodPeer::new(IpAddr::V4(peer_v4(2)), PEER_AS))
    }

    fn kernel(&self) -> KernelTable<'_> {
        KernelTable::new(&self.node, PROTO)
    }

    /// The next hop through neighbour `k` for a prefix of the family of `prefix`.
    fn hop(&self, prefix: &str, k: u8) -> NextHop {
        let gw = if prefix.contains(':') {
            IpAddr::V6(peer_v6(k))
        } else {
            IpAddr::V4(peer_v4(k))
        };
        via(gw, &self.node_ifs[usize::from(k) - 1])
    }

    /// `Ok` once every shared prefix is one route through exactly the neighbours `ks`.
    fn expect_paths(&self, ks: &[u8]) -> Result<(), String> {
        for p in SHARED {
            let want: Vec<NextHop> = ks.iter().map(|&k| self.hop(p, k)).collect();
            self.kernel().expect_via(p, &want)?;
        }
        Ok(())
    }

    /// The node reaches the neighbours' shared addresses.
    fn ping_shared(&self) {
        for a in SHARED_ADDRS {
            wait_ping(&self.node, a.parse().expect("address"), PING);
        }
    }
}

/// A bgpod neighbour `k` announcing [`SHARED`] as its pod CIDRs (no kernel routes of its own).
fn start_bgpod_peer<'a>(t: &'a Topo, k: u8) -> Bgpod<'a> {
    let config = BgpodConfig::new(peer_v4(k), PEER_AS)
        .pod_cidr(SHARED[0])
        .pod_cidr(SHARED[1])
        .local_v6_next_hop(peer_v6(k))
        .peer(BgpodPeer::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, k, 1)),
            NODE_AS,
        ));
    Bgpod::start(&t.peers[usize::from(k) - 1], &format!("peer{k}"), &config)
}

/// Both paths selected: one multipath route per prefix, a next hop on each link. When
/// neighbour 1 stops (SIGTERM), the route becomes a single path through neighbour 2; when
/// it comes back, multipath again. The shared addresses answer throughout.
#[test]
fn two_equal_bgpod_paths_become_one_multipath_route() {
    let t = Topo::new("ecmp-bgpod");
    let node = Bgpod::start(&t.node, "node", &t.node_config());
    let mut peers = [start_bgpod_peer(&t, 1), start_bgpod_peer(&t, 2)];
    for k in [1, 2] {
        wait_until(TIMEOUT, POLL, || node.established(IpAddr::V4(peer_v4(k))));
    }
    wait_until(TIMEOUT, POLL, || t.expect_paths(&[1, 2]));
    t.ping_shared();

    peers[0].stop();
    wait_until(PROMPT, POLL, || t.expect_paths(&[2]));
    t.ping_shared();

    peers[0] = start_bgpod_peer(&t, 1);
    wait_until(TIMEOUT, POLL, || t.expect_paths(&[1, 2]));
    t.ping_shared();
}

/// `max_paths = 1`: bgpod has both paths but installs one, through the neighbour with the
/// lower BGP Identifier (RFC 4271 §9.1.2.2 (f)), neighbour 1 — and stays there.
#[test]
fn max_paths_one_installs_a_single_path() {
    let t = Topo::new("ecmp-max1");
    let node = Bgpod::start(&t.node, "node", &t.node_config().max_paths(1));
    let _peers = [start_bgpod_peer(&t, 1), start_bgpod_peer(&t, 2)];
    for p in SHARED {
        wait_until(TIMEOUT, POLL, || {
            let n = node.routes()?.paths(p).len();
            if n == 2 {
                Ok(())
            } else {
                Err(format!("node has {n} paths to {p}, want 2"))
            }
        });
    }
    wait_until(TIMEOUT, POLL, || t.expect_paths(&[1]));
    holds_for(Duration::from_secs(1), POLL, || t.expect_paths(&[1]));
    t.ping_shared();
}

/// The same with two BIRDs (both AS 65001) announcing static routes: one multipath route;
/// single path through BIRD 2 once BIRD 1 has shut down (SIGTERM).
#[test]
fn two_equal_bird_paths_become_one_multipath_route() {
    let t = Topo::new("ecmp-bird");
    let node = Bgpod::start(&t.node, "node", &t.node_config());
    let birds: Vec<Bird> = [1u8, 2]
        .iter()
        .map(|&k| {
            let config = BirdConfig::new(peer_v4(k), PEER_AS)
                .announce(SHARED[0])
                .announce(SHARED[1])
                .neighbor(
                    BirdNeighbor::new(IpAddr::V4(Ipv4Addr::new(10, 0, k, 1)), NODE_AS)
                        .local(IpAddr::V4(peer_v4(k)))
                        .channels(true, true)
                        .v6_next_hop(peer_v6(k)),
                );
            Bird::start(&t.peers[usize::from(k) - 1], &format!("bird{k}"), &config)
        })
        .collect();
    for k in [1, 2] {
        wait_until(TIMEOUT, POLL, || node.established(IpAddr::V4(peer_v4(k))));
    }
    wait_until(TIMEOUT, POLL, || t.expect_paths(&[1, 2]));
    t.ping_shared();

    birds[0].proc().terminate();
    wait_until(PROMPT, POLL, || t.expect_paths(&[2]));
    t.ping_shared();
}
