//! MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760 §3, §4) for IPv4 and IPv6 unicast.
//!
//! Any error in these attributes is a session reset: RFC 7606 §7.11 and §7.12 allow "session
//! reset" or "AFI/SAFI disable", and bgpod does not implement AFI/SAFI disable. The
//! NOTIFICATION is UPDATE Message Error / Optional Attribute Error with the attribute as data
//! (RFC 4760 §7, RFC 4271 §6.3). A family bgpod does not handle is not an error: the attribute
//! is kept with its AFI/SAFI and no routes, and the RIB ignores it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nom::number::complete::{be_u16, be_u8};

use super::{MpReach, MpUnreach};
use crate::wire::iana::{Afi, Safi};
use crate::wire::prefix::{decode_ipv4_prefixes, decode_ipv6_prefixes, Prefix};
use crate::wire::{length_prefixed_u8, NomResult};

/// The families whose NLRI bgpod decodes; others are kept with AFI/SAFI only.
fn supported(afi: Afi, safi: Safi) -> bool {
    matches!((afi, safi), (Afi::Ipv4 | Afi::Ipv6, Safi::Unicast))
}

fn decode_prefixes(afi: Afi, field: &[u8]) -> Result<Vec<Prefix>, String> {
    let decoded = match afi {
        Afi::Ipv4 => decode_ipv4_prefixes(field),
        _ => decode_ipv6_prefixes(field),
    };
    decoded.map_err(|e| format!("NLRI: {e}"))
}

fn afi_safi(input: &[u8]) -> NomResult<'_, (Afi, Safi)> {
    let (input, afi) = be_u16(input)?;
    let (input, safi) = be_u8(input)?;
    Ok((input, (Afi::from(afi), Safi::from(safi))))
}

/// MP_REACH_NLRI (RFC 4760 §3):
///
/// ```text
/// +---------------------------------------------------------+
/// | Address Family Identifier (2 octets)                    |
/// +---------------------------------------------------------+
/// | Subsequent Address Family Identifier (1 octet)          |
/// +---------------------------------------------------------+
/// | Length of Next Hop Network Address (1 octet)            |
/// +---------------------------------------------------------+
/// | Network Address of Next Hop (variable)                  |
/// +---------------------------------------------------------+
/// | Reserved (1 octet)                                      |
/// +---------------------------------------------------------+
/// | Network Layer Reachability Information (variable)       |
/// +---------------------------------------------------------+
/// ```
///
/// Any error is a session reset: RFC 7606 §7.11 ("If the Length of Next Hop Network Address
/// field of the MP_REACH attribute is inconsistent with that which was expected, the attribute
/// is considered malformed. Since the next hop precedes the NLRI field in the attribute, in
/// this case it will not be possible to reliably locate the NLRI; thus, the "session reset" or
/// "AFI/SAFI disable" approach MUST be used.") and §5.3 for its NLRI. bgpod does not implement
/// AFI/SAFI disable; the NOTIFICATION is Optional Attribute Error (RFC 4760 §7).
pub(crate) fn mp_reach(v: &[u8]) -> Result<MpReach, String> {
    let (rest, (afi, safi)) = afi_safi(v).map_err(|_| "too short for AFI and SAFI".to_string())?;
    if !supported(afi, safi) {
        // A family we did not negotiate: keep AFI/SAFI so the RIB can ignore it knowingly.
        return Ok(MpReach {
            afi,
            safi,
            next_hops: Vec::new(),
            nlri: Vec::new(),
        });
    }
    let (rest, next_hop) =
        length_prefixed_u8(rest).map_err(|_| "next hop overruns the attribute".to_string())?;
    let next_hops = match (afi, next_hop.len()) {
        (Afi::Ipv4, 4) => vec![IpAddr::V4(Ipv4Addr::from(u32::from_be_bytes([
            next_hop[0],
            next_hop[1],
            next_hop[2],
            next_hop[3],
        ])))],
        // RFC 2545 §3: a global address, optionally followed by a link-local one.
        (Afi::Ipv6, 16 | 32) => next_hop
            .chunks_exact(16)
            .map(|c| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(c);
                IpAddr::V6(Ipv6Addr::from(octets))
            })
            .collect(),
        (_, n) => {
            return Err(format!(
                "next hop length {n} is inconsistent with AFI {afi:?}"
            ))
        }
    };
    // RFC 4760 §3: Reserved "MUST be set to 0, and SHOULD be ignored upon receipt."
    let (nlri, _reserved) =
        be_u8::<_, ()>(rest).map_err(|_| "missing the reserved octet".to_string())?;
    Ok(MpReach {
        afi,
        safi,
        next_hops,
        nlri: decode_prefixes(afi, nlri)?,
    })
}

/// MP_UNREACH_NLRI (RFC 4760 §4): AFI (2), SAFI (1), Withdrawn Routes. Errors are a session
/// reset as for MP_REACH_NLRI (RFC 7606 §7.12, §5.3).
pub(crate) fn mp_unreach(v: &[u8]) -> Result<MpUnreach, String> {
    let (withdrawn, (afi, safi)) =
        afi_safi(v).map_err(|_| "too short for AFI and SAFI".to_string())?;
    let withdrawn = if supported(afi, safi) {
        decode_prefixes(afi, withdrawn)?
    } else {
        Vec::new()
    };
    Ok(MpUnreach {
        afi,
        safi,
        withdrawn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::attr::decode::decode_path_attributes;
    use crate::wire::SessionContext;

    /// ORIGIN IGP, AS_PATH 65001, NEXT_HOP 192.0.2.1.
    const MANDATORY: [u8; 18] = [
        0x40, 1, 1, 0, 0x40, 2, 4, 2, 1, 0xfd, 0xe9, 0x40, 3, 4, 192, 0, 2, 1,
    ];

    fn mandatory_plus(extra: &[u8]) -> Vec<u8> {
        [&MANDATORY[..], extra].concat()
    }

    fn reset(block: &[u8]) -> (u8, u8, Vec<u8>) {
        let e = decode_path_attributes(block, &SessionContext::default(), true).expect_err("reset");
        (e.code, e.subcode, e.data)
    }

    #[test]
    fn values() {
        let v6 = [
            0u8, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
        ];
        let reach = mp_reach(&v6).expect("decodes");
        assert_eq!(
            reach.next_hops,
            vec![IpAddr::V6("2001:db8::1".parse().expect("addr"))]
        );
        assert_eq!(reach.nlri, vec!["::/0".parse::<Prefix>().expect("prefix")]);
        let unreach = mp_unreach(&[0, 1, 1, 8, 10]).expect("decodes");
        assert_eq!(
            unreach.withdrawn,
            vec!["10.0.0.0/8".parse::<Prefix>().expect("prefix")]
        );
        // A family bgpod does not handle: kept, empty.
        let other = mp_unreach(&[0, 25, 70, 1, 2, 3]).expect("decodes");
        assert_eq!(
            (other.afi, other.safi),
            (Afi::Unknown(25), Safi::Unknown(70))
        );
        assert!(other.withdrawn.is_empty());
    }

    #[test]
    fn mp_attributes_reset() {
        for attr in [
            &[0x80u8, 14, 2, 0, 2][..],                         // no room for SAFI
            &[0x80, 14, 9, 0, 2, 1, 4, 1, 2, 3, 4, 0][..],      // IPv6 with a 4-octet next hop
            &[0x80, 14, 6, 0, 1, 1, 4, 1, 2][..],               // next hop overruns
            &[0x80, 14, 8, 0, 1, 1, 4, 1, 2, 3, 4][..],         // no reserved octet
            &[0x80, 14, 10, 0, 1, 1, 4, 1, 2, 3, 4, 0, 33][..], // NLRI /33
            &[0x80, 15, 5, 0, 2, 1, 64, 0x20][..],              // withdrawn prefix truncated
            &[0xc0, 15, 3, 0, 2, 1][..],                        // flags: transitive
        ] {
            let (code, subcode, data) = reset(&mandatory_plus(attr));
            assert_eq!(code, 3, "{attr:?}");
            assert!(matches!(subcode, 4 | 9), "{attr:?}");
            assert_eq!(data, attr);
        }
    }
}
