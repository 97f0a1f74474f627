//! The benchmark's lab: two network namespaces joined by a veth pair, and the processes run
//! inside them.
//!
//! ```text
//!   bgpb-f-<pid>-<run>                       bgpb-t-<pid>-<run>
//!   feeder (AS 65100)  bf0 10.200.0.1/24 ==== bt0 10.200.0.2/24  target (AS 64512)
//! ```
//!
//! Nothing here touches the host namespace: the pair is created inside the target namespace
//! with its peer end moved straight into the feeder namespace, every address and route lives
//! in those two namespaces, and the only thing the host sees is `ip netns add` / `del`.
//! Processes are started with `ip netns exec` (which execs, so the child's PID is the program's
//! own) and stopped by that PID: SIGTERM, then SIGKILL after a grace period. Guards stop the
//! processes and delete the namespaces on every exit path, panics included.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The feeder's address on the link (and the NEXT_HOP of every route).
pub const FEEDER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
/// The target's address on the link.
pub const TARGET_ADDR: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 2);
/// Interface names inside each namespace.
pub const TARGET_IF: &str = "bt0";
pub const FEEDER_IF: &str = "bf0";

/// Grace between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// Runs `program args` on the host (only `ip`): `Ok(stdout)` if it exited 0.
pub fn run_cmd(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A network namespace, deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn create(name: String) -> Result<Netns> {
        run_cmd("ip", &["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip -n NS args...`.
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_cmd("ip", &full)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = run_cmd("ip", &["netns", "del", &self.name]) {
            eprintln!("warning: {e}");
        }
    }
}

/// The two namespaces of one run and the link between them.
pub struct Topology {
    // Field order is drop order: the target goes first, the veth pair with it.
    pub target: Netns,
    pub feeder: Netns,
}

impl Topology {
    /// Builds the pair of namespaces for run `run` of this driver process.
    pub fn create(run: usize) -> Result<Topology> {
        let id = std::process::id();
        let target = Netns::create(format!("bgpb-t-{id}-{run}"))?;
        let feeder = Netns::create(format!("bgpb-f-{id}-{run}"))?;
        target.ip(&[
            "link",
            "add",
            TARGET_IF,
            "type",
            "veth",
            "peer",
            "name",
            FEEDER_IF,
            "netns",
            feeder.name(),
        ])?;
        target.ip(&[
            "addr",
            "add",
            &format!("{TARGET_ADDR}/24"),
            "dev",
            TARGET_IF,
        ])?;
        feeder.ip(&[
            "addr",
            "add",
            &format!("{FEEDER_ADDR}/24"),
            "dev",
            FEEDER_IF,
        ])?;
        target.ip(&["link", "set", TARGET_IF, "up"])?;
        feeder.ip(&["link", "set", FEEDER_IF, "up"])?;
        Ok(Topology { target, feeder })
    }
}

/// A process started in a namespace, stopped by PID on drop.
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Option<Receiver<String>>,
}

/// How a process's standard output is handled.
pub enum Stdout {
    /// Appended to this log file, like its stderr.
    Log,
    /// Read line by line by the driver (the feeder and raw writer protocol).
    Lines,
}

impl Proc {
    /// Starts `program args` in `ns` with `env`; stderr (and stdout unless `Lines`) go to
    /// `log`.
    pub fn spawn(
        ns: &Netns,
        name: &str,
        program: &Path,
        args: &[String],
        env: &[(&str, &str)],
        log: &Path,
        stdout: Stdout,
    ) -> Result<Proc> {
        let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns.name()])
            .arg(program)
            .args(args)
            .envs(env.iter().copied())
            .stderr(log_file.try_clone()?);
        match stdout {
            Stdout::Log => {
                cmd.stdin(Stdio::null()).stdout(log_file);
            }
            Stdout::Lines => {
                cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        let stdin = child.stdin.take();
        let lines = child.stdout.take().map(|out| {
            let (tx, rx) = mpsc::channel();
            thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        });
        Ok(Proc {
            name: name.to_string(),
            child,
            stdin,
            lines,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err` if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("{} exited ({status})", self.name),
        }
    }

    /// Sends one command line.
    pub fn send(&mut self, line: &str) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("{} has no command input", self.name))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("sending {line:?} to {}", self.name))
    }

    /// The next output line starting with `word` (other lines are skipped), within `timeout`.
    /// A `down ...` line, an exit or Ctrl-C end the wait with an error.
    pub fn expect(&mut self, word: &str, timeout: Duration, stop: &AtomicBool) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if stop.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
            let rx = self
                .lines
                .as_ref()
                .ok_or_else(|| anyhow!("{} has no output to read", self.name))?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("{}: no `{word}` within {timeout:?}", self.name);
            }
            match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) if line.split_whitespace().next() == Some(word) => return Ok(line),
                Ok(line) if line.starts_with("down") => bail!("{}: {line}", self.name),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    bail!("{} exited ({status}) before `{word}`", self.name);
                }
            }
        }
    }

    /// A line starting with `word` if one has arrived already (no waiting).
    pub fn try_line(&mut self, word: &str) -> Option<String> {
        let rx = self.lines.as_ref()?;
        while let Ok(line) = rx.try_recv() {
            if line.split_whitespace().next() == Some(word) {
                return Some(line);
            }
        }
        None
    }

    /// Closes the command input and waits up to `timeout` for a clean exit, then stops it.
    pub fn finish(mut self, timeout: Duration) {
        drop(self.stdin.take());
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Drop stops it.
    }

    /// SIGTERM, then SIGKILL after the grace period.
    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let Ok(raw) = i32::try_from(self.child.id()) else {
            return;
        };
        let pid = Pid::from_raw(raw);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!("warning: {} ignored SIGTERM; SIGKILL", self.name);
        let _ = kill(pid, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The log directory of one driver run.
pub fn log_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("bgpod-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
