//! The ToR: a second bgpod configured as a plain eBGP router, or BIRD 2 (`--tor bird`).
//!
//! It is started (and answering on its control socket) before the nodes, so the nodes'
//! first connection attempts find it listening.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::config;
use super::netns::Topology;
use super::topology::{Plan, TorRouter, TOR_NS};
use crate::control::client;

/// How long the ToR gets to answer on its control socket.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// BIRD's binaries, found before anything is built.
#[derive(Clone, Debug)]
pub struct BirdBinaries {
    pub bird: PathBuf,
    pub birdc: PathBuf,
    /// `2.0.12`.
    pub version: String,
}

/// Find `bird` and `birdc` (in `PATH`, or the sbin directories `sudo` may leave out) and
/// check that this is BIRD 2 or later.
pub fn find_bird() -> anyhow::Result<BirdBinaries> {
    let missing = || {
        anyhow::anyhow!(
            "--tor bird needs BIRD 2 (`bird` and `birdc`), which is not installed: \
             `apt install bird2`, or use `--tor` for a bgpod ToR"
        )
    };
    let bird = find_binary("bird").ok_or_else(missing)?;
    let birdc = find_binary("birdc").ok_or_else(missing)?;
    let out = Command::new(&bird)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", bird.display()))?;
    // `BIRD version 2.0.12`, on stderr.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "version")
        .nth(1)
        .unwrap_or("")
        .to_string();
    let major: u32 = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 2 {
        bail!(
            "--tor bird needs BIRD 2 or later; {} says {:?}",
            bird.display(),
            text.trim()
        );
    }
    Ok(BirdBinaries {
        bird,
        birdc,
        version,
    })
}

/// `name` in `PATH` or in the sbin directories.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A running ToR.
pub enum Tor {
    Bgpod {
        socket: PathBuf,
    },
    Bird {
        socket: PathBuf,
        birdc: PathBuf,
        version: String,
    },
}

/// Write the ToR's config in `dir`, start it in its namespace and wait until it answers.
pub fn start(
    plan: &Plan,
    dir: &Path,
    exe: &str,
    bird: Option<&BirdBinaries>,
    topo: &mut Topology,
) -> anyhow::Result<Tor> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = dir.join(format!("{}.log", tor_program(plan.tor)));
    match (plan.tor, bird) {
        (TorRouter::Bgpod, _) => {
            let socket = dir.join("bgpod.sock");
            let conf = dir.join("bgpod.toml");
            write_checked(&conf, &config::bgpod_tor(plan, &socket))?;
            let conf = conf.to_string_lossy().into_owned();
            topo.spawn(TOR_NS, "bgpod tor", &[exe, "run", "--config", &conf], &log)?;
            wait_ready(topo, || client::ask(&socket, "status").is_ok())?;
            Ok(Tor::Bgpod { socket })
        }
        (TorRouter::Bird, Some(bins)) => {
            let socket = dir.join("bird.ctl");
            let conf = dir.join("bird.conf");
            std::fs::write(&conf, config::bird_tor(plan))
                .with_context(|| format!("writing {}", conf.display()))?;
            let bird = bins.bird.to_string_lossy().into_owned();
            let conf = conf.to_string_lossy().into_owned();
            let sock = socket.to_string_lossy().into_owned();
            let pid = dir.join("bird.pid").to_string_lossy().into_owned();
            topo.spawn(
                TOR_NS,
                "bird tor",
                &[&bird, "-f", "-c", &conf, "-s", &sock, "-P", &pid],
                &log,
            )?;
            let birdc = bins.birdc.clone();
            wait_ready(topo, || {
                birdc_output(&birdc, &socket, &["show", "status"])
                    .is_ok_and(|t| t.contains("up and running"))
            })?;
            Ok(Tor::Bird {
                socket,
                birdc,
                version: bins.version.clone(),
            })
        }
        (TorRouter::Bird, None) => bail!("BIRD was not looked up before starting the ToR"),
    }
}

/// `bgpod` or `BIRD`, for people.
pub fn tor_name(tor: TorRouter) -> &'static str {
    match tor {
        TorRouter::Bgpod => "bgpod",
        TorRouter::Bird => "BIRD",
    }
}

/// `bgpod` or `bird`: the ToR's program, also the name of its log file.
pub fn tor_program(tor: TorRouter) -> &'static str {
    match tor {
        TorRouter::Bgpod => "bgpod",
        TorRouter::Bird => "bird",
    }
}

/// Write a bgpod config and check it as `bgpod run` will; returns the parsed config.
pub fn write_checked(path: &Path, text: &str) -> anyhow::Result<bgpod_config::Config> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    bgpod_config::Config::parse(text, &path.display().to_string())
        .map_err(|e| anyhow::anyhow!("the lab wrote an invalid config:\n{e}"))
}

fn wait_ready(topo: &mut Topology, ready: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if ready() {
            return Ok(());
        }
        if let Some((label, status)) = topo.exited().into_iter().next() {
            bail!("{label} exited early ({status})");
        }
        if Instant::now() >= deadline {
            bail!("the ToR did not answer on its control socket within {READY_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `birdc -s SOCKET ARGS…`, its stdout.
pub fn birdc_output(birdc: &Path, socket: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(birdc)
        .arg("-s")
        .arg(socket)
        .args(args)
        .output()
        .with_context(|| format!("running {}", birdc.display()))?;
    if !out.status.success() {
        bail!(
            "birdc {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
