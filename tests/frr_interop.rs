//! bgpod (AS 64512) and FRR 8.4 (AS 65002), eBGP, both ways round: bgpod active with FRR
//! passive, and FRR active with bgpod passive. Pod CIDRs one way, FRR's `network` prefixes
//! the other, IPv4 and IPv6. Needs root (`sudo scripts/test.sh`).
//!
//! FRR runs as in production, bgpd with zebra (`-n`: no kernel routes): bgpd alone knows no
//! interface and would drop IPv6 routes with a link-local next hop, which a correct speaker
//! may send (RFC 2545 §3). With zebra FRR also sends its own global + link-local next hop:
//! bgpod must use the global one.

mod common;

use common::interop::{
    assert_accepted_all, check_exchange, interop_bgpod_config, interop_topo, BGPOD_AS, BGPOD_V4,
    BGPOD_V6, PEER_ROUTER_ID, PEER_V4, PEER_V6, POLL, TIMEOUT,
};
use common::{addr_of, wait_until, Bgpod, BgpodPeer, Frr, FrrConfig, FrrNeighbor};

const FRR_AS: u32 = 65002;
const FRR_PREFIXES: [&str; 2] = ["10.202.0.0/24", "fd00:202::/64"];

fn frr_config(neighbors: Vec<FrrNeighbor>) -> FrrConfig {
    let c = FrrConfig::new(PEER_ROUTER_ID, FRR_AS)
        .with_zebra()
        .announce(FRR_PREFIXES[0])
        .announce(FRR_PREFIXES[1]);
    neighbors.into_iter().fold(c, FrrConfig::neighbor)
}

/// bgpod connects; FRR (`neighbor passive`) waits. One IPv4 session carries IPv4 and IPv6
/// unicast: bgpod's IPv6 routes carry `local_v6_next_hop`, FRR's its interface's address.
#[test]
fn bgpod_active_frr_passive_ipv4_session_carries_both_families() {
    let t = interop_topo("frr-act", "frr");
    let (bgpod_ip, frr_ip) = (addr_of(BGPOD_V4), addr_of(PEER_V4));
    let frr = Frr::start(
        &t.peer,
        "frr",
        &frr_config(vec![FrrNeighbor::new(bgpod_ip, BGPOD_AS)
            .passive()
            .families(true, true)]),
    );
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &interop_bgpod_config(vec![BgpodPeer::new(frr_ip, FRR_AS)]),
    );

    wait_until(TIMEOUT, POLL, || bgpod.established(frr_ip));
    wait_until(TIMEOUT, POLL, || frr.established(bgpod_ip));
    check_exchange(&bgpod, &frr, FRR_AS, FRR_PREFIXES, frr_ip, frr_ip);
    assert_accepted_all(&t.peer, 1);
}

/// FRR connects; bgpod (`passive = true`) waits. Two sessions: IPv4 unicast over IPv4,
/// IPv6 unicast over IPv6.
#[test]
fn frr_active_bgpod_passive_ipv4_and_ipv6_sessions() {
    let t = interop_topo("frr-pas", "frr");
    let (bgpod_ip, frr_ip) = (addr_of(BGPOD_V4), addr_of(PEER_V4));
    let (bgpod_ip6, frr_ip6) = (addr_of(BGPOD_V6), addr_of(PEER_V6));
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &interop_bgpod_config(vec![
            BgpodPeer::new(frr_ip, FRR_AS).passive(),
            BgpodPeer::new(frr_ip6, FRR_AS).passive(),
        ]),
    );
    let frr = Frr::start(
        &t.peer,
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
    check_exchange(&bgpod, &frr, FRR_AS, FRR_PREFIXES, frr_ip, frr_ip6);
    assert_accepted_all(&t.bgpod, 2);
}
