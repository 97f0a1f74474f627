//! The benchmark's routes: N distinct IPv4 /24s from 16.0.0.0/24 upward.
//!
//! The block is aligned on purpose. On this kernel, deleting a million /24s that straddle
//! 32.0.0.0 is about five times slower than deleting an aligned block (the shape of the
//! fib_trie), so every run stays inside 16.0.0.0/4, which holds 2^20 = 1 048 576 /24s.

use std::net::Ipv4Addr;

use anyhow::{bail, Result};
use ipnetwork::{IpNetwork, Ipv4Network};

/// The first prefix: 16.0.0.0/24.
pub const FIRST: Ipv4Addr = Ipv4Addr::new(16, 0, 0, 0);
/// How many /24s fit in 16.0.0.0/4 (the largest N a run accepts).
pub const MAX_COUNT: u32 = 1 << 20;

/// Refuses a count the aligned block cannot hold, or zero.
pub fn check_count(count: u32) -> Result<()> {
    if count == 0 || count > MAX_COUNT {
        bail!("count must be 1..={MAX_COUNT} (/24s inside 16.0.0.0/4), not {count}");
    }
    Ok(())
}

/// The network address of the `i`-th /24.
pub fn nth(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(FIRST) + (i << 8))
}

/// The first `count` /24s, in order.
pub fn prefixes(count: u32) -> Result<Vec<IpNetwork>> {
    check_count(count)?;
    (0..count)
        .map(|i| Ok(IpNetwork::V4(Ipv4Network::new(nth(i), 24)?)))
        .collect()
}

/// Parses `10k`, `100k`, `1M`, `1m` or a plain number.
pub fn parse_count(text: &str) -> Result<u32> {
    let t = text.trim();
    let (digits, scale) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1_000),
        Some((i, 'm' | 'M')) => (&t[..i], 1_000_000),
        _ => (t, 1),
    };
    let n: u32 = digits
        .parse()
        .map_err(|e| anyhow::anyhow!("{text:?} is not a count such as 10k, 100k, 1M: {e}"))?;
    let n = n
        .checked_mul(scale)
        .ok_or_else(|| anyhow::anyhow!("{text:?} is too large"))?;
    check_count(n)?;
    Ok(n)
}

/// `10k`, `100k`, `1M` for round numbers, the number otherwise.
pub fn format_count(n: u32) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_is_aligned_and_below_32() {
        assert_eq!(nth(0), Ipv4Addr::new(16, 0, 0, 0));
        assert_eq!(nth(1), Ipv4Addr::new(16, 0, 1, 0));
        assert_eq!(nth(256), Ipv4Addr::new(16, 1, 0, 0));
        assert_eq!(nth(MAX_COUNT - 1), Ipv4Addr::new(31, 255, 255, 0));
        let p = prefixes(1_000_000).expect("1M fits");
        assert_eq!(p.len(), 1_000_000);
        assert!(p
            .iter()
            .all(|n| matches!(n, IpNetwork::V4(v) if v.prefix() == 24 && v.ip().octets()[0] < 32)));
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("10k").expect("ok"), 10_000);
        assert_eq!(parse_count("1M").expect("ok"), 1_000_000);
        assert_eq!(parse_count("1m").expect("ok"), 1_000_000);
        assert_eq!(parse_count("250").expect("ok"), 250);
        assert!(parse_count("2M").is_err());
        assert!(parse_count("0").is_err());
        assert!(parse_count("x").is_err());
        assert_eq!(format_count(10_000), "10k");
        assert_eq!(format_count(1_000_000), "1M");
        assert_eq!(format_count(1_500), "1500");
        assert_eq!(format_count(1_048_576), "1048576");
    }
}
