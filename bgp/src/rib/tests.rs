//! Scenario tests of [`Rib`] (import, decision, FIB, export); `model` checks the incremental
//! RIB against a recomputation from scratch on random event sequences.

mod model;

use std::collections::BTreeSet;

use super::*;
use crate::wire::{AsPathSegment, AttrAction, AttrFault, MpReach};

const ASN: u32 = 64512;

fn p(s: &str) -> Prefix {
    s.parse().expect("test prefix")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn rib(max_paths: usize) -> Rib {
    Rib::new(LocalSettings {
        asn: ASN,
        router_id: Ipv4Addr::new(192, 0, 2, 100),
        max_paths,
    })
}

fn dual() -> Vec<(Afi, Safi)> {
    vec![(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)]
}

fn ebgp(id: PeerId, asn: u32) -> PeerInfo {
    PeerInfo {
        id,
        address: IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8)),
        local_address: ip("10.0.0.100"),
        local_v6_next_hop: Some("2001:db8::100".parse().expect("addr")),
        asn,
        bgp_id: Ipv4Addr::new(192, 0, 2, id as u8),
        ibgp: false,
        export_learned: false,
        families: dual(),
        four_octet_as: true,
    }
}

fn ibgp(id: PeerId) -> PeerInfo {
    PeerInfo {
        ibgp: true,
        ..ebgp(id, ASN)
    }
}

fn seq(v: &[u32]) -> Option<AsPath> {
    Some(AsPath {
        segments: vec![AsPathSegment::Sequence(v.to_vec())],
    })
}

/// An UPDATE announcing `prefixes` (IPv4 in NLRI, IPv6 in MP_REACH_NLRI) via `next_hop`
/// (IPv4) and 2001:db8::<last octet of next_hop> (IPv6).
fn announce(prefixes: &[&str], as_path: &[u32], next_hop: &str) -> Update {
    let nh: Ipv4Addr = next_hop.parse().expect("v4 next hop");
    let (v4, v6): (Vec<Prefix>, Vec<Prefix>) =
        prefixes.iter().map(|s| p(s)).partition(|p| p.is_ipv4());
    let mut attributes = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: seq(as_path),
        next_hop: (!v4.is_empty()).then_some(nh),
        ..PathAttributes::default()
    };
    if !v6.is_empty() {
        attributes.mp_reach = Some(MpReach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            next_hops: vec![ip(&format!("2001:db8::{}", nh.octets()[3]))],
            nlri: v6,
        });
    }
    Update {
        attributes,
        nlri: v4,
        ..Update::default()
    }
}

fn with_attrs(mut u: Update, f: impl FnOnce(&mut PathAttributes)) -> Update {
    f(&mut u.attributes);
    u
}

fn withdraw(prefixes: &[&str]) -> Update {
    Update {
        withdrawn: prefixes.iter().map(|s| p(s)).collect(),
        ..Update::default()
    }
}

fn export_to(ch: &RibChanges, peer: PeerId) -> Option<&Export> {
    ch.exports
        .iter()
        .find(|(id, _)| *id == peer)
        .map(|(_, e)| e)
}

fn announced(e: &Export) -> BTreeSet<Prefix> {
    e.announce
        .iter()
        .flat_map(|(_, ps)| ps.iter().copied())
        .collect()
}

/// The attributes `prefix` was announced with in `e`.
fn attrs_for<'a>(e: &'a Export, prefix: &str) -> &'a PathAttributes {
    let prefix = p(prefix);
    e.announce
        .iter()
        .find(|(_, ps)| ps.contains(&prefix))
        .map(|(a, _)| &**a)
        .expect("prefix announced")
}

fn installs(ch: &RibChanges) -> Vec<(Prefix, Vec<IpAddr>)> {
    ch.fib
        .iter()
        .filter_map(|f| match f {
            FibChange::Install { prefix, next_hops } => Some((*prefix, next_hops.clone())),
            FibChange::Remove { .. } => None,
        })
        .collect()
}

#[test]
fn ecmp_two_ebgp_paths_from_the_same_as() {
    for (max_paths, expect) in [(4, 2), (1, 1)] {
        let mut r = rib(max_paths);
        r.peer_up(ebgp(1, 65001));
        r.peer_up(ebgp(2, 65001));
        let ch = r.update(1, announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"));
        assert_eq!(
            installs(&ch),
            vec![(p("10.1.0.0/16"), vec![ip("10.0.0.1")])]
        );
        let ch = r.update(2, announce(&["10.1.0.0/16"], &[65001], "10.0.0.2"));
        let best = r.best(&p("10.1.0.0/16")).expect("best");
        assert_eq!(best.len(), expect);
        if expect == 2 {
            assert_eq!(
                installs(&ch),
                vec![(p("10.1.0.0/16"), vec![ip("10.0.0.1"), ip("10.0.0.2")])]
            );
        } else {
            assert!(
                ch.fib.is_empty(),
                "peer 1 (lower router ID) stays best alone"
            );
        }
    }
}

#[test]
fn ecmp_needs_the_same_neighbour_as_and_dedups_next_hops() {
    let mut r = rib(4);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ebgp(2, 65002));
    r.update(1, announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"));
    let ch = r.update(2, announce(&["10.1.0.0/16"], &[65002], "10.0.0.2"));
    assert!(ch.fib.is_empty());
    assert_eq!(r.best(&p("10.1.0.0/16")).map(<[Path]>::len), Some(1));
    // Two paths of the same AS via the same next hop: one next hop.
    let mut r = rib(4);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ebgp(2, 65001));
    r.update(1, announce(&["10.1.0.0/16"], &[65001], "10.0.0.9"));
    let ch = r.update(2, announce(&["10.1.0.0/16"], &[65001], "10.0.0.9"));
    assert!(ch.fib.is_empty(), "same next-hop set");
    assert_eq!(r.best(&p("10.1.0.0/16")).map(<[Path]>::len), Some(2));
}

#[test]
fn as_loop_is_rejected_and_withdraws_the_previous_path() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.update(1, announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"));
    let ch = r.update(
        1,
        announce(&["10.1.0.0/16"], &[65001, ASN, 65003], "10.0.0.1"),
    );
    assert_eq!(
        ch.fib,
        vec![FibChange::Remove {
            prefix: p("10.1.0.0/16")
        }]
    );
    assert_eq!(r.adj_rib_in_count(1), 0);
    assert_eq!(r.peer_counters(1).map(|c| c.as_loop), Some(1));
    assert!(r.best(&p("10.1.0.0/16")).is_none());
    assert_eq!(r.prefix_count(), 0);
}

#[test]
fn treat_as_withdraw_removes_every_prefix() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.update(
        1,
        announce(&["10.1.0.0/16", "2001:db8:1::/48"], &[65001], "10.0.0.1"),
    );
    assert_eq!(r.adj_rib_in_count(1), 2);
    let mut u = announce(&["10.1.0.0/16", "2001:db8:1::/48"], &[65001], "10.0.0.1");
    u.faults.push(AttrFault {
        type_code: 8,
        action: AttrAction::TreatAsWithdraw,
        subcode: 9,
        reason: "communities length".into(),
        data: Default::default(),
    });
    let ch = r.update(1, u);
    assert_eq!(ch.fib.len(), 2);
    assert!(ch.fib.iter().all(|f| matches!(f, FibChange::Remove { .. })));
    assert_eq!(r.adj_rib_in_count(1), 0);
    assert_eq!(r.peer_counters(1).map(|c| c.treat_as_withdraw), Some(1));
}

#[test]
fn peer_down_withdraws_and_exports() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ebgp(2, 65002));
    r.peer_up(ibgp(3));
    r.update(
        1,
        announce(&["10.1.0.0/16", "10.2.0.0/16"], &[65001], "10.0.0.1"),
    );
    r.update(2, announce(&["10.1.0.0/16"], &[65002, 65009], "10.0.0.2"));
    assert_eq!(r.adj_rib_out_count(3), 2);
    let ch = r.peer_down(1);
    // 10.1 falls back to peer 2; 10.2 is gone.
    let mut fib = ch.fib.clone();
    fib.sort_by_key(|f| match f {
        FibChange::Install { prefix, .. } | FibChange::Remove { prefix } => *prefix,
    });
    assert_eq!(
        fib,
        vec![
            FibChange::Install {
                prefix: p("10.1.0.0/16"),
                next_hops: vec![ip("10.0.0.2")]
            },
            FibChange::Remove {
                prefix: p("10.2.0.0/16")
            },
        ]
    );
    let e = export_to(&ch, 3).expect("iBGP peer told");
    assert_eq!(e.withdraw, vec![p("10.2.0.0/16")]);
    assert_eq!(attrs_for(e, "10.1.0.0/16").as_path, seq(&[65002, 65009]));
    assert!(
        export_to(&ch, 1).is_none(),
        "nothing to the peer that went down"
    );
    assert!(
        export_to(&ch, 2).is_none(),
        "eBGP peer 2 never got learned routes"
    );
    assert_eq!(r.adj_rib_out_count(3), 1);
    assert_eq!(r.adj_rib_in_count(1), 0);
    assert_eq!(r.prefix_count(), 1);
    assert!(r.peer_down(1).is_empty(), "a second peer_down is a no-op");
}

#[test]
fn split_horizon_and_export_learned() {
    let mut r = rib(1);
    let mut rs1 = ebgp(1, 65001);
    rs1.export_learned = true;
    let mut rs2 = ebgp(2, 65002);
    rs2.export_learned = true;
    r.peer_up(rs1);
    r.peer_up(rs2);
    r.peer_up(ebgp(3, 65003));
    let ch = r.update(1, announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"));
    assert!(
        export_to(&ch, 1).is_none(),
        "never back to the peer it came from"
    );
    assert!(
        export_to(&ch, 3).is_none(),
        "export_learned off: only local prefixes"
    );
    let e = export_to(&ch, 2).expect("export_learned peer");
    let a = attrs_for(e, "10.1.0.0/16");
    assert_eq!(a.as_path, seq(&[ASN, 65001]));
    assert_eq!(a.next_hop, Some(Ipv4Addr::new(10, 0, 0, 100)));
    assert_eq!(a.local_pref, None);
}

#[test]
fn ibgp_learned_not_sent_to_ibgp_but_ebgp_learned_is() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ibgp(2));
    r.peer_up(ibgp(3));
    let ch = r.update(2, announce(&["10.2.0.0/16"], &[], "10.0.0.2"));
    assert!(
        ch.exports.is_empty(),
        "iBGP-learned: not to iBGP, not to eBGP by default"
    );
    assert_eq!(
        installs(&ch),
        vec![(p("10.2.0.0/16"), vec![ip("10.0.0.2")])]
    );
    let ch = r.update(
        1,
        with_attrs(announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"), |a| {
            a.med = Some(7);
            a.local_pref = Some(999);
        }),
    );
    for peer in [2, 3] {
        let e = export_to(&ch, peer).expect("eBGP-learned goes to iBGP");
        let a = attrs_for(e, "10.1.0.0/16");
        assert_eq!(a.as_path, seq(&[65001]), "AS_PATH unchanged toward iBGP");
        assert_eq!(
            a.next_hop,
            Some(Ipv4Addr::new(10, 0, 0, 1)),
            "next hop kept"
        );
        assert_eq!(
            a.local_pref,
            Some(100),
            "LOCAL_PREF from eBGP ignored, 100 sent"
        );
        assert_eq!(a.med, Some(7));
    }
    assert!(export_to(&ch, 1).is_none());
}

#[test]
fn local_prefixes_go_to_every_peer_and_changes_are_diffed() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ibgp(2));
    let ch = r.set_local_prefixes(vec![p("10.244.1.0/24"), p("10.244.2.0/24")]);
    assert!(ch.fib.is_empty(), "no FIB changes for our own prefixes");
    let e = export_to(&ch, 1).expect("eBGP");
    let a = attrs_for(e, "10.244.1.0/24");
    assert_eq!(a.origin, Some(Origin::Igp));
    assert_eq!(a.as_path, seq(&[ASN]));
    assert_eq!(a.next_hop, Some(Ipv4Addr::new(10, 0, 0, 100)));
    assert_eq!((a.local_pref, a.med), (None, None));
    assert_eq!(e.announce.len(), 1, "grouped by identical attributes");
    let i = export_to(&ch, 2).expect("iBGP");
    let a = attrs_for(i, "10.244.1.0/24");
    assert_eq!(a.as_path, Some(AsPath::default()));
    assert_eq!(a.local_pref, Some(100));
    assert_eq!(a.next_hop, Some(Ipv4Addr::new(10, 0, 0, 100)));

    let ch = r.set_local_prefixes(vec![p("10.244.2.0/24"), p("10.244.3.0/24")]);
    for peer in [1, 2] {
        let e = export_to(&ch, peer).expect("told");
        assert_eq!(e.withdraw, vec![p("10.244.1.0/24")]);
        assert_eq!(announced(e), [p("10.244.3.0/24")].into());
    }
    assert!(r
        .set_local_prefixes(vec![p("10.244.3.0/24"), p("10.244.2.0/24")])
        .is_empty());
    // A new peer gets the current set.
    let ch = r.peer_up(ebgp(4, 65004));
    assert_eq!(
        announced(export_to(&ch, 4).expect("initial export")),
        [p("10.244.2.0/24"), p("10.244.3.0/24")].into()
    );
    assert_eq!(r.adj_rib_out_count(4), 2);
}

#[test]
fn local_prefix_takes_over_from_a_learned_route() {
    let mut r = rib(1);
    r.peer_up(ibgp(1));
    r.update(1, announce(&["10.244.1.0/24"], &[], "10.0.0.1"));
    let ch = r.set_local_prefixes(vec![p("10.244.1.0/24")]);
    assert_eq!(
        ch.fib,
        vec![FibChange::Remove {
            prefix: p("10.244.1.0/24")
        }]
    );
    let e = export_to(&ch, 1).expect("now ours: announced to the iBGP peer");
    assert_eq!(announced(e), [p("10.244.1.0/24")].into());
    assert_eq!(
        r.best(&p("10.244.1.0/24")).map(|b| b[0].source),
        Some(PathSource::Local)
    );
    let ch = r.set_local_prefixes(vec![]);
    assert_eq!(
        installs(&ch),
        vec![(p("10.244.1.0/24"), vec![ip("10.0.0.1")])]
    );
    assert_eq!(
        export_to(&ch, 1).map(|e| e.withdraw.clone()),
        Some(vec![p("10.244.1.0/24")])
    );
}

#[test]
fn same_update_twice_sends_nothing_the_second_time() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ibgp(2));
    let u = announce(&["10.1.0.0/16", "10.2.0.0/16"], &[65001], "10.0.0.1");
    let first = r.update(1, u.clone());
    assert_eq!(
        export_to(&first, 2).map(announced).map(|s| s.len()),
        Some(2)
    );
    assert!(r.update(1, u).is_empty());
    // A change of attributes that the iBGP peer sees is re-sent; one it does not see is not.
    let ch = r.update(
        1,
        with_attrs(announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"), |a| {
            a.med = Some(5)
        }),
    );
    assert_eq!(
        export_to(&ch, 2).map(announced),
        Some([p("10.1.0.0/16")].into())
    );
    let ch = r.update(
        1,
        with_attrs(announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"), |a| {
            a.med = Some(5);
            a.local_pref = Some(700); // ignored from eBGP: same path
        }),
    );
    assert!(ch.is_empty());
    assert_eq!(r.adj_rib_out_count(2), 2);
}

#[test]
fn withdrawals_only_for_what_was_advertised() {
    let mut r = rib(1);
    r.peer_up(ibgp(1));
    r.peer_up(ibgp(2));
    r.peer_up(ebgp(3, 65003));
    r.update(1, announce(&["10.1.0.0/16"], &[], "10.0.0.1"));
    let ch = r.update(1, withdraw(&["10.1.0.0/16", "10.9.0.0/16"]));
    assert!(
        ch.exports.is_empty(),
        "never advertised, so never withdrawn"
    );
    assert_eq!(
        ch.fib,
        vec![FibChange::Remove {
            prefix: p("10.1.0.0/16")
        }]
    );
}

#[test]
fn ipv6_local_prefix_uses_the_mp_next_hop() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    let mut no_v6 = ebgp(2, 65002);
    no_v6.local_v6_next_hop = None;
    r.peer_up(no_v6);
    let mut v4_only = ebgp(3, 65003);
    v4_only.families = vec![(Afi::Ipv4, Safi::Unicast)];
    r.peer_up(v4_only);
    let mut v6_session = ebgp(4, 65004);
    v6_session.local_address = ip("2001:db8:ffff::1");
    v6_session.local_v6_next_hop = None;
    r.peer_up(v6_session);
    let ch = r.set_local_prefixes(vec![p("fd00:10:244:1::/64"), p("10.244.1.0/24")]);
    let e = export_to(&ch, 1).expect("dual-stack peer");
    let a = attrs_for(e, "fd00:10:244:1::/64");
    assert_eq!(a.next_hop, None);
    let mp = a.mp_reach.as_ref().expect("MP_REACH_NLRI template");
    assert_eq!((mp.afi, mp.safi), (Afi::Ipv6, Safi::Unicast));
    assert_eq!(mp.next_hops, vec![ip("2001:db8::100")]);
    assert!(mp.nlri.is_empty());
    assert_eq!(a.as_path, seq(&[ASN]));
    assert_eq!(e.announce.len(), 2, "one group per family");
    // No IPv6 next hop for peer 2: IPv4 only, and counted.
    let e2 = export_to(&ch, 2).expect("IPv4 still sent");
    assert_eq!(announced(e2), [p("10.244.1.0/24")].into());
    assert_eq!(r.peer_counters(2).map(|c| c.export_no_next_hop), Some(1));
    // Peer 3 negotiated IPv4 only.
    assert_eq!(
        export_to(&ch, 3).map(announced),
        Some([p("10.244.1.0/24")].into())
    );
    // Peer 4's session is IPv6: its own address is the IPv6 next hop; no IPv4 next hop.
    let e4 = export_to(&ch, 4).expect("IPv6 session");
    assert_eq!(announced(e4), [p("fd00:10:244:1::/64")].into());
    assert_eq!(
        attrs_for(e4, "fd00:10:244:1::/64")
            .mp_reach
            .as_ref()
            .map(|m| m.next_hops.clone()),
        Some(vec![ip("2001:db8:ffff::1")])
    );
    assert_eq!(r.peer_counters(4).map(|c| c.export_no_next_hop), Some(1));
}

#[test]
fn learned_ipv6_route_installs_global_next_hop() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    let ch = r.update(1, announce(&["2001:db8:5::/48"], &[65001], "10.0.0.1"));
    assert_eq!(
        installs(&ch),
        vec![(p("2001:db8:5::/48"), vec![ip("2001:db8::1")])]
    );
    let ch = r.update(
        1,
        Update {
            attributes: PathAttributes {
                mp_unreach: Some(crate::wire::MpUnreach {
                    afi: Afi::Ipv6,
                    safi: Safi::Unicast,
                    withdrawn: vec![p("2001:db8:5::/48")],
                }),
                ..PathAttributes::default()
            },
            ..Update::default()
        },
    );
    assert_eq!(
        ch.fib,
        vec![FibChange::Remove {
            prefix: p("2001:db8:5::/48")
        }]
    );
}

#[test]
fn route_refresh_resends_the_family() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ibgp(2));
    r.set_local_prefixes(vec![p("10.244.1.0/24"), p("fd00::/64")]);
    r.update(
        1,
        announce(&["10.1.0.0/16", "2001:db8:1::/48"], &[65001], "10.0.0.1"),
    );
    let ch = r.route_refresh(2, Afi::Ipv4, Safi::Unicast);
    assert!(ch.fib.is_empty());
    assert_eq!(
        export_to(&ch, 2).map(announced),
        Some([p("10.1.0.0/16"), p("10.244.1.0/24")].into())
    );
    let ch = r.route_refresh(2, Afi::Ipv6, Safi::Unicast);
    assert_eq!(
        export_to(&ch, 2).map(announced),
        Some([p("2001:db8:1::/48"), p("fd00::/64")].into())
    );
    assert!(r.route_refresh(2, Afi::Ipv4, Safi::Multicast).is_empty());
    assert!(r.route_refresh(9, Afi::Ipv4, Safi::Unicast).is_empty());
    assert_eq!(r.adj_rib_out_count(2), 4);
}

#[test]
fn next_hop_that_is_ours_is_kept_but_unused() {
    let mut r = rib(1);
    r.peer_up(ibgp(1));
    r.peer_up(ibgp(2));
    let ch = r.update(1, announce(&["10.1.0.0/16"], &[], "10.0.0.100"));
    assert!(ch.is_empty());
    assert_eq!(r.adj_rib_in_count(1), 1);
    assert!(r.best(&p("10.1.0.0/16")).is_none());
    assert_eq!(r.peer_counters(1).map(|c| c.unusable_next_hop), Some(1));
    let all: Vec<_> = r.loc_rib().collect();
    assert_eq!(all.len(), 1);
    assert!(!all[0].1[0].eligible);
    // A usable path from another peer wins; the unusable one stays listed after it.
    let ch = r.update(2, announce(&["10.1.0.0/16"], &[], "10.0.0.2"));
    assert_eq!(
        installs(&ch),
        vec![(p("10.1.0.0/16"), vec![ip("10.0.0.2")])]
    );
    let (_, paths) = r.loc_rib().next().expect("one prefix");
    assert_eq!(
        paths.iter().map(|p| p.source).collect::<Vec<_>>(),
        vec![PathSource::Peer(2), PathSource::Peer(1)]
    );
}

#[test]
fn ibgp_local_pref_beats_shorter_ebgp_path() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ibgp(2));
    r.update(1, announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"));
    let ch = r.update(
        2,
        with_attrs(
            announce(&["10.1.0.0/16"], &[65005, 65006], "10.0.0.2"),
            |a| a.local_pref = Some(200),
        ),
    );
    assert_eq!(
        installs(&ch),
        vec![(p("10.1.0.0/16"), vec![ip("10.0.0.2")])]
    );
    // The iBGP-learned best is not sent to the eBGP peer (no export_learned) ...
    assert!(export_to(&ch, 1).is_none());
    // ... and the iBGP peer, which had the eBGP route, now has it withdrawn (its own route
    // won: split horizon).
    assert_eq!(
        export_to(&ch, 2).map(|e| e.withdraw.clone()),
        Some(vec![p("10.1.0.0/16")])
    );
}

#[test]
fn interned_attributes_are_shared_and_released() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ebgp(2, 65002));
    for i in 0..500u32 {
        let prefix = format!("10.{}.{}.0/24", i / 256, i % 256);
        r.update(1, announce(&[&prefix], &[65001], "10.0.0.1"));
        r.update(2, announce(&[&prefix], &[65002, 1], "10.0.0.2"));
    }
    assert_eq!(r.attribute_set_count(), 2);
    let ptrs: BTreeSet<*const PathAttributes> = r
        .loc_rib()
        .flat_map(|(_, ps)| ps.iter().map(|p| Arc::as_ptr(&p.attrs)))
        .collect();
    assert_eq!(ptrs.len(), 2);
    r.update(2, withdraw(&["10.0.0.0/24"]));
    assert_eq!(r.attribute_set_count(), 2);
    r.peer_down(2);
    assert_eq!(r.attribute_set_count(), 1);
    let all: Vec<Prefix> = r.loc_rib().map(|(p, _)| p).collect();
    let ps: Vec<String> = all.iter().map(|p| p.to_string()).collect();
    let refs: Vec<&str> = ps.iter().map(String::as_str).collect();
    r.update(1, withdraw(&refs));
    assert_eq!(r.attribute_set_count(), 0);
    assert_eq!(r.prefix_count(), 0);
}

#[test]
fn one_update_of_many_prefixes_is_one_group() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.peer_up(ibgp(2));
    let names: Vec<String> = (0..1000u32)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ch = r.update(1, announce(&refs, &[65001], "10.0.0.1"));
    assert_eq!(ch.fib.len(), 1000);
    let e = export_to(&ch, 2).expect("to iBGP");
    assert_eq!(e.announce.len(), 1);
    assert_eq!(e.announce[0].1.len(), 1000);
    assert_eq!(r.adj_rib_in_count(1), 1000);
    assert_eq!(r.adj_rib_out_count(2), 1000);
}

#[test]
fn a_mass_withdrawal_gives_memory_back() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    let names: Vec<String> = (0..8000u32)
        .map(|i| format!("10.{}.{}.0/24", i / 256, i % 256))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    r.update(1, announce(&refs, &[65001], "10.0.0.1"));
    assert!(r.table.capacity() >= 8000);
    let ch = r.update(1, withdraw(&refs[100..]));
    assert_eq!(ch.fib.len(), 7900);
    assert_eq!(r.prefix_count(), 100);
    assert!(r.table.capacity() < 2000, "{}", r.table.capacity());
    for name in &refs[..100] {
        assert!(r.best(&p(name)).is_some());
    }
}

#[test]
fn peer_up_twice_resets_the_old_session() {
    let mut r = rib(1);
    r.peer_up(ebgp(1, 65001));
    r.update(1, announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"));
    let ch = r.peer_up(ebgp(1, 65001));
    assert_eq!(
        ch.fib,
        vec![FibChange::Remove {
            prefix: p("10.1.0.0/16")
        }]
    );
    assert_eq!(r.adj_rib_in_count(1), 0);
    assert!(r
        .update(9, announce(&["10.1.0.0/16"], &[65001], "10.0.0.1"))
        .is_empty());
}

/// Measures the resident memory of a million IPv4 /32s from one peer, each UPDATE carrying
/// 1000 of them. `cargo test -p bgpod-bgp --release -- --ignored million --nocapture`
#[test]
#[ignore = "memory and time measurement; run in release"]
fn million_prefixes_from_one_peer() {
    fn rss_kib() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }
    let before = rss_kib();
    let mut r = rib(4);
    r.peer_up(ebgp(1, 65001));
    r.set_local_prefixes(vec![p("10.244.1.0/24")]);
    let start = std::time::Instant::now();
    let mut installed = 0;
    for chunk in 0..1000u32 {
        let nlri: Vec<Prefix> = (0..1000u32)
            .map(|i| {
                let n = chunk * 1000 + i;
                Prefix::new(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + n)), 32).expect("prefix")
            })
            .collect();
        let mut u = announce(&[], &[65001, 65100, 65200], "10.0.0.1");
        u.attributes.next_hop = Some(Ipv4Addr::new(10, 0, 0, 1));
        u.nlri = nlri;
        installed += r.update(1, u).fib.len();
    }
    let load = start.elapsed();
    let after = rss_kib();
    assert_eq!(installed, 1_000_000);
    assert_eq!(r.adj_rib_in_count(1), 1_000_000);
    let start = std::time::Instant::now();
    let ch = r.peer_down(1);
    let down = start.elapsed();
    assert_eq!(ch.fib.len(), 1_000_000);
    println!(
        "1M prefixes: load {load:?} ({:.0} ns/prefix), RSS +{} MiB; peer_down {down:?}",
        load.as_nanos() as f64 / 1e6,
        (after - before) / 1024
    );
}
