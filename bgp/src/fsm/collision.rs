//! Connection collision resolution (RFC 4271 §6.8, RFC 6286 §2.3).
//!
//! When both speakers open a TCP connection at once, the driver runs two [`Session`]s for the
//! peer. As soon as one of them learns the peer's BGP Identifier (it reaches OpenConfirm, see
//! [`Session::peer_id`]) while the other is in OpenSent or OpenConfirm, the driver calls
//! [`resolve_collision`] and feeds `Input::AutomaticStop` with Cease / Connection Collision
//! Resolution (6/7) to the loser — RFC 4271 §8.1.2 Event 23 OpenCollisionDump.
//!
//! bgpod leaves the optional attribute CollisionDetectEstablishedState off (§8.1.1): a new
//! connection that arrives while a session is Established is the one closed.
//!
//! [`Session`]: super::Session
//! [`Session::peer_id`]: super::Session::peer_id

use std::cmp::Ordering;
use std::net::Ipv4Addr;

/// Which of two colliding connections to keep; the other gets NOTIFICATION Cease 6/7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keep {
    /// Keep the connection that already existed (in OpenSent or OpenConfirm).
    Existing,
    /// Keep the newly created connection and close the existing one.
    New,
}

/// RFC 4271 §6.8: "If the value of the local BGP Identifier is less than the remote one, the
/// local system closes the BGP connection that already exists ... and accepts the BGP
/// connection initiated by the remote system." In other words, the connection initiated by the
/// speaker with the higher BGP Identifier survives. Identifiers compare as host-order u32.
///
/// `existing_is_outgoing` says whether the existing connection is the one we initiated.
/// Identical identifiers (possible only on eBGP, RFC 6286 §2.2) need the AS numbers: use
/// [`resolve_collision_with_asn`]; without them this keeps the existing connection.
pub fn resolve_collision(
    local_id: Ipv4Addr,
    remote_id: Ipv4Addr,
    existing_is_outgoing: bool,
) -> Keep {
    match u32::from(local_id).cmp(&u32::from(remote_id)) {
        Ordering::Greater => keep_initiated_by(true, existing_is_outgoing),
        Ordering::Less => keep_initiated_by(false, existing_is_outgoing),
        Ordering::Equal => Keep::Existing,
    }
}

/// [`resolve_collision`] with the RFC 6286 §2.3 tie-break: "If the BGP Identifiers of the peers
/// involved in the connection collision are identical, then the connection initiated by the
/// BGP speaker with the larger AS number is preserved."
pub fn resolve_collision_with_asn(
    local_id: Ipv4Addr,
    local_asn: u32,
    remote_id: Ipv4Addr,
    remote_asn: u32,
    existing_is_outgoing: bool,
) -> Keep {
    if local_id != remote_id {
        return resolve_collision(local_id, remote_id, existing_is_outgoing);
    }
    match local_asn.cmp(&remote_asn) {
        Ordering::Greater => keep_initiated_by(true, existing_is_outgoing),
        Ordering::Less => keep_initiated_by(false, existing_is_outgoing),
        Ordering::Equal => Keep::Existing,
    }
}

/// Keep the connection we initiated (`ours`) or the one the peer initiated.
fn keep_initiated_by(ours: bool, existing_is_outgoing: bool) -> Keep {
    if ours == existing_is_outgoing {
        Keep::Existing
    } else {
        Keep::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const HIGH: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    #[test]
    fn higher_local_id_keeps_our_outgoing_connection() {
        assert_eq!(resolve_collision(HIGH, LOW, true), Keep::Existing);
        assert_eq!(resolve_collision(HIGH, LOW, false), Keep::New);
    }

    #[test]
    fn lower_local_id_keeps_the_connection_the_peer_initiated() {
        // §6.8: close the existing (ours) and accept the one initiated by the remote system.
        assert_eq!(resolve_collision(LOW, HIGH, true), Keep::New);
        assert_eq!(resolve_collision(LOW, HIGH, false), Keep::Existing);
    }

    #[test]
    fn ids_compare_as_unsigned_host_order_integers() {
        // 128.0.0.1 > 127.255.255.255 as u32; a signed or byte-wise compare could get this wrong.
        let a = Ipv4Addr::new(128, 0, 0, 1);
        let b = Ipv4Addr::new(127, 255, 255, 255);
        assert_eq!(resolve_collision(a, b, true), Keep::Existing);
        assert_eq!(resolve_collision(b, a, true), Keep::New);
    }

    #[test]
    fn both_sides_agree_on_the_surviving_connection() {
        // Our outgoing connection is the peer's incoming one, and vice versa.
        for (x, y) in [(LOW, HIGH), (HIGH, LOW)] {
            for ours_existing in [true, false] {
                let ours = resolve_collision(x, y, ours_existing);
                let theirs = resolve_collision(y, x, !ours_existing);
                assert_eq!(
                    ours, theirs,
                    "{x} vs {y}, existing outgoing {ours_existing}"
                );
            }
        }
    }

    #[test]
    fn equal_ids_fall_back_to_the_larger_asn_rfc6286() {
        assert_eq!(
            resolve_collision_with_asn(LOW, 65002, LOW, 65001, true),
            Keep::Existing
        );
        assert_eq!(
            resolve_collision_with_asn(LOW, 65002, LOW, 65001, false),
            Keep::New
        );
        assert_eq!(
            resolve_collision_with_asn(LOW, 65001, LOW, 65002, true),
            Keep::New
        );
        assert_eq!(
            resolve_collision_with_asn(LOW, 65001, LOW, 65002, false),
            Keep::Existing
        );
        // Different ids: the ASNs do not matter.
        assert_eq!(
            resolve_collision_with_asn(HIGH, 1, LOW, 2, true),
            Keep::Existing
        );
    }
}
