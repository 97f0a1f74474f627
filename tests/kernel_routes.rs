//! Kernel routes: three bgpod nodes (iBGP full mesh, AS 64512) on one fabric bridge, each a
//! container host with a pod bridge and pod namespaces, `[fib] enabled` with route protocol
//! 200 in the main table. What the kernels of the nodes hold, and whether pods reach each
//! other, when sessions come and go, prefixes change, someone else edits the table, and
//! bgpod stops, dies or restarts. Needs root (`sudo scripts/test.sh`).
//!
//! Addresses: see `tests/common/pods.rs` (node `i` at `10.99.0.i` / `fd00:99::i`, pod CIDRs
//! `10.244.i.0/24` / `fd00:10:244:i::/64`). One IPv4 session per pair carries both families;
//! IPv6 routes carry the node's `local_v6_next_hop` (`fd00:99::i`).

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::kernel::parse_routes;
use common::pods::{node_v4, node_v6};
use common::{
    holds_for, route_get, via, wait_ping, wait_until, Bgpod, BgpodConfig, BgpodPeer, Bridge,
    KernelTable, Lab, Netns, PodNode,
};

const ASN: u32 = 64512;
/// bgpod's route protocol number in these tests (set explicitly, not the default).
const PROTO: u8 = 200;
/// Convergence: sessions up and routes in every kernel.
const TIMEOUT: Duration = Duration::from_secs(30);
/// A withdrawal after a Cease, or a route put back after a deletion: well under this.
const PROMPT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(100);
const PING: Duration = Duration::from_secs(10);
/// A metric bgpod is unlikely to pick for its own routes: the foreign routes use it.
const FOREIGN_METRIC: u32 = 4242;

/// The fabric and its nodes. Field order is drop order: the nodes (and their daemons)
/// before the fabric, the lab's log directory last.
struct Mesh {
    nodes: Vec<PodNode>,
    _fabric: Bridge,
    _lab: Lab,
}

impl Mesh {
    /// `pods[i]` pod namespaces behind node `i + 1`.
    fn new(test: &str, pods: &[u8]) -> Mesh {
        let lab = Lab::new(test);
        let fabric = lab.bridge();
        let nodes = (1..)
            .zip(pods)
            .map(|(i, &p)| PodNode::new(&lab, &fabric, i, p))
            .collect();
        Mesh {
            nodes,
            _fabric: fabric,
            _lab: lab,
        }
    }

    /// Node `i` (from 1).
    fn node(&self, i: u8) -> &PodNode {
        &self.nodes[usize::from(i) - 1]
    }

    fn indices(&self) -> impl Iterator<Item = u8> {
        1..=u8::try_from(self.nodes.len()).expect("at most 255 nodes")
    }

    /// Node `i`'s config: its own pod CIDRs, a peer for every other node, kernel routes
    /// with protocol [`PROTO`].
    fn config(&self, i: u8) -> BgpodConfig {
        self.config_with_pods(i, &self.node(i).pod_cidrs())
    }

    fn config_with_pods(&self, i: u8, pods: &[String]) -> BgpodConfig {
        let c = pods
            .iter()
            .fold(BgpodConfig::new(node_v4(i), ASN), |c, p| c.pod_cidr(p))
            .local_v6_next_hop(node_v6(i))
            .fib_enabled(true)
            .fib_protocol(PROTO);
        self.indices()
            .filter(|&j| j != i)
            .fold(c, |c, j| c.peer(BgpodPeer::new(self.node(j).v4(), ASN)))
    }

    fn start(&self, i: u8, config: &BgpodConfig) -> Bgpod<'_> {
        Bgpod::start(&self.node(i).ns, &format!("node{i}"), config)
    }

    /// Every node with [`Mesh::config`].
    fn start_all(&self) -> Vec<Bgpod<'_>> {
        self.indices()
            .map(|i| self.start(i, &self.config(i)))
            .collect()
    }

    /// Node `i`'s main table as bgpod owns it.
    fn kernel(&self, i: u8) -> KernelTable<'_> {
        KernelTable::new(&self.node(i).ns, PROTO)
    }

    /// `Ok` once node `at`'s kernel holds `prefixes` through node `from`: the IPv4 ones via
    /// `from`'s IPv4 address, the IPv6 ones via its IPv6 address, on `at`'s fabric link.
    fn expect_learned(&self, at: u8, from: u8, prefixes: &[String]) -> Result<(), String> {
        let dev = &self.node(at).fabric_if;
        for p in prefixes {
            let nh = if p.contains(':') {
                IpAddr::V6(node_v6(from))
            } else {
                IpAddr::V4(node_v4(from))
            };
            self.kernel(at).expect_via(p, &[via(nh, dev)])?;
        }
        Ok(())
    }

    /// `Ok` once node `at`'s kernel holds none of `prefixes` (as bgpod's routes).
    fn expect_gone(&self, at: u8, prefixes: &[String]) -> Result<(), String> {
        for p in prefixes {
            self.kernel(at).expect_absent(p)?;
        }
        Ok(())
    }

    /// Wait until every session is up and every node's kernel holds every other node's pod
    /// CIDRs.
    fn wait_converged(&self, daemons: &[Bgpod]) {
        for (i, d) in self.indices().zip(daemons) {
            for j in self.indices().filter(|&j| j != i) {
                wait_until(TIMEOUT, POLL, || d.established(self.node(j).v4()));
            }
        }
        for i in self.indices() {
            for j in self.indices().filter(|&j| j != i) {
                wait_until(TIMEOUT, POLL, || {
                    self.expect_learned(i, j, &self.node(j).pod_cidrs())
                });
            }
        }
    }
}

/// Ping every pod of every other node from the first pod of each node, IPv4 and IPv6.
fn ping_all_pods(mesh: &Mesh) {
    for a in &mesh.nodes {
        let Some(from) = a.pods.first() else { continue };
        for b in mesh.nodes.iter().filter(|b| b.index != a.index) {
            for k in 0..b.pods.len() {
                let k = u8::try_from(k).expect("few pods");
                for addr in b.pod_addrs(k) {
                    wait_ping(from, addr, PING);
                }
            }
        }
    }
}

/// (a) Every node's kernel holds the other nodes' IPv4 and IPv6 pod CIDRs, tagged with
/// bgpod's protocol, `via` the owner's fabric address `dev` the fabric link — and nothing
/// else of ours but blackholes; pods reach pods on other nodes over IPv4 and IPv6.
#[test]
fn mesh_installs_pod_cidrs_and_pods_reach_each_other() {
    let mesh = Mesh::new("kr-mesh", &[2, 1, 1]);
    let daemons = mesh.start_all();
    mesh.wait_converged(&daemons);
    for i in mesh.indices() {
        let ours = mesh.kernel(i).ours().expect("routes");
        let mut unicast: Vec<String> = ours
            .iter()
            .filter(|r| r.is_unicast())
            .map(|r| r.dst.clone())
            .collect();
        unicast.sort();
        let mut want: Vec<String> = mesh
            .indices()
            .filter(|&j| j != i)
            .flat_map(|j| mesh.node(j).pod_cidrs())
            .collect();
        want.sort();
        assert_eq!(unicast, want, "node {i}: bgpod's unicast routes");
    }
    ping_all_pods(&mesh);
}

/// (b) SIGTERM on node 3: its Cease makes nodes 1 and 2 drop its pod CIDRs from their
/// kernels at once (not after the 90 s hold time), and keep each other's. Restarted, node 3
/// is back in every kernel and learns the others again.
#[test]
fn sigterm_withdraws_from_other_kernels_and_restart_reinstalls() {
    let mesh = Mesh::new("kr-term", &[1, 1, 1]);
    let mut daemons = mesh.start_all();
    mesh.wait_converged(&daemons);

    let three = mesh.node(3).pod_cidrs();
    let start = Instant::now();
    daemons[2].stop();
    for i in [1, 2] {
        wait_until(PROMPT, POLL, || mesh.expect_gone(i, &three));
    }
    eprintln!(
        "node 3's pod CIDRs left both kernels {:?} after SIGTERM",
        start.elapsed()
    );
    mesh.expect_learned(1, 2, &mesh.node(2).pod_cidrs())
        .and_then(|()| mesh.expect_learned(2, 1, &mesh.node(1).pod_cidrs()))
        .unwrap_or_else(|e| panic!("a withdrawal of node 3 took other routes along: {e}"));

    daemons[2] = mesh.start(3, &mesh.config(3));
    mesh.wait_converged(&daemons);
    ping_all_pods(&mesh);
}

/// (b) Node 3 vanishes (its link goes down, then kill -9): nodes 1 and 2, with hold_time 3
/// for it, drop its pod CIDRs from their kernels when the hold timer expires — within the
/// hold time, not at once. Back up, node 3 is in every kernel again.
#[test]
fn killed_node_leaves_other_kernels_within_hold_time() {
    let mesh = Mesh::new("kr-kill", &[1, 1, 1]);
    let config = |i: u8| {
        let mut c = mesh.config(i);
        for p in &mut c.peers {
            if p.address == mesh.node(3).v4() || i == 3 {
                p.hold_time = Some(3);
            }
        }
        c
    };
    let mut daemons: Vec<Bgpod> = mesh.indices().map(|i| mesh.start(i, &config(i))).collect();
    mesh.wait_converged(&daemons);

    let three = mesh.node(3).pod_cidrs();
    let n3 = mesh.node(3);
    // Without this the kernel drops node 3's IPv6 address with the link, and it would not
    // reach its IPv6 next hops after the restart.
    n3.ns.sysctl(
        &format!("net.ipv6.conf.{}.keep_addr_on_down", n3.fabric_if),
        "1",
    );
    n3.ns.link_down(&n3.fabric_if);
    daemons[2].proc().kill();
    let killed = Instant::now();
    let gone = wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        mesh.expect_gone(1, &three)?;
        mesh.expect_gone(2, &three)?;
        Ok(killed.elapsed())
    });
    assert!(
        gone >= Duration::from_millis(1500),
        "node 3's routes left after {gone:?}: before a hold timer could expire"
    );
    assert!(
        gone <= Duration::from_secs(6),
        "node 3's routes left after {gone:?}: hold time is 3 s"
    );
    eprintln!("node 3's pod CIDRs left both kernels {gone:?} after the kill");

    n3.ns.ip(&["link", "set", "dev", &n3.fabric_if, "up"]);
    daemons[2] = mesh.start(3, &config(3));
    mesh.wait_converged(&daemons);
    ping_all_pods(&mesh);
}

/// (c) Node 2 restarts with another pod CIDR: the old one leaves every other kernel, the
/// new one arrives there; node 2's own blackhole follows its CIDRs.
#[test]
fn restart_with_changed_pod_cidr_replaces_the_prefix_everywhere() {
    let mesh = Mesh::new("kr-cidr", &[0, 0, 0]);
    let mut daemons = mesh.start_all();
    mesh.wait_converged(&daemons);

    let old = mesh.node(2).pod_cidrs();
    let new = [
        "10.244.102.0/24".to_string(),
        "fd00:10:244:66::/64".to_string(),
    ];
    daemons[1].stop();
    daemons[1] = mesh.start(2, &mesh.config_with_pods(2, &new));
    for i in [1, 3] {
        wait_until(TIMEOUT, POLL, || mesh.expect_learned(i, 2, &new));
        wait_until(PROMPT, POLL, || mesh.expect_gone(i, &old));
    }
    for p in &new {
        wait_until(TIMEOUT, POLL, || mesh.kernel(2).expect_blackhole(p));
    }
    for p in &old {
        wait_until(TIMEOUT, POLL, || mesh.kernel(2).expect_absent(p));
    }
    // The rest of the mesh is untouched.
    for (at, from) in [(1, 3), (3, 1), (2, 1), (2, 3)] {
        mesh.expect_learned(at, from, &mesh.node(from).pod_cidrs())
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A route someone else added on node 1: destination, gateway, `ip route` options.
struct Foreign {
    dst: &'static str,
    gateway: IpAddr,
    protocol: &'static str,
    metric: Option<u32>,
    table: u32,
}

impl Foreign {
    fn add(&self, ns: &Netns) {
        let gw = self.gateway.to_string();
        let table = self.table.to_string();
        let metric = self.metric.map(|m| m.to_string());
        let family = if self.gateway.is_ipv6() { "-6" } else { "-4" };
        let mut args = vec![
            family,
            "route",
            "add",
            self.dst,
            "via",
            &gw,
            "proto",
            self.protocol,
            "table",
            &table,
        ];
        if let Some(m) = &metric {
            args.extend(["metric", m.as_str()]);
        }
        ns.ip(&args);
    }

    /// `Ok` if the route is there exactly as added.
    fn check(&self, ns: &Netns) -> Result<(), String> {
        let proto = common::kernel::protocol_number(self.protocol).expect("known protocol");
        let t = KernelTable::new(ns, proto).table(self.table);
        let found = t.ours_for(self.dst)?;
        let want_metric = self
            .metric
            .unwrap_or(if self.gateway.is_ipv6() { 1024 } else { 0 });
        match found.as_slice() {
            [r] if r.gateway == Some(self.gateway) && r.metric == want_metric && r.is_unicast() => {
                Ok(())
            }
            _ => Err(format!(
                "foreign route {} via {} proto {} table {} is now: {}",
                self.dst,
                self.gateway,
                self.protocol,
                self.table,
                common::kernel::list(&t.all_for(self.dst)?)
            )),
        }
    }
}

/// (d) Routes bgpod does not own, on node 1 — some for the very prefixes bgpod learns (same
/// table, other protocol, other metric), one of bgpod's protocol in another table, one for
/// a prefix nobody announces — survive install, withdrawal, session loss, restart and exit.
#[test]
fn foreign_routes_survive_everything() {
    let mesh = Mesh::new("kr-foreign", &[0, 0, 0]);
    let n1 = &mesh.node(1).ns;
    let (gw2, gw3) = (IpAddr::V4(node_v4(2)), IpAddr::V4(node_v4(3)));
    let gw3_6 = IpAddr::V6(node_v6(3));
    let before = [
        Foreign {
            dst: "10.244.2.0/24",
            gateway: gw3,
            protocol: "77",
            metric: Some(FOREIGN_METRIC),
            table: 254,
        },
        Foreign {
            dst: "10.250.0.0/24",
            gateway: gw3,
            protocol: "static",
            metric: None,
            table: 254,
        },
        Foreign {
            dst: "10.244.3.0/24",
            gateway: gw2,
            protocol: "200",
            metric: None,
            table: 100,
        },
    ];
    let after = [
        Foreign {
            dst: "fd00:10:244:2::/64",
            gateway: gw3_6,
            protocol: "77",
            metric: Some(FOREIGN_METRIC),
            table: 254,
        },
        Foreign {
            dst: "10.244.3.0/24",
            gateway: gw2,
            protocol: "77",
            metric: Some(FOREIGN_METRIC),
            table: 254,
        },
    ];
    for f in &before {
        f.add(n1);
    }
    let check = |stage: &str, with_after: bool| {
        let n = if with_after { after.len() } else { 0 };
        for f in before.iter().chain(&after[..n]) {
            f.check(n1).unwrap_or_else(|e| panic!("{stage}: {e}"));
        }
    };
    let two = mesh.node(2).pod_cidrs();
    let mut daemons = mesh.start_all();
    mesh.wait_converged(&daemons);
    check("after install", false);
    for f in &after {
        f.add(n1);
    }
    // bgpod's own routes for the same prefixes are still there, next to the foreign ones.
    holds_for(Duration::from_secs(1), POLL, || {
        mesh.expect_learned(1, 2, &two)
    });
    check("after adding routes under a running bgpod", true);

    // Session down and withdrawal: node 2 stops.
    daemons[1].stop();
    wait_until(PROMPT, POLL, || {
        check("while node 2's routes leave", true);
        mesh.expect_gone(1, &two)
    });
    check("after withdrawal", true);
    daemons[1] = mesh.start(2, &mesh.config(2));
    wait_until(TIMEOUT, POLL, || {
        check("while node 2's routes come back", true);
        mesh.expect_learned(1, 2, &two)
    });

    // bgpod on node 1 restarts: exit, then start (and its stale-route sweep).
    daemons[0].stop();
    check("after node 1's bgpod exited", true);
    daemons[0] = mesh.start(1, &mesh.config(1));
    mesh.wait_converged(&daemons);
    holds_for(Duration::from_secs(2), POLL, || {
        check("after node 1's bgpod restarted", true);
        Ok(())
    });

    // bgpod on node 1 exits for good.
    daemons[0].stop();
    check("after node 1's bgpod exited for good", true);
}

/// (d) A foreign route holding the very key bgpod would write (same table, prefix and
/// metric, another protocol) is never replaced: bgpod holds its route back, and installs it
/// once the operator deletes theirs.
#[test]
fn foreign_route_with_bgpods_metric_is_not_replaced() {
    const METRIC: u32 = 50;
    let mesh = Mesh::new("kr-conflict", &[0, 0, 0]);
    let n1 = &mesh.node(1).ns;
    let taken = Foreign {
        dst: "10.244.2.0/24",
        gateway: IpAddr::V4(node_v4(3)),
        protocol: "77",
        metric: Some(METRIC),
        table: 254,
    };
    taken.add(n1);
    let config = |i: u8| mesh.config(i).fib_metric(METRIC);
    let daemons: Vec<Bgpod> = mesh.indices().map(|i| mesh.start(i, &config(i))).collect();
    // Everything else converges, with bgpod's metric.
    wait_until(TIMEOUT, POLL, || daemons[0].established(mesh.node(2).v4()));
    for (at, from) in [(1, 3), (2, 1), (3, 1)] {
        wait_until(TIMEOUT, POLL, || {
            mesh.expect_learned(at, from, &mesh.node(from).pod_cidrs())
        });
    }
    let r = mesh.kernel(1).ours_for("10.244.3.0/24").expect("routes");
    assert_eq!(r[0].metric, METRIC, "{}", common::kernel::list(&r));
    wait_until(TIMEOUT, POLL, || {
        mesh.expect_learned(1, 2, &[mesh.node(2).pod_cidrs()[1].clone()])
    });
    holds_for(Duration::from_secs(1), POLL, || {
        taken.check(n1)?;
        mesh.kernel(1).expect_absent(taken.dst)
    });
    n1.ip(&["route", "del", taken.dst, "proto", taken.protocol]);
    wait_until(PROMPT, POLL, || {
        mesh.expect_learned(1, 2, &mesh.node(2).pod_cidrs())
    });
}

/// (e) Routes of bgpod deleted by hand (`ip route del PREFIX proto 200`) come back: the
/// learned ones and the pod CIDR blackholes.
#[test]
fn routes_deleted_by_hand_come_back() {
    let mesh = Mesh::new("kr-del", &[0, 0]);
    let daemons = mesh.start_all();
    mesh.wait_converged(&daemons);
    let n1 = &mesh.node(1).ns;
    let proto = PROTO.to_string();
    for p in mesh.node(2).pod_cidrs() {
        let family = if p.contains(':') { "-6" } else { "-4" };
        n1.ip(&[family, "route", "del", &p, "proto", &proto]);
        let back = Instant::now();
        wait_until(PROMPT, Duration::from_millis(50), || {
            mesh.expect_learned(1, 2, std::slice::from_ref(&p))
        });
        eprintln!("{p} was back after {:?}", back.elapsed());
    }
    for p in mesh.node(1).pod_cidrs() {
        wait_until(PROMPT, POLL, || mesh.kernel(1).expect_blackhole(&p));
        let family = if p.contains(':') { "-6" } else { "-4" };
        n1.ip(&[family, "route", "del", "blackhole", &p, "proto", &proto]);
        wait_until(PROMPT, Duration::from_millis(50), || {
            mesh.kernel(1).expect_blackhole(&p)
        });
    }
}

/// (f) Each node blackholes its own pod CIDRs (type blackhole, bgpod's protocol) and
/// installs no other route of its own for them; the pod bridge's connected route still
/// wins, so the node and other nodes' pods reach its pods. With the pod bridge down, the
/// blackhole takes the traffic for the pod CIDR.
#[test]
fn own_pod_cidrs_are_blackholed_behind_the_connected_route() {
    let mesh = Mesh::new("kr-bh", &[2, 1]);
    let daemons = mesh.start_all();
    mesh.wait_converged(&daemons);
    for i in mesh.indices() {
        for p in mesh.node(i).pod_cidrs() {
            wait_until(TIMEOUT, POLL, || mesh.kernel(i).expect_blackhole(&p));
        }
    }
    let n1 = mesh.node(1);
    for k in 0..2 {
        for addr in n1.pod_addrs(k) {
            let r = route_get(&n1.ns, addr).expect("ip route get");
            assert!(
                r.is_unicast() && r.dev.as_deref() == Some(common::pods::POD_BRIDGE),
                "node 1 would send {addr} by {r}, not the pod bridge"
            );
            wait_ping(&n1.ns, addr, PING);
            wait_ping(&mesh.node(2).pods[0], addr, PING);
        }
    }
    // Pod bridge down: no connected route; the blackhole, not a default route, decides.
    n1.ns.link_down(common::pods::POD_BRIDGE);
    for addr in n1.pod_addrs(0) {
        wait_until(PROMPT, POLL, || {
            let r = route_get(&n1.ns, addr)?;
            if r.kind == "blackhole" {
                Ok(())
            } else {
                Err(format!("node 1 routes {addr} by {r}"))
            }
        });
    }
    n1.ns
        .ip(&["link", "set", "dev", common::pods::POD_BRIDGE, "up"]);
    for addr in n1.pod_addrs(0) {
        wait_ping(&mesh.node(2).pods[0], addr, PING);
    }
}

/// (g) On SIGTERM, bgpod removes every route of its own from its kernel before it exits
/// (learned routes and blackholes); the other nodes drop its pod CIDRs.
#[test]
fn clean_exit_removes_own_routes() {
    let mesh = Mesh::new("kr-exit", &[0, 0, 0]);
    let daemons = mesh.start_all();
    mesh.wait_converged(&daemons);
    assert!(!mesh.kernel(1).ours().expect("routes").is_empty());
    daemons[0].stop();
    // Gone by the time the process has exited: no polling.
    mesh.kernel(1)
        .expect_none()
        .unwrap_or_else(|e| panic!("after a clean exit: {e}"));
    for i in [2, 3] {
        wait_until(PROMPT, POLL, || {
            mesh.expect_gone(i, &mesh.node(1).pod_cidrs())
        });
    }
}

/// (g) With `retain_on_exit`, a clean exit leaves bgpod's routes in the kernel; the next
/// bgpod adopts them: they never leave the kernel, and end up single (no duplicates).
#[test]
fn retain_on_exit_keeps_routes_across_a_restart() {
    let mesh = Mesh::new("kr-retain", &[1, 1]);
    let config = mesh.config(1).fib_retain_on_exit(true);
    let mut daemons = vec![mesh.start(1, &config), mesh.start(2, &mesh.config(2))];
    mesh.wait_converged(&daemons);
    let two = mesh.node(2).pod_cidrs();
    let before = mesh.kernel(1).ours().expect("routes");
    daemons[0].stop();
    let after = mesh.kernel(1).ours().expect("routes");
    assert_eq!(after, before, "retain_on_exit: node 1's routes after exit");

    daemons[0] = mesh.start(1, &config);
    holds_for(Duration::from_secs(3), POLL, || {
        mesh.expect_learned(1, 2, &two)
    });
    mesh.wait_converged(&daemons);
}

/// After kill -9 bgpod leaves its routes behind. The next bgpod keeps those still wanted
/// (they never leave the kernel) and removes the others `sweep_delay` after it started.
#[test]
fn stale_routes_are_swept_after_restart_unless_still_wanted() {
    const SWEEP: u32 = 3;
    let mesh = Mesh::new("kr-sweep", &[0, 0, 0]);
    let config = mesh.config(1).fib_sweep_delay(SWEEP);
    let mut daemons = vec![
        mesh.start(1, &config),
        mesh.start(2, &mesh.config(2)),
        mesh.start(3, &mesh.config(3)),
    ];
    mesh.wait_converged(&daemons);
    let (two, three) = (mesh.node(2).pod_cidrs(), mesh.node(3).pod_cidrs());

    daemons[0].proc().kill();
    // Nothing cleaned up: the routes are still there, now stale.
    mesh.expect_learned(1, 2, &two)
        .and_then(|()| mesh.expect_learned(1, 3, &three))
        .unwrap_or_else(|e| panic!("after kill -9: {e}"));
    daemons[2].stop();
    let n1 = &mesh.node(1).ns;
    let stale = "10.251.0.0/24";
    let gw = node_v4(2).to_string();
    n1.ip(&[
        "route",
        "add",
        stale,
        "via",
        &gw,
        "proto",
        &PROTO.to_string(),
    ]);

    let started = Instant::now();
    daemons[0] = mesh.start(1, &config);
    let swept = wait_until(TIMEOUT, Duration::from_millis(50), || {
        mesh.expect_learned(1, 2, &two)
            .unwrap_or_else(|e| panic!("a wanted route left the kernel: {e}"));
        mesh.expect_gone(1, &three)?;
        mesh.kernel(1).expect_absent(stale)?;
        Ok(started.elapsed())
    });
    let sweep = Duration::from_secs(u64::from(SWEEP));
    assert!(
        swept >= sweep - Duration::from_millis(500),
        "stale routes swept after {swept:?}, before sweep_delay ({sweep:?})"
    );
    assert!(
        swept <= sweep + PROMPT,
        "stale routes swept after {swept:?} (sweep_delay {sweep:?})"
    );
    for p in mesh.node(1).pod_cidrs() {
        mesh.kernel(1)
            .expect_blackhole(&p)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    holds_for(Duration::from_secs(1), POLL, || {
        mesh.expect_learned(1, 2, &two)
    });
}

/// A prefix learned from a peer that overlaps one of our own pod CIDRs is not installed
/// (it would pull our pods' traffic away): node 3 also announces halves of node 1's pod
/// CIDRs; node 2 installs them, node 1 learns but does not install them.
#[test]
fn learned_prefix_overlapping_own_pod_cidr_is_not_installed() {
    let mesh = Mesh::new("kr-overlap", &[1, 1, 0]);
    let overlap = [
        "10.244.1.128/25".to_string(),
        "fd00:10:244:1:8000::/65".to_string(),
    ];
    let mut three = mesh.node(3).pod_cidrs().to_vec();
    three.extend(overlap.iter().cloned());
    let daemons = vec![
        mesh.start(1, &mesh.config(1)),
        mesh.start(2, &mesh.config(2)),
        mesh.start(3, &mesh.config_with_pods(3, &three)),
    ];
    mesh.wait_converged(&daemons);
    wait_until(TIMEOUT, POLL, || mesh.expect_learned(2, 3, &overlap));
    for p in &overlap {
        wait_until(TIMEOUT, POLL, || {
            daemons[0].expect_route(p, mesh.node(3).v4(), prefix_nh(p, 3), &[])
        });
    }
    holds_for(Duration::from_secs(1), POLL, || {
        mesh.expect_gone(1, &overlap)
    });
    for addr in mesh.node(1).pod_addrs(0) {
        wait_ping(&mesh.node(2).pods[0], addr, PING);
    }
}

/// `[fib] table` and `protocol`: routes go to table 100 with protocol 201, nothing of
/// protocol 201 to the main table.
#[test]
fn routes_go_to_the_configured_table_and_protocol() {
    const TABLE: u32 = 100;
    const OTHER_PROTO: u8 = 201;
    let mesh = Mesh::new("kr-table", &[0, 0]);
    let config = |i: u8| mesh.config(i).fib_table(TABLE).fib_protocol(OTHER_PROTO);
    let daemons = [mesh.start(1, &config(1)), mesh.start(2, &config(2))];
    for (i, j) in [(1u8, 2u8), (2, 1)] {
        wait_until(TIMEOUT, POLL, || {
            daemons[usize::from(i) - 1].established(mesh.node(j).v4())
        });
        let table = KernelTable::new(&mesh.node(i).ns, OTHER_PROTO).table(TABLE);
        for p in mesh.node(j).pod_cidrs() {
            wait_until(TIMEOUT, POLL, || {
                table.expect_via(&p, &[via(prefix_nh(&p, j), &mesh.node(i).fabric_if)])
            });
        }
        KernelTable::new(&mesh.node(i).ns, OTHER_PROTO)
            .expect_none()
            .unwrap_or_else(|e| panic!("main table: {e}"));
        mesh.kernel(i)
            .expect_none()
            .unwrap_or_else(|e| panic!("protocol {PROTO}: {e}"));
    }
}

/// Node `i`'s fabric address of the family of `prefix`.
fn prefix_nh(prefix: &str, i: u8) -> IpAddr {
    if prefix.contains(':') {
        IpAddr::V6(node_v6(i))
    } else {
        IpAddr::V4(node_v4(i))
    }
}

/// The `ip -j route` parser itself (no root needed).
#[test]
fn kernel_route_parser_reads_ip_json() {
    let v4 = r#"[{"dst":"10.9.0.0/24","dev":"d0","protocol":"kernel","scope":"link","flags":[]},
        {"dst":"10.9.0.7","gateway":"10.9.0.3","dev":"d0","protocol":"200","flags":[]},
        {"dst":"10.244.3.0/24","protocol":"200","metric":20,"flags":[],"nexthops":[
            {"gateway":"10.9.0.2","dev":"d0","weight":1,"flags":[]},
            {"gateway":"10.8.0.2","dev":"d1","weight":1,"flags":[]}]},
        {"type":"blackhole","dst":"10.244.1.0/24","protocol":"200","metric":20,"flags":[]}]"#;
    let r = parse_routes(v4, false).expect("parse");
    assert_eq!(r.len(), 4);
    assert!(r[0].has_protocol(2) && r[0].is_unicast());
    assert_eq!(r[1].dst, "10.9.0.7/32");
    assert_eq!(r[1].next_hops().len(), 1);
    assert_eq!(r[2].next_hops().len(), 2);
    assert_eq!(r[2].metric, 20);
    assert_eq!(r[3].kind, "blackhole");
    assert!(r[3].next_hops().is_empty());
    let v6 = r#"[{"type":"blackhole","dst":"fd00:10:244:1::/64","dev":"lo","protocol":"200",
        "metric":20,"flags":[],"pref":"medium"}]"#;
    let r = parse_routes(v6, true).expect("parse");
    assert!(r[0].is_for("fd00:10:244:1:0::/64"));
    assert!(r[0].has_protocol(200));
    assert!(parse_routes("", true).expect("empty").is_empty());
}
