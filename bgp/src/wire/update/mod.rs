//! UPDATE message (RFC 4271 §4.3).
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```
//!
//! Decoding order and the errors that reset the session:
//! 1. the two length fields must fit the message (RFC 7606 §3(b), 3/1);
//! 2. Withdrawn Routes must be syntactically correct (RFC 7606 §5.3, 3/10);
//! 3. the attributes (see `attr/decode.rs`): faults or a reset;
//! 4. the NLRI must be syntactically correct (RFC 4271 §6.3, RFC 7606 §5.3, 3/10);
//! 5. RFC 7606 §5.2: a treat-as-withdraw with no reachable NLRI located is a reset (3/1).
//!
//! `pack.rs` builds UPDATEs for export: [`pack_announcements`], [`pack_withdrawals`],
//! [`end_of_rib`].

mod pack;

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::be_u16;

pub use pack::{end_of_rib, pack_announcements, pack_withdrawals};

use super::attr::decode::{decode_path_attributes, Decoded};
use super::attr::{attributes_len, encode_attributes, AttrAction, AttrFault, PathAttributes};
use super::iana::error::update as sub;
use super::prefix::{decode_ipv4_prefixes, prefix_wire_len, put_prefix, Prefix};
use super::{patch_u16, DecodeError, NomResult, SessionContext};

/// An UPDATE. IPv4 unicast prefixes travel in `withdrawn` / `nlri`; other families inside
/// `attributes.mp_reach` / `attributes.mp_unreach`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    pub withdrawn: Vec<Prefix>,
    pub attributes: PathAttributes,
    pub nlri: Vec<Prefix>,
    /// Attribute faults RFC 7606 lets us survive: each was discarded, or made the whole
    /// UPDATE treat-as-withdraw. Empty for a well-formed UPDATE. Never part of `encode`.
    pub faults: Vec<AttrFault>,
}

impl Update {
    /// RFC 7606 §2: one treat-as-withdraw fault turns every announced prefix into a withdraw.
    pub fn treat_as_withdraw(&self) -> bool {
        self.faults
            .iter()
            .any(|f| f.action == super::attr::AttrAction::TreatAsWithdraw)
    }

    /// The strongest action among the faults (RFC 7606 §3(h)); `None` for a clean UPDATE.
    /// Never `Reset`: a reset is returned as a `DecodeError` instead of an `Update`.
    pub fn strongest_action(&self) -> Option<AttrAction> {
        self.faults.iter().map(|f| f.action).max()
    }

    /// An End-of-RIB marker (RFC 4724 §2): an UPDATE with nothing in it, or an MP_UNREACH_NLRI
    /// with no prefixes and no other attribute.
    pub fn is_end_of_rib(&self) -> bool {
        let a = &self.attributes;
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return false;
        }
        let only_mp_unreach = a.origin.is_none()
            && a.as_path.is_none()
            && a.next_hop.is_none()
            && a.mp_reach.is_none()
            && a.unknown.is_empty();
        match &a.mp_unreach {
            None => *a == PathAttributes::default(),
            Some(u) => only_mp_unreach && u.withdrawn.is_empty(),
        }
    }

    /// Decodes the body (after the 19-octet header) of an UPDATE.
    pub(crate) fn decode_body(body: &[u8], ctx: &SessionContext) -> Result<Update, DecodeError> {
        // RFC 7606 §3(b): "If the Withdrawn Routes Length or Total Attribute Length is too
        // large (i.e., if Withdrawn Routes Length + Total Attribute Length + 23 exceeds the
        // message Length), then the Error Subcode MUST be set to Malformed Attribute List."
        let (_, (withdrawn_field, attr_field, nlri_field)) = fields(body).map_err(|_| {
            DecodeError::update(
                sub::MALFORMED_ATTRIBUTE_LIST,
                Vec::new(),
                "Withdrawn Routes Length or Total Path Attribute Length overruns the message",
            )
        })?;

        // RFC 7606 §5.3: a syntactically incorrect Withdrawn Routes or NLRI field (a prefix
        // longer than 32, or one that overruns the field) cannot be handled by
        // treat-as-withdraw: "session reset". The subcode is RFC 4271 §6.3's: "If the field is
        // syntactically incorrect, then the Error Subcode MUST be set to Invalid Network Field."
        let network_error = |field: &str, e| {
            DecodeError::update(
                sub::INVALID_NETWORK_FIELD,
                Vec::new(),
                format!("{field}: {e}"),
            )
        };
        let withdrawn = decode_ipv4_prefixes(withdrawn_field)
            .map_err(|e| network_error("Withdrawn Routes", e))?;
        let Decoded { attrs, faults } =
            decode_path_attributes(attr_field, ctx, !nlri_field.is_empty())?;
        let nlri = decode_ipv4_prefixes(nlri_field).map_err(|e| network_error("NLRI", e))?;

        // RFC 7606 §5.2: "if an UPDATE message is encountered that does contain path attributes
        // other than MP_UNREACH_NLRI and doesn't encode any reachable NLRI, we cannot be
        // confident that the NLRI have been successfully parsed as Section 4 suggests. For this
        // reason, if any path attribute errors are encountered in such an UPDATE message and if
        // any encountered error specifies an error-handling approach other than "attribute
        // discard", then the "session reset" approach MUST be used."
        if nlri.is_empty() && attrs.mp_reach.is_none() {
            if let Some(f) = faults.iter().find(|f| f.action != AttrAction::Discard) {
                return Err(DecodeError::update(
                    sub::MALFORMED_ATTRIBUTE_LIST,
                    Vec::new(),
                    format!(
                        "attribute {}: {}, and no reachable NLRI to withdraw (RFC 7606 §5.2)",
                        f.type_code, f.reason
                    ),
                ));
            }
        }

        Ok(Update {
            withdrawn,
            attributes: attrs,
            nlri,
            faults,
        })
    }

    /// Length of the body [`Update::encode_body`] writes.
    pub(crate) fn body_len(&self, ctx: &SessionContext) -> usize {
        2 + self.withdrawn.iter().map(prefix_wire_len).sum::<usize>()
            + 2
            + attributes_len(&self.attributes, ctx)
            + self.nlri.iter().map(prefix_wire_len).sum::<usize>()
    }

    /// Writes the body. `withdrawn` and `nlri` must hold IPv4 prefixes only (other families
    /// go in MP_REACH_NLRI / MP_UNREACH_NLRI); [`pack_announcements`] guarantees it.
    pub(crate) fn encode_body(&self, ctx: &SessionContext, out: &mut BytesMut) {
        debug_assert!(
            self.withdrawn.iter().chain(&self.nlri).all(Prefix::is_ipv4),
            "IPv6 prefix outside MP_REACH_NLRI/MP_UNREACH_NLRI"
        );
        let at = out.len();
        out.put_u16(0);
        self.withdrawn.iter().for_each(|p| put_prefix(out, p));
        patch_u16(out, at, out.len() - at - 2);

        let at = out.len();
        out.put_u16(0);
        encode_attributes(&self.attributes, ctx, out);
        patch_u16(out, at, out.len() - at - 2);

        self.nlri.iter().for_each(|p| put_prefix(out, p));
    }
}

/// Splits the body into Withdrawn Routes, Path Attributes and NLRI fields.
fn fields(body: &[u8]) -> NomResult<'_, (&[u8], &[u8], &[u8])> {
    let (rest, withdrawn_len) = be_u16(body)?;
    let (rest, withdrawn) = take(withdrawn_len)(rest)?;
    let (rest, attr_len) = be_u16(rest)?;
    let (nlri, attrs) = take(attr_len)(rest)?;
    Ok((&[], (withdrawn, attrs, nlri)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::attr::{AsPath, Origin};
    use crate::wire::iana::{Afi, Safi};
    use crate::wire::{Message, MpReach};
    use std::net::{IpAddr, Ipv4Addr};

    fn message(body: &[u8]) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        v.push(2);
        v.extend_from_slice(body);
        v
    }

    fn decode(body: &[u8], ctx: &SessionContext) -> Result<Update, DecodeError> {
        match Message::decode(&message(body), ctx)? {
            Message::Update(u) => Ok(u),
            other => panic!("not an UPDATE: {other:?}"),
        }
    }

    fn p(s: &str) -> Prefix {
        s.parse().expect("test prefix")
    }

    /// An UPDATE as BIRD sends it to an eBGP peer on a 4-octet AS session: ORIGIN IGP,
    /// AS_PATH 4200000001, NEXT_HOP 10.0.0.1, COMMUNITIES 65000:1, for 10.244.1.0/24 and
    /// 10.244.2.0/24, and withdrawing 10.244.9.0/24.
    #[test]
    fn bird_update_both_ways() {
        let body = [
            0, 4, 24, 10, 244, 9, // withdrawn routes
            0, 27, // total path attribute length
            0x40, 1, 1, 0, // ORIGIN IGP
            0x40, 2, 6, 2, 1, 0xfa, 0x56, 0xea, 0x01, // AS_PATH
            0x40, 3, 4, 10, 0, 0, 1, // NEXT_HOP
            0xc0, 8, 4, 0xfd, 0xe8, 0, 1, // COMMUNITIES
            24, 10, 244, 1, 24, 10, 244, 2, // NLRI
        ];
        let ctx = SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        };
        let update = Update {
            withdrawn: vec![p("10.244.9.0/24")],
            attributes: PathAttributes {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::from_sequence(vec![4_200_000_001])),
                next_hop: Some(Ipv4Addr::new(10, 0, 0, 1)),
                communities: vec![0xfde8_0001],
                ..PathAttributes::default()
            },
            nlri: vec![p("10.244.1.0/24"), p("10.244.2.0/24")],
            faults: vec![],
        };
        assert_eq!(decode(&body, &ctx), Ok(update.clone()));
        assert_eq!(
            Message::Update(update).to_bytes(&ctx).as_ref(),
            &message(&body)[..]
        );
    }

    /// An IPv6 UPDATE as FRR sends it: MP_REACH_NLRI first, global + link-local next hop.
    #[test]
    fn frr_ipv6_update_decodes() {
        let mut body = vec![0, 0, 0, 71];
        body.extend_from_slice(&[0x90, 14, 0, 46, 0, 2, 1, 32]);
        body.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        body.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        body.extend_from_slice(&[0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]);
        body.extend_from_slice(&[0x40, 1, 1, 0, 0x50, 2, 0, 6, 2, 1, 0, 0, 0xfd, 0xe9]);
        body.extend_from_slice(&[0x80, 4, 4, 0, 0, 0, 0]);
        let ctx = SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        };
        let update = decode(&body, &ctx).expect("decodes");
        assert_eq!(update.faults, vec![]);
        assert_eq!(
            update.attributes.mp_reach,
            Some(MpReach {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
                next_hops: vec![
                    IpAddr::V6("2001:db8::1".parse().expect("addr")),
                    IpAddr::V6("fe80::1".parse().expect("addr")),
                ],
                nlri: vec![p("2001:db8:0:1::/64")],
            })
        );
        assert_eq!(update.attributes.med, Some(0));
    }

    #[test]
    fn length_fields_overrun() {
        let ctx = SessionContext::default();
        let err = |body: &[u8]| decode(body, &ctx).map_err(|e| (e.code, e.subcode, e.data));
        // Withdrawn Routes Length 5 with 2 octets left.
        assert_eq!(err(&[0, 5, 0, 0]), Err((3, 1, vec![])));
        // Total Path Attribute Length 10 with none left.
        assert_eq!(err(&[0, 0, 0, 10]), Err((3, 1, vec![])));
        // Withdrawn Routes Length that eats the attribute length field.
        assert_eq!(err(&[0, 2, 0, 0]), Err((3, 1, vec![])));
    }

    #[test]
    fn network_field_errors_reset() {
        let ctx = SessionContext::default();
        let err = |body: &[u8]| decode(body, &ctx).map_err(|e| (e.code, e.subcode));
        let attrs = [0x40u8, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 10, 0, 0, 1];
        let with_nlri = |nlri: &[u8]| [&[0u8, 0, 0, 14][..], &attrs, nlri].concat();
        assert_eq!(err(&with_nlri(&[33, 1, 2, 3, 4, 5])), Err((3, 10)));
        assert_eq!(err(&with_nlri(&[24, 10, 0])), Err((3, 10)));
        assert_eq!(err(&[0, 2, 40, 1, 0, 0]), Err((3, 10)));
        assert_eq!(err(&[0, 2, 16, 10, 0, 0]), Err((3, 10)));
        assert!(err(&with_nlri(&[24, 10, 0, 0])).is_ok());
    }

    #[test]
    fn treat_as_withdraw_keeps_the_prefixes() {
        // ORIGIN value 7: the UPDATE's prefixes are still there for the RIB to withdraw.
        let body = [
            0, 0, 0, 14, 0x40, 1, 1, 7, 0x40, 2, 0, 0x40, 3, 4, 10, 0, 0, 1, 24, 10, 1, 2,
        ];
        let update = decode(&body, &SessionContext::default()).expect("decodes");
        assert!(update.treat_as_withdraw());
        assert_eq!(update.strongest_action(), Some(AttrAction::TreatAsWithdraw));
        assert_eq!(update.nlri, vec![p("10.1.2.0/24")]);
        assert_eq!(update.attributes.origin, None);
    }

    /// RFC 7606 §5.2: treat-as-withdraw in an UPDATE with no reachable NLRI is a reset.
    #[test]
    fn treat_as_withdraw_without_nlri_resets() {
        let ctx = SessionContext::default();
        // Withdrawals plus a bad ORIGIN.
        let body = [0, 4, 24, 10, 1, 2, 0, 4, 0x40, 1, 1, 7];
        let e = decode(&body, &ctx).expect_err("reset");
        assert_eq!((e.code, e.subcode), (3, 1));
        // An attribute that overruns the field may be hiding MP_REACH_NLRI: reset.
        let body = [0, 0, 0, 4, 0x40, 1, 5, 0];
        assert!(decode(&body, &ctx).is_err());
        // A discard only is fine without NLRI.
        let body = [0, 0, 0, 4, 0x40, 6, 1, 0];
        let update = decode(&body, &ctx).expect("decodes");
        assert_eq!(update.strongest_action(), Some(AttrAction::Discard));
    }

    #[test]
    fn end_of_rib_is_recognised() {
        let ctx = SessionContext::default();
        assert!(decode(&[0, 0, 0, 0], &ctx).expect("v4 EoR").is_end_of_rib());
        let v6 = decode(&[0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1], &ctx).expect("v6 EoR");
        assert!(v6.is_end_of_rib());
        assert!(!decode(&[0, 2, 8, 10, 0, 0], &ctx)
            .expect("withdraw")
            .is_end_of_rib());
    }

    #[test]
    fn extended_message_session() {
        // 5000 octets is a Bad Message Length unless RFC 8654 was negotiated.
        let mut body = vec![0, 0, 0, 0];
        let attrs: Vec<u8> = [0x40u8, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 10, 0, 0, 1].to_vec();
        body[3] = attrs.len() as u8;
        body.extend_from_slice(&attrs);
        while body.len() < 5000 - 19 - 4 {
            body.extend_from_slice(&[24, 10, 1, 2]);
        }
        let bytes = message(&body);
        let plain = SessionContext::default();
        let e = Message::decode(&bytes, &plain).expect_err("too long");
        assert_eq!((e.code, e.subcode), (1, 2));
        let extended = SessionContext {
            extended_message: true,
            ..plain
        };
        assert!(Message::decode(&bytes, &extended).is_ok());
    }
}
