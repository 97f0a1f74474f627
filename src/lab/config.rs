//! The configuration files the lab writes: one `bgpod.toml` per node, and the ToR's (a bgpod
//! `bgpod.toml` or a BIRD 2 `bird.conf`).
//!
//! The bgpod files are checked with `bgpod_config` before anything starts, and the lab takes
//! the kernel table and route protocol it waits for from the parsed result, so the lab and
//! the daemons cannot disagree about where the routes go.

use std::fmt::Write as _;
use std::path::Path;

use super::topology::{Mode, Node, Plan, TOR_ASN, TOR_V4, TOR_V6};

/// The `[fib]` table the lab writes on every bgpod: the main table, bgpod's default protocol.
const FIB_TABLE: u32 = 254;
const FIB_PROTOCOL: u8 = 179;

/// `bgpod.toml` of `node`: its pod CIDRs, the FIB on, and its peers — the other nodes (iBGP)
/// and the ToR (eBGP) in mesh mode, the ToR alone in ToR mode.
pub fn node(plan: &Plan, node: Node, socket: &Path) -> String {
    let [v4, v6] = node.pod_cidrs();
    let mut c = String::new();
    let _ = writeln!(
        c,
        "# bgpod lab: node {} ({:?} mode)",
        node.name(),
        plan.mode
    );
    let _ = writeln!(c, "router_id = \"{}\"", node.v4());
    let _ = writeln!(c, "asn = {}", node.asn(plan.mode));
    let _ = writeln!(c, "pod_cidrs = [\"{v4}\", \"{v6}\"]");
    let _ = writeln!(c, "control_socket = \"{}\"", socket.display());
    // Peers that are not up yet are retried every second, not every five.
    let _ = writeln!(c, "connect_retry = 1");
    // IPv6 pod CIDRs travel over the IPv4 sessions with this next hop (RFC 2545 §3).
    let _ = writeln!(c, "local_v6_next_hop = \"{}\"", node.v6());
    fib(&mut c);
    if plan.mode == Mode::Mesh {
        for other in plan.nodes().filter(|o| *o != node) {
            peer(
                &mut c,
                &other.v4(),
                other.asn(plan.mode),
                &other.name(),
                false,
            );
        }
    }
    peer(&mut c, TOR_V4, TOR_ASN, "tor", false);
    c
}

/// `bgpod.toml` of a bgpod ToR: no pod CIDRs of its own, an eBGP session to every node, and
/// every learned route passed on (`export_learned`) with itself as the next hop.
pub fn bgpod_tor(plan: &Plan, socket: &Path) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "# bgpod lab: the ToR, a plain eBGP router");
    let _ = writeln!(c, "router_id = \"{TOR_V4}\"");
    let _ = writeln!(c, "asn = {TOR_ASN}");
    let _ = writeln!(c, "control_socket = \"{}\"", socket.display());
    let _ = writeln!(c, "connect_retry = 1");
    let _ = writeln!(c, "local_v6_next_hop = \"{TOR_V6}\"");
    fib(&mut c);
    for node in plan.nodes() {
        peer(&mut c, &node.v4(), node.asn(plan.mode), &node.name(), true);
    }
    c
}

fn fib(c: &mut String) {
    let _ = writeln!(
        c,
        "\n[fib]\nenabled = true\ntable = {FIB_TABLE}\nprotocol = {FIB_PROTOCOL}"
    );
}

fn peer(c: &mut String, address: &str, asn: u32, description: &str, export_learned: bool) {
    let _ = writeln!(
        c,
        "\n[[peers]]\naddress = \"{address}\"\nasn = {asn}\ndescription = \"{description}\""
    );
    if export_learned {
        let _ = writeln!(c, "export_learned = true");
    }
}

/// `bird.conf` of a BIRD 2 ToR: one `protocol bgp` per node with both families, everything
/// imported and exported (eBGP in BIRD exports nothing without an explicit filter, RFC 8212).
///
/// Next hops: the nodes and the ToR share one subnet, so BIRD passes each node's own
/// address on as the next hop (a third-party next hop, RFC 4271 §5.1.3). That is already
/// BIRD's behaviour between single-hop sessions on one interface; `next hop keep` says so
/// explicitly. Pod traffic then flows node to node, and BIRD needs no `protocol kernel`.
/// `next hop address` is only used if BIRD ever has to advertise itself for IPv6 over an
/// IPv4 session.
pub fn bird_tor(plan: &Plan) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "# bgpod lab: the ToR, BIRD 2");
    let _ = writeln!(c, "router id {TOR_V4};");
    let _ = writeln!(c, "log stderr all;");
    let _ = writeln!(c, "protocol device {{ }}");
    for node in plan.nodes() {
        let _ = writeln!(c, "protocol bgp {} {{", node.name());
        let _ = writeln!(c, "  local {TOR_V4} as {TOR_ASN};");
        let _ = writeln!(c, "  neighbor {} as {};", node.v4(), node.asn(plan.mode));
        let _ = writeln!(
            c,
            "  connect delay time 1;\n  connect retry time 1;\n  error wait time 1, 2;"
        );
        let _ = writeln!(c, "  ipv4 {{ import all; export all; next hop keep; }};");
        let _ = writeln!(
            c,
            "  ipv6 {{ import all; export all; next hop keep; next hop address {TOR_V6}; }};"
        );
        let _ = writeln!(c, "}}");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::topology::TorRouter;
    use bgpod_config::Config;

    fn plan(nodes: usize, mode: Mode) -> Plan {
        Plan {
            nodes,
            mode,
            tor: TorRouter::Bgpod,
            static_fabric: false,
        }
    }

    fn parse(text: &str) -> Config {
        Config::parse(text, "lab.toml").unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn mesh_node_peers_every_other_node_and_the_tor() {
        let p = plan(3, Mode::Mesh);
        let c = parse(&node(&p, Node(2), Path::new("/tmp/x/n2/bgpod.sock")));
        assert_eq!(c.router_id.to_string(), "10.99.0.2");
        assert_eq!(c.asn, 64512);
        let cidrs: Vec<String> = c.pod_cidrs.iter().map(ToString::to_string).collect();
        assert_eq!(cidrs, ["10.244.2.0/24", "fd00:10:244:2::/64"]);
        let peers: Vec<(String, u32)> = c
            .peers
            .iter()
            .map(|p| (p.address.to_string(), p.asn))
            .collect();
        assert_eq!(
            peers,
            [
                ("10.99.0.1".to_string(), 64512),
                ("10.99.0.3".to_string(), 64512),
                ("10.99.0.254".to_string(), 65000)
            ]
        );
        assert!(c.peers.iter().all(|p| !p.export_learned));
        assert!(c.fib.enabled);
        assert_eq!((c.fib.table, c.fib.protocol), (254, 179));
        assert_eq!(c.connect_retry, 1);
        assert_eq!(
            c.local_v6_next_hop.map(|a| a.to_string()),
            Some("fd00:99::2".into())
        );
        assert_eq!(c.control_socket, Path::new("/tmp/x/n2/bgpod.sock"));
    }

    #[test]
    fn tor_node_peers_the_tor_only_from_its_own_as() {
        let p = plan(3, Mode::Tor);
        let c = parse(&node(&p, Node(3), Path::new("/s")));
        assert_eq!(c.asn, 65003);
        assert_eq!(c.peers.len(), 1);
        assert_eq!(c.peers[0].address.to_string(), "10.99.0.254");
        assert_eq!(c.peers[0].asn, 65000);
    }

    #[test]
    fn bgpod_tor_passes_learned_routes_on() {
        for (mode, asn_of_n2) in [(Mode::Tor, 65002), (Mode::Mesh, 64512)] {
            let c = parse(&bgpod_tor(&plan(3, mode), Path::new("/s")));
            assert_eq!(c.asn, 65000);
            assert!(c.pod_cidrs.is_empty());
            assert!(c.fib.enabled);
            assert_eq!(c.peers.len(), 3);
            assert!(c.peers.iter().all(|p| p.export_learned));
            assert_eq!(c.peers[1].address.to_string(), "10.99.0.2");
            assert_eq!(c.peers[1].asn, asn_of_n2);
        }
    }

    #[test]
    fn fifty_node_mesh_config_is_valid() {
        let c = parse(&node(&plan(50, Mode::Mesh), Node(50), Path::new("/s")));
        assert_eq!(c.peers.len(), 50);
    }

    #[test]
    fn bird_tor_config() {
        let text = bird_tor(&Plan {
            nodes: 2,
            mode: Mode::Tor,
            tor: TorRouter::Bird,
            static_fabric: false,
        });
        let expected = "\
# bgpod lab: the ToR, BIRD 2
router id 10.99.0.254;
log stderr all;
protocol device { }
protocol bgp n1 {
  local 10.99.0.254 as 65000;
  neighbor 10.99.0.1 as 65001;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  ipv4 { import all; export all; next hop keep; };
  ipv6 { import all; export all; next hop keep; next hop address fd00:99::fe; };
}
protocol bgp n2 {
  local 10.99.0.254 as 65000;
  neighbor 10.99.0.2 as 65002;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  ipv4 { import all; export all; next hop keep; };
  ipv6 { import all; export all; next hop keep; next hop address fd00:99::fe; };
}
";
        assert_eq!(text, expected);
    }
}
