//! Proves the namespace harness with no bgpod involved: BIRD and FRR peer with each other,
//! the bridge forwards, tcpdump decodes BGP, and everything is cleaned up — panic included.
//! Needs root (`sudo scripts/test.sh`).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{
    addr_of, holds_for, netns_exists, veth_pair, wait_until, Bird, BirdConfig, BirdNeighbor, Frr,
    FrrConfig, FrrNeighbor, Lab,
};

const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(200);

const BIRD_V4: &str = "10.0.0.1/24";
const BIRD_V6: &str = "fd00::1/64";
const FRR_V4: &str = "10.0.0.2/24";
const FRR_V6: &str = "fd00::2/64";
const BIRD_AS: u32 = 65001;
/// How tcpdump -v decodes NOTIFICATION Cease / Administrative Shutdown.
const CEASE_ADMIN_SHUTDOWN: &str = "Cease (6), subcode Administrative Shutdown (2)";
const FRR_AS: u32 = 65002;

/// eBGP between BIRD (AS 65001) and FRR (AS 65002) on one IPv4 session carrying IPv4 and
/// IPv6 unicast; each learns the other's prefixes. Then BIRD's SIGTERM sends a Cease that
/// tcpdump decodes and FRR acts on; then every namespace is gone.
#[test]
fn bird_and_frr_exchange_ipv4_and_ipv6_routes() {
    let lab = Lab::new("smoke");
    let bird_ns = lab.netns("bird");
    let frr_ns = lab.netns("frr");
    let (bird_if, frr_if) = veth_pair(&bird_ns, &[BIRD_V4, BIRD_V6], &frr_ns, &[FRR_V4, FRR_V6]);
    // bgpd without zebra knows no interface, so it treats an IPv6 route with a link-local
    // next hop as withdrawn; BIRD adds one whenever its interface has a link-local address.
    bird_ns.disable_link_local(&bird_if);

    let (bird_ip, frr_ip) = (addr_of(BIRD_V4), addr_of(FRR_V4));
    let (bird_ip6, frr_ip6) = (v6(BIRD_V6), v6(FRR_V6));
    let bird = Bird::start(
        &bird_ns,
        "bird",
        &BirdConfig::new(Ipv4Addr::new(10, 0, 0, 1), BIRD_AS)
            .neighbor(
                BirdNeighbor::new(frr_ip, FRR_AS)
                    .local(bird_ip)
                    .channels(true, true)
                    .v6_next_hop(bird_ip6),
            )
            .announce("10.201.0.0/24")
            .announce("fd00:201::/64"),
    );
    let frr = Frr::start(
        &frr_ns,
        "frr",
        &FrrConfig::new(Ipv4Addr::new(10, 0, 0, 2), FRR_AS)
            .neighbor(
                FrrNeighbor::new(bird_ip, BIRD_AS)
                    .families(true, true)
                    .v6_next_hop(frr_ip6),
            )
            .announce("10.202.0.0/24")
            .announce("fd00:202::/64"),
    );

    wait_until(TIMEOUT, POLL, || bird.established(frr_ip));
    wait_until(TIMEOUT, POLL, || frr.established(bird_ip));
    wait_until(TIMEOUT, POLL, || {
        bird.expect_route("10.202.0.0/24", frr_ip, &[FRR_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        bird.expect_route("fd00:202::/64", IpAddr::V6(frr_ip6), &[FRR_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        frr.expect_route("10.201.0.0/24", bird_ip, &[BIRD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        frr.expect_route("fd00:201::/64", IpAddr::V6(bird_ip6), &[BIRD_AS])
    });
    // The session runs over 179 in one direction only.
    let conns = frr_ns.tcp_established(179);
    assert_eq!(conns.len(), 1, "one BGP connection: {conns:?}");

    // BIRD's shutdown sends NOTIFICATION Cease / Administrative Shutdown (RFC 4486 §4).
    let capture = frr_ns.tcpdump(&frr_if, "tcp port 179", "tcpdump.log");
    bird.proc().terminate();
    let status = bird.proc().wait_exit(Duration::from_secs(10));
    assert!(status.success(), "bird exited with {status}");
    wait_until(Duration::from_secs(5), POLL, || {
        let log = capture.log();
        if log.contains("Notification Message") && log.contains(CEASE_ADMIN_SHUTDOWN) {
            Ok(())
        } else {
            Err(format!("no Cease decoded by tcpdump yet:\n{log}"))
        }
    });
    wait_until(Duration::from_secs(5), POLL, || {
        match frr.neighbor_state(bird_ip)? {
            s if s == "Established" => Err("FRR still Established".to_string()),
            _ => Ok(()),
        }
    });
    wait_until(Duration::from_secs(5), POLL, || {
        match frr.route("10.201.0.0/24")? {
            None => Ok(()),
            Some(r) => Err(format!("FRR still has {r:?}")),
        }
    });

    let names = [bird_ns.name().to_string(), frr_ns.name().to_string()];
    assert!(names.iter().all(|n| netns_exists(n)));
    let pids = [frr.proc().pid(), capture.pid()];
    drop(frr);
    drop(bird);
    drop(bird_ns);
    drop(frr_ns);
    for n in &names {
        assert!(!netns_exists(n), "namespace {n} left behind");
    }
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} left running"
        );
    }
}

/// BIRD active, FRR passive, IPv6 on its own session (BIRD `multihop`, so it sends no
/// link-local next hop) — the harness runs both sides in both roles.
#[test]
fn bird_active_frr_passive_with_ipv6_session() {
    let lab = Lab::new("smoke6");
    let bird_ns = lab.netns("bird");
    let frr_ns = lab.netns("frr");
    veth_pair(&bird_ns, &[BIRD_V4, BIRD_V6], &frr_ns, &[FRR_V4, FRR_V6]);
    let (bird_ip, frr_ip) = (addr_of(BIRD_V4), addr_of(FRR_V4));
    let (bird_ip6, frr_ip6) = (addr_of(BIRD_V6), addr_of(FRR_V6));

    let mut bird_cfg = BirdConfig::new(Ipv4Addr::new(10, 0, 0, 1), BIRD_AS)
        .neighbor(BirdNeighbor::new(frr_ip, FRR_AS).hold_time(3))
        .neighbor(
            BirdNeighbor::new(frr_ip6, FRR_AS)
                .local(bird_ip6)
                .channels(false, true)
                .multihop(1),
        )
        .announce("10.201.0.0/24")
        .announce("fd00:201::/64");
    bird_cfg.direct = true; // multihop next hops resolve through interface routes
    let bird = Bird::start(&bird_ns, "bird", &bird_cfg);
    let frr = Frr::start(
        &frr_ns,
        "frr",
        &FrrConfig::new(Ipv4Addr::new(10, 0, 0, 2), FRR_AS)
            .neighbor(FrrNeighbor::new(bird_ip, BIRD_AS).passive())
            .neighbor(
                FrrNeighbor::new(bird_ip6, BIRD_AS)
                    .families(false, true)
                    .passive(),
            )
            .announce("10.202.0.0/24")
            .announce("fd00:202::/64"),
    );

    for peer in [frr_ip, frr_ip6] {
        wait_until(TIMEOUT, POLL, || bird.established(peer));
    }
    for peer in [bird_ip, bird_ip6] {
        wait_until(TIMEOUT, POLL, || frr.established(peer));
    }
    wait_until(TIMEOUT, POLL, || {
        bird.expect_route("fd00:202::/64", frr_ip6, &[FRR_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        frr.expect_route("fd00:201::/64", bird_ip6, &[BIRD_AS])
    });
    wait_until(TIMEOUT, POLL, || {
        frr.expect_route("10.201.0.0/24", bird_ip, &[BIRD_AS])
    });
    // FRR is passive: BIRD opened both connections, so FRR's side is port 179.
    let conns = frr_ns.tcp_established(179);
    assert_eq!(conns.len(), 2, "{conns:?}");
    assert!(
        conns
            .iter()
            .all(|c| c.split(' ').next().is_some_and(|l| l.ends_with(":179"))),
        "FRR initiated a connection: {conns:?}"
    );
    // Hold time 3 s negotiated on the IPv4 session: keepalives keep it up.
    holds_for(Duration::from_secs(4), POLL, || bird.established(frr_ip));
}

/// Three namespaces on a bridge reach each other over IPv4 and IPv6 (no DAD wait).
#[test]
fn bridge_joins_namespaces() {
    let lab = Lab::new("bridge");
    let br = lab.bridge();
    let nodes: Vec<_> = (1..=3).map(|i| lab.netns(&format!("n{i}"))).collect();
    for (i, ns) in nodes.iter().enumerate() {
        let v4 = format!("10.1.0.{}/24", i + 1);
        let v6 = format!("fd01::{}/64", i + 1);
        br.attach(ns, &[&v4, &v6]);
    }
    for (i, ns) in nodes.iter().enumerate() {
        for j in 1..=3 {
            if j == i + 1 {
                continue;
            }
            for target in [format!("10.1.0.{j}"), format!("fd01::{j}")] {
                wait_until(Duration::from_secs(10), POLL, || ns.ping(&target));
            }
        }
    }
}

/// A panicking test still stops its processes and deletes its namespaces.
#[test]
fn cleanup_runs_on_panic() {
    let mut seen = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::new("panic");
        let ns = lab.netns("a");
        // Ignores SIGTERM: exercises the SIGKILL path too.
        let stubborn = ns.spawn(
            "sh",
            &["-c", "trap '' TERM; while :; do sleep 0.1; done"],
            "sh.log",
        );
        let polite = ns.spawn("sleep", &["600"], "sleep.log");
        seen = Some((
            ns.name().to_string(),
            stubborn.pid(),
            polite.pid(),
            lab.dir().to_path_buf(),
        ));
        panic!("deliberate panic to test the drop guards");
    }));
    assert!(result.is_err());
    let (name, pid1, pid2, dir) = seen.expect("the closure ran");
    assert!(!netns_exists(&name), "namespace {name} left behind");
    for pid in [pid1, pid2] {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} left running"
        );
    }
    // A failed test keeps its logs; this failure was on purpose.
    assert!(dir.exists(), "logs of a failed test are kept");
    std::fs::remove_dir_all(&dir).expect("remove the kept log dir");
}

#[test]
fn parses_birdc_output() {
    let protocols = [
        "BIRD 2.0.12 ready.",
        "Name       Proto      Table      State  Since         Info",
        "device1    Device     ---        up     20:09:43.341  ",
        "bgp_10_0_0_2 BGP      ---        start  20:11:07.583  Idle          Received: Invalid network field",
        "bgp_fd00__2 BGP       ---        up     2026-11-24 20:09:53  Established   ",
    ]
    .join("\n");
    let p = common::bird::parse_protocols(&protocols);
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].info, "");
    assert_eq!(p[1].info, "Idle Received: Invalid network field");
    assert_eq!(p[2].info, "Established");

    let routes = [
        "BIRD 2.0.12 ready.",
        "Table master4:",
        "10.201.0.0/24        blackhole [static4 20:09:43.341] * (200)",
        "\tType: static univ",
        "10.202.0.0/24        unicast [bgp_10_0_0_2 20:09:54.803] * (100) [AS65002i]",
        "\tvia 10.0.0.2 on veth0",
        "\tBGP.as_path: 65002 65010",
        "\tBGP.next_hop: 10.0.0.2",
        "                     unicast [bgp_10_0_0_3 20:09:55.803] (100) [AS65003i]",
        "\tvia 10.0.0.3 on veth0",
        "\tBGP.as_path: 65003",
        "\tBGP.next_hop: 10.0.0.3",
        "",
        "Table master6:",
        "fd00:202::/64        unicast [bgp_10_0_0_2 20:11:16.671 from 10.0.0.2] * (100) [AS65002i]",
        "\tvia fd00::2 on veth0",
        "\tBGP.as_path: 65002",
        "\tBGP.next_hop: fd00::2 fe80::1",
    ]
    .join("\n");
    let r = common::bird::parse_routes(&routes);
    assert_eq!(r.len(), 4, "{r:?}");
    assert_eq!(r[1].prefix, "10.202.0.0/24");
    assert!(r[1].primary);
    assert_eq!(r[1].as_path, vec![65002, 65010]);
    assert_eq!(r[2].prefix, "10.202.0.0/24");
    assert!(!r[2].primary);
    assert_eq!(r[2].protocol, "bgp_10_0_0_3");
    assert_eq!(r[3].bgp_next_hop.len(), 2);
    assert_eq!(r[3].gateway, Some(addr_of("fd00::2")));
}

fn v6(cidr: &str) -> std::net::Ipv6Addr {
    match addr_of(cidr) {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => panic!("{a} is not IPv6"),
    }
}

/// The harness's bgpod types accept the contract's example JSON.
#[test]
fn parses_bgpod_contract_json() {
    let status: common::Status = serde_json::from_str(
        r#"{"router_id":"10.0.0.1","asn":64512,"uptime_secs":3,"peers":[{"address":"10.0.0.2",
        "asn":64512,"state":"Established","uptime_secs":1,"prefixes_received":2,
        "prefixes_accepted":2,"prefixes_advertised":2,"last_error":null}]}"#,
    )
    .expect("status JSON");
    let peer = status.peer(addr_of("10.0.0.2")).expect("peer");
    assert_eq!(peer.state, "Established");
    assert_eq!(peer.last_error, None);

    let routes: common::Routes = serde_json::from_str(
        r#"{"routes":[{"prefix":"10.244.2.0/24","paths":[{"source":"10.0.0.2",
        "next_hop":"10.0.0.2","as_path":[64513],"origin":"igp","local_pref":100,"med":null,
        "best":true}]},{"prefix":"fd00:10:244:1::/64","paths":[{"source":"local",
        "next_hop":null,"as_path":[],"origin":"igp","local_pref":null,"med":null,
        "best":true}]}]}"#,
    )
    .expect("routes JSON");
    let p = routes
        .path_from("10.244.2.0/24", addr_of("10.0.0.2"))
        .expect("path from 10.0.0.2");
    assert_eq!(p.as_path, vec![64513]);
    assert_eq!(routes.paths("fd00:10:244:1:0::/64")[0].source, "local");
    assert!(routes
        .path_from("10.244.2.0/24", addr_of("10.0.0.3"))
        .is_none());
}

/// The FRR route parser reads `show bgp ipv6 unicast json` as bgpd 8.4 prints it.
#[test]
fn parses_frr_route_json() {
    let json: serde_json::Value = serde_json::from_str(
        r#"{"vrfId":0,"routerId":"10.0.0.2","localAS":65002,"routes":{
        "fd00:201::/64":[{"valid":true,"bestpath":true,"pathFrom":"external",
        "peerId":"fd00::1","path":"65001 65010","origin":"IGP",
        "nexthops":[{"ip":"fd00::1","afi":"ipv6","scope":"global","used":true}]}],
        "fd00:202::/64":[{"valid":true,"bestpath":true,"peerId":"(unspec)","path":"",
        "nexthops":[{"ip":"::","afi":"ipv6","scope":"global","used":true}]}]}}"#,
    )
    .expect("JSON");
    let r = common::frr::parse_routes(&json);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].as_path, vec![65001, 65010]);
    assert_eq!(r[0].next_hops, vec![addr_of("fd00::1")]);
    assert!(r[1].as_path.is_empty());
}
