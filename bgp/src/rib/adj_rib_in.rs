//! Import: one UPDATE becomes prefixes to withdraw from and paths to put into the peer's
//! Adj-RIB-In (RFC 4271 §3.2, §9; RFC 4760; RFC 7606).
//!
//! The Adj-RIB-In itself is not a separate table: each prefix's entry in the prefix table holds
//! the path of every peer that announced it (see `loc_rib`), so a prefix costs one hash slot
//! however many peers send it. Path attributes are interned: every UPDATE with the same
//! attributes — from any peer — shares one `Arc<PathAttributes>`, so a peer that sends a
//! million prefixes one per UPDATE costs one attribute set, not a million. The paths are
//! interned on top: the prefixes of one peer with the same attributes and next hop share one
//! [`Path`], whatever UPDATE they came in.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use hashbrown::HashTable;

use super::{Path, PathData, PathSource, PeerInfo};
use crate::wire::prefix::Prefix;
use crate::wire::{Afi, AsPath, PathAttributes, Safi, Update};

/// What one UPDATE asks of the peer's Adj-RIB-In, ready to apply: withdrawals first, then
/// announcements, with every prefix at most once across both lists.
#[derive(Debug, Default)]
pub(super) struct Import {
    pub withdraw: Vec<Prefix>,
    /// Announced prefixes with their next hop (from NEXT_HOP or MP_REACH_NLRI).
    pub announce: Vec<(Prefix, Option<IpAddr>)>,
    /// The interned attributes shared by every announced prefix (MP_REACH_NLRI and
    /// MP_UNREACH_NLRI moved out); `None` when nothing is announced.
    pub attrs: Option<Arc<PathAttributes>>,
    /// Announced prefixes rejected because the AS_PATH holds our ASN.
    pub looped: usize,
    /// Prefixes of families that were not negotiated, or are not unicast.
    pub ignored: usize,
    pub treat_as_withdraw: bool,
}

/// Splits an UPDATE received from `peer` into withdrawals and announcements.
pub(super) fn import(
    update: Update,
    peer: &PeerInfo,
    local_asn: u32,
    interner: &mut Interner,
) -> Import {
    let treat_as_withdraw = update.treat_as_withdraw();
    let Update {
        withdrawn,
        attributes: mut attrs,
        nlri,
        ..
    } = update;
    let mp_reach = attrs.mp_reach.take();
    let mp_unreach = attrs.mp_unreach.take();
    let mut out = Import {
        treat_as_withdraw,
        ..Import::default()
    };

    // RFC 4271 §4.3: the Withdrawn Routes and NLRI fields carry IPv4 unicast prefixes only.
    let ipv4 = peer.negotiated(Afi::Ipv4, Safi::Unicast);
    accept(
        &mut out.withdraw,
        &mut out.ignored,
        ipv4,
        Afi::Ipv4,
        withdrawn,
        |p| p,
    );
    // RFC 4760 §4: MP_UNREACH_NLRI withdraws the prefixes of its <AFI, SAFI>.
    if let Some(u) = mp_unreach {
        let ok = peer.negotiated(u.afi, u.safi);
        accept(
            &mut out.withdraw,
            &mut out.ignored,
            ok,
            u.afi,
            u.withdrawn,
            |p| p,
        );
    }
    let next_hop = attrs.next_hop.map(IpAddr::V4);
    accept(
        &mut out.announce,
        &mut out.ignored,
        ipv4,
        Afi::Ipv4,
        nlri,
        |p| (p, next_hop),
    );
    // RFC 4760 §3: MP_REACH_NLRI announces the prefixes of its <AFI, SAFI> via its next hop.
    if let Some(r) = mp_reach {
        let ok = peer.negotiated(r.afi, r.safi);
        let next_hop = mp_next_hop(&r.next_hops);
        accept(
            &mut out.announce,
            &mut out.ignored,
            ok,
            r.afi,
            r.nlri,
            |p| (p, next_hop),
        );
    }

    if out.announce.is_empty() {
        return out;
    }
    if treat_as_withdraw {
        // RFC 7606 §2: "the UPDATE message containing the path attribute in question MUST be
        // treated as though all contained routes had been withdrawn just as if they had been
        // listed in the WITHDRAWN ROUTES field (or in the MP_UNREACH_NLRI attribute if
        // appropriate)".
        out.withdraw.extend(out.announce.drain(..).map(|(p, _)| p));
        return out;
    }
    if as_path_contains(attrs.as_path.as_ref(), local_asn) {
        // RFC 4271 §9.1.2: "AS loop detection is done by scanning the full AS_PATH ... and
        // checking that the autonomous system number of the local system does not appear in
        // the AS_PATH." Such a route is not used; as an announcement it still replaces — and
        // so withdraws — the peer's previous path for the prefix.
        out.looped = out.announce.len();
        out.withdraw.extend(out.announce.drain(..).map(|(p, _)| p));
        return out;
    }

    // An announcement of a prefix also withdrawn in this UPDATE wins (withdrawals are applied
    // first); a prefix announced twice keeps its last next hop.
    if out.announce.len() > 1 || !out.withdraw.is_empty() {
        let mut seen = HashSet::with_capacity(out.announce.len());
        out.announce.reverse();
        out.announce.retain(|(p, _)| seen.insert(*p));
        out.announce.reverse();
        out.withdraw.retain(|p| !seen.contains(p));
    }
    if !peer.ibgp {
        // RFC 4271 §5.1.5: LOCAL_PREF received from an external peer "MUST be ignored by the
        // receiving speaker".
        attrs.local_pref = None;
    }
    out.attrs = Some(interner.intern(attrs));
    out
}

/// Appends `prefixes` of family `afi` if the family is accepted, else counts them as ignored.
fn accept<T>(
    to: &mut Vec<T>,
    ignored: &mut usize,
    family_ok: bool,
    afi: Afi,
    prefixes: Vec<Prefix>,
    f: impl Fn(Prefix) -> T,
) {
    let before = prefixes.len();
    if family_ok {
        let start = to.len();
        to.extend(prefixes.into_iter().filter(|p| of_afi(p, afi)).map(f));
        *ignored += before - (to.len() - start);
    } else {
        *ignored += before;
    }
}

/// Whether a prefix belongs to an address family.
pub(super) fn of_afi(prefix: &Prefix, afi: Afi) -> bool {
    match afi {
        Afi::Ipv4 => prefix.is_ipv4(),
        Afi::Ipv6 => prefix.is_ipv6(),
        Afi::Unknown(_) => false,
    }
}

/// The next hop to install from an MP_REACH_NLRI next-hop list: the global address (RFC 2545
/// §3), or the link-local one when the speaker sent no usable global address.
fn mp_next_hop(next_hops: &[IpAddr]) -> Option<IpAddr> {
    let global = |a: &&IpAddr| !a.is_unspecified() && !is_link_local(a);
    next_hops
        .iter()
        .find(global)
        .or_else(|| next_hops.iter().find(|a| !a.is_unspecified()))
        .copied()
}

/// fe80::/10 (`Ipv6Addr::is_unicast_link_local` needs a newer Rust than the crate's MSRV).
pub(super) fn is_link_local(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if is_v6_link_local(v6))
}

fn is_v6_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

/// Whether `asn` appears anywhere in the AS_PATH, sets and confederation segments included.
pub(super) fn as_path_contains(as_path: Option<&AsPath>, asn: u32) -> bool {
    use crate::wire::AsPathSegment::*;
    as_path.is_some_and(|p| {
        p.segments.iter().any(|s| match s {
            Sequence(v) | Set(v) | ConfedSequence(v) | ConfedSet(v) => v.contains(&asn),
        })
    })
}

/// Whether a path via `next_hop` can be used (RFC 4271 §9.1.2: a route whose NEXT_HOP is
/// unresolvable "MUST be excluded from the Phase 2 decision function").
///
/// RFC 4271 §6.3: the NEXT_HOP "MUST NOT be the IP address of the receiving speaker"; if it
/// is, "the error SHOULD be logged, and the route SHOULD be ignored" — bgpod keeps it in the
/// Adj-RIB-In (so `bgpod routes` shows it) but never selects it.
pub(super) fn usable_next_hop(next_hop: Option<IpAddr>, ours: &HashMap<IpAddr, usize>) -> bool {
    next_hop.is_some_and(|a| {
        let a = a.to_canonical();
        !a.is_unspecified() && !a.is_multicast() && !ours.contains_key(&a)
    })
}

/// One shared `Arc` per distinct attribute set in use, and one shared [`Path`] per distinct
/// path data (source, attributes, next hop) in use.
#[derive(Debug, Default)]
pub(super) struct Interner {
    set: HashSet<Arc<PathAttributes>>,
    /// Hashed by [`path_key`]: the attribute set by address, since it is interned first.
    paths: HashTable<Path>,
    hasher: RandomState,
}

/// What a path's data is hashed by: everything but the peer's constants, which are fixed
/// by the source while its session is up (and compared all the same).
fn path_key(d: &PathData) -> (PathSource, *const PathAttributes, Option<IpAddr>, bool) {
    (d.source, Arc::as_ptr(&d.attrs), d.next_hop, d.eligible)
}

impl Interner {
    pub(super) fn intern(&mut self, attrs: PathAttributes) -> Arc<PathAttributes> {
        if let Some(a) = self.set.get(&attrs) {
            return Arc::clone(a);
        }
        let a = Arc::new(attrs);
        self.set.insert(Arc::clone(&a));
        a
    }

    /// The shared path for `data`, whose `attrs` come from [`Interner::intern`].
    pub(super) fn path(&mut self, data: PathData) -> Path {
        let hash = self.hasher.hash_one(path_key(&data));
        let hasher = &self.hasher;
        self.paths
            .entry(hash, |p| **p == data, |p| hasher.hash_one(path_key(p)))
            .or_insert_with(|| Path::new(data))
            .get()
            .clone()
    }

    /// Forgets the paths among `dropped` (handles taken off the table, or the UPDATE's own)
    /// that no prefix uses any more, then the attribute sets no path uses any more.
    pub(super) fn release(&mut self, mut dropped: Vec<Path>) {
        dropped.sort_unstable_by_key(Path::as_ptr);
        dropped.dedup_by(|a, b| a.ptr_eq(b));
        let mut attrs = Vec::new();
        for p in dropped {
            // Two handles left: the interner's and this one.
            if p.handles() != 2 {
                continue;
            }
            let hash = self.hasher.hash_one(path_key(&p));
            if let Ok(kept) = self.paths.find_entry(hash, |k| k.ptr_eq(&p)) {
                kept.remove();
                attrs.push(Arc::clone(&p.attrs));
            }
        }
        attrs.sort_unstable_by_key(Arc::as_ptr);
        attrs.dedup_by(|a, b| Arc::ptr_eq(a, b));
        for a in attrs {
            // Two handles left: the interner's and this one.
            if Arc::strong_count(&a) == 2
                && self.set.get(&*a).is_some_and(|kept| Arc::ptr_eq(kept, &a))
            {
                self.set.remove(&*a);
            }
        }
    }

    /// Forgets every path no prefix uses any more, then every attribute set no path uses.
    pub(super) fn sweep(&mut self) {
        self.paths.retain(|p| p.handles() > 1);
        self.set.retain(|a| Arc::strong_count(a) > 1);
    }

    /// How many attribute sets are interned.
    pub(super) fn len(&self) -> usize {
        self.set.len()
    }

    /// How many paths are interned.
    #[cfg(test)]
    pub(super) fn path_count(&self) -> usize {
        self.paths.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::wire::{AsPathSegment, AttrAction, AttrFault, MpReach, MpUnreach, Origin};

    fn p(s: &str) -> Prefix {
        s.parse().expect("test prefix")
    }

    fn peer(ibgp: bool, families: Vec<(Afi, Safi)>) -> PeerInfo {
        PeerInfo {
            id: 1,
            address: "10.0.0.1".parse().expect("addr"),
            local_address: "10.0.0.2".parse().expect("addr"),
            local_v6_next_hop: None,
            asn: if ibgp { 64512 } else { 65001 },
            bgp_id: Ipv4Addr::new(10, 0, 0, 1),
            ibgp,
            export_learned: false,
            families,
            four_octet_as: true,
        }
    }

    fn dual() -> Vec<(Afi, Safi)> {
        vec![(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)]
    }

    fn attrs(path: &[u32]) -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath {
                segments: vec![AsPathSegment::Sequence(path.to_vec())],
            }),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            local_pref: Some(300),
            ..Default::default()
        }
    }

    #[test]
    fn splits_ipv4_and_ipv6_and_strips_mp_attributes() {
        let mut a = attrs(&[65001]);
        a.mp_reach = Some(MpReach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            next_hops: vec![
                "fe80::1".parse().expect("addr"),
                "2001:db8::1".parse().expect("addr"),
            ],
            nlri: vec![p("2001:db8:1::/48")],
        });
        a.mp_unreach = Some(MpUnreach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            withdrawn: vec![p("2001:db8:2::/48")],
        });
        let u = Update {
            withdrawn: vec![p("10.9.0.0/16")],
            attributes: a,
            nlri: vec![p("10.1.0.0/16")],
            faults: vec![],
        };
        let mut i = Interner::default();
        let out = import(u, &peer(false, dual()), 64512, &mut i);
        assert_eq!(out.withdraw, vec![p("10.9.0.0/16"), p("2001:db8:2::/48")]);
        assert_eq!(
            out.announce,
            vec![
                (p("10.1.0.0/16"), Some("10.0.0.1".parse().expect("addr"))),
                (
                    p("2001:db8:1::/48"),
                    Some("2001:db8::1".parse().expect("addr"))
                ),
            ]
        );
        let attrs = out.attrs.expect("announced");
        assert!(attrs.mp_reach.is_none() && attrs.mp_unreach.is_none());
        assert_eq!(attrs.local_pref, None, "eBGP LOCAL_PREF is ignored");
    }

    #[test]
    fn ignores_families_not_negotiated() {
        let mut a = attrs(&[65001]);
        a.mp_reach = Some(MpReach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            next_hops: vec!["2001:db8::1".parse().expect("addr")],
            nlri: vec![p("2001:db8:1::/48")],
        });
        let u = Update {
            attributes: a.clone(),
            nlri: vec![p("10.1.0.0/16")],
            ..Default::default()
        };
        let mut i = Interner::default();
        let out = import(u.clone(), &peer(true, vec![]), 64512, &mut i);
        assert_eq!(out.announce.len(), 1, "no MP capability: IPv4 unicast only");
        assert_eq!(out.ignored, 1);
        assert_eq!(out.attrs.expect("announced").local_pref, Some(300));
        let out = import(
            u,
            &peer(true, vec![(Afi::Ipv6, Safi::Unicast)]),
            64512,
            &mut i,
        );
        assert_eq!(out.announce.len(), 1, "IPv6 only: the IPv4 NLRI is ignored");
        assert!(out.announce[0].0.is_ipv6());
        // Multicast SAFI is never taken.
        a.mp_reach = Some(MpReach {
            afi: Afi::Ipv4,
            safi: Safi::Multicast,
            next_hops: vec!["10.0.0.1".parse().expect("addr")],
            nlri: vec![p("10.2.0.0/16")],
        });
        let u = Update {
            attributes: a,
            ..Default::default()
        };
        let mut fams = dual();
        fams.push((Afi::Ipv4, Safi::Multicast));
        let out = import(u, &peer(false, fams), 64512, &mut i);
        assert!(out.announce.is_empty() && out.attrs.is_none());
        assert_eq!(out.ignored, 1);
    }

    #[test]
    fn treat_as_withdraw_and_as_loop_withdraw_everything() {
        let u = Update {
            withdrawn: vec![p("10.9.0.0/16")],
            attributes: attrs(&[65001]),
            nlri: vec![p("10.1.0.0/16"), p("10.2.0.0/16")],
            faults: vec![AttrFault {
                type_code: 8,
                action: AttrAction::TreatAsWithdraw,
                subcode: 9,
                reason: "bad communities".into(),
                data: Default::default(),
            }],
        };
        let mut i = Interner::default();
        let out = import(u, &peer(false, dual()), 64512, &mut i);
        assert!(out.treat_as_withdraw && out.announce.is_empty() && out.attrs.is_none());
        assert_eq!(out.withdraw.len(), 3);

        let u = Update {
            attributes: attrs(&[65001, 64512, 65003]),
            nlri: vec![p("10.1.0.0/16")],
            ..Default::default()
        };
        let out = import(u, &peer(false, dual()), 64512, &mut i);
        assert_eq!(out.looped, 1);
        assert_eq!(out.withdraw, vec![p("10.1.0.0/16")]);
        assert_eq!(i.len(), 0, "nothing interned for a rejected UPDATE");
    }

    #[test]
    fn announcement_wins_over_withdrawal_of_the_same_prefix() {
        let u = Update {
            withdrawn: vec![p("10.1.0.0/16"), p("10.2.0.0/16")],
            attributes: attrs(&[65001]),
            nlri: vec![p("10.1.0.0/16"), p("10.1.0.0/16")],
            faults: vec![],
        };
        let mut i = Interner::default();
        let out = import(u, &peer(false, dual()), 64512, &mut i);
        assert_eq!(out.withdraw, vec![p("10.2.0.0/16")]);
        assert_eq!(out.announce.len(), 1);
    }

    #[test]
    fn interner_shares_and_forgets() {
        let mut i = Interner::default();
        let a = i.intern(attrs(&[1]));
        let b = i.intern(attrs(&[1]));
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern(attrs(&[2]));
        assert_eq!(i.len(), 2);
        let path = |i: &mut Interner, attrs: &Arc<PathAttributes>, next_hop: &str| {
            i.path(PathData {
                source: PathSource::Peer(1),
                peer_address: Some("10.0.0.1".parse().expect("addr")),
                peer_bgp_id: Ipv4Addr::new(10, 0, 0, 1),
                ibgp: false,
                attrs: Arc::clone(attrs),
                next_hop: Some(next_hop.parse().expect("addr")),
                eligible: true,
            })
        };
        let (pa, pc) = (path(&mut i, &a, "10.0.0.1"), path(&mut i, &c, "10.0.0.1"));
        drop(c);
        assert!(pa.ptr_eq(&path(&mut i, &b, "10.0.0.1")));
        let other_hop = path(&mut i, &a, "10.0.0.9");
        assert!(!pa.ptr_eq(&other_hop));
        assert_eq!(i.path_count(), 3);
        i.release(vec![pa, pc, other_hop]);
        assert_eq!(i.path_count(), 0);
        assert_eq!(i.len(), 1, "[1] is still held by a and b, [2] is gone");
        let kept = path(&mut i, &a, "10.0.0.1");
        drop((a, b));
        i.sweep();
        assert_eq!((i.path_count(), i.len()), (1, 1), "a path still holds [1]");
        drop(kept);
        i.sweep();
        assert_eq!((i.path_count(), i.len()), (0, 0));
    }

    #[test]
    fn next_hop_checks() {
        let ours: HashMap<IpAddr, usize> = [("10.0.0.2".parse().expect("addr"), 1)].into();
        let ok = |s: &str| usable_next_hop(Some(s.parse().expect("addr")), &ours);
        assert!(ok("10.0.0.1"));
        assert!(!ok("10.0.0.2"), "our own address");
        assert!(!ok("::ffff:10.0.0.2"), "our own address, IPv4-mapped");
        assert!(!ok("0.0.0.0"));
        assert!(!ok("224.0.0.1"));
        assert!(!usable_next_hop(None, &ours));
        assert_eq!(
            mp_next_hop(&["::".parse().expect("a"), "fe80::1".parse().expect("a")]),
            Some("fe80::1".parse().expect("a"))
        );
        assert_eq!(mp_next_hop(&[]), None);
    }
}
