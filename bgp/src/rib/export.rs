//! Export: what each peer is sent (RFC 4271 §9.1.3 Phase 3, §9.2, §5.1).
//!
//! The Adj-RIB-Out of a peer is, by construction, "the export view of every Loc-RIB route
//! toward that peer": the view is a pure function of the route, the peer's session facts
//! (`PeerInfo`, fixed while the session is up) and our settings. So bgpod does not store a
//! copy per peer (a million-prefix table exported to ten iBGP peers would cost ten tables):
//! whenever a prefix's best path changes, the view before and after are computed and compared,
//! and only a difference is sent — an unchanged route is never re-sent, and a withdrawal goes
//! out only for a prefix whose previous view was advertised. `Rib` keeps the count per peer.
//!
//! Policy, in the order checked:
//! * never back to the peer the route came from (split horizon);
//! * only in families the peer negotiated (RFC 4760 §8);
//! * our own prefixes go to every peer;
//! * learned routes: from iBGP never to iBGP (RFC 4271 §9.2, no route reflection); from eBGP
//!   to every iBGP peer; to an eBGP peer only if it has `export_learned` (by default the node
//!   is never transit);
//! * RFC 1997 well-known communities: NO_ADVERTISE to nobody, NO_EXPORT and
//!   NO_EXPORT_SUBCONFED to no eBGP peer;
//! * never to an eBGP peer whose ASN is already in the AS_PATH (it would drop it, §9.1.2).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use super::adj_rib_in::{as_path_contains, is_link_local};
use super::{LocalSettings, Path, PathSource, PeerInfo};
use crate::decision::degree_of_preference;
use crate::wire::iana::attr_flags;
use crate::wire::prefix::Prefix;
use crate::wire::{Afi, AsPath, AsPathSegment, MpReach, Origin, PathAttributes, Safi};

/// RFC 1997 §"Well-known Communities".
const NO_EXPORT: u32 = 0xFFFF_FF01;
const NO_ADVERTISE: u32 = 0xFFFF_FF02;
const NO_EXPORT_SUBCONFED: u32 = 0xFFFF_FF03;

/// The most ASNs one AS_PATH segment holds (its length field is one octet, RFC 4271 §4.3).
const MAX_SEGMENT_LEN: usize = 255;

/// What to send one peer.
///
/// Each `announce` entry is a set of prefixes sharing the final wire attributes for that peer
/// (no two entries have equal attributes):
/// * IPv4 prefixes: `attrs.next_hop` is set; the prefixes go in the UPDATE's NLRI field.
/// * IPv6 prefixes: `attrs.next_hop` is `None` and `attrs.mp_reach` is a template — AFI IPv6,
///   SAFI unicast, the next hop, and an empty `nlri` that the encoder fills with the prefixes
///   (RFC 4760 §3).
///
/// `withdraw` mixes families: IPv4 go in the Withdrawn Routes field, IPv6 in MP_UNREACH_NLRI.
///
/// To encode: `wire::pack_withdrawals(&withdraw, ctx)` first, then for each announce entry
/// `wire::pack_announcements(&attrs, &prefixes, v6_next_hops, ctx)` with `v6_next_hops` taken
/// from `attrs.mp_reach` (empty for an IPv4 entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    pub announce: Vec<(Arc<PathAttributes>, Vec<Prefix>)>,
    pub withdraw: Vec<Prefix>,
}

impl Export {
    pub fn is_empty(&self) -> bool {
        self.announce.is_empty() && self.withdraw.is_empty()
    }

    /// Announced plus withdrawn prefixes.
    pub fn prefix_count(&self) -> usize {
        self.withdraw.len() + self.announce.iter().map(|(_, p)| p.len()).sum::<usize>()
    }
}

/// The export view of one route toward one peer.
#[derive(Debug, Clone)]
pub(super) enum View<A = Arc<PathAttributes>> {
    /// Advertised with these attributes.
    Send(A),
    /// Not for this peer.
    Filtered,
    /// For this peer, but no next hop of the prefix's family to give it.
    NoNextHop,
}

impl View {
    pub(super) fn sent(self) -> Option<Arc<PathAttributes>> {
        match self {
            View::Send(a) => Some(a),
            View::Filtered | View::NoNextHop => None,
        }
    }
}

/// An `Arc` compared and hashed by address: interned attributes are equal iff identical.
#[derive(Debug, Clone)]
struct ByPtr(Arc<PathAttributes>);

impl PartialEq for ByPtr {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for ByPtr {}
impl Hash for ByPtr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).hash(state);
    }
}

/// Everything the view of a route depends on besides the peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ViewKey {
    attrs: ByPtr,
    local: bool,
    ibgp: bool,
    ipv6: bool,
    next_hop: Option<IpAddr>,
}

/// Collects one peer's export during one RIB call, computing each distinct view once. The
/// cache does not key on the peer: one builder serves one peer.
#[derive(Debug, Default)]
pub(super) struct ExportBuilder {
    /// The peer served, to catch misuse in debug builds.
    peer: Option<super::PeerId>,
    cache: HashMap<ViewKey, View>,
    /// One `Arc` per distinct exported attribute set, so that equal views are `ptr_eq`.
    canonical: HashSet<Arc<PathAttributes>>,
    /// Announce group of each canonical attribute set, by address.
    group_of: HashMap<*const PathAttributes, usize>,
    export: Export,
}

impl ExportBuilder {
    /// The view of `path`, the Loc-RIB route of `prefix`, toward `peer`.
    pub(super) fn view(
        &mut self,
        local: &LocalSettings,
        peer: &PeerInfo,
        prefix: &Prefix,
        path: &Path,
    ) -> View {
        if let Some(id) = self.peer {
            debug_assert_eq!(id, peer.id, "one builder per peer");
        }
        self.peer = Some(peer.id);
        if path.source == PathSource::Peer(peer.id) {
            // Split horizon: the peer has this route already.
            return View::Filtered;
        }
        let ipv6 = prefix.is_ipv6();
        let afi = if ipv6 { Afi::Ipv6 } else { Afi::Ipv4 };
        if !peer.negotiated(afi, Safi::Unicast) {
            return View::Filtered;
        }
        let key = ViewKey {
            attrs: ByPtr(Arc::clone(&path.attrs)),
            local: path.source == PathSource::Local,
            ibgp: path.ibgp,
            ipv6,
            next_hop: path.next_hop,
        };
        if let Some(v) = self.cache.get(&key) {
            return v.clone();
        }
        let view = match build(local, peer, path, ipv6) {
            View::Send(a) => View::Send(self.canonicalize(a)),
            View::Filtered => View::Filtered,
            View::NoNextHop => View::NoNextHop,
        };
        self.cache.insert(key, view.clone());
        view
    }

    fn canonicalize(&mut self, attrs: PathAttributes) -> Arc<PathAttributes> {
        if let Some(a) = self.canonical.get(&attrs) {
            return Arc::clone(a);
        }
        let a = Arc::new(attrs);
        self.canonical.insert(Arc::clone(&a));
        a
    }

    pub(super) fn announce(&mut self, attrs: Arc<PathAttributes>, prefix: Prefix) {
        let groups = &mut self.export.announce;
        let i = *self.group_of.entry(Arc::as_ptr(&attrs)).or_insert_with(|| {
            groups.push((attrs, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(prefix);
    }

    pub(super) fn withdraw(&mut self, prefix: Prefix) {
        self.export.withdraw.push(prefix);
    }

    pub(super) fn finish(self) -> Option<Export> {
        (!self.export.is_empty()).then_some(self.export)
    }
}

/// The export view of `path` toward `peer`, uncached.
fn build(local: &LocalSettings, peer: &PeerInfo, path: &Path, ipv6: bool) -> View<PathAttributes> {
    let learned = path.source != PathSource::Local;
    let attrs = &*path.attrs;
    if learned {
        if path.ibgp && peer.ibgp {
            // RFC 4271 §9.2: "the receiving BGP speaker SHALL NOT re-distribute the routing
            // information contained in that UPDATE message to other internal peers (unless
            // the speaker acts as a BGP Route Reflector)".
            return View::Filtered;
        }
        if !peer.ibgp && !peer.export_learned {
            return View::Filtered;
        }
        // RFC 1997: NO_ADVERTISE routes "MUST NOT be advertised to other BGP peers";
        // NO_EXPORT ones "MUST NOT be advertised outside a BGP confederation boundary".
        let c = &attrs.communities;
        if c.contains(&NO_ADVERTISE)
            || (!peer.ibgp && (c.contains(&NO_EXPORT) || c.contains(&NO_EXPORT_SUBCONFED)))
        {
            return View::Filtered;
        }
        if !peer.ibgp && as_path_contains(attrs.as_path.as_ref(), peer.asn) {
            return View::Filtered;
        }
    }

    // RFC 4271 §5.1.3: "When sending a message to an internal peer, if the route is not
    // locally originated, the BGP speaker SHOULD NOT modify the NEXT_HOP attribute" — kept
    // (Calico's and BIRD's default); everything else gets our address on the session.
    let kept = if learned && peer.ibgp {
        path.next_hop
            .filter(|a| a.is_ipv6() == ipv6 && !is_link_local(a))
    } else {
        None
    };
    let Some(next_hop) = kept.or_else(|| own_next_hop(peer, ipv6)) else {
        return View::NoNextHop;
    };

    let mut out = PathAttributes {
        origin: Some(attrs.origin.unwrap_or(Origin::Incomplete)),
        as_path: Some(attrs.as_path.clone().unwrap_or_default()),
        next_hop: None,
        med: attrs.med,
        local_pref: None,
        atomic_aggregate: attrs.atomic_aggregate,
        aggregator: attrs.aggregator,
        communities: attrs.communities.clone(),
        large_communities: attrs.large_communities.clone(),
        mp_reach: None,
        mp_unreach: None,
        unknown: attrs.unknown.clone(),
    };
    // RFC 4271 §5: an unrecognized optional transitive attribute is passed on with "the
    // Partial bit in the attribute flags octet ... set to 1".
    for u in &mut out.unknown {
        u.flags |= attr_flags::PARTIAL;
    }
    if peer.ibgp {
        // RFC 4271 §5.1.2 (a): toward an internal peer the AS_PATH is not modified.
        // RFC 4271 §5.1.5: "A BGP speaker MUST include this attribute in UPDATE messages it
        // sends to other internal peers" — the degree of preference it computed.
        out.local_pref = Some(degree_of_preference(path));
        // RFC 4271 §5.1.4: a MED received from a neighbouring AS "MAY be propagated to other
        // BGP speakers within the same AS" — kept.
    } else {
        // RFC 4271 §5.1.2 (b): toward an external peer, prepend our own AS number as the
        // last element of the sequence (RFC 5065 §4.1: confederation segments are removed).
        if let Some(p) = out.as_path.as_mut() {
            prepend(p, local.asn);
        }
        // RFC 4271 §5.1.4: "The MULTI_EXIT_DISC attribute received from a neighboring AS
        // MUST NOT be propagated to other neighboring ASes."
        out.med = None;
        // RFC 4271 §5.1.5: LOCAL_PREF "MUST NOT" be included in UPDATEs to external peers.
    }
    if ipv6 {
        // RFC 4760 §3: the next hop travels in MP_REACH_NLRI; RFC 2545 §3: a global address.
        out.mp_reach = Some(MpReach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            next_hops: vec![next_hop],
            nlri: Vec::new(),
        });
    } else {
        match next_hop {
            IpAddr::V4(v4) => out.next_hop = Some(v4),
            IpAddr::V6(_) => return View::NoNextHop,
        }
    }
    View::Send(out)
}

/// Our next hop for `peer` in a family: the session's local address for IPv4 (an IPv4
/// session), the configured IPv6 next hop — or the session's own global IPv6 address — for
/// IPv6.
fn own_next_hop(peer: &PeerInfo, ipv6: bool) -> Option<IpAddr> {
    let session = peer.local_address.to_canonical();
    if ipv6 {
        peer.local_v6_next_hop
            .map(IpAddr::V6)
            .or_else(|| Some(session).filter(|a| a.is_ipv6() && !is_link_local(a)))
    } else {
        Some(session).filter(IpAddr::is_ipv4)
    }
}

/// RFC 4271 §5.1.2 (b): prepend `asn` to the leading AS_SEQUENCE, or start a new one when the
/// path is empty, begins with an AS_SET, or the leading sequence is full.
fn prepend(path: &mut AsPath, asn: u32) {
    path.segments.retain(|s| {
        !matches!(
            s,
            AsPathSegment::ConfedSequence(_) | AsPathSegment::ConfedSet(_)
        )
    });
    match path.segments.first_mut() {
        Some(AsPathSegment::Sequence(v)) if v.len() < MAX_SEGMENT_LEN => v.insert(0, asn),
        _ => path.segments.insert(0, AsPathSegment::Sequence(vec![asn])),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::rib::PathData;
    use crate::wire::RawAttribute;

    fn p(s: &str) -> Prefix {
        s.parse().expect("test prefix")
    }

    fn local() -> LocalSettings {
        LocalSettings {
            asn: 64512,
            router_id: Ipv4Addr::new(192, 0, 2, 1),
            max_paths: 1,
        }
    }

    fn peer(id: u32, ibgp: bool) -> PeerInfo {
        PeerInfo {
            id,
            address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8)),
            local_address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)),
            local_v6_next_hop: Some("2001:db8::100".parse().expect("addr")),
            asn: if ibgp { 64512 } else { 65000 + id },
            bgp_id: Ipv4Addr::new(10, 0, 0, id as u8),
            ibgp,
            export_learned: false,
            families: vec![(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)],
            four_octet_as: true,
        }
    }

    fn learned(from: &PeerInfo, attrs: PathAttributes) -> Path {
        Path::new(PathData {
            source: PathSource::Peer(from.id),
            peer_address: Some(from.address),
            peer_bgp_id: from.bgp_id,
            ibgp: from.ibgp,
            next_hop: attrs.next_hop.map(IpAddr::V4),
            attrs: Arc::new(attrs),
            eligible: true,
        })
    }

    fn seq(v: &[u32]) -> Option<AsPath> {
        Some(AsPath {
            segments: vec![AsPathSegment::Sequence(v.to_vec())],
        })
    }

    fn ebgp_attrs() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: seq(&[65001, 65100]),
            next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
            med: Some(50),
            communities: vec![0x0001_0002],
            unknown: vec![RawAttribute {
                flags: attr_flags::OPTIONAL | attr_flags::TRANSITIVE,
                type_code: 99,
                value: bytes::Bytes::from_static(b"x"),
            }],
            ..Default::default()
        }
    }

    fn sent(v: View) -> PathAttributes {
        match v {
            View::Send(a) => PathAttributes::clone(&a),
            other => panic!("expected Send, got {other:?}"),
        }
    }

    #[test]
    fn ebgp_learned_toward_ibgp_keeps_next_hop_and_med_sets_local_pref() {
        let from = peer(1, false);
        let path = learned(&from, ebgp_attrs());
        let mut b = ExportBuilder::default();
        let a = sent(b.view(&local(), &peer(2, true), &p("10.1.0.0/16"), &path));
        assert_eq!(a.as_path, seq(&[65001, 65100]));
        assert_eq!(a.next_hop, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.local_pref, Some(100));
        assert_eq!(a.med, Some(50));
        assert_eq!(a.communities, vec![0x0001_0002]);
        assert_eq!(
            a.unknown[0].flags & attr_flags::PARTIAL,
            attr_flags::PARTIAL
        );
    }

    #[test]
    fn toward_ebgp_prepends_sets_self_strips_med_and_local_pref() {
        let from = peer(1, true);
        let mut attrs = ebgp_attrs();
        attrs.local_pref = Some(300);
        let path = learned(&from, attrs);
        let mut to = peer(3, false);
        to.export_learned = true;
        let mut b = ExportBuilder::default();
        let a = sent(b.view(&local(), &to, &p("10.1.0.0/16"), &path));
        assert_eq!(a.as_path, seq(&[64512, 65001, 65100]));
        assert_eq!(a.next_hop, Some(Ipv4Addr::new(10, 0, 0, 100)));
        assert_eq!(a.local_pref, None);
        assert_eq!(a.med, None);
        // Without export_learned, nothing.
        to.export_learned = false;
        let mut b = ExportBuilder::default();
        assert!(matches!(
            b.view(&local(), &to, &p("10.1.0.0/16"), &path),
            View::Filtered
        ));
    }

    #[test]
    fn filters() {
        let l = local();
        let e1 = peer(1, false);
        let mut e2 = peer(2, false);
        e2.export_learned = true;
        let i1 = peer(3, true);
        let i2 = peer(4, true);
        let pre = p("10.1.0.0/16");
        let from_e1 = learned(&e1, ebgp_attrs());
        let from_i1 = learned(&i1, ebgp_attrs());
        let view = |to: &PeerInfo, prefix: &Prefix, path: &Path| {
            ExportBuilder::default().view(&l, to, prefix, path)
        };
        // Split horizon.
        assert!(matches!(view(&e1, &pre, &from_e1), View::Filtered));
        // iBGP-learned never to iBGP, eBGP-learned to iBGP.
        assert!(matches!(view(&i2, &pre, &from_i1), View::Filtered));
        assert!(matches!(view(&i2, &pre, &from_e1), View::Send(_)));
        assert!(matches!(view(&e2, &pre, &from_e1), View::Send(_)));
        // eBGP peer whose AS is in the path.
        let mut e_in_path = e2.clone();
        e_in_path.asn = 65100;
        assert!(matches!(view(&e_in_path, &pre, &from_e1), View::Filtered));
        // Well-known communities.
        let mut no_export = ebgp_attrs();
        no_export.communities.push(NO_EXPORT);
        let ne = learned(&e1, no_export);
        assert!(matches!(view(&e2, &pre, &ne), View::Filtered));
        assert!(matches!(view(&i2, &pre, &ne), View::Send(_)));
        let mut no_adv = ebgp_attrs();
        no_adv.communities.push(NO_ADVERTISE);
        let na = learned(&e1, no_adv);
        assert!(matches!(view(&i2, &pre, &na), View::Filtered));
        // A family the peer did not negotiate.
        let mut v4_only = i2.clone();
        v4_only.families = vec![(Afi::Ipv4, Safi::Unicast)];
        assert!(matches!(
            view(&v4_only, &p("2001:db8::/32"), &from_e1),
            View::Filtered
        ));
    }

    #[test]
    fn ipv6_next_hop_goes_in_mp_reach_template() {
        let from = peer(1, false);
        let mut attrs = ebgp_attrs();
        attrs.next_hop = None;
        let mut path = learned(&from, attrs);
        path.make_mut().next_hop = Some("2001:db8::1".parse().expect("addr"));
        let mut b = ExportBuilder::default();
        // Toward iBGP: the learned global next hop is kept.
        let a = sent(b.view(&local(), &peer(2, true), &p("2001:db8:1::/48"), &path));
        assert_eq!(a.next_hop, None);
        let mp = a.mp_reach.expect("mp_reach");
        assert_eq!(
            mp.next_hops,
            vec!["2001:db8::1".parse::<IpAddr>().expect("addr")]
        );
        assert!(mp.nlri.is_empty());
        // A link-local learned next hop is replaced by ours.
        path.make_mut().next_hop = Some("fe80::1".parse().expect("addr"));
        let a = sent(b.view(&local(), &peer(2, true), &p("2001:db8:1::/48"), &path));
        assert_eq!(
            a.mp_reach.expect("mp").next_hops,
            vec![IpAddr::V6(
                "2001:db8::100".parse::<Ipv6Addr>().expect("addr")
            )]
        );
        // No IPv6 next hop configured on an IPv4 session: NoNextHop.
        let mut to = peer(2, true);
        to.local_v6_next_hop = None;
        let mut b = ExportBuilder::default();
        path.make_mut().next_hop = Some("fe80::1".parse().expect("addr"));
        assert!(matches!(
            b.view(&local(), &to, &p("2001:db8:1::/48"), &path),
            View::NoNextHop
        ));
    }

    #[test]
    fn prepend_rules() {
        let mut empty = AsPath::default();
        prepend(&mut empty, 1);
        assert_eq!(Some(empty), seq(&[1]));
        let mut set_first = AsPath {
            segments: vec![
                AsPathSegment::ConfedSequence(vec![9]),
                AsPathSegment::Set(vec![2, 3]),
            ],
        };
        prepend(&mut set_first, 1);
        assert_eq!(
            set_first.segments,
            vec![
                AsPathSegment::Sequence(vec![1]),
                AsPathSegment::Set(vec![2, 3])
            ]
        );
        let mut full = AsPath {
            segments: vec![AsPathSegment::Sequence(vec![7; 255])],
        };
        prepend(&mut full, 1);
        assert_eq!(full.segments.len(), 2);
        assert_eq!(full.segments[0], AsPathSegment::Sequence(vec![1]));
    }

    #[test]
    fn builder_groups_equal_attributes() {
        let l = local();
        let mut to_ebgp = peer(9, false);
        to_ebgp.export_learned = true;
        let mut b = ExportBuilder::default();
        // Two learned attribute sets that look the same toward an eBGP peer (they differ only
        // in MED and NEXT_HOP, both rewritten) share one group.
        let e = peer(1, false);
        let x = learned(&e, ebgp_attrs());
        let mut other = ebgp_attrs();
        other.med = Some(7);
        other.next_hop = Some(Ipv4Addr::new(10, 0, 0, 7));
        let y = learned(&e, other);
        for (path, pre) in [(&x, "10.1.0.0/16"), (&y, "10.2.0.0/16")] {
            let a = b.view(&l, &to_ebgp, &p(pre), path).sent().expect("sent");
            b.announce(a, p(pre));
        }
        b.withdraw(p("10.3.0.0/16"));
        b.withdraw(p("2001:db8:3::/48"));
        let ex = b.finish().expect("non-empty");
        assert_eq!(ex.announce.len(), 1);
        assert_eq!(ex.announce[0].1, vec![p("10.1.0.0/16"), p("10.2.0.0/16")]);
        assert_eq!(ex.withdraw.len(), 2);
        assert_eq!(ex.prefix_count(), 4);
        assert!(ExportBuilder::default().finish().is_none());
    }
}
