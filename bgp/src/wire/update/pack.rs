//! Packing routes into UPDATEs for export, each at most `ctx.max_message_len()` octets.
//!
//! One UPDATE carries one kind of thing, as RFC 7606 §5.1 asks: "An UPDATE message MUST NOT
//! contain more than one of the following: non-empty Withdrawn Routes field, non-empty Network
//! Layer Reachability Information field, MP_REACH_NLRI attribute, and MP_UNREACH_NLRI
//! attribute." IPv4 unicast uses the NLRI and Withdrawn Routes fields (RFC 4271); IPv6
//! unicast uses MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760, next hops per RFC 2545 §3).
//!
//! Prefixes keep their order and fill each UPDATE greedily, which gives the fewest UPDATEs for
//! that order. Sizes come from the same functions the encoder uses, so nothing is estimated.

use std::net::IpAddr;

use super::Update;
use crate::wire::attr::{attributes_len, MpReach, MpUnreach, PathAttributes};
use crate::wire::iana::{Afi, Safi};
use crate::wire::prefix::{prefix_wire_len, Prefix};
use crate::wire::{Message, SessionContext, HEADER_LEN};

/// Header plus the two 2-octet length fields: the smallest UPDATE (RFC 4271 §4.3).
const EMPTY_UPDATE: usize = HEADER_LEN + 4;
/// Largest header of an MP_(UN)REACH_NLRI attribute: flags, type, 2-octet length.
const MP_ATTR_HEADER: usize = 4;
/// AFI, SAFI, next hop length, reserved (RFC 4760 §3).
const MP_REACH_FIXED: usize = 5;
/// AFI, SAFI (RFC 4760 §4).
const MP_UNREACH_FIXED: usize = 3;

/// Split announcements sharing one attribute set into as few UPDATEs as fit. IPv4 unicast prefixes go
/// in the NLRI field (attrs.next_hop must be set); IPv6 prefixes go in MP_REACH_NLRI with `v6_next_hops`
/// (global, optionally link-local; RFC 2545). attrs.mp_reach/mp_unreach in the input are ignored.
///
/// A family that cannot be sent is left out and logged at warn: IPv4 without `next_hop`, IPv6
/// without one or two IPv6 next hops, or attributes too large for even one prefix.
pub fn pack_announcements(
    attrs: &PathAttributes,
    prefixes: &[Prefix],
    v6_next_hops: &[IpAddr],
    ctx: &SessionContext,
) -> Vec<Update> {
    let max = ctx.max_message_len();
    let mut base = attrs.clone();
    base.mp_reach = None;
    base.mp_unreach = None;
    let mut out = Vec::new();

    if prefixes.iter().any(Prefix::is_ipv4) {
        if base.next_hop.is_none() {
            tracing::warn!("IPv4 announcements without a NEXT_HOP are not sent");
        } else {
            let fixed = EMPTY_UPDATE + attributes_len(&base, ctx);
            for chunk in chunks(prefixes.iter().filter(|p| p.is_ipv4()), max, fixed) {
                out.push(Update {
                    attributes: base.clone(),
                    nlri: chunk,
                    ..Update::default()
                });
            }
        }
    }

    if prefixes.iter().any(Prefix::is_ipv6) {
        let next_hops_ok =
            matches!(v6_next_hops.len(), 1 | 2) && v6_next_hops.iter().all(IpAddr::is_ipv6);
        if !next_hops_ok {
            tracing::warn!(
                ?v6_next_hops,
                "IPv6 announcements need a global and optionally a link-local IPv6 next hop; not sent"
            );
        } else {
            // RFC 4760 §3: "An UPDATE message that carries no NLRI, other than the one encoded
            // in the MP_REACH_NLRI attribute, SHOULD NOT carry the NEXT_HOP attribute."
            let mut v6_attrs = base;
            v6_attrs.next_hop = None;
            let fixed = EMPTY_UPDATE
                + attributes_len(&v6_attrs, ctx)
                + MP_ATTR_HEADER
                + MP_REACH_FIXED
                + 16 * v6_next_hops.len();
            for chunk in chunks(prefixes.iter().filter(|p| p.is_ipv6()), max, fixed) {
                let mut attributes = v6_attrs.clone();
                attributes.mp_reach = Some(MpReach {
                    afi: Afi::Ipv6,
                    safi: Safi::Unicast,
                    next_hops: v6_next_hops.to_vec(),
                    nlri: chunk,
                });
                out.push(Update {
                    attributes,
                    ..Update::default()
                });
            }
        }
    }
    debug_check(&out, ctx);
    out
}

/// Withdrawals: IPv4 in Withdrawn Routes, IPv6 in MP_UNREACH_NLRI.
pub fn pack_withdrawals(prefixes: &[Prefix], ctx: &SessionContext) -> Vec<Update> {
    let max = ctx.max_message_len();
    let mut out: Vec<Update> = chunks(prefixes.iter().filter(|p| p.is_ipv4()), max, EMPTY_UPDATE)
        .into_iter()
        .map(|withdrawn| Update {
            withdrawn,
            ..Update::default()
        })
        .collect();
    let fixed = EMPTY_UPDATE + MP_ATTR_HEADER + MP_UNREACH_FIXED;
    for withdrawn in chunks(prefixes.iter().filter(|p| p.is_ipv6()), max, fixed) {
        out.push(Update {
            attributes: PathAttributes {
                mp_unreach: Some(MpUnreach {
                    afi: Afi::Ipv6,
                    safi: Safi::Unicast,
                    withdrawn,
                }),
                ..PathAttributes::default()
            },
            ..Update::default()
        });
    }
    debug_check(&out, ctx);
    out
}

/// End-of-RIB markers (RFC 4724 §2) for IPv4 and IPv6 unicast.
///
/// RFC 4724 §2: "An UPDATE message with no reachable Network Layer Reachability Information
/// (NLRI) and empty withdrawn NLRI is specified as the End-of-RIB marker that can be used by a
/// BGP speaker to indicate to its peer the completion of the initial routing update after the
/// session is established. For the IPv4 unicast address family, the End-of-RIB marker is an
/// UPDATE message with the minimum length (RFC 4271). For any other address family, it is an
/// UPDATE message that contains only the MP_UNREACH_NLRI attribute (RFC 4760) with no
/// withdrawn routes for that <AFI, SAFI>."
pub fn end_of_rib(afi: Afi, safi: Safi) -> Update {
    if (afi, safi) == (Afi::Ipv4, Safi::Unicast) {
        return Update::default();
    }
    Update {
        attributes: PathAttributes {
            mp_unreach: Some(MpUnreach {
                afi,
                safi,
                withdrawn: Vec::new(),
            }),
            ..PathAttributes::default()
        },
        ..Update::default()
    }
}

/// Cuts `prefixes` into runs that fit `max - fixed` octets each. Empty if not even one prefix
/// fits (logged).
fn chunks<'a>(
    prefixes: impl Iterator<Item = &'a Prefix>,
    max: usize,
    fixed: usize,
) -> Vec<Vec<Prefix>> {
    let room = max.saturating_sub(fixed);
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    for prefix in prefixes {
        let len = prefix_wire_len(prefix);
        if len > room {
            tracing::warn!(
                %prefix,
                fixed,
                max,
                "path attributes leave no room for the prefix in one UPDATE; not sent"
            );
            return Vec::new();
        }
        if used + len > room {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(*prefix);
        used += len;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// In debug builds, every packed UPDATE is checked against the limit with the real encoder.
fn debug_check(updates: &[Update], ctx: &SessionContext) {
    if cfg!(debug_assertions) {
        for update in updates {
            let len = Message::Update(update.clone()).encoded_len(ctx);
            debug_assert!(
                len <= ctx.max_message_len(),
                "packed UPDATE of {len} octets"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AsPath, Origin};
    use std::net::Ipv4Addr;

    fn attrs() -> PathAttributes {
        PathAttributes {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::from_sequence(vec![65001])),
            next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ..PathAttributes::default()
        }
    }

    fn v4_prefixes(n: u32) -> Vec<Prefix> {
        (0..n)
            .map(|i| {
                let addr = Ipv4Addr::from(0x0a00_0000 + (i << 8));
                Prefix::V4(ipnetwork::Ipv4Network::new(addr, 24).expect("valid /24"))
            })
            .collect()
    }

    fn v6_prefixes(n: u32) -> Vec<Prefix> {
        (0..n)
            .map(|i| {
                let addr =
                    std::net::Ipv6Addr::from((0x2001_0db8_u128 << 96) + (u128::from(i) << 64));
                Prefix::V6(ipnetwork::Ipv6Network::new(addr, 64).expect("valid /64"))
            })
            .collect()
    }

    fn sizes(updates: &[Update], ctx: &SessionContext) -> Vec<usize> {
        updates
            .iter()
            .map(|u| Message::Update(u.clone()).encoded_len(ctx))
            .collect()
    }

    #[test]
    fn ipv4_fills_each_update() {
        let ctx = SessionContext::default();
        let prefixes = v4_prefixes(3000);
        let updates = pack_announcements(&attrs(), &prefixes, &[], &ctx);
        // 4096 - 23 header/lengths - 4 ORIGIN - 7 AS_PATH - 7 NEXT_HOP = 4055 octets of NLRI:
        // 1013 /24s (4 octets each) per UPDATE, so 3000 need three UPDATEs.
        assert_eq!(updates.len(), 3);
        assert_eq!(updates[0].nlri.len(), 1013);
        assert!(sizes(&updates, &ctx).iter().all(|&s| s <= 4096));
        let back: Vec<Prefix> = updates.iter().flat_map(|u| u.nlri.clone()).collect();
        assert_eq!(back, prefixes);
        assert!(updates.iter().all(|u| u.attributes.mp_reach.is_none()));
    }

    #[test]
    fn extended_messages_hold_more() {
        let ctx = SessionContext {
            extended_message: true,
            ..SessionContext::default()
        };
        let updates = pack_announcements(&attrs(), &v4_prefixes(3000), &[], &ctx);
        assert_eq!(updates.len(), 1);
    }

    #[test]
    fn ipv6_goes_in_mp_reach_without_next_hop() {
        let ctx = SessionContext::default();
        let global: IpAddr = "2001:db8::1".parse().expect("addr");
        let link_local: IpAddr = "fe80::1".parse().expect("addr");
        let mut prefixes = v6_prefixes(1000);
        prefixes.extend(v4_prefixes(2));
        let updates = pack_announcements(&attrs(), &prefixes, &[global, link_local], &ctx);
        let (v4, v6): (Vec<_>, Vec<_>) = updates.iter().partition(|u| !u.nlri.is_empty());
        assert_eq!(v4.len(), 1);
        assert!(v6.len() >= 3);
        for u in &v6 {
            assert!(u.nlri.is_empty() && u.withdrawn.is_empty());
            assert_eq!(u.attributes.next_hop, None);
            let mp = u.attributes.mp_reach.as_ref().expect("MP_REACH_NLRI");
            assert_eq!(mp.next_hops, vec![global, link_local]);
        }
        let total: usize = v6
            .iter()
            .map(|u| u.attributes.mp_reach.as_ref().map_or(0, |m| m.nlri.len()))
            .sum();
        assert_eq!(total, 1000);
        assert!(sizes(&updates, &ctx).iter().all(|&s| s <= 4096));
        // Each but the last is full: one more /64 (9 octets) would not have fitted.
        let first = sizes(&v6.iter().map(|u| (*u).clone()).collect::<Vec<_>>(), &ctx)[0];
        assert!(first + 9 > 4096, "first IPv6 UPDATE only {first} octets");
    }

    #[test]
    fn unsendable_families_are_left_out() {
        let ctx = SessionContext::default();
        let mut no_nh = attrs();
        no_nh.next_hop = None;
        assert!(pack_announcements(&no_nh, &v4_prefixes(2), &[], &ctx).is_empty());
        assert!(pack_announcements(&attrs(), &v6_prefixes(2), &[], &ctx).is_empty());
        let v4_nh: IpAddr = "192.0.2.1".parse().expect("addr");
        assert!(pack_announcements(&attrs(), &v6_prefixes(2), &[v4_nh], &ctx).is_empty());
        let mut huge = attrs();
        huge.communities = vec![1; 1100];
        assert!(pack_announcements(&huge, &v4_prefixes(2), &[], &ctx).is_empty());
    }

    #[test]
    fn withdrawals() {
        let ctx = SessionContext::default();
        let mut prefixes = v4_prefixes(2000);
        prefixes.extend(v6_prefixes(500));
        let updates = pack_withdrawals(&prefixes, &ctx);
        // (4096 - 23) / 4 = 1018 /24s per UPDATE.
        assert_eq!(updates[0].withdrawn.len(), 1018);
        assert!(sizes(&updates, &ctx).iter().all(|&s| s <= 4096));
        let v4: usize = updates.iter().map(|u| u.withdrawn.len()).sum();
        let v6: usize = updates
            .iter()
            .filter_map(|u| u.attributes.mp_unreach.as_ref())
            .map(|m| m.withdrawn.len())
            .sum();
        assert_eq!((v4, v6), (2000, 500));
        assert!(updates
            .iter()
            .all(|u| u.withdrawn.is_empty() != u.attributes.mp_unreach.is_none()));
        assert!(pack_withdrawals(&[], &ctx).is_empty());
    }

    #[test]
    fn end_of_rib_markers() {
        let ctx = SessionContext::default();
        let v4 = end_of_rib(Afi::Ipv4, Safi::Unicast);
        assert!(v4.is_end_of_rib());
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0, 23, 2, 0, 0, 0, 0]);
        assert_eq!(Message::Update(v4).to_bytes(&ctx).as_ref(), &expected[..]);

        let v6 = end_of_rib(Afi::Ipv6, Safi::Unicast);
        assert!(v6.is_end_of_rib());
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0, 29, 2, 0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1]);
        let bytes = Message::Update(v6.clone()).to_bytes(&ctx);
        assert_eq!(bytes.as_ref(), &expected[..]);
        assert_eq!(Message::decode(&bytes, &ctx), Ok(Message::Update(v6)));
    }
}
