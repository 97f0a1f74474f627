//! When the lab has converged: every bgpod (nodes, and a bgpod ToR) has all its sessions
//! Established, holds every pod CIDR it should in its Loc-RIB, and has installed the learned
//! ones as kernel routes tagged with its route protocol.
//!
//! The control sockets are files on the host, so the lab asks the daemons directly; the
//! kernel tables are read with `ip -n NS -j route show table T proto P`.

use std::path::PathBuf;

use ipnetwork::IpNetwork;
use serde_json::Value;

use crate::control::client;

/// A bgpod the lab waits for.
#[derive(Clone, Debug)]
pub struct Router {
    /// `n1`, `tor`.
    pub label: String,
    pub ns: String,
    pub socket: PathBuf,
    /// Prefixes it must hold in its Loc-RIB (its own and learned ones).
    pub rib: Vec<String>,
    /// Learned prefixes it must have installed in the kernel.
    pub kernel: Vec<String>,
}

/// Where bgpod puts its kernel routes (from the config the lab wrote).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelTable {
    pub table: u32,
    pub protocol: u8,
}

/// How far one router is.
#[derive(Debug, PartialEq, Eq)]
pub enum Pending {
    /// Not answering on its control socket yet.
    Starting(String),
    /// A session that is not Established.
    Session { peer: String, state: String },
    /// A prefix missing from the Loc-RIB.
    Rib(String),
    /// A prefix in the Loc-RIB but not (yet) in the kernel.
    Kernel(String),
}

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pending::Starting(e) => write!(f, "control socket not answering ({e})"),
            Pending::Session { peer, state } => write!(f, "session to {peer} is {state}"),
            Pending::Rib(p) => write!(f, "no route to {p} in the Loc-RIB"),
            Pending::Kernel(p) => write!(f, "{p} is in the Loc-RIB but not in the kernel"),
        }
    }
}

impl Pending {
    /// A few words for the progress line: `10.99.0.6 Active`.
    pub fn short(&self) -> String {
        match self {
            Pending::Starting(_) => "starting".into(),
            Pending::Session { peer, state } => format!("{peer} {state}"),
            Pending::Rib(p) => format!("waiting for {p}"),
            Pending::Kernel(p) => format!("{p} not in the kernel yet"),
        }
    }
}

/// `Ok` when `router` has converged, else the first thing it still lacks.
pub fn check(router: &Router, table: KernelTable) -> Result<(), Pending> {
    let status =
        client::ask(&router.socket, "status").map_err(|e| Pending::Starting(format!("{e:#}")))?;
    for p in status["peers"].as_array().into_iter().flatten() {
        if p["state"] != "Established" {
            return Err(Pending::Session {
                peer: text(&p["address"]),
                state: text(&p["state"]),
            });
        }
    }
    let routes =
        client::ask(&router.socket, "routes").map_err(|e| Pending::Starting(format!("{e:#}")))?;
    let have: Vec<IpNetwork> = routes["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["prefix"].as_str()?.parse().ok())
        .collect();
    if let Some(missing) = first_missing(&router.rib, &have) {
        return Err(Pending::Rib(missing));
    }
    if router.kernel.is_empty() {
        return Ok(());
    }
    let installed = kernel_routes(&router.ns, table);
    match first_missing(&router.kernel, &installed) {
        Some(missing) => Err(Pending::Kernel(missing)),
        None => Ok(()),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first of `want` (prefixes as text) that is not in `have`.
fn first_missing(want: &[String], have: &[IpNetwork]) -> Option<String> {
    want.iter()
        .find(|w| !w.parse::<IpNetwork>().is_ok_and(|p| have.contains(&p)))
        .cloned()
}

/// The unicast routes (not blackholes) in `table` tagged `protocol`, both families; empty if
/// `ip` fails (the caller keeps polling).
pub fn kernel_routes(ns: &str, table: KernelTable) -> Vec<IpNetwork> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        let table_arg = table.table.to_string();
        let proto_arg = table.protocol.to_string();
        let args = [
            "-n", ns, "-j", family, "route", "show", "table", &table_arg, "proto", &proto_arg,
        ];
        if let Ok(o) = std::process::Command::new("ip").args(args).output() {
            if o.status.success() {
                out.extend(parse_routes(&String::from_utf8_lossy(&o.stdout)));
            }
        }
    }
    out
}

/// Destinations of the unicast routes in `ip -j route show` output.
fn parse_routes(json: &str) -> Vec<IpNetwork> {
    let Ok(Value::Array(routes)) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    routes
        .iter()
        // `type` is only printed when it is not unicast (blackhole, unreachable, …).
        .filter(|r| matches!(r["type"].as_str(), None | Some("unicast")))
        .filter_map(|r| r["dst"].as_str())
        .filter_map(|d| d.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_json_and_skips_blackholes() {
        let v4 = r#"[{"type":"blackhole","dst":"10.244.1.0/24","protocol":"200","metric":4278190080,"flags":[]},
            {"dst":"10.244.2.0/24","gateway":"10.99.0.2","dev":"eth0","protocol":"200","flags":[]},
            {"dst":"10.244.3.0/24","protocol":"200","flags":[],"nexthops":[{"gateway":"10.99.0.3","dev":"eth0","weight":1,"flags":[]}]}]"#;
        let got = parse_routes(v4);
        let want: Vec<IpNetwork> = ["10.244.2.0/24", "10.244.3.0/24"]
            .iter()
            .map(|p| p.parse().expect("prefix"))
            .collect();
        assert_eq!(got, want);
        let v6 = r#"[{"dst":"fd00:10:244:2::/64","gateway":"fd00:99::2","dev":"eth0","protocol":"200","metric":1024,"flags":[],"pref":"medium"}]"#;
        assert_eq!(
            parse_routes(v6),
            vec!["fd00:10:244:2::/64".parse::<IpNetwork>().expect("prefix")]
        );
        assert!(parse_routes("").is_empty());
        assert!(parse_routes("[]").is_empty());
        assert!(parse_routes("{not json").is_empty());
    }

    #[test]
    fn missing_prefixes_compare_as_networks() {
        let have: Vec<IpNetwork> = ["fd00:10:244:2::/64", "10.244.2.0/24"]
            .iter()
            .map(|p| p.parse().expect("prefix"))
            .collect();
        // Spelled differently, same network.
        assert_eq!(first_missing(&["fd00:10:244:2:0::/64".into()], &have), None);
        assert_eq!(
            first_missing(&["10.244.2.0/24".into(), "10.244.3.0/24".into()], &have),
            Some("10.244.3.0/24".into())
        );
    }

    #[test]
    fn pending_reads_well() {
        assert_eq!(
            Pending::Kernel("10.244.2.0/24".into()).to_string(),
            "10.244.2.0/24 is in the Loc-RIB but not in the kernel"
        );
        assert_eq!(
            Pending::Session {
                peer: "10.99.0.2".into(),
                state: "Active".into()
            }
            .to_string(),
            "session to 10.99.0.2 is Active"
        );
    }
}
