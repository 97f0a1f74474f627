//! Network namespaces, links and processes for the lab, through `ip` from iproute2.
//!
//! Everything created here is recorded so that [`Topology`]'s `Drop` removes it, on success,
//! on error and after Ctrl-C alike: processes are ended by PID, namespaces deleted by name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Run `ip ARGS…` and fail with its stderr.
pub fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip` (is iproute2 installed?)")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Run `ip` commands, one per line, in a single `ip -n NS -batch -` process (or in the
/// current namespace with `ns` `None`, only used for `netns add`).
pub fn batch(ns: &str, cmds: &[String]) -> anyhow::Result<()> {
    run_batch(Some(ns), cmds)
}

fn run_batch(ns: Option<&str>, cmds: &[String]) -> anyhow::Result<()> {
    let mut command = Command::new("ip");
    if let Some(ns) = ns {
        command.args(["-n", ns]);
    }
    let mut child = command
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running `ip` (is iproute2 installed?)")?;
    let mut script = cmds.join("\n");
    script.push('\n');
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .context("writing to `ip -batch`")?;
    }
    let out = child
        .wait_with_output()
        .context("waiting for `ip -batch`")?;
    if !out.status.success() {
        bail!(
            "`ip{} -batch` failed: {}",
            ns.map(|n| format!(" -n {n}")).unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Run a command inside a namespace and return its stdout.
pub fn exec(ns: &str, cmd: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(cmd)
        .output()
        .with_context(|| format!("running {cmd:?} in {ns}"))?;
    if !out.status.success() {
        bail!(
            "{} in {ns} failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The namespaces that exist now.
pub fn list() -> Vec<String> {
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What the lab made, removed on drop.
#[derive(Default)]
pub struct Topology {
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
    dirs: Vec<PathBuf>,
    keep: bool,
}

impl Topology {
    pub fn new() -> Self {
        Self::default()
    }

    /// Create namespaces (in one `ip -batch` run). They are recorded first, so a failure
    /// halfway still removes the ones that were made.
    pub fn add_namespaces(&mut self, names: &[String]) -> anyhow::Result<()> {
        self.namespaces.extend(names.iter().cloned());
        let cmds: Vec<String> = names.iter().map(|n| format!("netns add {n}")).collect();
        run_batch(None, &cmds)
    }

    /// A scratch directory removed with the topology.
    pub fn add_dir(&mut self, dir: PathBuf) {
        self.dirs.push(dir);
    }

    /// Start a process inside a namespace with its output in `log`.
    pub fn spawn(
        &mut self,
        ns: &str,
        label: &str,
        cmd: &[&str],
        log: &Path,
    ) -> anyhow::Result<u32> {
        let file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = file.try_clone()?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(cmd)
            // Plain logs: they are files, read with less and grep.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {label} in {ns}"))?;
        let pid = child.id();
        self.children.push((label.to_string(), child));
        Ok(pid)
    }

    /// The processes started so far: label and PID.
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.children
            .iter()
            .map(|(l, c)| (l.clone(), c.id()))
            .collect()
    }

    /// Processes that have exited, with their status.
    pub fn exited(&mut self) -> Vec<(String, std::process::ExitStatus)> {
        self.children
            .iter_mut()
            .filter_map(|(l, c)| c.try_wait().ok().flatten().map(|s| (l.clone(), s)))
            .collect()
    }

    /// Leave everything in place when dropped (`bgpod lab --keep`).
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// End the processes (SIGTERM, then SIGKILL after `grace`), delete the namespaces and dirs.
    pub fn teardown(&mut self, grace: Duration) {
        for (_, child) in &self.children {
            signal(child.id(), Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        for (label, child) in &mut self.children {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        eprintln!("  {label} did not stop in time; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        self.children.clear();
        // Only those that exist: a failed `add_namespaces` may have made some of them only.
        let existing = list();
        let doomed: Vec<String> = self
            .namespaces
            .drain(..)
            .rev()
            .filter(|ns| existing.contains(ns))
            .map(|ns| format!("netns del {ns}"))
            .collect();
        if !doomed.is_empty() {
            if let Err(e) = run_batch(None, &doomed) {
                eprintln!("  could not delete every namespace: {e:#}");
            }
        }
        for d in self.dirs.drain(..) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if !self.keep {
            self.teardown(Duration::from_secs(3));
        }
    }
}

/// Send a signal to a process this lab started.
pub fn signal(pid: u32, sig: Signal) {
    let Ok(pid) = i32::try_from(pid) else { return };
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
}

/// The processes running in a namespace (`ip netns pids`).
pub fn pids_in(ns: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", ns])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
