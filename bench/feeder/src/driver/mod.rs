//! The driver: runs every (N, target) pair in fresh namespaces and prints the table.
//!
//! One run, for a BGP target (BIRD or bgpod):
//! 1. two namespaces and a veth pair ([`lab::Topology`]); the daemon starts in the target
//!    namespace, the feeder (this same binary, `feed`) in the other and connects to it;
//! 2. once the feeder reports the session Established (and its UPDATEs encoded), the daemon
//!    is left to settle, and the main table's prefix count is read: the baseline;
//! 3. `announce`: the clock starts when the command is sent and stops at the first read of
//!    `fib_triestat` that shows baseline + N ([`kernel::Poller`]);
//! 4. the daemon settles again (its CPU goes idle), then `withdraw`: the clock stops at the
//!    first read that shows the baseline again;
//! 5. after a last settle, the daemon's VmHWM is its peak RSS; the feeder sends a Cease and
//!    exits, the daemon gets SIGTERM, the namespaces are deleted.
//!
//! The raw kernel run is the same with the netlink writer (`raw`) in the target namespace in
//! place of daemon and feeder, and `add` / `del` in place of `announce` / `withdraw`.
//! A phase gives up when the count has not moved for `--stall-secs`, or after its deadline.

pub mod kernel;
pub mod lab;
pub mod table;
pub mod targets;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::ValueEnum;

use crate::prefixes::format_count;
use kernel::{fib_prefixes, settle, status_kb, CpuMeter, Goal, Outcome, Poller};
use lab::{Proc, Stdout, Topology, FEEDER_ADDR, TARGET_ADDR, TARGET_IF};
use table::{Measured, Row};

/// Something to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// The pipelined netlink writer (no BGP): the reference.
    Raw,
    /// BIRD 2 with `protocol kernel`.
    Bird,
    /// `bgpod run` with `[fib] enabled = true`.
    Bgpod,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Raw => "raw",
            Target::Bird => "bird",
            Target::Bgpod => "bgpod",
        }
    }
}

/// The driver's settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub sizes: Vec<u32>,
    pub targets: Vec<Target>,
    pub repeat: usize,
    pub bgpod: PathBuf,
    pub bird: PathBuf,
    /// Routes per netlink write for the raw writer.
    pub raw_batch: usize,
    /// Give a phase up when the count has not moved for this long.
    pub stall: Duration,
    /// Deadline of a phase; `None`: 60 s plus 100 µs per route.
    pub timeout: Option<Duration>,
    /// Where to write the Markdown table too.
    pub markdown: Option<PathBuf>,
    pub keep_logs: bool,
    /// Before each run, wait (at most `quiet_wait`) until less than this share of the
    /// machine is busy.
    pub quiet_threshold: f64,
    pub quiet_wait: Duration,
}

/// Runs everything and prints the table. `Err` only for a setup failure; a target that fails
/// or times out is a cell of the table.
pub fn run(config: DriverConfig) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("signal handler")?;
    }
    let dir = lab::log_dir()?;
    let exe = std::env::current_exe().context("finding this binary")?;
    eprintln!("logs and configs: {}", dir.display());

    let header = machine_header(&config);
    println!("{header}");
    let mut rows = Vec::new();
    let mut run_id = 0;
    let mut failures = 0;
    for &n in &config.sizes {
        let mut row = Row {
            n,
            ..Row::default()
        };
        for &target in &config.targets {
            let mut runs = Vec::new();
            for rep in 0..config.repeat {
                run_id += 1;
                let tag = format!("{}-{}-{rep}", target.name(), format_count(n));
                let busy = kernel::wait_quiet(config.quiet_threshold, config.quiet_wait, &stop)?;
                eprintln!("--- {tag} (machine {:.0}% busy before it)", busy * 100.0);
                let result = match target {
                    Target::Raw => run_raw(&config, &exe, &dir, &tag, n, run_id, &stop),
                    Target::Bird | Target::Bgpod => {
                        run_bgp(&config, target, &exe, &dir, &tag, n, run_id, &stop)
                    }
                };
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    anyhow::bail!("interrupted; logs in {}", dir.display());
                }
                match result {
                    Ok(m) => runs.push(m),
                    Err(e) => {
                        failures += 1;
                        eprintln!("{tag}: FAILED: {e:#}");
                    }
                }
                // Let the kernel finish tearing the namespaces down before the next run.
                thread::sleep(Duration::from_secs(1));
            }
            let combined = table::combine(&runs);
            match target {
                Target::Raw => row.raw = combined,
                Target::Bird => row.bird = combined,
                Target::Bgpod => row.bgpod = combined,
            }
        }
        rows.push(row);
        // Print the table so far: a long run shows its results as they come.
        eprintln!("\n{}", table::render(&rows));
    }
    let table = table::render(&rows);
    println!("\n{table}");
    if let Some(path) = &config.markdown {
        std::fs::write(path, format!("{header}\n\n{table}"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if failures == 0 && !config.keep_logs {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("logs kept in {}", dir.display());
    }
    Ok(())
}

/// Cores, date, kernel and versions, for the line above the table.
fn machine_header(config: &DriverConfig) -> String {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let out = |prog: &Path, args: &[&str]| -> String {
        std::process::Command::new(prog)
            .args(args)
            .output()
            .map(|o| {
                let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
                s += &String::from_utf8_lossy(&o.stderr);
                s.lines().next().unwrap_or("").trim().to_string()
            })
            .unwrap_or_else(|e| format!("unknown ({e})"))
    };
    let date = out(Path::new("date"), &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let kernel = out(Path::new("uname"), &["-r"]);
    let bird = out(&config.bird, &["--version"]);
    let bgpod = out(&config.bgpod, &["--version"]);
    format!(
        "cores: {cores} (nproc) · date: {date} · kernel {kernel} · {bird} · {bgpod} · \
         routes: /24s from 16.0.0.0 · eBGP, ~1000 prefixes per UPDATE"
    )
}

fn phase_deadline(config: &DriverConfig, n: u32, start: Instant) -> Instant {
    let limit = config
        .timeout
        .unwrap_or_else(|| Duration::from_secs(60) + Duration::from_micros(100) * n);
    start + limit
}

/// Seconds from a `sent <mark> <secs>` / `added <secs> <errors>` line.
fn second_field(line: Option<String>, index: usize) -> Option<f64> {
    line?.split_whitespace().nth(index)?.parse().ok()
}

/// Other processes (and kernel work outside ours) using more than this many cores during a
/// phase mark its result as noisy (†)...
const NOISE_CORES: f64 = 0.3;
/// ... if that is also more than this many CPU seconds (/proc counts in 10 ms ticks, too
/// coarse to judge a 40 ms phase by its share alone).
const NOISE_MIN_SECS: f64 = 0.1;

/// Whether others' CPU use during a phase makes its time doubtful.
fn noisy(used: &kernel::CpuUse) -> bool {
    used.others_cores() > NOISE_CORES && used.others > NOISE_MIN_SECS
}

/// One timed phase of a BGP run: send `cmd` to the feeder, wait for the kernel count.
struct BgpPhase<'a> {
    feeder: &'a mut Proc,
    daemon_pid: u32,
    poller: &'a Poller,
    config: &'a DriverConfig,
    n: u32,
    tag: &'a str,
    stop: &'a AtomicBool,
}

impl BgpPhase<'_> {
    /// The outcome, and whether others used the machine meanwhile.
    fn run(&mut self, cmd: &str, goal: Goal) -> Result<(Outcome, bool)> {
        let pid = self.daemon_pid;
        let meter = CpuMeter::start(&[pid, self.feeder.pid(), std::process::id()])?;
        let t = Instant::now();
        self.feeder.send(cmd)?;
        let deadline = phase_deadline(self.config, self.n, t);
        let (outcome, polls) = self
            .poller
            .wait(t, goal, self.config.stall, deadline, self.stop)?;
        let used = meter.read()?;
        let wrote = second_field(self.feeder.try_line("sent"), 2);
        let tail_meter = CpuMeter::start(&[pid])?;
        let tail = settle(pid, Duration::from_secs(60), self.stop)?;
        let tail_cpu = tail_meter.read()?.procs[0];
        let noisy = noisy(&used);
        eprintln!(
            "{}: {cmd} {} (the feeder had written everything after {}; CPU s: daemon {:.2} \
             (on CPU {:.0}% of the time), feeder {:.2}, driver {:.2}, others {:.2} = {:.2} \
             cores{}; the daemon settled in {tail:.1} s using {tail_cpu:.2} s more); {polls}",
            self.tag,
            show(outcome),
            wrote.map_or("—".into(), |s| format!("{s:.2} s")),
            used.procs[0],
            100.0 * used.procs[0] / used.wall.max(1e-3),
            used.procs[1],
            used.procs[2],
            used.others,
            used.others_cores(),
            if noisy { " NOISY" } else { "" },
        );
        Ok((outcome, noisy))
    }
}

/// One BIRD or bgpod run.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; a struct for it would only rename these"
)]
fn run_bgp(
    config: &DriverConfig,
    target: Target,
    exe: &Path,
    dir: &Path,
    tag: &str,
    n: u32,
    run_id: usize,
    stop: &AtomicBool,
) -> Result<Measured> {
    let topo = Topology::create(run_id)?;
    let mut daemon = match target {
        Target::Bird => targets::start_bird(&config.bird, &topo.target, dir, tag)?,
        _ => targets::start_bgpod(&config.bgpod, &topo.target, dir, tag)?,
    };
    let feed_args: Vec<String> = [
        "feed",
        "--connect",
        &format!("{TARGET_ADDR}:179"),
        "--count",
        &n.to_string(),
        "--local-as",
        &targets::FEEDER_ASN.to_string(),
        "--peer-as",
        &targets::TARGET_ASN.to_string(),
        "--router-id",
        &FEEDER_ADDR.to_string(),
        "--next-hop",
        &FEEDER_ADDR.to_string(),
        "--hold-time",
        &targets::HOLD_TIME.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut feeder = Proc::spawn(
        &topo.feeder,
        "feeder",
        exe,
        &feed_args,
        &[],
        &dir.join(format!("{tag}.feeder.log")),
        Stdout::Lines,
    )?;
    let established = feeder.expect("established", Duration::from_secs(60), stop)?;
    daemon.check_running()?;
    let pid = daemon.pid();
    settle(pid, Duration::from_secs(10), stop)?;
    let baseline = fib_prefixes(pid)?;
    eprintln!(
        "{tag}: feeder {established} (UPDATEs to announce, to withdraw); baseline {baseline} \
         prefixes; daemon RSS {:.1} MiB",
        mib(status_kb(pid, "VmRSS")?)
    );
    let poller = Poller::new(pid);
    let n64 = u64::from(n);
    let mut phase = BgpPhase {
        feeder: &mut feeder,
        daemon_pid: pid,
        poller: &poller,
        config,
        n,
        tag,
        stop,
    };
    let goal = |adding| Goal {
        baseline,
        n: n64,
        adding,
    };
    let (add, mut noisy) = phase.run("announce", goal(true))?;
    eprintln!(
        "{tag}: after the announcements: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        mib(status_kb(pid, "VmRSS")?),
        mib(status_kb(pid, "VmHWM")?)
    );
    let mut del = None;
    if let Outcome::Done(_) = add {
        daemon.check_running()?;
        let (outcome, del_noisy) = phase.run("withdraw", goal(false))?;
        noisy |= del_noisy;
        del = Some(outcome);
    }
    daemon.check_running()?;
    let hwm_kb = status_kb(pid, "VmHWM")?;
    eprintln!(
        "{tag}: at the end: VmRSS {:.1} MiB, peak RSS (VmHWM) {:.1} MiB = {:.1} MB",
        mib(status_kb(pid, "VmRSS")?),
        mib(hwm_kb),
        hwm_kb as f64 * 1024.0 / 1e6
    );
    let _ = feeder.send("close");
    feeder.finish(Duration::from_secs(5));
    drop(daemon);
    drop(topo);
    Ok(Measured {
        add,
        del,
        hwm_kb: Some(hwm_kb),
        noisy,
    })
}

/// One raw netlink writer run.
fn run_raw(
    config: &DriverConfig,
    exe: &Path,
    dir: &Path,
    tag: &str,
    n: u32,
    run_id: usize,
    stop: &AtomicBool,
) -> Result<Measured> {
    let topo = Topology::create(run_id)?;
    let args: Vec<String> = [
        "raw",
        "--count",
        &n.to_string(),
        "--gateway",
        &FEEDER_ADDR.to_string(),
        "--dev",
        TARGET_IF,
        "--batch",
        &config.raw_batch.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut raw = Proc::spawn(
        &topo.target,
        "rawfib",
        exe,
        &args,
        &[],
        &dir.join(format!("{tag}.log")),
        Stdout::Lines,
    )?;
    raw.expect("ready", Duration::from_secs(120), stop)?;
    let pid = raw.pid();
    let baseline = fib_prefixes(pid)?;
    let poller = Poller::new(pid);
    let n64 = u64::from(n);
    let mut phase = |cmd: &str, reply: &str, adding: bool| -> Result<(Outcome, bool)> {
        let meter = CpuMeter::start(&[raw.pid(), std::process::id()])?;
        let t = Instant::now();
        raw.send(cmd)?;
        let goal = Goal {
            baseline,
            n: n64,
            adding,
        };
        let (outcome, polls) =
            poller.wait(t, goal, config.stall, phase_deadline(config, n, t), stop)?;
        let used = meter.read()?;
        let line = raw.expect(reply, Duration::from_secs(60), stop)?;
        let noisy = noisy(&used);
        eprintln!(
            "{tag}: {cmd} {} (writer's own clock: {} s, {} failed requests; CPU s: writer \
             {:.2} (on CPU {:.0}% of the time), driver {:.2}, others {:.2} = {:.2} cores{}); \
             {polls}",
            show(outcome),
            line.split_whitespace().nth(1).unwrap_or("?"),
            line.split_whitespace().nth(2).unwrap_or("?"),
            used.procs[0],
            100.0 * used.procs[0] / used.wall.max(1e-3),
            used.procs[1],
            used.others,
            used.others_cores(),
            if noisy { " NOISY" } else { "" },
        );
        Ok((outcome, noisy))
    };
    let (add, mut noisy) = phase("add", "added", true)?;
    let del = match add {
        Outcome::Done(_) => {
            let (outcome, del_noisy) = phase("del", "deleted", false)?;
            noisy |= del_noisy;
            Some(outcome)
        }
        Outcome::Timeout { .. } => None,
    };
    let _ = raw.send("close");
    raw.finish(Duration::from_secs(5));
    drop(topo);
    Ok(Measured {
        add,
        del,
        hwm_kb: None,
        noisy,
    })
}

/// kB (KiB, as /proc prints them) in MiB.
fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn show(o: Outcome) -> String {
    match o {
        Outcome::Done(s) => format!("{s:.3} s"),
        Outcome::Timeout { reached, wanted } => format!("TIMEOUT at {reached}/{wanted}"),
    }
}
