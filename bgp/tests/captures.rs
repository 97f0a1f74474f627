//! Real sessions, captured: every BGP message of `tests/fixtures/captures/*.pcap` (at the
//! workspace root) decodes, and decodes to what the other speaker was configured to send.
//!
//! The captures hold bgpod (AS 64512, 10.0.0.1 / fd00::1) with BIRD 2.0.12 (AS 65001) and
//! with FRR 8.4.4 (AS 65002), both at 10.0.0.2 / fd00::2, each time two eBGP sessions: one
//! over IPv4 carrying IPv4 and IPv6 unicast, one over IPv6 carrying IPv6 unicast. They were
//! written by `tests/capture_fixtures.rs`, whose configuration sets the attributes asserted
//! here; `tests/fixtures/captures/README.md` says how to regenerate them.
//!
//! Each connection's two byte streams come out of the capture through the small pcap reader
//! and TCP reassembly in `pcap/`. Each stream is cut with [`frame_len`] and every message
//! decoded with [`Message::decode`], the first (the OPEN) in the default context, the rest in
//! the context both OPENs negotiate, as bgpod's session does (RFC 6793 §3 four-octet AS,
//! RFC 8654 §3 extended messages: each only when both sides advertise it). Nothing may be
//! left over, and no UPDATE may carry an RFC 7606 fault.

mod pcap;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use bgpod_bgp::wire::iana::error::{cease, CEASE};
use bgpod_bgp::wire::iana::{attr_flags, attr_type};
use bgpod_bgp::wire::prefix::Prefix;
use bgpod_bgp::wire::{
    frame_len, Afi, AsPath, Capability, LargeCommunity, Message, Notification, Open, Origin,
    PathAttributes, Safi, SessionContext, Update, MAX_MESSAGE_LEN,
};

use pcap::Connection;

const BGPOD_AS: u32 = 64512;
const BIRD_AS: u32 = 65001;
const FRR_AS: u32 = 65002;
const BGPOD_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const BGPOD_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
/// The Shutdown Communication bgpod sends on SIGTERM (RFC 9003 §2).
const SHUTDOWN_MESSAGE: &str = "bgpod shutting down";

fn capture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/captures")
        .join(name)
}

fn read_capture(name: &str) -> Vec<u8> {
    let path = capture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One decoded message and the bytes it came from.
#[derive(Debug, Clone)]
struct Decoded {
    bytes: Vec<u8>,
    msg: Message,
}

/// One BGP session of a capture, seen from bgpod.
#[derive(Debug)]
struct Session {
    conn: Connection,
    /// bgpod's end of the connection, and the peer's.
    bgpod: SocketAddr,
    peer: SocketAddr,
    /// What both OPENs negotiated.
    ctx: SessionContext,
    from_bgpod: Vec<Decoded>,
    from_peer: Vec<Decoded>,
}

impl Session {
    /// Carried over IPv6 rather than IPv4.
    fn over_ipv6(&self) -> bool {
        self.bgpod.is_ipv6()
    }

    fn peer_open(&self) -> &Open {
        match self.from_peer.first().map(|m| &m.msg) {
            Some(Message::Open(open)) => open,
            other => panic!("the peer's first message is {other:?}"),
        }
    }
}

fn is_bgpod(addr: IpAddr) -> bool {
    addr == IpAddr::V4(BGPOD_V4) || addr == IpAddr::V6(BGPOD_V6)
}

/// The OPEN at the front of `stream`, if its first message is one.
fn first_open(stream: &[u8]) -> Option<Open> {
    let len = frame_len(stream, MAX_MESSAGE_LEN).ok()??;
    match Message::decode(&stream[..len], &SessionContext::default()) {
        Ok(Message::Open(open)) => Some(open),
        _ => None,
    }
}

/// The session context two OPENs negotiate.
fn negotiate(a: &Open, b: &Open) -> SessionContext {
    let both =
        |f: fn(&Capability) -> bool| a.capabilities.iter().any(f) && b.capabilities.iter().any(f);
    SessionContext {
        four_octet_as: both(|c| matches!(c, Capability::FourOctetAs(_))),
        extended_message: both(|c| matches!(c, Capability::ExtendedMessage)),
        ibgp: a.asn() == b.asn(),
    }
}

/// Cuts `stream` into messages and decodes each: the first in the default context, the
/// others in `ctx`. A message cut short at the end of the stream is an error.
fn decode_stream(stream: &[u8], ctx: SessionContext) -> Result<Vec<Decoded>, String> {
    let mut out = Vec::new();
    let mut rest = stream;
    let mut current = SessionContext::default();
    while !rest.is_empty() {
        let at = stream.len() - rest.len();
        let n = out.len();
        let len = frame_len(rest, current.max_message_len())
            .map_err(|e| format!("message {n} at byte {at}: framing: {e}"))?
            .ok_or_else(|| format!("message {n} at byte {at}: cut short by the stream's end"))?;
        let bytes = &rest[..len];
        let msg = Message::decode(bytes, &current)
            .map_err(|e| format!("message {n} at byte {at} ({}): {e}", hex::encode(bytes)))?;
        out.push(Decoded {
            bytes: bytes.to_vec(),
            msg,
        });
        rest = &rest[len..];
        current = ctx;
    }
    Ok(out)
}

/// Decodes both directions of one connection.
fn decode_session(conn: Connection) -> Result<Session, String> {
    let (bgpod, peer, from_bgpod, from_peer) =
        match (is_bgpod(conn.client.ip()), is_bgpod(conn.server.ip())) {
            (true, false) => (conn.client, conn.server, &conn.to_server, &conn.to_client),
            (false, true) => (conn.server, conn.client, &conn.to_client, &conn.to_server),
            _ => {
                return Err(format!(
                    "{} -> {}: which end is bgpod?",
                    conn.client, conn.server
                ))
            }
        };
    let ctx = match (first_open(from_bgpod), first_open(from_peer)) {
        (Some(a), Some(b)) => negotiate(&a, &b),
        _ => SessionContext::default(),
    };
    let name = format!("{bgpod} <-> {peer}");
    let from_bgpod =
        decode_stream(from_bgpod, ctx).map_err(|e| format!("{name}, from bgpod: {e}"))?;
    let from_peer =
        decode_stream(from_peer, ctx).map_err(|e| format!("{name}, from the peer: {e}"))?;
    Ok(Session {
        conn,
        bgpod,
        peer,
        ctx,
        from_bgpod,
        from_peer,
    })
}

/// Every BGP session of a capture, those over IPv4 first: every message decoded, or a
/// panic saying which one failed. Connections that carried no data are skipped: a
/// connection attempt given up for a newer one (RFC 4271 §8.2.2, ConnectRetryTimer_Expires
/// in Connect) is a SYN answered by a RST.
fn load(name: &str) -> Vec<Session> {
    let file = pcap::parse(&read_capture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let segments = pcap::segments(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
    let conns = pcap::reassemble(&segments).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut sessions: Vec<Session> = conns
        .into_iter()
        .filter(|c| !c.to_server.is_empty() || !c.to_client.is_empty())
        .map(|c| decode_session(c).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    sessions.sort_by_key(Session::over_ipv6);
    sessions
}

// ----- routes, as a peer would see them -----

/// One announced route: its next hops and the attributes without MP_(UN)REACH_NLRI.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    next_hops: Vec<IpAddr>,
    attrs: PathAttributes,
}

#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a short list built once per test; boxing would only add noise to the matches"
)]
enum Event {
    Announce(Prefix, Route),
    Withdraw(Prefix),
    /// RFC 4724 §2, for IPv4 (empty UPDATE) or the MP_UNREACH_NLRI family.
    EndOfRib(Afi),
}

/// The route events of one direction, in order.
fn events(msgs: &[Decoded]) -> Vec<Event> {
    let mut out = Vec::new();
    for update in msgs.iter().filter_map(|m| match &m.msg {
        Message::Update(u) => Some(u),
        _ => None,
    }) {
        let a = &update.attributes;
        if update.is_end_of_rib() {
            out.push(Event::EndOfRib(
                a.mp_unreach.as_ref().map_or(Afi::Ipv4, |u| u.afi),
            ));
            continue;
        }
        let withdrawn = a.mp_unreach.iter().flat_map(|u| &u.withdrawn);
        out.extend(
            update
                .withdrawn
                .iter()
                .chain(withdrawn)
                .map(|p| Event::Withdraw(*p)),
        );
        let attrs = PathAttributes {
            mp_reach: None,
            mp_unreach: None,
            ..a.clone()
        };
        for p in &update.nlri {
            let next_hops = a.next_hop.map(IpAddr::V4).into_iter().collect();
            out.push(Event::Announce(
                *p,
                Route {
                    next_hops,
                    attrs: attrs.clone(),
                },
            ));
        }
        if let Some(mp) = &a.mp_reach {
            for p in &mp.nlri {
                let next_hops = mp.next_hops.clone();
                out.push(Event::Announce(
                    *p,
                    Route {
                        next_hops,
                        attrs: attrs.clone(),
                    },
                ));
            }
        }
    }
    out
}

fn prefix(text: &str) -> Prefix {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The first announcement of `p` among `events`.
#[track_caller]
fn announced<'a>(events: &'a [Event], p: &str) -> &'a Route {
    let p = prefix(p);
    events
        .iter()
        .find_map(|e| match e {
            Event::Announce(q, r) if *q == p => Some(r),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{p} is never announced in {events:#?}"))
}

/// `p` is announced, then withdrawn.
#[track_caller]
fn assert_withdrawn_after_announce(events: &[Event], p: &str) {
    let p = prefix(p);
    let announce = events
        .iter()
        .position(|e| matches!(e, Event::Announce(q, _) if *q == p));
    let withdraw = events
        .iter()
        .position(|e| matches!(e, Event::Withdraw(q) if *q == p));
    match (announce, withdraw) {
        (Some(a), Some(w)) => assert!(a < w, "{p} is withdrawn before it is announced"),
        _ => panic!("{p}: announced at {announce:?}, withdrawn at {withdraw:?} in {events:#?}"),
    }
}

fn v4(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

fn v6(a: Ipv6Addr) -> IpAddr {
    IpAddr::V6(a)
}

/// COMMUNITIES member `asn:value` (RFC 1997).
fn community(asn: u16, value: u16) -> u32 {
    (u32::from(asn) << 16) | u32::from(value)
}

/// Route Target `asn:value` as an extended community: transitive two-octet-AS type 0x00,
/// sub-type 0x02 (RFC 4360 §3.1, RFC 4360 §4).
fn route_target(asn: u16, value: u32) -> [u8; 8] {
    let mut c = [0x00, 0x02, 0, 0, 0, 0, 0, 0];
    c[2..4].copy_from_slice(&asn.to_be_bytes());
    c[4..8].copy_from_slice(&value.to_be_bytes());
    c
}

/// The attributes of a route of ours: ORIGIN IGP, an AS_SEQUENCE, the rest as given.
fn attrs(as_path: &[u32], next_hop: Option<Ipv4Addr>, med: Option<u32>) -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(as_path.to_vec())),
        next_hop,
        med,
        ..PathAttributes::default()
    }
}

/// `route` has exactly these next hops and attributes; its EXTENDED COMMUNITIES (kept raw by
/// bgpod, optional transitive) hold exactly the 8-octet values `ext`.
#[track_caller]
fn assert_route(route: &Route, next_hops: &[IpAddr], want: PathAttributes, ext: &[[u8; 8]]) {
    assert_eq!(route.next_hops, next_hops, "next hops of {route:?}");
    let mut got_ext = Vec::new();
    for raw in &route.attrs.unknown {
        assert_eq!(raw.type_code, attr_type::EXTENDED_COMMUNITIES, "{raw:?}");
        assert_eq!(
            raw.flags,
            attr_flags::OPTIONAL | attr_flags::TRANSITIVE,
            "{raw:?}"
        );
        assert_eq!(raw.value.len() % 8, 0, "{raw:?}");
        got_ext.extend(raw.value.chunks(8).map(|c| c.to_vec()));
    }
    let ext: Vec<Vec<u8>> = ext.iter().map(|c| c.to_vec()).collect();
    assert_eq!(got_ext, ext, "extended communities of {route:?}");
    let known = PathAttributes {
        unknown: Vec::new(),
        ..route.attrs.clone()
    };
    assert_eq!(known, want);
}

// ----- what every session holds -----

/// The OPEN bgpod sends (`fsm::open_check::local_open` with the daemon's session config).
fn bgpod_open() -> Open {
    Open {
        version: 4,
        my_as: Open::my_as_field(BGPOD_AS),
        hold_time: 90,
        bgp_id: BGPOD_V4,
        capabilities: vec![
            Capability::Multiprotocol {
                afi: Afi::Ipv4,
                safi: Safi::Unicast,
            },
            Capability::Multiprotocol {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs(BGPOD_AS),
            Capability::ExtendedMessage,
        ],
    }
}

fn count(msgs: &[Decoded], name: &str) -> usize {
    msgs.iter().filter(|m| m.msg.name() == name).count()
}

fn updates(msgs: &[Decoded]) -> impl Iterator<Item = &Update> {
    msgs.iter().filter_map(|m| match &m.msg {
        Message::Update(u) => Some(u),
        _ => None,
    })
}

/// Checks every session of a capture has: one OPEN each way (bgpod's exactly as it sends
/// it), the expected session context, KEEPALIVEs each way, at least `min_updates` UPDATEs
/// each way without a fault, and one NOTIFICATION, bgpod's Cease / Administrative Shutdown,
/// last, then a FIN. Every message re-encodes and decodes back to itself; bgpod's own
/// messages re-encode to the very bytes captured.
fn check_sessions(sessions: &[Session], peer_as: u32, extended_message: bool, min_updates: usize) {
    assert_eq!(sessions.len(), 2, "one session over IPv4, one over IPv6");
    assert!(!sessions[0].over_ipv6() && sessions[1].over_ipv6());
    for s in sessions {
        let name = format!("{} <-> {}", s.bgpod, s.peer);
        assert_eq!(s.peer.port(), 179, "{name}: bgpod connects to port 179");
        assert_eq!(
            s.ctx,
            SessionContext {
                four_octet_as: true,
                extended_message,
                ibgp: false
            },
            "{name}"
        );

        let Some(Message::Open(open)) = s.from_bgpod.first().map(|m| &m.msg) else {
            panic!("{name}: bgpod's first message is not an OPEN");
        };
        assert_eq!(*open, bgpod_open(), "{name}");
        let peer = s.peer_open();
        assert_eq!(
            (peer.version, peer.asn(), peer.bgp_id),
            (4, peer_as, PEER_V4),
            "{name}"
        );
        assert_eq!(u32::from(peer.my_as), peer_as, "{name}");
        let v6 = Capability::Multiprotocol {
            afi: Afi::Ipv6,
            safi: Safi::Unicast,
        };
        let v4 = Capability::Multiprotocol {
            afi: Afi::Ipv4,
            safi: Safi::Unicast,
        };
        assert!(peer.capabilities.contains(&v6), "{name}: {peer:?}");
        assert_eq!(
            peer.capabilities.contains(&v4),
            !s.over_ipv6(),
            "{name}: {peer:?}"
        );

        for (who, msgs) in [("bgpod", &s.from_bgpod), ("peer", &s.from_peer)] {
            assert_eq!(count(msgs, "OPEN"), 1, "{name}: OPENs from {who}");
            assert!(
                count(msgs, "KEEPALIVE") >= 1,
                "{name}: no KEEPALIVE from {who}"
            );
            assert_eq!(
                count(msgs, "ROUTE-REFRESH"),
                0,
                "{name}: ROUTE-REFRESH from {who}"
            );
            let n = count(msgs, "UPDATE");
            let min = if who == "bgpod" { 2 } else { min_updates };
            assert!(
                n >= min,
                "{name}: {n} UPDATEs from {who}, want at least {min}"
            );
            for u in updates(msgs) {
                assert!(u.faults.is_empty(), "{name}: faults from {who}: {u:?}");
            }
            for m in msgs {
                let again = Message::decode(&m.msg.to_bytes(&s.ctx), &s.ctx);
                assert_eq!(
                    again.as_ref(),
                    Ok(&m.msg),
                    "{name}: round trip of {who}'s {m:?}"
                );
                if who == "bgpod" {
                    assert_eq!(m.msg.to_bytes(&s.ctx).as_ref(), m.bytes, "{name}: {m:?}");
                }
            }
        }

        assert_eq!(count(&s.from_peer, "NOTIFICATION"), 0, "{name}");
        assert_eq!(count(&s.from_bgpod, "NOTIFICATION"), 1, "{name}");
        let Some(Message::Notification(n)) = s.from_bgpod.last().map(|m| &m.msg) else {
            panic!("{name}: bgpod's last message is not its NOTIFICATION");
        };
        assert_eq!(
            (n.code, n.subcode),
            (CEASE, cease::ADMINISTRATIVE_SHUTDOWN),
            "{name}"
        );
        assert_eq!(
            n.shutdown_message().as_deref(),
            Some(SHUTDOWN_MESSAGE),
            "{name}"
        );
        assert_eq!(
            *n,
            Notification::cease(cease::ADMINISTRATIVE_SHUTDOWN, Some(SHUTDOWN_MESSAGE))
        );
        let bgpod_fin = if s.conn.client == s.bgpod {
            s.conn.fin.0
        } else {
            s.conn.fin.1
        };
        assert!(
            bgpod_fin,
            "{name}: bgpod closed the connection after its NOTIFICATION"
        );
    }
}

/// bgpod announces its pod CIDRs, IPv4 with its IPv4 address as next hop and IPv6 with
/// `local_v6_next_hop`, then an End-of-RIB for each family of the session; it withdraws
/// nothing.
fn check_bgpod_routes(sessions: &[Session]) {
    for s in sessions {
        let ev = events(&s.from_bgpod);
        assert_route(
            announced(&ev, "fd00:10:244:1::/64"),
            &[v6(BGPOD_V6)],
            attrs(&[BGPOD_AS], None, None),
            &[],
        );
        assert!(
            !ev.iter().any(|e| matches!(e, Event::Withdraw(_))),
            "{ev:?}"
        );
        assert!(ev.contains(&Event::EndOfRib(Afi::Ipv6)), "{ev:?}");
        assert_eq!(
            ev.contains(&Event::EndOfRib(Afi::Ipv4)),
            !s.over_ipv6(),
            "{ev:?}"
        );
        if !s.over_ipv6() {
            assert_route(
                announced(&ev, "10.244.1.0/24"),
                &[v4(BGPOD_V4)],
                attrs(&[BGPOD_AS], Some(BGPOD_V4), None),
                &[],
            );
        }
    }
}

// ----- the captures -----

fn large(global_admin: u32, local_data_1: u32, local_data_2: u32) -> LargeCommunity {
    LargeCommunity {
        global_admin,
        local_data_1,
        local_data_2,
    }
}

/// Checks that `route` has the two next hops of RFC 2545 §3 (a 32-octet next hop): `global`,
/// then a link-local address, and returns them. The link-local address is the speaker's
/// interface's, made from a random MAC address: only its scope is checked here, and
/// [`same_link_local`] checks it is the same on every route.
#[track_caller]
fn global_and_link_local(route: &Route, global: Ipv6Addr) -> Vec<IpAddr> {
    match route.next_hops.as_slice() {
        [g, IpAddr::V6(ll)] if *g == v6(global) && ll.is_unicast_link_local() => {
            route.next_hops.clone()
        }
        other => panic!("want {global} and a link-local next hop, got {other:?}"),
    }
}

/// `p` is announced in `ev` with `want`, and next hops `global` and a link-local address.
#[track_caller]
fn assert_route6(ev: &[Event], p: &str, global: Ipv6Addr, want: PathAttributes) {
    let r = announced(ev, p);
    assert_route(r, &global_and_link_local(r, global), want, &[]);
}

/// Nothing IPv4 is announced (on a session that negotiated IPv6 unicast alone).
#[track_caller]
fn assert_no_ipv4(ev: &[Event]) {
    let v4 = |e: &&Event| matches!(e, Event::Announce(Prefix::V4(_), _));
    assert_eq!(ev.iter().find(v4), None);
}

/// Every IPv6 route the peer announced on any session names the same link-local next hop.
#[track_caller]
fn same_link_local(sessions: &[Session]) {
    let mut seen: Vec<IpAddr> = sessions
        .iter()
        .flat_map(|s| events(&s.from_peer))
        .filter_map(|e| match e {
            Event::Announce(Prefix::V6(_), r) => r.next_hops.get(1).copied(),
            _ => None,
        })
        .collect();
    seen.dedup();
    assert_eq!(seen.len(), 1, "link-local next hops: {seen:?}");
}

/// bgpod ↔ BIRD 2.0.12 (AS 65001). BIRD exports through a filter that re-sets the MED
/// (BIRD sends a MED to an eBGP peer only if the export filter sets it); the attributes
/// come from its static routes.
#[test]
fn bird_capture_decodes_to_what_bird_was_told_to_send() {
    let sessions = load("bird-bgpod.pcap");
    // BIRD 2.0.12 does not advertise RFC 8654 extended messages by default.
    check_sessions(&sessions, BIRD_AS, false, 4);
    check_bgpod_routes(&sessions);
    let caps = &sessions[0].peer_open().capabilities;
    assert!(caps.contains(&Capability::EnhancedRouteRefresh), "{caps:?}");

    let plain = |next_hop| attrs(&[BIRD_AS], next_hop, None);
    let with_attrs4 = PathAttributes {
        communities: vec![community(65001, 100), community(65001, 200)],
        large_communities: vec![large(65001, 1, 2)],
        ..attrs(&[BIRD_AS; 2], Some(PEER_V4), Some(50))
    };
    let with_attrs6 = PathAttributes {
        communities: vec![community(65001, 600)],
        large_communities: vec![large(65001, 6, 6)],
        ..attrs(&[BIRD_AS; 3], None, Some(60))
    };

    // Over IPv4: IPv4 in the UPDATE's own fields, IPv6 in MP_REACH_NLRI with BIRD's
    // `next hop address` and its link-local address.
    let ev = events(&sessions[0].from_peer);
    let nh4 = [v4(PEER_V4)];
    assert_route(
        announced(&ev, "10.201.0.0/24"),
        &nh4,
        plain(Some(PEER_V4)),
        &[],
    );
    assert_route(
        announced(&ev, "10.201.9.0/24"),
        &nh4,
        plain(Some(PEER_V4)),
        &[],
    );
    let rt = [route_target(65001, 300)];
    assert_route(announced(&ev, "10.201.1.0/24"), &nh4, with_attrs4, &rt);
    assert_route6(&ev, "fd00:201::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:201:9::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:201:1::/64", PEER_V6, with_attrs6.clone());
    assert_withdrawn_after_announce(&ev, "10.201.9.0/24");
    assert_withdrawn_after_announce(&ev, "fd00:201:9::/64");
    assert!(ev.contains(&Event::EndOfRib(Afi::Ipv4)) && ev.contains(&Event::EndOfRib(Afi::Ipv6)));

    // Over IPv6: the same IPv6 routes, nothing else.
    let ev = events(&sessions[1].from_peer);
    assert_route6(&ev, "fd00:201::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:201:9::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:201:1::/64", PEER_V6, with_attrs6);
    assert_withdrawn_after_announce(&ev, "fd00:201:9::/64");
    assert!(ev.contains(&Event::EndOfRib(Afi::Ipv6)));
    assert_no_ipv4(&ev);
    same_link_local(&sessions);
}

/// bgpod ↔ FRR 8.4.4 (AS 65002, bgpd with zebra). The attributes come from route-maps on
/// `network` statements; FRR sends its other `network` routes with MED 0, and sends bgpod's
/// own routes back (AS path 65002 64512: a loop bgpod must drop, RFC 4271 §9.1.2).
#[test]
fn frr_capture_decodes_to_what_frr_was_told_to_send() {
    let sessions = load("frr-bgpod.pcap");
    // FRR advertises RFC 8654 extended messages, as bgpod does: both contexts have them.
    check_sessions(&sessions, FRR_AS, true, 4);
    check_bgpod_routes(&sessions);
    // FRR sends one Capabilities parameter per capability; the decoder flattens them.
    let caps = &sessions[0].peer_open().capabilities;
    assert_eq!(caps.len(), 11, "{caps:?}");
    assert!(caps.contains(&Capability::Unknown {
        code: 73,
        value: b"\x03frr\x00"[..].into()
    }));

    let plain = |next_hop| attrs(&[FRR_AS], next_hop, Some(0));
    let with_attrs4 = PathAttributes {
        communities: vec![community(65002, 100), community(65002, 200)],
        large_communities: vec![large(65002, 1, 2)],
        ..attrs(&[FRR_AS; 2], Some(PEER_V4), Some(70))
    };
    let with_attrs6 = PathAttributes {
        communities: vec![community(65002, 600)],
        large_communities: vec![large(65002, 6, 6)],
        ..attrs(&[FRR_AS; 3], None, Some(80))
    };
    let echo = |next_hop| attrs(&[FRR_AS, BGPOD_AS], next_hop, None);

    let ev = events(&sessions[0].from_peer);
    let nh4 = [v4(PEER_V4)];
    assert_route(
        announced(&ev, "10.202.0.0/24"),
        &nh4,
        plain(Some(PEER_V4)),
        &[],
    );
    assert_route(
        announced(&ev, "10.202.9.0/24"),
        &nh4,
        plain(Some(PEER_V4)),
        &[],
    );
    let rt = [route_target(65002, 300)];
    assert_route(announced(&ev, "10.202.1.0/24"), &nh4, with_attrs4, &rt);
    assert_route6(&ev, "fd00:202::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:202:9::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:202:1::/64", PEER_V6, with_attrs6.clone());
    assert_route(
        announced(&ev, "10.244.1.0/24"),
        &nh4,
        echo(Some(PEER_V4)),
        &[],
    );
    assert_route6(&ev, "fd00:10:244:1::/64", PEER_V6, echo(None));
    assert_withdrawn_after_announce(&ev, "10.202.9.0/24");
    assert_withdrawn_after_announce(&ev, "fd00:202:9::/64");

    // Over IPv6: bgpod's route comes back with bgpod's global address, which is on the
    // shared subnet (RFC 4271 §5.1.3, a third-party next hop), and FRR's link-local one.
    let ev = events(&sessions[1].from_peer);
    assert_route6(&ev, "fd00:202::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:202:9::/64", PEER_V6, plain(None));
    assert_route6(&ev, "fd00:202:1::/64", PEER_V6, with_attrs6);
    assert_route6(&ev, "fd00:10:244:1::/64", BGPOD_V6, echo(None));
    assert_withdrawn_after_announce(&ev, "fd00:202:9::/64");
    assert_no_ipv4(&ev);
    same_link_local(&sessions);
}
