//! BIRD 2 as a peer: config writer, runner, and `birdc` output parsers.
//!
//! Started as `bird -f -c CONF -s SOCK -P PIDFILE` inside the namespace (foreground, its own
//! control socket and pid file in the lab directory). No `protocol kernel` unless asked:
//! BIRD installs no kernel route by default. Connect and error-wait timers are cut to 1 s
//! so sessions come up (and come back) fast.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::netns::{write_file, Netns, Proc};
use super::wait::wait_until;

/// One `protocol bgp` block.
#[derive(Clone, Debug)]
pub struct BirdNeighbor {
    pub address: IpAddr,
    pub asn: u32,
    /// Source address of the session (`local ADDR as ASN`).
    pub local_address: Option<IpAddr>,
    pub passive: bool,
    pub ipv4: bool,
    pub ipv6: bool,
    /// Next hop for IPv6 routes; needed for an IPv6 channel on an IPv4 session.
    pub v6_next_hop: Option<Ipv6Addr>,
    /// `hold time`; the keepalive time is a third of it.
    pub hold_time: Option<u16>,
    /// `multihop N` (BIRD then sends no link-local next hop and resolves next hops
    /// recursively: add `direct` to the config).
    pub multihop: Option<u8>,
    /// The channels' export clause; `None` is `where source = RTS_STATIC`. A named filter
    /// (`"filter NAME"`) must be defined in a [`BirdConfig::raw`] snippet.
    pub export: Option<String>,
}

impl BirdNeighbor {
    /// An active neighbour with an IPv4 channel only.
    pub fn new(address: IpAddr, asn: u32) -> BirdNeighbor {
        BirdNeighbor {
            address,
            asn,
            local_address: None,
            passive: false,
            ipv4: true,
            ipv6: false,
            v6_next_hop: None,
            hold_time: None,
            multihop: None,
            export: None,
        }
    }

    pub fn local(mut self, addr: IpAddr) -> Self {
        self.local_address = Some(addr);
        self
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }

    /// Which channels (address families) the session carries.
    pub fn channels(mut self, ipv4: bool, ipv6: bool) -> Self {
        self.ipv4 = ipv4;
        self.ipv6 = ipv6;
        self
    }

    pub fn v6_next_hop(mut self, nh: Ipv6Addr) -> Self {
        self.v6_next_hop = Some(nh);
        self
    }

    pub fn hold_time(mut self, secs: u16) -> Self {
        self.hold_time = Some(secs);
        self
    }

    pub fn multihop(mut self, hops: u8) -> Self {
        self.multihop = Some(hops);
        self
    }

    /// Export with `clause` (`"filter NAME"`, `"where ..."`) instead of the static routes.
    pub fn export(mut self, clause: &str) -> Self {
        self.export = Some(clause.to_string());
        self
    }

    /// The protocol's name in BIRD: `bgp_` and the address with `.`/`:` as `_`.
    pub fn protocol_name(&self) -> String {
        protocol_name(self.address)
    }
}

/// `bgp_10_0_0_2`, `bgp_fd00__2`.
pub fn protocol_name(addr: IpAddr) -> String {
    format!("bgp_{}", addr.to_string().replace(['.', ':'], "_"))
}

/// A whole bird.conf.
#[derive(Clone, Debug)]
pub struct BirdConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub neighbors: Vec<BirdNeighbor>,
    /// Prefixes announced to every neighbour (`protocol static`, blackhole routes).
    pub static_routes: Vec<String>,
    /// Add `protocol direct` (interface routes; needed to resolve multihop next hops).
    pub direct: bool,
    /// Add `protocol kernel` exporting everything to the namespace's kernel table.
    pub kernel: bool,
    /// Raw config text (filters, more `protocol static` blocks with route attributes),
    /// written after the static routes and before the `protocol bgp` blocks.
    pub raw: Vec<String>,
}

impl BirdConfig {
    pub fn new(router_id: Ipv4Addr, asn: u32) -> BirdConfig {
        BirdConfig {
            router_id,
            asn,
            neighbors: Vec::new(),
            static_routes: Vec::new(),
            direct: false,
            kernel: false,
            raw: Vec::new(),
        }
    }

    pub fn neighbor(mut self, n: BirdNeighbor) -> Self {
        self.neighbors.push(n);
        self
    }

    /// Announce `prefix` (`"10.201.0.0/24"` or `"fd00:201::/64"`).
    pub fn announce(mut self, prefix: &str) -> Self {
        self.static_routes.push(prefix.to_string());
        self
    }

    /// Add raw config text (see [`BirdConfig::raw`]).
    pub fn raw(mut self, text: &str) -> Self {
        self.raw.push(text.to_string());
        self
    }

    pub fn render(&self) -> String {
        let mut c = String::new();
        c += "# Written by tests/common/bird.rs\n";
        c += &format!("router id {};\n", self.router_id);
        c += "log stderr all;\n";
        c += "debug protocols { states, events, routes };\n";
        c += "ipv4 table master4;\nipv6 table master6;\n";
        c += "protocol device { }\n";
        if self.direct {
            c += "protocol direct { ipv4; ipv6; }\n";
        }
        if self.kernel {
            c += "protocol kernel kernel4 { ipv4 { export all; }; }\n";
            c += "protocol kernel kernel6 { ipv6 { export all; }; }\n";
        }
        let (v6, v4): (Vec<&String>, Vec<&String>) =
            self.static_routes.iter().partition(|p| p.contains(':'));
        for (name, family, routes) in [("static4", "ipv4", v4), ("static6", "ipv6", v6)] {
            if routes.is_empty() {
                continue;
            }
            c += &format!("protocol static {name} {{\n  {family};\n");
            for r in routes {
                c += &format!("  route {r} blackhole;\n");
            }
            c += "}\n";
        }
        for text in &self.raw {
            c += text;
            if !text.ends_with('\n') {
                c += "\n";
            }
        }
        for n in &self.neighbors {
            c += &format!("protocol bgp {} {{\n", n.protocol_name());
            match n.local_address {
                Some(a) => c += &format!("  local {a} as {};\n", self.asn),
                None => c += &format!("  local as {};\n", self.asn),
            }
            c += &format!("  neighbor {} as {};\n", n.address, n.asn);
            if n.passive {
                c += "  passive on;\n";
            }
            if let Some(h) = n.multihop {
                c += &format!("  multihop {h};\n");
            }
            if let Some(h) = n.hold_time {
                c += &format!("  hold time {h};\n  keepalive time {};\n", (h / 3).max(1));
            }
            c += "  connect delay time 1;\n  connect retry time 1;\n  error wait time 1, 2;\n";
            let export = n.export.as_deref().unwrap_or("where source = RTS_STATIC");
            if n.ipv4 {
                c += &format!("  ipv4 {{ import all; export {export}; }};\n");
            }
            if n.ipv6 {
                c += &format!("  ipv6 {{\n    import all;\n    export {export};\n");
                c += "    extended next hop off;\n";
                if let Some(nh) = n.v6_next_hop {
                    c += &format!("    next hop address {nh};\n");
                }
                c += "  };\n";
            }
            c += "}\n";
        }
        c
    }
}

/// A line of `birdc show protocols`.
#[derive(Clone, Debug, PartialEq)]
pub struct BirdProtocol {
    pub name: String,
    pub proto: String,
    pub table: String,
    /// `up`, `start`, `down`.
    pub state: String,
    /// The rest of the line after the `Since` time: for BGP, the session state
    /// (`Established`, `Active`, `Connect`...) and the last error.
    pub info: String,
}

/// A route of `birdc show route all`.
#[derive(Clone, Debug, PartialEq)]
pub struct BirdRoute {
    pub prefix: String,
    /// `unicast`, `blackhole`, `unreachable`.
    pub kind: String,
    /// The protocol it came from (`bgp_10_0_0_1`, `static4`).
    pub protocol: String,
    /// Selected as best (`*`).
    pub primary: bool,
    /// `via ADDR on IF`.
    pub gateway: Option<IpAddr>,
    /// `BGP.next_hop`: the global address, then the link-local one if sent.
    pub bgp_next_hop: Vec<IpAddr>,
    /// `BGP.as_path` (AS_SETs left out).
    pub as_path: Vec<u32>,
}

/// Parse `birdc show protocols` output.
pub fn parse_protocols(text: &str) -> Vec<BirdProtocol> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || f[0] == "BIRD" || f[0] == "Name" {
            continue;
        }
        // "Since" is one token ("20:09:43.341") or two ("2024-01-02 20:09:43").
        let mut rest = 5;
        if f.len() > 5 && f[5].contains(':') && !f[4].contains(':') {
            rest = 6;
        }
        out.push(BirdProtocol {
            name: f[0].to_string(),
            proto: f[1].to_string(),
            table: f[2].to_string(),
            state: f[3].to_string(),
            info: f.get(rest..).map(|r| r.join(" ")).unwrap_or_default(),
        });
    }
    out
}

/// Parse `birdc show route all` output (every table it prints).
pub fn parse_routes(text: &str) -> Vec<BirdRoute> {
    let mut out: Vec<BirdRoute> = Vec::new();
    let mut prefix = String::new();
    for line in text.lines() {
        if line.starts_with("BIRD ") || line.starts_with("Table ") || line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') {
            let attr = line.trim();
            let Some(r) = out.last_mut() else { continue };
            if let Some(v) = attr.strip_prefix("via ") {
                r.gateway = v.split_whitespace().next().and_then(|a| a.parse().ok());
            } else if let Some(v) = attr.strip_prefix("BGP.next_hop:") {
                r.bgp_next_hop = v
                    .split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect();
            } else if let Some(v) = attr.strip_prefix("BGP.as_path:") {
                r.as_path = v
                    .split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect();
            }
            continue;
        }
        // A route: "PREFIX  KIND [PROTO TIME ...] * (PREF) [ASxxi]", or the same without
        // PREFIX (indented with spaces) for another route to the previous prefix.
        let mut f = line.split_whitespace();
        if !line.starts_with(' ') {
            prefix = f.next().unwrap_or_default().to_string();
        }
        let kind = f.next().unwrap_or_default().to_string();
        let protocol = f
            .next()
            .map(|p| p.trim_start_matches('[').to_string())
            .unwrap_or_default();
        let primary = line.split_whitespace().any(|t| t == "*");
        out.push(BirdRoute {
            prefix: prefix.clone(),
            kind,
            protocol,
            primary,
            gateway: None,
            bgp_next_hop: Vec::new(),
            as_path: Vec::new(),
        });
    }
    out
}

/// A running BIRD.
pub struct Bird {
    name: String,
    sock: PathBuf,
    proc: Proc,
    config: BirdConfig,
}

impl Bird {
    /// Write `<name>.conf`, check it (`bird -p`), start BIRD in `ns` and wait for its socket.
    pub fn start(ns: &Netns, name: &str, config: &BirdConfig) -> Bird {
        let conf = ns.file(&format!("{name}.conf"));
        let sock = ns.file(&format!("{name}.ctl"));
        let pid = ns.file(&format!("{name}.pid"));
        write_file(&conf, &config.render());
        let conf_s = conf.to_string_lossy().into_owned();
        if let Err(e) = ns.try_run("bird", &["-p", "-c", &conf_s]) {
            panic!("{name}: bird rejects {conf_s}: {e}\n{}", config.render());
        }
        let sock_s = sock.to_string_lossy().into_owned();
        let pid_s = pid.to_string_lossy().into_owned();
        let proc = ns.spawn(
            "bird",
            &["-f", "-c", &conf_s, "-s", &sock_s, "-P", &pid_s],
            &format!("{name}.log"),
        );
        let bird = Bird {
            name: name.to_string(),
            sock,
            proc,
            config: config.clone(),
        };
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            bird.proc.check_running().unwrap_or_else(|e| panic!("{e}"));
            bird.birdc(&["show", "status"])
        });
        bird
    }

    pub fn proc(&self) -> &Proc {
        &self.proc
    }

    /// `birdc -s SOCK args...` (a Unix socket: no need to enter the namespace).
    pub fn birdc(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("birdc")
            .arg("-s")
            .arg(&self.sock)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run birdc: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "{}: birdc {} failed ({}): {}{}",
                self.name,
                args.join(" "),
                out.status,
                text,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    pub fn protocols(&self) -> Result<Vec<BirdProtocol>, String> {
        Ok(parse_protocols(&self.birdc(&["show", "protocols"])?))
    }

    /// The BGP session state with `neighbor` (`"Established"`, `"Active"`, ...), the first
    /// word of the protocol's Info column.
    pub fn bgp_state(&self, neighbor: IpAddr) -> Result<String, String> {
        let name = protocol_name(neighbor);
        let protos = self.protocols()?;
        let p = protos
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| format!("{}: no protocol {name} in {protos:?}", self.name))?;
        Ok(p.info.split_whitespace().next().unwrap_or("").to_string())
    }

    /// `Ok` once the session with `neighbor` is Established.
    pub fn established(&self, neighbor: IpAddr) -> Result<(), String> {
        let s = self.bgp_state(neighbor)?;
        if s == "Established" {
            Ok(())
        } else {
            let protos = self.protocols()?;
            Err(format!(
                "{}: session with {neighbor} is {s:?}: {protos:?}",
                self.name
            ))
        }
    }

    pub fn routes(&self) -> Result<Vec<BirdRoute>, String> {
        Ok(parse_routes(&self.birdc(&["show", "route", "all"])?))
    }

    /// The best route to `prefix`, if any.
    pub fn route(&self, prefix: &str) -> Result<Option<BirdRoute>, String> {
        Ok(self
            .routes()?
            .into_iter()
            .find(|r| r.primary && super::same_prefix(&r.prefix, prefix)))
    }

    /// `Ok(route)` once `prefix` is BIRD's best route, learned over BGP with BGP next hop
    /// `next_hop` (first address) and AS path `as_path`.
    pub fn expect_route(
        &self,
        prefix: &str,
        next_hop: IpAddr,
        as_path: &[u32],
    ) -> Result<BirdRoute, String> {
        let r = self
            .route(prefix)?
            .ok_or_else(|| format!("{}: no route to {prefix} yet", self.name))?;
        if r.bgp_next_hop.first() != Some(&next_hop) || r.as_path != as_path {
            return Err(format!(
                "{}: route to {prefix} is {r:?}, want next hop {next_hop} and AS path {as_path:?}",
                self.name
            ));
        }
        Ok(r)
    }

    pub fn config(&self) -> &BirdConfig {
        &self.config
    }
}
