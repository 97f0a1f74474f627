//! `bgpod lab` itself, as a new user runs it: it must build the namespace cluster, converge,
//! print every node's sessions and routes, exit 0, and leave nothing behind.
//! Needs root (`sudo scripts/test.sh`).

use std::process::Command;

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

#[test]
fn lab_with_three_nodes_converges_and_cleans_up() {
    assert!(
        nix_is_root(),
        "the lab test needs root: run `sudo scripts/test.sh`"
    );
    assert!(
        lab_namespaces().is_empty(),
        "a lab is already up; remove it with `bgpod lab down`"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_bgpod"))
        .args(["lab", "--nodes", "3", "--timeout", "60"])
        .output()
        .expect("running bgpod lab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bgpod lab failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Each node shows two Established sessions and all six pod CIDRs.
    for node in ["n1", "n2", "n3"] {
        assert!(stdout.contains(&format!("=== node {node}")), "{stdout}");
    }
    assert_eq!(stdout.matches("Established").count(), 6, "{stdout}");
    for i in 1..=3 {
        let v4 = format!("10.244.{i}.0/24");
        let v6 = format!("fd00:10:244:{i}::/64");
        assert_eq!(
            stdout.matches(&v4).count(),
            3,
            "{v4} on every node:\n{stdout}"
        );
        assert_eq!(
            stdout.matches(&v6).count(),
            3,
            "{v6} on every node:\n{stdout}"
        );
    }
    assert!(stdout.contains("lab OK: 3 nodes converged"), "{stdout}");
    assert!(
        lab_namespaces().is_empty(),
        "the lab left namespaces behind: {:?}",
        lab_namespaces()
    );
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
