//! proptest generators for well-formed messages (test builds only).
//!
//! "Well-formed" means what a correct peer would send, so that decoding gives back exactly the
//! value encoded: no AS 0 (RFC 7607), no empty segments, confederation segments only at the
//! front (where RFC 6793 §4.2.3 keeps them), the mandatory attributes present when something is
//! announced, LOCAL_PREF only toward iBGP, unknown attributes optional transitive with the
//! Partial bit set and in ascending type order, NEXT_HOP a host address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;

use super::attr::{
    Aggregator, AsPath, AsPathSegment, LargeCommunity, MpReach, MpUnreach, Origin, PathAttributes,
    RawAttribute,
};
use super::capability::{AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily};
use super::iana::{attr_flags, Afi, Safi};
use super::prefix::{IpNetwork, Ipv4Network, Ipv6Network, Prefix};
use super::{Message, Notification, Open, RouteRefresh, SessionContext, Update};

pub(crate) fn ipv4_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u32>(), 0u8..=32).prop_map(|(addr, len)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        let net = Ipv4Network::new(Ipv4Addr::from(addr & mask), len);
        IpNetwork::V4(net.unwrap_or_else(|_| unreachable!("len <= 32")))
    })
}

pub(crate) fn ipv6_prefix() -> impl Strategy<Value = Prefix> {
    (any::<u128>(), 0u8..=128).prop_map(|(addr, len)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        let net = Ipv6Network::new(Ipv6Addr::from(addr & mask), len);
        IpNetwork::V6(net.unwrap_or_else(|_| unreachable!("len <= 128")))
    })
}

pub(crate) fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![ipv4_prefix(), ipv6_prefix()]
}

fn afi() -> impl Strategy<Value = Afi> {
    prop_oneof![
        Just(Afi::Ipv4),
        Just(Afi::Ipv6),
        any::<u16>().prop_map(Afi::from)
    ]
}

fn safi() -> impl Strategy<Value = Safi> {
    prop_oneof![Just(Safi::Unicast), any::<u8>().prop_map(Safi::from)]
}

/// Capability codes bgpod decodes into their own variants; `Unknown` must avoid them.
const KNOWN_CAPABILITIES: [u8; 7] = [1, 2, 6, 64, 65, 69, 70];

pub(crate) fn capability() -> impl Strategy<Value = Capability> {
    let gr_family = (afi(), safi(), any::<bool>()).prop_map(|(afi, safi, forwarding_state)| {
        GracefulRestartFamily {
            afi,
            safi,
            forwarding_state,
        }
    });
    let add_path = (afi(), safi(), 0u8..=3).prop_map(|(afi, safi, send_receive)| AddPathFamily {
        afi,
        safi,
        send_receive,
    });
    prop_oneof![
        (afi(), safi()).prop_map(|(afi, safi)| Capability::Multiprotocol { afi, safi }),
        Just(Capability::RouteRefresh),
        Just(Capability::ExtendedMessage),
        Just(Capability::EnhancedRouteRefresh),
        any::<u32>().prop_map(Capability::FourOctetAs),
        (
            any::<bool>(),
            any::<bool>(),
            0u16..4096,
            vec(gr_family, 0..4)
        )
            .prop_map(|(restart_state, notification, restart_time, families)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state,
                    notification,
                    restart_time,
                    families,
                })
            }),
        vec(add_path, 0..4).prop_map(Capability::AddPath),
        (
            any::<u8>().prop_filter("unknown code", |c| !KNOWN_CAPABILITIES.contains(c)),
            vec(any::<u8>(), 0..40)
        )
            .prop_map(|(code, value)| Capability::Unknown {
                code,
                value: Bytes::from(value),
            }),
    ]
}

pub(crate) fn open() -> impl Strategy<Value = Open> {
    (
        any::<u8>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        // Up to 40 capabilities: past 255 octets the RFC 9072 format is exercised too.
        vec(capability(), 0..40),
    )
        .prop_map(|(version, my_as, hold_time, bgp_id, capabilities)| Open {
            version,
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(bgp_id),
            capabilities,
        })
}

fn asn() -> impl Strategy<Value = u32> {
    prop_oneof![
        1u32..=65535,
        65536u32..=u32::MAX,
        Just(u32::from(super::AS_TRANS))
    ]
}

pub(crate) fn as_path() -> impl Strategy<Value = AsPath> {
    let segment = (any::<bool>(), vec(asn(), 1..8)).prop_map(|(set, asns)| {
        if set {
            AsPathSegment::Set(asns)
        } else {
            AsPathSegment::Sequence(asns)
        }
    });
    // Confederation members are private 2-octet ASes in practice; leading segments only.
    let confed = (any::<bool>(), vec(64512u32..=65534, 1..4)).prop_map(|(set, asns)| {
        if set {
            AsPathSegment::ConfedSet(asns)
        } else {
            AsPathSegment::ConfedSequence(asns)
        }
    });
    (proptest::option::of(confed), vec(segment, 0..4)).prop_map(|(confed, rest)| AsPath {
        segments: confed.into_iter().chain(rest).collect(),
    })
}

/// A NEXT_HOP that is a host address (RFC 4271 §6.3).
fn next_hop() -> impl Strategy<Value = Ipv4Addr> {
    (0x0100_0000u32..0xe000_0000).prop_map(Ipv4Addr::from)
}

/// Unknown optional transitive attributes, types unique and ascending.
fn unknown_attributes() -> impl Strategy<Value = Vec<RawAttribute>> {
    let unknown_type = prop_oneof![19u8..32, 33u8..=255];
    proptest::collection::btree_map(unknown_type, vec(any::<u8>(), 0..300), 0..3).prop_map(|m| {
        m.into_iter()
            .map(|(type_code, value)| RawAttribute {
                flags: attr_flags::OPTIONAL | attr_flags::TRANSITIVE | attr_flags::PARTIAL,
                type_code,
                value: Bytes::from(value),
            })
            .collect()
    })
}

/// A complete attribute set for an announcement on a session with `ctx`.
pub(crate) fn path_attributes(ctx: SessionContext) -> impl Strategy<Value = PathAttributes> {
    let origin = prop_oneof![
        Just(Origin::Igp),
        Just(Origin::Egp),
        Just(Origin::Incomplete)
    ];
    let aggregator = (asn(), any::<u32>()).prop_map(|(asn, addr)| Aggregator {
        asn,
        address: Ipv4Addr::from(addr),
    });
    let large = (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(g, a, b)| LargeCommunity {
        global_admin: g,
        local_data_1: a,
        local_data_2: b,
    });
    (
        (
            origin,
            as_path(),
            next_hop(),
            proptest::option::of(any::<u32>()),
        ),
        (
            proptest::option::of(any::<u32>()),
            any::<bool>(),
            proptest::option::of(aggregator),
        ),
        (
            vec(any::<u32>(), 0..6),
            vec(large, 0..4),
            unknown_attributes(),
        ),
    )
        .prop_map(
            move |(
                (origin, as_path, next_hop, med),
                (local_pref, atomic_aggregate, aggregator),
                (communities, large_communities, unknown),
            )| PathAttributes {
                origin: Some(origin),
                as_path: Some(as_path),
                next_hop: Some(next_hop),
                med,
                local_pref: if ctx.ibgp {
                    Some(local_pref.unwrap_or(100))
                } else {
                    None
                },
                atomic_aggregate,
                aggregator,
                communities,
                large_communities,
                mp_reach: None,
                mp_unreach: None,
                unknown,
            },
        )
}

fn v6_next_hops() -> impl Strategy<Value = Vec<IpAddr>> {
    vec(
        any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        1..=2,
    )
}

/// A well-formed UPDATE for a session with `ctx`.
pub(crate) fn update(ctx: SessionContext) -> impl Strategy<Value = Update> {
    let withdraw_only = (
        vec(ipv4_prefix(), 0..20),
        proptest::option::of(vec(ipv6_prefix(), 0..20)),
    )
        .prop_map(|(withdrawn, v6)| Update {
            withdrawn,
            attributes: PathAttributes {
                mp_unreach: v6.map(|withdrawn| MpUnreach {
                    afi: Afi::Ipv6,
                    safi: Safi::Unicast,
                    withdrawn,
                }),
                ..PathAttributes::default()
            },
            ..Update::default()
        });
    let announce = (
        path_attributes(ctx),
        vec(ipv4_prefix(), 0..20),
        vec(ipv4_prefix(), 0..5),
        proptest::option::of((v6_next_hops(), vec(ipv6_prefix(), 1..20))),
        proptest::option::of(vec(ipv6_prefix(), 0..5)),
    )
        .prop_filter("announces something", |(_, nlri, _, v6, _)| {
            !nlri.is_empty() || v6.is_some()
        })
        .prop_map(move |(mut attributes, nlri, withdrawn, v6, v6_withdrawn)| {
            if nlri.is_empty() {
                // RFC 4760 §3: no NEXT_HOP without IPv4 NLRI.
                attributes.next_hop = None;
            }
            attributes.mp_reach = v6.map(|(next_hops, nlri)| MpReach {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
                next_hops,
                nlri,
            });
            attributes.mp_unreach = v6_withdrawn.map(|withdrawn| MpUnreach {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
                withdrawn,
            });
            Update {
                withdrawn,
                attributes,
                nlri,
                faults: Vec::new(),
            }
        });
    prop_oneof![withdraw_only, announce]
}

pub(crate) fn notification() -> impl Strategy<Value = Notification> {
    (any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..100)).prop_map(|(code, subcode, data)| {
        Notification {
            code,
            subcode,
            data: Bytes::from(data),
        }
    })
}

pub(crate) fn route_refresh() -> impl Strategy<Value = RouteRefresh> {
    (afi(), any::<u8>(), safi()).prop_map(|(afi, subtype, safi)| RouteRefresh {
        afi,
        subtype,
        safi,
    })
}

/// Any message, well-formed for a session with `ctx`.
pub(crate) fn message(ctx: SessionContext) -> impl Strategy<Value = Message> {
    prop_oneof![
        open().prop_map(Message::Open),
        update(ctx).prop_map(Message::Update),
        notification().prop_map(Message::Notification),
        Just(Message::Keepalive),
        route_refresh().prop_map(Message::RouteRefresh),
    ]
}
