//! What the lab prints about its routers: each one's sessions (the `bgpod status` table) and
//! the kernel routes bgpod installed (`ip route show table T proto P`, both families); for a
//! BIRD ToR, `birdc show protocols`. Large labs get one summary line per router instead,
//! unless `--verbose`, which also adds every Loc-RIB.

use std::process::Command;

use super::converge::{kernel_routes, KernelTable, Router};
use super::topology::{TOR_ASN, TOR_V4};
use super::tor::{birdc_output, Tor};
use crate::control::client;

/// Above this many nodes, routers are summarised one per line unless `--verbose`.
pub const DETAIL_MAX_NODES: usize = 10;

/// A router's heading: `n1: 10.99.0.1, AS 64512`.
pub struct Heading {
    pub router: Router,
    pub title: String,
}

/// Print every router in full: sessions, kernel routes (and the Loc-RIB if `rib`).
pub fn detailed(routers: &[Heading], tor: &Tor, table: KernelTable, rib: bool) {
    for h in routers {
        println!("\n=== {} ===", h.title);
        if let Err(e) = client::status(&h.router.socket, false) {
            println!("(no status: {e:#})");
        }
        if rib {
            println!();
            if let Err(e) = client::routes(&h.router.socket, false) {
                println!("(no routes: {e:#})");
            }
        }
        println!(
            "\nkernel routes from bgpod (ip route show table {} proto {}):",
            table.table, table.protocol
        );
        let text: String = ["-4", "-6"]
            .iter()
            .map(|family| ip_routes(&h.router.ns, family, table))
            .collect();
        if text.trim().is_empty() {
            println!("  (none)");
        }
        for line in text.lines() {
            println!("  {line}");
        }
    }
    if let Tor::Bird {
        socket,
        birdc,
        version,
    } = tor
    {
        println!("\n=== tor: {TOR_V4}, AS {TOR_ASN} (BIRD {version}) ===");
        match birdc_output(birdc, socket, &["show", "protocols"]) {
            Ok(text) => {
                for line in text.lines().filter(|l| !l.starts_with("BIRD ")) {
                    println!("{line}");
                }
            }
            Err(e) => println!("(no status: {e:#})"),
        }
    }
}

/// One line per router: sessions up, Loc-RIB size, kernel routes.
pub fn summary(routers: &[Heading], tor: &Tor, table: KernelTable) {
    println!(
        "\n{:<6} {:<14} {:>6} {:>22} {:>8} {:>14}",
        "ROUTER", "ADDRESS", "AS", "SESSIONS", "LOC-RIB", "KERNEL ROUTES"
    );
    for h in routers {
        let status = client::ask(&h.router.socket, "status").ok();
        let routes = client::ask(&h.router.socket, "routes").ok();
        let peers = status
            .as_ref()
            .and_then(|s| s["peers"].as_array().cloned())
            .unwrap_or_default();
        let up = peers.iter().filter(|p| p["state"] == "Established").count();
        let rib = routes
            .as_ref()
            .and_then(|r| r["routes"].as_array().map(Vec::len))
            .unwrap_or(0);
        let kernel = kernel_routes(&h.router.ns, table).len();
        let asn = status
            .as_ref()
            .map(|s| s["asn"].to_string())
            .unwrap_or_else(|| "-".into());
        let address = status
            .as_ref()
            .and_then(|s| s["router_id"].as_str().map(str::to_string))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<6} {:<14} {:>6} {:>22} {:>8} {:>14}",
            h.router.label,
            address,
            asn,
            format!("{up}/{} Established", peers.len()),
            rib,
            kernel
        );
    }
    if let Tor::Bird { .. } = tor {
        println!("tor    {TOR_V4:<14} {TOR_ASN:>6}   (BIRD; `--verbose` shows its sessions)");
    }
    println!("(`--verbose` prints every router's sessions and routes)");
}

/// `ip -n NS FAMILY route show table T proto P`, as text (or why it failed).
fn ip_routes(ns: &str, family: &str, table: KernelTable) -> String {
    let t = table.table.to_string();
    let p = table.protocol.to_string();
    match Command::new("ip")
        .args(["-n", ns, family, "route", "show", "table", &t, "proto", &p])
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => format!("(ip failed: {})", String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => format!("(ip failed: {e})"),
    }
}
