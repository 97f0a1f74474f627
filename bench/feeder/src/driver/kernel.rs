//! What the driver reads from the kernel: the route count of a namespace, and a process's
//! peak RSS and CPU time.
//!
//! The route count comes from `/proc/<pid>/net/fib_triestat`, where `<pid>` is any process in
//! the target namespace (the daemon itself): procfs shows the net directory of that process's
//! namespace, so the driver never has to enter it. On this kernel the file looks like
//!
//! ```text
//! Basic info: size of leaf: 48 bytes, size of tnode: 40 bytes.
//! Main:
//!     Aver depth:     2.42
//!     Max depth:      3
//!     Leaves:         7
//!     Prefixes:       7
//!     ...
//! Local:
//!     ...
//! ```
//!
//! and the count used is `Prefixes:` of `Main:` (the main table's trie; while no policy rule
//! exists the kernel keeps local and main in one trie, so `Local:` repeats it). Producing the
//! file walks the whole trie, so it is read no more often than [`Poller`] allows.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// `Prefixes:` of the `Main:` trie in a `fib_triestat` text.
pub fn parse_triestat(text: &str) -> Option<u64> {
    let mut in_main = false;
    for line in text.lines() {
        let t = line.trim();
        if !line.starts_with(char::is_whitespace) {
            in_main = t == "Main:";
            continue;
        }
        if in_main {
            if let Some(v) = t.strip_prefix("Prefixes:") {
                return v.trim().parse().ok();
            }
        }
    }
    None
}

/// The number of prefixes in the main table of `pid`'s network namespace.
pub fn fib_prefixes(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/net/fib_triestat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_triestat(&text).with_context(|| format!("no Main: Prefixes: in {path}"))
}

/// A `kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in kB.
pub fn status_kb(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_status_kb(&text, field).with_context(|| format!("no {field} in {path}"))
}

fn parse_status_kb(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// User and system CPU seconds used so far by `pid` (all its threads).
pub fn cpu_secs(pid: u32) -> Result<(f64, f64)> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat_cpu(&text).with_context(|| format!("cannot parse {path}"))
}

/// Fields 14 and 15 (utime, stime) of a `stat` line, in USER_HZ (always 100 on Linux).
fn parse_stat_cpu(text: &str) -> Option<(f64, f64)> {
    // The command name (field 2) may hold spaces; everything after its closing paren splits.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3, so utime (14) and stime (15) are at 11 and 12.
    let user: f64 = f.get(11)?.parse().ok()?;
    let sys: f64 = f.get(12)?.parse().ok()?;
    Some((user / 100.0, sys / 100.0))
}

/// Busy and total CPU ticks of the whole machine so far (the `cpu` line of `/proc/stat`).
pub fn machine_cpu() -> Result<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    parse_proc_stat(&text).context("no cpu line in /proc/stat")
}

fn parse_proc_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal (guest time is inside user already).
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = f.iter().sum();
    let idle = f.get(3)? + f.get(4)?;
    Some((total - idle, total))
}

/// CPU time used during one phase: by our own processes, and by everything else.
pub struct CpuMeter {
    pids: Vec<u32>,
    machine: (u64, u64),
    procs: Vec<f64>,
    started: Instant,
}

/// What a [`CpuMeter`] saw.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuUse {
    pub wall: f64,
    /// CPU seconds of each process given to [`CpuMeter::start`], in that order.
    pub procs: Vec<f64>,
    /// CPU seconds of the whole machine not used by those processes: other users of the
    /// machine, plus kernel work done outside their context (softirqs, RCU callbacks).
    pub others: f64,
}

impl CpuUse {
    /// The others' share in cores (1.0 = one core busy all the phase long).
    pub fn others_cores(&self) -> f64 {
        self.others / self.wall.max(1e-3)
    }
}

impl CpuMeter {
    pub fn start(pids: &[u32]) -> Result<CpuMeter> {
        let procs = pids
            .iter()
            .map(|&p| cpu_secs(p).map(|(u, s)| u + s))
            .collect::<Result<_>>()?;
        Ok(CpuMeter {
            pids: pids.to_vec(),
            machine: machine_cpu()?,
            procs,
            started: Instant::now(),
        })
    }

    pub fn read(&self) -> Result<CpuUse> {
        let wall = self.started.elapsed().as_secs_f64();
        let (busy, _) = machine_cpu()?;
        let machine = (busy - self.machine.0) as f64 / 100.0;
        let mut procs = Vec::new();
        for (&pid, before) in self.pids.iter().zip(&self.procs) {
            let (u, s) = cpu_secs(pid)?;
            procs.push(u + s - before);
        }
        let others = (machine - procs.iter().sum::<f64>()).max(0.0);
        Ok(CpuUse {
            wall,
            procs,
            others,
        })
    }
}

/// The share of the machine (all cores) that was busy during `window`.
pub fn machine_busy(window: Duration) -> Result<f64> {
    let (b0, t0) = machine_cpu()?;
    thread::sleep(window);
    let (b1, t1) = machine_cpu()?;
    Ok((b1 - b0) as f64 / (t1 - t0).max(1) as f64)
}

/// Waits (at most `limit`) until less than `threshold` of the machine is busy, so that a run
/// does not start while someone else's build has the cores. Returns the last busy share seen.
pub fn wait_quiet(threshold: f64, limit: Duration, stop: &AtomicBool) -> Result<f64> {
    let start = Instant::now();
    let mut warned = false;
    loop {
        let busy = machine_busy(Duration::from_secs(1))?;
        if busy < threshold || start.elapsed() >= limit || stop.load(Ordering::Relaxed) {
            return Ok(busy);
        }
        if !warned {
            eprintln!(
                "machine {:.0}% busy (other processes); waiting up to {limit:?} for it to calm down",
                busy * 100.0
            );
            warned = true;
        }
    }
}

/// How a wait for a route count ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The count was reached this many seconds after the start.
    Done(f64),
    /// The count stopped moving (or the deadline passed) at `reached` of `wanted` changes.
    Timeout { reached: u64, wanted: u64 },
}

/// What the polling itself cost during one wait (the trie walks are kernel time).
#[derive(Debug, Clone, Copy, Default)]
pub struct PollStats {
    pub reads: u32,
    pub total: Duration,
    pub max: Duration,
}

impl std::fmt::Display for PollStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} reads of fib_triestat, {:.1} ms in all, longest {:.1} ms",
            self.reads,
            self.total.as_secs_f64() * 1e3,
            self.max.as_secs_f64() * 1e3
        )
    }
}

/// Reads in a row aimed at a predicted end that turned out too early, before falling back to
/// the `near_factor` pace.
const MAX_AIMED_READS: u32 = 3;

/// Polls a namespace's route count until it reaches a target.
///
/// A read of `fib_triestat` walks the whole trie: ~0.1 ms at 10k routes, ~1 ms at 100k,
/// 20–80 ms at 1M on this machine, all of it kernel CPU taken from the target on a 2-core
/// box. So the interval between reads follows the cost of the last read: never less than
/// `near_factor` times it (the walks take at most 1/`near_factor` of one core), and no more
/// than `far_factor` times it. In between, it is half the remaining time predicted from the
/// rate so far, so reads are sparse while the end is far off and dense near it; once the
/// predicted end is closer than the floor, the next read is aimed just past it. The end is
/// seen within about one read's cost (~50 ms at 1M) when the rate holds, within
/// `near_factor` × cost when it does not.
pub struct Poller {
    pub pid: u32,
    /// Shortest time between two reads, whatever they cost.
    pub min_interval: Duration,
    pub near_factor: u32,
    pub far_factor: u32,
    /// Longest time between two reads.
    pub max_interval: Duration,
}

impl Poller {
    pub fn new(pid: u32) -> Poller {
        Poller {
            pid,
            min_interval: Duration::from_millis(2),
            near_factor: 4,
            far_factor: 20,
            max_interval: Duration::from_secs(1),
        }
    }

    /// The pause after a read that cost `cost`, `elapsed` into a phase that has made
    /// `progress` of `n` changes, counted from the end of that read; and whether it is aimed
    /// at the predicted end of the phase (then it may be shorter than the `near_factor`
    /// floor, which `may_aim` allows only a few times in a row).
    fn interval(
        &self,
        cost: Duration,
        elapsed: Duration,
        progress: u64,
        n: u64,
        may_aim: bool,
    ) -> (Duration, bool) {
        let lo = (cost * self.near_factor).max(self.min_interval);
        let hi = (cost * self.far_factor).clamp(lo, self.max_interval.max(lo));
        let start_to_start = |d: Duration| d.saturating_sub(cost);
        if progress == 0 || progress >= n {
            return (start_to_start(hi), false);
        }
        let left = Duration::from_secs_f64(
            elapsed.as_secs_f64() * (n - progress) as f64 / progress as f64,
        );
        if left < lo && may_aim {
            // Read again just past the predicted end rather than a whole `lo` later.
            return (left.max(self.min_interval) + Duration::from_millis(1), true);
        }
        (start_to_start((left / 2).clamp(lo, hi)), false)
    }

    /// Waits until the count reaches `goal`; the time is measured from `start` to the read
    /// that first saw it. Gives up when the count has not moved for `stall`, or at `deadline`.
    pub fn wait(
        &self,
        start: Instant,
        goal: Goal,
        stall: Duration,
        deadline: Instant,
        stop: &AtomicBool,
    ) -> Result<(Outcome, PollStats)> {
        let mut stats = PollStats::default();
        let mut aimed = 0;
        let mut last = None;
        let mut last_change = Instant::now();
        loop {
            if stop.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
            let before = Instant::now();
            let count = fib_prefixes(self.pid)?;
            let after = Instant::now();
            let cost = after - before;
            stats.reads += 1;
            stats.total += cost;
            stats.max = stats.max.max(cost);
            if goal.done(count) {
                return Ok((Outcome::Done((after - start).as_secs_f64()), stats));
            }
            if last != Some(count) {
                last = Some(count);
                last_change = after;
            }
            if after - last_change > stall || after > deadline {
                let outcome = Outcome::Timeout {
                    reached: goal.progress(count),
                    wanted: goal.n,
                };
                return Ok((outcome, stats));
            }
            let (pause, was_aimed) = self.interval(
                cost,
                after - start,
                goal.progress(count),
                goal.n,
                aimed < MAX_AIMED_READS,
            );
            aimed = if was_aimed { aimed + 1 } else { 0 };
            thread::sleep(pause);
        }
    }
}

/// The count a phase waits for: `n` routes more than `baseline` (adding), or back to
/// `baseline` (withdrawing).
#[derive(Debug, Clone, Copy)]
pub struct Goal {
    pub baseline: u64,
    pub n: u64,
    pub adding: bool,
}

impl Goal {
    fn done(&self, count: u64) -> bool {
        if self.adding {
            count >= self.baseline + self.n
        } else {
            count <= self.baseline
        }
    }

    /// How many of the `n` changes are visible in `count`.
    fn progress(&self, count: u64) -> u64 {
        if self.adding {
            count.saturating_sub(self.baseline)
        } else {
            (self.baseline + self.n).saturating_sub(count)
        }
    }
}

/// Waits until `pid` stops using CPU: no more than 10 ms in a 200 ms window, at most `limit`.
/// Returns the seconds it took. Used between phases so that one phase's tail (a daemon
/// catching up on its own netlink notifications) is not billed to the next.
pub fn settle(pid: u32, limit: Duration, stop: &AtomicBool) -> Result<f64> {
    let start = Instant::now();
    let total = |(u, s): (f64, f64)| u + s;
    let mut prev = total(cpu_secs(pid)?);
    while start.elapsed() < limit {
        if stop.load(Ordering::Relaxed) {
            bail!("interrupted");
        }
        thread::sleep(Duration::from_millis(200));
        let now = total(cpu_secs(pid)?);
        if now - prev <= 0.01 {
            break;
        }
        prev = now;
    }
    Ok(start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRIESTAT: &str = "Basic info: size of leaf: 48 bytes, size of tnode: 40 bytes.
Main:
\tAver depth:     2.42
\tMax depth:      3
\tLeaves:         1000007
\tPrefixes:       1000008
\tInternal nodes: 5
\t  1: 1  2: 3  3: 1
\tPointers: 22
Null ptrs: 11
Total size: 2  kB
Local:
\tAver depth:     2.00
\tLeaves:         3
\tPrefixes:       3
";

    #[test]
    fn triestat_main_prefixes() {
        assert_eq!(parse_triestat(TRIESTAT), Some(1_000_008));
        assert_eq!(parse_triestat("Local:\n\tPrefixes: 3\n"), None);
        assert_eq!(parse_triestat(""), None);
        // The machine's own file parses (whatever its count).
        if let Ok(text) = std::fs::read_to_string("/proc/net/fib_triestat") {
            assert!(parse_triestat(&text).is_some(), "{text}");
        }
    }

    #[test]
    fn poll_interval_follows_cost_and_eta() {
        let p = Poller::new(1);
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        // Cheap reads: the 2 ms floor (from the start of one read to the next).
        assert_eq!(
            p.interval(us(50), ms(100), 10, 100, true),
            (us(1950), false)
        );
        // No progress yet: 20x the cost.
        assert_eq!(
            p.interval(ms(30), ms(100), 0, 1_000_000, true),
            (ms(570), false)
        );
        // Far from the end: capped at 20x.
        assert_eq!(
            p.interval(ms(30), ms(1000), 100_000, 1_000_000, true),
            (ms(570), false)
        );
        // In between: half the predicted remaining time (1 s left -> 0.5 s).
        assert_eq!(
            p.interval(ms(30), ms(4000), 800_000, 1_000_000, true),
            (ms(470), false)
        );
        // Near it: aimed just past the predicted end (80 ms left), unless aiming is used up.
        assert_eq!(
            p.interval(ms(30), ms(7920), 990_000, 1_000_000, true),
            (ms(81), true)
        );
        assert_eq!(
            p.interval(ms(30), ms(7920), 990_000, 1_000_000, false),
            (ms(90), false)
        );
    }

    #[test]
    fn proc_stat_busy() {
        let text = "cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_proc_stat(text), Some((161, 1181)));
        assert!(machine_cpu().is_ok());
    }

    #[test]
    fn status_and_stat() {
        let status = "Name:\tbird\nVmPeak:\t  20000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 2000 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(12345));
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(2000));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
        let stat = "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 \
                    3 0 100 1000000 500";
        assert_eq!(parse_stat_cpu(stat), Some((2.5, 0.75)));
        assert!(cpu_secs(std::process::id()).is_ok());
        assert!(status_kb(std::process::id(), "VmHWM").expect("own status") > 0);
    }
}
