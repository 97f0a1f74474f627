//! [`FibManager`]: what the kernel should hold, what it holds, and the operations between.
//!
//! Sans-IO: the service feeds it RIB changes ([`FibManager::update`]), kernel dumps
//! ([`FibManager::snapshot`]) and events ([`FibManager::kernel_event`]), pulls batches of
//! [`FibOp`]s ([`FibManager::poll_ops`]) and reports what the kernel said
//! ([`FibManager::applied`]). Time comes in as an argument, so tests need no clock.
//!
//! Per prefix it keeps 32 bits (the interned next-hop set) and 8 flags; the rest lives in small
//! side tables for the few prefixes that are held back or failing. Changes are coalesced: a
//! prefix that changes three times before its turn is written once, as it is then.
//!
//! Rules:
//! * Never touch a route bgpod does not own: ours carry our protocol number, in our table, with
//!   our metric (or [`BLACKHOLE_METRIC`]). A foreign route on that exact key holds our route
//!   back ([`HoldReason::Conflict`]) instead of being replaced.
//! * A learned prefix equal to or inside one of our pod CIDRs, or holding one of our interface
//!   addresses and at least as specific as that address's subnet, is not installed
//!   ([`HoldReason::Overlap`]); a wider prefix (a default route, a cluster-wide /16 from a
//!   ToR, another node's pod CIDR inside a flat node network) is, since longest-prefix match
//!   still prefers our own routes.
//! * Next hops that do not resolve hold the route back ([`HoldReason::Unresolved`]) — never
//!   a broken route — and are tried again whenever the kernel's routes or addresses change.
//! * Our routes found at start (a previous run) stay until `sweep_delay` has passed, and are
//!   adopted without a write when the RIB wants the same thing; the rest are removed then.

mod kernel;
mod nhsets;
mod queries;
#[cfg(test)]
mod tests;
mod types;

pub use types::{Counters, HoldReason, ManagerSettings, RouteState};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use std::time::{Duration, Instant};

use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};
use tracing::{debug, info, warn};

use crate::prefix_table::{covers, normalize, PrefixTable, Slot};
use crate::types::{
    Address, FibError, FibOp, KernelEvent, KernelRoute, NextHop, Route, RouteTarget, RouteUpdate,
    BLACKHOLE_METRIC,
};
use crate::view::KernelView;
use nhsets::{fingerprint, NhSets, Resolution, BLACKHOLE, NONE};

/// In the queue.
const QUEUED: u8 = 1;
/// The kernel holds a route of ours for this prefix (as far as we know).
const INSTALLED: u8 = 2;
/// ... and it is the route we want: nothing to write.
const SYNCED: u8 = 4;
/// Held back: the reason is in `held`.
const HELD: u8 = 8;
/// Found in the kernel and not (yet) wanted; `value` is the route's fingerprint.
const STALE: u8 = 16;
/// The installed route has the blackhole metric.
const BH: u8 = 32;
/// Marks entries seen in a dump while it is being compared.
const SEEN: u8 = 64;

/// Delay before a link change is answered with a dump, so a burst of changes costs one.
const RESYNC_DEBOUNCE: Duration = Duration::from_millis(100);
/// Back-off of failed writes: 100 ms doubling up to 30 s.
const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// Queue capacity kept after a burst.
const QUEUE_KEEP: usize = 4096;
/// Per-prefix errors kept for the status output.
const MAX_ERRORS_KEPT: usize = 1000;
/// Per-prefix log lines (held back, failed) allowed per `LOG_WINDOW`; the rest are counted.
const LOG_BUDGET: u32 = 20;
const LOG_WINDOW: Duration = Duration::from_secs(10);

/// See the module documentation.
#[derive(Debug)]
pub struct FibManager {
    s: ManagerSettings,
    view: KernelView,
    table: PrefixTable,
    sets: NhSets,
    /// `Ipv4Network` is 5 bytes: 5 MiB for a million pending prefixes.
    queue_v4: VecDeque<Ipv4Network>,
    queue_v6: VecDeque<Ipv6Network>,
    /// Deletes of our routes with a metric we no longer use (a previous configuration).
    extra: VecDeque<FibOp>,
    stale_other: Vec<(IpNetwork, u32)>,
    held: HashMap<IpNetwork, HoldReason>,
    errors: BTreeMap<IpNetwork, String>,
    retries: HashMap<IpNetwork, u32>,
    retry_heap: BinaryHeap<Reverse<(Instant, IpNetwork)>>,
    sweep_at: Option<Instant>,
    resync_at: Option<Instant>,
    loaded: bool,
    shutting_down: bool,
    counters: Counters,
    log_left: u32,
    log_suppressed: u64,
    log_window: Instant,
    /// The time of the call being handled, for log rate limiting deep inside it.
    log_now: Instant,
}

/// Whether a learned `p` would take one of our interface addresses, or the subnet around it,
/// away from its interface: it contains the address and is at least as specific as the
/// address's subnet. A wider prefix (a default route, a cluster aggregate, a node's pod CIDR
/// inside a flat /8 node network that does not hold our address) loses to the connected route
/// by longest match and is installed.
fn takes_over(p: &IpNetwork, a: &Address) -> bool {
    p.is_ipv4() == a.network.is_ipv4()
        && p.prefix() >= a.network.prefix()
        && normalize(*p).contains(a.network.ip())
}

fn is_desired(s: Slot) -> bool {
    s.flags & STALE == 0 && s.value != NONE
}

impl FibManager {
    /// A manager that has not seen the kernel yet: nothing is written before the first
    /// [`FibManager::snapshot`].
    pub fn new(s: ManagerSettings, now: Instant) -> Self {
        let mut m = FibManager {
            view: KernelView::new(s.table, s.protocol, s.metric),
            table: PrefixTable::default(),
            sets: NhSets::default(),
            queue_v4: VecDeque::new(),
            queue_v6: VecDeque::new(),
            extra: VecDeque::new(),
            stale_other: Vec::new(),
            held: HashMap::new(),
            errors: BTreeMap::new(),
            retries: HashMap::new(),
            retry_heap: BinaryHeap::new(),
            sweep_at: Some(now + s.sweep_delay),
            resync_at: Some(now),
            loaded: false,
            shutting_down: false,
            counters: Counters::default(),
            log_left: LOG_BUDGET,
            log_suppressed: 0,
            log_window: now,
            log_now: now,
            s,
        };
        if m.s.blackhole_pod_cidrs {
            for c in m.s.pod_cidrs.clone() {
                let p = normalize(c);
                m.table.get_or_insert(
                    &p,
                    Slot {
                        value: BLACKHOLE,
                        flags: 0,
                    },
                );
                m.enqueue(p);
            }
        }
        m
    }

    // ----- queue and flags -----

    fn enqueue(&mut self, p: IpNetwork) {
        let Some(slot) = self.table.get_mut(&p) else {
            return;
        };
        if *slot.flags & QUEUED != 0 {
            return;
        }
        *slot.flags |= QUEUED;
        match p {
            // Host bits cleared, as the table keys it.
            IpNetwork::V4(n) => self
                .queue_v4
                .push_back(Ipv4Network::new(n.network(), n.prefix()).unwrap_or(n)),
            IpNetwork::V6(n) => self.queue_v6.push_back(n),
        }
    }

    fn pop_queue(&mut self) -> Option<IpNetwork> {
        match self.queue_v4.pop_front() {
            Some(n) => Some(IpNetwork::V4(n)),
            None => self.queue_v6.pop_front().map(IpNetwork::V6),
        }
    }

    /// Sets and clears flags of `p`'s entry, keeping the counters right.
    fn flag(&mut self, p: &IpNetwork, set: u8, clear: u8) {
        if let Some(slot) = self.table.get_mut(p) {
            let before = *slot.flags;
            let after = (before & !clear) | set;
            *slot.flags = after;
            match (before & INSTALLED != 0, after & INSTALLED != 0) {
                (false, true) => self.counters.installed += 1,
                (true, false) => {
                    self.counters.installed = self.counters.installed.saturating_sub(1)
                }
                _ => {}
            }
        }
    }

    /// Creates an entry (counted if it starts installed).
    fn create(&mut self, p: &IpNetwork, value: u32, flags: u8) {
        if self.table.get(p).is_some() {
            return;
        }
        self.table.get_or_insert(p, Slot { value, flags });
        if flags & INSTALLED != 0 {
            self.counters.installed += 1;
        }
    }

    /// Drops `p`'s entry and everything kept about it.
    fn forget(&mut self, p: &IpNetwork) {
        if let Some(s) = self.table.remove(p) {
            if s.flags & INSTALLED != 0 {
                self.counters.installed = self.counters.installed.saturating_sub(1);
            }
            if is_desired(s) {
                self.sets.release(s.value);
            }
        }
        self.held.remove(p);
        self.errors.remove(p);
        self.retries.remove(p);
    }

    fn metric_of(&self, flags: u8) -> u32 {
        if flags & BH != 0 {
            BLACKHOLE_METRIC
        } else {
            self.s.metric
        }
    }

    fn may_log(&mut self, now: Instant) -> bool {
        if now.duration_since(self.log_window) >= LOG_WINDOW {
            if self.log_suppressed > 0 {
                warn!(
                    suppressed = self.log_suppressed,
                    "more prefixes were held back or failed than logged; see `bgpod status`"
                );
            }
            self.log_window = now;
            self.log_left = LOG_BUDGET;
            self.log_suppressed = 0;
        }
        if self.log_left > 0 {
            self.log_left -= 1;
            true
        } else {
            self.log_suppressed += 1;
            false
        }
    }

    // ----- inputs -----

    /// A best-route change from the RIB.
    pub fn update(&mut self, u: RouteUpdate) {
        let (prefix, hops) = match u {
            RouteUpdate::Install { prefix, next_hops } if !next_hops.is_empty() => {
                (normalize(prefix), next_hops)
            }
            RouteUpdate::Install { prefix, .. } | RouteUpdate::Remove { prefix } => {
                self.withdraw(normalize(prefix));
                return;
            }
        };
        let id = self.sets.intern(&self.view, hops);
        match self.table.get(&prefix) {
            Some(s) if s.flags & STALE != 0 => {
                // A route of ours from before: adopt it, without a write if it is right.
                let same = s.flags & BH == 0
                    && self.want(&prefix, id).map(|t| fingerprint(&t)) == Some(s.value);
                if let Some(slot) = self.table.get_mut(&prefix) {
                    *slot.value = id;
                }
                if same {
                    self.flag(&prefix, SYNCED, STALE);
                } else {
                    self.flag(&prefix, 0, STALE | SYNCED);
                    self.enqueue(prefix);
                }
            }
            Some(s) if s.value == BLACKHOLE => {
                debug!(%prefix, "RIB route for one of our pod CIDRs ignored");
                self.sets.release(id);
            }
            Some(s) if s.value == id => self.sets.release(id),
            Some(s) => {
                if s.value != NONE {
                    self.sets.release(s.value);
                }
                if let Some(slot) = self.table.get_mut(&prefix) {
                    *slot.value = id;
                }
                self.flag(&prefix, 0, SYNCED);
                self.enqueue(prefix);
            }
            None => {
                self.create(&prefix, id, 0);
                self.enqueue(prefix);
            }
        }
    }

    fn withdraw(&mut self, p: IpNetwork) {
        let Some(s) = self.table.get(&p) else {
            return;
        };
        if !is_desired(s) || s.value == BLACKHOLE {
            return;
        }
        if s.flags & INSTALLED == 0 {
            self.forget(&p); // releases the set
            return;
        }
        self.sets.release(s.value);
        if let Some(slot) = self.table.get_mut(&p) {
            *slot.value = NONE;
        }
        self.held.remove(&p);
        self.flag(&p, 0, SYNCED | HELD);
        self.enqueue(p);
    }

    // ----- output -----

    /// What bgpod would install for `p` with set `id`, or `None` if it is held back.
    fn want(&self, p: &IpNetwork, id: u32) -> Option<RouteTarget> {
        self.check(p, id).ok().map(RouteTarget::Unicast)
    }

    fn overlap(&self, p: &IpNetwork) -> Option<HoldReason> {
        if let Some(c) = self.s.pod_cidrs.iter().find(|c| covers(&normalize(**c), p)) {
            return Some(HoldReason::Overlap {
                with: normalize(*c),
                pod_cidr: true,
            });
        }
        self.view
            .addresses()
            .iter()
            .find(|a| takes_over(p, a))
            .map(|a| HoldReason::Overlap {
                with: a.network,
                pod_cidr: false,
            })
    }

    fn check(&self, p: &IpNetwork, id: u32) -> Result<Vec<NextHop>, HoldReason> {
        if let Some(r) = self.overlap(p) {
            return Err(r);
        }
        if let Some(o) = self.view.owner_of(p, self.s.metric) {
            return Err(HoldReason::Conflict {
                protocol: o.protocol,
            });
        }
        match self.sets.resolution(id) {
            Some(Resolution::Ok(h)) if h.iter().all(|h| h.gateway.is_ipv4() == p.is_ipv4()) => {
                Ok(h.clone())
            }
            _ => Err(HoldReason::Unresolved {
                next_hops: self.sets.hops(id).to_vec(),
            }),
        }
    }

    fn hold(&mut self, p: IpNetwork, reason: HoldReason, now: Instant) {
        if self.held.get(&p) != Some(&reason) {
            if self.may_log(now) {
                warn!(prefix = %p, %reason, "route held back");
            }
            self.held.insert(p, reason);
        }
        self.flag(&p, HELD, 0);
    }

    fn unhold(&mut self, p: &IpNetwork, now: Instant) {
        if self.held.remove(p).is_some() {
            if self.may_log(now) {
                info!(prefix = %p, "route no longer held back");
            }
            self.flag(p, 0, HELD);
        }
    }

    /// Up to `max` operations, in queue order. Nothing before the first snapshot.
    pub fn poll_ops(&mut self, max: usize, now: Instant) -> Vec<FibOp> {
        let mut ops = Vec::new();
        if !self.loaded {
            return ops;
        }
        while ops.len() < max {
            let Some(op) = self.extra.pop_front() else {
                break;
            };
            ops.push(op);
        }
        while ops.len() < max {
            let Some(p) = self.pop_queue() else { break };
            let Some(s) = self.table.get(&p) else {
                continue;
            };
            if s.flags & QUEUED == 0 {
                continue;
            }
            self.flag(&p, 0, QUEUED);
            if let Some(op) = self.plan(p, s, now) {
                ops.push(op);
            }
        }
        // A drained burst gives its queue memory back (5 bytes an IPv4 prefix).
        if self.queue_v4.is_empty() && self.queue_v4.capacity() > QUEUE_KEEP {
            self.queue_v4.shrink_to(QUEUE_KEEP);
        }
        if self.queue_v6.is_empty() && self.queue_v6.capacity() > QUEUE_KEEP {
            self.queue_v6.shrink_to(QUEUE_KEEP);
        }
        ops
    }

    fn plan(&mut self, p: IpNetwork, s: Slot, now: Instant) -> Option<FibOp> {
        let installed = s.flags & INSTALLED != 0;
        let delete = FibOp::Delete {
            prefix: p,
            metric: self.metric_of(s.flags),
        };
        if s.flags & STALE != 0 {
            return (self.sweep_at.is_none() || self.shutting_down).then_some(delete);
        }
        let (metric, target) = match s.value {
            NONE if installed => return Some(delete),
            NONE => {
                self.forget(&p);
                return None;
            }
            BLACKHOLE => match self.view.owner_of(&p, BLACKHOLE_METRIC) {
                Some(o) => (
                    BLACKHOLE_METRIC,
                    Err(HoldReason::Conflict {
                        protocol: o.protocol,
                    }),
                ),
                None => (BLACKHOLE_METRIC, Ok(RouteTarget::Blackhole)),
            },
            id => (self.s.metric, self.check(&p, id).map(RouteTarget::Unicast)),
        };
        match target {
            Err(reason) => {
                let conflict = matches!(reason, HoldReason::Conflict { .. });
                self.hold(p, reason, now);
                if conflict {
                    // The other route took our key: ours is gone already.
                    self.flag(&p, 0, INSTALLED | SYNCED | BH);
                    None
                } else if installed {
                    self.flag(&p, 0, SYNCED);
                    Some(delete)
                } else {
                    None
                }
            }
            Ok(target) => {
                self.unhold(&p, now);
                if s.flags & SYNCED != 0 {
                    return None;
                }
                Some(FibOp::Replace(Route {
                    prefix: p,
                    metric,
                    target,
                }))
            }
        }
    }

    /// What the kernel said about `ops` (as returned by [`crate::Fib::apply`]).
    pub fn applied(&mut self, ops: &[FibOp], errors: &[FibError], now: Instant) {
        let failed: HashMap<usize, &FibError> = errors.iter().map(|e| (e.index, e)).collect();
        for (i, op) in ops.iter().enumerate() {
            let err = failed.get(&i).copied();
            match (op, err) {
                (FibOp::Replace(r), None) => {
                    let bh = if r.metric == BLACKHOLE_METRIC { BH } else { 0 };
                    self.flag(&r.prefix, INSTALLED | SYNCED | bh, STALE | (BH & !bh));
                    self.errors.remove(&r.prefix);
                    self.retries.remove(&r.prefix);
                }
                (FibOp::Delete { prefix, metric }, e)
                    if e.is_none_or(|e| matches!(e.errno, Some(libc::ESRCH | libc::ENOENT))) =>
                {
                    self.deleted(prefix, *metric);
                }
                (op, Some(e)) => self.failed(op, e, now),
                (FibOp::Delete { .. }, None) => {}
            }
        }
    }

    fn deleted(&mut self, p: &IpNetwork, metric: u32) {
        if metric != self.s.metric && metric != BLACKHOLE_METRIC {
            return;
        }
        let Some(s) = self.table.get(p) else { return };
        if (s.flags & BH != 0) != (metric == BLACKHOLE_METRIC) {
            return;
        }
        if is_desired(s) {
            self.flag(p, 0, INSTALLED | SYNCED | BH);
            self.errors.remove(p);
            self.retries.remove(p);
        } else {
            self.forget(p);
        }
    }

    fn failed(&mut self, op: &FibOp, e: &FibError, now: Instant) {
        self.counters.errors += 1;
        let p = op.prefix();
        if self.may_log(now) {
            warn!(prefix = %p, error = %e.reason, op = if matches!(op, FibOp::Delete { .. }) { "delete" } else { "replace" }, "kernel refused a route change; retrying");
        }
        if self.errors.len() < MAX_ERRORS_KEPT || self.errors.contains_key(&p) {
            self.errors.insert(p, e.reason.clone());
        }
        if self.table.get(&p).is_none() {
            return;
        }
        let attempts = self.retries.entry(p).or_insert(0);
        *attempts += 1;
        let delay = RETRY_BASE
            .saturating_mul(1 << (*attempts - 1).min(10))
            .min(RETRY_MAX);
        self.retry_heap.push(Reverse((now + delay, p)));
    }

    /// Timers: the sweep of stale routes and the retries of failed writes.
    pub fn tick(&mut self, now: Instant) {
        if self.sweep_at.is_some_and(|t| t <= now) && self.loaded {
            self.sweep_at = None;
            let stale: Vec<IpNetwork> = self
                .table
                .iter()
                .filter(|(_, s)| s.flags & STALE != 0)
                .map(|(p, _)| p)
                .collect();
            if !stale.is_empty() || !self.stale_other.is_empty() {
                info!(
                    routes = stale.len() + self.stale_other.len(),
                    "removing routes of ours from a previous run that no peer announced again"
                );
            }
            for p in stale {
                self.enqueue(p);
            }
            for (prefix, metric) in std::mem::take(&mut self.stale_other) {
                self.extra.push_back(FibOp::Delete { prefix, metric });
            }
        }
        while let Some(Reverse((at, p))) = self.retry_heap.peek().copied() {
            if at > now {
                break;
            }
            self.retry_heap.pop();
            if self.retries.contains_key(&p) {
                self.flag(&p, 0, SYNCED);
                self.enqueue(p);
            }
        }
    }

    /// The earliest time [`FibManager::tick`] or a resync has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.sweep_at,
            self.resync_at,
            self.retry_heap.peek().map(|Reverse((t, _))| *t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Clean shutdown: queue the removal of every route of ours, unless `retain`.
    pub fn shutdown(&mut self, retain: bool) {
        self.shutting_down = true;
        self.queue_v4.clear();
        self.queue_v6.clear();
        self.extra.clear();
        self.retry_heap.clear();
        self.retries.clear();
        if retain {
            self.table.for_each_mut(|_, s| *s.flags &= !QUEUED);
            return;
        }
        let mut remove = Vec::new();
        let mut sets = Vec::new();
        self.table.for_each_mut(|p, s| {
            *s.flags &= !QUEUED;
            if *s.flags & STALE == 0 && *s.value != NONE && *s.value != BLACKHOLE {
                sets.push(*s.value);
            }
            if *s.flags & STALE == 0 {
                *s.value = NONE;
            }
            remove.push(p);
        });
        for id in sets {
            self.sets.release(id);
        }
        for p in remove {
            self.enqueue(p);
        }
        for (prefix, metric) in std::mem::take(&mut self.stale_other) {
            self.extra.push_back(FibOp::Delete { prefix, metric });
        }
    }
}
