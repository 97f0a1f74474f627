//! `bgpod lab`: a small cluster of bgpod nodes in network namespaces on this machine, built,
//! checked end to end with pings between pods, and removed again.
//!
//! # What it builds (see `topology.rs` for the picture)
//!
//! A "fabric" namespace holds a bridge; N node namespaces (default 3) and a ToR namespace
//! hang off it on one subnet, 10.99.0.0/24 and fd00:99::/64. Each node has a bridge `pods0`
//! with the first address of its pod CIDRs (10.244.N.0/24, fd00:10:244:N::/64) and two pod
//! namespaces behind it with the default route via that bridge. Each node runs the real
//! `bgpod run` with `[fib] enabled = true`, so its learned routes become kernel routes and
//! pod traffic can cross the fabric.
//!
//! * `--mesh` (the default): the nodes form an iBGP full mesh in AS 64512 and each also has an
//!   eBGP session to the ToR (AS 65000, a second bgpod), the way a cluster peers with its
//!   upstream. The ToR learns every pod CIDR; it has nothing to give back (every route it
//!   could return carries AS 64512), so pod traffic goes node to node.
//! * `--tor` / `--tor bird`: every node is in its own AS (65000 + N) with a single eBGP
//!   session, to the ToR. A bgpod ToR re-advertises with itself as next hop (it has
//!   `export_learned`, a FIB and forwarding on, and sends no ICMP redirects), so pod traffic
//!   hairpins through it. A BIRD ToR passes each node's address on as a third-party next hop,
//!   so pod traffic goes node to node and BIRD forwards nothing.
//!
//! # What it checks
//!
//! Every bgpod has all sessions Established, every pod CIDR in its Loc-RIB and the learned
//! ones in its kernel table (tagged with the `[fib] protocol` the lab wrote). Then pods ping
//! pods in both families (`matrix.rs`). The exit code is 0 only if every ping got a reply.
//!
//! # Cleanup
//!
//! Everything made is recorded in a [`netns::Topology`] whose drop removes it — processes by
//! PID, namespaces by name, the temp directory — on success, on error and after Ctrl-C
//! (SIGINT/SIGTERM only set a flag that every wait checks). `--keep` leaves the lab up and
//! records it for `bgpod lab down` (`down.rs`).

mod config;
mod converge;
mod down;
mod matrix;
mod netns;
mod progress;
mod report;
mod topology;
mod tor;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use converge::{KernelTable, Pending, Router};
use netns::Topology;
use progress::Progress;
use report::Heading;
pub use topology::{Mode, TorRouter};
use topology::{Node, Plan, MAX_NODES, TOR_ASN, TOR_NS, TOR_V4};
use tor::{BirdBinaries, Tor};

pub use down::down;

/// Every name the lab creates starts with this, so `bgpod lab down` can find it.
const PREFIX: &str = "bgpod-lab";
/// Exit code after Ctrl-C (128 + SIGINT), as shells report it.
const EXIT_INTERRUPTED: u8 = 130;
/// Lines of a log shown when a router did not converge.
const LOG_TAIL: usize = 10;
/// Routers whose logs are shown when the lab fails.
const MAX_LOGS_SHOWN: usize = 3;

/// The `bgpod lab` flags.
pub struct LabArgs {
    pub nodes: usize,
    pub mode: Mode,
    /// What runs on the ToR (in mesh mode always bgpod).
    pub tor: TorRouter,
    pub keep: bool,
    pub verbose: bool,
    pub timeout: Duration,
}

/// `bgpod lab`.
pub fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    if !(2..=MAX_NODES).contains(&args.nodes) {
        bail!("--nodes must be between 2 and {MAX_NODES}");
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("the lab creates network namespaces: run it as root (sudo)");
    }
    for (program, package) in [("ip", "iproute2"), ("ping", "iputils-ping")] {
        if tor::find_binary(program).is_none() {
            bail!("the lab needs `{program}`: install {package}");
        }
    }
    let existing = down::lab_namespaces();
    if !existing.is_empty() {
        bail!(
            "a lab is already up ({} namespaces {PREFIX}-*): remove it with `bgpod lab down`",
            existing.len()
        );
    }
    let mut plan = Plan {
        nodes: args.nodes,
        mode: args.mode,
        tor: match args.mode {
            Mode::Mesh => TorRouter::Bgpod,
            Mode::Tor => args.tor,
        },
        static_fabric: false,
    };
    let neighbours = topology::fabric_neighbours(&plan);
    let limit = topology::host_neighbour_limit();
    plan.static_fabric = neighbours > limit / 2;
    let bird = match plan.tor {
        TorRouter::Bird => Some(tor::find_bird()?),
        TorRouter::Bgpod => None,
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, interrupted.clone())
            .context("installing the Ctrl-C handler")?;
    }
    let exe = std::env::current_exe().context("finding the bgpod binary")?;
    let dir = std::env::temp_dir().join(format!("{PREFIX}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let mut lab = Lab {
        plan,
        verbose: args.verbose,
        timeout: args.timeout,
        dir,
        exe: exe.to_string_lossy().into_owned(),
        bird,
        interrupted,
        topo: Topology::new(),
        started: Instant::now(),
        tor: None,
        table: None,
    };
    lab.topo.add_dir(lab.dir.clone());
    println!("bgpod lab: {}", lab.describe());
    if plan.static_fabric {
        println!(
            "note: this lab needs about {neighbours} ARP and as many IPv6 neighbour entries, more \
             than half of what Linux allows the whole host (gc_thresh3 = {limit}, shared by \
             every namespace): the fabric uses static neighbour entries instead of ARP and \
             neighbour discovery"
        );
    }
    let mut progress = Progress::new(if args.keep { 4 } else { 5 });
    let result = lab.build_and_check(&mut progress);

    let interrupted = lab.interrupted.load(Ordering::Relaxed);
    // Keep a lab that got as far as running its daemons (a failing one is worth a look).
    let keep = args.keep && !interrupted && lab.tor.is_some();
    let verdict = match result {
        Ok(None) => None,
        Ok(Some(failure)) => Some(failure),
        Err(e) => Some(Failure {
            why: format!("{e:#}"),
            // The processes that died, by their directory (`bgpod n2` → `n2`).
            suspects: lab
                .topo
                .exited()
                .into_iter()
                .filter_map(|(label, _)| label.split_whitespace().last().map(str::to_string))
                .collect(),
        }),
    };
    if let Some(failure) = verdict.as_ref().filter(|_| !interrupted) {
        println!("\nlab FAILED: {}", failure.why);
        lab.print_log_tails(&failure.suspects);
    }
    if keep {
        lab.keep()?;
    } else {
        let step = progress.last_step("removing the lab");
        lab.topo.teardown(Duration::from_secs(3));
        step.done();
    }
    if interrupted {
        eprintln!("interrupted: everything the lab made is removed");
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if verdict.is_some() {
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "lab OK: {}, {:.1} s in all",
        lab.describe(),
        lab.started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Why a lab run failed, and whose logs are worth a look (`n2`, `tor`).
struct Failure {
    why: String,
    suspects: Vec<String>,
}

/// One lab run.
struct Lab {
    plan: Plan,
    verbose: bool,
    timeout: Duration,
    dir: PathBuf,
    exe: String,
    bird: Option<BirdBinaries>,
    interrupted: Arc<AtomicBool>,
    topo: Topology,
    started: Instant,
    /// Set once the ToR runs (and so the daemons are being started).
    tor: Option<Tor>,
    /// Where the nodes install their routes, from the configs written.
    table: Option<KernelTable>,
}

impl Lab {
    /// `3 nodes, iBGP full mesh + bgpod ToR`.
    fn describe(&self) -> String {
        let n = self.plan.nodes;
        match (self.plan.mode, self.plan.tor) {
            (Mode::Mesh, _) => format!("{n} nodes, iBGP full mesh (AS 64512) + bgpod ToR"),
            (Mode::Tor, t) => format!(
                "{n} nodes, each eBGP to a {} ToR (AS {TOR_ASN})",
                tor::tor_name(t)
            ),
        }
    }

    fn check_interrupt(&self) -> anyhow::Result<()> {
        if self.interrupted.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        Ok(())
    }

    /// Build, start, wait, ping. `Ok(None)`: every ping replied; `Ok(Some(failure))`: the lab
    /// ran but failed its checks.
    fn build_and_check(&mut self, progress: &mut Progress) -> anyhow::Result<Option<Failure>> {
        let n = self.plan.nodes;
        let step = progress.step(format!(
            "creating {} namespaces: fabric, ToR, {n} nodes, {} pods",
            self.plan.namespaces().len(),
            self.plan.pods().len()
        ));
        topology::build(&self.plan, &mut self.topo)?;
        step.done();
        self.check_interrupt()?;

        let step = progress.step(format!(
            "starting the ToR ({}) and bgpod on {n} nodes",
            tor::tor_name(self.plan.tor)
        ));
        self.start_daemons()?;
        step.done();
        self.check_interrupt()?;

        let mut step = progress.step("waiting for BGP and kernel routes");
        let routers = self.routers();
        let table = self.table.context("no kernel table recorded")?;
        let deadline = Instant::now() + self.timeout;
        // Routers seen converged are not asked again until all are; then one more pass over
        // every router confirms it (a session may have dropped meanwhile).
        let mut ready = vec![false; routers.len()];
        let poll = if routers.len() > 12 {
            Duration::from_millis(200)
        } else {
            Duration::from_millis(50)
        };
        let pending = loop {
            self.check_interrupt()?;
            if let Some((label, status)) = self.topo.exited().into_iter().next() {
                bail!("{label} exited early ({status})");
            }
            let confirming = ready.iter().all(|r| *r);
            let mut pending: Vec<(&Heading, Pending)> = Vec::new();
            for (h, r) in routers.iter().zip(ready.iter_mut()) {
                if *r && !confirming {
                    continue;
                }
                match converge::check(&h.router, table) {
                    Ok(()) => *r = true,
                    Err(p) => {
                        *r = false;
                        pending.push((h, p));
                    }
                }
            }
            let Some((first, why)) = pending.first() else {
                if confirming {
                    break None;
                }
                continue;
            };
            if Instant::now() >= deadline {
                break Some(self.not_converged(&pending, table));
            }
            step.update(&format!(
                "{}/{} ready ({}: {})",
                ready.iter().filter(|r| **r).count(),
                routers.len(),
                first.router.label,
                why.short()
            ));
            std::thread::sleep(poll);
        };
        if let Some(failure) = pending {
            drop(step);
            self.print_routers(&routers, table);
            return Ok(Some(failure));
        }
        step.done_with(&format!("{} routers ready", routers.len()));
        self.print_routers(&routers, table);
        self.check_interrupt()?;

        let nodes: Vec<Node> = self.plan.nodes().collect();
        let scope = matrix::Scope::for_lab(n, self.verbose);
        let probes = matrix::plan(&nodes, scope);
        let step = progress.step(format!(
            "pinging: {} pings between {} pods{}",
            probes.len(),
            self.plan.pods().len(),
            match scope {
                matrix::Scope::Full => "",
                matrix::Scope::Sampled => " (sampled: one pod pair per node pair and family)",
            }
        ));
        let replies = matrix::run(&probes, &self.interrupted)?;
        self.check_interrupt()?;
        let summary = matrix::summary(&probes, &replies);
        let all_ok = replies.iter().all(|r| *r);
        if all_ok {
            step.done_with(&summary);
        } else {
            drop(step);
        }
        println!();
        print!("{}", matrix::render(&nodes, &probes, &replies, scope));
        println!("\n{summary}");
        for line in matrix::failures(&probes, &replies) {
            println!("  {line}");
        }
        Ok((!all_ok).then_some(Failure {
            why: summary,
            suspects: Vec::new(),
        }))
    }

    /// Start the ToR (and wait for it), then write, check and start every node's config.
    fn start_daemons(&mut self) -> anyhow::Result<()> {
        let tor = tor::start(
            &self.plan,
            &self.dir.join("tor"),
            &self.exe,
            self.bird.as_ref(),
            &mut self.topo,
        )?;
        self.tor = Some(tor);
        for node in self.plan.nodes() {
            let node_dir = self.dir.join(node.name());
            std::fs::create_dir_all(&node_dir)
                .with_context(|| format!("creating {}", node_dir.display()))?;
            let conf = node_dir.join("bgpod.toml");
            let text = config::node(&self.plan, node, &node_dir.join("bgpod.sock"));
            let parsed = tor::write_checked(&conf, &text)?;
            self.table = Some(KernelTable {
                table: parsed.fib.table,
                protocol: parsed.fib.protocol,
            });
            let conf = conf.to_string_lossy().into_owned();
            self.topo.spawn(
                &node.ns(),
                &format!("bgpod {}", node.name()),
                &[&self.exe, "run", "--config", &conf],
                &node_dir.join("bgpod.log"),
            )?;
        }
        Ok(())
    }

    /// Every bgpod the lab waits for, with what it must hold.
    fn routers(&self) -> Vec<Heading> {
        let all: Vec<String> = self.plan.nodes().flat_map(|n| n.pod_cidrs()).collect();
        let mut out: Vec<Heading> = self
            .plan
            .nodes()
            .map(|node| {
                let own = node.pod_cidrs();
                Heading {
                    title: format!(
                        "{}: {}, AS {}",
                        node.name(),
                        node.v4(),
                        node.asn(self.plan.mode)
                    ),
                    router: Router {
                        label: node.name(),
                        ns: node.ns(),
                        socket: self.dir.join(node.name()).join("bgpod.sock"),
                        rib: all.clone(),
                        kernel: all.iter().filter(|c| !own.contains(c)).cloned().collect(),
                    },
                }
            })
            .collect();
        if let Some(Tor::Bgpod { socket }) = &self.tor {
            out.push(Heading {
                title: format!("tor: {TOR_V4}, AS {TOR_ASN} (bgpod)"),
                router: Router {
                    label: "tor".into(),
                    ns: TOR_NS.into(),
                    socket: socket.clone(),
                    rib: all.clone(),
                    kernel: all,
                },
            });
        }
        out
    }

    fn print_routers(&self, routers: &[Heading], table: KernelTable) {
        let Some(tor) = &self.tor else { return };
        if self.verbose || self.plan.nodes <= report::DETAIL_MAX_NODES {
            report::detailed(routers, tor, table, self.verbose);
        } else {
            report::summary(routers, tor, table);
        }
    }

    /// Why the lab did not converge, with a hint when the kernel is the part missing.
    fn not_converged(&self, pending: &[(&Heading, Pending)], table: KernelTable) -> Failure {
        let mut why = format!(
            "not converged after {} s: {}",
            self.timeout.as_secs(),
            pending
                .iter()
                .take(3)
                .map(|(h, p)| format!("{}: {p}", h.router.label))
                .collect::<Vec<_>>()
                .join("; ")
        );
        if pending.len() > 3 {
            why += &format!("; and {} more routers", pending.len() - 3);
        }
        let only_kernel = pending.iter().all(|(_, p)| matches!(p, Pending::Kernel(_)));
        let none_installed = pending
            .iter()
            .all(|(h, _)| converge::kernel_routes(&h.router.ns, table).is_empty());
        let mut suspects: Vec<String> = pending
            .iter()
            .map(|(h, _)| h.router.label.clone())
            .collect();
        if only_kernel && none_installed {
            suspects.clear();
            why += &format!(
                "\nEvery route is in bgpod's Loc-RIB, but no router has a single kernel route \
                 tagged proto {} in table {}: this bgpod build does not seem to install kernel \
                 routes ([fib] enabled = true keeps them in memory only).",
                table.protocol, table.table
            );
        }
        Failure { why, suspects }
    }

    /// The last lines of the logs of a few `suspects` (`n2`, `tor`).
    fn print_log_tails(&self, suspects: &[String]) {
        for sub in suspects.iter().take(MAX_LOGS_SHOWN) {
            let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else {
                continue;
            };
            for log in entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
            {
                print_tail(&log);
            }
        }
    }

    /// Leave the lab up, record it for `bgpod lab down` and say how to look around.
    fn keep(&mut self) -> anyhow::Result<()> {
        self.topo.keep();
        down::State {
            dir: self.dir.clone(),
            namespaces: self.plan.namespaces(),
            processes: self.topo.pids(),
        }
        .save()?;
        let n1 = Node(1);
        let n2 = Node(2);
        let pod = n1.pods().next().context("a node without pods")?;
        let far = n2.pods().last().context("a node without pods")?;
        let sock = self.dir.join("n1").join("bgpod.sock");
        println!(
            "\nThe lab stays up ({:.1} s).",
            self.started.elapsed().as_secs_f64()
        );
        println!("  a node:  sudo ip netns exec {} bash", n1.ns());
        println!("           sudo bgpod status --socket {}", sock.display());
        println!("           sudo bgpod routes --socket {}", sock.display());
        println!(
            "           sudo ip -n {} route show proto {}",
            n1.ns(),
            self.table.map_or(179, |t| t.protocol)
        );
        println!(
            "  a pod:   sudo ip netns exec {} ping {}",
            pod.ns(),
            far.v4()
        );
        match &self.tor {
            Some(Tor::Bird { socket, .. }) => {
                println!("  the ToR: sudo birdc -s {} show route", socket.display())
            }
            Some(Tor::Bgpod { socket }) => {
                println!("  the ToR: sudo bgpod status --socket {}", socket.display())
            }
            None => {}
        }
        println!("  configs and logs: {}", self.dir.display());
        println!("Tear it down with: sudo bgpod lab down");
        Ok(())
    }
}

fn print_tail(log: &Path) {
    let Ok(text) = std::fs::read_to_string(log) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    println!("--- {} (last lines) ---", log.display());
    for line in &lines[lines.len().saturating_sub(LOG_TAIL)..] {
        println!("{line}");
    }
}
