//! A lab left up with `--keep`, and `bgpod lab down`, which removes it.
//!
//! `--keep` records the lab's directory, namespaces and process IDs in [`STATE_FILE`].
//! `down` stops exactly those processes (by PID, and only while they still run inside a lab
//! namespace, so a reused PID is never hit), deletes every `bgpod-lab-*` namespace and the
//! lab's directory. Without a state file (it lives in /run, gone after a reboot, when the lab
//! is gone too) it stops the `bgpod` and `bird` processes it finds in lab namespaces.
//! Anything else running in a lab namespace — a shell someone opened with
//! `ip netns exec` — is left alone and named.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::netns;
use super::PREFIX;

/// Where a lab left up with `--keep` records what to remove.
pub const STATE_FILE: &str = "/run/bgpod-lab/state.json";
/// How long the lab's processes get to exit after SIGTERM.
const GRACE: Duration = Duration::from_secs(3);

/// What `--keep` left running.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub dir: PathBuf,
    pub namespaces: Vec<String>,
    /// Label (`bgpod n1`) and PID of every process the lab started.
    pub processes: Vec<(String, u32)>,
}

impl State {
    pub fn save(&self) -> anyhow::Result<()> {
        let path = Path::new(STATE_FILE);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("writing {STATE_FILE}"))
    }

    fn load() -> Option<State> {
        let text = std::fs::read_to_string(STATE_FILE).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The lab namespaces that exist now.
pub fn lab_namespaces() -> Vec<String> {
    let mut names: Vec<String> = netns::list()
        .into_iter()
        .filter(|n| n.starts_with(&format!("{PREFIX}-")))
        .collect();
    names.sort();
    names
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether `pid` is gone (or a zombie, which is as good as gone).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// `bgpod lab down`.
pub fn down() -> anyhow::Result<ExitCode> {
    let state = State::load();
    let namespaces = lab_namespaces();
    if namespaces.is_empty() {
        println!("no lab is up");
        remove_state(state.as_ref());
        return Ok(ExitCode::SUCCESS);
    }
    let inside: Vec<(String, u32)> = namespaces
        .iter()
        .flat_map(|ns| netns::pids_in(ns).into_iter().map(move |p| (ns.clone(), p)))
        .collect();
    let ours = |pid: u32| match &state {
        Some(s) => s.processes.iter().any(|(_, p)| *p == pid),
        None => matches!(comm(pid).as_str(), "bgpod" | "bird"),
    };
    let (stop, others): (Vec<_>, Vec<_>) = inside.into_iter().partition(|(_, pid)| ours(*pid));
    for (_, pid) in &stop {
        netns::signal(*pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + GRACE;
    while stop.iter().any(|(_, p)| !gone(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (ns, pid) in stop.iter().filter(|(_, p)| !gone(*p)) {
        eprintln!(
            "{} (pid {pid}) in {ns} did not stop in time; killing it",
            comm(*pid)
        );
        netns::signal(*pid, Signal::SIGKILL);
    }
    if !stop.is_empty() {
        println!("stopped {} lab process(es)", stop.len());
    }
    for (ns, pid) in &others {
        eprintln!(
            "note: pid {pid} ({}) still runs in {ns}, and was not started by the lab: it is \
             left alone, and keeps that namespace's network alive until it exits",
            comm(*pid)
        );
    }
    let mut failed = false;
    for ns in &namespaces {
        match netns::ip(&["netns", "del", ns]) {
            Ok(()) => {}
            Err(e) => {
                eprintln!("{e:#}");
                failed = true;
            }
        }
    }
    println!("removed {} namespace(s) {PREFIX}-*", namespaces.len());
    remove_state(state.as_ref());
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Remove the lab's directory (only one that looks like the lab made it: `bgpod-lab-*`, with
/// node n1's config inside) and the state file.
fn remove_state(state: Option<&State>) {
    if let Some(s) = state {
        let is_lab_dir = s.dir.is_absolute()
            && s.dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{PREFIX}-")))
            && s.dir.join("n1").join("bgpod.toml").is_file();
        if is_lab_dir {
            let _ = std::fs::remove_dir_all(&s.dir);
        }
    }
    // Directories of labs whose `bgpod lab` was killed (named after its PID) go too.
    for dir in orphan_dirs(&std::env::temp_dir()) {
        let _ = std::fs::remove_dir_all(dir);
    }
    let _ = std::fs::remove_file(STATE_FILE);
    if let Some(parent) = Path::new(STATE_FILE).parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

/// `bgpod-lab-PID` directories in `tmp` whose process is gone and that hold a lab's node
/// config.
fn orphan_dirs(tmp: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let pid = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&format!("{PREFIX}-")))
                .and_then(|pid| pid.parse::<u32>().ok());
            pid.is_some_and(gone) && p.join("n1").join("bgpod.toml").is_file()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_through_json() {
        let s = State {
            dir: "/tmp/bgpod-lab-1".into(),
            namespaces: vec!["bgpod-lab-n1".into()],
            processes: vec![("bgpod n1".into(), 42)],
        };
        let text = serde_json::to_string(&s).expect("encode");
        assert_eq!(serde_json::from_str::<State>(&text).expect("decode"), s);
    }

    #[test]
    fn orphan_dirs_are_lab_dirs_of_dead_processes() {
        let tmp = std::env::temp_dir().join(format!("bgpod-lab-unit-{}", std::process::id()));
        let dead = tmp.join(format!("{PREFIX}-{}", u32::MAX));
        let alive = tmp.join(format!("{PREFIX}-{}", std::process::id()));
        let other = tmp.join(format!("{PREFIX}-{}-x", u32::MAX));
        for d in [&dead, &alive, &other] {
            std::fs::create_dir_all(d.join("n1")).expect("mkdir");
            std::fs::write(d.join("n1").join("bgpod.toml"), "").expect("write");
        }
        std::fs::create_dir_all(tmp.join(format!("{PREFIX}-{}", u32::MAX - 1))).expect("mkdir");
        assert_eq!(orphan_dirs(&tmp), vec![dead]);
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }

    #[test]
    fn this_process_is_not_gone() {
        assert!(!gone(std::process::id()));
        assert!(gone(u32::MAX));
    }
}
