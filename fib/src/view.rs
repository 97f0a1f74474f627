//! [`KernelView`]: what bgpod knows of the kernel besides its own routes — the node's
//! interface addresses and every route in bgpod's table and in `main` that another protocol
//! (the kernel, the operator, another daemon) owns. Next hops are resolved against it and
//! ownership is decided with it.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::prefix_table::{host_len, normalize};
use crate::types::{Address, KernelRoute, BLACKHOLE_METRIC};

/// `RT_TABLE_MAIN`.
pub const RT_TABLE_MAIN: u32 = 254;

/// Foreign routes and addresses, fed by dumps and the event stream.
#[derive(Debug, Clone)]
pub struct KernelView {
    table: u32,
    protocol: u8,
    metric: u32,
    /// Foreign routes of our table and of `main`, by (table, prefix); several metrics each.
    routes: HashMap<(u32, IpNetwork), Vec<KernelRoute>>,
    /// How many foreign routes there are of each prefix length, to skip empty lengths.
    lens_v4: [u32; 33],
    lens_v6: [u32; 129],
    addresses: Vec<Address>,
}

impl KernelView {
    /// The view for bgpod's `table`, `protocol` and unicast `metric`.
    pub fn new(table: u32, protocol: u8, metric: u32) -> Self {
        KernelView {
            table,
            protocol,
            metric,
            routes: HashMap::new(),
            lens_v4: [0; 33],
            lens_v6: [0; 129],
            addresses: Vec::new(),
        }
    }

    /// Whether `r` is one of bgpod's own routes: our protocol, our table, and one of our two
    /// metrics (learned routes, pod CIDR blackholes).
    pub fn is_ours(&self, r: &KernelRoute) -> bool {
        self.is_our_protocol(r) && (r.metric == self.metric || r.metric == BLACKHOLE_METRIC)
    }

    /// Our protocol in our table, whatever the metric (a previous run may have used another).
    pub fn is_our_protocol(&self, r: &KernelRoute) -> bool {
        r.protocol == self.protocol && r.table == self.table
    }

    /// Whether a foreign route matters to bgpod: it lives in our table or in `main`.
    pub fn is_relevant(&self, r: &KernelRoute) -> bool {
        r.table == self.table || r.table == RT_TABLE_MAIN
    }

    /// Forget everything (before a dump is loaded).
    pub fn clear(&mut self) {
        self.routes.clear();
        self.lens_v4 = [0; 33];
        self.lens_v6 = [0; 129];
        self.addresses.clear();
    }

    fn count(&mut self, prefix: &IpNetwork, up: bool) {
        let slot = match prefix {
            IpNetwork::V4(n) => &mut self.lens_v4[usize::from(n.prefix().min(32))],
            IpNetwork::V6(n) => &mut self.lens_v6[usize::from(n.prefix().min(128))],
        };
        if up {
            *slot += 1;
        } else {
            *slot = slot.saturating_sub(1);
        }
    }

    /// Record a foreign route (replacing the one with the same table, prefix and metric).
    pub fn add_route(&mut self, mut r: KernelRoute) {
        r.prefix = normalize(r.prefix);
        let prefix = r.prefix;
        let list = self.routes.entry((r.table, prefix)).or_default();
        if let Some(old) = list.iter_mut().find(|o| o.metric == r.metric) {
            *old = r;
            return;
        }
        list.push(r);
        list.sort_by_key(|o| o.metric);
        self.count(&prefix, true);
    }

    /// Forget a foreign route. Returns whether it was known.
    pub fn remove_route(&mut self, r: &KernelRoute) -> bool {
        let key = (r.table, normalize(r.prefix));
        let Some(list) = self.routes.get_mut(&key) else {
            return false;
        };
        let before = list.len();
        list.retain(|o| o.metric != r.metric);
        let removed = list.len() < before;
        if list.is_empty() {
            self.routes.remove(&key);
        }
        if removed {
            self.count(&key.1, false);
        }
        removed
    }

    /// The foreign route that holds the key bgpod would write for `prefix` with `metric` in
    /// its table, if any: replacing it would take another protocol's route.
    pub fn owner_of(&self, prefix: &IpNetwork, metric: u32) -> Option<&KernelRoute> {
        self.routes
            .get(&(self.table, normalize(*prefix)))
            .and_then(|l| l.iter().find(|r| r.metric == metric))
    }

    /// The route the kernel would use for `addr` in `table` among the foreign routes: the
    /// longest prefix, then the lowest metric.
    pub fn lookup(&self, table: u32, addr: IpAddr) -> Option<&KernelRoute> {
        let lens: &[u32] = if addr.is_ipv4() {
            &self.lens_v4
        } else {
            &self.lens_v6
        };
        for len in (0..=host_len(addr)).rev() {
            if lens[usize::from(len)] == 0 {
                continue;
            }
            let Ok(net) = IpNetwork::new(addr, len) else {
                continue;
            };
            if let Some(best) = self
                .routes
                .get(&(table, normalize(net)))
                .and_then(|l| l.first())
            {
                return Some(best);
            }
        }
        None
    }

    pub fn add_address(&mut self, a: Address) {
        if !self.addresses.contains(&a) {
            self.addresses.push(a);
        }
    }

    pub fn remove_address(&mut self, a: &Address) {
        self.addresses.retain(|x| x != a);
    }

    /// The node's interface addresses.
    pub fn addresses(&self) -> &[Address] {
        &self.addresses
    }

    /// Whether `addr` is one of the node's own addresses.
    pub fn is_local(&self, addr: IpAddr) -> bool {
        self.addresses.iter().any(|a| a.network.ip() == addr)
    }

    /// Whether a known foreign route goes out through interface `i`.
    pub fn uses_ifindex(&self, i: u32) -> bool {
        self.routes
            .values()
            .flatten()
            .any(|r| r.next_hops.iter().any(|h| h.ifindex == i))
    }

    /// Number of foreign routes known.
    pub fn route_count(&self) -> usize {
        self.routes.values().map(Vec::len).sum()
    }

    /// bgpod's table.
    pub fn table(&self) -> u32 {
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{KernelNextHop, RTN_UNICAST};

    fn route(table: u32, prefix: &str, metric: u32, gw: Option<&str>, dev: u32) -> KernelRoute {
        KernelRoute {
            table,
            prefix: prefix.parse().expect("prefix"),
            protocol: 2,
            metric,
            kind: RTN_UNICAST,
            next_hops: vec![KernelNextHop {
                gateway: gw.map(|g| g.parse().expect("gw")),
                ifindex: dev,
            }],
        }
    }

    #[test]
    fn longest_prefix_then_lowest_metric() {
        let mut v = KernelView::new(254, 179, 20);
        v.add_route(route(254, "0.0.0.0/0", 0, Some("10.0.0.1"), 2));
        v.add_route(route(254, "10.1.0.0/16", 100, Some("10.0.0.2"), 2));
        v.add_route(route(254, "10.1.0.0/16", 5, Some("10.0.0.3"), 2));
        let a = "10.1.2.3".parse().expect("addr");
        assert_eq!(v.lookup(254, a).map(|r| r.metric), Some(5));
        assert_eq!(
            v.lookup(254, "192.0.2.1".parse().expect("addr"))
                .map(|r| r.metric),
            Some(0)
        );
        assert!(v.lookup(100, a).is_none());
        assert!(v.remove_route(&route(254, "10.1.0.0/16", 5, None, 0)));
        assert_eq!(v.lookup(254, a).map(|r| r.metric), Some(100));
        assert_eq!(v.route_count(), 2);
    }

    #[test]
    fn owner_is_the_exact_key_in_our_table() {
        let mut v = KernelView::new(100, 179, 20);
        v.add_route(route(100, "10.9.0.0/24", 20, Some("10.0.0.1"), 2));
        v.add_route(route(254, "10.8.0.0/24", 20, Some("10.0.0.1"), 2));
        let p = "10.9.0.0/24".parse().expect("prefix");
        assert!(v.owner_of(&p, 20).is_some());
        assert!(v.owner_of(&p, 0).is_none());
        assert!(v
            .owner_of(&"10.8.0.0/24".parse().expect("prefix"), 20)
            .is_none());
    }
}
