//! The bgpod binary under test: config writer, runner, and its `status`/`routes` JSON.
//!
//! `bgpod run --config FILE` runs in the namespace with `RUST_LOG=debug`, its stderr in
//! `<name>.log`; queries are `bgpod status|routes --socket PATH --json`, also run inside
//! the namespace. `BGPOD_BIN=/path/to/bgpod` runs another build of it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::netns::{write_file, Netns, Proc};
use super::wait::wait_until;
use super::{same_addr, same_prefix};

/// The bgpod binary: the one cargo built for this package, or `$BGPOD_BIN` if set (to run
/// the suite against a release build or an installed binary).
pub fn bgpod_bin() -> String {
    std::env::var("BGPOD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_bgpod").to_string())
}

/// One `[[peers]]` entry.
#[derive(Clone, Debug)]
pub struct BgpodPeer {
    pub address: IpAddr,
    pub asn: u32,
    pub port: Option<u16>,
    pub passive: bool,
    pub hold_time: Option<u16>,
    pub keepalive: Option<u16>,
    pub multihop: Option<u8>,
    pub description: Option<String>,
    pub export_learned: Option<bool>,
    pub required_capabilities: Vec<String>,
}

impl BgpodPeer {
    pub fn new(address: IpAddr, asn: u32) -> BgpodPeer {
        BgpodPeer {
            address,
            asn,
            port: None,
            passive: false,
            hold_time: None,
            keepalive: None,
            multihop: None,
            description: None,
            export_learned: None,
            required_capabilities: Vec::new(),
        }
    }

    pub fn require_capability(mut self, name: &str) -> Self {
        self.required_capabilities.push(name.to_string());
        self
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }

    pub fn hold_time(mut self, secs: u16) -> Self {
        self.hold_time = Some(secs);
        self
    }

    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_string());
        self
    }

    pub fn export_learned(mut self, on: bool) -> Self {
        self.export_learned = Some(on);
        self
    }
}

/// `[fib]` keys beyond `enabled`; each is written only when set, so a config stays valid
/// for a bgpod that does not know the key yet.
#[derive(Clone, Debug, Default)]
pub struct BgpodFib {
    pub table: Option<u32>,
    pub protocol: Option<u8>,
    pub metric: Option<u32>,
    /// Seconds after start before stale routes of ours are removed.
    pub sweep_delay: Option<u32>,
    pub blackhole_pod_cidrs: Option<bool>,
    pub retain_on_exit: Option<bool>,
}

/// A bgpod config file (TOML).
#[derive(Clone, Debug)]
pub struct BgpodConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub listen: Option<IpAddr>,
    pub port: Option<u16>,
    pub pod_cidrs: Vec<String>,
    /// Seconds; 1 in tests so sessions come up fast.
    pub connect_retry: u32,
    pub local_v6_next_hop: Option<Ipv6Addr>,
    /// `[fib] enabled`; false unless a test asks for kernel routes.
    pub fib_enabled: bool,
    /// The other `[fib]` keys.
    pub fib: BgpodFib,
    pub max_paths: Option<u32>,
    pub idle_hold: Option<u32>,
    pub peers: Vec<BgpodPeer>,
}

impl BgpodConfig {
    pub fn new(router_id: Ipv4Addr, asn: u32) -> BgpodConfig {
        BgpodConfig {
            router_id,
            asn,
            listen: None,
            port: None,
            pod_cidrs: Vec::new(),
            connect_retry: 1,
            local_v6_next_hop: None,
            fib_enabled: false,
            fib: BgpodFib::default(),
            max_paths: None,
            idle_hold: None,
            peers: Vec::new(),
        }
    }

    /// `[fib] enabled`.
    pub fn fib_enabled(mut self, on: bool) -> Self {
        self.fib_enabled = on;
        self
    }

    /// `[fib] protocol`.
    pub fn fib_protocol(mut self, protocol: u8) -> Self {
        self.fib.protocol = Some(protocol);
        self
    }

    /// `[fib] table`.
    pub fn fib_table(mut self, table: u32) -> Self {
        self.fib.table = Some(table);
        self
    }

    /// `[fib] metric`.
    pub fn fib_metric(mut self, metric: u32) -> Self {
        self.fib.metric = Some(metric);
        self
    }

    /// `[fib] sweep_delay` (seconds).
    pub fn fib_sweep_delay(mut self, secs: u32) -> Self {
        self.fib.sweep_delay = Some(secs);
        self
    }

    /// `[fib] blackhole_pod_cidrs`.
    pub fn fib_blackhole_pod_cidrs(mut self, on: bool) -> Self {
        self.fib.blackhole_pod_cidrs = Some(on);
        self
    }

    /// `[fib] retain_on_exit`.
    pub fn fib_retain_on_exit(mut self, on: bool) -> Self {
        self.fib.retain_on_exit = Some(on);
        self
    }

    /// `max_paths` (ECMP width).
    pub fn max_paths(mut self, n: u32) -> Self {
        self.max_paths = Some(n);
        self
    }

    /// `idle_hold` (seconds).
    pub fn idle_hold(mut self, secs: u32) -> Self {
        self.idle_hold = Some(secs);
        self
    }

    pub fn pod_cidr(mut self, cidr: &str) -> Self {
        self.pod_cidrs.push(cidr.to_string());
        self
    }

    pub fn local_v6_next_hop(mut self, nh: Ipv6Addr) -> Self {
        self.local_v6_next_hop = Some(nh);
        self
    }

    pub fn peer(mut self, p: BgpodPeer) -> Self {
        self.peers.push(p);
        self
    }

    /// The TOML text, with `control_socket` set to `socket`.
    pub fn render(&self, socket: &Path) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut c = String::new();
        c += "# Written by tests/common/bgpod.rs\n";
        c += &format!("router_id = {}\n", q(&self.router_id.to_string()));
        c += &format!("asn = {}\n", self.asn);
        if let Some(l) = self.listen {
            c += &format!("listen = {}\n", q(&l.to_string()));
        }
        if let Some(p) = self.port {
            c += &format!("port = {p}\n");
        }
        let cidrs: Vec<String> = self.pod_cidrs.iter().map(|s| q(s)).collect();
        c += &format!("pod_cidrs = [{}]\n", cidrs.join(", "));
        c += &format!("control_socket = {}\n", q(&socket.to_string_lossy()));
        c += &format!("connect_retry = {}\n", self.connect_retry);
        if let Some(nh) = self.local_v6_next_hop {
            c += &format!("local_v6_next_hop = {}\n", q(&nh.to_string()));
        }
        if let Some(n) = self.max_paths {
            c += &format!("max_paths = {n}\n");
        }
        if let Some(n) = self.idle_hold {
            c += &format!("idle_hold = {n}\n");
        }
        c += &format!("\n[fib]\nenabled = {}\n", self.fib_enabled);
        let f = &self.fib;
        let numbers = [
            ("table", f.table),
            ("protocol", f.protocol.map(u32::from)),
            ("metric", f.metric),
            ("sweep_delay", f.sweep_delay),
        ];
        for (key, v) in numbers {
            if let Some(v) = v {
                c += &format!("{key} = {v}\n");
            }
        }
        for (key, v) in [
            ("blackhole_pod_cidrs", f.blackhole_pod_cidrs),
            ("retain_on_exit", f.retain_on_exit),
        ] {
            if let Some(v) = v {
                c += &format!("{key} = {v}\n");
            }
        }
        for p in &self.peers {
            c += "\n[[peers]]\n";
            c += &format!("address = {}\n", q(&p.address.to_string()));
            c += &format!("asn = {}\n", p.asn);
            if let Some(v) = p.port {
                c += &format!("port = {v}\n");
            }
            if p.passive {
                c += "passive = true\n";
            }
            if let Some(v) = p.hold_time {
                c += &format!("hold_time = {v}\n");
            }
            if let Some(v) = p.keepalive {
                c += &format!("keepalive = {v}\n");
            }
            if let Some(v) = p.multihop {
                c += &format!("multihop = {v}\n");
            }
            if let Some(v) = &p.description {
                c += &format!("description = {}\n", q(v));
            }
            if let Some(v) = p.export_learned {
                c += &format!("export_learned = {v}\n");
            }
            if !p.required_capabilities.is_empty() {
                let names: Vec<String> = p.required_capabilities.iter().map(|s| q(s)).collect();
                c += &format!("required_capabilities = [{}]\n", names.join(", "));
            }
        }
        c
    }
}

/// `bgpod status --json`.
#[derive(Clone, Debug, Deserialize)]
pub struct Status {
    pub router_id: String,
    pub asn: u32,
    pub uptime_secs: u64,
    pub peers: Vec<PeerStatus>,
}

/// One peer of `bgpod status --json`.
#[derive(Clone, Debug, Deserialize)]
pub struct PeerStatus {
    pub address: String,
    pub asn: u32,
    pub state: String,
    pub uptime_secs: Option<u64>,
    pub prefixes_received: u64,
    pub prefixes_accepted: u64,
    pub prefixes_advertised: u64,
    pub last_error: Option<String>,
}

/// `bgpod routes --json`.
#[derive(Clone, Debug, Deserialize)]
pub struct Routes {
    pub routes: Vec<Route>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Route {
    pub prefix: String,
    pub paths: Vec<RoutePath>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RoutePath {
    /// The peer's address, or `"local"` for our own pod CIDRs.
    pub source: String,
    pub next_hop: Option<String>,
    pub as_path: Vec<u32>,
    pub origin: String,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    pub best: bool,
}

impl Status {
    pub fn peer(&self, addr: IpAddr) -> Option<&PeerStatus> {
        self.peers.iter().find(|p| same_addr(&p.address, addr))
    }
}

impl Routes {
    /// The paths to `prefix` (empty if bgpod has none).
    pub fn paths(&self, prefix: &str) -> Vec<&RoutePath> {
        self.routes
            .iter()
            .filter(|r| same_prefix(&r.prefix, prefix))
            .flat_map(|r| r.paths.iter())
            .collect()
    }

    /// The path to `prefix` learned from `source` (a peer address).
    pub fn path_from(&self, prefix: &str, source: IpAddr) -> Option<&RoutePath> {
        self.paths(prefix)
            .into_iter()
            .find(|p| same_addr(&p.source, source))
    }
}

/// Run `bgpod <what> --socket SOCKET --json` in `ns` (`what` is `status` or `routes`) and
/// parse the output.
pub fn bgpod_query(ns: &Netns, socket: &Path, what: &str) -> Result<serde_json::Value, String> {
    let sock = socket.to_string_lossy();
    let out = ns.try_run(&bgpod_bin(), &[what, "--socket", &sock, "--json"])?;
    serde_json::from_str(&out).map_err(|e| format!("bgpod {what} --json: {e}: {out}"))
}

/// A running bgpod.
pub struct Bgpod<'a> {
    name: String,
    ns: &'a Netns,
    socket: PathBuf,
    config_path: PathBuf,
    proc: Proc,
}

impl<'a> Bgpod<'a> {
    /// Write `<name>.toml`, check it (`bgpod check-config`), start `bgpod run` in `ns`, and
    /// wait until it answers `status` with our router id.
    pub fn start(ns: &'a Netns, name: &str, config: &BgpodConfig) -> Bgpod<'a> {
        let config_path = ns.file(&format!("{name}.toml"));
        let socket = ns.file(&format!("{name}.sock"));
        let text = config.render(&socket);
        write_file(&config_path, &text);
        let cfg = config_path.to_string_lossy().into_owned();
        let bin = bgpod_bin();
        if let Err(e) = ns.try_run(&bin, &["check-config", &cfg]) {
            panic!("{name}: bgpod check-config rejects {cfg}: {e}\n{text}");
        }
        let proc = ns.spawn_env(
            &bin,
            &["run", "--config", &cfg],
            &[("RUST_LOG", "debug")],
            &format!("{name}.log"),
        );
        let b = Bgpod {
            name: name.to_string(),
            ns,
            socket,
            config_path,
            proc,
        };
        let rid = config.router_id;
        wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
            b.proc.check_running().unwrap_or_else(|e| panic!("{e}"));
            let s = b.status()?;
            if s.router_id == rid.to_string() && s.asn == config.asn {
                Ok(())
            } else {
                Err(format!("{}: status is {s:?}", b.name))
            }
        });
        b
    }

    pub fn proc(&self) -> &Proc {
        &self.proc
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// SIGTERM, then wait (10 s at most) for the exit; panics unless it exits 0.
    #[track_caller]
    pub fn stop(&self) {
        self.proc.terminate();
        let status = self.proc.wait_exit(Duration::from_secs(10));
        assert!(
            status.success(),
            "{}: exited with {status} on SIGTERM",
            self.name
        );
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn status(&self) -> Result<Status, String> {
        let v = bgpod_query(self.ns, &self.socket, "status")?;
        serde_json::from_value(v.clone()).map_err(|e| {
            format!(
                "{}: status JSON does not match the contract: {e}: {v}",
                self.name
            )
        })
    }

    pub fn routes(&self) -> Result<Routes, String> {
        let v = bgpod_query(self.ns, &self.socket, "routes")?;
        serde_json::from_value(v.clone()).map_err(|e| {
            format!(
                "{}: routes JSON does not match the contract: {e}: {v}",
                self.name
            )
        })
    }

    /// The status of the session with `peer`.
    pub fn peer(&self, peer: IpAddr) -> Result<PeerStatus, String> {
        let s = self.status()?;
        s.peer(peer)
            .cloned()
            .ok_or_else(|| format!("{}: no peer {peer} in {s:?}", self.name))
    }

    /// `Ok` once the session with `peer` is Established (fails fast if bgpod died).
    pub fn established(&self, peer: IpAddr) -> Result<(), String> {
        self.proc.check_running().unwrap_or_else(|e| panic!("{e}"));
        let p = self.peer(peer)?;
        if p.state == "Established" {
            Ok(())
        } else {
            Err(format!("{}: session with {peer} is {p:?}", self.name))
        }
    }

    /// `Ok(path)` once bgpod has a path to `prefix` from `source`, with that next hop and
    /// AS path.
    pub fn expect_route(
        &self,
        prefix: &str,
        source: IpAddr,
        next_hop: IpAddr,
        as_path: &[u32],
    ) -> Result<RoutePath, String> {
        let routes = self.routes()?;
        let p = routes.path_from(prefix, source).ok_or_else(|| {
            format!(
                "{}: no path to {prefix} from {source} in {routes:?}",
                self.name
            )
        })?;
        let nh_ok = p
            .next_hop
            .as_deref()
            .is_some_and(|n| same_addr(n, next_hop));
        if !nh_ok || p.as_path != as_path {
            return Err(format!(
                "{}: path to {prefix} is {p:?}, want next hop {next_hop} and AS path {as_path:?}",
                self.name
            ));
        }
        Ok(p.clone())
    }

    /// `Ok` once bgpod has no path to `prefix` from `source`.
    pub fn expect_no_route(&self, prefix: &str, source: IpAddr) -> Result<(), String> {
        let routes = self.routes()?;
        match routes.path_from(prefix, source) {
            None => Ok(()),
            Some(p) => Err(format!(
                "{}: still has {prefix} from {source}: {p:?}",
                self.name
            )),
        }
    }
}
