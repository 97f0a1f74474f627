//! Decoding the Path Attributes field with the error handling of RFC 7606.
//!
//! Every attribute ends in one of four ways: accepted, discarded ("attribute discard"),
//! accepted-but-the-UPDATE-withdraws ("treat-as-withdraw"), or a session reset (an `Err` with
//! the NOTIFICATION). The first two kinds of fault are recorded on the `Update`; the strongest
//! action wins (RFC 7606 §3(h)), so a reset returns at once.
//!
//! What is not checked here, because it needs the session's configuration: the first AS of an
//! eBGP AS_PATH (RFC 4271 §6.3 "MAY check", Malformed AS_PATH, which RFC 7606 §3(e) makes
//! treat-as-withdraw), a NEXT_HOP equal to our own address (RFC 4271 §6.3: the route is
//! ignored, no NOTIFICATION), confederation segments from an eBGP peer. The RIB does those.

use std::net::Ipv4Addr;

use bytes::Bytes;
use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u8};

use super::as_path::{decode_as4_path, decode_segments, merge_as4_path};
use super::mp::{mp_reach, mp_unreach};
use super::{
    expected_flags, malformed_action, Aggregator, AsPath, AttrAction, AttrFault, LargeCommunity,
    Origin, PathAttributes, RawAttribute,
};
use crate::wire::iana::{attr_flags as flag, attr_type as ty, error::update as sub};
use crate::wire::{DecodeError, NomResult, SessionContext, AS_TRANS};

/// Flag bits kept on a passed-on attribute. Extended Length is recomputed when sending; RFC
/// 4271 §4.3: "The lower-order four bits of the Attribute Flags octet are unused. They MUST be
/// zero when sent and MUST be ignored when received."
const SENT_FLAGS: u8 = flag::OPTIONAL | flag::TRANSITIVE | flag::PARTIAL;

/// Offending bytes kept on an [`AttrFault`] for the log.
const FAULT_DATA_MAX: usize = 64;

/// The decoded attributes of one UPDATE and the faults RFC 7606 let it survive.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub attrs: PathAttributes,
    pub faults: Vec<AttrFault>,
}

/// A malformed attribute value: the RFC 4271 §6.3 subcode it would have had, and why.
struct Malformed {
    subcode: u8,
    reason: String,
}

fn malformed(subcode: u8, reason: impl Into<String>) -> Malformed {
    Malformed {
        subcode,
        reason: reason.into(),
    }
}

fn length_error(expected: &str, got: usize) -> Malformed {
    malformed(
        sub::ATTRIBUTE_LENGTH_ERROR,
        format!("length {got}, expected {expected}"),
    )
}

/// One attribute as framed: flags, type, value, and all its bytes for NOTIFICATION data.
struct RawAttr<'a> {
    flags: u8,
    type_code: u8,
    value: &'a [u8],
    bytes: &'a [u8],
}

/// Splits the first attribute off `input`. `Err(None)`: fewer octets than an attribute header;
/// `Err(Some(type))`: the header is there but the value overruns the field.
fn split_attribute(input: &[u8]) -> Result<(RawAttr<'_>, &[u8]), Option<u8>> {
    fn header(input: &[u8]) -> NomResult<'_, (u8, u8, usize)> {
        let (input, flags) = be_u8(input)?;
        let (input, type_code) = be_u8(input)?;
        let (input, len) = if flags & flag::EXTENDED_LENGTH != 0 {
            let (input, len) = be_u16(input)?;
            (input, usize::from(len))
        } else {
            let (input, len) = be_u8(input)?;
            (input, usize::from(len))
        };
        Ok((input, (flags, type_code, len)))
    }
    let (after_header, (flags, type_code, len)) = header(input).map_err(|_| None)?;
    let (rest, value) = take::<_, _, ()>(len)(after_header).map_err(|_| Some(type_code))?;
    let header_len = input.len() - after_header.len();
    Ok((
        RawAttr {
            flags,
            type_code,
            value,
            bytes: &input[..header_len + len],
        },
        rest,
    ))
}

/// Decodes the Path Attributes field. `ipv4_nlri` says whether the UPDATE's NLRI field is
/// non-empty (it decides whether NEXT_HOP is required and checked).
pub(crate) fn decode_path_attributes(
    field: &[u8],
    ctx: &SessionContext,
    ipv4_nlri: bool,
) -> Result<Decoded, DecodeError> {
    let mut decoder = AttrDecoder {
        ctx,
        ipv4_nlri,
        attrs: PathAttributes::default(),
        faults: Vec::new(),
        seen: [false; 256],
        as4_path: None,
        as4_aggregator: None,
    };
    let mut rest = field;
    while !rest.is_empty() {
        match split_attribute(rest) {
            Ok((attr, after)) => {
                decoder.attribute(&attr)?;
                rest = after;
            }
            Err(type_code) => {
                // RFC 7606 §4: the last attribute overruns the field, or fewer than three
                // (four) octets remain: "an error condition exists and the "treat-as-withdraw"
                // approach MUST be used [...], and the Total Attribute Length MUST be relied
                // upon to enable the beginning of the NLRI field to be located."
                let reason = match type_code {
                    Some(_) => "attribute length overruns the Path Attributes field",
                    None => "fewer octets left than an attribute header",
                };
                decoder.faults.push(fault(
                    type_code.unwrap_or(0),
                    AttrAction::TreatAsWithdraw,
                    sub::MALFORMED_ATTRIBUTE_LIST,
                    reason.to_string(),
                    rest,
                ));
                break;
            }
        }
    }
    Ok(decoder.finish())
}

fn fault(
    type_code: u8,
    action: AttrAction,
    subcode: u8,
    reason: String,
    bytes: &[u8],
) -> AttrFault {
    AttrFault {
        type_code,
        action,
        subcode,
        reason,
        data: Bytes::copy_from_slice(&bytes[..bytes.len().min(FAULT_DATA_MAX)]),
    }
}

struct AttrDecoder<'c> {
    ctx: &'c SessionContext,
    ipv4_nlri: bool,
    attrs: PathAttributes,
    faults: Vec<AttrFault>,
    /// Types already met, malformed or not (for RFC 7606 §3(g) and missing attributes).
    seen: [bool; 256],
    /// AS4_PATH / AS4_AGGREGATOR from a 2-octet speaker, merged in `finish`.
    as4_path: Option<AsPath>,
    as4_aggregator: Option<Aggregator>,
}

impl AttrDecoder<'_> {
    fn attribute(&mut self, attr: &RawAttr<'_>) -> Result<(), DecodeError> {
        let t = attr.type_code;
        let seen = &mut self.seen[usize::from(t)];
        if *seen {
            // RFC 7606 §3(g): "If the MP_REACH_NLRI attribute or the MP_UNREACH_NLRI attribute
            // appears more than once in the UPDATE message, then a NOTIFICATION message MUST be
            // sent with the Error Subcode "Malformed Attribute List". If any other attribute
            // (whether recognized or unrecognized) appears more than once in an UPDATE message,
            // then all the occurrences of the attribute other than the first one SHALL be
            // discarded and the UPDATE message will continue to be processed."
            if matches!(t, ty::MP_REACH_NLRI | ty::MP_UNREACH_NLRI) {
                return Err(DecodeError::update(
                    sub::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                    format!("attribute {t} appears more than once (RFC 7606 §3(g))"),
                ));
            }
            self.discard(attr, sub::MALFORMED_ATTRIBUTE_LIST, "duplicate attribute");
            return Ok(());
        }
        *seen = true;

        let Some(flags) = expected_flags(t) else {
            return self.unknown(attr);
        };

        // Peer-type rules come before validity: the attribute is dropped whatever it holds.
        if matches!(t, ty::LOCAL_PREF | ty::ORIGINATOR_ID | ty::CLUSTER_LIST) && !self.ctx.ibgp {
            // RFC 7606 §7.5 (LOCAL_PREF), §7.9 (ORIGINATOR_ID), §7.10 (CLUSTER_LIST): "If the
            // [...] attribute is received from an external neighbor, it SHALL be discarded
            // using the approach of "attribute discard"".
            self.discard(attr, 0, "received from an external peer");
            return Ok(());
        }
        if matches!(t, ty::AS4_PATH | ty::AS4_AGGREGATOR) && self.ctx.four_octet_as {
            // RFC 6793 §4.1: "A NEW BGP speaker that receives the AS4_PATH attribute and the
            // AS4_AGGREGATOR attribute in an UPDATE message from a NEW BGP speaker MUST discard
            // these attributes and continue processing the UPDATE message."
            self.discard(
                attr,
                0,
                "AS4 attribute from a 4-octet AS speaker (RFC 6793 §4.1)",
            );
            return Ok(());
        }

        // RFC 7606 §3(c): "If the value of either the Optional or Transitive bits in the
        // Attribute Flags is in conflict with their specified values, then the attribute MUST
        // be treated as malformed and the "treat-as-withdraw" approach used, unless the
        // specification for this attribute mandates different handling for formatting errors."
        let got = attr.flags & (flag::OPTIONAL | flag::TRANSITIVE);
        if got != flags {
            let reason = format!(
                "flags {:#04x}, expected optional/transitive bits {flags:#04x}",
                attr.flags
            );
            return self.malformed(attr, malformed(sub::ATTRIBUTE_FLAGS_ERROR, reason));
        }

        match self.value(attr) {
            Ok(()) => Ok(()),
            Err(m) => self.malformed(attr, m),
        }
    }

    /// Records an attribute discard.
    fn discard(&mut self, attr: &RawAttr<'_>, subcode: u8, reason: &str) {
        self.faults.push(fault(
            attr.type_code,
            AttrAction::Discard,
            subcode,
            reason.to_string(),
            attr.bytes,
        ));
    }

    /// Applies the RFC 7606 action for a malformed known attribute.
    fn malformed(&mut self, attr: &RawAttr<'_>, m: Malformed) -> Result<(), DecodeError> {
        let t = attr.type_code;
        match malformed_action(t, self.ctx) {
            // RFC 4271 §6.3 for the data: "The Data field MUST contain the erroneous attribute
            // (type, length, and value)."
            AttrAction::Reset => Err(DecodeError::update(
                m.subcode,
                attr.bytes.to_vec(),
                format!("malformed attribute {t}: {}", m.reason),
            )),
            action => {
                self.faults
                    .push(fault(t, action, m.subcode, m.reason, attr.bytes));
                Ok(())
            }
        }
    }

    /// An attribute type bgpod does not know.
    fn unknown(&mut self, attr: &RawAttr<'_>) -> Result<(), DecodeError> {
        let t = attr.type_code;
        if attr.flags & flag::OPTIONAL == 0 {
            // RFC 4271 §6.3: "If any of the well-known mandatory attributes are not recognized,
            // then the Error Subcode MUST be set to Unrecognized Well-known Attribute. The Data
            // field MUST contain the unrecognized attribute (type, length, and value)." RFC 7606
            // leaves this case a session reset.
            return Err(DecodeError::update(
                sub::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                attr.bytes.to_vec(),
                format!("unrecognized well-known attribute {t}"),
            ));
        }
        if attr.flags & flag::TRANSITIVE == 0 {
            // RFC 4271 §9: "If an optional non-transitive attribute is unrecognized, it is
            // quietly ignored."
            tracing::trace!(
                type_code = t,
                "dropping unknown optional non-transitive attribute"
            );
            return Ok(());
        }
        // RFC 4271 §9: "If an optional transitive attribute is unrecognized, the Partial bit in
        // the attribute flags octet is set to 1, and the attribute is retained for propagation
        // to other BGP speakers."
        self.attrs.unknown.push(RawAttribute {
            flags: (attr.flags | flag::PARTIAL) & SENT_FLAGS,
            type_code: t,
            value: Bytes::copy_from_slice(attr.value),
        });
        Ok(())
    }

    /// Checks and stores the value of a known attribute whose flags are right.
    fn value(&mut self, attr: &RawAttr<'_>) -> Result<(), Malformed> {
        let v = attr.value;
        let four = self.ctx.four_octet_as;
        match attr.type_code {
            ty::ORIGIN => {
                // RFC 7606 §7.1: "The attribute is considered malformed if its length is not 1
                // or it has an undefined value".
                let [value] = v else {
                    return Err(length_error("1", v.len()));
                };
                let origin = Origin::from_u8(*value).ok_or_else(|| {
                    malformed(
                        sub::INVALID_ORIGIN_ATTRIBUTE,
                        format!("undefined value {value}"),
                    )
                })?;
                self.attrs.origin = Some(origin);
            }
            ty::AS_PATH => {
                let segments =
                    decode_segments(v, four).map_err(|e| malformed(sub::MALFORMED_AS_PATH, e))?;
                self.attrs.as_path = Some(AsPath { segments });
            }
            ty::NEXT_HOP => {
                // RFC 7606 §7.3: "The NEXT_HOP attribute is considered malformed if its length
                // is not 4".
                let addr = Ipv4Addr::from(u32_of(v).ok_or_else(|| length_error("4", v.len()))?);
                // RFC 4271 §6.3: "Syntactic correctness means that the NEXT_HOP attribute
                // represents a valid IP host address", else Invalid NEXT_HOP — a reset that RFC
                // 7606 §3(e) turns into treat-as-withdraw. Only when IPv4 NLRI uses it: RFC
                // 4760 §3 says a receiver "SHOULD ignore" a NEXT_HOP without such NLRI.
                if self.ipv4_nlri
                    && (addr.is_unspecified() || addr.is_multicast() || addr.is_broadcast())
                {
                    return Err(malformed(
                        sub::INVALID_NEXT_HOP_ATTRIBUTE,
                        format!("{addr} is not a host address"),
                    ));
                }
                self.attrs.next_hop = Some(addr);
            }
            ty::MULTI_EXIT_DISC => {
                // RFC 7606 §7.4: malformed "if its length is not 4".
                self.attrs.med = Some(u32_of(v).ok_or_else(|| length_error("4", v.len()))?);
            }
            ty::LOCAL_PREF => {
                // RFC 7606 §7.5: from an internal neighbor, malformed "if its length is not
                // equal to 4". (From an external one it was discarded above.)
                self.attrs.local_pref = Some(u32_of(v).ok_or_else(|| length_error("4", v.len()))?);
            }
            ty::ATOMIC_AGGREGATE => {
                // RFC 7606 §7.6: malformed "if its length is not 0".
                if !v.is_empty() {
                    return Err(length_error("0", v.len()));
                }
                self.attrs.atomic_aggregate = true;
            }
            ty::AGGREGATOR => {
                // RFC 7606 §7.7: malformed if its length is not 6 (2-octet AS session) or not
                // 8 (4-octet AS session).
                self.attrs.aggregator = Some(aggregator(v, four)?);
            }
            ty::COMMUNITIES => {
                // RFC 7606 §7.8: "The Community attribute SHALL be considered malformed if its
                // length is not a non-zero multiple of 4."
                check_multiple(v, 4)?;
                self.attrs.communities = v.chunks_exact(4).filter_map(u32_of).collect();
            }
            ty::ORIGINATOR_ID => {
                // RFC 7606 §7.9: from an internal neighbor, malformed "if its length is not
                // equal to 4". Checked, then dropped: bgpod does not reflect routes.
                u32_of(v).ok_or_else(|| length_error("4", v.len()))?;
            }
            ty::CLUSTER_LIST => {
                // RFC 7606 §7.10: malformed "if its length is not a non-zero multiple of 4".
                check_multiple(v, 4)?;
            }
            ty::MP_REACH_NLRI => {
                self.attrs.mp_reach =
                    Some(mp_reach(v).map_err(|e| malformed(sub::OPTIONAL_ATTRIBUTE_ERROR, e))?);
            }
            ty::MP_UNREACH_NLRI => {
                self.attrs.mp_unreach =
                    Some(mp_unreach(v).map_err(|e| malformed(sub::OPTIONAL_ATTRIBUTE_ERROR, e))?);
            }
            ty::EXTENDED_COMMUNITIES => {
                // RFC 7606 §7.14: malformed "if its length is not a non-zero multiple of 8".
                // Not interpreted by bgpod: passed on as received (it is recognized, so the
                // Partial bit is left as it came).
                check_multiple(v, 8)?;
                self.attrs.unknown.push(RawAttribute {
                    flags: attr.flags & SENT_FLAGS,
                    type_code: attr.type_code,
                    value: Bytes::copy_from_slice(v),
                });
            }
            ty::AS4_PATH => {
                // RFC 6793 §6 (with RFC 7606 §7.2's segment rules): a malformed AS4_PATH is
                // discarded and the UPDATE processed with AS_PATH alone. RFC 7606 §4: "only
                // AS_PATH and ATOMIC_AGGREGATE may validly have an attribute length of zero."
                if v.is_empty() {
                    return Err(length_error("non-zero", 0));
                }
                self.as4_path = Some(
                    decode_as4_path(v).map_err(|e| malformed(sub::OPTIONAL_ATTRIBUTE_ERROR, e))?,
                );
            }
            ty::AS4_AGGREGATOR => {
                // RFC 6793 §6: malformed if its length is not 8; discarded.
                self.as4_aggregator = Some(aggregator(v, true)?);
            }
            ty::LARGE_COMMUNITIES => {
                // RFC 8092 §6: "A Large Communities attribute SHALL be considered malformed if
                // the length of the Large Communities Attribute value, expressed in octets, is
                // not a non-zero multiple of 12."
                check_multiple(v, 12)?;
                self.attrs.large_communities = v
                    .chunks_exact(12)
                    .map(|c| LargeCommunity {
                        global_admin: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                        local_data_1: u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                        local_data_2: u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                    })
                    .collect();
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(mut self) -> Decoded {
        if !self.ctx.four_octet_as {
            self.merge_as4();
        }
        self.check_mandatory();
        Decoded {
            attrs: self.attrs,
            faults: self.faults,
        }
    }

    /// RFC 6793 §4.2.3 for an UPDATE from a 2-octet AS speaker: "If the AGGREGATOR attribute
    /// carries a value other than AS_TRANS, then the AS4_AGGREGATOR attribute and the AS4_PATH
    /// attribute SHALL be ignored, and the AGGREGATOR attribute and the AS_PATH attribute SHALL
    /// be taken as the information about the aggregating node and the AS path, respectively."
    /// Otherwise AS4_AGGREGATOR replaces AGGREGATOR and AS4_PATH is merged into AS_PATH.
    fn merge_as4(&mut self) {
        if let Some(as4_aggregator) = self.as4_aggregator.take() {
            match &mut self.attrs.aggregator {
                Some(agg) if agg.asn == u32::from(AS_TRANS) => *agg = as4_aggregator,
                Some(_) => return,
                // No AGGREGATOR for AS4_AGGREGATOR to complete: nothing to use it for.
                None => {}
            }
        }
        if let (Some(as4_path), Some(as_path)) = (self.as4_path.take(), &mut self.attrs.as_path) {
            *as_path = merge_as4_path(as_path, &as4_path);
        }
    }

    /// RFC 7606 §3(d): "If any of the well-known mandatory attributes are not present in an
    /// UPDATE message, then "treat-as-withdraw" MUST be used." They are mandatory only when the
    /// UPDATE announces something: ORIGIN and AS_PATH always (RFC 4760 §3 extends that to
    /// MP_REACH_NLRI), NEXT_HOP for IPv4 NLRI, LOCAL_PREF toward an internal peer (RFC 4271
    /// §5.1.5). An attribute that was present but malformed has its own fault already.
    fn check_mandatory(&mut self) {
        if !self.ipv4_nlri && self.attrs.mp_reach.is_none() {
            return;
        }
        let required = [
            (ty::ORIGIN, true),
            (ty::AS_PATH, true),
            (ty::NEXT_HOP, self.ipv4_nlri),
            (ty::LOCAL_PREF, self.ctx.ibgp),
        ];
        for (t, needed) in required {
            if needed && !self.seen[usize::from(t)] {
                // RFC 4271 §6.3: for a missing attribute "the Data field MUST contain the
                // Attribute Type Code of the missing, well-known attribute."
                self.faults.push(fault(
                    t,
                    AttrAction::TreatAsWithdraw,
                    sub::MISSING_WELL_KNOWN_ATTRIBUTE,
                    "missing well-known attribute".to_string(),
                    &[t],
                ));
            }
        }
    }
}

fn u32_of(v: &[u8]) -> Option<u32> {
    match v {
        [a, b, c, d] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

fn check_multiple(v: &[u8], unit: usize) -> Result<(), Malformed> {
    if v.is_empty() || !v.len().is_multiple_of(unit) {
        return Err(length_error(
            &format!("a non-zero multiple of {unit}"),
            v.len(),
        ));
    }
    Ok(())
}

/// AGGREGATOR (`four` false: 2-octet AS) or AS4_AGGREGATOR / 4-octet AGGREGATOR.
fn aggregator(v: &[u8], four: bool) -> Result<Aggregator, Malformed> {
    let (asn, address) = match (four, v) {
        (false, [a, b, rest @ ..]) if rest.len() == 4 => {
            (u32::from(u16::from_be_bytes([*a, *b])), rest)
        }
        (true, [a, b, c, d, rest @ ..]) if rest.len() == 4 => {
            (u32::from_be_bytes([*a, *b, *c, *d]), rest)
        }
        _ => return Err(length_error(if four { "8" } else { "6" }, v.len())),
    };
    // RFC 7607 §2: AS 0 in AGGREGATOR or AS4_AGGREGATOR is malformed.
    if asn == 0 {
        return Err(malformed(sub::OPTIONAL_ATTRIBUTE_ERROR, "AS 0 (RFC 7607)"));
    }
    let address = Ipv4Addr::from(u32_of(address).unwrap_or_default());
    Ok(Aggregator { asn, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EBGP: SessionContext = SessionContext {
        four_octet_as: false,
        extended_message: false,
        ibgp: false,
    };
    const IBGP: SessionContext = SessionContext {
        four_octet_as: false,
        extended_message: false,
        ibgp: true,
    };
    const FOUR: SessionContext = SessionContext {
        four_octet_as: true,
        extended_message: false,
        ibgp: false,
    };

    /// ORIGIN IGP, AS_PATH 65001, NEXT_HOP 192.0.2.1: what an eBGP IPv4 UPDATE needs.
    const MANDATORY: [u8; 18] = [
        0x40, 1, 1, 0, 0x40, 2, 4, 2, 1, 0xfd, 0xe9, 0x40, 3, 4, 192, 0, 2, 1,
    ];

    fn mandatory_plus(extra: &[u8]) -> Vec<u8> {
        let mut v = MANDATORY.to_vec();
        v.extend_from_slice(extra);
        v
    }

    /// Decodes with IPv4 NLRI present and returns (type, action, subcode) of each fault.
    fn faults(block: &[u8], ctx: &SessionContext) -> Vec<(u8, AttrAction, u8)> {
        decode_path_attributes(block, ctx, true)
            .expect("no reset")
            .faults
            .iter()
            .map(|f| (f.type_code, f.action, f.subcode))
            .collect()
    }

    fn reset(block: &[u8], ctx: &SessionContext) -> (u8, u8, Vec<u8>) {
        let e = decode_path_attributes(block, ctx, true).expect_err("reset");
        (e.code, e.subcode, e.data)
    }

    use AttrAction::{Discard, TreatAsWithdraw as Withdraw};

    #[test]
    fn well_formed_has_no_fault() {
        assert_eq!(faults(&MANDATORY, &EBGP), vec![]);
    }

    #[test]
    fn origin() {
        // Bad value (RFC 7606 §7.1) and bad length.
        let block = [&[0x40u8, 1, 1, 3][..], &MANDATORY[4..]].concat();
        assert_eq!(faults(&block, &EBGP), vec![(1, Withdraw, 6)]);
        let block = [&[0x40u8, 1, 2, 0, 0][..], &MANDATORY[4..]].concat();
        assert_eq!(faults(&block, &EBGP), vec![(1, Withdraw, 5)]);
        // Flags: ORIGIN sent as optional (RFC 7606 §3(c)).
        let block = [&[0xc0u8, 1, 1, 0][..], &MANDATORY[4..]].concat();
        assert_eq!(faults(&block, &EBGP), vec![(1, Withdraw, 4)]);
    }

    #[test]
    fn as_path() {
        for bad in [
            &[0x40u8, 2, 4, 5, 1, 0xfd, 0xe9][..], // segment type 5
            &[0x40, 2, 2, 2, 0][..],               // zero-length segment
            &[0x40, 2, 4, 2, 2, 0xfd, 0xe9][..],   // overrun
            &[0x40, 2, 1, 2][..],                  // lone octet
            &[0x40, 2, 4, 2, 1, 0, 0][..],         // AS 0 (RFC 7607)
        ] {
            let block = [&MANDATORY[..4], bad, &MANDATORY[11..]].concat();
            assert_eq!(faults(&block, &EBGP), vec![(2, Withdraw, 11)], "{bad:?}");
        }
    }

    #[test]
    fn next_hop() {
        for (nh, subcode) in [
            (&[0x40u8, 3, 3, 1, 2, 3][..], 5),
            (&[0x40, 3, 4, 0, 0, 0, 0][..], 8),
            (&[0x40, 3, 4, 224, 0, 0, 5][..], 8),
            (&[0x40, 3, 4, 255, 255, 255, 255][..], 8),
        ] {
            let block = [&MANDATORY[..11], nh].concat();
            assert_eq!(
                faults(&block, &EBGP),
                vec![(3, Withdraw, subcode)],
                "{nh:?}"
            );
        }
        // Without IPv4 NLRI, NEXT_HOP is ignored (RFC 4760 §3): no semantic check.
        let block = [&MANDATORY[..11], &[0x40, 3, 4, 0, 0, 0, 0][..]].concat();
        let d = decode_path_attributes(&block, &EBGP, false).expect("decodes");
        assert_eq!(d.faults, vec![]);
    }

    #[test]
    fn med_and_local_pref() {
        let block = mandatory_plus(&[0x80, 4, 2, 0, 1]);
        assert_eq!(faults(&block, &EBGP), vec![(4, Withdraw, 5)]);
        // LOCAL_PREF from eBGP: discarded whatever it holds (RFC 7606 §7.5).
        let block = mandatory_plus(&[0x40, 5, 4, 0, 0, 0, 100]);
        let d = decode_path_attributes(&block, &EBGP, true).expect("decodes");
        assert_eq!(d.attrs.local_pref, None);
        assert_eq!(d.faults[0].action, Discard);
        assert_eq!(d.faults[0].type_code, 5);
        // From iBGP: required, and length 4.
        let block = mandatory_plus(&[0x40, 5, 3, 0, 0, 100]);
        assert_eq!(faults(&block, &IBGP), vec![(5, Withdraw, 5)]);
        let block = mandatory_plus(&[0x40, 5, 4, 0, 0, 0, 100]);
        assert_eq!(faults(&block, &IBGP), vec![]);
    }

    #[test]
    fn missing_mandatory() {
        assert_eq!(faults(&MANDATORY[4..], &EBGP), vec![(1, Withdraw, 3)]);
        assert_eq!(
            faults(&[&MANDATORY[..4], &MANDATORY[11..]].concat(), &EBGP),
            vec![(2, Withdraw, 3)]
        );
        assert_eq!(faults(&MANDATORY[..11], &EBGP), vec![(3, Withdraw, 3)]);
        assert_eq!(faults(&MANDATORY, &IBGP), vec![(5, Withdraw, 3)]);
        // The data of a missing-attribute fault is its type code (RFC 4271 §6.3).
        let d = decode_path_attributes(&MANDATORY[..11], &EBGP, true).expect("decodes");
        assert_eq!(d.faults[0].data.as_ref(), &[3]);
        // Nothing announced: nothing required.
        let d = decode_path_attributes(&[], &IBGP, false).expect("decodes");
        assert_eq!(d.faults, vec![]);
        // A malformed ORIGIN is not also reported missing.
        let block = [&[0x40u8, 1, 1, 9][..], &MANDATORY[4..]].concat();
        assert_eq!(faults(&block, &EBGP), vec![(1, Withdraw, 6)]);
    }

    #[test]
    fn discarded_attributes() {
        // ATOMIC_AGGREGATE of length 1, AGGREGATOR of length 5 (RFC 7606 §7.6, §7.7).
        let block = mandatory_plus(&[0x40, 6, 1, 0, 0xc0, 7, 5, 0, 1, 1, 1, 1]);
        assert_eq!(
            faults(&block, &EBGP),
            vec![(6, Discard, 5), (7, Discard, 5)]
        );
        // AGGREGATOR with the wrong flags: discarded too (RFC 7606 §3(c)).
        let block = mandatory_plus(&[0x40, 7, 6, 0, 1, 1, 1, 1, 1]);
        assert_eq!(faults(&block, &EBGP), vec![(7, Discard, 4)]);
        // ORIGINATOR_ID / CLUSTER_LIST from eBGP: discarded; from iBGP: checked, then dropped.
        let block = mandatory_plus(&[0x80, 9, 4, 1, 1, 1, 1, 0x80, 10, 4, 1, 1, 1, 1]);
        assert_eq!(
            faults(&block, &EBGP),
            vec![(9, Discard, 0), (10, Discard, 0)]
        );
        let ibgp = [&block[..], &[0x40, 5, 4, 0, 0, 0, 100][..]].concat();
        assert_eq!(faults(&ibgp, &IBGP), vec![]);
        let bad = mandatory_plus(&[0x80, 10, 3, 1, 1, 1, 0x40, 5, 4, 0, 0, 0, 100]);
        assert_eq!(faults(&bad, &IBGP), vec![(10, Withdraw, 5)]);
    }

    #[test]
    fn communities() {
        for bad in [&[0xc0u8, 8, 0][..], &[0xc0, 8, 5, 0, 0, 0, 1, 2][..]] {
            assert_eq!(faults(&mandatory_plus(bad), &EBGP), vec![(8, Withdraw, 5)]);
        }
        let bad = mandatory_plus(&[0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(faults(&bad, &EBGP), vec![(32, Withdraw, 5)]);
        let bad = mandatory_plus(&[0xc0, 16, 4, 0, 0, 0, 1]);
        assert_eq!(faults(&bad, &EBGP), vec![(16, Withdraw, 5)]);
    }

    #[test]
    fn duplicates() {
        // Second MED discarded, first kept (RFC 7606 §3(g)).
        let block = mandatory_plus(&[0x80, 4, 4, 0, 0, 0, 1, 0x80, 4, 4, 0, 0, 0, 2]);
        let d = decode_path_attributes(&block, &EBGP, true).expect("decodes");
        assert_eq!(d.attrs.med, Some(1));
        assert_eq!(
            d.faults
                .iter()
                .map(|f| (f.type_code, f.action, f.subcode))
                .collect::<Vec<_>>(),
            vec![(4, Discard, 1)]
        );
        // A second MP_UNREACH_NLRI resets the session with Malformed Attribute List.
        let mp = [0x80u8, 15, 3, 0, 2, 1];
        let block = mandatory_plus(&[mp, mp].concat());
        assert_eq!(reset(&block, &EBGP), (3, 1, vec![]));
    }

    #[test]
    fn as4_attributes() {
        // From a 2-octet speaker: a malformed AS4_PATH is discarded, AS_PATH stands.
        let block = mandatory_plus(&[0xc0, 17, 6, 2, 2, 0, 0, 0, 1]);
        let d = decode_path_attributes(&block, &EBGP, true).expect("decodes");
        assert_eq!(d.faults.len(), 1);
        assert_eq!((d.faults[0].type_code, d.faults[0].action), (17, Discard));
        assert_eq!(d.attrs.as_path, Some(AsPath::from_sequence(vec![65001])));
        let empty = mandatory_plus(&[0xc0, 17, 0]);
        assert_eq!(faults(&empty, &EBGP), vec![(17, Discard, 5)]);
        let bad = mandatory_plus(&[0xc0, 18, 6, 0, 0, 0, 1, 1, 1]);
        assert_eq!(faults(&bad, &EBGP), vec![(18, Discard, 5)]);
        // From a 4-octet speaker: discarded even when well formed (RFC 6793 §4.1).
        let four = [
            &[0x40u8, 1, 1, 0, 0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9][..],
            &MANDATORY[11..],
            &[0xc0, 17, 6, 2, 1, 0, 0, 0, 7][..],
        ]
        .concat();
        assert_eq!(faults(&four, &FOUR), vec![(17, Discard, 0)]);
    }

    /// RFC 6793 §4.2.3: an AGGREGATOR that is not AS_TRANS means an OLD speaker aggregated
    /// after the AS4 attributes were written: both are ignored.
    #[test]
    fn as4_ignored_when_aggregator_is_not_as_trans() {
        let block = [
            &[0x40u8, 1, 1, 0, 0x40, 2, 4, 2, 1, 0x5b, 0xa0][..],
            &MANDATORY[11..],
            &[0xc0, 7, 6, 0xfd, 0xf2, 10, 0, 0, 1][..],
            &[0xc0, 17, 6, 2, 1, 0, 1, 0, 0][..],
            &[0xc0, 18, 8, 0, 1, 0, 0, 10, 0, 0, 2][..],
        ]
        .concat();
        let d = decode_path_attributes(&block, &EBGP, true).expect("decodes");
        assert_eq!(d.faults, vec![]);
        assert_eq!(d.attrs.as_path, Some(AsPath::from_sequence(vec![23456])));
        assert_eq!(d.attrs.aggregator.map(|a| a.asn), Some(65010));
    }

    #[test]
    fn unknown_well_known_resets() {
        let attr = [0x40u8, 99, 1, 7];
        let block = mandatory_plus(&attr);
        assert_eq!(reset(&block, &EBGP), (3, 2, attr.to_vec()));
    }

    #[test]
    fn framing_errors_are_treat_as_withdraw() {
        // RFC 7606 §4, first case: the last attribute overruns the field.
        let block = mandatory_plus(&[0xc0, 8, 8, 0, 0, 0, 1]);
        assert_eq!(faults(&block, &EBGP), vec![(8, Withdraw, 1)]);
        // Second case: fewer octets than a header (two, or three with Extended Length).
        assert_eq!(
            faults(&mandatory_plus(&[0x40, 1]), &EBGP),
            vec![(0, Withdraw, 1)]
        );
        assert_eq!(
            faults(&mandatory_plus(&[0x50, 1, 0]), &EBGP),
            vec![(0, Withdraw, 1)]
        );
        // The fault keeps at most 64 octets of the offending bytes.
        let mut long = vec![0xd0, 8, 0x10, 0];
        long.extend_from_slice(&[0; 100]);
        let d = decode_path_attributes(&mandatory_plus(&long), &EBGP, true).expect("decodes");
        assert_eq!(d.faults[0].data.len(), 64);
    }
}
