//! NLRI prefixes: `<length, prefix>` tuples (RFC 4271 §4.3, RFC 4760 §5).
//!
//! ```text
//! +---------------------------+
//! |   Length (1 octet)        |
//! +---------------------------+
//! |   Prefix (variable)       |
//! +---------------------------+
//! ```
//!
//! Prefixes are `ipnetwork` values with the host bits cleared, so that two encodings of the
//! same route (trailing bits set or not) compare and hash equal.
//!
//! Decoding walks the field once and allocates nothing per prefix beyond the output `Vec`
//! (whose first capacity is bounded by the field length, never by a peer-chosen count).

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};
pub use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

/// A destination prefix of either family.
pub type Prefix = IpNetwork;

/// Why an NLRI or Withdrawn Routes field is "syntactically incorrect" (RFC 7606 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NlriError {
    /// A prefix length above the family's maximum (32 or 128).
    TooLong { len: u8, max: u8 },
    /// The last prefix runs past the end of the field.
    Truncated { len: u8, missing: usize },
}

impl std::fmt::Display for NlriError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NlriError::TooLong { len, max } => write!(f, "prefix length {len} exceeds {max}"),
            NlriError::Truncated { len, missing } => {
                write!(f, "a /{len} prefix is {missing} byte(s) short of its field")
            }
        }
    }
}

/// Number of address octets a prefix of `len` bits occupies on the wire.
fn octets_for(len: u8) -> usize {
    usize::from(len).div_ceil(8)
}

/// Splits off one `<length, prefix>` tuple: the length and its (possibly short) octets.
fn split_prefix(field: &[u8], max: u8) -> Result<(u8, &[u8], &[u8]), NlriError> {
    let (&len, rest) = field
        .split_first()
        .ok_or(NlriError::Truncated { len: 0, missing: 1 })?;
    if len > max {
        return Err(NlriError::TooLong { len, max });
    }
    let n = octets_for(len);
    match rest.split_at_checked(n) {
        Some((octets, rest)) => Ok((len, octets, rest)),
        None => Err(NlriError::Truncated {
            len,
            missing: n - rest.len(),
        }),
    }
}

/// Decodes a field of IPv4 prefixes (NLRI, Withdrawn Routes, or MP_(UN)REACH_NLRI for AFI 1).
pub(crate) fn decode_ipv4_prefixes(mut field: &[u8]) -> Result<Vec<Prefix>, NlriError> {
    // Most IPv4 routes are /17../24: four octets each. Bounded by the field length.
    let mut out = Vec::with_capacity(field.len() / 4);
    while !field.is_empty() {
        let (len, octets, rest) = split_prefix(field, 32)?;
        let mut buf = [0u8; 4];
        buf[..octets.len()].copy_from_slice(octets);
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        let addr = Ipv4Addr::from(u32::from_be_bytes(buf) & mask);
        let net = Ipv4Network::new(addr, len).map_err(|_| NlriError::TooLong { len, max: 32 })?;
        out.push(IpNetwork::V4(net));
        field = rest;
    }
    Ok(out)
}

/// Decodes a field of IPv6 prefixes (MP_REACH_NLRI / MP_UNREACH_NLRI for AFI 2).
pub(crate) fn decode_ipv6_prefixes(mut field: &[u8]) -> Result<Vec<Prefix>, NlriError> {
    // /48 and /64 routes take seven and nine octets.
    let mut out = Vec::with_capacity(field.len() / 8);
    while !field.is_empty() {
        let (len, octets, rest) = split_prefix(field, 128)?;
        let mut buf = [0u8; 16];
        buf[..octets.len()].copy_from_slice(octets);
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        let addr = Ipv6Addr::from(u128::from_be_bytes(buf) & mask);
        let net = Ipv6Network::new(addr, len).map_err(|_| NlriError::TooLong { len, max: 128 })?;
        out.push(IpNetwork::V6(net));
        field = rest;
    }
    Ok(out)
}

/// Bytes `prefix` takes on the wire: the length octet plus the significant address octets.
pub(crate) fn prefix_wire_len(prefix: &Prefix) -> usize {
    1 + octets_for(prefix.prefix())
}

/// Writes one `<length, prefix>` tuple; host bits are never sent.
pub(crate) fn put_prefix(out: &mut BytesMut, prefix: &Prefix) {
    let len = prefix.prefix();
    let n = octets_for(len);
    out.put_u8(len);
    match prefix {
        IpNetwork::V4(net) => out.put_slice(&net.network().octets()[..n]),
        IpNetwork::V6(net) => out.put_slice(&net.network().octets()[..n]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> Prefix {
        s.parse().expect("test prefix")
    }

    #[test]
    fn ipv4_both_ways() {
        // RFC 4271 §4.3: 10.1.0.0/16 is 0x10 0x0a 0x01; 0.0.0.0/0 is a lone zero octet.
        let bytes = [16, 10, 1, 24, 192, 168, 7, 32, 1, 2, 3, 4, 0];
        let prefixes = vec![
            v4("10.1.0.0/16"),
            v4("192.168.7.0/24"),
            v4("1.2.3.4/32"),
            v4("0.0.0.0/0"),
        ];
        assert_eq!(decode_ipv4_prefixes(&bytes), Ok(prefixes.clone()));
        let mut out = BytesMut::new();
        for p in &prefixes {
            put_prefix(&mut out, p);
        }
        assert_eq!(out.as_ref(), &bytes[..]);
        let total: usize = prefixes.iter().map(prefix_wire_len).sum();
        assert_eq!(total, bytes.len());
    }

    #[test]
    fn ipv6_both_ways() {
        let bytes = [64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0];
        let prefixes = vec![v4("2001:db8:1::/64"), v4("::/0")];
        assert_eq!(decode_ipv6_prefixes(&bytes), Ok(prefixes.clone()));
        let mut out = BytesMut::new();
        for p in &prefixes {
            put_prefix(&mut out, p);
        }
        assert_eq!(out.as_ref(), &bytes[..]);
    }

    #[test]
    fn host_bits_are_cleared() {
        // 10.255/9 carries bits past the prefix length: they are dropped on decode.
        assert_eq!(
            decode_ipv4_prefixes(&[9, 10, 0xff]),
            Ok(vec![v4("10.128.0.0/9")])
        );
        assert_eq!(
            decode_ipv4_prefixes(&[9, 10, 0x7f]),
            Ok(vec![v4("10.0.0.0/9")])
        );
        assert_eq!(
            decode_ipv6_prefixes(&[12, 0x20, 0x0f]),
            Ok(vec![v4("2000::/12")])
        );
        // Encoding a value with host bits set sends only the network part.
        let mut out = BytesMut::new();
        put_prefix(&mut out, &v4("10.1.2.3/16"));
        assert_eq!(out.as_ref(), &[16, 10, 1]);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            decode_ipv4_prefixes(&[33, 1, 2, 3, 4, 5]),
            Err(NlriError::TooLong { len: 33, max: 32 })
        );
        assert_eq!(
            decode_ipv6_prefixes(&[129]),
            Err(NlriError::TooLong { len: 129, max: 128 })
        );
        assert_eq!(
            decode_ipv4_prefixes(&[24, 10, 0]),
            Err(NlriError::Truncated {
                len: 24,
                missing: 1
            })
        );
        assert_eq!(decode_ipv4_prefixes(&[]), Ok(vec![]));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_ipv4_prefixes(&bytes);
            let _ = decode_ipv6_prefixes(&bytes);
        }

        #[test]
        fn round_trip(prefixes in proptest::collection::vec(crate::wire::testgen::prefix(), 0..20)) {
            let (v4s, v6s): (Vec<Prefix>, Vec<Prefix>) =
                prefixes.into_iter().partition(|p| p.is_ipv4());
            let mut v4_bytes = BytesMut::new();
            v4s.iter().for_each(|p| put_prefix(&mut v4_bytes, p));
            let mut v6_bytes = BytesMut::new();
            v6s.iter().for_each(|p| put_prefix(&mut v6_bytes, p));
            prop_assert_eq!(decode_ipv4_prefixes(&v4_bytes), Ok(v4s));
            prop_assert_eq!(decode_ipv6_prefixes(&v6_bytes), Ok(v6s));
        }
    }
}
