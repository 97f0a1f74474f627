//! Randomized model test: random announce / withdraw / treat-as-withdraw / AS-loop / local
//! prefix / session flap / route refresh sequences from four peers. After every event the
//! RIB's best paths, the FIB built from its `FibChange`s and each peer's Adj-RIB-Out built
//! from its `Export`s must equal a recomputation from scratch, and no output may be redundant
//! (an install of the same next hops, an announce of what the peer already has, a withdrawal
//! of what it never had).

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;

use super::*;

const NO_EXPORT: u32 = 0xFFFF_FF01;

const PREFIXES: [&str; 5] = [
    "10.1.0.0/16",
    "10.2.0.0/16",
    "10.3.0.0/24",
    "2001:db8:1::/48",
    "2001:db8:2::/48",
];
/// Next hops by index; index 3 is our own address (unusable).
const V4_NH: [&str; 4] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.100"];
const V6_NH: [&str; 4] = ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::100"];

fn model_peers() -> Vec<PeerInfo> {
    let mut a = ebgp(1, 65001);
    a.export_learned = true;
    vec![a, ebgp(2, 65001), ibgp(3), ibgp(4)]
}

#[derive(Debug, Clone)]
struct Variant {
    local_pref: Option<u32>,
    extra_len: usize,
    neighbor: u32,
    med: Option<u32>,
    origin: Origin,
    next_hop: usize,
    no_export: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Announce(usize, usize, Variant),
    Withdraw(usize, usize),
    TreatAsWithdraw(usize, usize, Variant),
    Loop(usize, usize, Variant),
    SetLocal(u8),
    Flap(usize),
    Refresh(usize, bool),
}

fn arb_variant() -> impl Strategy<Value = Variant> {
    (
        prop::option::of(prop_oneof![Just(50u32), Just(100), Just(200)]),
        0usize..2,
        0u32..3,
        prop::option::of(0u32..3),
        prop_oneof![Just(Origin::Igp), Just(Origin::Incomplete)],
        0usize..4,
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(local_pref, extra_len, neighbor, med, origin, next_hop, no_export)| Variant {
                local_pref,
                extra_len,
                neighbor,
                med,
                origin,
                next_hop,
                no_export,
            },
        )
}

fn arb_op() -> impl Strategy<Value = Op> {
    let pi = 0usize..4;
    let xi = 0usize..PREFIXES.len();
    prop_oneof![
        6 => (pi.clone(), xi.clone(), arb_variant()).prop_map(|(a, b, v)| Op::Announce(a, b, v)),
        3 => (pi.clone(), xi.clone()).prop_map(|(a, b)| Op::Withdraw(a, b)),
        1 => (pi.clone(), xi.clone(), arb_variant()).prop_map(|(a, b, v)| Op::TreatAsWithdraw(a, b, v)),
        1 => (pi.clone(), xi.clone(), arb_variant()).prop_map(|(a, b, v)| Op::Loop(a, b, v)),
        1 => any::<u8>().prop_map(Op::SetLocal),
        1 => pi.clone().prop_map(Op::Flap),
        1 => (pi, any::<bool>()).prop_map(|(a, b)| Op::Refresh(a, b)),
    ]
}

/// The attributes a peer sends for a variant (before import).
fn variant_attrs(peer: &PeerInfo, v: &Variant, prefix: &Prefix) -> PathAttributes {
    let first = if peer.ibgp {
        65000 + v.neighbor
    } else {
        peer.asn
    };
    let mut asns = vec![first];
    asns.resize(1 + v.extra_len, 65100);
    PathAttributes {
        origin: Some(v.origin),
        as_path: if peer.ibgp && v.neighbor == 0 {
            Some(AsPath::default())
        } else {
            seq(&asns)
        },
        next_hop: prefix
            .is_ipv4()
            .then(|| V4_NH[v.next_hop].parse().expect("addr")),
        med: v.med,
        local_pref: v.local_pref,
        communities: if v.no_export { vec![NO_EXPORT] } else { vec![] },
        ..PathAttributes::default()
    }
}

fn variant_update(peer: &PeerInfo, v: &Variant, prefix: Prefix) -> Update {
    let mut attributes = variant_attrs(peer, v, &prefix);
    if prefix.is_ipv4() {
        Update {
            attributes,
            nlri: vec![prefix],
            ..Update::default()
        }
    } else {
        attributes.mp_reach = Some(MpReach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            next_hops: vec![ip(V6_NH[v.next_hop])],
            nlri: vec![prefix],
        });
        Update {
            attributes,
            ..Update::default()
        }
    }
}

/// The path the RIB should hold for a variant (after import).
fn variant_path(peer: &PeerInfo, v: &Variant, prefix: &Prefix) -> Path {
    let mut attrs = variant_attrs(peer, v, prefix);
    if !peer.ibgp {
        attrs.local_pref = None;
    }
    let next_hop = if prefix.is_ipv4() {
        V4_NH[v.next_hop]
    } else {
        V6_NH[v.next_hop]
    };
    Path::new(PathData {
        source: PathSource::Peer(peer.id),
        peer_address: Some(peer.address),
        peer_bgp_id: peer.bgp_id,
        ibgp: peer.ibgp,
        attrs: Arc::new(attrs),
        next_hop: Some(ip(next_hop)),
        eligible: v.next_hop != 3,
    })
}

#[derive(Default)]
struct Model {
    adj_in: BTreeMap<(PeerId, Prefix), Variant>,
    local: BTreeSet<Prefix>,
    fib: HashMap<Prefix, BTreeSet<IpAddr>>,
    out: HashMap<PeerId, HashMap<Prefix, Arc<PathAttributes>>>,
}

impl Model {
    /// Applies a RIB's output, checking it is never redundant.
    fn apply(&mut self, ch: RibChanges) -> Result<(), TestCaseError> {
        for f in ch.fib {
            match f {
                FibChange::Install { prefix, next_hops } => {
                    let set: BTreeSet<IpAddr> = next_hops.iter().copied().collect();
                    prop_assert_eq!(set.len(), next_hops.len(), "duplicate next hops");
                    prop_assert!(self.fib.get(&prefix) != Some(&set), "redundant install");
                    self.fib.insert(prefix, set);
                }
                FibChange::Remove { prefix } => {
                    prop_assert!(self.fib.remove(&prefix).is_some(), "remove of nothing");
                }
            }
        }
        for (peer, e) in ch.exports {
            prop_assert!(!e.is_empty());
            let out = self.out.entry(peer).or_default();
            for w in e.withdraw {
                prop_assert!(out.remove(&w).is_some(), "withdraw of unadvertised {}", w);
            }
            for (i, (a, ps)) in e.announce.iter().enumerate() {
                prop_assert!(e.announce[..i].iter().all(|(b, _)| b != a), "split group");
                for prefix in ps {
                    prop_assert!(out.get(prefix) != Some(a), "redundant announce {}", prefix);
                    out.insert(*prefix, Arc::clone(a));
                }
            }
        }
        Ok(())
    }

    /// Recomputes everything from scratch and compares with the RIB.
    fn check(&self, r: &Rib, peers: &[PeerInfo]) -> Result<(), TestCaseError> {
        for name in PREFIXES {
            let prefix = p(name);
            let mut paths: Vec<Path> = self
                .adj_in
                .iter()
                .filter(|((_, x), _)| *x == prefix)
                .map(|((id, _), v)| {
                    let peer = &peers[*id as usize - 1];
                    variant_path(peer, v, &prefix)
                })
                .collect();
            if self.local.contains(&prefix) {
                paths.push(r.local_path());
            }
            let n = decision::rank(&mut paths, r.local.max_paths);
            let got = r.best(&prefix).unwrap_or(&[]);
            prop_assert_eq!(got, &paths[..n], "best of {}", prefix);
            let all = r.table.get(&prefix).map(|e| e.paths().len()).unwrap_or(0);
            prop_assert_eq!(all, paths.len());

            let fib: BTreeSet<IpAddr> = fib_next_hops(&paths[..n]).into_iter().collect();
            prop_assert_eq!(
                self.fib.get(&prefix).cloned().unwrap_or_default(),
                fib,
                "FIB of {}",
                prefix
            );
            for peer in peers {
                let mut b = ExportBuilder::default();
                let want = paths[..n]
                    .first()
                    .and_then(|best| b.view(&r.local, peer, &prefix, best).sent());
                let have = self.out.get(&peer.id).and_then(|o| o.get(&prefix));
                prop_assert_eq!(
                    have,
                    want.as_ref(),
                    "Adj-RIB-Out of {} for {}",
                    peer.id,
                    prefix
                );
            }
        }
        // The interner holds exactly the attribute sets learned paths use: nothing leaks.
        let in_use: BTreeSet<*const PathAttributes> = r
            .loc_rib()
            .flat_map(|(_, ps)| ps.iter())
            .filter(|p| p.source != PathSource::Local)
            .map(|p| Arc::as_ptr(&p.attrs))
            .collect();
        prop_assert_eq!(r.attribute_set_count(), in_use.len());
        for peer in peers {
            let ins = self.adj_in.keys().filter(|(id, _)| *id == peer.id).count();
            prop_assert_eq!(r.adj_rib_in_count(peer.id), ins);
            let outs = self.out.get(&peer.id).map_or(0, HashMap::len);
            prop_assert_eq!(r.adj_rib_out_count(peer.id), outs);
        }
        Ok(())
    }
}

fn run_model(ops: Vec<Op>, max_paths: usize) -> Result<(), TestCaseError> {
    let peers = model_peers();
    let mut r = rib(max_paths);
    let mut m = Model::default();
    for peer in &peers {
        m.apply(r.peer_up(peer.clone()))?;
    }
    for op in ops {
        match op {
            Op::Announce(pi, xi, v) => {
                let peer = &peers[pi];
                let prefix = p(PREFIXES[xi]);
                m.adj_in.insert((peer.id, prefix), v.clone());
                m.apply(r.update(peer.id, variant_update(peer, &v, prefix)))?;
            }
            Op::Withdraw(pi, xi) => {
                let peer = &peers[pi];
                let prefix = p(PREFIXES[xi]);
                m.adj_in.remove(&(peer.id, prefix));
                let u = if prefix.is_ipv4() {
                    withdraw(&[PREFIXES[xi]])
                } else {
                    Update {
                        attributes: PathAttributes {
                            mp_unreach: Some(crate::wire::MpUnreach {
                                afi: Afi::Ipv6,
                                safi: Safi::Unicast,
                                withdrawn: vec![prefix],
                            }),
                            ..PathAttributes::default()
                        },
                        ..Update::default()
                    }
                };
                m.apply(r.update(peer.id, u))?;
            }
            Op::TreatAsWithdraw(pi, xi, v) => {
                let peer = &peers[pi];
                let prefix = p(PREFIXES[xi]);
                m.adj_in.remove(&(peer.id, prefix));
                let mut u = variant_update(peer, &v, prefix);
                u.faults.push(AttrFault {
                    type_code: 2,
                    action: AttrAction::TreatAsWithdraw,
                    subcode: 11,
                    reason: "malformed AS_PATH".into(),
                    data: Default::default(),
                });
                m.apply(r.update(peer.id, u))?;
            }
            Op::Loop(pi, xi, v) => {
                let peer = &peers[pi];
                let prefix = p(PREFIXES[xi]);
                m.adj_in.remove(&(peer.id, prefix));
                let mut u = variant_update(peer, &v, prefix);
                u.attributes.as_path = seq(&[peer.asn, ASN]);
                m.apply(r.update(peer.id, u))?;
            }
            Op::SetLocal(mask) => {
                let set: Vec<Prefix> = PREFIXES
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, s)| p(s))
                    .collect();
                m.local = set.iter().copied().collect();
                m.apply(r.set_local_prefixes(set))?;
            }
            Op::Flap(pi) => {
                let peer = &peers[pi];
                m.adj_in.retain(|(id, _), _| *id != peer.id);
                m.apply(r.peer_down(peer.id))?;
                m.out.remove(&peer.id);
                m.apply(r.peer_up(peer.clone()))?;
            }
            Op::Refresh(pi, v6) => {
                let peer = &peers[pi];
                let afi = if v6 { Afi::Ipv6 } else { Afi::Ipv4 };
                let ch = r.route_refresh(peer.id, afi, Safi::Unicast);
                prop_assert!(ch.fib.is_empty());
                let sent: HashMap<Prefix, Arc<PathAttributes>> = ch
                    .exports
                    .iter()
                    .flat_map(|(_, e)| {
                        e.announce
                            .iter()
                            .flat_map(|(a, ps)| ps.iter().map(move |x| (*x, Arc::clone(a))))
                    })
                    .collect();
                let want: HashMap<Prefix, Arc<PathAttributes>> = m
                    .out
                    .get(&peer.id)
                    .into_iter()
                    .flatten()
                    .filter(|(x, _)| of_afi(x, afi))
                    .map(|(x, a)| (*x, Arc::clone(a)))
                    .collect();
                prop_assert_eq!(sent, want, "route refresh of peer {}", peer.id);
            }
        }
        m.check(&r, &peers)?;
    }
    Ok(())
}

proptest! {
    #[test]
    fn incremental_rib_matches_recomputation(
        ops in prop::collection::vec(arb_op(), 1..60),
        max_paths in 1usize..4,
    ) {
        run_model(ops, max_paths)?;
    }
}
