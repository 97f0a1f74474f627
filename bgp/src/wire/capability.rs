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

use bytes::Bytes;

use super::iana::{Afi, Safi};

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
