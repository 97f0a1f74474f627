//! bgpod (AS 64512) and FRR 8.4 (AS 65002), eBGP, both ways round: bgpod active with FRR
//! passive, and FRR active with bgpod passive. Pod CIDRs one way, FRR's `network` prefixes
//! the other, IPv4 and IPv6. Needs root (`sudo scripts/test.sh`).
//!
//! FRR runs as in production, bgpd with zebra (`-n`: no kernel routes): bgpd alone knows no
//! interface and would drop IPv6 routes with a link-local next hop, which a correct speaker
//! may send (RFC 2545 §3). With zebra FRR also sends its own global + link-local next hop:
//! bgpod must use the global one.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::{
    addr_of, veth_pair, wait_until, Bgpod, BgpodConfig, BgpodPeer, Frr, FrrConfig, FrrNeighbor,
    Lab, Netns,
};

const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(200);

const BGPOD_AS: u32 = 64512;
const FRR_AS: u32 = 65002;
const BGPOD_V4: &str = "10.0.0.1/24";
const BGPOD_V6: &str = "fd00::1/64";
const FRR_V4: &str = "10.0.0.2/24";
const FRR_V6: &str = "fd00::2/64";
const PODS: [&str; 2] = ["10.244.1.0/24", "fd00:10:244:1::/64"];
const FRR_PREFIXES: [&str; 2] = ["10.202.0.0/24", "fd00:202::/64"];

struct Topo {
    bgpod: Netns,
    frr: Netns,
    _lab: Lab,
}

fn topo(test: &str) -> Topo {
    let lab = Lab::new(test);
    let bgpod = lab.netns("bgpod");
    let frr = lab.netns("frr");
    veth_pair(&bgpod, &[BGPOD_V4, BGPOD_V6], &frr, &[FRR_V4, FRR_V6]);
    Topo {
        bgpod,
        frr,
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

fn frr_config(neighbors: Vec<FrrNeighbor>) -> FrrConfig {
    let c = FrrConfig::new(Ipv4Addr::new(10, 0, 0, 2), FRR_AS)
        .with_zebra()
        .announce(FRR_PREFIXES[0])
        .announce(FRR_PREFIXES[1]);
    neighbors.into_iter().fold(c, FrrConfig::neighbor)
}

/// FRR has bgpod's pod CIDRs (AS path 64512, next hop bgpod's address), bgpod has FRR's
/// prefixes (AS path 65002, next hop FRR's address) from `v4_peer`/`v6_peer`.
fn check_exchange(bgpod: &Bgpod, frr: &Frr, v4_peer: IpAddr, v6_peer: IpAddr) {
    wait_until(TIMEOUT, POLL, || {
        frr.expect_route(PODS[0], addr_of(BGPOD_V4), &[BGPOD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        frr.expect_route(PODS[1], addr_of(BGPOD_V6), &[BGPOD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_route(FRR_PREFIXES[0], v4_peer, addr_of(FRR_V4), &[FRR_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_route(FRR_PREFIXES[1], v6_peer, addr_of(FRR_V6), &[FRR_AS])
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

/// bgpod connects; FRR (`neighbor passive`) waits. One IPv4 session carries IPv4 and IPv6
/// unicast: bgpod's IPv6 routes carry `local_v6_next_hop`, FRR's its interface's address.
#[test]
fn bgpod_active_frr_passive_ipv4_session_carries_both_families() {
    let t = topo("frr-act");
    let (bgpod_ip, frr_ip) = (addr_of(BGPOD_V4), addr_of(FRR_V4));
    let frr = Frr::start(
        &t.frr,
        "frr",
        &frr_config(vec![FrrNeighbor::new(bgpod_ip, BGPOD_AS)
            .passive()
            .families(true, true)]),
    );
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &bgpod_config(vec![BgpodPeer::new(frr_ip, FRR_AS)]),
    );

    wait_until(TIMEOUT, POLL, || bgpod.established(frr_ip));
    wait_until(TIMEOUT, POLL, || frr.established(bgpod_ip));
    check_exchange(&bgpod, &frr, frr_ip, frr_ip);
    assert_accepted_all(&t.frr, 1);
}

/// FRR connects; bgpod (`passive = true`) waits. Two sessions: IPv4 unicast over IPv4,
/// IPv6 unicast over IPv6.
#[test]
fn frr_active_bgpod_passive_ipv4_and_ipv6_sessions() {
    let t = topo("frr-pas");
    let (bgpod_ip, frr_ip) = (addr_of(BGPOD_V4), addr_of(FRR_V4));
    let (bgpod_ip6, frr_ip6) = (addr_of(BGPOD_V6), addr_of(FRR_V6));
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &bgpod_config(vec![
            BgpodPeer::new(frr_ip, FRR_AS).passive(),
            BgpodPeer::new(frr_ip6, FRR_AS).passive(),
        ]),
    );
    let frr = Frr::start(
        &t.frr,
        "frr",
        &frr_config(vec![
            FrrNeighbor::new(bgpod_ip, BGPOD_AS),
            FrrNeighbor::new(bgpod_ip6, BGPOD_AS).families(false, true),
        ]),
    );

    for peer in [frr_ip, frr_ip6] {
        wait_until(TIMEOUT, POLL, || bgpod.established(peer));
    }
    for peer in [bgpod_ip, bgpod_ip6] {
        wait_until(TIMEOUT, POLL, || frr.established(peer));
    }
    check_exchange(&bgpod, &frr, frr_ip, frr_ip6);
    assert_accepted_all(&t.bgpod, 2);
}
