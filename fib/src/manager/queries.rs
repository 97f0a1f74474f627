//! Read-only questions: counters, per-prefix state, what is held back and why.

use std::collections::BTreeMap;

use ipnetwork::IpNetwork;

use super::nhsets::BLACKHOLE;
use super::*;

impl FibManager {
    /// Prefixes waiting for a write.
    pub fn pending(&self) -> usize {
        self.queue_v4.len() + self.queue_v6.len() + self.extra.len()
    }

    pub fn counters(&self) -> Counters {
        let desired = self.table.iter().filter(|(_, s)| is_desired(*s)).count();
        Counters {
            desired,
            held: self.held.len(),
            pending: self.pending(),
            ..self.counters.clone()
        }
    }

    /// Routes of ours the kernel holds (cheap).
    pub fn installed_count(&self) -> usize {
        self.counters.installed
    }

    /// Whether the kernel holds the route bgpod wants for `prefix`.
    pub fn installed(&self, prefix: &IpNetwork) -> bool {
        matches!(self.state(prefix), Some(RouteState::Installed))
    }

    /// What bgpod knows of `prefix`.
    pub fn state(&self, prefix: &IpNetwork) -> Option<RouteState> {
        let p = normalize(*prefix);
        let s = self.table.get(&p)?;
        if s.flags & STALE != 0 {
            return Some(RouteState::Stale);
        }
        if let Some(r) = self.held.get(&p) {
            return Some(RouteState::Held(r.clone()));
        }
        if let Some(e) = self.errors.get(&p) {
            return Some(RouteState::Failed(e.clone()));
        }
        if s.flags & (INSTALLED | SYNCED) == INSTALLED | SYNCED && s.flags & QUEUED == 0 {
            return Some(RouteState::Installed);
        }
        Some(RouteState::Pending)
    }

    /// The held-back prefixes and why (at most `limit`).
    pub fn held(&self, limit: usize) -> Vec<(IpNetwork, HoldReason)> {
        let mut v: Vec<_> = self.held.iter().map(|(p, r)| (*p, r.clone())).collect();
        v.sort_by_key(|(p, _)| *p);
        v.truncate(limit);
        v
    }

    /// How many prefixes are held back for each [`HoldReason::kind`].
    pub fn held_by_kind(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for r in self.held.values() {
            *m.entry(r.kind()).or_insert(0) += 1;
        }
        m
    }

    /// The last error of each failing prefix (at most 1000 kept).
    pub fn errors(&self) -> &BTreeMap<IpNetwork, String> {
        &self.errors
    }

    /// The routes bgpod wants in the kernel now (held-back prefixes excluded), sorted.
    pub fn wanted(&self) -> Vec<Route> {
        let mut v: Vec<Route> = self
            .table
            .iter()
            .filter(|(_, s)| is_desired(*s))
            .filter_map(|(p, s)| {
                if s.value == BLACKHOLE {
                    return self
                        .view
                        .owner_of(&p, BLACKHOLE_METRIC)
                        .is_none()
                        .then_some(Route {
                            prefix: p,
                            metric: BLACKHOLE_METRIC,
                            target: RouteTarget::Blackhole,
                        });
                }
                self.want(&p, s.value).map(|target| Route {
                    prefix: p,
                    metric: self.s.metric,
                    target,
                })
            })
            .collect();
        v.sort_by_key(|r| (r.prefix, r.metric));
        v
    }

    /// The kernel view (for tests and status).
    pub fn view(&self) -> &KernelView {
        &self.view
    }

    /// The settings this manager runs with.
    pub fn settings(&self) -> &ManagerSettings {
        &self.s
    }

    /// Number of distinct next-hop sets in use.
    pub fn next_hop_sets(&self) -> usize {
        self.sets.len()
    }
}
