//! OPEN message (RFC 4271 §4.2) with capabilities in optional parameters (RFC 5492 §4).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+
//! |    Version    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     My Autonomous System      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Hold Time           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         BGP Identifier                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Opt Parm Len  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Optional Parameters (variable)                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 9072 §2 extended format, used when the parameters exceed 255 octets:
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Non-Ext OP Len.|Non-Ext OP Type|  Extended Opt. Parm. Length   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!   (255)           (255)           then each parameter is
//!                                   Type (1) | Length (2) | Value
//! ```
//!
//! Decoding here is structural: field layout, parameter and capability TLV lengths. The
//! semantic checks that need no configuration are [`check_open_basic`]; the FSM adds the ones
//! that do (peer AS, our own BGP Identifier, collision detection).

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u32, be_u8};

use super::capability::Capability;
use super::iana::{error, optional_parameter};
use super::{length_prefixed_u16, length_prefixed_u8, DecodeError, NomResult, AS_TRANS};

/// An OPEN message. Capabilities from every Capabilities optional parameter are flattened
/// into one list in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Protocol version; 4 for BGP-4.
    pub version: u8,
    /// My Autonomous System: the 2-octet field (AS_TRANS when the real ASN needs 4 octets).
    pub my_as: u16,
    /// Proposed hold time in seconds (0, or at least 3).
    pub hold_time: u16,
    /// BGP Identifier.
    pub bgp_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

/// Octets of the fixed part before the optional parameters.
const FIXED_LEN: usize = 10;
/// Largest non-extended Optional Parameters Length (RFC 4271 §4.2: one octet).
const MAX_NON_EXTENDED: usize = 255;

impl Open {
    /// The sender's real ASN: the 4-octet AS capability if present (RFC 6793 §3), else `my_as`.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    /// The value for My Autonomous System when our ASN is `asn`: AS_TRANS if it needs 4
    /// octets (RFC 6793 §4.1).
    pub fn my_as_field(asn: u32) -> u16 {
        u16::try_from(asn).unwrap_or(AS_TRANS)
    }

    /// Decodes the body (after the 19-octet header) of an OPEN.
    pub(crate) fn decode_body(body: &[u8]) -> Result<Open, DecodeError> {
        let (rest, (version, my_as, hold_time, bgp_id, opt_len)) =
            fixed_part(body).map_err(|_| {
                DecodeError::open(error::UNSPECIFIC, Vec::new(), "OPEN shorter than 29 octets")
            })?;
        let capabilities = decode_optional_parameters(opt_len, rest)?;
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(bgp_id),
            capabilities,
        })
    }

    /// Total length of the capability TLVs, as they are all sent in one parameter.
    fn capabilities_len(&self) -> usize {
        self.capabilities.iter().map(Capability::encoded_len).sum()
    }

    /// Length of everything after the Optional Parameters Length octet, and whether the
    /// RFC 9072 extended format is needed.
    fn parameters_len(&self) -> (usize, bool) {
        let caps = self.capabilities_len();
        if caps == 0 {
            (0, false)
        } else if 2 + caps <= MAX_NON_EXTENDED {
            (2 + caps, false)
        } else {
            // Non-Ext OP Type + Extended length (3 octets), then Type (1) + Length (2).
            (3 + 3 + caps, true)
        }
    }

    /// Length of the body [`Open::encode_body`] writes.
    pub(crate) fn body_len(&self) -> usize {
        FIXED_LEN + self.parameters_len().0
    }

    /// Writes the body. All capabilities go into one Capabilities parameter (RFC 5492 §4
    /// allows one or several); the RFC 9072 format is used only when they exceed 255 octets,
    /// as RFC 9072 §2 asks ("SHOULD NOT use the extended format" otherwise).
    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        let caps = self.capabilities_len();
        let (params, extended) = self.parameters_len();
        out.put_u8(self.version);
        out.put_u16(self.my_as);
        out.put_u16(self.hold_time);
        out.put_u32(u32::from(self.bgp_id));
        if params == 0 {
            out.put_u8(0);
            return;
        }
        if extended {
            out.put_u8(optional_parameter::EXTENDED_LENGTH);
            out.put_u8(optional_parameter::EXTENDED_LENGTH);
            out.put_u16((3 + caps) as u16);
            out.put_u8(optional_parameter::CAPABILITIES);
            out.put_u16(caps as u16);
        } else {
            out.put_u8(params as u8);
            out.put_u8(optional_parameter::CAPABILITIES);
            out.put_u8(caps as u8);
        }
        for cap in &self.capabilities {
            cap.encode(out);
        }
    }
}

type Fixed = (u8, u16, u16, u32, u8);

fn fixed_part(input: &[u8]) -> NomResult<'_, Fixed> {
    let (input, version) = be_u8(input)?;
    let (input, my_as) = be_u16(input)?;
    let (input, hold_time) = be_u16(input)?;
    let (input, bgp_id) = be_u32(input)?;
    let (input, opt_len) = be_u8(input)?;
    Ok((input, (version, my_as, hold_time, bgp_id, opt_len)))
}

/// Optional parameters, either format. `rest` is everything after the length octet.
fn decode_optional_parameters(opt_len: u8, rest: &[u8]) -> Result<Vec<Capability>, DecodeError> {
    let malformed = |reason: &str| DecodeError::open(error::UNSPECIFIC, Vec::new(), reason);
    // RFC 9072 §2: "If the value of the "Non-Ext OP Type" field is 255, then the extended
    // format is in use" (announced by a Non-Ext OP Len of 255).
    let extended = usize::from(opt_len) == MAX_NON_EXTENDED
        && rest.first() == Some(&optional_parameter::EXTENDED_LENGTH);
    let params = if extended {
        let (after, params) = extended_parameters(rest)
            .map_err(|_| malformed("extended optional parameters length overruns the OPEN"))?;
        if !after.is_empty() {
            return Err(malformed("bytes after the extended optional parameters"));
        }
        params
    } else {
        // The OPEN length and the Optional Parameters Length must agree: the parameters end
        // exactly at the end of the message. RFC 4271 has no dedicated subcode for this; it is
        // a malformed parameter list, answered like one (RFC 4271 §6.2, subcode 0).
        if usize::from(opt_len) != rest.len() {
            return Err(malformed(&format!(
                "optional parameters length {opt_len} but {} octets follow",
                rest.len()
            )));
        }
        rest
    };

    let mut capabilities = Vec::new();
    let mut input = params;
    while !input.is_empty() {
        let parsed = if extended {
            parameter(input, length_prefixed_u16)
        } else {
            parameter(input, length_prefixed_u8)
        };
        let (after, (param_type, value)) =
            parsed.map_err(|_| malformed("optional parameter length overruns the list"))?;
        if param_type != optional_parameter::CAPABILITIES {
            // RFC 4271 §6.2: "If one of the Optional Parameters in the OPEN message is not
            // recognized, then the Error Subcode MUST be set to Unsupported Optional
            // Parameters." (Type 1, Authentication, is deprecated by RFC 5492 §4.)
            return Err(DecodeError::open(
                error::open::UNSUPPORTED_OPTIONAL_PARAMETER,
                Vec::new(),
                format!("unsupported optional parameter type {param_type}"),
            ));
        }
        capabilities.extend(Capability::decode_all(value)?);
        input = after;
    }
    Ok(capabilities)
}

fn extended_parameters(input: &[u8]) -> NomResult<'_, &[u8]> {
    let (input, _non_ext_type) = be_u8(input)?;
    let (input, len) = be_u16(input)?;
    take(len)(input)
}

fn parameter<'a>(
    input: &'a [u8],
    value: fn(&'a [u8]) -> NomResult<'a, &'a [u8]>,
) -> NomResult<'a, (u8, &'a [u8])> {
    let (input, param_type) = be_u8(input)?;
    let (input, value) = value(input)?;
    Ok((input, (param_type, value)))
}

/// The checks on a received OPEN that need no configuration (RFC 4271 §6.2, RFC 6286,
/// RFC 7607). The FSM runs these first, then its own (peer AS, BGP Identifier collision).
pub fn check_open_basic(open: &Open) -> Result<(), DecodeError> {
    // RFC 4271 §6.2: "If the version number in the Version field of the received OPEN message
    // is not supported, then the Error Subcode MUST be set to Unsupported Version Number. The
    // Data field is a 2-octet unsigned integer, which indicates the largest, locally-supported
    // version number less than the version the remote BGP peer bid [...], or if the smallest,
    // locally-supported version number is greater than the version the remote BGP peer bid,
    // then the smallest, locally-supported version number." We support only 4.
    if open.version != 4 {
        return Err(DecodeError::open(
            error::open::UNSUPPORTED_VERSION_NUMBER,
            4u16.to_be_bytes().to_vec(),
            format!("unsupported BGP version {}", open.version),
        ));
    }
    // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds."
    if matches!(open.hold_time, 1 | 2) {
        return Err(DecodeError::open(
            error::open::UNACCEPTABLE_HOLD_TIME,
            Vec::new(),
            format!("hold time {} s", open.hold_time),
        ));
    }
    // RFC 6286 §2.2 (updating RFC 4271 §6.2): the BGP Identifier is "a 4-octet, unsigned,
    // non-zero integer"; any other value, multicast or broadcast included, is valid.
    if open.bgp_id.is_unspecified() {
        return Err(DecodeError::open(
            error::open::BAD_BGP_IDENTIFIER,
            Vec::new(),
            "BGP identifier 0.0.0.0",
        ));
    }
    // RFC 7607 §2: "If a BGP speaker receives zero as the peer AS in an OPEN message, it MUST
    // abort the connection and send a NOTIFICATION with Error Code "OPEN Message Error" and
    // subcode "Bad Peer AS"". Both the 2-octet field and the 4-octet capability count.
    if open.my_as == 0 || open.asn() == 0 {
        return Err(DecodeError::open(
            error::open::BAD_PEER_AS,
            Vec::new(),
            "peer AS 0",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::iana::{Afi, Safi};
    use crate::wire::{AddPathFamily, GracefulRestart, GracefulRestartFamily, Message};
    use crate::wire::{Message as M, SessionContext};
    use bytes::Bytes;

    fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        Message::decode(bytes, &SessionContext::default())
    }

    /// An OPEN as FRR 9 sends it to an eBGP peer with IPv4 and IPv6 unicast: AS 65001 (and
    /// 4-octet AS 65001), hold 180, id 192.0.2.1. Written by hand from RFC 4271 §4.2, RFC 5492,
    /// RFC 4760 §8, RFC 2918, RFC 7313, RFC 4724, RFC 6793, RFC 7911 and the FQDN draft.
    const FRR_OPEN: &[u8] = &[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // marker
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, //
        0x00, 0x67, 0x01, // length 103, OPEN
        0x04, 0xfd, 0xe9, 0x00, 0xb4, // version 4, AS 65001, hold 180
        0xc0, 0x00, 0x02, 0x01, // BGP id 192.0.2.1
        0x4a, // optional parameters length 74
        0x02, 0x48, // one Capabilities parameter of 72 octets
        0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // MP IPv4 unicast
        0x01, 0x04, 0x00, 0x02, 0x00, 0x01, // MP IPv6 unicast
        0x80, 0x00, // old Cisco route refresh (code 128): kept as unknown
        0x02, 0x00, // route refresh
        0x46, 0x00, // enhanced route refresh
        0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9, // 4-octet AS 65001
        0x45, 0x08, 0x00, 0x01, 0x01, 0x01, 0x00, 0x02, 0x01, 0x01, // add-path rx v4, v6
        0x49, 0x0a, 0x05, b'l', b'e', b'a', b'f', b'1', 0x03, b'l', b'a', b'b', // FQDN
        0x40, 0x0a, 0x40, 0x78, 0x00, 0x01, 0x01, 0x00, 0x00, 0x02, 0x01, 0x00, // GR N, 120 s
        0x47, 0x00, // long-lived graceful restart with no families
        0x06, 0x00, // extended message
        0x40, 0x02, 0x00, 0x78, // a second GR capability (FRR does not, some do)
        0x01, 0x04, 0x00, 0x19, 0x00, 0x46, // MP L2VPN EVPN (25/70): unknown family, kept
    ];

    fn frr_open() -> Open {
        let mp = |afi, safi| Capability::Multiprotocol { afi, safi };
        let gr_family = |afi| GracefulRestartFamily {
            afi,
            safi: Safi::Unicast,
            forwarding_state: false,
        };
        Open {
            version: 4,
            my_as: 65001,
            hold_time: 180,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: vec![
                mp(Afi::Ipv4, Safi::Unicast),
                mp(Afi::Ipv6, Safi::Unicast),
                Capability::Unknown {
                    code: 128,
                    value: Bytes::new(),
                },
                Capability::RouteRefresh,
                Capability::EnhancedRouteRefresh,
                Capability::FourOctetAs(65001),
                Capability::AddPath(vec![
                    AddPathFamily {
                        afi: Afi::Ipv4,
                        safi: Safi::Unicast,
                        send_receive: 1,
                    },
                    AddPathFamily {
                        afi: Afi::Ipv6,
                        safi: Safi::Unicast,
                        send_receive: 1,
                    },
                ]),
                Capability::Unknown {
                    code: 73,
                    value: Bytes::from_static(b"\x05leaf1\x03lab"),
                },
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: false,
                    notification: true,
                    restart_time: 120,
                    families: vec![gr_family(Afi::Ipv4), gr_family(Afi::Ipv6)],
                }),
                Capability::Unknown {
                    code: 71,
                    value: Bytes::new(),
                },
                Capability::ExtendedMessage,
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: false,
                    notification: false,
                    restart_time: 120,
                    families: vec![],
                }),
                mp(Afi::Unknown(25), Safi::Unknown(70)),
            ],
        }
    }

    #[test]
    fn frr_open_both_ways() {
        assert_eq!(FRR_OPEN.len(), 103);
        let open = frr_open();
        assert_eq!(decode(FRR_OPEN), Ok(M::Open(open.clone())));
        let ctx = SessionContext::default();
        assert_eq!(M::Open(open.clone()).to_bytes(&ctx).as_ref(), FRR_OPEN);
        assert_eq!(open.asn(), 65001);
        assert_eq!(check_open_basic(&open), Ok(()));
    }

    /// BIRD 2 puts each capability in its own optional parameter; that decodes to the same
    /// flat list. AS 4200000001 (AS_TRANS in the 2-octet field), hold 240.
    #[test]
    fn bird_style_one_parameter_per_capability() {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&[0x00, 0x35, 0x01, 0x04, 0x5b, 0xa0, 0x00, 0xf0]);
        bytes.extend_from_slice(&[10, 0, 0, 1, 24]);
        bytes.extend_from_slice(&[2, 6, 1, 4, 0, 1, 0, 1]);
        bytes.extend_from_slice(&[2, 2, 2, 0]);
        bytes.extend_from_slice(&[2, 6, 65, 4, 0xfa, 0x56, 0xea, 0x01]);
        bytes.extend_from_slice(&[2, 2, 6, 0]);
        assert_eq!(bytes.len(), 0x35);
        let Ok(M::Open(open)) = decode(&bytes) else {
            panic!("BIRD OPEN did not decode")
        };
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_001);
        assert_eq!(
            open.capabilities,
            vec![
                Capability::Multiprotocol {
                    afi: Afi::Ipv4,
                    safi: Safi::Unicast
                },
                Capability::RouteRefresh,
                Capability::FourOctetAs(4_200_000_001),
                Capability::ExtendedMessage,
            ]
        );
        assert_eq!(Open::my_as_field(4_200_000_001), AS_TRANS);
        assert_eq!(Open::my_as_field(65001), 65001);
    }

    #[test]
    fn no_optional_parameters() {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&[0, 29, 1, 4, 0, 1, 0, 90, 1, 1, 1, 1, 0]);
        let open = Open {
            version: 4,
            my_as: 1,
            hold_time: 90,
            bgp_id: Ipv4Addr::new(1, 1, 1, 1),
            capabilities: vec![],
        };
        assert_eq!(decode(&bytes), Ok(M::Open(open.clone())));
        assert_eq!(
            M::Open(open).to_bytes(&SessionContext::default()).as_ref(),
            &bytes[..]
        );
    }

    /// RFC 9072 §2: 255, 255, then a 2-octet length and 2-octet parameter lengths.
    #[test]
    fn extended_optional_parameters() {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&[0, 41, 1, 4, 0xfd, 0xe8, 0, 90, 10, 0, 0, 2]);
        bytes.extend_from_slice(&[255, 255, 0, 9, 2, 0, 6, 65, 4, 0, 0, 0xfd, 0xe8]);
        assert_eq!(bytes.len(), 41);
        let Ok(M::Open(open)) = decode(&bytes) else {
            panic!("RFC 9072 OPEN did not decode")
        };
        assert_eq!(open.capabilities, vec![Capability::FourOctetAs(65000)]);

        // Encoding switches to the extended format only past 255 octets of parameters.
        let big = Open {
            capabilities: (0..30)
                .map(|i| Capability::Unknown {
                    code: 200,
                    value: Bytes::from(vec![i; 7]),
                })
                .collect(),
            ..open
        };
        let ctx = SessionContext::default();
        let wire = M::Open(big.clone()).to_bytes(&ctx);
        assert_eq!(&wire[28..30], &[255, 255]);
        assert_eq!(Message::decode(&wire, &ctx), Ok(M::Open(big)));
    }

    #[test]
    fn structural_errors() {
        let open_with = |params: &[u8], opt_len: u8| {
            let mut bytes = vec![0xff; 16];
            bytes.extend_from_slice(&((29 + params.len()) as u16).to_be_bytes());
            bytes.extend_from_slice(&[1, 4, 0, 1, 0, 90, 1, 1, 1, 1, opt_len]);
            bytes.extend_from_slice(params);
            decode(&bytes).expect_err("must fail")
        };
        let codes = |e: DecodeError| (e.code, e.subcode);
        // Authentication (type 1) is not supported.
        assert_eq!(codes(open_with(&[1, 2, 0, 0], 4)), (2, 4));
        // Optional parameters length larger / smaller than what follows.
        assert_eq!(codes(open_with(&[2, 2, 2, 0], 5)), (2, 0));
        assert_eq!(codes(open_with(&[2, 2, 2, 0], 3)), (2, 0));
        // A parameter overrunning the list, a capability overrunning the parameter.
        assert_eq!(codes(open_with(&[2, 5, 2, 0], 4)), (2, 0));
        assert_eq!(codes(open_with(&[2, 2, 65, 4], 4)), (2, 0));
        // Extended format with a length that overruns.
        assert_eq!(codes(open_with(&[255, 0, 9, 2, 0, 0], 255)), (2, 0));
    }

    #[test]
    fn basic_checks() {
        let good = frr_open();
        let check = |f: &dyn Fn(&mut Open)| {
            let mut open = good.clone();
            f(&mut open);
            check_open_basic(&open).map_err(|e| (e.code, e.subcode, e.data))
        };
        assert_eq!(check(&|o| o.version = 3), Err((2, 1, vec![0, 4])));
        assert_eq!(check(&|o| o.version = 5), Err((2, 1, vec![0, 4])));
        assert_eq!(check(&|o| o.hold_time = 1), Err((2, 6, vec![])));
        assert_eq!(check(&|o| o.hold_time = 2), Err((2, 6, vec![])));
        assert_eq!(check(&|o| o.hold_time = 0), Ok(()));
        assert_eq!(check(&|o| o.hold_time = 3), Ok(()));
        assert_eq!(
            check(&|o| o.bgp_id = Ipv4Addr::UNSPECIFIED),
            Err((2, 3, vec![]))
        );
        // RFC 6286: multicast or broadcast identifiers are acceptable.
        assert_eq!(check(&|o| o.bgp_id = Ipv4Addr::BROADCAST), Ok(()));
        assert_eq!(check(&|o| o.bgp_id = Ipv4Addr::new(224, 0, 0, 5)), Ok(()));
        assert_eq!(
            check(&|o| {
                o.my_as = 0;
                o.capabilities.clear();
            }),
            Err((2, 2, vec![]))
        );
        assert_eq!(
            check(&|o| o.capabilities = vec![Capability::FourOctetAs(0)]),
            Err((2, 2, vec![]))
        );
    }
}
