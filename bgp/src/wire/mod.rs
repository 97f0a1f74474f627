//! BGP-4 wire format (RFC 4271 §4).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                           Marker                              |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

pub mod attr;
pub mod capability;
pub mod iana;
pub mod notification;
pub mod open;
pub mod prefix;
pub mod route_refresh;
pub mod update;

pub use attr::{
    Aggregator, AsPath, AsPathSegment, AttrAction, AttrFault, LargeCommunity, MpReach, MpUnreach,
    Origin, PathAttributes, RawAttribute,
};
pub use capability::{AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily};
pub use iana::{Afi, Safi};
pub use notification::Notification;
pub use open::Open;
pub use route_refresh::RouteRefresh;
pub use update::Update;

/// Length of the fixed message header (RFC 4271 §4.1).
pub const HEADER_LEN: usize = 19;
/// Largest message without RFC 8654 (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message once RFC 8654 extended messages are negotiated.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
/// AS_TRANS, the 2-octet stand-in for a 4-octet AS number (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;

/// A BGP message (RFC 4271 §4, RFC 2918 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// What the decoder needs to know about the session (negotiated capabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH carries 4-octet ASNs.
    pub four_octet_as: bool,
    /// Both sides advertised RFC 8654 extended messages: the limit is 65535 instead of 4096.
    pub extended_message: bool,
    /// The peer is in our AS (iBGP). RFC 7606 treats some attributes differently per peer type.
    pub ibgp: bool,
}

impl Default for SessionContext {
    /// Before OPEN is exchanged: 2-octet AS, 4096-byte messages, eBGP rules.
    fn default() -> Self {
        SessionContext {
            four_octet_as: false,
            extended_message: false,
            ibgp: false,
        }
    }
}

impl SessionContext {
    /// The largest message length allowed on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}

/// A message that cannot be decoded: it maps 1:1 to the NOTIFICATION to send (RFC 4271 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: NOTIFICATION {code}/{subcode}")]
pub struct DecodeError {
    /// NOTIFICATION error code (RFC 4271 §4.5).
    pub code: u8,
    /// NOTIFICATION error subcode.
    pub subcode: u8,
    /// NOTIFICATION data, as the RFC section for this error prescribes.
    pub data: Vec<u8>,
    /// What was wrong, for the log.
    pub reason: String,
}

impl DecodeError {
    /// The NOTIFICATION that answers this error.
    pub fn to_notification(&self) -> Notification {
        Notification {
            code: self.code,
            subcode: self.subcode,
            data: bytes::Bytes::from(self.data.clone()),
        }
    }
}
