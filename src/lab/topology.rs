//! The lab's addressing plan and the namespaces, links and addresses that realise it.
//!
//! ```text
//!                      bgpod-lab-fabric (bridge br0)
//!        10.99.0.0/24, fd00:99::/64 — one shared subnet, no router on it
//!     ┌───────────────┬───────────────┬───────────────┐
//!   eth0 .1         eth0 .2         eth0 .3         eth0 .254 (::fe)
//!  bgpod-lab-n1    bgpod-lab-n2    bgpod-lab-n3    bgpod-lab-tor
//!  bgpod run       bgpod run       bgpod run       bgpod run / bird
//!  pods0 10.244.1.1/24, fd00:10:244:1::1/64 (a bridge)
//!   ├─ bgpod-lab-n1-p1  eth0 10.244.1.11, fd00:10:244:1::11
//!   └─ bgpod-lab-n1-p2  eth0 10.244.1.12, fd00:10:244:1::12
//! ```
//!
//! Node `N` is 10.99.0.N and fd00:99::N on the fabric; its pod CIDRs are 10.244.N.0/24 and
//! fd00:10:244:N::/64. The decimal digits of N are written as they are into IPv6 addresses
//! (node 10 is fd00:99::10), so every address reads like its IPv4 twin. Forwarding is turned
//! on inside the node namespaces (and the bgpod ToR's) only; the host is never touched.

use std::thread;

use anyhow::Context;

use super::netns::{self, Topology};
use super::PREFIX;

/// How the nodes exchange routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// iBGP full mesh among the nodes (AS 64512); every node also has an eBGP session to the
    /// ToR, which learns the whole cluster but has nothing to give back (AS-path loop).
    Mesh,
    /// Every node in its own AS, with one eBGP session: to the ToR, which passes the routes on.
    Tor,
}

/// What runs on the ToR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TorRouter {
    /// A second bgpod, configured as a plain eBGP router: next hop self, so pod traffic
    /// between nodes goes through the ToR (which forwards and installs kernel routes).
    Bgpod,
    /// BIRD 2: keeps the nodes' next hops (third-party next hop on the shared subnet), so pod
    /// traffic goes node to node directly; the ToR forwards nothing.
    Bird,
}

/// The AS of every node in mesh mode.
pub const MESH_ASN: u32 = 64512;
/// The ToR's AS; in ToR mode node `N` is in AS `TOR_ASN + N`.
pub const TOR_ASN: u32 = 65000;
/// Pods behind each node.
pub const PODS_PER_NODE: usize = 2;
/// The most nodes a lab can have (the addressing plan has room for more; time does not).
pub const MAX_NODES: usize = 50;

/// The whole lab, as planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub nodes: usize,
    pub mode: Mode,
    pub tor: TorRouter,
    /// Static (permanent) neighbour entries on the fabric instead of ARP and neighbour
    /// discovery; see [`fabric_neighbours`].
    pub static_fabric: bool,
}

/// A number whose decimal digits are read as hex digits: `10` → `0x10`, so that node 10 is
/// `fd00:99::10`. Only meant for the lab's small numbers.
fn digits_as_hex(n: usize) -> u16 {
    n.to_string().bytes().fold(0u16, |acc, d| {
        acc.wrapping_mul(16).wrapping_add(u16::from(d - b'0'))
    })
}

/// One node: a namespace running `bgpod run`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node(pub usize);

impl Node {
    /// `n3`.
    pub fn name(self) -> String {
        format!("n{}", self.0)
    }

    /// `bgpod-lab-n3`.
    pub fn ns(self) -> String {
        format!("{PREFIX}-n{}", self.0)
    }

    /// `10.99.0.3`.
    pub fn v4(self) -> String {
        format!("10.99.0.{}", self.0)
    }

    /// `fd00:99::3`.
    pub fn v6(self) -> String {
        format!("fd00:99::{:x}", digits_as_hex(self.0))
    }

    /// `02:99:00:00:00:03`: the MAC of its `eth0` (fixed, so that fabric neighbours can be
    /// static, and readable in `ip neigh`).
    pub fn mac(self) -> String {
        mac(digits_as_hex(self.0))
    }

    pub fn asn(self, mode: Mode) -> u32 {
        match mode {
            Mode::Mesh => MESH_ASN,
            Mode::Tor => TOR_ASN + u32::try_from(self.0).unwrap_or(0),
        }
    }

    /// `10.244.3.0/24` and `fd00:10:244:3::/64`.
    pub fn pod_cidrs(self) -> [String; 2] {
        [
            format!("10.244.{}.0/24", self.0),
            format!("fd00:10:244:{:x}::/64", digits_as_hex(self.0)),
        ]
    }

    /// The node's addresses on its pod bridge, which the pods use as their default gateway.
    pub fn gateways(self) -> [String; 2] {
        [
            format!("10.244.{}.1", self.0),
            format!("fd00:10:244:{:x}::1", digits_as_hex(self.0)),
        ]
    }

    pub fn pods(self) -> impl Iterator<Item = Pod> {
        (1..=PODS_PER_NODE).map(move |k| Pod { node: self, k })
    }
}

/// A pod: a namespace behind a node's `pods0` bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pod {
    pub node: Node,
    /// 1-based index on its node.
    pub k: usize,
}

impl Pod {
    /// `n3p1`.
    pub fn label(self) -> String {
        format!("n{}p{}", self.node.0, self.k)
    }

    /// `bgpod-lab-n3-p1`.
    pub fn ns(self) -> String {
        format!("{}-p{}", self.node.ns(), self.k)
    }

    /// `10.244.3.11`.
    pub fn v4(self) -> String {
        format!("10.244.{}.{}", self.node.0, 10 + self.k)
    }

    /// `fd00:10:244:3::11`.
    pub fn v6(self) -> String {
        format!(
            "fd00:10:244:{:x}::{:x}",
            digits_as_hex(self.node.0),
            digits_as_hex(10 + self.k)
        )
    }
}

/// The ToR's namespace, fabric addresses and router ID.
pub const TOR_NS: &str = "bgpod-lab-tor";
pub const TOR_V4: &str = "10.99.0.254";
pub const TOR_V6: &str = "fd00:99::fe";
pub const TOR_MAC_SUFFIX: u16 = 0xfe;
/// The fabric bridge's namespace.
pub const FABRIC_NS: &str = "bgpod-lab-fabric";

/// `02:99:00:00:XX:YY`: locally administered, unicast.
fn mac(suffix: u16) -> String {
    let [hi, lo] = suffix.to_be_bytes();
    format!("02:99:00:00:{hi:02x}:{lo:02x}")
}

/// Linux keeps one ARP table and one neighbour-discovery table for the whole host, shared by
/// every namespace, and refuses new dynamic entries past `gc_thresh3` (1024 by default):
/// a 50-node full mesh needs some 2,700 and would fail with "No buffer space available"
/// ("neighbor table overflow" in the kernel log). Permanent entries do not count against
/// the limit (Linux 4.20 and later), so a lab that would need more than half of it uses
/// static neighbours on the fabric. The lab only reads the host's limit; it never changes it.
pub fn fabric_neighbours(plan: &Plan) -> usize {
    let n = plan.nodes;
    // Every node and the ToR resolve each other.
    let tor = 2 * n;
    // Nodes that forward to each other directly (not through a bgpod ToR), or hold
    // sessions to each other, resolve each other.
    let direct = match (plan.mode, plan.tor) {
        (Mode::Tor, TorRouter::Bgpod) => 0,
        _ => n * n.saturating_sub(1),
    };
    // Pods and their node's bridge.
    let pods = 2 * n * PODS_PER_NODE;
    tor + direct + pods
}

/// The host's neighbour-table limit, the smaller of ARP's and neighbour discovery's.
pub fn host_neighbour_limit() -> usize {
    ["ipv4", "ipv6"]
        .iter()
        .filter_map(|f| {
            std::fs::read_to_string(format!("/proc/sys/net/{f}/neigh/default/gc_thresh3")).ok()
        })
        .filter_map(|t| t.trim().parse().ok())
        .min()
        .unwrap_or(1024)
}

impl Plan {
    pub fn nodes(&self) -> impl Iterator<Item = Node> {
        (1..=self.nodes).map(Node)
    }

    pub fn pods(&self) -> Vec<Pod> {
        self.nodes().flat_map(Node::pods).collect()
    }

    /// Every namespace of the lab, fabric first.
    pub fn namespaces(&self) -> Vec<String> {
        let mut all = vec![FABRIC_NS.to_string(), TOR_NS.to_string()];
        for node in self.nodes() {
            all.push(node.ns());
            all.extend(node.pods().map(Pod::ns));
        }
        all
    }

    /// Whether the ToR forwards pod traffic (and so needs forwarding on).
    fn tor_forwards(&self) -> bool {
        self.tor == TorRouter::Bgpod
    }
}

/// Sysctls set in every namespace: no IPv6 duplicate address detection, so addresses (and
/// link-local addresses, which neighbour discovery needs) are usable at once.
const NO_DAD: [&str; 2] = [
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
];
/// Sysctls of a router namespace (nodes, the bgpod ToR).
const FORWARDING: [&str; 2] = ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"];
/// The bgpod ToR hairpins traffic between nodes on one subnet; without this it would send
/// ICMP redirects and the nodes would bypass it after the first packet.
const NO_REDIRECTS: [&str; 2] = [
    "net.ipv4.conf.all.send_redirects=0",
    "net.ipv4.conf.default.send_redirects=0",
];

/// `key=value` sysctls as a shell script writing `/proc/sys` (inside a namespace, `/proc/sys/net`
/// is that namespace's), so the lab does not need the `sysctl` program.
fn sysctl_script(keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| format!("echo {v} > /proc/sys/{}", k.replace('.', "/")))
        .collect::<Vec<_>>()
        .join(" && ")
}

/// Parallel workers for `ip` invocations: they are short and mostly wait on the kernel.
const WORKERS: usize = 8;

/// Create every namespace, link and address of `plan`, recording them in `topo`.
pub fn build(plan: &Plan, topo: &mut Topology) -> anyhow::Result<()> {
    let namespaces = plan.namespaces();
    topo.add_namespaces(&namespaces)?;

    // Sysctls first: links created afterwards inherit the `default` values.
    let mut sysctls: Vec<(String, Vec<&str>)> = Vec::new();
    for ns in &namespaces {
        let mut keys: Vec<&str> = NO_DAD.to_vec();
        let is_node = plan.nodes().any(|n| n.ns() == *ns);
        if is_node || (ns == TOR_NS && plan.tor_forwards()) {
            keys.extend(FORWARDING);
        }
        if ns == TOR_NS && plan.tor_forwards() {
            keys.extend(NO_REDIRECTS);
        }
        sysctls.push((ns.clone(), keys));
    }
    parallel(&sysctls, |(ns, keys)| {
        netns::exec(ns, &["sh", "-c", &sysctl_script(keys)]).map(drop)
    })?;

    let mut fabric = vec![
        "link set lo up".to_string(),
        "link add br0 type bridge".into(),
        "link set br0 up".into(),
    ];
    // Node and ToR ends of the fabric, each as one `ip -n NS -batch` script.
    let mut routers: Vec<(String, Vec<String>)> = Vec::new();
    for node in plan.nodes() {
        let outside = format!("{}-fab", node.name());
        let mut cmds = uplink(&outside, &node.v4(), &node.v6(), &node.mac());
        if plan.static_fabric {
            cmds.extend(static_neighbours(plan, Some(node)));
        }
        let [gw4, gw6] = node.gateways();
        cmds.extend([
            "link add pods0 type bridge".to_string(),
            format!("addr add {gw4}/24 dev pods0"),
            format!("addr add {gw6}/64 dev pods0"),
            "link set pods0 up".into(),
        ]);
        for pod in node.pods() {
            let port = format!("p{}", pod.k);
            cmds.push(format!(
                "link add {port} type veth peer name eth0 netns {}",
                pod.ns()
            ));
            cmds.push(format!("link set {port} master pods0 up"));
        }
        fabric.push(format!("link set {outside} master br0 up"));
        routers.push((node.ns(), cmds));
    }
    let mut tor = uplink("tor-fab", TOR_V4, TOR_V6, &mac(TOR_MAC_SUFFIX));
    if plan.static_fabric {
        tor.extend(static_neighbours(plan, None));
    }
    routers.push((TOR_NS.to_string(), tor));
    fabric.push("link set tor-fab master br0 up".into());

    netns::batch(FABRIC_NS, &fabric[..3])?;
    parallel(&routers, |(ns, cmds)| netns::batch(ns, cmds))?;
    netns::batch(FABRIC_NS, &fabric[3..])?;

    let pods: Vec<(String, Vec<String>)> = plan
        .pods()
        .into_iter()
        .map(|pod| {
            let [gw4, gw6] = pod.node.gateways();
            let cmds = vec![
                "link set lo up".to_string(),
                format!("addr add {}/24 dev eth0", pod.v4()),
                format!("addr add {}/64 dev eth0", pod.v6()),
                "link set eth0 up".into(),
                format!("route add default via {gw4}"),
                format!("route add default via {gw6}"),
            ];
            (pod.ns(), cmds)
        })
        .collect();
    parallel(&pods, |(ns, cmds)| netns::batch(ns, cmds))
}

/// The commands that give a router namespace its `eth0` on the fabric bridge.
fn uplink(outside: &str, v4: &str, v6: &str, mac: &str) -> Vec<String> {
    vec![
        "link set lo up".into(),
        format!("link add eth0 address {mac} type veth peer name {outside} netns {FABRIC_NS}"),
        format!("addr add {v4}/24 dev eth0"),
        format!("addr add {v6}/64 dev eth0"),
        "link set eth0 up".into(),
    ]
}

/// Permanent neighbour entries for every other router on the fabric, both families, as seen
/// from `me` (`None`: the ToR).
fn static_neighbours(plan: &Plan, me: Option<Node>) -> Vec<String> {
    let mut others: Vec<(String, String, String)> = plan
        .nodes()
        .filter(|n| Some(*n) != me)
        .map(|n| (n.v4(), n.v6(), n.mac()))
        .collect();
    if me.is_some() {
        others.push((TOR_V4.into(), TOR_V6.into(), mac(TOR_MAC_SUFFIX)));
    }
    others
        .iter()
        .flat_map(|(v4, v6, mac)| {
            [v4, v6].map(|a| format!("neigh replace {a} lladdr {mac} dev eth0 nud permanent"))
        })
        .collect()
}

/// Run `f` on every item with up to [`WORKERS`] threads; the first error wins.
pub fn parallel<T: Sync>(
    items: &[T],
    f: impl Fn(&T) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<()> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = WORKERS.min(items.len());
    let results: Vec<anyhow::Result<()>> = thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else {
                            return Ok(());
                        };
                        f(item)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a lab worker thread panicked")))
            })
            .collect()
    });
    results
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()
        .map(drop)
        .context("building the lab topology")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_like_their_ipv4_twins() {
        let n = Node(10);
        assert_eq!(n.ns(), "bgpod-lab-n10");
        assert_eq!(n.v4(), "10.99.0.10");
        assert_eq!(n.v6(), "fd00:99::10");
        assert_eq!(n.pod_cidrs(), ["10.244.10.0/24", "fd00:10:244:10::/64"]);
        assert_eq!(n.gateways(), ["10.244.10.1", "fd00:10:244:10::1"]);
        let p = Pod { node: n, k: 2 };
        assert_eq!(p.ns(), "bgpod-lab-n10-p2");
        assert_eq!(p.label(), "n10p2");
        assert_eq!(p.v4(), "10.244.10.12");
        assert_eq!(p.v6(), "fd00:10:244:10::12");
        assert_eq!(Node(1).v6(), "fd00:99::1");
        assert_eq!(Node(50).pod_cidrs()[1], "fd00:10:244:50::/64");
    }

    #[test]
    fn every_address_parses_and_none_repeats() {
        let plan = Plan {
            nodes: MAX_NODES,
            mode: Mode::Tor,
            tor: TorRouter::Bgpod,
            static_fabric: false,
        };
        let mut seen = std::collections::HashSet::new();
        for node in plan.nodes() {
            for a in [node.v4(), node.v6()] {
                assert!(a.parse::<std::net::IpAddr>().is_ok(), "{a}");
                assert!(seen.insert(a.clone()), "{a} twice");
            }
            for c in node.pod_cidrs() {
                assert!(c.parse::<ipnetwork::IpNetwork>().is_ok(), "{c}");
            }
            for pod in node.pods() {
                for a in [pod.v4(), pod.v6()] {
                    assert!(a.parse::<std::net::IpAddr>().is_ok(), "{a}");
                    assert!(seen.insert(a.clone()), "{a} twice");
                }
            }
        }
        assert!(!seen.contains(TOR_V4) && !seen.contains(TOR_V6));
        let ns = plan.namespaces();
        assert_eq!(ns.len(), 2 + MAX_NODES * (1 + PODS_PER_NODE));
        assert!(ns.iter().all(|n| n.starts_with("bgpod-lab-")));
    }

    #[test]
    fn macs_are_fixed_and_unicast() {
        assert_eq!(Node(3).mac(), "02:99:00:00:00:03");
        assert_eq!(Node(50).mac(), "02:99:00:00:00:50");
        assert_eq!(mac(TOR_MAC_SUFFIX), "02:99:00:00:00:fe");
    }

    #[test]
    fn big_labs_outgrow_the_default_neighbour_table() {
        let plan = |nodes, mode, tor| Plan {
            nodes,
            mode,
            tor,
            static_fabric: false,
        };
        // Half of the default 1024.
        assert!(fabric_neighbours(&plan(3, Mode::Mesh, TorRouter::Bgpod)) < 512);
        assert!(fabric_neighbours(&plan(20, Mode::Mesh, TorRouter::Bgpod)) < 512);
        assert!(fabric_neighbours(&plan(21, Mode::Mesh, TorRouter::Bgpod)) > 512);
        assert!(fabric_neighbours(&plan(50, Mode::Tor, TorRouter::Bird)) > 512);
        // Through a bgpod ToR nodes only resolve the ToR and their pods.
        assert_eq!(
            fabric_neighbours(&plan(50, Mode::Tor, TorRouter::Bgpod)),
            300
        );
    }

    #[test]
    fn static_neighbours_cover_every_other_router() {
        let plan = Plan {
            nodes: 3,
            mode: Mode::Mesh,
            tor: TorRouter::Bgpod,
            static_fabric: true,
        };
        let n2 = static_neighbours(&plan, Some(Node(2)));
        assert_eq!(n2.len(), 3 * 2);
        assert_eq!(
            n2[0],
            "neigh replace 10.99.0.1 lladdr 02:99:00:00:00:01 dev eth0 nud permanent"
        );
        assert!(n2.contains(
            &"neigh replace fd00:99::fe lladdr 02:99:00:00:00:fe dev eth0 nud permanent".into()
        ));
        assert!(!n2.iter().any(|c| c.contains("10.99.0.2 ")));
        assert_eq!(static_neighbours(&plan, None).len(), 3 * 2);
    }

    #[test]
    fn sysctls_become_proc_writes() {
        assert_eq!(
            sysctl_script(&FORWARDING),
            "echo 1 > /proc/sys/net/ipv4/ip_forward && \
             echo 1 > /proc/sys/net/ipv6/conf/all/forwarding"
        );
    }

    #[test]
    fn asns_per_mode() {
        assert_eq!(Node(3).asn(Mode::Mesh), 64512);
        assert_eq!(Node(3).asn(Mode::Tor), 65003);
    }

    #[test]
    fn parallel_reports_the_first_error() {
        let items = [1, 2, 3, 4];
        assert!(parallel(&items, |_| Ok(())).is_ok());
        let err = parallel(&items, |i| {
            if *i == 3 {
                anyhow::bail!("three")
            }
            Ok(())
        })
        .expect_err("fails");
        assert!(format!("{err:#}").contains("three"));
    }
}
