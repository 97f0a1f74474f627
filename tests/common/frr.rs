//! FRR as a peer: bgpd, standalone (no zebra) unless asked; config writer, runner, JSON queries.
//!
//! Invocation (FRR 8.4):
//! `bgpd -f CONF -i PIDFILE --vty_socket DIR -Z -n -S -P 0 --log stdout --log-level debug`
//! - `-Z` (`--no_zebra`): no zebra; `-n`: never install kernel routes;
//! - `-S` (`--skip_runas`): stay root — root is not in the `frrvty` group that `-u root`
//!   would need, and the sockets live in our own directory anyway;
//! - `-P 0`: no TCP vty; the vty is the Unix socket `DIR/bgpd.vty`, queried with
//!   `vtysh --vty_socket DIR -c CMD`.
//!
//! Without zebra bgpd knows no interfaces, so it drops (treat-as-withdraw) IPv6 routes that
//! carry a link-local next hop — as BIRD sends by default, RFC 2545 §3 — and has no IPv6
//! address of its own for IPv6 routes on an IPv4 session: set [`FrrNeighbor::v6_next_hop`]
//! there (an outbound route-map).
//!
//! [`FrrConfig::with_zebra`] runs zebra too, in the same namespace, as FRR runs in
//! production: `zebra -f CONF -z DIR/zserv.api -i PIDFILE --vty_socket DIR -P 0` (it drops
//! to user `frr`, so DIR is chowned to frr), and bgpd with `-z DIR/zserv.api` instead of
//! `-Z`. bgpd then knows the interfaces: it accepts link-local next hops and sends its own
//! global + link-local ones. `-n` still keeps routes out of the namespace's kernel table.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::netns::{write_file, Netns, Proc};
use super::wait::wait_until;

/// Debian's paths of FRR's daemons.
const BGPD: &str = "/usr/lib/frr/bgpd";
const ZEBRA: &str = "/usr/lib/frr/zebra";

/// One `neighbor` of `router bgp`.
#[derive(Clone, Debug)]
pub struct FrrNeighbor {
    pub address: IpAddr,
    pub asn: u32,
    /// Activated in `address-family ipv4 unicast` / `ipv6 unicast`.
    pub ipv4: bool,
    pub ipv6: bool,
    pub passive: bool,
    /// `timers KEEPALIVE HOLD`.
    pub timers: Option<(u16, u16)>,
    /// Global next hop set on IPv6 routes sent to this neighbour.
    pub v6_next_hop: Option<Ipv6Addr>,
}

impl FrrNeighbor {
    /// An active neighbour with IPv4 unicast only.
    pub fn new(address: IpAddr, asn: u32) -> FrrNeighbor {
        FrrNeighbor {
            address,
            asn,
            ipv4: true,
            ipv6: false,
            passive: false,
            timers: None,
            v6_next_hop: None,
        }
    }

    pub fn families(mut self, ipv4: bool, ipv6: bool) -> Self {
        self.ipv4 = ipv4;
        self.ipv6 = ipv6;
        self
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }

    pub fn timers(mut self, keepalive: u16, hold: u16) -> Self {
        self.timers = Some((keepalive, hold));
        self
    }

    pub fn v6_next_hop(mut self, nh: Ipv6Addr) -> Self {
        self.v6_next_hop = Some(nh);
        self
    }
}

/// A whole bgpd.conf.
#[derive(Clone, Debug)]
pub struct FrrConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub neighbors: Vec<FrrNeighbor>,
    /// `network P` statements (IPv4 and IPv6 mixed; import-check is off), `P` optionally
    /// followed by `route-map RM`.
    pub networks: Vec<String>,
    /// Run zebra beside bgpd (see the module docs).
    pub zebra: bool,
    /// Raw config text (route-maps, say), written before `router bgp`.
    pub raw: Vec<String>,
}

impl FrrConfig {
    pub fn new(router_id: Ipv4Addr, asn: u32) -> FrrConfig {
        FrrConfig {
            router_id,
            asn,
            neighbors: Vec::new(),
            networks: Vec::new(),
            zebra: false,
            raw: Vec::new(),
        }
    }

    /// Run zebra beside bgpd, so bgpd knows the namespace's interfaces and addresses.
    pub fn with_zebra(mut self) -> Self {
        self.zebra = true;
        self
    }

    pub fn neighbor(mut self, n: FrrNeighbor) -> Self {
        self.neighbors.push(n);
        self
    }

    /// Announce `prefix` to every neighbour activated in its address family.
    pub fn announce(mut self, prefix: &str) -> Self {
        self.networks.push(prefix.to_string());
        self
    }

    /// Announce `prefix` with its attributes set by `route_map` (`network P route-map RM`;
    /// define the route-map with [`FrrConfig::raw`]).
    pub fn announce_with_route_map(mut self, prefix: &str, route_map: &str) -> Self {
        self.networks
            .push(format!("{prefix} route-map {route_map}"));
        self
    }

    /// Add raw config text (see [`FrrConfig::raw`]).
    pub fn raw(mut self, text: &str) -> Self {
        self.raw.push(text.to_string());
        self
    }

    pub fn render(&self, hostname: &str) -> String {
        let mut c = String::new();
        c += "! Written by tests/common/frr.rs\n";
        c += &format!("hostname {hostname}\n");
        c += "log stdout debugging\n";
        c += "debug bgp neighbor-events\n";
        c += "debug bgp updates\n!\n";
        for (i, n) in self.neighbors.iter().enumerate() {
            if let Some(nh) = n.v6_next_hop {
                c += &format!(
                    "route-map NH6-{i} permit 10\n set ipv6 next-hop global {nh}\nexit\n!\n"
                );
            }
        }
        for text in &self.raw {
            c += text;
            if !text.ends_with('\n') {
                c += "\n";
            }
        }
        c += &format!("router bgp {}\n", self.asn);
        c += &format!(" bgp router-id {}\n", self.router_id);
        c += " no bgp ebgp-requires-policy\n";
        c += " no bgp default ipv4-unicast\n";
        c += " no bgp network import-check\n";
        for n in &self.neighbors {
            let a = n.address;
            c += &format!(" neighbor {a} remote-as {}\n", n.asn);
            c += &format!(" neighbor {a} timers connect 1\n");
            c += &format!(" neighbor {a} advertisement-interval 0\n");
            if n.passive {
                c += &format!(" neighbor {a} passive\n");
            }
            if let Some((k, h)) = n.timers {
                c += &format!(" neighbor {a} timers {k} {h}\n");
            }
        }
        let (v6, v4): (Vec<&String>, Vec<&String>) =
            self.networks.iter().partition(|p| p.contains(':'));
        for (family, nets, v6_family) in [("ipv4", v4, false), ("ipv6", v6, true)] {
            c += &format!(" !\n address-family {family} unicast\n");
            for p in nets {
                c += &format!("  network {p}\n");
            }
            for (i, n) in self.neighbors.iter().enumerate() {
                if (v6_family && n.ipv6) || (!v6_family && n.ipv4) {
                    c += &format!("  neighbor {} activate\n", n.address);
                    if v6_family && n.v6_next_hop.is_some() {
                        c += &format!("  neighbor {} route-map NH6-{i} out\n", n.address);
                    }
                }
            }
            c += " exit-address-family\n";
        }
        c += "exit\n!\n";
        c
    }
}

/// One path of `show bgp <afi> unicast json`.
#[derive(Clone, Debug, PartialEq)]
pub struct FrrRoute {
    pub prefix: String,
    pub valid: bool,
    pub best: bool,
    /// `peerId`: the neighbour it came from (`"(unspec)"` for local routes).
    pub peer: String,
    pub next_hops: Vec<IpAddr>,
    pub as_path: Vec<u32>,
}

/// Parse `show bgp ipv4|ipv6 unicast json`.
pub fn parse_routes(json: &Value) -> Vec<FrrRoute> {
    let mut out = Vec::new();
    let Some(routes) = json.get("routes").and_then(Value::as_object) else {
        return out;
    };
    for (prefix, paths) in routes {
        for p in paths.as_array().into_iter().flatten() {
            out.push(FrrRoute {
                prefix: prefix.clone(),
                valid: p.get("valid").and_then(Value::as_bool).unwrap_or(false),
                best: p.get("bestpath").and_then(Value::as_bool).unwrap_or(false),
                peer: p
                    .get("peerId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                next_hops: p
                    .get("nexthops")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.get("ip")?.as_str()?.parse().ok())
                    .collect(),
                as_path: p
                    .get("path")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect(),
            });
        }
    }
    out
}

/// A running bgpd.
pub struct Frr {
    name: String,
    vty_dir: PathBuf,
    proc: Proc,
    zebra: Option<Proc>,
    config: FrrConfig,
}

impl Frr {
    /// Write `<name>.conf`, check it (`bgpd -C`), start bgpd (after zebra, if asked) in `ns`
    /// and wait for its vty.
    pub fn start(ns: &Netns, name: &str, config: &FrrConfig) -> Frr {
        let conf = ns.file(&format!("{name}.conf"));
        let vty_dir = ns.file(&format!("{name}.vty"));
        let pid = ns.file(&format!("{name}.pid"));
        std::fs::create_dir_all(&vty_dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", vty_dir.display()));
        let text = config.render(name);
        write_file(&conf, &text);
        let conf_s = conf.to_string_lossy().into_owned();
        let vty_s = vty_dir.to_string_lossy().into_owned();
        let pid_s = pid.to_string_lossy().into_owned();
        let mut args = vec![
            "-f",
            &conf_s,
            "-i",
            &pid_s,
            "--vty_socket",
            &vty_s,
            "-n",
            "-S",
            "-P",
            "0",
        ];
        let mut check = args.clone();
        check.extend(["-Z", "-C"]);
        if let Err(e) = dry_run(ns, &check) {
            panic!("{name}: bgpd rejects {conf_s}: {e}\n{text}");
        }
        let zserv = vty_dir.join("zserv.api");
        let zserv_s = zserv.to_string_lossy().into_owned();
        let zebra = config
            .zebra
            .then(|| start_zebra(ns, name, &vty_dir, &zserv));
        if zebra.is_some() {
            args.extend(["-z", &zserv_s]);
        } else {
            args.push("-Z");
        }
        args.extend(["--log", "stdout", "--log-level", "debug"]);
        let proc = ns.spawn(BGPD, &args, &format!("{name}.log"));
        let frr = Frr {
            name: name.to_string(),
            vty_dir,
            proc,
            zebra,
            config: config.clone(),
        };
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            frr.proc.check_running().unwrap_or_else(|e| panic!("{e}"));
            frr.vtysh_json("show bgp summary json")
        });
        frr
    }

    pub fn proc(&self) -> &Proc {
        &self.proc
    }

    pub fn config(&self) -> &FrrConfig {
        &self.config
    }

    /// `vtysh --vty_socket DIR -c CMD` (a Unix socket: no need to enter the namespace).
    pub fn vtysh(&self, cmd: &str) -> Result<String, String> {
        let out = Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.vty_dir)
            .args(["-c", cmd])
            .output()
            .map_err(|e| format!("cannot run vtysh: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "{}: vtysh -c {cmd:?} failed ({}): {text}{}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    pub fn vtysh_json(&self, cmd: &str) -> Result<Value, String> {
        let text = self.vtysh(cmd)?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: {cmd:?} is not JSON ({e}): {text}", self.name))
    }

    /// The session state with `neighbor` (`bgpState` of `show bgp neighbors json`).
    pub fn neighbor_state(&self, neighbor: IpAddr) -> Result<String, String> {
        let json = self.vtysh_json("show bgp neighbors json")?;
        let state = json
            .get(neighbor.to_string())
            .and_then(|n| n.get("bgpState"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{}: no neighbor {neighbor} in {json}", self.name))?;
        Ok(state.to_string())
    }

    /// `Ok` once the session with `neighbor` is Established.
    pub fn established(&self, neighbor: IpAddr) -> Result<(), String> {
        let s = self.neighbor_state(neighbor)?;
        if s == "Established" {
            Ok(())
        } else {
            Err(format!("{}: session with {neighbor} is {s}", self.name))
        }
    }

    /// Every path of the IPv4 (or IPv6) unicast table.
    pub fn routes(&self, ipv6: bool) -> Result<Vec<FrrRoute>, String> {
        let afi = if ipv6 { "ipv6" } else { "ipv4" };
        let json = self.vtysh_json(&format!("show bgp {afi} unicast json"))?;
        Ok(parse_routes(&json))
    }

    /// The best path to `prefix`, if any.
    pub fn route(&self, prefix: &str) -> Result<Option<FrrRoute>, String> {
        Ok(self
            .routes(prefix.contains(':'))?
            .into_iter()
            .find(|r| r.best && super::same_prefix(&r.prefix, prefix)))
    }

    /// `Ok(route)` once the best path to `prefix` is valid, with next hop `next_hop` and AS
    /// path `as_path`.
    pub fn expect_route(
        &self,
        prefix: &str,
        next_hop: IpAddr,
        as_path: &[u32],
    ) -> Result<FrrRoute, String> {
        let r = self
            .route(prefix)?
            .ok_or_else(|| format!("{}: no route to {prefix} yet", self.name))?;
        if !r.valid || r.next_hops.first() != Some(&next_hop) || r.as_path != as_path {
            return Err(format!(
                "{}: route to {prefix} is {r:?}, want next hop {next_hop} and AS path {as_path:?}",
                self.name
            ));
        }
        Ok(r)
    }
}

/// Start zebra in `ns` (as user frr, which gets `vty_dir`) and wait for its zserv socket.
fn start_zebra(ns: &Netns, name: &str, vty_dir: &Path, zserv: &Path) -> Proc {
    let vty_s = vty_dir.to_string_lossy().into_owned();
    if let Err(e) = super::netns::run_cmd("chown", &["frr:frr", &vty_s]) {
        panic!("{name}: zebra runs as user frr: {e}");
    }
    let conf = ns.file(&format!("{name}-zebra.conf"));
    write_file(
        &conf,
        "! Written by tests/common/frr.rs\nlog stdout informational\n",
    );
    let conf_s = conf.to_string_lossy().into_owned();
    let pid_s = vty_dir.join("zebra.pid").to_string_lossy().into_owned();
    let zserv_s = zserv.to_string_lossy().into_owned();
    let args = [
        "-f",
        &conf_s,
        "-z",
        &zserv_s,
        "-i",
        &pid_s,
        "--vty_socket",
        &vty_s,
        "-P",
        "0",
        "--log",
        "stdout",
    ];
    let zebra = ns.spawn(ZEBRA, &args, &format!("{name}-zebra.log"));
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        zebra.check_running().unwrap_or_else(|e| panic!("{e}"));
        if zserv.exists() {
            Ok(())
        } else {
            Err(format!("{name}: zebra has not made {zserv_s} yet"))
        }
    });
    zebra
}

/// `bgpd -C ...` (check the config and exit) in `ns`; removes the per-PID directory the
/// dry run leaves under /var/tmp/frr.
fn dry_run(ns: &Netns, args: &[&str]) -> Result<(), String> {
    let child = Command::new("ip")
        .args(["netns", "exec", ns.name(), BGPD])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {BGPD}: {e}"))?;
    let pid = child.id();
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{BGPD} -C: {e}"))?;
    remove_pid_dir("bgpd", pid);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{BGPD} -C exited with {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Remove `/var/tmp/frr/DAEMON.PID` if it is empty (a non-empty one holds a crash log: kept).
fn remove_pid_dir(daemon: &str, pid: u32) {
    // Absent (the daemon removed it on a clean exit) or not empty: both fine to leave.
    let _ = std::fs::remove_dir(format!("/var/tmp/frr/{daemon}.{pid}"));
}

/// SIGTERM, up to 3 s to exit, then SIGKILL.
fn stop(proc: &Proc) {
    proc.terminate();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while proc.is_running() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    proc.kill();
}

impl Drop for Frr {
    fn drop(&mut self) {
        // Stop the daemons here rather than in the namespace's drop, to remove the per-PID
        // directories they make under /var/tmp/frr (kept only if they hold a crash log).
        stop(&self.proc);
        remove_pid_dir("bgpd", self.proc.pid());
        if let Some(zebra) = &self.zebra {
            stop(zebra);
            remove_pid_dir("zebra", zebra.pid());
        }
    }
}
