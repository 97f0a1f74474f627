//! ROUTE-REFRESH message (RFC 2918 §3).
//!
//! ```text
//!  0       7      15      23      31
//! +-------+-------+-------+-------+
//! |      AFI      | Res.  | SAFI  |
//! +-------+-------+-------+-------+
//! ```

use super::iana::{Afi, Safi};

/// A request to re-send the Adj-RIB-Out of one address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRefresh {
    pub afi: Afi,
    /// Reserved octet; RFC 7313 gives it a meaning (demarcation), we keep it as sent.
    pub subtype: u8,
    pub safi: Safi,
}
