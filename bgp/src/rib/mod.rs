//! The Routing Information Bases (RFC 4271 §3.2, §9): Adj-RIBs-In, Loc-RIB, Adj-RIBs-Out.
//!
//! [`Rib`] is sans-IO: each event the daemon's RIB task sees — our prefixes changed, a session
//! came up or went down, an UPDATE or a ROUTE-REFRESH arrived — is one method call that
//! returns [`RibChanges`]: best-route changes for the kernel ([`FibChange`]) and what to send
//! each peer ([`Export`]).
//!
//! ## Layout, and why
//! * One prefix table (`loc_rib`) maps each prefix to all its candidate paths — the routes
//!   of every peer's Adj-RIB-In for that prefix, plus our own origination — kept in decision
//!   order ([`crate::decision::rank`]), so the head is the Loc-RIB route and the leading run
//!   the multipath set. One hash slot and, for a single path, no heap allocation per prefix:
//!   ~26 bytes a prefix with one path at a million IPv4 prefixes, index included.
//! * Attributes are interned (`adj_rib_in::Interner`): all paths with equal attributes share
//!   one `Arc`, whichever UPDATE or peer they came in. So are paths: a [`Path`] is one
//!   pointer to the [`PathData`] (source, peer constants, attributes, next hop) that every
//!   prefix of its UPDATE shares.
//! * Adj-RIBs-Out are not stored (`export`): the view of a route toward a peer is a pure
//!   function of the route and the session, so each change compares the view before and
//!   after, and sends the difference only.
//! * Every call re-runs the decision only for the prefixes it touched: an UPDATE of n
//!   prefixes costs O(n × peers); no call but `peer_up`, `peer_down` and `route_refresh`
//!   walks the table.
//!
//! ## Behaviour choices
//! * Our own prefixes always win the decision and are never installed in the FIB; a learned
//!   route that was installed for a prefix we then originate is removed.
//! * A path whose next hop is missing or ours stays in the Adj-RIB-In but is never selected.
//! * An UPDATE whose AS_PATH holds our ASN withdraws the peer's previous path for its
//!   prefixes and is counted ([`PeerCounters::as_loop`]).

mod adj_rib_in;
mod export;
mod loc_rib;
mod path;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use tracing::{debug, error, info, trace, warn};

pub use export::Export;
pub use path::{Path, PathData};

use crate::decision;
use crate::wire::prefix::Prefix;
use crate::wire::{Afi, AsPath, Origin, PathAttributes, Safi, Update};
use adj_rib_in::{of_afi, usable_next_hop, Interner};
use export::{ExportBuilder, View};
use loc_rib::{Entry, PrefixTable, Slot};

/// Identifies a configured peer; assigned by the daemon, stable across sessions.
pub type PeerId = u32;

/// This speaker's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSettings {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    /// ECMP width: how many equal paths a prefix may install (values below 1 count as 1).
    pub max_paths: usize,
}

/// A peer whose session reached Established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub id: PeerId,
    /// The peer's transport address.
    pub address: IpAddr,
    /// Our side of the TCP connection: the next hop we send (next-hop-self).
    pub local_address: IpAddr,
    /// The global IPv6 next hop to send for IPv6 prefixes over an IPv4 session. `None` on an
    /// IPv4 session: IPv6 prefixes are not sent to this peer (and are counted in
    /// [`PeerCounters::export_no_next_hop`]). On an IPv6 session `local_address` is used.
    pub local_v6_next_hop: Option<Ipv6Addr>,
    pub asn: u32,
    pub bgp_id: Ipv4Addr,
    pub ibgp: bool,
    /// Re-advertise learned routes to this eBGP peer (route server, transit). Default false:
    /// eBGP peers are sent only our own prefixes.
    pub export_learned: bool,
    /// The negotiated `<AFI, SAFI>`s. Empty means the peer advertised no Multiprotocol
    /// capability, which is IPv4 unicast only.
    pub families: Vec<(Afi, Safi)>,
    pub four_octet_as: bool,
}

impl PeerInfo {
    /// Whether routes of this family are exchanged with the peer (RFC 4760 §8; a speaker
    /// without the capability carries IPv4 unicast only).
    pub fn negotiated(&self, afi: Afi, safi: Safi) -> bool {
        safi == Safi::Unicast
            && if self.families.is_empty() {
                afi == Afi::Ipv4
            } else {
                self.families.contains(&(afi, safi))
            }
    }
}

/// Where a path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSource {
    /// One of our own prefixes ([`Rib::set_local_prefixes`]).
    Local,
    Peer(PeerId),
}

/// The result of one RIB call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RibChanges {
    pub fib: Vec<FibChange>,
    /// At most one [`Export`] per peer, none empty.
    pub exports: Vec<(PeerId, Export)>,
}

impl RibChanges {
    pub fn is_empty(&self) -> bool {
        self.fib.is_empty() && self.exports.is_empty()
    }
}

/// A change of a prefix's forwarding: emitted only when its set of next hops changes, never
/// for our own prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibChange {
    /// Install or replace: the ECMP set, best first, without duplicates.
    Install {
        prefix: Prefix,
        next_hops: Vec<IpAddr>,
    },
    /// No usable learned route is left (or our own prefix took over).
    Remove { prefix: Prefix },
}

/// Per-peer counters, for logs and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Announced prefixes rejected because the AS_PATH holds our ASN (RFC 4271 §9.1.2).
    pub as_loop: u64,
    /// UPDATEs handled as treat-as-withdraw (RFC 7606 §2).
    pub treat_as_withdraw: u64,
    /// Prefixes ignored because their family was not negotiated or is not unicast.
    pub ignored_family: u64,
    /// Prefixes received with a next hop that is missing or ours (kept, never selected).
    pub unusable_next_hop: u64,
    /// Announcements not sent to this peer for want of a next hop of the prefix's family.
    pub export_no_next_hop: u64,
}

#[derive(Debug)]
struct PeerState {
    info: PeerInfo,
    adj_in: usize,
    adj_out: usize,
    counters: PeerCounters,
}

/// What one call accumulates.
#[derive(Debug, Default)]
struct Work {
    fib: Vec<FibChange>,
    exports: BTreeMap<PeerId, ExportBuilder>,
    /// Paths taken off the table (and the UPDATE's own handles), for the interner to forget.
    dropped: Vec<Path>,
}

/// Adj-RIBs-In, Loc-RIB and Adj-RIBs-Out (RFC 4271 §3.2) with the §9 decision process.
#[derive(Debug)]
pub struct Rib {
    local: LocalSettings,
    table: PrefixTable,
    peers: BTreeMap<PeerId, PeerState>,
    local_prefixes: BTreeSet<Prefix>,
    /// The path of each of our own prefixes: ORIGIN IGP and an empty AS_PATH before export.
    local_path: Path,
    interner: Interner,
    /// Our addresses on the sessions that are up (a next hop that is one of them is unusable),
    /// with how many sessions use each.
    our_addresses: HashMap<IpAddr, usize>,
}

impl Rib {
    pub fn new(mut local: LocalSettings) -> Rib {
        local.max_paths = local.max_paths.max(1);
        let local_path = Path::new(PathData {
            source: PathSource::Local,
            peer_address: None,
            peer_bgp_id: local.router_id,
            ibgp: false,
            attrs: Arc::new(PathAttributes {
                // RFC 4271 §5.1.1: IGP — "Network Layer Reachability Information is interior
                // to the originating AS".
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                ..PathAttributes::default()
            }),
            next_hop: None,
            eligible: true,
        });
        Rib {
            local,
            table: PrefixTable::default(),
            peers: BTreeMap::new(),
            local_prefixes: BTreeSet::new(),
            local_path,
            interner: Interner::default(),
            our_addresses: HashMap::new(),
        }
    }

    /// The node's own prefixes (pod CIDRs, IPv4 and IPv6). Replaces the previous set; the
    /// difference is announced / withdrawn to every peer.
    pub fn set_local_prefixes(&mut self, prefixes: Vec<Prefix>) -> RibChanges {
        let new: BTreeSet<Prefix> = prefixes.into_iter().map(normalize).collect();
        let removed: Vec<Prefix> = self.local_prefixes.difference(&new).copied().collect();
        let added: Vec<Prefix> = new.difference(&self.local_prefixes).copied().collect();
        info!(
            added = added.len(),
            removed = removed.len(),
            "local prefixes changed"
        );
        let mut work = Work::default();
        for prefix in &removed {
            if let Some(slot) = self.table.find(prefix) {
                self.change(&mut work, slot, |e, _| {
                    e.remove(PathSource::Local);
                });
            }
        }
        for prefix in &added {
            let path = self.local_path();
            match self.table.find_or_insert(*prefix) {
                Some(slot) => {
                    self.change(&mut work, slot, |e, _| {
                        e.upsert(path);
                    });
                }
                None => error!(%prefix, "prefix table full: local prefix not originated"),
            }
        }
        self.local_prefixes = new;
        self.finish(work)
    }

    /// A session reached Established: remember the peer and send it the full initial export.
    /// Calling it for a peer that is already up first takes the old session down.
    pub fn peer_up(&mut self, mut peer: PeerInfo) -> RibChanges {
        let mut changes = RibChanges::default();
        if self.peers.contains_key(&peer.id) {
            warn!(
                peer = peer.id,
                "peer_up for a peer that is up: dropping its old routes first"
            );
            changes = self.peer_down(peer.id);
        }
        peer.address = peer.address.to_canonical();
        peer.local_address = peer.local_address.to_canonical();
        for (afi, name) in [(Afi::Ipv4, "IPv4"), (Afi::Ipv6, "IPv6")] {
            let v6 = afi == Afi::Ipv6;
            let have = if v6 {
                peer.local_v6_next_hop.is_some() || peer.local_address.is_ipv6()
            } else {
                peer.local_address.is_ipv4()
            };
            if peer.negotiated(afi, Safi::Unicast) && !have {
                warn!(
                    peer = peer.id,
                    family = name,
                    "family negotiated but no next hop of that family for this session: \
                     its prefixes will not be advertised to the peer"
                );
            }
        }
        for a in own_addresses(&peer) {
            *self.our_addresses.entry(a).or_default() += 1;
        }
        let mut state = PeerState {
            info: peer,
            adj_in: 0,
            adj_out: 0,
            counters: PeerCounters::default(),
        };
        let mut builder = ExportBuilder::default();
        for (prefix, entry) in self.table.iter() {
            if let Some(best) = entry.best() {
                match builder.view(&self.local, &state.info, &prefix, best) {
                    View::Send(attrs) => {
                        builder.announce(attrs, prefix);
                        state.adj_out += 1;
                    }
                    View::NoNextHop => state.counters.export_no_next_hop += 1,
                    View::Filtered => {}
                }
            }
        }
        info!(
            peer = state.info.id,
            prefixes = state.adj_out,
            "peer up: initial export"
        );
        let id = state.info.id;
        if let Some(e) = builder.finish() {
            changes.exports.push((id, e));
        }
        self.peers.insert(id, state);
        changes
    }

    /// The session went down. RFC 4271 §9: the routes learned from the peer are removed, the
    /// decision re-run for their prefixes, the FIB and the other peers updated.
    pub fn peer_down(&mut self, peer: PeerId) -> RibChanges {
        let Some(state) = self.peers.remove(&peer) else {
            debug!(peer, "peer_down for a peer that is not up: nothing to do");
            return RibChanges::default();
        };
        for a in own_addresses(&state.info) {
            if let Some(n) = self.our_addresses.get_mut(&a) {
                *n -= 1;
                if *n == 0 {
                    self.our_addresses.remove(&a);
                }
            }
        }
        let source = PathSource::Peer(peer);
        let mut work = Work::default();
        let mut n = 0;
        while n < self.table.len() {
            let slot = self.table.nth_slot(n);
            if self.table.entry(slot).position(source).is_none() {
                n += 1;
                continue;
            }
            // A removed slot is refilled by one not seen yet: look at position `n` again.
            let ((), removed) = self.change(&mut work, slot, |e, _| {
                e.remove(source);
            });
            if !removed {
                n += 1;
            }
        }
        self.table.shrink_if_sparse();
        let changes = self.finish(work);
        self.interner.sweep();
        info!(
            peer,
            withdrawn = state.adj_in,
            "peer down: its routes removed"
        );
        changes
    }

    /// Applies an UPDATE from `peer` to its Adj-RIB-In and re-runs the decision for the
    /// prefixes it carries.
    pub fn update(&mut self, peer: PeerId, update: Update) -> RibChanges {
        let Some(state) = self.peers.get_mut(&peer) else {
            warn!(peer, "UPDATE from a peer that is not up: ignored");
            return RibChanges::default();
        };
        let import = adj_rib_in::import(update, &state.info, self.local.asn, &mut self.interner);
        let c = &mut state.counters;
        c.ignored_family += import.ignored as u64;
        c.as_loop += import.looped as u64;
        if import.treat_as_withdraw {
            c.treat_as_withdraw += 1;
            debug!(
                peer,
                prefixes = import.withdraw.len(),
                "UPDATE treated as withdraw (RFC 7606)"
            );
        }
        if import.looped > 0 {
            debug!(
                peer,
                prefixes = import.looped,
                "AS_PATH holds our ASN: routes rejected"
            );
        }
        let source = PathSource::Peer(peer);
        let (address, bgp_id, ibgp) = (state.info.address, state.info.bgp_id, state.info.ibgp);
        let mut work = Work::default();
        let (mut added, mut removed, mut unusable) = (0usize, 0usize, 0u64);

        for prefix in &import.withdraw {
            let Some(slot) = self.table.find(prefix) else {
                continue;
            };
            if self.table.entry(slot).position(source).is_none() {
                continue;
            }
            trace!(peer, %prefix, "withdraw");
            self.change(&mut work, slot, |e, dropped| {
                if let Some(old) = e.remove(source) {
                    dropped.push(old);
                }
            });
            removed += 1;
        }
        if let Some(attrs) = import.attrs {
            // The path of the prefixes announced via one next hop, shared by all of them: one
            // UPDATE has at most two next hops (NEXT_HOP and MP_REACH_NLRI's).
            let mut current: Option<Path> = None;
            for &(prefix, next_hop) in &import.announce {
                let path = match &current {
                    Some(p) if p.next_hop == next_hop => p.clone(),
                    _ => {
                        let path = self.interner.path(PathData {
                            source,
                            peer_address: Some(address),
                            peer_bgp_id: bgp_id,
                            ibgp,
                            attrs: Arc::clone(&attrs),
                            next_hop,
                            eligible: usable_next_hop(next_hop, &self.our_addresses),
                        });
                        // The UPDATE's own handle: if no prefix kept the path, the interner
                        // forgets it.
                        work.dropped.extend(current.replace(path.clone()));
                        path
                    }
                };
                let Some(slot) = self.table.find_or_insert(prefix) else {
                    error!(peer, %prefix, "prefix table full: route dropped");
                    continue;
                };
                if !path.eligible {
                    unusable += 1;
                }
                if self.table.entry(slot).paths().contains(&path) {
                    // The same route again: nothing changes.
                    continue;
                }
                trace!(peer, %prefix, ?next_hop, "announce");
                let (replaced, _) = self.change(&mut work, slot, |e, dropped| {
                    e.upsert(path).map(|old| dropped.push(old)).is_some()
                });
                if !replaced {
                    added += 1;
                }
            }
            work.dropped.extend(current);
        }
        if unusable > 0 {
            debug!(
                peer,
                prefixes = unusable,
                "next hop missing or ours: routes kept, not used"
            );
        }
        if let Some(state) = self.peers.get_mut(&peer) {
            state.adj_in = state.adj_in + added - removed;
            state.counters.unusable_next_hop += unusable;
        }
        if removed > 0 {
            // A peer that withdrew most of a large table gives its memory back.
            self.table.shrink_if_sparse();
        }
        self.finish(work)
    }

    /// RFC 2918 §4: re-advertise the whole Adj-RIB-Out of one family to the peer. A family
    /// the peer did not negotiate is ignored ("the speaker shall ignore such a message").
    pub fn route_refresh(&mut self, peer: PeerId, afi: Afi, safi: Safi) -> RibChanges {
        let Some(state) = self.peers.get(&peer) else {
            debug!(peer, "ROUTE-REFRESH from a peer that is not up: ignored");
            return RibChanges::default();
        };
        if !state.info.negotiated(afi, safi) {
            debug!(
                peer,
                ?afi,
                ?safi,
                "ROUTE-REFRESH for a family not negotiated: ignored"
            );
            return RibChanges::default();
        }
        let mut builder = ExportBuilder::default();
        for (prefix, entry) in self.table.iter() {
            if !of_afi(&prefix, afi) {
                continue;
            }
            if let Some(best) = entry.best() {
                if let View::Send(attrs) = builder.view(&self.local, &state.info, &prefix, best) {
                    builder.announce(attrs, prefix);
                }
            }
        }
        RibChanges {
            fib: Vec::new(),
            exports: builder
                .finish()
                .map(|e| vec![(peer, e)])
                .unwrap_or_default(),
        }
    }

    /// Every prefix with all its candidate paths, the selected ones first (for `bgpod
    /// routes`). Paths after the multipath set are in decision order, unusable ones last.
    pub fn loc_rib(&self) -> impl Iterator<Item = (Prefix, &[Path])> + '_ {
        self.table.iter().map(|(p, e)| (p, e.paths()))
    }

    /// The selected multipath set of a prefix, best first; `None` when no path is usable.
    pub fn best(&self, prefix: &Prefix) -> Option<&[Path]> {
        let paths = self.table.get(prefix)?.paths();
        let n = decision::selected_len(paths, self.local.max_paths);
        (n > 0).then(|| &paths[..n])
    }

    /// How many prefixes the peer's Adj-RIB-In holds (usable or not).
    pub fn adj_rib_in_count(&self, peer: PeerId) -> usize {
        self.peers.get(&peer).map_or(0, |s| s.adj_in)
    }

    /// How many prefixes are currently advertised to the peer.
    pub fn adj_rib_out_count(&self, peer: PeerId) -> usize {
        self.peers.get(&peer).map_or(0, |s| s.adj_out)
    }

    /// The peer's counters; `None` when it is not up.
    pub fn peer_counters(&self, peer: PeerId) -> Option<PeerCounters> {
        self.peers.get(&peer).map(|s| s.counters)
    }

    /// How many prefixes have at least one path (ours or learned).
    pub fn prefix_count(&self) -> usize {
        self.table.len()
    }

    /// How many distinct attribute sets the learned paths share (interned).
    pub fn attribute_set_count(&self) -> usize {
        self.interner.len()
    }

    fn local_path(&self) -> Path {
        self.local_path.clone()
    }

    /// Changes one prefix's paths with `f`, re-runs the decision for it, and records the FIB
    /// change and every peer's export that follow. Returns `f`'s result and whether the
    /// prefix left the table (its slot is then refilled by the last one of its family).
    fn change<R>(
        &mut self,
        work: &mut Work,
        slot: Slot,
        f: impl FnOnce(&mut Entry, &mut Vec<Path>) -> R,
    ) -> (R, bool) {
        let max = self.local.max_paths;
        let entry = self.table.entry_mut(slot);
        let before_n = decision::selected_len(entry.paths(), max);
        let before_best = entry.paths().first().filter(|_| before_n > 0).cloned();
        let before_fib = fib_next_hops(&entry.paths()[..before_n]);

        let result = f(entry, &mut work.dropped);
        let after_n = decision::rank(entry.paths_mut(), max);

        let prefix = self.table.prefix(slot);
        let paths = self.table.entry(slot).paths();
        let after_fib = fib_next_hops(&paths[..after_n]);
        if !same_set(&before_fib, &after_fib) {
            trace!(%prefix, next_hops = ?after_fib, "best route changed");
            work.fib.push(if after_fib.is_empty() {
                FibChange::Remove { prefix }
            } else {
                FibChange::Install {
                    prefix,
                    next_hops: after_fib,
                }
            });
        }
        let after_best = paths.first().filter(|_| after_n > 0);
        if before_best.as_ref() != after_best {
            for state in self.peers.values_mut() {
                let builder = work.exports.entry(state.info.id).or_default();
                export_diff(
                    &self.local,
                    state,
                    builder,
                    &prefix,
                    before_best.as_ref(),
                    after_best,
                );
            }
        }
        let removed = self.table.entry(slot).is_empty();
        if removed {
            self.table.remove(slot);
        }
        (result, removed)
    }

    fn finish(&mut self, work: Work) -> RibChanges {
        let exports = work
            .exports
            .into_iter()
            .filter_map(|(id, b)| b.finish().map(|e| (id, e)))
            .collect();
        // The builders (which hold attribute handles) are gone: unused sets can be forgotten.
        self.interner.release(work.dropped);
        RibChanges {
            fib: work.fib,
            exports,
        }
    }
}

/// Records in `builder` what `peer` must be sent now that `prefix`'s best path went from
/// `old` to `new`.
fn export_diff(
    local: &LocalSettings,
    state: &mut PeerState,
    builder: &mut ExportBuilder,
    prefix: &Prefix,
    old: Option<&Path>,
    new: Option<&Path>,
) {
    let old = old.and_then(|p| builder.view(local, &state.info, prefix, p).sent());
    let new = new.map(|p| builder.view(local, &state.info, prefix, p));
    if matches!(new, Some(View::NoNextHop)) {
        state.counters.export_no_next_hop += 1;
    }
    match (old, new.and_then(View::sent)) {
        (Some(o), Some(n)) if Arc::ptr_eq(&o, &n) || o == n => {}
        (old, Some(n)) => {
            builder.announce(n, *prefix);
            if old.is_none() {
                state.adj_out += 1;
            }
        }
        (Some(_), None) => {
            builder.withdraw(*prefix);
            state.adj_out = state.adj_out.saturating_sub(1);
        }
        (None, None) => {}
    }
}

/// The FIB next hops of a selected set: none for our own prefix, else the next hops in order
/// without duplicates.
fn fib_next_hops(selected: &[Path]) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    if selected
        .first()
        .is_some_and(|p| p.source == PathSource::Local)
    {
        return out;
    }
    for nh in selected.iter().filter_map(|p| p.next_hop) {
        if !out.contains(&nh) {
            out.push(nh);
        }
    }
    out
}

/// Set equality of two duplicate-free lists: the kernel route does not change when only the
/// order of its next hops does.
fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// Our addresses on a session: a route with one of them as next hop points back at us.
fn own_addresses(peer: &PeerInfo) -> impl Iterator<Item = IpAddr> {
    std::iter::once(peer.local_address.to_canonical()).chain(peer.local_v6_next_hop.map(IpAddr::V6))
}

/// The prefix with its host bits cleared, as the decoder produces them.
fn normalize(p: Prefix) -> Prefix {
    Prefix::new(p.network(), p.prefix()).unwrap_or(p)
}
