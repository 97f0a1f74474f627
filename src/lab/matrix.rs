//! The ping matrix: pods pinging pods, IPv4 and IPv6, with the system `ping`.
//!
//! Up to [`FULL_MATRIX_MAX_NODES`] nodes (or with `--verbose`) every pod pings every other
//! pod in both families: 3 nodes are 6 pods and 60 pings. Beyond that the full matrix grows
//! as the square of the pods (50 nodes: 19,800 pings), so the lab samples instead: for every
//! ordered pair of nodes one IPv4 and one IPv6 ping, between pods chosen so that every pod
//! sends and receives, plus both pods of each node pinging each other (the path over the
//! node's own bridge). That still proves every node reaches every other node's pod CIDRs in
//! both families: 50 nodes are 5,100 pings, shown as one node-by-node matrix.
//!
//! Pings run in parallel: one `ip netns exec POD sh` per source pod starts that pod's pings
//! at once, and a few such pods are worked on at a time. Each ping is
//! `ping -c 1 -w 2 -i 0.2`: it returns at the first reply and otherwise retries every 200 ms
//! for two seconds, so a first packet lost to ARP or neighbour discovery is no failure.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;

use super::topology::{Node, Pod, PODS_PER_NODE};

/// Above this many nodes the matrix is sampled unless `--verbose`.
pub const FULL_MATRIX_MAX_NODES: usize = 10;
/// Source pods pinging at the same time (each with all its pings in flight).
const WORKERS: usize = 4;
/// At most this many failed pings are listed one by one.
const LIST_FAILURES: usize = 20;

/// What runs in a source pod: every target address (the arguments) pinged in parallel, one
/// `ok ADDR` or `fail ADDR` line each.
const SCRIPT: &str = r#"for a in "$@"; do
  (if ping -n -q -c 1 -w 2 -i 0.2 "$a" >/dev/null 2>&1; then echo "ok $a"; else echo "fail $a"; fi) &
done
wait"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    fn addr(self, pod: Pod) -> String {
        match self {
            Family::V4 => pod.v4(),
            Family::V6 => pod.v6(),
        }
    }
}

/// One ping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub from: Pod,
    pub to: Pod,
    pub family: Family,
}

impl Probe {
    fn describe(&self) -> String {
        format!(
            "{} {} → {} ({})",
            self.family.name(),
            self.from.label(),
            self.to.label(),
            self.family.addr(self.to)
        )
    }
}

/// Every pod to every pod, or one pod pair per pair of nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Full,
    Sampled,
}

impl Scope {
    pub fn for_lab(nodes: usize, verbose: bool) -> Scope {
        if verbose || nodes <= FULL_MATRIX_MAX_NODES {
            Scope::Full
        } else {
            Scope::Sampled
        }
    }
}

/// The pings to send among the pods of `nodes`.
pub fn plan(nodes: &[Node], scope: Scope) -> Vec<Probe> {
    let families = [Family::V4, Family::V6];
    let mut probes = Vec::new();
    match scope {
        Scope::Full => {
            let pods: Vec<Pod> = nodes.iter().flat_map(|n| n.pods()).collect();
            for &from in &pods {
                for &to in pods.iter().filter(|p| **p != from) {
                    probes.extend(families.map(|family| Probe { from, to, family }));
                }
            }
        }
        Scope::Sampled => {
            for &a in nodes {
                for &b in nodes {
                    if a == b {
                        // The node's own bridge: every pod to every other pod behind it.
                        for from in a.pods() {
                            for to in a.pods().filter(|p| *p != from) {
                                probes.extend(families.map(|family| Probe { from, to, family }));
                            }
                        }
                        continue;
                    }
                    // Rotate the pods with the node numbers (and the family) so every pod
                    // sends to and receives from about as many nodes as the others.
                    for (shift, family) in families.into_iter().enumerate() {
                        let from = Pod {
                            node: a,
                            k: 1 + (b.0 + shift) % PODS_PER_NODE,
                        };
                        let to = Pod {
                            node: b,
                            k: 1 + (a.0 + shift) % PODS_PER_NODE,
                        };
                        probes.push(Probe { from, to, family });
                    }
                }
            }
        }
    }
    probes
}

/// Send every probe; `true` where a reply came back. Stops early (the rest counted as
/// failed) once `interrupted` is set.
pub fn run(probes: &[Probe], interrupted: &AtomicBool) -> anyhow::Result<Vec<bool>> {
    // Group by source pod, keeping the probe indices.
    let mut groups: Vec<(Pod, Vec<usize>)> = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        match groups.iter_mut().find(|(from, _)| *from == p.from) {
            Some((_, idx)) => idx.push(i),
            None => groups.push((p.from, vec![i])),
        }
    }
    let ok = Mutex::new(vec![false; probes.len()]);
    let next = AtomicUsize::new(0);
    let error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(groups.len()) {
            s.spawn(|| loop {
                if interrupted.load(Ordering::Relaxed) {
                    return;
                }
                let Some((from, idx)) = groups.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return;
                };
                match ping_from(*from, idx.iter().map(|&i| &probes[i])) {
                    Ok(replies) => {
                        if let Ok(mut ok) = ok.lock() {
                            for (&i, r) in idx.iter().zip(replies) {
                                ok[i] = r;
                            }
                        }
                    }
                    Err(e) => {
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = error.into_inner().ok().flatten() {
        return Err(e);
    }
    ok.into_inner()
        .map_err(|_| anyhow::anyhow!("a ping worker thread panicked"))
}

/// Run the pings of one source pod; one bool per probe, in order.
fn ping_from<'a>(from: Pod, probes: impl Iterator<Item = &'a Probe>) -> anyhow::Result<Vec<bool>> {
    let targets: Vec<String> = probes.map(|p| p.family.addr(p.to)).collect();
    let ns = from.ns();
    let out = Command::new("ip")
        .args(["netns", "exec", &ns, "sh", "-c", SCRIPT, "sh"])
        .args(&targets)
        .output()
        .with_context(|| format!("running ping in {ns}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let replies = parse_replies(&stdout);
    Ok(targets
        .iter()
        .map(|t| replies.get(t.as_str()).copied().unwrap_or(false))
        .collect())
}

/// `ok ADDR` / `fail ADDR` lines → address → replied.
fn parse_replies(text: &str) -> HashMap<&str, bool> {
    text.lines()
        .filter_map(|l| match l.split_once(' ') {
            Some(("ok", a)) => Some((a, true)),
            Some(("fail", a)) => Some((a, false)),
            _ => None,
        })
        .collect()
}

/// `60/60 pings OK (IPv4 30/30, IPv6 30/30)`.
pub fn summary(probes: &[Probe], ok: &[bool]) -> String {
    let count = |f: Option<Family>| {
        let mut total = 0;
        let mut good = 0;
        for (p, r) in probes.iter().zip(ok) {
            if f.is_none() || f == Some(p.family) {
                total += 1;
                good += usize::from(*r);
            }
        }
        (good, total)
    };
    let (good, total) = count(None);
    let (g4, t4) = count(Some(Family::V4));
    let (g6, t6) = count(Some(Family::V6));
    let verdict = if good == total { "OK" } else { "replied" };
    format!("{good}/{total} pings {verdict} (IPv4 {g4}/{t4}, IPv6 {g6}/{t6})")
}

/// The failed pings, one line each, at most [`LIST_FAILURES`] and a count of the rest.
pub fn failures(probes: &[Probe], ok: &[bool]) -> Vec<String> {
    let failed: Vec<&Probe> = probes
        .iter()
        .zip(ok)
        .filter(|(_, r)| !**r)
        .map(|(p, _)| p)
        .collect();
    let mut lines: Vec<String> = failed
        .iter()
        .take(LIST_FAILURES)
        .map(|p| format!("no reply: {}", p.describe()))
        .collect();
    if failed.len() > LIST_FAILURES {
        lines.push(format!("… and {} more", failed.len() - LIST_FAILURES));
    }
    lines
}

/// The matrix as text: per family, pods by pods ([`Scope::Full`]); or one node-by-node
/// matrix for both families ([`Scope::Sampled`]).
pub fn render(nodes: &[Node], probes: &[Probe], ok: &[bool], scope: Scope) -> String {
    match scope {
        Scope::Full => [Family::V4, Family::V6]
            .iter()
            .map(|&f| render_pods(nodes, probes, ok, f))
            .collect::<Vec<_>>()
            .join("\n"),
        Scope::Sampled => render_nodes(nodes, probes, ok),
    }
}

fn render_pods(nodes: &[Node], probes: &[Probe], ok: &[bool], family: Family) -> String {
    let pods: Vec<Pod> = nodes.iter().flat_map(|n| n.pods()).collect();
    let mut cell: HashMap<(String, String), bool> = HashMap::new();
    for (p, r) in probes.iter().zip(ok).filter(|(p, _)| p.family == family) {
        cell.insert((p.from.label(), p.to.label()), *r);
    }
    let width = pods.iter().map(|p| p.label().len()).max().unwrap_or(4);
    let mut out = format!(
        "{} pings (row: from, column: to; ✓ reply, ✗ no reply)\n",
        family.name()
    );
    let _ = write!(out, "{:width$}", "");
    for to in &pods {
        let _ = write!(out, " {:>width$}", to.label());
    }
    out.push('\n');
    for from in &pods {
        let _ = write!(out, "{:<width$}", from.label());
        for to in &pods {
            let mark = if from == to {
                "·"
            } else {
                match cell.get(&(from.label(), to.label())) {
                    Some(true) => "✓",
                    Some(false) => "✗",
                    None => " ",
                }
            };
            let _ = write!(out, " {mark:>width$}");
        }
        out.push('\n');
    }
    out
}

fn render_nodes(nodes: &[Node], probes: &[Probe], ok: &[bool]) -> String {
    // (from node, to node) → (IPv4 all replied, IPv6 all replied).
    let mut cell: HashMap<(usize, usize), (bool, bool)> = HashMap::new();
    for (p, r) in probes.iter().zip(ok) {
        let e = cell
            .entry((p.from.node.0, p.to.node.0))
            .or_insert((true, true));
        match p.family {
            Family::V4 => e.0 &= *r,
            Family::V6 => e.1 &= *r,
        }
    }
    let width = nodes.iter().map(|n| n.name().len()).max().unwrap_or(2);
    let mut out = String::from(
        "node-to-node pings, one pod pair per direction and family \
         (row: from, column: to; ✓ IPv4 and IPv6 replied, 4 IPv4 failed, 6 IPv6 failed, \
         ✗ both failed)\n",
    );
    // Column numbers over two lines: tens, then units.
    let _ = write!(out, "{:width$} ", "");
    for n in nodes {
        out.push(if n.0 % 10 == 0 {
            char::from_digit(u32::try_from(n.0 / 10 % 10).unwrap_or(0), 10).unwrap_or(' ')
        } else {
            ' '
        });
    }
    out.push('\n');
    let _ = write!(out, "{:width$} ", "");
    for n in nodes {
        out.push(char::from_digit(u32::try_from(n.0 % 10).unwrap_or(0), 10).unwrap_or(' '));
    }
    out.push('\n');
    for a in nodes {
        let _ = write!(out, "{:<width$} ", a.name());
        for b in nodes {
            out.push(match cell.get(&(a.0, b.0)) {
                Some((true, true)) => '✓',
                Some((false, true)) => '4',
                Some((true, false)) => '6',
                Some((false, false)) => '✗',
                None => ' ',
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<Node> {
        (1..=n).map(Node).collect()
    }

    #[test]
    fn full_plan_is_every_pod_to_every_other_pod_in_both_families() {
        let probes = plan(&nodes(3), Scope::Full);
        assert_eq!(probes.len(), 6 * 5 * 2);
        assert!(probes.iter().all(|p| p.from != p.to));
        let p50 = plan(&nodes(50), Scope::Full);
        assert_eq!(p50.len(), 100 * 99 * 2);
    }

    #[test]
    fn sampled_plan_covers_every_node_pair_and_every_pod() {
        let ns = nodes(50);
        let probes = plan(&ns, Scope::Sampled);
        assert_eq!(probes.len(), 50 * 49 * 2 + 50 * 2 * 2);
        for a in &ns {
            for b in &ns {
                for f in [Family::V4, Family::V6] {
                    assert!(
                        probes
                            .iter()
                            .any(|p| p.from.node == *a && p.to.node == *b && p.family == f),
                        "{a:?} → {b:?} {f:?}"
                    );
                }
            }
        }
        // Every pod sends and receives, in both families.
        for pod in ns.iter().flat_map(|n| n.pods()) {
            for f in [Family::V4, Family::V6] {
                assert!(probes.iter().any(|p| p.from == pod && p.family == f));
                assert!(probes.iter().any(|p| p.to == pod && p.family == f));
            }
        }
        // No source pings one address twice (replies are matched by address).
        for pod in ns.iter().flat_map(|n| n.pods()) {
            let mut targets: Vec<String> = probes
                .iter()
                .filter(|p| p.from == pod)
                .map(|p| p.family.addr(p.to))
                .collect();
            let n = targets.len();
            targets.sort();
            targets.dedup();
            assert_eq!(targets.len(), n);
        }
    }

    #[test]
    fn scope_depends_on_size_and_verbose() {
        assert_eq!(Scope::for_lab(3, false), Scope::Full);
        assert_eq!(Scope::for_lab(10, false), Scope::Full);
        assert_eq!(Scope::for_lab(11, false), Scope::Sampled);
        assert_eq!(Scope::for_lab(50, true), Scope::Full);
    }

    #[test]
    fn parses_the_script_output() {
        let r = parse_replies("ok 10.244.2.11\nfail fd00:10:244:2::11\ngarbage\n");
        assert_eq!(r.get("10.244.2.11"), Some(&true));
        assert_eq!(r.get("fd00:10:244:2::11"), Some(&false));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn renders_a_pod_matrix() {
        let ns = nodes(2);
        let probes = plan(&ns, Scope::Full);
        let ok: Vec<bool> = probes
            .iter()
            .map(|p| {
                !(p.family == Family::V6 && p.from.label() == "n1p1" && p.to.label() == "n2p2")
            })
            .collect();
        let text = render(&ns, &probes, &ok, Scope::Full);
        let expected = "\
IPv4 pings (row: from, column: to; ✓ reply, ✗ no reply)
     n1p1 n1p2 n2p1 n2p2
n1p1    ·    ✓    ✓    ✓
n1p2    ✓    ·    ✓    ✓
n2p1    ✓    ✓    ·    ✓
n2p2    ✓    ✓    ✓    ·

IPv6 pings (row: from, column: to; ✓ reply, ✗ no reply)
     n1p1 n1p2 n2p1 n2p2
n1p1    ·    ✓    ✓    ✗
n1p2    ✓    ·    ✓    ✓
n2p1    ✓    ✓    ·    ✓
n2p2    ✓    ✓    ✓    ·
";
        assert_eq!(text, expected);
        assert_eq!(
            summary(&probes, &ok),
            "23/24 pings replied (IPv4 12/12, IPv6 11/12)"
        );
        assert_eq!(
            failures(&probes, &ok),
            ["no reply: IPv6 n1p1 → n2p2 (fd00:10:244:2::12)"]
        );
    }

    #[test]
    fn renders_a_node_matrix() {
        let ns = nodes(12);
        let probes = plan(&ns, Scope::Sampled);
        let ok: Vec<bool> = probes
            .iter()
            .map(|p| !(p.from.node.0 == 2 && p.to.node.0 == 11 && p.family == Family::V4))
            .collect();
        let text = render(&ns, &probes, &ok, Scope::Sampled);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "             1  ");
        assert_eq!(lines[2], "    123456789012");
        assert_eq!(lines[3], "n1  ✓✓✓✓✓✓✓✓✓✓✓✓");
        assert_eq!(lines[4], "n2  ✓✓✓✓✓✓✓✓✓✓4✓");
        assert_eq!(lines.len(), 3 + 12);
        assert!(summary(&probes, &ok).starts_with("311/312 pings replied"));
    }

    #[test]
    fn all_ok_summary_and_long_failure_lists() {
        let ns = nodes(3);
        let probes = plan(&ns, Scope::Full);
        assert_eq!(
            summary(&probes, &vec![true; probes.len()]),
            "60/60 pings OK (IPv4 30/30, IPv6 30/30)"
        );
        let f = failures(&probes, &vec![false; probes.len()]);
        assert_eq!(f.len(), LIST_FAILURES + 1);
        assert_eq!(f[LIST_FAILURES], "… and 40 more");
    }
}
