//! Nodes with pods, as a container host has them: a node namespace on the fabric bridge,
//! forwarding on, with a pod bridge holding the gateway address of each of its pod CIDRs,
//! and pod namespaces attached to that bridge with an address from the pod CIDR and default
//! routes through the gateway.
//!
//! Addressing (node `i`, 1 to 253; pod `k` from 0):
//! - fabric: `10.99.0.i/24`, `fd00:99::i/64` (a ToR or a router at `.254` / `::fe`);
//! - pod CIDRs: `10.244.i.0/24`, `fd00:10:244:i::/64`; gateways `.1` / `::1` on the pod
//!   bridge; pod `k` at `10.244.i.(10+k)`, `fd00:10:244:i::(10+k)`.
//!
//! Forwarding is turned on with sysctls inside the node namespace only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::lab::Lab;
use super::netns::{Bridge, Netns};
use super::wait::wait_until;

/// The pod bridge's name inside a node namespace.
pub const POD_BRIDGE: &str = "pods0";

/// Turn on IPv4 and IPv6 forwarding inside `ns` (never on the host).
pub fn enable_forwarding(ns: &Netns) {
    ns.sysctl("net.ipv4.ip_forward", "1");
    ns.sysctl("net.ipv6.conf.all.forwarding", "1");
}

/// A node's fabric IPv4 address, `10.99.0.i`.
pub fn node_v4(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 0, i)
}

/// A node's fabric IPv6 address, `fd00:99::i`.
pub fn node_v6(i: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, u16::from(i))
}

/// Node `i`'s pod CIDRs: `[10.244.i.0/24, fd00:10:244:i::/64]`.
pub fn pod_cidrs(i: u8) -> [String; 2] {
    [
        format!("10.244.{i}.0/24"),
        format!("fd00:10:244:{i:x}::/64"),
    ]
}

/// Pod `k` of node `i`: `[10.244.i.(10+k), fd00:10:244:i::(10+k)]`.
pub fn pod_addrs(i: u8, k: u8) -> [IpAddr; 2] {
    let host = 10 + k;
    [
        IpAddr::V4(Ipv4Addr::new(10, 244, i, host)),
        IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0x10,
            0x244,
            u16::from(i),
            0,
            0,
            0,
            u16::from(host),
        )),
    ]
}

/// Node `i`'s pod gateways, as `addr/len` (on the pod bridge).
pub fn pod_gateways(i: u8) -> [String; 2] {
    [
        format!("10.244.{i}.1/24"),
        format!("fd00:10:244:{i:x}::1/64"),
    ]
}

/// A node: its namespace on the fabric, its pod bridge and its pod namespaces.
pub struct PodNode {
    pub index: u8,
    pub ns: Netns,
    /// The node's interface on the fabric bridge (inside `ns`).
    pub fabric_if: String,
    pub pods: Vec<Netns>,
}

impl PodNode {
    /// Node `index`: a namespace `node<index>` on `fabric` with the fabric addresses,
    /// forwarding on, a pod bridge with the pod gateways and `pods` pod namespaces.
    pub fn new(lab: &Lab, fabric: &Bridge, index: u8, pods: u8) -> PodNode {
        let ns = lab.netns(&format!("node{index}"));
        let v4 = format!("{}/24", node_v4(index));
        let v6 = format!("{}/64", node_v6(index));
        let fabric_if = fabric.attach(&ns, &[&v4, &v6]);
        enable_forwarding(&ns);
        let gws = pod_gateways(index);
        pod_bridge(&ns, &[&gws[0], &gws[1]]);
        let pods = (0..pods)
            .map(|k| {
                let pod = lab.netns(&format!("n{index}pod{k}"));
                let [a4, a6] = pod_addrs(index, k);
                attach_pod(
                    &ns,
                    &pod,
                    &[&format!("{a4}/24"), &format!("{a6}/64")],
                    &[addr_only(&gws[0]), addr_only(&gws[1])],
                );
                pod
            })
            .collect();
        PodNode {
            index,
            ns,
            fabric_if,
            pods,
        }
    }

    pub fn v4(&self) -> IpAddr {
        IpAddr::V4(node_v4(self.index))
    }

    pub fn v6(&self) -> IpAddr {
        IpAddr::V6(node_v6(self.index))
    }

    pub fn pod_cidrs(&self) -> [String; 2] {
        pod_cidrs(self.index)
    }

    /// Pod `k`'s addresses, IPv4 then IPv6.
    pub fn pod_addrs(&self, k: u8) -> [IpAddr; 2] {
        pod_addrs(self.index, k)
    }
}

fn addr_only(cidr: &str) -> &str {
    cidr.split('/').next().unwrap_or(cidr)
}

/// Create the pod bridge [`POD_BRIDGE`] in `node` with the gateway addresses `gateways`
/// (`"10.244.1.1/24"`), up.
pub fn pod_bridge(node: &Netns, gateways: &[&str]) {
    node.ip(&[
        "link",
        "add",
        POD_BRIDGE,
        "type",
        "bridge",
        "stp_state",
        "0",
    ]);
    node.ip(&[
        "link",
        "set",
        "dev",
        POD_BRIDGE,
        "type",
        "bridge",
        "mcast_snooping",
        "0",
        "forward_delay",
        "0",
    ]);
    // Keep the gateway addresses when a test takes the bridge down and up again.
    node.sysctl(
        &format!("net.ipv6.conf.{POD_BRIDGE}.keep_addr_on_down"),
        "1",
    );
    node.add_addrs(POD_BRIDGE, gateways);
    node.ip(&["link", "set", "dev", POD_BRIDGE, "up"]);
}

/// Attach `pod` to the pod bridge of `node` with a veth: `addrs` on the pod's end, a default
/// route through each of `gateways` (one per address family). Returns the pod's interface.
pub fn attach_pod(node: &Netns, pod: &Netns, addrs: &[&str], gateways: &[&str]) -> String {
    let (pod_if, node_if) = super::netns::veth_pair(pod, addrs, node, &[]);
    node.ip(&["link", "set", "dev", &node_if, "master", POD_BRIDGE]);
    for gw in gateways {
        let family = if gw.contains(':') { "-6" } else { "-4" };
        pod.ip(&[family, "route", "add", "default", "via", gw]);
    }
    pod_if
}

/// Ping `addr` once from `from` (one second to answer); `Err` says what failed.
pub fn ping(from: &Netns, addr: IpAddr) -> Result<(), String> {
    from.ping(&addr.to_string())
}

/// Ping `addr` from `from`, retrying until it answers; panics after `timeout`.
#[track_caller]
pub fn wait_ping(from: &Netns, addr: IpAddr, timeout: Duration) {
    wait_until(timeout, Duration::from_millis(100), || ping(from, addr));
}
