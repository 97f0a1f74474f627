//! Encoding the Path Attributes field (RFC 4271 §4.3, §5; RFC 7606 §5.1 for the order;
//! RFC 6793 §4.2.2 toward a 2-octet AS peer).

use std::net::{IpAddr, Ipv4Addr};

use bytes::{BufMut, BytesMut};

use super::{as_path, AsPath, LargeCommunity, MpReach, MpUnreach, PathAttributes};
use crate::wire::iana::{attr_flags as flag, attr_type as ty};
use crate::wire::prefix::{prefix_wire_len, put_prefix};
use crate::wire::{SessionContext, AS_TRANS};

/// One attribute value ready to write; `len` and `write` agree by construction so that
/// [`attributes_len`] is exact.
enum Value<'a> {
    Empty,
    U8(u8),
    U32(u32),
    Ipv4(Ipv4Addr),
    AsPath {
        path: &'a AsPath,
        four: bool,
        as4: bool,
    },
    Aggregator {
        asn: u32,
        address: Ipv4Addr,
        four: bool,
    },
    Communities(&'a [u32]),
    Large(&'a [LargeCommunity]),
    MpReach(&'a MpReach),
    MpUnreach(&'a MpUnreach),
    Raw(&'a [u8]),
}

fn next_hop_len(next_hops: &[IpAddr]) -> usize {
    next_hops
        .iter()
        .map(|nh| if nh.is_ipv4() { 4 } else { 16 })
        .sum()
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::Empty => 0,
            Value::U8(_) => 1,
            Value::U32(_) | Value::Ipv4(_) => 4,
            Value::AsPath { path, four, as4 } => as_path::value_len(path, *four, *as4),
            Value::Aggregator { four, .. } => {
                if *four {
                    8
                } else {
                    6
                }
            }
            Value::Communities(c) => 4 * c.len(),
            Value::Large(c) => 12 * c.len(),
            Value::MpReach(m) => {
                5 + next_hop_len(&m.next_hops) + m.nlri.iter().map(prefix_wire_len).sum::<usize>()
            }
            Value::MpUnreach(m) => 3 + m.withdrawn.iter().map(prefix_wire_len).sum::<usize>(),
            Value::Raw(v) => v.len(),
        }
    }

    fn write(&self, out: &mut BytesMut) {
        match self {
            Value::Empty => {}
            Value::U8(v) => out.put_u8(*v),
            Value::U32(v) => out.put_u32(*v),
            Value::Ipv4(a) => out.put_slice(&a.octets()),
            Value::AsPath { path, four, as4 } => as_path::write(path, *four, *as4, out),
            Value::Aggregator { asn, address, four } => {
                if *four {
                    out.put_u32(*asn);
                } else {
                    out.put_u16(u16::try_from(*asn).unwrap_or(AS_TRANS));
                }
                out.put_slice(&address.octets());
            }
            Value::Communities(c) => c.iter().for_each(|v| out.put_u32(*v)),
            Value::Large(c) => {
                for v in c.iter() {
                    out.put_u32(v.global_admin);
                    out.put_u32(v.local_data_1);
                    out.put_u32(v.local_data_2);
                }
            }
            Value::MpReach(m) => {
                // RFC 4760 §3: AFI, SAFI, Length of Next Hop, Next Hop, Reserved, NLRI.
                out.put_u16(u16::from(m.afi));
                out.put_u8(u8::from(m.safi));
                out.put_u8(next_hop_len(&m.next_hops) as u8);
                for nh in &m.next_hops {
                    match nh {
                        IpAddr::V4(a) => out.put_slice(&a.octets()),
                        IpAddr::V6(a) => out.put_slice(&a.octets()),
                    }
                }
                out.put_u8(0);
                m.nlri.iter().for_each(|p| put_prefix(out, p));
            }
            Value::MpUnreach(m) => {
                // RFC 4760 §4: AFI, SAFI, Withdrawn Routes.
                out.put_u16(u16::from(m.afi));
                out.put_u8(u8::from(m.safi));
                m.withdrawn.iter().for_each(|p| put_prefix(out, p));
            }
            Value::Raw(v) => out.put_slice(v),
        }
    }
}

/// Known attributes in the order they are sent after MP_REACH/MP_UNREACH.
const SEND_ORDER: [u8; 11] = [
    ty::ORIGIN,
    ty::AS_PATH,
    ty::NEXT_HOP,
    ty::MULTI_EXIT_DISC,
    ty::LOCAL_PREF,
    ty::ATOMIC_AGGREGATE,
    ty::AGGREGATOR,
    ty::COMMUNITIES,
    ty::AS4_PATH,
    ty::AS4_AGGREGATOR,
    ty::LARGE_COMMUNITIES,
];

/// Calls `emit(flags, type, value)` for each attribute to send, in wire order.
///
/// RFC 7606 §5.1: "The MP_REACH_NLRI or MP_UNREACH_NLRI attribute (if present) SHALL be
/// encoded as the very first path attribute in an UPDATE message." The others follow RFC 4271
/// §5: "The sender of an UPDATE message SHOULD order path attributes within the UPDATE
/// message in ascending order of attribute type." Unknown attributes are slotted in by type.
///
/// Toward a 2-octet peer (RFC 6793 §4.2.2) ASNs above 65535 become AS_TRANS in AS_PATH and
/// AGGREGATOR, and the real values travel in AS4_PATH / AS4_AGGREGATOR — added only when some
/// ASN needs them.
fn for_each_attribute<'a>(
    attrs: &'a PathAttributes,
    ctx: &SessionContext,
    mut emit: impl FnMut(u8, u8, Value<'a>),
) {
    const WELL_KNOWN: u8 = flag::TRANSITIVE;
    const OPT_TRANS: u8 = flag::OPTIONAL | flag::TRANSITIVE;
    let four = ctx.four_octet_as;
    if let Some(m) = &attrs.mp_reach {
        emit(flag::OPTIONAL, ty::MP_REACH_NLRI, Value::MpReach(m));
    }
    if let Some(m) = &attrs.mp_unreach {
        emit(flag::OPTIONAL, ty::MP_UNREACH_NLRI, Value::MpUnreach(m));
    }
    let mut unknown_from = 0u16;
    let mut emit_unknown_below = |below: u16, emit: &mut dyn FnMut(u8, u8, Value<'a>)| {
        for raw in &attrs.unknown {
            if (unknown_from..below).contains(&u16::from(raw.type_code)) {
                // RFC 4271 §4.3: the four low-order flag bits "MUST be zero when sent".
                emit(
                    raw.flags & (flag::OPTIONAL | flag::TRANSITIVE | flag::PARTIAL),
                    raw.type_code,
                    Value::Raw(&raw.value),
                );
            }
        }
        unknown_from = below;
    };
    for type_code in SEND_ORDER {
        emit_unknown_below(u16::from(type_code), &mut emit);
        match type_code {
            ty::ORIGIN => {
                if let Some(origin) = attrs.origin {
                    emit(WELL_KNOWN, type_code, Value::U8(origin as u8));
                }
            }
            ty::AS_PATH => {
                if let Some(path) = &attrs.as_path {
                    let value = Value::AsPath {
                        path,
                        four,
                        as4: false,
                    };
                    emit(WELL_KNOWN, type_code, value);
                }
            }
            ty::NEXT_HOP => {
                if let Some(nh) = attrs.next_hop {
                    emit(WELL_KNOWN, type_code, Value::Ipv4(nh));
                }
            }
            ty::MULTI_EXIT_DISC => {
                if let Some(med) = attrs.med {
                    emit(flag::OPTIONAL, type_code, Value::U32(med));
                }
            }
            ty::LOCAL_PREF => {
                if let Some(pref) = attrs.local_pref {
                    emit(WELL_KNOWN, type_code, Value::U32(pref));
                }
            }
            ty::ATOMIC_AGGREGATE if attrs.atomic_aggregate => {
                emit(WELL_KNOWN, type_code, Value::Empty);
            }
            ty::AGGREGATOR => {
                if let Some(agg) = attrs.aggregator {
                    let value = Value::Aggregator {
                        asn: agg.asn,
                        address: agg.address,
                        four,
                    };
                    emit(OPT_TRANS, type_code, value);
                }
            }
            ty::COMMUNITIES if !attrs.communities.is_empty() => {
                emit(OPT_TRANS, type_code, Value::Communities(&attrs.communities));
            }
            ty::AS4_PATH => {
                if let Some(path) = &attrs.as_path {
                    if !four && as_path::needs_as4_path(path) {
                        let value = Value::AsPath {
                            path,
                            four: true,
                            as4: true,
                        };
                        emit(OPT_TRANS, type_code, value);
                    }
                }
            }
            ty::AS4_AGGREGATOR => {
                if let Some(agg) = attrs.aggregator {
                    if !four && agg.asn > u32::from(u16::MAX) {
                        let value = Value::Aggregator {
                            asn: agg.asn,
                            address: agg.address,
                            four: true,
                        };
                        emit(OPT_TRANS, type_code, value);
                    }
                }
            }
            ty::LARGE_COMMUNITIES if !attrs.large_communities.is_empty() => {
                emit(OPT_TRANS, type_code, Value::Large(&attrs.large_communities));
            }
            _ => {}
        }
    }
    emit_unknown_below(256, &mut emit);
}

/// Attribute header length for a value of `len` octets: the Extended Length bit (RFC 4271
/// §4.3) is used exactly when the length does not fit one octet.
fn header_len(len: usize) -> usize {
    if len > usize::from(u8::MAX) {
        4
    } else {
        3
    }
}

/// Octets [`encode_attributes`] writes for `attrs` on a session with `ctx`.
pub(crate) fn attributes_len(attrs: &PathAttributes, ctx: &SessionContext) -> usize {
    let mut total = 0;
    for_each_attribute(attrs, ctx, |_, _, value| {
        let len = value.len();
        total += header_len(len) + len;
    });
    total
}

/// Writes the Path Attributes field of an UPDATE.
pub(crate) fn encode_attributes(attrs: &PathAttributes, ctx: &SessionContext, out: &mut BytesMut) {
    for_each_attribute(attrs, ctx, |flags, type_code, value| {
        let len = value.len();
        if len > usize::from(u8::MAX) {
            debug_assert!(
                len <= usize::from(u16::MAX),
                "attribute {type_code} too long"
            );
            out.put_u8(flags | flag::EXTENDED_LENGTH);
            out.put_u8(type_code);
            out.put_u16(len as u16);
        } else {
            out.put_u8(flags & !flag::EXTENDED_LENGTH);
            out.put_u8(type_code);
            out.put_u8(len as u8);
        }
        value.write(out);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::attr::{AsPath, Origin, RawAttribute};
    use crate::wire::iana::{Afi, Safi};
    use bytes::Bytes;

    const TWO: SessionContext = SessionContext {
        four_octet_as: false,
        extended_message: false,
        ibgp: false,
    };

    fn encode(attrs: &PathAttributes, ctx: &SessionContext) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode_attributes(attrs, ctx, &mut out);
        assert_eq!(out.len(), attributes_len(attrs, ctx));
        out.to_vec()
    }

    fn base() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence(vec![65001])),
            ..PathAttributes::default()
        }
    }

    #[test]
    fn send_order() {
        let mut attrs = base();
        attrs.mp_unreach = Some(MpUnreach {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
            withdrawn: vec![],
        });
        attrs.med = Some(1);
        attrs.large_communities = vec![LargeCommunity {
            global_admin: 1,
            local_data_1: 2,
            local_data_2: 3,
        }];
        attrs.unknown = vec![
            RawAttribute {
                flags: 0xe0,
                type_code: 200,
                value: Bytes::new(),
            },
            RawAttribute {
                flags: 0xe0,
                type_code: 19,
                value: Bytes::new(),
            },
        ];
        let bytes = encode(&attrs, &TWO);
        let mut types = Vec::new();
        let mut rest = &bytes[..];
        while let [flags, t, rest_after @ ..] = rest {
            let (len, skip) = if flags & flag::EXTENDED_LENGTH != 0 {
                (
                    usize::from(u16::from_be_bytes([rest_after[0], rest_after[1]])),
                    2,
                )
            } else {
                (usize::from(rest_after[0]), 1)
            };
            types.push(*t);
            rest = &rest_after[skip + len..];
        }
        // MP_UNREACH first (RFC 7606 §5.1), then ascending with unknown types slotted in.
        assert_eq!(types, vec![15, 1, 2, 4, 19, 32, 200]);
    }
}
