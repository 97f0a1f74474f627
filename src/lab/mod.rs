//! `bgpod lab`: a cluster of bgpod nodes in network namespaces on this machine.
//!
//! Topology: a "fabric" namespace holds a bridge; every node namespace has one veth into it
//! with an address from 10.99.0.0/24 and fd00:99::/64. Each node runs the real `bgpod run`
//! with its own pod CIDRs (10.244.N.0/24, fd00:10:244:N::/64) in an iBGP full mesh. The lab
//! waits until every session is Established and every node holds every other node's pod
//! CIDRs, prints sessions and routes, and removes everything it made.

mod netns;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use crate::control::client;
use netns::Topology;

/// Every name the lab creates starts with this, so `bgpod lab down` can find it.
const PREFIX: &str = "bgpod-lab";
/// Where a lab left up with `--keep` records what to remove.
const STATE_FILE: &str = "/run/bgpod-lab/state.json";
const ASN: u32 = 64512;

pub struct LabArgs {
    pub nodes: usize,
    pub keep: bool,
    pub timeout: Duration,
}

fn node_ns(i: usize) -> String {
    format!("{PREFIX}-n{i}")
}

fn node_v4(i: usize) -> String {
    format!("10.99.0.{i}")
}

fn node_v6(i: usize) -> String {
    format!("fd00:99::{i}")
}

fn pod_cidrs(i: usize) -> [String; 2] {
    [format!("10.244.{i}.0/24"), format!("fd00:10:244:{i}::/64")]
}

fn step(n: usize, total: usize, what: &str) {
    eprintln!("[{n}/{total}] {what}");
}

pub fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    if !(2..=50).contains(&args.nodes) {
        bail!("--nodes must be between 2 and 50");
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("the lab creates network namespaces: run it as root (sudo)");
    }
    if netns::list().iter().any(|n| n.starts_with(PREFIX)) {
        bail!("a lab is already up (namespaces {PREFIX}-*): remove it with `bgpod lab down`");
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone())
            .context("installing the Ctrl-C handler")?;
    }
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("{PREFIX}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut topo = Topology::new();
    topo.add_dir(dir.clone());

    let result = build_and_check(&args, &mut topo, &dir, &interrupted);
    match result {
        Ok(()) if args.keep => {
            topo.keep();
            write_state(&args, &dir)?;
            println!();
            println!(
                "The lab stays up ({:.1} s). Enter a node with:",
                started.elapsed().as_secs_f64()
            );
            println!("  sudo ip netns exec {} bash", node_ns(1));
            println!(
                "  bgpod status --socket {}",
                dir.join("n1/bgpod.sock").display()
            );
            println!(
                "Logs: {}   Tear it down with: sudo bgpod lab down",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(()) => {
            eprintln!("tearing the lab down…");
            topo.teardown(Duration::from_secs(3));
            println!(
                "lab OK: {} nodes converged, {:.1} s in all",
                args.nodes,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("lab failed: {e:#}");
            eprintln!("last lines of each node's log:");
            for i in 1..=args.nodes {
                let log = dir.join(format!("n{i}/bgpod.log"));
                if let Ok(text) = std::fs::read_to_string(&log) {
                    eprintln!("--- {} ---", log.display());
                    for line in text
                        .lines()
                        .rev()
                        .take(8)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                    {
                        eprintln!("{line}");
                    }
                }
            }
            topo.teardown(Duration::from_secs(3));
            Ok(ExitCode::FAILURE)
        }
    }
}

fn build_and_check(
    args: &LabArgs,
    topo: &mut Topology,
    dir: &Path,
    interrupted: &AtomicBool,
) -> anyhow::Result<()> {
    let n = args.nodes;
    let total = 4;
    step(
        1,
        total,
        &format!("creating the fabric and {n} node namespaces"),
    );
    let fabric = format!("{PREFIX}-fabric");
    topo.add_namespace(&fabric)?;
    netns::ip(&["-n", &fabric, "link", "add", "br0", "type", "bridge"])?;
    netns::ip(&["-n", &fabric, "link", "set", "br0", "up"])?;
    for i in 1..=n {
        check_interrupt(interrupted)?;
        let ns = node_ns(i);
        topo.add_namespace(&ns)?;
        let outside = format!("n{i}-fab");
        netns::ip(&[
            "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &outside, "netns",
            &fabric,
        ])?;
        netns::ip(&[
            "-n", &fabric, "link", "set", &outside, "master", "br0", "up",
        ])?;
        netns::ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/24", node_v4(i)),
            "dev",
            "eth0",
        ])?;
        netns::ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/64", node_v6(i)),
            "dev",
            "eth0",
        ])?;
        netns::ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    }

    step(2, total, "writing configs and starting bgpod on every node");
    let exe = std::env::current_exe().context("finding the bgpod binary")?;
    let exe = exe.to_string_lossy().into_owned();
    for i in 1..=n {
        let node_dir = dir.join(format!("n{i}"));
        std::fs::create_dir_all(&node_dir)?;
        let conf = node_dir.join("bgpod.toml");
        std::fs::write(&conf, node_config(i, n, &node_dir))?;
        let conf = conf.to_string_lossy().into_owned();
        topo.spawn(
            &node_ns(i),
            &format!("bgpod n{i}"),
            &[&exe, "run", "--config", &conf],
            &node_dir.join("bgpod.log"),
        )?;
    }

    step(
        3,
        total,
        "waiting for every session to reach Established and every route to arrive",
    );
    let deadline = Instant::now() + args.timeout;
    loop {
        check_interrupt(interrupted)?;
        if let Some((label, status)) = topo.exited().into_iter().next() {
            bail!("{label} exited early ({status})");
        }
        match converged(n, dir) {
            Ok(()) => break,
            Err(e) if Instant::now() >= deadline => {
                bail!("not converged after {:?}: {e}", args.timeout)
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }

    step(4, total, "converged");
    for i in 1..=n {
        let sock = socket_path(dir, i);
        println!("\n=== node n{i} ({}, AS {ASN}) ===", node_v4(i));
        client::status(&sock, false)?;
        println!();
        client::routes(&sock, false)?;
    }
    Ok(())
}

fn check_interrupt(flag: &AtomicBool) -> anyhow::Result<()> {
    if flag.load(Ordering::Relaxed) {
        bail!("interrupted");
    }
    Ok(())
}

fn socket_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("n{i}/bgpod.sock"))
}

fn node_config(i: usize, n: usize, node_dir: &Path) -> String {
    let [v4, v6] = pod_cidrs(i);
    let mut c = format!(
        "# bgpod lab node n{i}\nrouter_id = \"{}\"\nasn = {ASN}\npod_cidrs = [\"{v4}\", \"{v6}\"]\n\
         control_socket = \"{}\"\nconnect_retry = 1\nlocal_v6_next_hop = \"{}\"\n\n[fib]\nenabled = false\n",
        node_v4(i),
        node_dir.join("bgpod.sock").display(),
        node_v6(i),
    );
    for j in (1..=n).filter(|j| *j != i) {
        c.push_str(&format!(
            "\n[[peers]]\naddress = \"{}\"\nasn = {ASN}\ndescription = \"n{j}\"\n",
            node_v4(j)
        ));
    }
    c
}

/// Every node has all its sessions Established and every other node's pod CIDRs.
fn converged(n: usize, dir: &Path) -> Result<(), String> {
    for i in 1..=n {
        let sock = socket_path(dir, i);
        let status = client::ask(&sock, "status").map_err(|e| format!("n{i}: {e:#}"))?;
        let peers = status["peers"].as_array().cloned().unwrap_or_default();
        if let Some(p) = peers.iter().find(|p| p["state"] != "Established") {
            return Err(format!("n{i}: peer {} is {}", p["address"], p["state"]));
        }
        let routes = client::ask(&sock, "routes").map_err(|e| format!("n{i}: {e:#}"))?;
        let have: Vec<&str> = routes["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["prefix"].as_str())
            .collect();
        for j in 1..=n {
            for cidr in pod_cidrs(j) {
                if !have.contains(&cidr.as_str()) {
                    return Err(format!("n{i}: no route to {cidr} yet"));
                }
            }
        }
    }
    Ok(())
}

fn write_state(args: &LabArgs, dir: &Path) -> anyhow::Result<()> {
    let mut namespaces = vec![format!("{PREFIX}-fabric")];
    namespaces.extend((1..=args.nodes).map(node_ns));
    let state = serde_json::json!({ "dir": dir, "namespaces": namespaces });
    let path = Path::new(STATE_FILE);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(&state)?)?;
    Ok(())
}

/// `bgpod lab down`: remove a lab left up with `--keep`. Deleting a node's namespace does not
/// end its bgpod, so the processes running inside the lab's namespaces are ended first.
pub fn down() -> anyhow::Result<ExitCode> {
    let state: Value = std::fs::read_to_string(STATE_FILE)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let mut namespaces: Vec<String> = netns::list()
        .into_iter()
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    if namespaces.is_empty() {
        println!("no lab is up");
        let _ = std::fs::remove_file(STATE_FILE);
        return Ok(ExitCode::SUCCESS);
    }
    namespaces.sort();
    for ns in &namespaces {
        for pid in netns::pids_in(ns) {
            netns::signal(pid, nix::sys::signal::Signal::SIGTERM);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    for ns in &namespaces {
        for pid in netns::pids_in(ns) {
            netns::signal(pid, nix::sys::signal::Signal::SIGKILL);
        }
        netns::ip(&["netns", "del", ns])?;
        println!("removed namespace {ns}");
    }
    if let Some(dir) = state["dir"].as_str() {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_file(STATE_FILE);
    Ok(ExitCode::SUCCESS)
}
