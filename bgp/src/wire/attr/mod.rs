//! Path attributes (RFC 4271 §4.3, §5) and the RFC 7606 error actions.
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|  then 1 or 2 octets of length (Extended Length bit)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The attributes bgpod knows, their flags, and what RFC 7606 says to do when one is
//! malformed (its flags conflict, its length is wrong, its value is invalid):
//!
//! | type | attribute          | flags (O T) | malformed        | rule                       |
//! |------|--------------------|-------------|------------------|----------------------------|
//! | 1    | ORIGIN             | 0 1         | treat-as-withdraw| RFC 7606 §7.1              |
//! | 2    | AS_PATH            | 0 1         | treat-as-withdraw| RFC 7606 §7.2              |
//! | 3    | NEXT_HOP           | 0 1         | treat-as-withdraw| RFC 7606 §7.3, §3(e)       |
//! | 4    | MULTI_EXIT_DISC    | 1 0         | treat-as-withdraw| RFC 7606 §7.4              |
//! | 5    | LOCAL_PREF         | 0 1         | treat-as-withdraw; from eBGP: discard | §7.5  |
//! | 6    | ATOMIC_AGGREGATE   | 0 1         | discard          | RFC 7606 §7.6              |
//! | 7    | AGGREGATOR         | 1 1         | discard          | RFC 7606 §7.7              |
//! | 8    | COMMUNITIES        | 1 1         | treat-as-withdraw| RFC 7606 §7.8              |
//! | 9    | ORIGINATOR_ID      | 1 0         | treat-as-withdraw; from eBGP: discard | §7.9  |
//! | 10   | CLUSTER_LIST       | 1 0         | treat-as-withdraw; from eBGP: discard | §7.10 |
//! | 14   | MP_REACH_NLRI      | 1 0         | session reset    | RFC 7606 §7.11, RFC 4760 §7|
//! | 15   | MP_UNREACH_NLRI    | 1 0         | session reset    | RFC 7606 §7.12, RFC 4760 §7|
//! | 16   | EXTENDED COMMUNITIES | 1 1       | treat-as-withdraw| RFC 7606 §7.14             |
//! | 17   | AS4_PATH           | 1 1         | discard          | RFC 6793 §6                |
//! | 18   | AS4_AGGREGATOR     | 1 1         | discard          | RFC 6793 §6                |
//! | 32   | LARGE_COMMUNITIES  | 1 1         | treat-as-withdraw| RFC 8092 §6                |
//!
//! ORIGINATOR_ID and CLUSTER_LIST are checked and then dropped (bgpod is not a route
//! reflector and they are non-transitive); EXTENDED COMMUNITIES is checked and passed on
//! unchanged in [`PathAttributes::unknown`]. The decoder is in `decode.rs` (MP_REACH_NLRI and
//! MP_UNREACH_NLRI in `mp.rs`), the encoder in `encode.rs`, AS_PATH and the RFC 6793 AS4_PATH
//! reconstruction in `as_path.rs`.

pub(crate) mod as_path;
pub(crate) mod decode;
mod encode;
mod mp;

pub(crate) use encode::{attributes_len, encode_attributes};

use std::net::{IpAddr, Ipv4Addr};

use bytes::Bytes;

use super::iana::{attr_flags as flag, attr_type as ty, Afi, Safi};
use super::prefix::Prefix;
use super::SessionContext;

/// ORIGIN (RFC 4271 §5.1.1). Lower is preferred by the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// One AS_PATH segment (RFC 4271 §4.3, RFC 5065 for the confederation types).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AsPathSegment {
    Sequence(Vec<u32>),
    Set(Vec<u32>),
    ConfedSequence(Vec<u32>),
    ConfedSet(Vec<u32>),
}

/// AS_PATH with 4-octet ASNs. Toward a 2-octet peer it is encoded with AS_TRANS plus
/// AS4_PATH; from one it is rebuilt from AS_PATH and AS4_PATH (RFC 6793 §4.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AsPath {
    pub segments: Vec<AsPathSegment>,
}

/// AGGREGATOR (RFC 4271 §5.1.7) with a 4-octet ASN (from AS4_AGGREGATOR where needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// A LARGE_COMMUNITIES member (RFC 8092 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

/// MP_REACH_NLRI (RFC 4760 §3). For IPv6 the next hop may carry a global and a link-local
/// address (RFC 2545 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub afi: Afi,
    pub safi: Safi,
    /// The next hop addresses: one, or global then link-local for IPv6.
    pub next_hops: Vec<IpAddr>,
    pub nlri: Vec<Prefix>,
}

/// MP_UNREACH_NLRI (RFC 4760 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub afi: Afi,
    pub safi: Safi,
    pub withdrawn: Vec<Prefix>,
}

/// An attribute bgpod does not interpret, kept as received (flags, type, value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    pub flags: u8,
    pub type_code: u8,
    pub value: Bytes,
}

/// The decoded path attributes of one UPDATE.
///
/// MP_REACH_NLRI and MP_UNREACH_NLRI are kept here as decoded; the RIB moves their NLRI out
/// before it shares the remaining attributes among routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES (RFC 1997), in the order received.
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// Optional transitive attributes bgpod does not know: passed on with the Partial bit set
    /// (RFC 4271 §5). Optional non-transitive unknown ones are dropped and never stored here.
    pub unknown: Vec<RawAttribute>,
}

/// What RFC 7606 §2 says to do about a malformed attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttrAction {
    /// Drop the attribute and process the UPDATE without it (RFC 7606 §2 "attribute discard").
    Discard,
    /// Treat every prefix of the UPDATE as withdrawn (RFC 7606 §2 "treat-as-withdraw").
    TreatAsWithdraw,
    /// NOTIFICATION and session reset (RFC 7606 §2 "session reset").
    Reset,
}

/// A malformed attribute found while decoding, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrFault {
    pub type_code: u8,
    pub action: AttrAction,
    /// NOTIFICATION subcode RFC 4271 §6.3 would have used (for logs and counters).
    pub subcode: u8,
    /// What was wrong.
    pub reason: String,
    /// The offending attribute bytes (flags, type, length, value), truncated for the log.
    pub data: Bytes,
}

impl Origin {
    /// The ORIGIN for a wire value, `None` for an undefined one (RFC 4271 §5.1.1).
    pub fn from_u8(value: u8) -> Option<Origin> {
        match value {
            0 => Some(Origin::Igp),
            1 => Some(Origin::Egp),
            2 => Some(Origin::Incomplete),
            _ => None,
        }
    }
}

/// The Optional and Transitive flag bits each known attribute must carry (RFC 4271 §5 and
/// the defining RFCs); `None` for a type bgpod does not know.
pub(crate) fn expected_flags(type_code: u8) -> Option<u8> {
    const WELL_KNOWN: u8 = flag::TRANSITIVE;
    const OPTIONAL_TRANSITIVE: u8 = flag::OPTIONAL | flag::TRANSITIVE;
    const OPTIONAL_NON_TRANSITIVE: u8 = flag::OPTIONAL;
    Some(match type_code {
        ty::ORIGIN | ty::AS_PATH | ty::NEXT_HOP | ty::LOCAL_PREF | ty::ATOMIC_AGGREGATE => {
            WELL_KNOWN
        }
        ty::MULTI_EXIT_DISC
        | ty::ORIGINATOR_ID
        | ty::CLUSTER_LIST
        | ty::MP_REACH_NLRI
        | ty::MP_UNREACH_NLRI => OPTIONAL_NON_TRANSITIVE,
        ty::AGGREGATOR
        | ty::COMMUNITIES
        | ty::EXTENDED_COMMUNITIES
        | ty::AS4_PATH
        | ty::AS4_AGGREGATOR
        | ty::LARGE_COMMUNITIES => OPTIONAL_TRANSITIVE,
        _ => return None,
    })
}

/// What RFC 7606 prescribes when a known attribute is malformed (see the table above).
/// RFC 7606 §3(c) makes a flags conflict a malformation of the attribute, handled the same.
pub(crate) fn malformed_action(type_code: u8, ctx: &SessionContext) -> AttrAction {
    match type_code {
        ty::ATOMIC_AGGREGATE | ty::AGGREGATOR | ty::AS4_PATH | ty::AS4_AGGREGATOR => {
            AttrAction::Discard
        }
        ty::ORIGINATOR_ID | ty::CLUSTER_LIST if !ctx.ibgp => AttrAction::Discard,
        ty::MP_REACH_NLRI | ty::MP_UNREACH_NLRI => AttrAction::Reset,
        _ => AttrAction::TreatAsWithdraw,
    }
}

#[cfg(test)]
mod tests {
    use super::decode::decode_path_attributes;
    use super::*;
    use bytes::BytesMut;
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    const TWO: SessionContext = SessionContext {
        four_octet_as: false,
        extended_message: false,
        ibgp: false,
    };
    const FOUR_IBGP: SessionContext = SessionContext {
        four_octet_as: true,
        extended_message: false,
        ibgp: true,
    };

    fn encode(attrs: &PathAttributes, ctx: &SessionContext) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_attributes(attrs, ctx, &mut out);
        assert_eq!(
            out.len(),
            attributes_len(attrs, ctx),
            "attributes_len disagrees"
        );
        out.to_vec()
    }

    /// `bytes` decodes to `attrs` with no fault, and `attrs` encodes to `bytes`.
    fn both_ways(bytes: &[u8], attrs: PathAttributes, ctx: &SessionContext, ipv4_nlri: bool) {
        let decoded = decode_path_attributes(bytes, ctx, ipv4_nlri).expect("decodes");
        assert_eq!(decoded.faults, vec![], "faults decoding {bytes:02x?}");
        assert_eq!(decoded.attrs, attrs);
        assert_eq!(encode(&attrs, ctx), bytes);
    }

    fn base() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence(vec![65001])),
            ..PathAttributes::default()
        }
    }

    /// ORIGIN IGP, AS_PATH 65001 (2-octet), as `base()` encodes them.
    const BASE_TWO: [u8; 11] = [0x40, 1, 1, 0, 0x40, 2, 4, 2, 1, 0xfd, 0xe9];

    fn with(bytes: &[u8]) -> Vec<u8> {
        let mut v = BASE_TWO.to_vec();
        v.extend_from_slice(bytes);
        v
    }

    #[test]
    fn well_known_attributes() {
        // ORIGIN INCOMPLETE (RFC 4271 §5.1.1).
        both_ways(
            &[0x40, 1, 1, 2],
            PathAttributes {
                origin: Some(Origin::Incomplete),
                ..PathAttributes::default()
            },
            &TWO,
            false,
        );
        // Empty AS_PATH (iBGP-originated) is valid with length 0 (RFC 7606 §4).
        both_ways(
            &[0x40, 2, 0],
            PathAttributes {
                as_path: Some(AsPath::default()),
                ..PathAttributes::default()
            },
            &TWO,
            false,
        );
        // NEXT_HOP 192.0.2.1, MED 50, LOCAL_PREF 200, ATOMIC_AGGREGATE (iBGP, 4-octet AS).
        let mut attrs = PathAttributes {
            origin: Some(Origin::Egp),
            as_path: Some(AsPath::from_sequence(vec![4_200_000_000])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            med: Some(50),
            local_pref: Some(200),
            atomic_aggregate: true,
            ..PathAttributes::default()
        };
        let bytes = [
            0x40, 1, 1, 1, // ORIGIN EGP
            0x40, 2, 6, 2, 1, 0xfa, 0x56, 0xea, 0x00, // AS_PATH 4200000000
            0x40, 3, 4, 192, 0, 2, 1, // NEXT_HOP
            0x80, 4, 4, 0, 0, 0, 50, // MED
            0x40, 5, 4, 0, 0, 0, 200, // LOCAL_PREF
            0x40, 6, 0, // ATOMIC_AGGREGATE
        ];
        both_ways(&bytes, attrs.clone(), &FOUR_IBGP, true);
        attrs.atomic_aggregate = false;
        both_ways(&bytes[..bytes.len() - 3], attrs, &FOUR_IBGP, true);
    }

    #[test]
    fn aggregator_and_communities() {
        let mut attrs = base();
        attrs.aggregator = Some(Aggregator {
            asn: 65010,
            address: Ipv4Addr::new(10, 0, 0, 1),
        });
        attrs.communities = vec![0xfde9_0064, 0xffff_ff01]; // 65001:100, NO_EXPORT
        attrs.large_communities = vec![LargeCommunity {
            global_admin: 4_200_000_000,
            local_data_1: 1,
            local_data_2: 2,
        }];
        let bytes = with(&[
            0xc0, 7, 6, 0xfd, 0xf2, 10, 0, 0, 1, // AGGREGATOR 65010 10.0.0.1
            0xc0, 8, 8, 0xfd, 0xe9, 0, 0x64, 0xff, 0xff, 0xff, 0x01, // COMMUNITIES
            0xc0, 32, 12, 0xfa, 0x56, 0xea, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, // LARGE_COMMUNITY
        ]);
        both_ways(&bytes, attrs, &TWO, false);
    }

    #[test]
    fn four_octet_aggregator() {
        let attrs = PathAttributes {
            aggregator: Some(Aggregator {
                asn: 4_200_000_000,
                address: Ipv4Addr::new(10, 0, 0, 1),
            }),
            ..PathAttributes::default()
        };
        let bytes = [0xc0, 7, 8, 0xfa, 0x56, 0xea, 0x00, 10, 0, 0, 1];
        both_ways(&bytes, attrs, &FOUR_IBGP, false);
    }

    /// RFC 6793 §4.2.2: toward a 2-octet peer, AS_TRANS in AS_PATH and AGGREGATOR, the real
    /// values in AS4_PATH and AS4_AGGREGATOR; decoding merges them back (§4.2.3).
    #[test]
    fn as4_attributes_toward_a_two_octet_peer() {
        let attrs = PathAttributes {
            as_path: Some(AsPath::from_sequence(vec![65001, 4_200_000_000])),
            aggregator: Some(Aggregator {
                asn: 4_200_000_000,
                address: Ipv4Addr::new(10, 0, 0, 1),
            }),
            ..PathAttributes::default()
        };
        let bytes = [
            0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0x5b, 0xa0, // AS_PATH 65001 AS_TRANS
            0xc0, 7, 6, 0x5b, 0xa0, 10, 0, 0, 1, // AGGREGATOR AS_TRANS
            0xc0, 17, 10, 2, 2, 0, 0, 0xfd, 0xe9, 0xfa, 0x56, 0xea, 0x00, // AS4_PATH
            0xc0, 18, 8, 0xfa, 0x56, 0xea, 0x00, 10, 0, 0, 1, // AS4_AGGREGATOR
        ];
        both_ways(&bytes, attrs, &TWO, false);
    }

    #[test]
    fn mp_reach_ipv6_with_link_local() {
        let mut attrs = base();
        attrs.mp_reach = Some(MpReach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            next_hops: vec![
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
                IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)),
            ],
            nlri: vec!["2001:db8:1::/48".parse().expect("prefix")],
        });
        let mut bytes = vec![0x80, 14, 44, 0, 2, 1, 32];
        bytes.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(&[0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
        bytes.extend_from_slice(&BASE_TWO);
        both_ways(&bytes, attrs, &TWO, false);
    }

    #[test]
    fn mp_reach_ipv4_and_mp_unreach_ipv6() {
        let mut attrs = base();
        attrs.mp_reach = Some(MpReach {
            afi: Afi::Ipv4,
            safi: Safi::Unicast,
            next_hops: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))],
            nlri: vec!["10.0.0.0/8".parse().expect("prefix")],
        });
        attrs.mp_unreach = Some(MpUnreach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            withdrawn: vec!["2001:db8::/32".parse().expect("prefix")],
        });
        let mut bytes = vec![0x80, 14, 11, 0, 1, 1, 4, 192, 0, 2, 1, 0, 8, 10];
        bytes.extend_from_slice(&[0x80, 15, 8, 0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8]);
        bytes.extend_from_slice(&BASE_TWO);
        both_ways(&bytes, attrs, &TWO, false);
    }

    /// A family bgpod does not handle is kept with its AFI/SAFI and no routes, not a reset.
    #[test]
    fn mp_reach_unknown_family_is_kept() {
        // AFI 1 / SAFI 128 (VPNv4): next hop of 12 octets, not looked at.
        let mut bytes = vec![0x80, 14, 17, 0, 1, 128, 12];
        bytes.extend_from_slice(&[0; 12]);
        bytes.extend_from_slice(&[0]);
        bytes.extend_from_slice(&BASE_TWO);
        let decoded = decode_path_attributes(&bytes, &TWO, false).expect("decodes");
        assert_eq!(decoded.faults, vec![]);
        assert_eq!(
            decoded.attrs.mp_reach,
            Some(MpReach {
                afi: Afi::Ipv4,
                safi: Safi::Unknown(128),
                next_hops: vec![],
                nlri: vec![],
            })
        );
    }

    /// RFC 4271 §9: an unknown optional transitive attribute is kept with the Partial bit set
    /// and sent on with it; extended communities pass through unchanged.
    #[test]
    fn unknown_and_pass_through_attributes() {
        let received = with(&[
            0xc0, 16, 8, 0, 2, 0xfd, 0xe9, 0, 0, 0, 1, // EXT_COMMUNITIES rt 65001:1
            0xc3, 99, 2, 0xaa, 0xbb, // unknown type 99, Partial not set, unused bits set
            0x80, 98, 1, 0xcc, // unknown optional non-transitive: dropped
        ]);
        let decoded = decode_path_attributes(&received, &TWO, false).expect("decodes");
        assert_eq!(decoded.faults, vec![]);
        let mut attrs = base();
        attrs.unknown = vec![
            RawAttribute {
                flags: 0xc0,
                type_code: 16,
                value: Bytes::from_static(&[0, 2, 0xfd, 0xe9, 0, 0, 0, 1]),
            },
            RawAttribute {
                flags: 0xe0,
                type_code: 99,
                value: Bytes::from_static(&[0xaa, 0xbb]),
            },
        ];
        assert_eq!(decoded.attrs, attrs);
        let sent = with(&[
            0xc0, 16, 8, 0, 2, 0xfd, 0xe9, 0, 0, 0, 1, //
            0xe0, 99, 2, 0xaa, 0xbb, // Partial bit (0x20) now set, unused bits clear
        ]);
        assert_eq!(encode(&attrs, &TWO), sent);
    }

    #[test]
    fn extended_length_both_ways() {
        let mut attrs = base();
        attrs.communities = (0..100).collect();
        let mut bytes = BASE_TWO.to_vec();
        bytes.extend_from_slice(&[0xd0, 8, 0x01, 0x90]);
        for c in 0..100u32 {
            bytes.extend_from_slice(&c.to_be_bytes());
        }
        both_ways(&bytes, attrs, &TWO, false);
        // An extended length on a short value is accepted; it is sent back in one octet.
        let decoded = decode_path_attributes(&[0x50, 1, 0, 1, 0], &TWO, false).expect("decodes");
        assert_eq!(decoded.attrs.origin, Some(Origin::Igp));
    }

    proptest! {
        #[test]
        fn round_trip_and_exact_length(
            (ctx, attrs) in (any::<bool>(), any::<bool>()).prop_flat_map(|(four, ibgp)| {
                let ctx = SessionContext { four_octet_as: four, extended_message: false, ibgp };
                (Just(ctx), crate::wire::testgen::path_attributes(ctx))
            })
        ) {
            let bytes = encode(&attrs, &ctx);
            let decoded = decode_path_attributes(&bytes, &ctx, true).expect("decodes");
            prop_assert_eq!(decoded.faults, vec![]);
            prop_assert_eq!(decoded.attrs, attrs);
        }
    }
}
