//! Two bgpod nodes (iBGP, AS 64512) on a veth: session, pod CIDR exchange over one IPv4
//! session (IPv4 and IPv6 unicast), graceful shutdown, hold timer expiry.
//! Needs root (`sudo scripts/test.sh`).

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use common::{
    addr_of, holds_for, veth_pair, wait_until, Bgpod, BgpodConfig, BgpodPeer, Lab, Netns,
};

const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
const ASN: u32 = 64512;

const A_V4: &str = "10.0.0.1/24";
const A_V6: &str = "fd00::1/64";
const B_V4: &str = "10.0.0.2/24";
const B_V6: &str = "fd00::2/64";
const A_PODS: [&str; 2] = ["10.244.1.0/24", "fd00:10:244:1::/64"];
const B_PODS: [&str; 2] = ["10.244.2.0/24", "fd00:10:244:2::/64"];
/// How tcpdump -v decodes NOTIFICATION Cease / Administrative Shutdown (RFC 4486 §4).
const CEASE_ADMIN_SHUTDOWN: &str = "Cease (6), subcode Administrative Shutdown (2)";

/// Node A and node B on one veth, each with an IPv4 and an IPv6 address.
struct Topo {
    a: Netns,
    b: Netns,
    a_if: String,
    b_if: String,
    // Last: the log directory outlives the namespaces.
    _lab: Lab,
}

fn topo(test: &str) -> Topo {
    let lab = Lab::new(test);
    let a = lab.netns("a");
    let b = lab.netns("b");
    let (a_if, b_if) = veth_pair(&a, &[A_V4, A_V6], &b, &[B_V4, B_V6]);
    Topo {
        a,
        b,
        a_if,
        b_if,
        _lab: lab,
    }
}

fn v6(cidr: &str) -> Ipv6Addr {
    match addr_of(cidr) {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => panic!("{a} is not IPv6"),
    }
}

fn rid(cidr: &str) -> Ipv4Addr {
    match addr_of(cidr) {
        IpAddr::V4(a) => a,
        IpAddr::V6(a) => panic!("{a} is not IPv4"),
    }
}

/// A node peering with the other over IPv4, announcing its pod CIDRs.
fn node_config(me_v4: &str, me_v6: &str, pods: [&str; 2], peer: BgpodPeer) -> BgpodConfig {
    pods.iter()
        .fold(BgpodConfig::new(rid(me_v4), ASN), |c, p| c.pod_cidr(p))
        .local_v6_next_hop(v6(me_v6))
        .peer(peer)
}

/// Node A (peering B with `a_peer`) and node B (peering A with `b_peer`), both started.
fn start_pair(t: &Topo, a_peer: BgpodPeer, b_peer: BgpodPeer) -> (Bgpod<'_>, Bgpod<'_>) {
    let a = Bgpod::start(&t.a, "node-a", &node_config(A_V4, A_V6, A_PODS, a_peer));
    let b = Bgpod::start(&t.b, "node-b", &node_config(B_V4, B_V6, B_PODS, b_peer));
    (a, b)
}

/// Wait until `node` has the other node's two pod CIDRs from `peer`, next hops `peer_v4`
/// and `peer_v6`, empty AS path (iBGP), LOCAL_PREF 100.
fn wait_pods_learned(node: &Bgpod, peer_pods: [&str; 2], peer_v4: &str, peer_v6: &str) {
    let peer = addr_of(peer_v4);
    for (prefix, nh) in [(peer_pods[0], peer_v4), (peer_pods[1], peer_v6)] {
        let path = wait_until(TIMEOUT, POLL, || {
            node.expect_route(prefix, peer, addr_of(nh), &[])
        });
        // RFC 4271 §5.1.5: LOCAL_PREF "SHALL be included in all UPDATE messages that a
        // given BGP speaker sends to other internal peers"; the default is 100.
        assert_eq!(path.local_pref, Some(100), "{prefix}: {path:?}");
        assert_eq!(path.origin, "igp", "{prefix}: {path:?}");
    }
}

#[test]
fn ibgp_nodes_exchange_ipv4_and_ipv6_pod_cidrs() {
    let t = topo("2n-xchg");
    let (a_ip, b_ip) = (addr_of(A_V4), addr_of(B_V4));
    let (a, b) = start_pair(&t, BgpodPeer::new(b_ip, ASN), BgpodPeer::new(a_ip, ASN));

    wait_until(TIMEOUT, POLL, || a.established(b_ip));
    wait_until(TIMEOUT, POLL, || b.established(a_ip));
    wait_pods_learned(&a, B_PODS, B_V4, B_V6);
    wait_pods_learned(&b, A_PODS, A_V4, A_V6);

    // Our own pod CIDRs are in the table as "local" paths.
    for (node, pods) in [(&a, A_PODS), (&b, B_PODS)] {
        let routes = node.routes().expect("routes");
        for p in pods {
            let paths = routes.paths(p);
            assert!(
                paths.iter().any(|x| x.source == "local" && x.best),
                "{p}: no best local path in {paths:?}"
            );
        }
    }
    // Counters: two pod CIDRs each way.
    for (node, peer) in [(&a, b_ip), (&b, a_ip)] {
        wait_until(TIMEOUT, POLL, || {
            let p = node.peer(peer)?;
            if (
                p.prefixes_received,
                p.prefixes_accepted,
                p.prefixes_advertised,
            ) == (2, 2, 2)
            {
                Ok(())
            } else {
                Err(format!("want 2 received/accepted/advertised: {p:?}"))
            }
        });
    }
    let status = a.status().expect("status");
    assert_eq!(status.router_id, "10.0.0.1");
    assert_eq!(status.asn, ASN);
    let peer = status.peer(b_ip).expect("peer B in A's status");
    assert_eq!(peer.asn, ASN);
    assert_eq!(peer.last_error, None, "{peer:?}");
}

/// SIGTERM on A: A sends NOTIFICATION Cease / Administrative Shutdown (seen on the wire by
/// tcpdump) and exits 0; B drops the session and A's routes at once, not after its hold
/// time (90 s here).
#[test]
fn sigterm_sends_cease_and_peer_withdraws_at_once() {
    let t = topo("2n-term");
    let (a_ip, b_ip) = (addr_of(A_V4), addr_of(B_V4));
    let (a, b) = start_pair(&t, BgpodPeer::new(b_ip, ASN), BgpodPeer::new(a_ip, ASN));
    wait_until(TIMEOUT, POLL, || b.established(a_ip));
    wait_pods_learned(&b, A_PODS, A_V4, A_V6);

    let capture = t.b.tcpdump(&t.b_if, "tcp port 179", "tcpdump.log");
    let start = Instant::now();
    a.proc().terminate();
    let status = a.proc().wait_exit(Duration::from_secs(10));
    assert!(status.success(), "node A exited with {status} on SIGTERM");

    wait_until(Duration::from_secs(5), POLL, || {
        let log = capture.log();
        if log.contains(CEASE_ADMIN_SHUTDOWN) {
            Ok(())
        } else {
            Err(format!(
                "no Cease/Administrative Shutdown on the wire:\n{log}"
            ))
        }
    });
    let left = wait_until(Duration::from_secs(5), POLL, || {
        let p = b.peer(a_ip)?;
        if p.state == "Established" {
            Err(format!("B still Established with A: {p:?}"))
        } else {
            Ok(p)
        }
    });
    for prefix in A_PODS {
        wait_until(Duration::from_secs(5), POLL, || {
            b.expect_no_route(prefix, a_ip)
        });
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(10),
        "B took {elapsed:?} to drop A (hold time is 90 s)"
    );
    b.proc().check_running().unwrap_or_else(|e| panic!("{e}"));
    // Informational: how B reports it (the contract allows either wording).
    let cease_reported = left
        .last_error
        .as_deref()
        .is_some_and(|e| e.to_lowercase().contains("administrative shutdown"))
        || b.proc()
            .log()
            .to_lowercase()
            .contains("administrative shutdown");
    eprintln!(
        "B left Established after {elapsed:?}; B's last_error: {:?}; Cease named in B's \
         status or log: {cease_reported}",
        left.last_error
    );
}

/// A vanishes without a word (its link goes down, then kill -9): B, with hold_time = 3,
/// withdraws A's routes when its hold timer expires — 2 to 3 s after A's last KEEPALIVE —
/// not at once and not much later.
///
/// kill -9 alone is not silent: A's kernel closes the TCP connection with a FIN, and B
/// would see the session end at once. Taking A's link down first makes sure nothing
/// reaches B after the kill.
#[test]
fn hold_timer_expiry_withdraws_routes() {
    let t = topo("2n-hold");
    let (a_ip, b_ip) = (addr_of(A_V4), addr_of(B_V4));
    let (a, b) = start_pair(
        &t,
        BgpodPeer::new(b_ip, ASN),
        BgpodPeer::new(a_ip, ASN).hold_time(3),
    );
    wait_until(TIMEOUT, POLL, || b.established(a_ip));
    wait_pods_learned(&b, A_PODS, A_V4, A_V6);
    // Hold time 3 s negotiated (RFC 4271 §4.2: the smaller of the two): KEEPALIVEs every
    // second keep the session up well past it.
    holds_for(Duration::from_secs(4), POLL, || b.established(a_ip));

    t.a.link_down(&t.a_if);
    a.proc().kill();
    let killed = Instant::now();
    let gone = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        for prefix in A_PODS {
            b.expect_no_route(prefix, a_ip)?;
        }
        Ok(killed.elapsed())
    });
    assert!(
        gone >= Duration::from_millis(1500),
        "A's routes went after {gone:?}: before the hold timer could expire"
    );
    assert!(
        gone <= Duration::from_secs(6),
        "A's routes went after {gone:?}: hold time is 3 s"
    );
    let p = b.peer(a_ip).expect("A in B's status");
    assert_ne!(p.state, "Established", "{p:?}");
    eprintln!(
        "hold timer: A's routes withdrawn {gone:?} after the kill; B's last_error: {:?}",
        p.last_error
    );
}

/// A requires the graceful-restart capability, which B does not advertise: A answers B's
/// OPEN with NOTIFICATION 2/7 Unsupported Capability (RFC 5492 §5) and the session never
/// comes up, on either side.
#[test]
fn missing_required_capability_is_refused_with_2_7() {
    let t = topo("2n-reqcap");
    let (a_ip, b_ip) = (addr_of(A_V4), addr_of(B_V4));
    let (a, b) = start_pair(
        &t,
        BgpodPeer::new(b_ip, ASN).require_capability("graceful-restart"),
        BgpodPeer::new(a_ip, ASN),
    );
    // `node`'s last error about `peer` once it mentions `side` ("sent" / "received") and 2/7.
    let wait_error = |node: &Bgpod, peer, side: &str| -> String {
        wait_until(TIMEOUT, POLL, || {
            let p = node.peer(peer)?;
            match &p.last_error {
                Some(e) if e.contains(side) && e.contains("Unsupported Capability") => {
                    Ok(e.clone())
                }
                other => Err(format!("last_error so far: {other:?}")),
            }
        })
    };
    let sent = wait_error(&a, b_ip, "sent");
    let received = wait_error(&b, a_ip, "received");
    eprintln!("A: {sent}\nB: {received}");
    holds_for(Duration::from_secs(2), POLL, || {
        let (pa, pb) = (a.peer(b_ip)?, b.peer(a_ip)?);
        if pa.state == "Established" || pb.state == "Established" {
            Err(format!("session came up: {pa:?} {pb:?}"))
        } else {
            Ok(())
        }
    });
    let routes = a.routes().expect("routes");
    assert!(routes.paths(B_PODS[0]).is_empty(), "A learned B's pods");
}
