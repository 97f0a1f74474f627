//! NLRI prefixes: `<length, prefix>` tuples (RFC 4271 §4.3, RFC 4760 §5).
//!
//! Prefixes are `ipnetwork` values with the host bits cleared, so that two encodings of the
//! same route (trailing bits set or not) compare and hash equal.

pub use ipnetwork::{IpNetwork, Ipv4Network, Ipv6Network};

/// A destination prefix of either family.
pub type Prefix = IpNetwork;
