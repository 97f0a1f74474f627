//! Writes the committed packet captures of `tests/fixtures/captures/`: real BGP sessions of
//! bgpod with BIRD 2 and with FRR, recorded by tcpdump, that `bgp/tests/captures.rs` decodes
//! message by message. Ignored by default; run them on demand, as root:
//!
//! ```text
//! sudo cargo test --test capture_fixtures -- --ignored --test-threads=1
//! ```
//!
//! Each test builds two namespaces joined by a veth with IPv4 and IPv6 addresses, starts
//! `tcpdump -i IF -w FILE -s 0 -U --immediate-mode tcp port 179` on bgpod's side, and runs
//! two eBGP sessions between bgpod (AS 64512, active) and the other speaker (passive): one
//! over IPv4 carrying IPv4 and IPv6 unicast, one over IPv6 carrying IPv6 unicast. The other
//! speaker announces prefixes with communities, large communities, an extended community, a
//! MED and a prepended AS path, then withdraws one IPv4 and one IPv6 prefix; bgpod
//! announces its pod CIDRs. Then bgpod gets SIGTERM, so each session ends with its Cease /
//! Administrative Shutdown, and tcpdump is stopped (SIGTERM, by PID) once the connections
//! are closed and the file has stopped growing. A few seconds, about 5 KB per file.
//!
//! The values set here are the ones `bgp/tests/captures.rs` asserts: change both together.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    addr_of, holds_for, veth_pair, wait_until, Bgpod, BgpodConfig, BgpodPeer, Bird, BirdConfig,
    BirdNeighbor, Frr, FrrConfig, FrrNeighbor, Lab, Netns, Proc,
};

const TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);

const BGPOD_AS: u32 = 64512;
const BIRD_AS: u32 = 65001;
const FRR_AS: u32 = 65002;
const BGPOD_V4: &str = "10.0.0.1/24";
const BGPOD_V6: &str = "fd00::1/64";
const PEER_V4: &str = "10.0.0.2/24";
const PEER_V6: &str = "fd00::2/64";
const PODS: [&str; 2] = ["10.244.1.0/24", "fd00:10:244:1::/64"];

/// BIRD's prefixes: plain, with attributes, and withdrawn during the capture.
const BIRD_PLAIN: [&str; 2] = ["10.201.0.0/24", "fd00:201::/64"];
const BIRD_ATTRS: [&str; 2] = ["10.201.1.0/24", "fd00:201:1::/64"];
const BIRD_GONE: [&str; 2] = ["10.201.9.0/24", "fd00:201:9::/64"];

/// The routes with attributes, the static protocols `birdc disable` withdraws, and the
/// export filter of both sessions.
const BIRD_RAW: &str = "\
protocol static attrs4 {
  ipv4;
  route 10.201.1.0/24 blackhole {
    bgp_path.prepend(65001);
    bgp_community.add((65001, 100));
    bgp_community.add((65001, 200));
    bgp_large_community.add((65001, 1, 2));
    bgp_ext_community.add((rt, 65001, 300));
    bgp_med = 50;
  };
}
protocol static attrs6 {
  ipv6;
  route fd00:201:1::/64 blackhole {
    bgp_path.prepend(65001);
    bgp_path.prepend(65001);
    bgp_community.add((65001, 600));
    bgp_large_community.add((65001, 6, 6));
    bgp_med = 60;
  };
}
protocol static gone4 { ipv4; route 10.201.9.0/24 blackhole; }
protocol static gone6 { ipv6; route fd00:201:9::/64 blackhole; }
# BIRD sends a MED to an eBGP peer only if the export filter sets it.
filter capture_out {
  if source != RTS_STATIC then reject;
  if defined(bgp_med) then bgp_med = bgp_med;
  accept;
}
";

/// FRR's prefixes: plain, with attributes (route-maps), and withdrawn during the capture.
const FRR_PLAIN: [&str; 2] = ["10.202.0.0/24", "fd00:202::/64"];
const FRR_ATTRS: [&str; 2] = ["10.202.1.0/24", "fd00:202:1::/64"];
const FRR_GONE: [&str; 2] = ["10.202.9.0/24", "fd00:202:9::/64"];

const FRR_ROUTE_MAPS: &str = "\
route-map ATTRS4 permit 10
 set as-path prepend 65002
 set community 65002:100 65002:200
 set large-community 65002:1:2
 set extcommunity rt 65002:300
 set metric 70
exit
!
route-map ATTRS6 permit 10
 set as-path prepend 65002 65002
 set community 65002:600
 set large-community 65002:6:6
 set metric 80
exit
!
";

fn out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/captures")
}

fn v6(cidr: &str) -> Ipv6Addr {
    match addr_of(cidr) {
        IpAddr::V6(a) => a,
        IpAddr::V4(a) => panic!("{a} is not IPv6"),
    }
}

/// bgpod's namespace and the other speaker's, joined by a veth; tcpdump on bgpod's end.
struct Topo {
    bgpod: Netns,
    peer: Netns,
    capture: Capture,
    _lab: Lab,
}

fn topo(test: &str) -> Topo {
    let lab = Lab::new(test);
    let bgpod = lab.netns("bgpod");
    let peer = lab.netns("peer");
    let (bgpod_if, peer_if) = veth_pair(&bgpod, &[BGPOD_V4, BGPOD_V6], &peer, &[PEER_V4, PEER_V6]);
    // The kernel adds the link-local address once the link has carrier. A speaker that starts
    // before it sends IPv6 routes with its global next hop alone until it learns the address:
    // wait, so that each capture has the RFC 2545 global + link-local next hops.
    wait_until(TIMEOUT, POLL, || {
        let out = peer.ip(&["-6", "addr", "show", "dev", &peer_if, "scope", "link"]);
        if out.contains("inet6 fe80") && !out.contains("tentative") {
            Ok(())
        } else {
            Err(format!("no link-local address on {peer_if} yet: {out}"))
        }
    });
    let capture = Capture::start(&bgpod, &bgpod_if);
    Topo {
        bgpod,
        peer,
        capture,
        _lab: lab,
    }
}

/// `tcpdump -w` of the BGP traffic on one interface.
struct Capture {
    proc: Proc,
    file: PathBuf,
}

impl Capture {
    /// Start tcpdump on `ifname` in `ns` and wait until it captures. `--immediate-mode` and
    /// `-U` write each packet as it comes (by default libpcap hands packets over in blocks,
    /// and those still in the kernel's buffer at SIGTERM are lost); `-Z root` keeps tcpdump
    /// from switching to a user that cannot write the lab directory.
    fn start(ns: &Netns, ifname: &str) -> Capture {
        let file = ns.file("capture.pcap");
        let file_s = file.to_string_lossy().into_owned();
        let args = [
            "-i",
            ifname,
            "-w",
            &file_s,
            "-s",
            "0",
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "tcp",
            "port",
            "179",
        ];
        let proc = ns.spawn("tcpdump", &args, "tcpdump.log");
        wait_until(TIMEOUT, POLL, || {
            proc.check_running()?;
            if proc.log().contains("listening on") {
                Ok(())
            } else {
                Err(format!("tcpdump on {ifname} is not capturing yet"))
            }
        });
        Capture { proc, file }
    }

    /// Once the file has stopped growing (the last FIN and ACK are in), SIGTERM tcpdump, wait
    /// for it to exit, and copy the capture to `tests/fixtures/captures/<name>`.
    fn finish(self, name: &str) {
        let size = || std::fs::metadata(&self.file).map_or(0, |m| m.len());
        let mut last = size();
        holds_for(Duration::from_millis(500), POLL, || {
            let now = size();
            if now == last {
                Ok(())
            } else {
                last = now;
                Err(format!("capture still growing ({now} bytes)"))
            }
        });
        self.proc.terminate();
        let status = self.proc.wait_exit(TIMEOUT);
        assert!(status.success(), "tcpdump exited with {status}");
        let dir = out_dir();
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let dest = dir.join(name);
        std::fs::copy(&self.file, &dest).unwrap_or_else(|e| {
            panic!(
                "cannot copy {} to {}: {e}",
                self.file.display(),
                dest.display()
            )
        });
        eprintln!("wrote {} ({} bytes)", dest.display(), size());
    }
}

fn bgpod_config(peer_v4: IpAddr, peer_v6: IpAddr, peer_as: u32) -> BgpodConfig {
    BgpodConfig::new(Ipv4Addr::new(10, 0, 0, 1), BGPOD_AS)
        .pod_cidr(PODS[0])
        .pod_cidr(PODS[1])
        .local_v6_next_hop(v6(BGPOD_V6))
        .peer(BgpodPeer::new(peer_v4, peer_as))
        .peer(BgpodPeer::new(peer_v6, peer_as))
}

/// Wait until bgpod has the path to `prefix` from `source` with that AS path and MED.
fn expect_path(bgpod: &Bgpod, prefix: &str, source: IpAddr, as_path: &[u32], med: Option<u32>) {
    wait_until(TIMEOUT, POLL, || {
        let routes = bgpod.routes()?;
        let p = routes
            .path_from(prefix, source)
            .ok_or_else(|| format!("no path to {prefix} from {source} yet"))?;
        if p.as_path == as_path && p.med == med {
            Ok(())
        } else {
            Err(format!(
                "path to {prefix} from {source} is {p:?}, want {as_path:?} MED {med:?}"
            ))
        }
    });
}

/// SIGTERM bgpod (each session ends with its Cease) and wait until no BGP connection is
/// left in `ns`.
fn stop_bgpod(bgpod: &Bgpod, ns: &Netns) {
    bgpod.proc().terminate();
    let status = bgpod.proc().wait_exit(TIMEOUT);
    assert!(status.success(), "bgpod exited with {status}");
    wait_until(TIMEOUT, POLL, || {
        let conns = ns.tcp_established(179);
        if conns.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "BGP connections still open in {}: {conns:?}",
                ns.name()
            ))
        }
    });
}

/// bgpod ↔ BIRD 2.0.12 → `bird-bgpod.pcap`.
#[test]
#[ignore = "writes tests/fixtures/captures/bird-bgpod.pcap; needs root, BIRD and tcpdump"]
fn capture_bird_bgpod() {
    let t = topo("cap-bird");
    let (bgpod_ip, bird_ip) = (addr_of(BGPOD_V4), addr_of(PEER_V4));
    let (bgpod_ip6, bird_ip6) = (addr_of(BGPOD_V6), addr_of(PEER_V6));
    let config = BirdConfig::new(Ipv4Addr::new(10, 0, 0, 2), BIRD_AS)
        .announce(BIRD_PLAIN[0])
        .announce(BIRD_PLAIN[1])
        .raw(BIRD_RAW)
        .neighbor(
            BirdNeighbor::new(bgpod_ip, BGPOD_AS)
                .local(bird_ip)
                .passive()
                .channels(true, true)
                .v6_next_hop(v6(PEER_V6))
                .export("filter capture_out"),
        )
        .neighbor(
            BirdNeighbor::new(bgpod_ip6, BGPOD_AS)
                .local(bird_ip6)
                .passive()
                .channels(false, true)
                .export("filter capture_out"),
        );
    let bird = Bird::start(&t.peer, "bird", &config);
    let bgpod = Bgpod::start(&t.bgpod, "bgpod", &bgpod_config(bird_ip, bird_ip6, BIRD_AS));

    for peer in [bird_ip, bird_ip6] {
        wait_until(TIMEOUT, POLL, || bgpod.established(peer));
    }
    for peer in [bgpod_ip, bgpod_ip6] {
        wait_until(TIMEOUT, POLL, || bird.established(peer));
    }
    for (prefix, nh) in [(PODS[0], bgpod_ip), (PODS[1], bgpod_ip6)] {
        wait_until(TIMEOUT, POLL, || bird.expect_route(prefix, nh, &[BGPOD_AS]));
    }
    let plain = [BIRD_AS];
    expect_path(&bgpod, BIRD_PLAIN[0], bird_ip, &plain, None);
    expect_path(&bgpod, BIRD_GONE[0], bird_ip, &plain, None);
    expect_path(&bgpod, BIRD_ATTRS[0], bird_ip, &[BIRD_AS; 2], Some(50));
    for source in [bird_ip, bird_ip6] {
        expect_path(&bgpod, BIRD_PLAIN[1], source, &plain, None);
        expect_path(&bgpod, BIRD_GONE[1], source, &plain, None);
        expect_path(&bgpod, BIRD_ATTRS[1], source, &[BIRD_AS; 3], Some(60));
    }

    // The withdrawals: both static protocols stop, BIRD withdraws their routes.
    for proto in ["gone4", "gone6"] {
        bird.birdc(&["disable", proto])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_no_route(BIRD_GONE[0], bird_ip)?;
        bgpod.expect_no_route(BIRD_GONE[1], bird_ip)?;
        bgpod.expect_no_route(BIRD_GONE[1], bird_ip6)
    });

    stop_bgpod(&bgpod, &t.bgpod);
    t.capture.finish("bird-bgpod.pcap");
}

/// bgpod ↔ FRR 8.4.4 (bgpd with zebra) → `frr-bgpod.pcap`.
#[test]
#[ignore = "writes tests/fixtures/captures/frr-bgpod.pcap; needs root, FRR and tcpdump"]
fn capture_frr_bgpod() {
    let t = topo("cap-frr");
    let (bgpod_ip, frr_ip) = (addr_of(BGPOD_V4), addr_of(PEER_V4));
    let (bgpod_ip6, frr_ip6) = (addr_of(BGPOD_V6), addr_of(PEER_V6));
    let config = FrrConfig::new(Ipv4Addr::new(10, 0, 0, 2), FRR_AS)
        .with_zebra()
        .raw(FRR_ROUTE_MAPS)
        .announce(FRR_PLAIN[0])
        .announce(FRR_PLAIN[1])
        .announce_with_route_map(FRR_ATTRS[0], "ATTRS4")
        .announce_with_route_map(FRR_ATTRS[1], "ATTRS6")
        .announce(FRR_GONE[0])
        .announce(FRR_GONE[1])
        .neighbor(
            FrrNeighbor::new(bgpod_ip, BGPOD_AS)
                .passive()
                .families(true, true),
        )
        .neighbor(
            FrrNeighbor::new(bgpod_ip6, BGPOD_AS)
                .passive()
                .families(false, true),
        );
    let frr = Frr::start(&t.peer, "frr", &config);
    let bgpod = Bgpod::start(&t.bgpod, "bgpod", &bgpod_config(frr_ip, frr_ip6, FRR_AS));

    for peer in [frr_ip, frr_ip6] {
        wait_until(TIMEOUT, POLL, || bgpod.established(peer));
    }
    for peer in [bgpod_ip, bgpod_ip6] {
        wait_until(TIMEOUT, POLL, || frr.established(peer));
    }
    for (prefix, nh) in [(PODS[0], bgpod_ip), (PODS[1], bgpod_ip6)] {
        wait_until(TIMEOUT, POLL, || frr.expect_route(prefix, nh, &[BGPOD_AS]));
    }
    // FRR sends its `network` routes with MED 0 (their IGP metric).
    let plain = [FRR_AS];
    expect_path(&bgpod, FRR_PLAIN[0], frr_ip, &plain, Some(0));
    expect_path(&bgpod, FRR_GONE[0], frr_ip, &plain, Some(0));
    expect_path(&bgpod, FRR_ATTRS[0], frr_ip, &[FRR_AS; 2], Some(70));
    for source in [frr_ip, frr_ip6] {
        expect_path(&bgpod, FRR_PLAIN[1], source, &plain, Some(0));
        expect_path(&bgpod, FRR_GONE[1], source, &plain, Some(0));
        expect_path(&bgpod, FRR_ATTRS[1], source, &[FRR_AS; 3], Some(80));
    }

    // The withdrawals: `no network` in each address family.
    let commands = format!(
        "configure terminal\nrouter bgp {FRR_AS}\naddress-family ipv4 unicast\n\
         no network {}\nexit-address-family\naddress-family ipv6 unicast\n\
         no network {}\nexit-address-family\nend",
        FRR_GONE[0], FRR_GONE[1]
    );
    frr.vtysh(&commands).unwrap_or_else(|e| panic!("{e}"));
    wait_until(TIMEOUT, POLL, || {
        bgpod.expect_no_route(FRR_GONE[0], frr_ip)?;
        bgpod.expect_no_route(FRR_GONE[1], frr_ip)?;
        bgpod.expect_no_route(FRR_GONE[1], frr_ip6)
    });

    stop_bgpod(&bgpod, &t.bgpod);
    t.capture.finish("frr-bgpod.pcap");
}
