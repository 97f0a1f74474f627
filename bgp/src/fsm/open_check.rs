//! The OPEN we send, the checks on the OPEN we receive (RFC 4271 §6.2, RFC 5492 §5,
//! RFC 6286 §2.2, RFC 6793, RFC 7607 §2) and the negotiation of the session parameters.

use bytes::{Bytes, BytesMut};

use crate::wire::iana::error::{open as open_err, OPEN_MESSAGE};
use crate::wire::iana::{capability_code, Afi, Safi};
use crate::wire::{check_open_basic, Capability, Notification, Open, SessionContext};

use super::{Negotiated, SessionConfig};

/// The only BGP version bgpod speaks.
const BGP_VERSION: u8 = 4;

/// The Hold Time we propose. RFC 4271 §4.2: "Hold Time MUST be either zero or at least three
/// seconds"; a configured 1 or 2 (which the config crate should already refuse) becomes 3.
pub(super) fn proposed_hold_time(config: &SessionConfig) -> u16 {
    match config.hold_time {
        1 | 2 => 3,
        h => h,
    }
}

/// The OPEN we send (RFC 4271 §4.2) with our capabilities (RFC 5492 §4).
pub(super) fn local_open(config: &SessionConfig) -> Open {
    let mut capabilities: Vec<Capability> = config
        .families
        .iter()
        .map(|&(afi, safi)| Capability::Multiprotocol { afi, safi })
        .collect();
    if config.route_refresh {
        capabilities.push(Capability::RouteRefresh);
    }
    // RFC 6793 §3: a speaker that supports 4-octet ASNs advertises the capability, always.
    capabilities.push(Capability::FourOctetAs(config.local_asn));
    if config.extended_message {
        capabilities.push(Capability::ExtendedMessage);
    }
    if let Some(gr) = &config.graceful_restart {
        capabilities.push(Capability::GracefulRestart(gr.clone()));
    }
    Open {
        version: BGP_VERSION,
        // RFC 6793 §4.1: an ASN that does not fit in two octets is sent as AS_TRANS.
        my_as: Open::my_as_field(config.local_asn),
        hold_time: proposed_hold_time(config),
        bgp_id: config.local_id,
        capabilities,
    }
}

/// Checks a received OPEN (RFC 4271 §6.2 as updated) and negotiates the session, or returns
/// the NOTIFICATION to send.
pub(super) fn check_open(config: &SessionConfig, open: &Open) -> Result<Negotiated, Notification> {
    // The checks that need no configuration are the codec's, in this order: RFC 4271 §6.2
    // Unsupported Version Number (2/1, data 0x0004) and "An implementation MUST reject Hold
    // Time values of one or two seconds" (2/6); RFC 6286 §2.2 BGP Identifier zero (2/3);
    // RFC 7607 §2 "If a BGP speaker receives zero as the peer AS in an OPEN message, it MUST
    // abort the connection and send a NOTIFICATION with ... 'Bad Peer AS'" (2/2).
    check_open_basic(open).map_err(|e| e.to_notification())?;

    let peer_asn = check_peer_as(config, open)?;

    // RFC 6286 §2.2: "If the BGP Identifier field of the OPEN message is zero, or if it is the
    // same as the BGP Identifier of the local BGP speaker and the message is from an internal
    // peer, then the Error Subcode is set to 'Bad BGP Identifier'." (eBGP may share it.)
    let ibgp = config.peer_asn == config.local_asn;
    if ibgp && open.bgp_id == config.local_id {
        return Err(open_error(open_err::BAD_BGP_IDENTIFIER, Vec::new()));
    }

    // RFC 5492 §5: a speaker that requires a capability the peer did not advertise sends
    // Unsupported Capability; "The Data field of the NOTIFICATION message SHOULD list the set
    // of capabilities that caused the speaker to send the message."
    let missing: Vec<u8> = config
        .required_capabilities
        .iter()
        .copied()
        .filter(|&code| !open.capabilities.iter().any(|c| c.code() == code))
        .collect();
    if !missing.is_empty() {
        let ours = local_open(config).capabilities;
        let data = missing
            .iter()
            .flat_map(|&code| missing_tlvs(code, &ours))
            .collect();
        return Err(open_error(open_err::UNSUPPORTED_CAPABILITY, data));
    }

    Ok(negotiate(config, open, peer_asn, ibgp))
}

/// The peer's real ASN, checked against the configuration (RFC 4271 §6.2 Bad Peer AS).
fn check_peer_as(config: &SessionConfig, open: &Open) -> Result<u32, Notification> {
    let bad_peer_as = || open_error(open_err::BAD_PEER_AS, Vec::new());
    let four_octet = open.capabilities.iter().find_map(|c| match c {
        Capability::FourOctetAs(asn) => Some(*asn),
        _ => None,
    });
    // RFC 6793 §4.1: My AS carries AS_TRANS exactly when the real ASN needs four octets;
    // a capability that contradicts My AS leaves the peer's AS in doubt.
    if let Some(asn4) = four_octet {
        if open.my_as != Open::my_as_field(asn4) {
            return Err(bad_peer_as());
        }
    }
    // RFC 4271 §6.2: "If the Autonomous System field of the OPEN message is unacceptable, then
    // the Error Subcode MUST be set to Bad Peer AS." The real ASN is the 4-octet capability
    // when present (RFC 6793 §4.1); a peer without it that sends AS_TRANS is AS 23456.
    let real = open.asn();
    if real != config.peer_asn {
        return Err(bad_peer_as());
    }
    Ok(real)
}

/// Negotiates the session from two acceptable OPENs.
fn negotiate(config: &SessionConfig, open: &Open, peer_asn: u32, ibgp: bool) -> Negotiated {
    // RFC 4271 §4.2: "a BGP speaker MUST calculate the value of the Hold Timer by using the
    // smaller of its configured Hold Time and the Hold Time received in the OPEN message."
    let hold_time = proposed_hold_time(config).min(open.hold_time);
    // RFC 4271 §4.4: "If the negotiated Hold Time interval is zero, then periodic KEEPALIVE
    // messages MUST NOT be sent." and "A reasonable maximum time between KEEPALIVE messages
    // would be one third of the Hold Time interval": a configured interval may be shorter.
    let keepalive = if hold_time == 0 {
        0
    } else {
        let third = hold_time / 3;
        match config.keepalive {
            Some(k) if k > 0 => k.min(third),
            _ => third,
        }
    };
    let peer_has = |code: u8| open.capabilities.iter().any(|c| c.code() == code);

    let ours = advertised_families(&config.families);
    let peer_mp: Vec<(Afi, Safi)> = open
        .capabilities
        .iter()
        .filter_map(|c| match c {
            Capability::Multiprotocol { afi, safi } => Some((*afi, *safi)),
            _ => None,
        })
        .collect();
    let theirs = advertised_families(&peer_mp);
    let families = ours.into_iter().filter(|f| theirs.contains(f)).collect();

    Negotiated {
        peer_open: open.clone(),
        peer_asn,
        peer_id: open.bgp_id,
        hold_time,
        keepalive,
        ctx: SessionContext {
            // We always advertise it (local_open), so the peer decides.
            four_octet_as: peer_has(capability_code::FOUR_OCTET_AS),
            // RFC 8654 §4: larger messages only when both sides advertised the capability.
            extended_message: config.extended_message
                && peer_has(capability_code::EXTENDED_MESSAGE),
            ibgp,
        },
        families,
        // RFC 2918 §3: ROUTE-REFRESH may be sent only to a peer that advertised the capability.
        route_refresh: config.route_refresh && peer_has(capability_code::ROUTE_REFRESH),
        peer_graceful_restart: open.capabilities.iter().find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        }),
        peer_add_path: open
            .capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::AddPath(fams) => Some(fams.iter().copied()),
                _ => None,
            })
            .flatten()
            .collect(),
    }
}

/// The families a side advertised. RFC 4760 §8 leaves a speaker without any Multiprotocol
/// capability with plain BGP-4, i.e. IPv4 unicast only.
fn advertised_families(mp: &[(Afi, Safi)]) -> Vec<(Afi, Safi)> {
    if mp.is_empty() {
        vec![(Afi::Ipv4, Safi::Unicast)]
    } else {
        mp.to_vec()
    }
}

/// NOTIFICATION data for one missing capability: the TLVs we advertise with that code
/// (RFC 5492 §5: "encoded in the same way as it would be encoded in the OPEN message"), or an
/// empty-valued TLV naming the code when we do not advertise it ourselves.
fn missing_tlvs(code: u8, ours: &[Capability]) -> Vec<u8> {
    let mut data = BytesMut::new();
    for cap in ours.iter().filter(|c| c.code() == code) {
        cap.encode(&mut data);
    }
    if data.is_empty() {
        data.extend_from_slice(&[code, 0]);
    }
    data.to_vec()
}

fn open_error(subcode: u8, data: Vec<u8>) -> Notification {
    Notification {
        code: OPEN_MESSAGE,
        subcode,
        data: Bytes::from(data),
    }
}
