//! Interned BGP next-hop sets and their resolution.
//!
//! A million prefixes from one session share a handful of next-hop sets, so each prefix stores
//! a 32-bit set id and the resolution (`resolve.rs`) is computed once per set, again whenever
//! the kernel view changes.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::resolve::{resolve, Unresolved};
use crate::types::{NextHop, RouteTarget};
use crate::view::KernelView;

/// Reserved set ids stored in the prefix table.
pub(crate) const NONE: u32 = u32::MAX;
pub(crate) const BLACKHOLE: u32 = u32::MAX - 1;

/// The result of resolving one set: the kernel next hops of the reachable members, or why
/// none is reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    Ok(Vec<NextHop>),
    Held(Vec<(IpAddr, Unresolved)>),
}

#[derive(Debug)]
struct Set {
    hops: Vec<IpAddr>,
    refs: u32,
    resolution: Resolution,
}

/// The interned sets.
#[derive(Debug, Default)]
pub(crate) struct NhSets {
    sets: Vec<Option<Set>>,
    index: HashMap<Vec<IpAddr>, u32>,
    free: Vec<u32>,
}

/// Resolves every member; members that do not resolve are left out of the route (an ECMP
/// route through the reachable ones is not broken), and the set is held only if none does.
fn resolve_set(view: &KernelView, hops: &[IpAddr], ipv4: bool) -> Resolution {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for &h in hops {
        if h.is_ipv4() != ipv4 {
            bad.push((h, Unresolved::Unsupported));
            continue;
        }
        match resolve(view, h) {
            Ok(mut r) => ok.append(&mut r),
            Err(e) => bad.push((h, e)),
        }
    }
    if ok.is_empty() {
        return Resolution::Held(bad);
    }
    ok.sort_unstable();
    ok.dedup();
    Resolution::Ok(ok)
}

impl NhSets {
    /// The id of `hops` (sorted, deduplicated), with one more reference.
    pub fn intern(&mut self, view: &KernelView, mut hops: Vec<IpAddr>) -> u32 {
        hops.sort_unstable();
        hops.dedup();
        if let Some(&id) = self.index.get(&hops) {
            if let Some(Some(s)) = self.sets.get_mut(id as usize) {
                s.refs += 1;
            }
            return id;
        }
        let ipv4 = hops.first().is_none_or(IpAddr::is_ipv4);
        let set = Set {
            resolution: resolve_set(view, &hops, ipv4),
            hops: hops.clone(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.sets[id as usize] = Some(set);
                id
            }
            None => {
                self.sets.push(Some(set));
                u32::try_from(self.sets.len() - 1).unwrap_or(BLACKHOLE - 1)
            }
        };
        self.index.insert(hops, id);
        id
    }

    /// Drops one reference to `id`.
    pub fn release(&mut self, id: u32) {
        if id >= BLACKHOLE {
            return;
        }
        let Some(slot) = self.sets.get_mut(id as usize) else {
            return;
        };
        let gone = match slot {
            Some(s) => {
                s.refs = s.refs.saturating_sub(1);
                s.refs == 0
            }
            None => false,
        };
        if gone {
            if let Some(s) = slot.take() {
                self.index.remove(&s.hops);
            }
            self.free.push(id);
        }
    }

    pub fn resolution(&self, id: u32) -> Option<&Resolution> {
        self.sets
            .get(id as usize)
            .and_then(Option::as_ref)
            .map(|s| &s.resolution)
    }

    pub fn hops(&self, id: u32) -> &[IpAddr] {
        self.sets
            .get(id as usize)
            .and_then(Option::as_ref)
            .map_or(&[], |s| &s.hops)
    }

    /// Resolves every set again; returns the ids whose resolution changed.
    pub fn reresolve(&mut self, view: &KernelView) -> Vec<u32> {
        let mut changed = Vec::new();
        for (id, slot) in self.sets.iter_mut().enumerate() {
            if let Some(s) = slot {
                let ipv4 = s.hops.first().is_none_or(IpAddr::is_ipv4);
                let r = resolve_set(view, &s.hops, ipv4);
                if r != s.resolution {
                    s.resolution = r;
                    changed.push(u32::try_from(id).unwrap_or(NONE));
                }
            }
        }
        changed
    }

    /// Whether a resolved next hop of a live set goes out through interface `i`.
    pub fn uses_ifindex(&self, i: u32) -> bool {
        self.sets.iter().flatten().any(|s| match &s.resolution {
            Resolution::Ok(hops) => hops.iter().any(|h| h.ifindex == i),
            Resolution::Held(_) => false,
        })
    }

    /// Number of live sets.
    pub fn len(&self) -> usize {
        self.index.len()
    }
}

/// A 32-bit fingerprint of a route's forwarding, to tell whether the kernel already holds
/// what bgpod wants without storing the kernel's copy.
pub(crate) fn fingerprint(target: &RouteTarget) -> u32 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    target.hash(&mut h);
    let v = h.finish();
    // Truncation intended: fold to 32 bits.
    #[allow(clippy::cast_possible_truncation)]
    let folded = (v ^ (v >> 32)) as u32;
    folded
}

/// FNV-1a: stable across runs and Rust versions (the fingerprint is compared with routes
/// read back from the kernel, never persisted, but a fixed function keeps tests exact).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
