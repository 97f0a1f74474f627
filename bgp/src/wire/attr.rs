//! Path attributes (RFC 4271 §4.3, §5) and the RFC 7606 error actions.
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|  then 1 or 2 octets of length (Extended Length bit)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::{IpAddr, Ipv4Addr};

use bytes::Bytes;

use super::iana::{Afi, Safi};
use super::prefix::Prefix;

/// ORIGIN (RFC 4271 §5.1.1). Lower is preferred by the decision process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

/// One AS_PATH segment (RFC 4271 §4.3, RFC 5065 for the confederation types).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AsPathSegment {
    Sequence(Vec<u32>),
    Set(Vec<u32>),
    ConfedSequence(Vec<u32>),
    ConfedSet(Vec<u32>),
}

/// AS_PATH with 4-octet ASNs. Toward a 2-octet peer it is encoded with AS_TRANS plus
/// AS4_PATH; from one it is rebuilt from AS_PATH and AS4_PATH (RFC 6793 §4.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AsPath {
    pub segments: Vec<AsPathSegment>,
}

/// AGGREGATOR (RFC 4271 §5.1.7) with a 4-octet ASN (from AS4_AGGREGATOR where needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// A LARGE_COMMUNITIES member (RFC 8092 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

/// MP_REACH_NLRI (RFC 4760 §3). For IPv6 the next hop may carry a global and a link-local
/// address (RFC 2545 §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub afi: Afi,
    pub safi: Safi,
    /// The next hop addresses: one, or global then link-local for IPv6.
    pub next_hops: Vec<IpAddr>,
    pub nlri: Vec<Prefix>,
}

/// MP_UNREACH_NLRI (RFC 4760 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub afi: Afi,
    pub safi: Safi,
    pub withdrawn: Vec<Prefix>,
}

/// An attribute bgpod does not interpret, kept as received (flags, type, value).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    pub flags: u8,
    pub type_code: u8,
    pub value: Bytes,
}

/// The decoded path attributes of one UPDATE.
///
/// MP_REACH_NLRI and MP_UNREACH_NLRI are kept here as decoded; the RIB moves their NLRI out
/// before it shares the remaining attributes among routes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PathAttributes {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    /// COMMUNITIES (RFC 1997), in the order received.
    pub communities: Vec<u32>,
    pub large_communities: Vec<LargeCommunity>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    /// Optional transitive attributes bgpod does not know: passed on with the Partial bit set
    /// (RFC 4271 §5). Optional non-transitive unknown ones are dropped and never stored here.
    pub unknown: Vec<RawAttribute>,
}

/// What RFC 7606 §2 says to do about a malformed attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AttrAction {
    /// Drop the attribute and process the UPDATE without it (RFC 7606 §2 "attribute discard").
    Discard,
    /// Treat every prefix of the UPDATE as withdrawn (RFC 7606 §2 "treat-as-withdraw").
    TreatAsWithdraw,
    /// NOTIFICATION and session reset (RFC 7606 §2 "session reset").
    Reset,
}

/// A malformed attribute found while decoding, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrFault {
    pub type_code: u8,
    pub action: AttrAction,
    /// NOTIFICATION subcode RFC 4271 §6.3 would have used (for logs and counters).
    pub subcode: u8,
    /// What was wrong.
    pub reason: String,
    /// The offending attribute bytes (flags, type, length, value), truncated for the log.
    pub data: Bytes,
}
