//! Capabilities (RFC 5492 §4): a TLV list inside the OPEN's Capabilities optional parameter.
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! ~                              ~
//! +------------------------------+
//! ```
//!
//! A capability bgpod knows but whose length is wrong for its code is "recognized, but
//! malformed": RFC 4271 §6.2 answers with OPEN Message Error / 0 (Unspecific). Unknown codes
//! are kept as `Unknown` and ignored by the FSM (RFC 5492 §3: a speaker "MUST NOT" refuse a
//! session only because the peer advertises something it does not understand).

use bytes::{BufMut, Bytes, BytesMut};
use nom::number::complete::{be_u16, be_u32, be_u8};

use super::iana::{capability_code as code, error, Afi, Safi};
use super::{length_prefixed_u8, DecodeError, NomResult};

/// One capability. Those bgpod does not know are kept as `Unknown` and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// Multiprotocol Extensions (RFC 4760 §8).
    Multiprotocol { afi: Afi, safi: Safi },
    /// Route Refresh (RFC 2918 §2).
    RouteRefresh,
    /// Extended Message (RFC 8654 §3).
    ExtendedMessage,
    /// Graceful Restart (RFC 4724 §3).
    GracefulRestart(GracefulRestart),
    /// Support for 4-octet AS numbers (RFC 6793 §3), carrying our real ASN.
    FourOctetAs(u32),
    /// ADD-PATH (RFC 7911 §4).
    AddPath(Vec<AddPathFamily>),
    /// Enhanced Route Refresh (RFC 7313 §3).
    EnhancedRouteRefresh,
    /// Any other capability, kept as received.
    Unknown { code: u8, value: Bytes },
}

/// Graceful Restart capability value (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GracefulRestart {
    /// Restart State bit (R).
    pub restart_state: bool,
    /// Graceful Notification bit (N, RFC 8538).
    pub notification: bool,
    /// Restart Time in seconds (12 bits).
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// One `<AFI, SAFI, Flags>` tuple of the Graceful Restart capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    pub afi: Afi,
    pub safi: Safi,
    /// Forwarding State bit (F).
    pub forwarding_state: bool,
}

/// One `<AFI, SAFI, Send/Receive>` tuple of the ADD-PATH capability (RFC 7911 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddPathFamily {
    pub afi: Afi,
    pub safi: Safi,
    /// 1 = receive, 2 = send, 3 = both.
    pub send_receive: u8,
}

/// Largest capability value: its length is one octet (RFC 5492 §4).
const MAX_VALUE_LEN: usize = 255;

/// Graceful Restart flag bits in the first 16 bits of the value (RFC 4724 §3, RFC 8538 §2).
const GR_RESTART_STATE: u16 = 0x8000;
const GR_NOTIFICATION: u16 = 0x4000;
const GR_TIME_MASK: u16 = 0x0fff;
/// Forwarding State bit of a `<AFI, SAFI, Flags>` tuple (RFC 4724 §3).
const GR_FORWARDING_STATE: u8 = 0x80;

/// RFC 4271 §6.2: "If one of the Optional Parameters in the OPEN message is recognized, but is
/// malformed, then the Error Subcode MUST be set to 0 (Unspecific)."
fn malformed(reason: impl Into<String>) -> DecodeError {
    DecodeError::open(error::UNSPECIFIC, Vec::new(), reason)
}

fn afi_safi(input: &[u8]) -> NomResult<'_, (Afi, Safi)> {
    let (input, afi) = be_u16(input)?;
    let (input, safi) = be_u8(input)?;
    Ok((input, (Afi::from(afi), Safi::from(safi))))
}

impl Capability {
    /// The Capability Code (IANA "Capability Codes").
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol { .. } => code::MULTIPROTOCOL,
            Capability::RouteRefresh => code::ROUTE_REFRESH,
            Capability::ExtendedMessage => code::EXTENDED_MESSAGE,
            Capability::GracefulRestart(_) => code::GRACEFUL_RESTART,
            Capability::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Capability::AddPath(_) => code::ADD_PATH,
            Capability::EnhancedRouteRefresh => code::ENHANCED_ROUTE_REFRESH,
            Capability::Unknown { code, .. } => *code,
        }
    }

    /// Length of the Capability Value.
    fn value_len(&self) -> usize {
        match self {
            Capability::Multiprotocol { .. } | Capability::FourOctetAs(_) => 4,
            Capability::RouteRefresh
            | Capability::ExtendedMessage
            | Capability::EnhancedRouteRefresh => 0,
            Capability::GracefulRestart(gr) => 2 + 4 * gr.families.len(),
            Capability::AddPath(families) => 4 * families.len(),
            Capability::Unknown { value, .. } => value.len(),
        }
    }

    /// Bytes [`Capability::encode`] writes: the TLV, or nothing for a value that cannot fit the
    /// one-octet length (more than 63 Graceful Restart or ADD-PATH families).
    pub fn encoded_len(&self) -> usize {
        match self.value_len() {
            n if n <= MAX_VALUE_LEN => 2 + n,
            _ => 0,
        }
    }

    /// Appends the TLV. A capability whose value exceeds 255 octets cannot be expressed and is
    /// left out (see [`Capability::encoded_len`]).
    pub fn encode(&self, out: &mut BytesMut) {
        let len = self.value_len();
        if len > MAX_VALUE_LEN {
            return;
        }
        out.put_u8(self.code());
        out.put_u8(len as u8);
        match self {
            Capability::Multiprotocol { afi, safi } => {
                // RFC 4760 §8: AFI (2 octets), Reserved (1 octet, 0), SAFI (1 octet).
                out.put_u16(u16::from(*afi));
                out.put_u8(0);
                out.put_u8(u8::from(*safi));
            }
            Capability::RouteRefresh
            | Capability::ExtendedMessage
            | Capability::EnhancedRouteRefresh => {}
            Capability::GracefulRestart(gr) => {
                let mut head = gr.restart_time & GR_TIME_MASK;
                if gr.restart_state {
                    head |= GR_RESTART_STATE;
                }
                if gr.notification {
                    head |= GR_NOTIFICATION;
                }
                out.put_u16(head);
                for family in &gr.families {
                    out.put_u16(u16::from(family.afi));
                    out.put_u8(u8::from(family.safi));
                    out.put_u8(if family.forwarding_state {
                        GR_FORWARDING_STATE
                    } else {
                        0
                    });
                }
            }
            Capability::FourOctetAs(asn) => out.put_u32(*asn),
            Capability::AddPath(families) => {
                for family in families {
                    out.put_u16(u16::from(family.afi));
                    out.put_u8(u8::from(family.safi));
                    out.put_u8(family.send_receive);
                }
            }
            Capability::Unknown { value, .. } => out.put_slice(value),
        }
    }

    /// Decodes one TLV from the front of `input`; returns it and the bytes after it.
    pub fn decode(input: &[u8]) -> Result<(Capability, &[u8]), DecodeError> {
        let (rest, cap_code) = be_u8::<_, ()>(input)
            .map_err(|_| malformed("capability TLV truncated before its code"))?;
        let (rest, value) = length_prefixed_u8(rest).map_err(|_| {
            malformed(format!(
                "capability {cap_code}: length overruns the optional parameter"
            ))
        })?;
        let wrong_len = |expected: &str| {
            malformed(format!(
                "capability {cap_code}: length {} where {expected} is required",
                value.len()
            ))
        };
        let cap = match cap_code {
            code::MULTIPROTOCOL => match multiprotocol(value) {
                Ok(([], (afi, safi))) => Capability::Multiprotocol { afi, safi },
                _ => return Err(wrong_len("4")),
            },
            code::ROUTE_REFRESH | code::EXTENDED_MESSAGE | code::ENHANCED_ROUTE_REFRESH => {
                if !value.is_empty() {
                    return Err(wrong_len("0"));
                }
                match cap_code {
                    code::ROUTE_REFRESH => Capability::RouteRefresh,
                    code::EXTENDED_MESSAGE => Capability::ExtendedMessage,
                    _ => Capability::EnhancedRouteRefresh,
                }
            }
            code::FOUR_OCTET_AS => match be_u32::<_, ()>(value) {
                Ok(([], asn)) => Capability::FourOctetAs(asn),
                _ => return Err(wrong_len("4")),
            },
            code::GRACEFUL_RESTART => {
                // RFC 4724 §3: Restart Flags + Time (2 octets), then 4-octet tuples.
                let Ok((mut tuples, head)) = be_u16::<_, ()>(value) else {
                    return Err(wrong_len("2 + 4n"));
                };
                if !tuples.len().is_multiple_of(4) {
                    return Err(wrong_len("2 + 4n"));
                }
                let mut families = Vec::with_capacity(tuples.len() / 4);
                while let Ok((rest, ((afi, safi), flags))) = gr_tuple(tuples) {
                    families.push(GracefulRestartFamily {
                        afi,
                        safi,
                        forwarding_state: flags & GR_FORWARDING_STATE != 0,
                    });
                    tuples = rest;
                }
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: head & GR_RESTART_STATE != 0,
                    notification: head & GR_NOTIFICATION != 0,
                    restart_time: head & GR_TIME_MASK,
                    families,
                })
            }
            code::ADD_PATH => {
                if !value.len().is_multiple_of(4) {
                    return Err(wrong_len("4n"));
                }
                let mut tuples = value;
                let mut families = Vec::with_capacity(value.len() / 4);
                while let Ok((rest, ((afi, safi), send_receive))) = gr_tuple(tuples) {
                    families.push(AddPathFamily {
                        afi,
                        safi,
                        send_receive,
                    });
                    tuples = rest;
                }
                Capability::AddPath(families)
            }
            other => Capability::Unknown {
                code: other,
                value: Bytes::copy_from_slice(value),
            },
        };
        Ok((cap, rest))
    }

    /// Decodes the whole value of one Capabilities optional parameter (RFC 5492 §4: "one or
    /// more triples"; an empty list is accepted).
    pub fn decode_all(mut input: &[u8]) -> Result<Vec<Capability>, DecodeError> {
        let mut caps = Vec::new();
        while !input.is_empty() {
            let (cap, rest) = Capability::decode(input)?;
            caps.push(cap);
            input = rest;
        }
        Ok(caps)
    }
}

/// `<AFI (2), SAFI (1), one octet>`: the tuple shape shared by Graceful Restart and ADD-PATH.
fn gr_tuple(input: &[u8]) -> NomResult<'_, ((Afi, Safi), u8)> {
    let (input, family) = afi_safi(input)?;
    let (input, last) = be_u8(input)?;
    Ok((input, (family, last)))
}

/// `<AFI (2), Reserved (1), SAFI (1)>`: the Multiprotocol capability value (RFC 4760 §8).
fn multiprotocol(input: &[u8]) -> NomResult<'_, (Afi, Safi)> {
    let (input, afi) = be_u16(input)?;
    let (input, _reserved) = be_u8(input)?;
    let (input, safi) = be_u8(input)?;
    Ok((input, (Afi::from(afi), Safi::from(safi))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(cap: &Capability) -> Vec<u8> {
        let mut out = BytesMut::new();
        cap.encode(&mut out);
        assert_eq!(out.len(), cap.encoded_len());
        out.to_vec()
    }

    fn both_ways(bytes: &[u8], cap: Capability) {
        assert_eq!(Capability::decode(bytes), Ok((cap.clone(), &[][..])));
        assert_eq!(encode(&cap), bytes);
    }

    #[test]
    fn vectors() {
        both_ways(
            &[1, 4, 0, 1, 0, 1],
            Capability::Multiprotocol {
                afi: Afi::Ipv4,
                safi: Safi::Unicast,
            },
        );
        both_ways(
            &[1, 4, 0, 2, 0, 1],
            Capability::Multiprotocol {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
            },
        );
        both_ways(&[2, 0], Capability::RouteRefresh);
        both_ways(&[6, 0], Capability::ExtendedMessage);
        both_ways(&[70, 0], Capability::EnhancedRouteRefresh);
        both_ways(&[65, 4, 0, 0, 0xfd, 0xe8], Capability::FourOctetAs(65000));
        both_ways(
            &[65, 4, 0xfa, 0x56, 0xea, 0x00],
            Capability::FourOctetAs(4_200_000_000),
        );
        // Graceful Restart: R and N set, restart time 120 (0x78), IPv4 unicast with F set.
        both_ways(
            &[64, 6, 0xc0, 0x78, 0, 1, 1, 0x80],
            Capability::GracefulRestart(GracefulRestart {
                restart_state: true,
                notification: true,
                restart_time: 120,
                families: vec![GracefulRestartFamily {
                    afi: Afi::Ipv4,
                    safi: Safi::Unicast,
                    forwarding_state: true,
                }],
            }),
        );
        // Graceful Restart helper mode only (no families), as BIRD sends it.
        both_ways(
            &[64, 2, 0x00, 0x78],
            Capability::GracefulRestart(GracefulRestart {
                restart_state: false,
                notification: false,
                restart_time: 120,
                families: vec![],
            }),
        );
        both_ways(
            &[69, 8, 0, 1, 1, 1, 0, 2, 1, 3],
            Capability::AddPath(vec![
                AddPathFamily {
                    afi: Afi::Ipv4,
                    safi: Safi::Unicast,
                    send_receive: 1,
                },
                AddPathFamily {
                    afi: Afi::Ipv6,
                    safi: Safi::Unicast,
                    send_receive: 3,
                },
            ]),
        );
        // FQDN (code 73): hostname "n1", empty domain. Kept as received.
        both_ways(
            &[73, 4, 2, b'n', b'1', 0],
            Capability::Unknown {
                code: 73,
                value: Bytes::from_static(&[2, b'n', b'1', 0]),
            },
        );
    }

    #[test]
    fn decode_all_returns_each_in_order() {
        let bytes = [2, 0, 65, 4, 0, 0, 0xfd, 0xe8, 70, 0];
        assert_eq!(
            Capability::decode_all(&bytes),
            Ok(vec![
                Capability::RouteRefresh,
                Capability::FourOctetAs(65000),
                Capability::EnhancedRouteRefresh,
            ])
        );
        assert_eq!(Capability::decode_all(&[]), Ok(vec![]));
    }

    #[test]
    fn malformed_tlvs_are_open_error_unspecific() {
        for bytes in [
            &[65u8][..],                 // no length octet
            &[65, 4, 0, 0][..],          // length overruns
            &[65, 2, 0, 1][..],          // wrong length for 4-octet AS
            &[1, 3, 0, 1, 0][..],        // wrong length for multiprotocol
            &[2, 1, 0][..],              // route refresh carries no value
            &[64, 3, 0, 0, 0][..],       // graceful restart is 2 + 4n
            &[64, 1, 0][..],             // graceful restart without its header
            &[69, 5, 0, 1, 1, 1, 0][..], // add-path is 4n
        ] {
            let err = Capability::decode(bytes).expect_err("must fail");
            assert_eq!((err.code, err.subcode), (2, 0), "{bytes:?}");
            assert!(err.data.is_empty());
        }
    }

    #[test]
    fn oversized_value_is_left_out() {
        let cap = Capability::Unknown {
            code: 200,
            value: Bytes::from(vec![0; 256]),
        };
        assert_eq!(cap.encoded_len(), 0);
        assert!(encode(&cap).is_empty());
    }

    proptest! {
        #[test]
        fn round_trip(cap in crate::wire::testgen::capability()) {
            let bytes = encode(&cap);
            prop_assert_eq!(Capability::decode(&bytes), Ok((cap, &[][..])));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Capability::decode_all(&bytes);
        }
    }
}
