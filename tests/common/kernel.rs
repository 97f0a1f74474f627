//! The kernel's routing table as the tests see it: `ip -j route` parsed into [`KernelRoute`]s,
//! and [`KernelTable`], the view of one table through one route protocol number (bgpod's),
//! with the `Result`-returning checks [`wait_until`](super::wait_until) polls.
//!
//! Routes are listed with `ip -n NS -j [-4|-6] route show table T`, not with a `proto`
//! filter: iproute2 leaves out of its output every field it filtered on, so a filtered
//! listing would not say which protocol a route has. Protocol numbers are compared as
//! numbers; iproute2 prints a name for the few it knows (`kernel`, `static`, `bird`...).

use std::fmt;
use std::net::IpAddr;

use serde_json::Value;

use super::netns::{run_cmd, Netns};
use super::parse_prefix;

/// The main table (`RT_TABLE_MAIN`).
pub const MAIN_TABLE: u32 = 254;

/// One next hop of a kernel route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextHop {
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
    /// 1 unless the route sets weights (`nexthop ... weight N`).
    pub weight: u32,
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.gateway {
            Some(g) => write!(f, "via {g}")?,
            None => write!(f, "direct")?,
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        Ok(())
    }
}

/// A route of `ip -j route show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelRoute {
    /// The destination as `addr/len` (iproute2 prints host routes without the length).
    pub dst: String,
    /// `unicast` (iproute2 leaves it out), `blackhole`, `unreachable`, `local`...
    pub kind: String,
    /// The route protocol as printed: a number (`"200"`) or a name (`"kernel"`).
    pub protocol: String,
    /// 0 when iproute2 prints none (IPv4 routes with metric 0).
    pub metric: u32,
    /// The table when iproute2 names one (listing `table all`); `None` otherwise.
    pub table: Option<String>,
    /// Single-path routes: their gateway and device.
    pub gateway: Option<IpAddr>,
    pub dev: Option<String>,
    /// Multipath routes (`nexthop via ... nexthop via ...`): one per path, in kernel order.
    pub multipath: Vec<NextHop>,
}

/// Protocol names iproute2 prints (`/usr/share/iproute2/rt_protos`) and their numbers.
const PROTO_NAMES: &[(&str, u8)] = &[
    ("unspec", 0),
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("keepalived", 18),
    ("babel", 42),
    ("openr", 99),
    ("bgp", 186),
    ("isis", 187),
    ("ospf", 188),
    ("rip", 189),
    ("eigrp", 192),
];

/// The number of a protocol as iproute2 prints it (`"200"`, `"static"`).
pub fn protocol_number(text: &str) -> Option<u8> {
    text.parse().ok().or_else(|| {
        PROTO_NAMES
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, v)| *v)
    })
}

impl KernelRoute {
    /// Whether the route is for `prefix` (`"10.244.1.0/24"`; textual forms of IPv6 vary).
    pub fn is_for(&self, prefix: &str) -> bool {
        match (parse_prefix(&self.dst), parse_prefix(prefix)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    pub fn has_protocol(&self, proto: u8) -> bool {
        protocol_number(&self.protocol) == Some(proto)
    }

    pub fn is_unicast(&self) -> bool {
        self.kind == "unicast"
    }

    /// Every next hop: the multipath list, or the single gateway/device as one entry.
    pub fn next_hops(&self) -> Vec<NextHop> {
        if !self.multipath.is_empty() {
            return self.multipath.clone();
        }
        if self.gateway.is_none() && self.dev.is_none() {
            return Vec::new();
        }
        vec![NextHop {
            gateway: self.gateway,
            dev: self.dev.clone(),
            weight: 1,
        }]
    }
}

impl fmt::Display for KernelRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.is_unicast() {
            write!(f, "{} ", self.kind)?;
        }
        write!(
            f,
            "{} proto {} metric {}",
            self.dst, self.protocol, self.metric
        )?;
        if let Some(t) = &self.table {
            write!(f, " table {t}")?;
        }
        for nh in self.next_hops() {
            write!(f, " [{nh}]")?;
        }
        Ok(())
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn addr_field(v: &Value, key: &str) -> Result<Option<IpAddr>, String> {
    match v.get(key).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|e| format!("{key} {s:?} is not an address: {e}")),
    }
}

/// `"10.0.0.1"` → `"10.0.0.1/32"`; `"default"` → `0.0.0.0/0` or `::/0`; prefixes as they are.
fn normalize_dst(dst: &str, v6: bool) -> String {
    if dst == "default" {
        return if v6 { "::/0" } else { "0.0.0.0/0" }.to_string();
    }
    if dst.contains('/') {
        return dst.to_string();
    }
    match dst.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) => format!("{dst}/32"),
        Ok(IpAddr::V6(_)) => format!("{dst}/128"),
        Err(_) => dst.to_string(),
    }
}

/// Parse the JSON of `ip -j route show` (one address family).
pub fn parse_routes(json: &str, v6: bool) -> Result<Vec<KernelRoute>, String> {
    let trimmed = json.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let value: Value =
        serde_json::from_str(trimmed).map_err(|e| format!("ip -j route: {e}: {trimmed}"))?;
    let list = value
        .as_array()
        .ok_or_else(|| format!("ip -j route: not a list: {trimmed}"))?;
    let mut out = Vec::new();
    for r in list {
        let dst = str_field(r, "dst").ok_or_else(|| format!("route without dst: {r}"))?;
        let mut multipath = Vec::new();
        if let Some(nhs) = r.get("nexthops").and_then(Value::as_array) {
            for nh in nhs {
                multipath.push(NextHop {
                    gateway: addr_field(nh, "gateway")?,
                    dev: str_field(nh, "dev"),
                    weight: nh
                        .get("weight")
                        .and_then(Value::as_u64)
                        .and_then(|w| u32::try_from(w).ok())
                        .unwrap_or(1),
                });
            }
        }
        out.push(KernelRoute {
            dst: normalize_dst(&dst, v6),
            kind: str_field(r, "type").unwrap_or_else(|| "unicast".to_string()),
            protocol: str_field(r, "protocol").unwrap_or_else(|| "boot".to_string()),
            metric: r
                .get("metric")
                .and_then(Value::as_u64)
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(0),
            table: str_field(r, "table"),
            gateway: addr_field(r, "gateway")?,
            dev: str_field(r, "dev"),
            multipath,
        });
    }
    Ok(out)
}

/// Every route of table `table` in `ns`, IPv4 then IPv6. A table the kernel does not have
/// (no route was ever added to it) is empty, not an error.
pub fn kernel_routes(ns: &Netns, table: u32) -> Result<Vec<KernelRoute>, String> {
    let table_s = table.to_string();
    let mut all = Vec::new();
    for (family, v6) in [("-4", false), ("-6", true)] {
        let args = [
            "-n",
            ns.name(),
            "-j",
            family,
            "route",
            "show",
            "table",
            &table_s,
        ];
        match run_cmd("ip", &args) {
            Ok(out) => all.extend(parse_routes(&out, v6)?),
            Err(e) if e.contains("table does not exist") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(all)
}

/// `ip -j route get ADDR` in `ns`: the route the kernel would use, as a [`KernelRoute`]
/// whose `dst` is the address (`kind` is `blackhole` when a blackhole route matches).
pub fn route_get(ns: &Netns, addr: IpAddr) -> Result<KernelRoute, String> {
    let a = addr.to_string();
    let out = run_cmd("ip", &["-n", ns.name(), "-j", "route", "get", &a]);
    let out = match out {
        Ok(o) => o,
        // A blackhole route makes `ip route get` fail with EINVAL on some kernels.
        Err(e) if e.contains("Invalid argument") => {
            return Ok(KernelRoute {
                dst: normalize_dst(&a, addr.is_ipv6()),
                kind: "blackhole".to_string(),
                protocol: String::new(),
                metric: 0,
                table: None,
                gateway: None,
                dev: None,
                multipath: Vec::new(),
            })
        }
        Err(e) => return Err(e),
    };
    parse_routes(&out, addr.is_ipv6())?
        .into_iter()
        .next()
        .ok_or_else(|| format!("ip route get {a}: no route in {out}"))
}

/// What a check wants of one next hop: a gateway reached through a device.
pub fn via(gateway: IpAddr, dev: &str) -> NextHop {
    NextHop {
        gateway: Some(gateway),
        dev: Some(dev.to_string()),
        weight: 1,
    }
}

/// One routing table of a namespace, seen through one route protocol number: the routes a
/// daemon that tags its routes with `protocol` owns there.
#[derive(Clone, Copy)]
pub struct KernelTable<'a> {
    ns: &'a Netns,
    table: u32,
    protocol: u8,
}

impl<'a> KernelTable<'a> {
    /// The main table of `ns`, routes of protocol `protocol`.
    pub fn new(ns: &'a Netns, protocol: u8) -> KernelTable<'a> {
        KernelTable {
            ns,
            table: MAIN_TABLE,
            protocol,
        }
    }

    /// The same view of another table.
    pub fn table(mut self, table: u32) -> Self {
        self.table = table;
        self
    }

    pub fn ns(&self) -> &'a Netns {
        self.ns
    }

    /// Every route of the table, of any protocol.
    pub fn all(&self) -> Result<Vec<KernelRoute>, String> {
        kernel_routes(self.ns, self.table)
    }

    /// Every route of the table tagged with our protocol.
    pub fn ours(&self) -> Result<Vec<KernelRoute>, String> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|r| r.has_protocol(self.protocol))
            .collect())
    }

    /// Our routes for `prefix` (the kernel may hold several, with different metrics).
    pub fn ours_for(&self, prefix: &str) -> Result<Vec<KernelRoute>, String> {
        Ok(self
            .ours()?
            .into_iter()
            .filter(|r| r.is_for(prefix))
            .collect())
    }

    /// Every route for `prefix`, of any protocol.
    pub fn all_for(&self, prefix: &str) -> Result<Vec<KernelRoute>, String> {
        Ok(self
            .all()?
            .into_iter()
            .filter(|r| r.is_for(prefix))
            .collect())
    }

    fn describe(&self) -> String {
        format!(
            "{} table {} proto {}",
            self.ns.name(),
            self.table,
            self.protocol
        )
    }

    /// `Ok(route)` once we hold exactly one route for `prefix`, a unicast route whose next
    /// hops are `want` (in any order; one entry is a single-path route, several a multipath
    /// route).
    pub fn expect_via(&self, prefix: &str, want: &[NextHop]) -> Result<KernelRoute, String> {
        let ours = self.ours_for(prefix)?;
        let [r] = ours.as_slice() else {
            return Err(format!(
                "{}: want one route to {prefix}, have {}",
                self.describe(),
                list(&ours)
            ));
        };
        if !r.is_unicast() {
            return Err(format!("{}: {r} is not unicast", self.describe()));
        }
        let mut have = r.next_hops();
        let mut want = want.to_vec();
        let key = |n: &NextHop| (n.gateway, n.dev.clone());
        have.sort_by_key(key);
        want.sort_by_key(key);
        let strip = |v: &[NextHop]| v.iter().map(key).collect::<Vec<_>>();
        if strip(&have) != strip(&want) {
            let w: Vec<String> = want.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{}: {r}, want next hops [{}]",
                self.describe(),
                w.join(", ")
            ));
        }
        if want.len() > 1 && r.multipath.is_empty() {
            return Err(format!(
                "{}: {r} is not one multipath route",
                self.describe()
            ));
        }
        Ok(r.clone())
    }

    /// `Ok` once we hold no route for `prefix`.
    pub fn expect_absent(&self, prefix: &str) -> Result<(), String> {
        let ours = self.ours_for(prefix)?;
        if ours.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: still holds {}", self.describe(), list(&ours)))
        }
    }

    /// `Ok(route)` once we hold exactly one route for `prefix` and it is a blackhole.
    pub fn expect_blackhole(&self, prefix: &str) -> Result<KernelRoute, String> {
        let ours = self.ours_for(prefix)?;
        match ours.as_slice() {
            [r] if r.kind == "blackhole" => Ok(r.clone()),
            _ => Err(format!(
                "{}: want one blackhole route to {prefix}, have {}",
                self.describe(),
                list(&ours)
            )),
        }
    }

    /// `Ok` once the table holds no route of our protocol at all.
    pub fn expect_none(&self) -> Result<(), String> {
        let ours = self.ours()?;
        if ours.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: still holds {}", self.describe(), list(&ours)))
        }
    }
}

/// Routes as one line each, for error messages.
pub fn list(routes: &[KernelRoute]) -> String {
    if routes.is_empty() {
        return "none".to_string();
    }
    let lines: Vec<String> = routes.iter().map(|r| format!("\n  {r}")).collect();
    lines.concat()
}
