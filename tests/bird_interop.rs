//! bgpod (AS 64512) and BIRD 2 (AS 65001), eBGP, both ways round: bgpod active with BIRD
//! passive, and BIRD active with bgpod passive. Pod CIDRs one way, BIRD's static prefixes
//! the other, IPv4 and IPv6. Needs root (`sudo scripts/test.sh`).
//!
//! BIRD sends IPv6 routes with a global and a link-local next hop (RFC 2545 §3, 32-byte
//! next hop) whenever its interface has a link-local address, as it has here: bgpod must
//! take the global one.

mod common;

use common::interop::{
    assert_accepted_all, check_exchange, interop_bgpod_config, interop_topo, v6, BGPOD_AS,
    BGPOD_V4, BGPOD_V6, PEER_ROUTER_ID, PEER_V4, PEER_V6, POLL, TIMEOUT,
};
use common::{addr_of, wait_until, Bgpod, BgpodPeer, Bird, BirdConfig, BirdNeighbor};

const BIRD_AS: u32 = 65001;
const BIRD_PREFIXES: [&str; 2] = ["10.201.0.0/24", "fd00:201::/64"];

fn bird_config(neighbors: Vec<BirdNeighbor>) -> BirdConfig {
    let c = BirdConfig::new(PEER_ROUTER_ID, BIRD_AS)
        .announce(BIRD_PREFIXES[0])
        .announce(BIRD_PREFIXES[1]);
    neighbors.into_iter().fold(c, BirdConfig::neighbor)
}

/// bgpod connects; BIRD (`passive on`) waits. One IPv4 session carries IPv4 and IPv6
/// unicast: bgpod's IPv6 routes carry `local_v6_next_hop`, BIRD's its `next hop address`.
#[test]
fn bgpod_active_bird_passive_ipv4_session_carries_both_families() {
    let t = interop_topo("bird-act", "bird");
    let (bgpod_ip, bird_ip) = (addr_of(BGPOD_V4), addr_of(PEER_V4));
    let bird = Bird::start(
        &t.peer,
        "bird",
        &bird_config(vec![BirdNeighbor::new(bgpod_ip, BGPOD_AS)
            .local(bird_ip)
            .passive()
            .channels(true, true)
            .v6_next_hop(v6(PEER_V6))]),
    );
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &interop_bgpod_config(vec![BgpodPeer::new(bird_ip, BIRD_AS)]),
    );

    wait_until(TIMEOUT, POLL, || bgpod.established(bird_ip));
    wait_until(TIMEOUT, POLL, || bird.established(bgpod_ip));
    check_exchange(&bgpod, &bird, BIRD_AS, BIRD_PREFIXES, bird_ip, bird_ip);
    assert_accepted_all(&t.peer, 1);
}

/// BIRD connects; bgpod (`passive = true`) waits. Two sessions: IPv4 unicast over IPv4,
/// IPv6 unicast over IPv6.
#[test]
fn bird_active_bgpod_passive_ipv4_and_ipv6_sessions() {
    let t = interop_topo("bird-pas", "bird");
    let (bgpod_ip, bird_ip) = (addr_of(BGPOD_V4), addr_of(PEER_V4));
    let (bgpod_ip6, bird_ip6) = (addr_of(BGPOD_V6), addr_of(PEER_V6));
    let bgpod = Bgpod::start(
        &t.bgpod,
        "bgpod",
        &interop_bgpod_config(vec![
            BgpodPeer::new(bird_ip, BIRD_AS).passive(),
            BgpodPeer::new(bird_ip6, BIRD_AS).passive(),
        ]),
    );
    let bird = Bird::start(
        &t.peer,
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
    check_exchange(&bgpod, &bird, BIRD_AS, BIRD_PREFIXES, bird_ip, bird_ip6);
    assert_accepted_all(&t.bgpod, 2);
}
