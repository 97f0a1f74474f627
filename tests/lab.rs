//! `bgpod lab` itself, as a new user runs it: it must build the namespace cluster, converge,
//! install kernel routes, get a reply to every ping of the pod matrix, exit 0, and leave
//! nothing behind — no namespace, no process, no temp directory.
//!
//! The lab uses fixed names (`bgpod-lab-*`), so the cases run one after the other in a single
//! test: the default (iBGP mesh), `--tor` (bgpod ToR), `--tor bird` (BIRD 2 ToR), and
//! `--keep` followed by `bgpod lab down`. Needs root and BIRD (`sudo scripts/test.sh`).

use std::process::{Command, Output};
use std::time::Instant;

fn lab_namespaces() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("bgpod-lab-"))
        .map(str::to_string)
        .collect()
}

/// Processes whose command line mentions `needle` (the lab's temp directory).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

/// Run `bgpod lab ARGS…`; returns its output and its temp directory (named after its PID).
fn lab(args: &[&str]) -> (Output, String) {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_bgpod"))
        .arg("lab")
        .args(args)
        .args(["--timeout", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting bgpod lab");
    let dir = std::env::temp_dir()
        .join(format!("bgpod-lab-{}", child.id()))
        .to_string_lossy()
        .into_owned();
    let out = child.wait_with_output().expect("running bgpod lab");
    eprintln!(
        "bgpod lab {}: {} in {:.1} s",
        args.join(" "),
        out.status,
        started.elapsed().as_secs_f64()
    );
    (out, dir)
}

/// The run succeeded, pinged every pod from every pod and removed everything it made.
fn assert_full_run(args: &[&str]) -> String {
    let (out, dir) = lab(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bgpod lab {args:?} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // 3 nodes: 6 pods, each pinging the 5 others in both families.
    assert!(
        stdout.contains("60/60 pings OK (IPv4 30/30, IPv6 30/30)"),
        "{stdout}"
    );
    // Matrix rows (`n1p1    ·    ✓ …`) hold no ✗ (only the legend does).
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains('·')).collect();
    assert_eq!(rows.len(), 12, "{stdout}");
    assert!(rows.iter().all(|r| !r.contains('✗')), "{stdout}");
    assert_eq!(
        stdout.matches("IPv4 pings (row: from").count(),
        1,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("IPv6 pings (row: from").count(),
        1,
        "{stdout}"
    );
    for node in ["n1", "n2", "n3"] {
        assert!(
            stdout.contains(&format!("=== {node}: 10.99.0.")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("lab OK: 3 nodes"), "{stdout}");
    for step in ["[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5] removing the lab"] {
        assert!(stderr.contains(step), "no {step} in:\n{stderr}");
    }
    assert_nothing_left(&dir);
    stdout
}

fn assert_nothing_left(dir: &str) {
    assert!(
        lab_namespaces().is_empty(),
        "the lab left namespaces behind: {:?}",
        lab_namespaces()
    );
    assert!(
        !std::path::Path::new(dir).exists(),
        "the lab left {dir} behind"
    );
    let procs = processes_mentioning(dir);
    assert!(procs.is_empty(), "the lab left processes behind: {procs:?}");
}

/// One router's section of the output: from its `=== n1: … ===` heading to the next
/// heading or the ping matrix.
fn section<'a>(stdout: &'a str, router: &str) -> &'a str {
    let start = stdout
        .find(&format!("=== {router}:"))
        .unwrap_or_else(|| panic!("no section for {router}:\n{stdout}"));
    let rest = &stdout[start..];
    let body = rest.find('\n').map_or(rest.len(), |i| i + 1);
    let end = [rest[body..].find("\n==="), rest[body..].find("IPv4 pings")]
        .into_iter()
        .flatten()
        .min()
        .map_or(rest.len(), |i| body + i);
    &rest[..end]
}

#[test]
fn lab_builds_pings_every_pod_and_cleans_up() {
    assert!(
        is_root(),
        "the lab test needs root: run `sudo scripts/test.sh`"
    );
    assert!(
        lab_namespaces().is_empty(),
        "a lab is already up; remove it with `bgpod lab down`"
    );

    // The default: iBGP full mesh, each node also peering the bgpod ToR.
    let mesh = assert_full_run(&[]);
    let n1 = section(&mesh, "n1");
    // Two iBGP sessions and the ToR's.
    assert_eq!(n1.matches("Established").count(), 3, "{n1}");
    // `bgpod status` reports the FIB: four learned routes and two blackholes, nothing held.
    assert!(
        n1.contains(
            "kernel routes: 6 installed in table 254 (proto 179), 0 pending, 0 held back, 0 errors"
        ),
        "{n1}"
    );
    // The other nodes' pod CIDRs, installed in the kernel with the nodes as next hops.
    for (cidr, via) in [
        ("10.244.2.0/24", "10.99.0.2"),
        ("10.244.3.0/24", "10.99.0.3"),
        ("fd00:10:244:2::/64", "fd00:99::2"),
        ("fd00:10:244:3::/64", "fd00:99::3"),
    ] {
        assert!(
            n1.lines()
                .any(|l| l.trim_start().starts_with(cidr) && l.contains(&format!("via {via} "))),
            "n1 has no kernel route {cidr} via {via}:\n{n1}"
        );
    }

    // Every node eBGP to a bgpod ToR, which is the next hop for everything.
    let tor = assert_full_run(&["--tor"]);
    let n2 = section(&tor, "n2");
    assert_eq!(n2.matches("Established").count(), 1, "{n2}");
    for (cidr, via) in [
        ("10.244.1.0/24", "10.99.0.254"),
        ("fd00:10:244:3::/64", "fd00:99::fe"),
    ] {
        assert!(
            n2.lines()
                .any(|l| l.trim_start().starts_with(cidr) && l.contains(&format!("via {via} "))),
            "n2 has no kernel route {cidr} via {via}:\n{n2}"
        );
    }

    // Every node eBGP to BIRD 2, which passes the nodes' own next hops on.
    let bird = assert_full_run(&["--tor", "bird"]);
    let n3 = section(&bird, "n3");
    for (cidr, via) in [
        ("10.244.1.0/24", "10.99.0.1"),
        ("fd00:10:244:2::/64", "fd00:99::2"),
    ] {
        assert!(
            n3.lines()
                .any(|l| l.trim_start().starts_with(cidr) && l.contains(&format!("via {via} "))),
            "n3 has no kernel route {cidr} via {via} (third-party next hop):\n{n3}"
        );
    }
    assert!(bird.contains("(BIRD 2."), "{bird}");

    // `--keep` leaves the lab up; `bgpod lab down` removes all of it.
    let (out, dir) = lab(&["--nodes", "2", "--keep"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bgpod lab --keep failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("sudo bgpod lab down"), "{stdout}");
    assert!(stdout.contains("ip netns exec bgpod-lab-n1-p1"), "{stdout}");
    assert_eq!(lab_namespaces().len(), 2 + 2 * 3, "{:?}", lab_namespaces());
    assert_eq!(
        processes_mentioning(&dir).len(),
        3,
        "two nodes and the ToR run"
    );
    let down = Command::new(env!("CARGO_BIN_EXE_bgpod"))
        .args(["lab", "down"])
        .output()
        .expect("running bgpod lab down");
    assert!(
        down.status.success(),
        "bgpod lab down failed:\n{}\n{}",
        String::from_utf8_lossy(&down.stdout),
        String::from_utf8_lossy(&down.stderr)
    );
    assert_nothing_left(&dir);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
