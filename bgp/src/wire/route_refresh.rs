//! ROUTE-REFRESH message (RFC 2918 §3, subtypes from RFC 7313 §3.2).
//!
//! ```text
//!  0       7      15      23      31
//! +-------+-------+-------+-------+
//! |      AFI      | Res.  | SAFI  |
//! +-------+-------+-------+-------+
//! ```
//!
//! Length errors: RFC 7313 §5 gives ROUTE-REFRESH its own error code rather than the header's
//! Bad Message Length: "If the length, excluding the fixed-size message header, of the
//! received ROUTE-REFRESH message with Message Subtype 0 is not 4, then the BGP speaker MUST
//! send a NOTIFICATION message with the Error Code of "ROUTE-REFRESH Message Error" and the
//! subcode of "Invalid Message Length". The Data field of the NOTIFICATION message MUST contain
//! the complete ROUTE-REFRESH message." bgpod applies that to every subtype: BoRR and EoRR
//! (1, 2) have the same four-octet body, and a shorter body has no subtype to read.

use bytes::{BufMut, BytesMut};

use super::iana::{error, Afi, Safi};
use super::{DecodeError, HEADER_LEN};

/// A request to re-send the Adj-RIB-Out of one address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: Afi,
    /// Reserved octet; RFC 7313 gives it a meaning (demarcation), we keep it as sent.
    pub subtype: u8,
    pub safi: Safi,
}

/// Length of the body: AFI, subtype, SAFI.
pub(crate) const BODY_LEN: usize = 4;

/// Message Subtype values (RFC 7313 §3.2). Others MUST be ignored by the receiver.
pub mod subtype {
    /// A normal route refresh request (RFC 2918).
    pub const REQUEST: u8 = 0;
    /// Beginning of Route Refresh (BoRR).
    pub const BEGIN: u8 = 1;
    /// End of Route Refresh (EoRR).
    pub const END: u8 = 2;
}

impl RouteRefresh {
    /// A plain refresh request for one family (RFC 2918 §3).
    pub fn request(afi: Afi, safi: Safi) -> RouteRefresh {
        RouteRefresh {
            afi,
            subtype: subtype::REQUEST,
            safi,
        }
    }

    /// Decodes a whole ROUTE-REFRESH message (header included: RFC 7313 §5 wants it all in the
    /// NOTIFICATION data when the length is wrong).
    pub(crate) fn decode_message(frame: &[u8]) -> Result<RouteRefresh, DecodeError> {
        match frame.get(HEADER_LEN..) {
            Some(&[afi_hi, afi_lo, subtype, safi]) => Ok(RouteRefresh {
                afi: Afi::from(u16::from_be_bytes([afi_hi, afi_lo])),
                subtype,
                safi: Safi::from(safi),
            }),
            _ => Err(DecodeError::new(
                error::ROUTE_REFRESH_MESSAGE,
                error::route_refresh::INVALID_MESSAGE_LENGTH,
                frame.to_vec(),
                format!("ROUTE-REFRESH of {} octets instead of 23", frame.len()),
            )),
        }
    }

    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        out.put_u16(u16::from(self.afi));
        out.put_u8(self.subtype);
        out.put_u8(u8::from(self.safi));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, SessionContext};

    #[test]
    fn both_ways() {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&[0, 23, 5, 0, 2, 0, 1]);
        let rr = RouteRefresh::request(Afi::Ipv6, Safi::Unicast);
        let ctx = SessionContext::default();
        assert_eq!(Message::decode(&bytes, &ctx), Ok(Message::RouteRefresh(rr)));
        assert_eq!(
            Message::RouteRefresh(rr).to_bytes(&ctx).as_ref(),
            &bytes[..]
        );

        // Enhanced Route Refresh EoRR for IPv4 unicast.
        let mut eorr = vec![0xff; 16];
        eorr.extend_from_slice(&[0, 23, 5, 0, 1, 2, 1]);
        let end = RouteRefresh {
            afi: Afi::Ipv4,
            subtype: subtype::END,
            safi: Safi::Unicast,
        };
        assert_eq!(Message::decode(&eorr, &ctx), Ok(Message::RouteRefresh(end)));
    }

    #[test]
    fn wrong_length_is_7_1_with_the_whole_message() {
        let ctx = SessionContext::default();
        for body in [&[0u8, 1, 0, 1, 0][..], &[0, 1, 0][..], &[][..]] {
            let mut bytes = vec![0xff; 16];
            bytes.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
            bytes.push(5);
            bytes.extend_from_slice(body);
            let err = Message::decode(&bytes, &ctx).expect_err("must fail");
            assert_eq!((err.code, err.subcode), (7, 1));
            assert_eq!(err.data, bytes);
            // Framing itself accepts it: the error belongs to the ROUTE-REFRESH decoder.
            assert_eq!(crate::wire::frame_len(&bytes, 4096), Ok(Some(bytes.len())));
        }
    }
}
