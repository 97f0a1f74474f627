//! NOTIFICATION message (RFC 4271 §4.5) and the Administrative Shutdown communication
//! (RFC 8203, updated by RFC 9003).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code    | Error subcode |   Data (variable)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! With Cease / Administrative Shutdown or Administrative Reset, the data may hold a message
//! for the operator of the other side (RFC 9003 §2):
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Error code 6  |    Subcode    |    Length     |     ...       \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+               /
//! \                                                               \
//! /                 ... Shutdown Communication ...                /
//! \                                                               \
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::iana::error;
use super::DecodeError;

/// A NOTIFICATION: the error that closes the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Bytes,
}

/// Longest Shutdown Communication: its length is one octet (RFC 9003 §2).
const MAX_SHUTDOWN_MESSAGE: usize = 255;

impl Notification {
    /// A Cease NOTIFICATION (RFC 4486). With Administrative Shutdown (2) or Administrative
    /// Reset (4), `shutdown_message` becomes the Shutdown Communication: a length octet then
    /// UTF-8 (RFC 9003 §2), cut to 255 octets on a character boundary. RFC 9003 defines the
    /// communication for those two subcodes only; with any other subcode it is not sent.
    pub fn cease(subcode: u8, shutdown_message: Option<&str>) -> Notification {
        let data = match shutdown_message {
            Some(text) if carries_shutdown_message(error::CEASE, subcode) => {
                let text = truncate_utf8(text, MAX_SHUTDOWN_MESSAGE);
                let mut data = BytesMut::with_capacity(1 + text.len());
                data.put_u8(text.len() as u8);
                data.put_slice(text.as_bytes());
                data.freeze()
            }
            _ => Bytes::new(),
        };
        Notification {
            code: error::CEASE,
            subcode,
            data,
        }
    }

    /// The Shutdown Communication, decoded back for logs. `None` when there is none (other
    /// codes, empty data, a zero length). A length that overruns the data yields `None`; bytes
    /// that are not UTF-8 are shown with replacement characters (RFC 9003 §4 asks receivers not
    /// to act on a malformed communication, only to log it).
    pub fn shutdown_message(&self) -> Option<String> {
        if !carries_shutdown_message(self.code, self.subcode) {
            return None;
        }
        let (&len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(len))?;
        if text.is_empty() {
            return None;
        }
        Some(String::from_utf8_lossy(text).into_owned())
    }

    /// "Cease / Administrative Shutdown", "UPDATE Message Error / Malformed AS_PATH", … for
    /// logs. Codes and subcodes are the IANA "BGP Error (Notification) Codes" registry.
    pub fn describe(&self) -> String {
        let Some(code) = code_name(self.code) else {
            return format!("Error code {} / subcode {}", self.code, self.subcode);
        };
        match subcode_name(self.code, self.subcode) {
            Some(subcode) => format!("{code} / {subcode}"),
            // Codes without subcodes (Hold Timer Expired) send 0: nothing to add.
            None if self.subcode == 0 => code.to_string(),
            None => format!("{code} / subcode {}", self.subcode),
        }
    }

    /// Decodes the body (after the 19-octet header); the header check made it 2+ octets.
    pub(crate) fn decode_body(body: &[u8]) -> Result<Notification, DecodeError> {
        match body {
            [code, subcode, data @ ..] => Ok(Notification {
                code: *code,
                subcode: *subcode,
                data: Bytes::copy_from_slice(data),
            }),
            _ => Err(DecodeError::header(
                error::header::BAD_MESSAGE_LENGTH,
                ((super::HEADER_LEN + body.len()) as u16)
                    .to_be_bytes()
                    .to_vec(),
                "NOTIFICATION shorter than 21 octets",
            )),
        }
    }

    pub(crate) fn body_len(&self) -> usize {
        2 + self.data.len()
    }

    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        out.put_u8(self.code);
        out.put_u8(self.subcode);
        out.put_slice(&self.data);
    }
}

impl fmt::Display for Notification {
    /// The description, then the Shutdown Communication if there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())?;
        if let Some(message) = self.shutdown_message() {
            write!(f, ": {message:?}")?;
        }
        Ok(())
    }
}

/// RFC 9003 §2: the communication rides on Cease / Administrative Shutdown and Cease /
/// Administrative Reset.
fn carries_shutdown_message(code: u8, subcode: u8) -> bool {
    code == error::CEASE
        && matches!(
            subcode,
            error::cease::ADMINISTRATIVE_SHUTDOWN | error::cease::ADMINISTRATIVE_RESET
        )
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        error::MESSAGE_HEADER => "Message Header Error",
        error::OPEN_MESSAGE => "OPEN Message Error",
        error::UPDATE_MESSAGE => "UPDATE Message Error",
        error::HOLD_TIMER_EXPIRED => "Hold Timer Expired",
        error::FSM => "Finite State Machine Error",
        error::CEASE => "Cease",
        error::ROUTE_REFRESH_MESSAGE => "ROUTE-REFRESH Message Error",
        error::SEND_HOLD_TIMER_EXPIRED => "Send Hold Timer Expired",
        _ => return None,
    })
}

fn subcode_name(code: u8, subcode: u8) -> Option<&'static str> {
    use error::{cease, fsm, header, open, route_refresh, update};
    Some(match (code, subcode) {
        (error::MESSAGE_HEADER, header::CONNECTION_NOT_SYNCHRONIZED) => {
            "Connection Not Synchronized"
        }
        (error::MESSAGE_HEADER, header::BAD_MESSAGE_LENGTH) => "Bad Message Length",
        (error::MESSAGE_HEADER, header::BAD_MESSAGE_TYPE) => "Bad Message Type",
        (error::OPEN_MESSAGE | error::UPDATE_MESSAGE, error::UNSPECIFIC) => "Unspecific",
        (error::OPEN_MESSAGE, open::UNSUPPORTED_VERSION_NUMBER) => "Unsupported Version Number",
        (error::OPEN_MESSAGE, open::BAD_PEER_AS) => "Bad Peer AS",
        (error::OPEN_MESSAGE, open::BAD_BGP_IDENTIFIER) => "Bad BGP Identifier",
        (error::OPEN_MESSAGE, open::UNSUPPORTED_OPTIONAL_PARAMETER) => {
            "Unsupported Optional Parameter"
        }
        (error::OPEN_MESSAGE, open::UNACCEPTABLE_HOLD_TIME) => "Unacceptable Hold Time",
        (error::OPEN_MESSAGE, open::UNSUPPORTED_CAPABILITY) => "Unsupported Capability",
        (error::OPEN_MESSAGE, open::ROLE_MISMATCH) => "Role Mismatch",
        (error::UPDATE_MESSAGE, update::MALFORMED_ATTRIBUTE_LIST) => "Malformed Attribute List",
        (error::UPDATE_MESSAGE, update::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE) => {
            "Unrecognized Well-known Attribute"
        }
        (error::UPDATE_MESSAGE, update::MISSING_WELL_KNOWN_ATTRIBUTE) => {
            "Missing Well-known Attribute"
        }
        (error::UPDATE_MESSAGE, update::ATTRIBUTE_FLAGS_ERROR) => "Attribute Flags Error",
        (error::UPDATE_MESSAGE, update::ATTRIBUTE_LENGTH_ERROR) => "Attribute Length Error",
        (error::UPDATE_MESSAGE, update::INVALID_ORIGIN_ATTRIBUTE) => "Invalid ORIGIN Attribute",
        (error::UPDATE_MESSAGE, update::INVALID_NEXT_HOP_ATTRIBUTE) => "Invalid NEXT_HOP Attribute",
        (error::UPDATE_MESSAGE, update::OPTIONAL_ATTRIBUTE_ERROR) => "Optional Attribute Error",
        (error::UPDATE_MESSAGE, update::INVALID_NETWORK_FIELD) => "Invalid Network Field",
        (error::UPDATE_MESSAGE, update::MALFORMED_AS_PATH) => "Malformed AS_PATH",
        (error::FSM, fsm::UNSPECIFIED) => "Unspecified Error",
        (error::FSM, fsm::UNEXPECTED_IN_OPENSENT) => "Receive Unexpected Message in OpenSent State",
        (error::FSM, fsm::UNEXPECTED_IN_OPENCONFIRM) => {
            "Receive Unexpected Message in OpenConfirm State"
        }
        (error::FSM, fsm::UNEXPECTED_IN_ESTABLISHED) => {
            "Receive Unexpected Message in Established State"
        }
        (error::CEASE, cease::MAX_PREFIXES) => "Maximum Number of Prefixes Reached",
        (error::CEASE, cease::ADMINISTRATIVE_SHUTDOWN) => "Administrative Shutdown",
        (error::CEASE, cease::PEER_DECONFIGURED) => "Peer De-configured",
        (error::CEASE, cease::ADMINISTRATIVE_RESET) => "Administrative Reset",
        (error::CEASE, cease::CONNECTION_REJECTED) => "Connection Rejected",
        (error::CEASE, cease::OTHER_CONFIGURATION_CHANGE) => "Other Configuration Change",
        (error::CEASE, cease::CONNECTION_COLLISION_RESOLUTION) => "Connection Collision Resolution",
        (error::CEASE, cease::OUT_OF_RESOURCES) => "Out of Resources",
        (error::CEASE, cease::HARD_RESET) => "Hard Reset",
        (error::CEASE, cease::BFD_DOWN) => "BFD Down",
        (error::ROUTE_REFRESH_MESSAGE, route_refresh::INVALID_MESSAGE_LENGTH) => {
            "Invalid Message Length"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Message, SessionContext};

    fn wire(n: &Notification) -> Vec<u8> {
        Message::Notification(n.clone())
            .to_bytes(&SessionContext::default())
            .to_vec()
    }

    #[test]
    fn hold_timer_expired_both_ways() {
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&[0, 21, 3, 4, 0]);
        let n = Notification {
            code: 4,
            subcode: 0,
            data: Bytes::new(),
        };
        assert_eq!(
            Message::decode(&bytes, &SessionContext::default()),
            Ok(Message::Notification(n.clone()))
        );
        assert_eq!(wire(&n), bytes);
        assert_eq!(n.describe(), "Hold Timer Expired");
    }

    #[test]
    fn shutdown_communication_both_ways() {
        // RFC 9003 §2: Cease (6) / Administrative Shutdown (2), length 11, "maintenance".
        let mut bytes = vec![0xff; 16];
        bytes.extend_from_slice(&[0, 33, 3, 6, 2, 11]);
        bytes.extend_from_slice(b"maintenance");
        let n = Notification::cease(2, Some("maintenance"));
        assert_eq!(wire(&n), bytes);
        let Ok(Message::Notification(back)) = Message::decode(&bytes, &SessionContext::default())
        else {
            panic!("did not decode");
        };
        assert_eq!(back.shutdown_message().as_deref(), Some("maintenance"));
        assert_eq!(back.describe(), "Cease / Administrative Shutdown");
        assert_eq!(
            back.to_string(),
            "Cease / Administrative Shutdown: \"maintenance\""
        );
    }

    #[test]
    fn shutdown_message_is_cut_on_a_char_boundary() {
        // 127 two-octet characters = 254 octets; one more would be 256.
        let text = "é".repeat(128);
        let n = Notification::cease(4, Some(&text));
        assert_eq!(n.data[0], 254);
        assert_eq!(n.data.len(), 255);
        assert_eq!(n.shutdown_message(), Some("é".repeat(127)));
        let ascii = "x".repeat(300);
        let n = Notification::cease(2, Some(&ascii));
        assert_eq!(n.data[0], 255);
        assert_eq!(n.shutdown_message().map(|m| m.len()), Some(255));
    }

    #[test]
    fn shutdown_message_edge_cases() {
        assert!(Notification::cease(2, None).data.is_empty());
        // Only Administrative Shutdown and Reset carry one (RFC 9003 §2).
        assert!(Notification::cease(3, Some("bye")).data.is_empty());
        // An empty communication is a zero length octet and reads back as none.
        let empty = Notification::cease(2, Some(""));
        assert_eq!(empty.data.as_ref(), &[0]);
        assert_eq!(empty.shutdown_message(), None);
        let overrun = Notification {
            code: 6,
            subcode: 2,
            data: Bytes::from_static(&[10, b'a']),
        };
        assert_eq!(overrun.shutdown_message(), None);
        let not_utf8 = Notification {
            code: 6,
            subcode: 4,
            data: Bytes::from_static(&[2, 0xff, b'a']),
        };
        assert_eq!(not_utf8.shutdown_message().as_deref(), Some("\u{fffd}a"));
    }

    #[test]
    fn descriptions() {
        let d = |code, subcode| {
            Notification {
                code,
                subcode,
                data: Bytes::new(),
            }
            .describe()
        };
        assert_eq!(d(1, 2), "Message Header Error / Bad Message Length");
        assert_eq!(d(2, 0), "OPEN Message Error / Unspecific");
        assert_eq!(d(3, 11), "UPDATE Message Error / Malformed AS_PATH");
        assert_eq!(
            d(5, 2),
            "Finite State Machine Error / Receive Unexpected Message in OpenConfirm State"
        );
        assert_eq!(d(6, 99), "Cease / subcode 99");
        assert_eq!(
            d(7, 1),
            "ROUTE-REFRESH Message Error / Invalid Message Length"
        );
        assert_eq!(d(42, 1), "Error code 42 / subcode 1");
    }
}
