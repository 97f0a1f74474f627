//! The bgpod ↔ third-party speaker scenario shared by `bird_interop.rs` and `frr_interop.rs`:
//! one veth between a bgpod namespace (10.0.0.1, fd00::1, AS 64512) and a speaker namespace
//! (10.0.0.2, fd00::2); bgpod announces its pod CIDRs, the speaker two prefixes of its own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{addr_of, veth_pair, wait_until, Bgpod, BgpodConfig, BgpodPeer, Bird, Frr, Lab, Netns};

pub const TIMEOUT: Duration = Duration::from_secs(30);
pub const POLL: Duration = Duration::from_millis(200);

pub const BGPOD_AS: u32 = 64512;
pub const BGPOD_V4: &str = "10.0.0.1/24";
pub const BGPOD_V6: &str = "fd00::1/64";
pub const PEER_V4: &str = "10.0.0.2/24";
pub const PEER_V6: &str = "fd00::2/64";
pub const PEER_ROUTER_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PODS: [&str; 2] = ["10.244.1.0/24", "fd00:10:244:1::/64"];

/// The two namespaces; the log directory goes last so it outlives them.
pub struct InteropTopo {
    pub bgpod: Netns,
    pub peer: Netns,
    _lab: Lab,
}

/// bgpod's namespace and the speaker's (named `role`), joined by a veth.
pub fn interop_topo(test: &str, role: &str) -> InteropTopo {
    let lab = Lab::new(test);
    let bgpod = lab.netns("bgpod");
    let peer = lab.netns(role);
    veth_pair(&bgpod, &[BGPOD_V4, BGPOD_V6], &peer, &[PEER_V4, PEER_V6]);
    InteropTopo {
        bgpod,
        peer,
        _lab: lab,
    }
}

/// The IPv6 address of an `addr/len` string.
pub fn v6(cidr: &str) -> Ipv6Addr {
    match addr_of(cidr) {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => panic!("{a} is not IPv6"),
    }
}

/// bgpod with the pod CIDRs, its IPv6 next hop for IPv6 over IPv4 sessions, and `peers`.
pub fn interop_bgpod_config(peers: Vec<BgpodPeer>) -> BgpodConfig {
    let c = BgpodConfig::new(Ipv4Addr::new(10, 0, 0, 1), BGPOD_AS)
        .pod_cidr(PODS[0])
        .pod_cidr(PODS[1])
        .local_v6_next_hop(v6(BGPOD_V6));
    peers.into_iter().fold(c, BgpodConfig::peer)
}

/// A third-party speaker that can say whether it holds a route.
pub trait Speaker {
    /// `Ok` once `prefix` is the speaker's best route with this next hop and AS path.
    fn has_route(&self, prefix: &str, next_hop: IpAddr, as_path: &[u32]) -> Result<(), String>;
}

impl Speaker for Bird {
    fn has_route(&self, prefix: &str, next_hop: IpAddr, as_path: &[u32]) -> Result<(), String> {
        self.expect_route(prefix, next_hop, as_path).map(drop)
    }
}

impl Speaker for Frr {
    fn has_route(&self, prefix: &str, next_hop: IpAddr, as_path: &[u32]) -> Result<(), String> {
        self.expect_route(prefix, next_hop, as_path).map(drop)
    }
}

/// The speaker has bgpod's pod CIDRs (AS path 64512, next hop bgpod's address); bgpod has the
/// speaker's `prefixes` (AS path `speaker_as`, next hop the speaker's global address) from
/// `v4_peer` / `v6_peer`.
pub fn check_exchange(
    bgpod: &Bgpod,
    speaker: &impl Speaker,
    speaker_as: u32,
    prefixes: [&str; 2],
    v4_peer: IpAddr,
    v6_peer: IpAddr,
) {
    wait_until(TIMEOUT, POLL, || {
        speaker.has_route(PODS[0], addr_of(BGPOD_V4), &[BGPOD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        speaker.has_route(PODS[1], addr_of(BGPOD_V6), &[BGPOD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_route(prefixes[0], v4_peer, addr_of(PEER_V4), &[speaker_as])
    });
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_route(prefixes[1], v6_peer, addr_of(PEER_V6), &[speaker_as])
    });
}

/// Every established BGP connection in `ns` has port 179 on its local side: `ns` accepted
/// them all, the other side connected.
pub fn assert_accepted_all(ns: &Netns, want: usize) {
    let conns = ns.tcp_established(179);
    assert_eq!(
        conns.len(),
        want,
        "BGP connections in {}: {conns:?}",
        ns.name()
    );
    for c in &conns {
        let local = c.split(' ').next().unwrap_or_default();
        assert!(local.ends_with(":179"), "{} connected out: {c}", ns.name());
    }
}
