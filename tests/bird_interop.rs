//! bgpod (AS 64512) and BIRD 2 (AS 65001), eBGP, both ways round: bgpod active with BIRD
//! passive, and BIRD active with bgpod passive. Pod CIDRs one way, BIRD's static prefixes
//! the other, IPv4 and IPv6. Needs root (`sudo scripts/test.sh`).
//!
//! BIRD sends IPv6 routes with a global and a link-local next hop (RFC 2545 §3, 32-byte
//! next hop) whenever its interface has a link-local address, as it has here: bgpod must
//! take the global one.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::{
    addr_of, veth_pair, wait_until, Bgpod, BgpodConfig, BgpodPeer, Bird, BirdConfig, BirdNeighbor,
    Lab, Netns,
};

const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(200);

const BGPOD_AS: u32 = 64512;
const BIRD_AS: u32 = 65001;
const BGPOD_V4: &str = "10.0.0.1/24";
const BGPOD_V6: &str = "fd00::1/64";
const BIRD_V4: &str = "10.0.0.2/24";
const BIRD_V6: &str = "fd00::2/64";
const PODS: [&str; 2] = ["10.244.1.0/24", "fd00:10:244:1::/64"];
const BIRD_PREFIXES: [&str; 2] = ["10.201.0.0/24", "fd00:201::/64"];

struct Topo {
    bgpod: Netns,
    bird: Netns,
    _lab: Lab,
}

fn topo(test: &str) -> Topo {
    let lab = Lab::new(test);
    let bgpod = lab.netns("bgpod");
    let bird = lab.netns("bird");
    veth_pair(&bgpod, &[BGPOD_V4, BGPOD_V6], &bird, &[BIRD_V4, BIRD_V6]);
    Topo {
        bgpod,
        bird,
        _lab: lab,
    }
}

fn v6(cidr: &str) -> Ipv6Addr {
    match addr_of(cidr) {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => panic!("{a} is not IPv6"),
    }
}

fn bgpod_config(peers: Vec<BgpodPeer>) -> BgpodConfig {
    let c = BgpodConfig::new(Ipv4Addr::new(10, 0, 0, 1), BGPOD_AS)
        .pod_cidr(PODS[0])
        .pod_cidr(PODS[1])
        .local_v6_next_hop(v6(BGPOD_V6));
    peers.into_iter().fold(c, BgpodConfig::peer)
}

fn bird_config(neighbors: Vec<BirdNeighbor>) -> BirdConfig {
    let c = BirdConfig::new(Ipv4Addr::new(10, 0, 0, 2), BIRD_AS)
        .announce(BIRD_PREFIXES[0])
        .announce(BIRD_PREFIXES[1]);
    neighbors.into_iter().fold(c, BirdConfig::neighbor)
}

/// BIRD has bgpod's pod CIDRs (AS path 64512, next hop bgpod's address), bgpod has BIRD's
/// prefixes (AS path 65001, next hop BIRD's global address) from `v4_peer`/`v6_peer`.
fn check_exchange(bgpod: &Bgpod, bird: &Bird, v4_peer: IpAddr, v6_peer: IpAddr) {
    wait_until(TIMEOUT, POLL, || {
        bird.expect_route(PODS[0], addr_of(BGPOD_V4), &[BGPOD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        bird.expect_route(PODS[1], addr_of(BGPOD_V6), &[BGPOD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_route(BIRD_PREFIXES[0], v4_peer, addr_of(BIRD_V4), &[BIRD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_route(BIRD_PREFIXES[1], v6_peer, addr_of(BIRD_V6), &[BIRD_AS])
    });
}

/// Every established BGP connection in `ns` has port 179 on its local side: `ns` accepted
/// them all, the other side connected.
fn assert_accepted_all(ns: &Netns, want: usize) {
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

/// bgpod connects; BIRD (`passive on`) waits. One IPv4 session carries IPv4 and IPv6
/// unicast: bgpod's IPv6 routes carry `local_v6_next_hop`, BIRD's its `next hop address`.
#[test]
fn bgpod_active_bird_passive_ipv4_session_carries_both_families() {
    let t = topo("bird-act");
    let (bgpod_ip, bird_ip) = (addr_of(BGPOD_V4), addr_of(BIRD_V4));
    let bird = Bird::start(
        &t.bird,
        "bird",
        &bird_config(vec![BirdNeighbor::new(bgpod_ip, BGPOD_AS)
            .local(bird_ip)
            .passive()
            .channels(true, true)
            .v6_next_hop(v6(BIRD_V6))]),
    );
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &bgpod_config(vec![BgpodPeer::new(bird_ip, BIRD_AS)]),
    );

    wait_until(TIMEOUT, POLL, || bgpod.established(bird_ip));
    wait_until(TIMEOUT, POLL, || bird.established(bgpod_ip));
    check_exchange(&bgpod, &bird, bird_ip, bird_ip);
    assert_accepted_all(&t.bird, 1);
}

/// BIRD connects; bgpod (`passive = true`) waits. Two sessions: IPv4 unicast over IPv4,
/// IPv6 unicast over IPv6.
#[test]
fn bird_active_bgpod_passive_ipv4_and_ipv6_sessions() {
    let t = topo("bird-pas");
    let (bgpod_ip, bird_ip) = (addr_of(BGPOD_V4), addr_of(BIRD_V4));
    let (bgpod_ip6, bird_ip6) = (addr_of(BGPOD_V6), addr_of(BIRD_V6));
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &bgpod_config(vec![
            BgpodPeer::new(bird_ip, BIRD_AS).passive(),
            BgpodPeer::new(bird_ip6, BIRD_AS).passive(),
        ]),
    );
    let bird = Bird::start(
        &t.bird,
        "bird",
        &bird_config(vec![
            BirdNeighbor::new(bgpod_ip, BGPOD_AS).local(bird_ip),
            BirdNeighbor::new(bgpod_ip6, BGPOD_AS)
                .local(bird_ip6)
                .channels(false, true),
        ]),
    );

    for peer in [bird_ip, bird_ip6] {
        wait_until(TIMEOUT, POLL, || bgpod.established(peer));
    }
    for peer in [bgpod_ip, bgpod_ip6] {
        wait_until(TIMEOUT, POLL, || bird.established(peer));
    }
    check_exchange(&bgpod, &bird, bird_ip, bird_ip6);
    assert_accepted_all(&t.bgpod, 2);
}
