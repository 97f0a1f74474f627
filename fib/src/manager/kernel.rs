//! What the kernel tells the manager: dumps ([`FibManager::snapshot`]) and events
//! ([`FibManager::kernel_event`]) — our routes as they really are, foreign routes and addresses.

use std::time::Instant;

use ipnetwork::IpNetwork;
use tracing::{debug, info};

use super::nhsets::{fingerprint, BLACKHOLE, NONE};
use super::*;

impl FibManager {
    /// A full picture of the kernel (at start, after `ENOBUFS`, after link changes): every
    /// route of our table and of `main` (ours included) and every interface address.
    pub fn snapshot(&mut self, routes: Vec<KernelRoute>, addresses: Vec<Address>) {
        self.counters.resyncs += 1;
        self.view.clear();
        for a in addresses {
            self.view.add_address(a);
        }
        let mut ours = Vec::new();
        for r in routes {
            if self.view.is_ours(&r) {
                ours.push(r);
            } else if self.view.is_our_protocol(&r) {
                if self.sweep_at.is_some() {
                    self.stale_other.push((normalize(r.prefix), r.metric));
                } else {
                    self.extra.push_back(FibOp::Delete {
                        prefix: normalize(r.prefix),
                        metric: r.metric,
                    });
                }
            } else if self.view.is_relevant(&r) {
                self.view.add_route(r);
            }
        }
        self.sets.reresolve(&self.view);
        for r in ours {
            self.saw_ours(&r, true);
        }
        // What the dump did not show is not there.
        let mut missing = Vec::new();
        let mut recheck = Vec::new();
        self.table.for_each_mut(|p, slot| {
            if *slot.flags & SEEN != 0 {
                *slot.flags &= !SEEN;
            } else if *slot.flags & INSTALLED != 0 {
                missing.push(p);
            }
            if *slot.flags & (HELD | SYNCED) != SYNCED {
                recheck.push(p);
            }
        });
        for p in missing {
            let Some(s) = self.table.get(&p) else {
                continue;
            };
            if is_desired(s) {
                if self.loaded {
                    self.counters.repairs += 1;
                }
                self.flag(&p, 0, INSTALLED | SYNCED | BH);
                self.enqueue(p);
            } else {
                self.forget(&p);
            }
        }
        for p in recheck {
            self.enqueue(p);
        }
        self.loaded = true;
        self.resync_at = None;
        debug!(
            foreign_routes = self.view.route_count(),
            entries = self.table.len(),
            installed = self.counters.installed,
            queued = self.pending(),
            "kernel view loaded"
        );
    }

    /// One of our routes as the kernel shows it (dump or event): compare with what we want.
    fn saw_ours(&mut self, r: &KernelRoute, dump: bool) {
        let p = normalize(r.prefix);
        let fp = r.target().map_or(0, |t| fingerprint(&t));
        let bh = if r.metric == BLACKHOLE_METRIC { BH } else { 0 };
        let seen = if dump { SEEN } else { 0 };
        match self.table.get(&p) {
            None if self.sweep_at.is_some() && !self.shutting_down => {
                self.create(&p, fp, STALE | INSTALLED | bh | seen);
            }
            None => {
                self.create(&p, NONE, INSTALLED | bh | seen);
                self.enqueue(p);
            }
            Some(s) if s.flags & STALE != 0 => {
                if let Some(slot) = self.table.get_mut(&p) {
                    *slot.value = fp;
                }
                self.flag(&p, INSTALLED | bh | seen, BH & !bh);
            }
            Some(s) if s.value == NONE => {
                self.flag(&p, INSTALLED | bh | seen, BH & !bh);
                self.enqueue(p);
            }
            Some(s) => {
                let kind_ok = (s.value == BLACKHOLE) == (bh != 0);
                let want = if s.value == BLACKHOLE {
                    Some(RouteTarget::Blackhole)
                } else {
                    self.want(&p, s.value)
                };
                if kind_ok && want.map(|t| fingerprint(&t)) == Some(fp) {
                    self.flag(&p, INSTALLED | SYNCED | bh | seen, BH & !bh);
                } else {
                    if s.flags & SYNCED != 0 && !dump {
                        self.counters.repairs += 1;
                        if self.may_log(self.log_now) {
                            info!(prefix = %p, "our route was changed by someone else; putting ours back");
                        }
                    }
                    self.flag(&p, INSTALLED | bh | seen, SYNCED | (BH & !bh));
                    self.enqueue(p);
                }
            }
        }
    }

    /// A change the netlink listener saw.
    pub fn kernel_event(&mut self, ev: KernelEvent, now: Instant) {
        self.counters.events += 1;
        self.log_now = now;
        match ev {
            KernelEvent::RouteAdded(r) if self.view.is_ours(&r) => self.saw_ours(&r, false),
            KernelEvent::RouteDeleted(r) if self.view.is_ours(&r) => self.lost_ours(&r),
            KernelEvent::RouteAdded(r)
                if self.view.is_relevant(&r) && !self.view.is_our_protocol(&r) =>
            {
                let key = (r.table == self.s.table).then_some((normalize(r.prefix), r.metric));
                self.view.add_route(r);
                self.foreign_changed(key);
            }
            KernelEvent::RouteDeleted(r)
                if self.view.is_relevant(&r) && !self.view.is_our_protocol(&r) =>
            {
                let key = (r.table == self.s.table).then_some((normalize(r.prefix), r.metric));
                if self.view.remove_route(&r) {
                    self.foreign_changed(key);
                }
            }
            KernelEvent::RouteAdded(_) | KernelEvent::RouteDeleted(_) => {}
            KernelEvent::AddressAdded(a) => {
                self.view.add_address(a);
                let mut hit = Vec::new();
                for (p, s) in self.table.iter() {
                    if is_desired(s) && takes_over(&p, &a) {
                        hit.push(p);
                    }
                }
                for p in hit {
                    self.flag(&p, 0, SYNCED);
                    self.enqueue(p);
                }
                self.view_changed();
            }
            KernelEvent::AddressDeleted(a) => {
                self.view.remove_address(&a);
                let held: Vec<IpNetwork> = self
                    .held
                    .iter()
                    .filter(|(_, r)| {
                        matches!(
                            r,
                            HoldReason::Overlap {
                                pod_cidr: false,
                                ..
                            }
                        )
                    })
                    .map(|(p, _)| *p)
                    .collect();
                for p in held {
                    self.enqueue(p);
                }
                self.view_changed();
                // IPv4 drops routes through a removed subnet without a notification.
                if self.uses_ifindex(a.ifindex) {
                    self.request_resync(now + RESYNC_DEBOUNCE);
                }
            }
            // IPv4 drops the routes through a link that goes down without a notification: if
            // a route of ours or one we resolve through uses it, only a dump tells what is
            // left. Links nobody routes through (a new pod's veth) cost nothing.
            KernelEvent::LinkChanged { ifindex } => {
                if self.uses_ifindex(ifindex) {
                    self.request_resync(now + RESYNC_DEBOUNCE);
                }
            }
            KernelEvent::Overrun => self.request_resync(now),
        }
    }

    /// Whether a resolved next hop of ours or a foreign route we know uses interface `i`.
    fn uses_ifindex(&self, i: u32) -> bool {
        self.sets.uses_ifindex(i) || self.view.uses_ifindex(i)
    }

    fn lost_ours(&mut self, r: &KernelRoute) {
        let p = normalize(r.prefix);
        let Some(s) = self.table.get(&p) else {
            return;
        };
        let bh = r.metric == BLACKHOLE_METRIC;
        if s.flags & INSTALLED == 0 || (s.flags & BH != 0) != bh {
            return;
        }
        if is_desired(s) {
            self.counters.repairs += 1;
            if self.may_log(self.log_now) {
                info!(prefix = %p, "our route was removed by someone else; putting it back");
            }
            self.flag(&p, 0, INSTALLED | SYNCED | BH);
            self.enqueue(p);
        } else {
            self.forget(&p);
        }
    }

    /// A foreign route appeared or went: `key` is its (prefix, metric) if it is in our table.
    fn foreign_changed(&mut self, key: Option<(IpNetwork, u32)>) {
        if let Some((p, metric)) = key {
            if (metric == self.s.metric || metric == BLACKHOLE_METRIC)
                && self.table.get(&p).is_some()
            {
                self.flag(&p, 0, SYNCED);
                self.enqueue(p);
            }
        }
        self.view_changed();
    }

    /// Re-resolves every next-hop set and queues the prefixes whose resolution changed.
    fn view_changed(&mut self) {
        let changed = self.sets.reresolve(&self.view);
        if changed.is_empty() {
            return;
        }
        let mut hit = Vec::new();
        for (p, s) in self.table.iter() {
            if is_desired(s) && changed.contains(&s.value) {
                hit.push(p);
            }
        }
        debug!(
            sets = changed.len(),
            prefixes = hit.len(),
            "next-hop resolution changed"
        );
        for p in hit {
            self.flag(&p, 0, SYNCED);
            self.enqueue(p);
        }
    }

    /// Asks for a dump no later than `at`.
    pub fn request_resync(&mut self, at: Instant) {
        self.resync_at = Some(self.resync_at.map_or(at, |t| t.min(at)));
    }

    /// Whether the service should dump the kernel and call [`FibManager::snapshot`] now.
    pub fn resync_due(&self, now: Instant) -> bool {
        self.resync_at.is_some_and(|t| t <= now)
    }
}
