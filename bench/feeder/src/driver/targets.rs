//! The daemons under test: their configuration files and how they are started.
//!
//! Both get the same job: one passive eBGP session from the feeder (AS 65100 at
//! 10.200.0.1) into AS 64512, everything imported, nothing exported back, every best route
//! installed in the main table. Both use their default logging (state changes, no per-route
//! lines) and default timers, except a hold time of 240 s on both sides.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::lab::{Netns, Proc, Stdout, FEEDER_ADDR, TARGET_ADDR};

/// The target's AS.
pub const TARGET_ASN: u32 = 64512;
/// The feeder's AS.
pub const FEEDER_ASN: u32 = 65100;
/// Hold time proposed by both ends.
pub const HOLD_TIME: u16 = 240;

/// bird.conf: `protocol kernel` exporting everything, `protocol bgp` from the feeder.
pub fn bird_config(router_id: Ipv4Addr) -> String {
    format!(
        "# Written by bench/feeder (bgpod convergence benchmark)
router id {router_id};
log stderr all;
ipv4 table master4;
protocol device {{ }}
protocol kernel kernel4 {{
  ipv4 {{ export all; }};
}}
protocol bgp feeder {{
  local {TARGET_ADDR} as {TARGET_ASN};
  neighbor {FEEDER_ADDR} as {FEEDER_ASN};
  passive on;
  hold time {HOLD_TIME};
  ipv4 {{ import all; export none; }};
}}
"
    )
}

/// bgpod.toml: kernel routes on, the feeder as a passive eBGP peer, no pod CIDRs.
pub fn bgpod_config(router_id: Ipv4Addr, control_socket: &Path) -> String {
    format!(
        "# Written by bench/feeder (bgpod convergence benchmark)
router_id = \"{router_id}\"
asn = {TARGET_ASN}
listen = \"{TARGET_ADDR}\"
control_socket = \"{}\"

[fib]
enabled = true

[[peers]]
address = \"{FEEDER_ADDR}\"
asn = {FEEDER_ASN}
passive = true
hold_time = {HOLD_TIME}
",
        control_socket.display()
    )
}

/// Starts BIRD in `ns` with its files under `dir/<tag>.*`.
pub fn start_bird(bird: &Path, ns: &Netns, dir: &Path, tag: &str) -> Result<Proc> {
    let conf = dir.join(format!("{tag}.conf"));
    std::fs::write(&conf, bird_config(TARGET_ADDR))
        .with_context(|| format!("writing {}", conf.display()))?;
    let check = std::process::Command::new(bird)
        .arg("-p")
        .arg("-c")
        .arg(&conf)
        .output()
        .with_context(|| format!("running {} -p", bird.display()))?;
    if !check.status.success() {
        bail!(
            "bird rejects {}: {}",
            conf.display(),
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let path = |ext: &str| -> String { dir.join(format!("{tag}.{ext}")).display().to_string() };
    let args = vec![
        "-f".to_string(),
        "-c".to_string(),
        path("conf"),
        "-s".to_string(),
        path("ctl"),
        "-P".to_string(),
        path("pid"),
    ];
    Proc::spawn(
        ns,
        "bird",
        bird,
        &args,
        &[],
        &dir.join(format!("{tag}.log")),
        Stdout::Log,
    )
}

/// Starts `bgpod run` in `ns` with its files under `dir/<tag>.*`.
pub fn start_bgpod(bgpod: &Path, ns: &Netns, dir: &Path, tag: &str) -> Result<Proc> {
    let conf = dir.join(format!("{tag}.toml"));
    let socket: PathBuf = dir.join(format!("{tag}.sock"));
    std::fs::write(&conf, bgpod_config(TARGET_ADDR, &socket))
        .with_context(|| format!("writing {}", conf.display()))?;
    let check = std::process::Command::new(bgpod)
        .arg("check-config")
        .arg(&conf)
        .output()
        .with_context(|| format!("running {} check-config", bgpod.display()))?;
    if !check.status.success() {
        bail!(
            "bgpod rejects {}: {}{}",
            conf.display(),
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
    let args = vec![
        "run".to_string(),
        "--config".to_string(),
        conf.display().to_string(),
    ];
    Proc::spawn(
        ns,
        "bgpod",
        bgpod,
        &args,
        &[("NO_COLOR", "1")],
        &dir.join(format!("{tag}.log")),
        Stdout::Log,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bird_config_has_kernel_export_and_the_feeder() {
        let c = bird_config(TARGET_ADDR);
        assert!(c.contains("protocol kernel kernel4 {\n  ipv4 { export all; };\n}"));
        assert!(c.contains("neighbor 10.200.0.1 as 65100;"));
        assert!(c.contains("local 10.200.0.2 as 64512;"));
        assert!(c.contains("ipv4 { import all; export none; };"));
    }

    #[test]
    fn bgpod_config_enables_the_fib() {
        let c = bgpod_config(TARGET_ADDR, Path::new("/tmp/x.sock"));
        assert!(c.contains("[fib]\nenabled = true\n"));
        assert!(c.contains("address = \"10.200.0.1\"\nasn = 65100\npassive = true\n"));
        assert!(c.contains("control_socket = \"/tmp/x.sock\""));
    }
}
