//! The RFC 4271 §9.1 decision process and equal-cost multipath selection.
//!
//! Phase 1 (§9.1.1, degree of preference) is [`degree_of_preference`]: LOCAL_PREF for routes
//! from internal peers, the default 100 for routes from external peers (whose LOCAL_PREF
//! "MUST be ignored", RFC 4271 §5.1.5). Phase 2 (§9.1.2) picks the best route among the
//! eligible ones with the tie-break chain of §9.1.2.2; Phase 3 (§9.1.4, aggregation and
//! dissemination) lives in `rib::export`.
//!
//! Two entry points implement §9.1.2.2:
//! * [`compare`] — the pairwise tie-break chain, for display and for tests.
//! * [`rank`] — what the RIB uses: orders a prefix's candidate paths best first by *set
//!   elimination*, exactly as the RFC words it. The MED step (c) only compares routes from the
//!   same neighbouring AS, which makes any pairwise order non-transitive (A beats B on MED,
//!   B beats C on router ID, C beats A on router ID); sorting with such a comparator gives an
//!   input-order-dependent result. Set elimination does not, so [`rank`] never sorts with
//!   [`compare`].
//!
//! Steps bgpod does not take: (e) the interior cost to the NEXT_HOP is skipped — bgpod runs no
//! IGP and installs next hops that are on connected subnets, so every route has the same
//! interior cost; (g) CLUSTER_LIST length and ORIGINATOR_ID (RFC 4456) are skipped — bgpod
//! does no route reflection.

use std::cmp::{Ordering, Reverse};
use std::net::{IpAddr, Ipv4Addr};

use crate::rib::{Path, PathSource};
use crate::wire::{AsPath, AsPathSegment, Origin};

/// The degree of preference given to a route without a usable LOCAL_PREF (RFC 4271 §9.1.1:
/// "calculate the degree of preference ... based on preconfigured policy"; 100 is the value
/// every implementation uses).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// The §9.1.1 degree of preference of a path: LOCAL_PREF for routes from internal peers (100
/// when missing), 100 for routes from external peers and for our own prefixes.
pub fn degree_of_preference(path: &Path) -> u32 {
    match path.source {
        PathSource::Peer(_) if path.ibgp => path.attrs.local_pref.unwrap_or(DEFAULT_LOCAL_PREF),
        // RFC 4271 §5.1.5: LOCAL_PREF received from an external peer "MUST be ignored".
        _ => DEFAULT_LOCAL_PREF,
    }
}

/// The AS_PATH length used by §9.1.2.2 (a): "an AS_SET counts as 1, no matter how many ASes
/// it contains"; confederation segments count 0 (RFC 5065 §5.3). A missing AS_PATH is empty.
pub fn as_path_length(as_path: Option<&AsPath>) -> usize {
    as_path.map_or(0, |p| {
        p.segments
            .iter()
            .map(|s| match s {
                AsPathSegment::Sequence(asns) => asns.len(),
                AsPathSegment::Set(_) => 1,
                AsPathSegment::ConfedSequence(_) | AsPathSegment::ConfedSet(_) => 0,
            })
            .sum()
    })
}

/// The neighbouring AS of a route, as §9.1.2.2 (c) defines `neighborAS(n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum NeighborAs {
    /// Originated inside our AS (iBGP route whose AS_PATH is empty or begins with an AS_SET):
    /// "it is the local AS".
    Local,
    /// The first AS of the leading AS_SEQUENCE.
    As(u32),
    /// An external route whose AS_PATH does not name its neighbour (empty, or begins with an
    /// AS_SET): comparable with nothing.
    Unknown,
}

fn neighbor_as(path: &Path) -> NeighborAs {
    let first = path.attrs.as_path.as_ref().and_then(|p| {
        p.segments.iter().find(|s| {
            !matches!(
                s,
                AsPathSegment::ConfedSequence(_) | AsPathSegment::ConfedSet(_)
            )
        })
    });
    match first {
        Some(AsPathSegment::Sequence(asns)) if !asns.is_empty() => NeighborAs::As(asns[0]),
        _ if path.ibgp || path.source == PathSource::Local => NeighborAs::Local,
        _ => NeighborAs::Unknown,
    }
}

/// Whether §9.1.2.2 (c) compares the MEDs of these two paths.
fn same_neighbor_as(a: &Path, b: &Path) -> bool {
    let (na, nb) = (neighbor_as(a), neighbor_as(b));
    na == nb && na != NeighborAs::Unknown
}

/// MULTI_EXIT_DISC for §9.1.2.2 (c): "If a route does not have the MULTI_EXIT_DISC attribute,
/// it is treated as having the lowest possible MED value" — 0.
fn med(path: &Path) -> u32 {
    path.attrs.med.unwrap_or(0)
}

/// The part of the chain before the MED step: a plain lexicographic key, so it is a total
/// order. Lower is better.
type Key1 = (bool, bool, Reverse<u32>, usize, Origin);

fn key1(path: &Path) -> Key1 {
    (
        // Our own prefixes always win: they are originated here.
        path.source != PathSource::Local,
        // RFC 4271 §9.1.2: a route whose NEXT_HOP is unresolvable "MUST be excluded from the
        // Phase 2 decision function" — kept last, never selected.
        !path.eligible,
        // §9.1.2.1: the highest degree of preference.
        Reverse(degree_of_preference(path)),
        // §9.1.2.2 (a): the shortest AS_PATH.
        as_path_length(path.attrs.as_path.as_ref()),
        // §9.1.2.2 (b): the lowest ORIGIN; a missing ORIGIN ranks as INCOMPLETE.
        path.attrs.origin.unwrap_or(Origin::Incomplete),
    )
}

/// The part of the chain after the MED step; `source` makes it total (no two candidate paths
/// of a prefix share a source). Lower is better.
type Key2 = (bool, Ipv4Addr, Option<IpAddr>, PathSource);

fn key2(path: &Path) -> Key2 {
    (
        // §9.1.2.2 (d): routes received via EBGP over routes received via IBGP.
        path.ibgp,
        // (e) interior cost: skipped, see the module documentation.
        // §9.1.2.2 (f): the lowest BGP Identifier.
        path.peer_bgp_id,
        // §9.1.2.2 (g): the lowest peer address.
        path.peer_address,
        path.source,
    )
}

/// The pairwise §9.1.2.2 tie-break chain: `Less` means `a` is preferred.
///
/// Order: our own prefix; eligible (usable next hop); highest degree of preference; shortest
/// AS_PATH; lowest ORIGIN; lowest MED when both come from the same neighbouring AS; eBGP over
/// iBGP; lowest BGP Identifier; lowest peer address. Because of the MED rule this relation is
/// not transitive over three or more paths — use [`rank`] to pick a best path from a set.
pub fn compare(a: &Path, b: &Path) -> Ordering {
    key1(a)
        .cmp(&key1(b))
        .then_with(|| {
            // §9.1.2.2 (c): "MULTI_EXIT_DISC is only comparable between routes learned from
            // the same neighboring AS".
            if same_neighbor_as(a, b) {
                med(a).cmp(&med(b))
            } else {
                Ordering::Equal
            }
        })
        .then_with(|| key2(a).cmp(&key2(b)))
}

/// Whether `b` may share the forwarding of `a` (equal-cost multipath): both eligible learned
/// paths, equal through every step before the BGP Identifier / peer address tie-breaks
/// (degree of preference, AS_PATH length, ORIGIN, MED when comparable, eBGP vs iBGP), and —
/// for eBGP — from the same neighbouring AS.
pub fn multipath_equal(a: &Path, b: &Path) -> bool {
    if a.source == PathSource::Local || b.source == PathSource::Local {
        return false;
    }
    if !a.eligible || !b.eligible || key1(a) != key1(b) || a.ibgp != b.ibgp {
        return false;
    }
    let same_as = same_neighbor_as(a, b);
    if !a.ibgp && !same_as {
        return false;
    }
    !same_as || med(a) == med(b)
}

/// How many leading paths of an already [`rank`]ed slice form the selected multipath set: 0 when
/// no path is eligible, 1 for our own prefix, else the best plus the paths that are
/// [`multipath_equal`] to it, at most `max_paths` (at least 1).
pub fn selected_len(ranked: &[Path], max_paths: usize) -> usize {
    match ranked.first() {
        None => 0,
        Some(best) if !best.eligible => 0,
        Some(best) if best.source == PathSource::Local => 1,
        Some(best) => {
            let extra = max_paths.max(1) - 1;
            1 + ranked[1..]
                .iter()
                .take_while(|p| multipath_equal(best, p))
                .take(extra)
                .count()
        }
    }
}

/// Orders a prefix's candidate paths: the §9.1.2 best first, then the paths that are
/// [`multipath_equal`] to it, then the others in decision order (each the best of those left),
/// ineligible paths last. Returns [`selected_len`].
///
/// The order does not depend on the order of the input.
pub fn rank(paths: &mut [Path], max_paths: usize) -> usize {
    if paths.len() > 1 {
        let mut order = elimination_order(paths);
        let best = order[0];
        // Pull the multipath set up behind the best so the selected set is a prefix of the
        // slice; a stable partition keeps both halves in decision order.
        let (mut equal, rest): (Vec<usize>, Vec<usize>) = order[1..]
            .iter()
            .partition(|&&i| multipath_equal(&paths[best], &paths[i]));
        order.truncate(1);
        order.append(&mut equal);
        order.extend(rest);
        permute(paths, &order);
    }
    selected_len(paths, max_paths)
}

/// The §9.1.2.2 elimination applied repeatedly: the best of all, then the best of the rest, …
/// Returns indices into `paths`.
fn elimination_order(paths: &[Path]) -> Vec<usize> {
    struct Key {
        k1: Key1,
        group: (NeighborAs, usize),
        med: u32,
        k2: Key2,
        index: usize,
    }
    let mut keys: Vec<Key> = paths
        .iter()
        .enumerate()
        .map(|(index, p)| {
            let nbr = neighbor_as(p);
            Key {
                k1: key1(p),
                // Routes of unknown neighbour AS are each their own MED group.
                group: (nbr, if nbr == NeighborAs::Unknown { index } else { 0 }),
                med: med(p),
                k2: key2(p),
                index,
            }
        })
        .collect();
    keys.sort_by_key(|k| (k.k1, k.group, k.med, k.k2));

    let mut order = Vec::with_capacity(keys.len());
    let mut tier_start = 0;
    while tier_start < keys.len() {
        // Routes tied through steps (a) and (b): the MED step works within this tier.
        let tier_end = tier_start
            + keys[tier_start..]
                .iter()
                .take_while(|k| k.k1 == keys[tier_start].k1)
                .count();
        // Within a tier each neighbour-AS group is sorted by (MED, rest of the chain): the
        // group's first unpicked route is the only one of the group that survives step (c).
        let mut cursors: Vec<(usize, usize)> = Vec::new();
        let mut g = tier_start;
        while g < tier_end {
            let end = g + keys[g..tier_end]
                .iter()
                .take_while(|k| k.group == keys[g].group)
                .count();
            cursors.push((g, end));
            g = end;
        }
        // Steps (d) to (g) decide among the survivors of every group.
        while let Some(c) = cursors
            .iter_mut()
            .filter(|(next, end)| next < end)
            .min_by_key(|(next, _)| keys[*next].k2)
        {
            order.push(keys[c.0].index);
            c.0 += 1;
        }
        tier_start = tier_end;
    }
    order
}

/// Reorders `paths` so that position `k` holds the element that was at `order[k]`.
fn permute(paths: &mut [Path], order: &[usize]) {
    // pos[original index] = current position; at[current position] = original index.
    let mut pos: Vec<usize> = (0..paths.len()).collect();
    let mut at = pos.clone();
    for (k, &want) in order.iter().enumerate() {
        let cur = pos[want];
        if cur != k {
            paths.swap(k, cur);
            let displaced = at[k];
            at[cur] = displaced;
            pos[displaced] = cur;
            at[k] = want;
            pos[want] = k;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::rib::PathData;
    use crate::wire::PathAttributes;

    /// An eligible eBGP path from peer `id` in AS `asn` (AS_PATH `[asn]`).
    fn ebgp(id: u32, asn: u32) -> Path {
        Path::new(PathData {
            source: PathSource::Peer(id),
            peer_address: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))),
            peer_bgp_id: Ipv4Addr::new(192, 0, 2, id as u8),
            ibgp: false,
            attrs: Arc::new(PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath {
                    segments: vec![AsPathSegment::Sequence(vec![asn])],
                }),
                ..Default::default()
            }),
            next_hop: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))),
            eligible: true,
        })
    }

    fn ibgp(id: u32) -> Path {
        let mut p = ebgp(id, 0);
        p.make_mut().ibgp = true;
        edit(&mut p, |a| a.as_path = Some(AsPath::default()));
        p
    }

    fn local() -> Path {
        Path::new(PathData {
            source: PathSource::Local,
            peer_address: None,
            peer_bgp_id: Ipv4Addr::new(192, 0, 2, 200),
            ibgp: false,
            attrs: Arc::new(PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::default()),
                ..Default::default()
            }),
            next_hop: None,
            eligible: true,
        })
    }

    fn edit(p: &mut Path, f: impl FnOnce(&mut PathAttributes)) {
        f(Arc::make_mut(&mut p.make_mut().attrs));
    }

    fn with(mut p: Path, f: impl FnOnce(&mut PathAttributes)) -> Path {
        edit(&mut p, f);
        p
    }

    fn seq(asns: &[u32]) -> Option<AsPath> {
        Some(AsPath {
            segments: vec![AsPathSegment::Sequence(asns.to_vec())],
        })
    }

    /// `a` is preferred to `b`, whichever is compared first, and wins a rank of the two.
    fn prefers(a: &Path, b: &Path) {
        assert_eq!(compare(a, b), Ordering::Less, "{a:?}\n  should beat\n{b:?}");
        assert_eq!(compare(b, a), Ordering::Greater);
        for input in [vec![a.clone(), b.clone()], vec![b.clone(), a.clone()]] {
            let mut v = input;
            rank(&mut v, 1);
            assert_eq!(v[0].source, a.source);
        }
    }

    #[test]
    fn local_prefix_beats_everything() {
        let better = with(ebgp(1, 65001), |a| a.origin = Some(Origin::Igp));
        prefers(&local(), &better);
        prefers(&local(), &with(ibgp(2), |a| a.local_pref = Some(1000)));
    }

    #[test]
    fn eligible_beats_unresolvable_next_hop() {
        let mut bad = with(ebgp(1, 65001), |a| a.local_pref = None);
        bad.make_mut().eligible = false;
        let worse = with(ebgp(2, 65002), |a| a.as_path = seq(&[65002, 1, 2, 3]));
        prefers(&worse, &bad);
        let mut v = vec![bad.clone()];
        assert_eq!(rank(&mut v, 4), 0, "no eligible path: nothing selected");
    }

    #[test]
    fn highest_local_pref_wins_for_ibgp() {
        let high = with(ibgp(2), |a| a.local_pref = Some(200));
        let low = with(ibgp(1), |a| a.local_pref = Some(50));
        prefers(&high, &low);
        // Missing LOCAL_PREF counts 100.
        prefers(&ibgp(3), &low);
        prefers(&high, &ibgp(3));
    }

    #[test]
    fn local_pref_from_ebgp_is_ignored() {
        // RFC 4271 §5.1.5: an eBGP route's LOCAL_PREF does not raise it above 100 ...
        let ebgp_lp = with(ebgp(2, 65002), |a| a.local_pref = Some(500));
        let ibgp_lp = with(ibgp(1), |a| a.local_pref = Some(150));
        prefers(&ibgp_lp, &ebgp_lp);
        // ... nor lower it.
        let ebgp_low = with(ebgp(2, 65002), |a| a.local_pref = Some(1));
        let ibgp_99 = with(ibgp(1), |a| a.local_pref = Some(99));
        prefers(&ebgp_low, &ibgp_99);
    }

    #[test]
    fn shortest_as_path_wins() {
        let short = with(ebgp(2, 65002), |a| a.as_path = seq(&[65002]));
        let long = with(ebgp(1, 65001), |a| a.as_path = seq(&[65001, 65009]));
        prefers(&short, &long);
    }

    #[test]
    fn as_set_counts_one_and_confed_segments_zero() {
        let p = AsPath {
            segments: vec![
                AsPathSegment::ConfedSequence(vec![1, 2, 3]),
                AsPathSegment::Sequence(vec![65001, 65002]),
                AsPathSegment::Set(vec![7, 8, 9, 10]),
                AsPathSegment::ConfedSet(vec![4]),
            ],
        };
        assert_eq!(as_path_length(Some(&p)), 3);
        assert_eq!(as_path_length(None), 0);
        // A 3-AS set beats a 2-AS sequence.
        let set = with(ebgp(2, 65002), |a| {
            a.as_path = Some(AsPath {
                segments: vec![AsPathSegment::Set(vec![65002, 65003, 65004])],
            })
        });
        let two = with(ebgp(1, 65001), |a| a.as_path = seq(&[65001, 65005]));
        prefers(&set, &two);
    }

    #[test]
    fn lowest_origin_wins() {
        let igp = ebgp(2, 65002);
        let egp = with(ebgp(1, 65001), |a| a.origin = Some(Origin::Egp));
        let inc = with(ebgp(1, 65001), |a| a.origin = Some(Origin::Incomplete));
        prefers(&igp, &egp);
        prefers(&egp, &inc);
    }

    #[test]
    fn lowest_med_wins_within_the_same_neighbour_as() {
        let low = with(ebgp(2, 65001), |a| a.med = Some(10));
        let high = with(ebgp(1, 65001), |a| a.med = Some(20));
        prefers(&low, &high);
        // Missing MED is the lowest possible value (0).
        let none = with(ebgp(3, 65001), |a| a.med = None);
        prefers(&none, &low);
    }

    #[test]
    fn med_is_not_compared_across_neighbour_ases() {
        // Peer 1 (AS 65001) has the worse MED but the lower router ID: MED is skipped.
        let high_med = with(ebgp(1, 65001), |a| a.med = Some(500));
        let low_med = with(ebgp(2, 65002), |a| a.med = Some(1));
        prefers(&high_med, &low_med);
    }

    #[test]
    fn ebgp_beats_ibgp() {
        let e = ebgp(2, 65002);
        let mut i = with(ebgp(1, 65002), |_| {});
        i.make_mut().ibgp = true;
        prefers(&e, &i);
    }

    #[test]
    fn lowest_bgp_identifier_wins() {
        let a = ebgp(1, 65001);
        let mut b = ebgp(2, 65002);
        b.make_mut().peer_bgp_id = Ipv4Addr::new(192, 0, 2, 100);
        prefers(&a, &b);
        let mut c = ebgp(3, 65003);
        c.make_mut().peer_bgp_id = Ipv4Addr::new(1, 1, 1, 1);
        prefers(&c, &a);
    }

    #[test]
    fn lowest_peer_address_wins() {
        let a = ebgp(1, 65001);
        let mut b = ebgp(2, 65002);
        b.make_mut().peer_bgp_id = a.peer_bgp_id;
        prefers(&a, &b);
        b.make_mut().peer_address = Some(IpAddr::V4(Ipv4Addr::new(9, 9, 9, 9)));
        prefers(&b, &a);
    }

    #[test]
    fn med_cycle_ranks_the_same_in_any_input_order() {
        // A beats B on MED; B beats C and C beats A on router ID: no pairwise order exists.
        let a = with(ebgp(1, 65001), |x| x.med = Some(10));
        let b = with(ebgp(3, 65001), |x| x.med = Some(5));
        let c = ebgp(2, 65002);
        assert_eq!(compare(&b, &a), Ordering::Less);
        assert_eq!(compare(&c, &b), Ordering::Less);
        assert_eq!(compare(&a, &c), Ordering::Less);
        // RFC elimination: (c) removes A (same AS as B, worse MED); (f) then prefers C over B.
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        let all = [a, b, c];
        for perm in perms {
            let mut v: Vec<Path> = perm.iter().map(|&i| all[i].clone()).collect();
            rank(&mut v, 1);
            let got: Vec<PathSource> = v.iter().map(|p| p.source).collect();
            // After C: B then A (A is still behind B on MED).
            assert_eq!(
                got,
                vec![
                    PathSource::Peer(2),
                    PathSource::Peer(3),
                    PathSource::Peer(1)
                ]
            );
        }
    }

    #[test]
    fn multipath_equal_rules() {
        let a = ebgp(1, 65001);
        let b = ebgp(2, 65001);
        assert!(multipath_equal(&a, &b));
        // Different neighbour AS: not for eBGP.
        assert!(!multipath_equal(&a, &ebgp(3, 65002)));
        // Different MED in the same AS.
        assert!(!multipath_equal(
            &a,
            &with(ebgp(2, 65001), |x| x.med = Some(5))
        ));
        // Different AS_PATH length, origin.
        assert!(!multipath_equal(
            &a,
            &with(ebgp(2, 65001), |x| x.as_path = seq(&[65001, 1]))
        ));
        assert!(!multipath_equal(
            &a,
            &with(ebgp(2, 65001), |x| x.origin = Some(Origin::Egp))
        ));
        // iBGP paths from different neighbour ASes may share: MED is not comparable there.
        let i1 = with(ibgp(1), |x| {
            x.as_path = seq(&[65001]);
            x.med = Some(1)
        });
        let i2 = with(ibgp(2), |x| {
            x.as_path = seq(&[65002]);
            x.med = Some(9)
        });
        assert!(multipath_equal(&i1, &i2));
        // eBGP and iBGP never share; nor local or ineligible paths.
        assert!(!multipath_equal(
            &ebgp(1, 65001),
            &with(ibgp(2), |x| x.as_path = seq(&[65001]))
        ));
        assert!(!multipath_equal(&local(), &local()));
        let mut bad = ebgp(2, 65001);
        bad.make_mut().eligible = false;
        assert!(!multipath_equal(&a, &bad));
    }

    #[test]
    fn rank_groups_the_multipath_set_first() {
        // Best: peer 1 (AS 65001). Peer 2 (AS 65002, same length) is next by router ID but not
        // multipath-equal; peer 3 (AS 65001) is — it must move ahead of peer 2.
        let mut v = vec![ebgp(3, 65001), ebgp(2, 65002), ebgp(1, 65001)];
        assert_eq!(rank(&mut v, 8), 2);
        let got: Vec<PathSource> = v.iter().map(|p| p.source).collect();
        assert_eq!(
            got,
            vec![
                PathSource::Peer(1),
                PathSource::Peer(3),
                PathSource::Peer(2)
            ]
        );
        assert_eq!(rank(&mut v, 1), 1);
        assert_eq!(selected_len(&v, 0), 1, "max_paths 0 is treated as 1");
        let mut with_local = vec![ebgp(1, 65001), local(), ebgp(2, 65001)];
        assert_eq!(rank(&mut with_local, 8), 1);
        assert_eq!(with_local[0].source, PathSource::Local);
    }

    /// RFC 4271 §9.1.2.2 written as literally as possible, for the property test.
    fn naive_best(paths: &[Path]) -> Option<PathSource> {
        let mut c: Vec<&Path> = paths.iter().collect();
        let keep = |c: &mut Vec<&Path>, f: &dyn Fn(&Path) -> u64| {
            let m = c.iter().map(|p| f(p)).min();
            c.retain(|p| Some(f(p)) == m);
        };
        if let Some(l) = c.iter().find(|p| p.source == PathSource::Local) {
            return Some(l.source);
        }
        c.retain(|p| p.eligible);
        keep(&mut c, &|p| u64::from(u32::MAX - degree_of_preference(p)));
        keep(&mut c, &|p| as_path_length(p.attrs.as_path.as_ref()) as u64);
        keep(&mut c, &|p| {
            p.attrs.origin.unwrap_or(Origin::Incomplete) as u64
        });
        let snapshot = c.clone();
        c.retain(|p| {
            !snapshot
                .iter()
                .any(|q| same_neighbor_as(p, q) && med(q) < med(p))
        });
        if c.iter().any(|p| !p.ibgp) {
            c.retain(|p| !p.ibgp);
        }
        keep(&mut c, &|p| u64::from(u32::from(p.peer_bgp_id)));
        c.sort_by_key(|p| p.peer_address);
        c.first().map(|p| p.source)
    }

    fn arb_path() -> impl Strategy<Value = Path> {
        (
            1u32..6,
            any::<bool>(),
            0u32..3,
            prop::option::of(0u32..3),
            1usize..3,
            0u8..3,
            prop::option::of(0u32..3),
            0u8..3,
            any::<bool>(),
        )
            .prop_map(|(id, ib, nbr, lp, len, origin, m, rid, elig)| {
                let mut p = if ib { ibgp(id) } else { ebgp(id, 0) };
                p.make_mut().eligible = elig || id == 1;
                p.make_mut().peer_bgp_id = Ipv4Addr::new(192, 0, 2, rid);
                edit(&mut p, |a| {
                    a.local_pref = lp.map(|v| 100 + v * 10);
                    a.med = m;
                    a.origin = Some(match origin {
                        0 => Origin::Igp,
                        1 => Origin::Egp,
                        _ => Origin::Incomplete,
                    });
                    let mut asns = vec![65000 + nbr];
                    asns.resize(len, 1);
                    a.as_path = if ib && nbr == 0 {
                        Some(AsPath::default())
                    } else {
                        seq(&asns)
                    };
                });
                p
            })
    }

    proptest! {
        #[test]
        fn rank_best_matches_literal_rfc_elimination(
            mut paths in prop::collection::vec(arb_path(), 1..6),
            seed in any::<u64>(),
        ) {
            // One path per source, as in the RIB.
            paths.sort_by_key(|p| p.source);
            paths.dedup_by_key(|p| p.source);
            let expected = naive_best(&paths);
            let mut a = paths.clone();
            let n = rank(&mut a, 4);
            prop_assert_eq!(n > 0, expected.is_some());
            if let Some(e) = expected {
                prop_assert_eq!(a[0].source, e);
            }
            // Any input order ranks the same.
            let mut b = paths.clone();
            let len = b.len();
            b.rotate_left((seed as usize) % len);
            if seed & 1 == 1 { b.reverse(); }
            rank(&mut b, 4);
            prop_assert_eq!(&a, &b);
            // The selected set is the best plus multipath-equal paths.
            for p in a.iter().take(n).skip(1) {
                prop_assert!(multipath_equal(&a[0], p));
            }
        }
    }
}
