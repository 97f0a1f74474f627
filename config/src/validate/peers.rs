//! `[[peers]]`: each neighbour on its own, then against the others and the top level.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use toml::Spanned;

use super::{asn_zero_message, at_least_one_second, Checker, Got, DEFAULT_PORT};
use crate::raw::RawPeer;
use crate::value::List;
use crate::{PeerConfig, RequiredCapability};

const DEFAULT_HOLD_TIME: u16 = 90;
/// Linux `TCP_MD5SIG_MAXKEYLEN`.
const MAX_TCP_MD5_KEY: usize = 80;

/// What the peers are checked against; `None` where the top-level key was bad.
pub(super) struct Context {
    pub router_id: Option<Ipv4Addr>,
    /// `Some(None)`: no `listen` key (all addresses, dual-stack).
    pub listen: Option<Option<IpAddr>>,
}

pub(super) fn validate(
    c: &mut Checker<'_>,
    raw: Vec<Spanned<RawPeer>>,
    context: &Context,
) -> Vec<PeerConfig> {
    let mut seen: Vec<(IpAddr, usize, Range<usize>)> = Vec::new();
    let mut peers = Vec::with_capacity(raw.len());
    for (i, raw) in raw.into_iter().enumerate() {
        let header = raw.span();
        let peer = peer(c, i, header, raw.into_inner(), context, &mut seen);
        peers.push(peer);
    }
    peers
}

fn unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

/// Whether a socket listening on `listen` accepts connections from `peer`.
fn accepts(listen: Option<IpAddr>, peer: IpAddr) -> bool {
    match listen {
        // `[::]` is dual-stack: IPv4 peers arrive as IPv4-mapped addresses.
        None => true,
        Some(IpAddr::V6(v6)) if v6.is_unspecified() => true,
        Some(listen) => listen.is_ipv4() == peer.is_ipv4(),
    }
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn peer(
    c: &mut Checker<'_>,
    i: usize,
    header: Range<usize>,
    raw: RawPeer,
    context: &Context,
    seen: &mut Vec<(IpAddr, usize, Range<usize>)>,
) -> PeerConfig {
    let key = |name: &str| format!("peers[{i}].{name}");

    let address = match c.required(raw.address, &key("address"), header.clone()) {
        Got::Value(ip, span) => Got::Value(ip.to_canonical(), span),
        other => other,
    };
    if let Got::Value(ip, span) = &address {
        if let Some(message) = address_problem(c, *ip, context, seen) {
            c.report(span.clone(), &key("address"), message);
        } else {
            seen.push((*ip, i, span.clone()));
        }
    }

    let asn = c.required(raw.asn, &key("asn"), header);
    c.check(&asn, &key("asn"), |asn| *asn != 0, |_| asn_zero_message());

    let port = c.optional(raw.port, &key("port"));
    c.check(
        &port,
        &key("port"),
        |p| *p != 0,
        |_| "port 0 is not allowed; BGP's port is 179".into(),
    );

    let passive = c.optional(raw.passive, &key("passive"));
    if let (Got::Value(true, span), Some(ip), Some(listen)) =
        (&passive, address.get(), context.listen)
    {
        if !accepts(listen, *ip) {
            let listen = listen.map_or_else(|| "::".to_owned(), |l| l.to_string());
            c.report(
                span.clone(),
                &key("passive"),
                format!(
                    "peer {ip} is passive (it must connect to us), but listen = {listen} accepts no {} connections",
                    family(*ip)
                ),
            );
        }
    }

    // RFC 4271 §4.2: "Hold Time MUST be either zero or at least three seconds."
    let hold_time = c.optional(raw.hold_time, &key("hold_time"));
    c.check(
        &hold_time,
        &key("hold_time"),
        |h| !matches!(h, 1 | 2),
        |h| {
            format!(
                "hold time {h} is not allowed; use 0 (no keepalives) or at least 3 (RFC 4271 §4.2)"
            )
        },
    );

    let keepalive = c.optional(raw.keepalive, &key("keepalive"));
    let hold = match &hold_time {
        Got::Value(1 | 2, _) => None,
        Got::Value(h, _) => Some(*h),
        Got::Absent => Some(DEFAULT_HOLD_TIME),
        Got::Invalid => None,
    };
    if let (Got::Value(k, span), Some(hold)) = (&keepalive, hold) {
        if let Some(message) = keepalive_problem(*k, hold) {
            c.report(span.clone(), &key("keepalive"), message);
        }
    }

    let multihop = c.optional(raw.multihop, &key("multihop"));
    c.check(&multihop, &key("multihop"), |ttl| *ttl != 0, |_| {
        "multihop is the TTL of the session's packets and must be 1 to 255 (1: directly connected)".into()
    });

    let description = c.optional(raw.description, &key("description"));
    c.check(
        &description,
        &key("description"),
        |d| !d.chars().any(char::is_control),
        |_| "description must be a single line without control characters".into(),
    );

    let export_learned = c.optional(raw.export_learned, &key("export_learned"));

    let local_address = match c.optional(raw.local_address, &key("local_address")) {
        Got::Value(ip, span) => Got::Value(ip.to_canonical(), span),
        other => other,
    };
    if let Got::Value(local, span) = &local_address {
        if let Some(message) = local_address_problem(*local, address.get().copied()) {
            c.report(span.clone(), &key("local_address"), message);
        }
    }

    let password = c.optional(raw.password, &key("password"));
    c.check(
        &password,
        &key("password"),
        |p| !p.is_empty(),
        |_| "password must not be empty; remove the key to disable TCP-MD5".into(),
    );
    c.check(
        &password,
        &key("password"),
        |p| p.len() <= MAX_TCP_MD5_KEY,
        |p| {
            format!(
                "password is {} bytes; a TCP-MD5 key (RFC 2385) is at most {MAX_TCP_MD5_KEY} bytes",
                p.len()
            )
        },
    );

    // TCP-MD5 is parsed and checked, but bgpod does not sign sessions yet: refuse rather than
    // bring a session up unauthenticated.
    c.check(
        &password,
        &key("password"),
        |p| p.is_empty() || p.len() > MAX_TCP_MD5_KEY,
        |_| "TCP-MD5 (RFC 2385) is not supported by this version of bgpod; remove the key".into(),
    );

    let connect_retry = c.optional(raw.connect_retry, &key("connect_retry"));
    c.check(
        &connect_retry,
        &key("connect_retry"),
        |s| *s >= 1,
        |_| at_least_one_second("connect_retry"),
    );

    let required_capabilities = required_capabilities(c, raw.required_capabilities, &key);

    PeerConfig {
        address: address.or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        asn: asn.or(0),
        port: port.or(DEFAULT_PORT),
        passive: passive.or(false),
        hold_time: hold_time.or(DEFAULT_HOLD_TIME),
        keepalive: keepalive.get().copied(),
        multihop: multihop.get().copied(),
        description: description.get().cloned(),
        export_learned: export_learned.or(false),
        local_address: local_address.get().copied(),
        password: password.get().cloned(),
        connect_retry: connect_retry.get().copied(),
        required_capabilities,
    }
}

/// `required_capabilities`: known names, each once.
fn required_capabilities(
    c: &mut Checker<'_>,
    raw: Option<Spanned<List<RequiredCapability>>>,
    key: &dyn Fn(&str) -> String,
) -> Vec<RequiredCapability> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let span = raw.span();
    let items = match raw.into_inner().0 {
        Ok(items) => items,
        Err(message) => {
            c.report(span, &key("required_capabilities"), message);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let k = key(&format!("required_capabilities[{i}]"));
        let Got::Value(cap, span) = c.optional(Some(item), &k) else {
            continue;
        };
        if out.contains(&cap) {
            c.report(span, &k, format!("{} is listed twice", cap.name()));
            continue;
        }
        out.push(cap);
    }
    out
}

/// What is wrong with a peer address: not unicast, ourselves, or already a peer.
fn address_problem(
    c: &Checker<'_>,
    ip: IpAddr,
    context: &Context,
    seen: &[(IpAddr, usize, Range<usize>)],
) -> Option<String> {
    if !unicast(ip) {
        return Some(format!("{ip} is not a unicast address"));
    }
    if context.router_id.map(IpAddr::V4) == Some(ip) {
        return Some(format!(
            "{ip} is this router's own router_id; a BGP speaker cannot peer with itself"
        ));
    }
    if context.listen == Some(Some(ip)) {
        return Some(format!(
            "{ip} is this router's own `listen` address; a BGP speaker cannot peer with itself"
        ));
    }
    let (_, j, other) = seen.iter().find(|(seen, _, _)| *seen == ip)?;
    let line = c.line_of(other);
    Some(format!(
        "duplicate peer {ip}: already configured as peers[{j}] (line {line})"
    ))
}

/// What is wrong with a source address for a session to `peer` (if the peer address is valid).
fn local_address_problem(local: IpAddr, peer: Option<IpAddr>) -> Option<String> {
    if !unicast(local) {
        return Some(format!("{local} is not a unicast address"));
    }
    let peer = peer?;
    if peer.is_ipv4() != local.is_ipv4() {
        return Some(format!(
            "local_address {local} is {} but the peer address {peer} is {}",
            family(local),
            family(peer)
        ));
    }
    (peer == local).then(|| format!("{local} is the peer's own address"))
}

/// What is wrong with keepalive `k` given hold time `hold` (valid: 0 or at least 3).
///
/// RFC 4271 §4.4: "If the negotiated Hold Time interval is zero, then periodic KEEPALIVE
/// messages MUST NOT be sent"; otherwise one third of the hold time is "a reasonable maximum
/// time between KEEPALIVE messages". Shorter intervals are fine; reaching the hold time is not.
fn keepalive_problem(k: u16, hold: u16) -> Option<String> {
    match (hold, k) {
        (0, 0) => None,
        (0, k) => Some(format!(
            "keepalive {k} has no effect with hold_time 0: no keepalives are sent (RFC 4271 §4.4); remove it"
        )),
        (hold, 0) => Some(format!(
            "keepalive 0 would send no keepalives while the peer expects one within {hold} seconds; set hold_time = 0 to disable both"
        )),
        (hold, k) if k >= hold => Some(format!(
            "keepalive {k} must be less than hold_time {hold} (RFC 4271 §4.4 suggests a third: {})",
            (hold / 3).max(1)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{errors, one_error, BASE};

    /// BASE plus one peer whose extra lines start at line 6.
    fn peer(extra: &str) -> String {
        format!("{BASE}\n[[peers]]\naddress = \"192.0.2.2\"\nasn = 65000\n{extra}")
    }

    #[test]
    fn missing_address_and_asn_point_at_the_header() {
        let text = format!("{BASE}\n[[peers]]\nport = 1179\n");
        let errors = errors(&text);
        let found: Vec<(usize, usize, &str, &str)> = errors
            .iter()
            .map(|e| (e.line, e.column, e.key.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (4, 1, "peers[0].address", "missing required key"),
                (4, 1, "peers[0].asn", "missing required key"),
            ]
        );
    }

    #[test]
    fn bad_addresses() {
        let at = |address: &str| format!("{BASE}[[peers]]\naddress = \"{address}\"\nasn = 1\n");
        one_error(
            &at("192.0.2.x"),
            4,
            11,
            "peers[0].address",
            "expected an IP address",
        );
        one_error(
            &at("192.0.2.2:179"),
            4,
            11,
            "peers[0].address",
            "without a port",
        );
        one_error(
            &at("0.0.0.0"),
            4,
            11,
            "peers[0].address",
            "0.0.0.0 is not a unicast address",
        );
        one_error(
            &at("::"),
            4,
            11,
            "peers[0].address",
            ":: is not a unicast address",
        );
        one_error(
            &at("224.0.0.1"),
            4,
            11,
            "peers[0].address",
            "not a unicast address",
        );
        one_error(
            &at("255.255.255.255"),
            4,
            11,
            "peers[0].address",
            "not a unicast address",
        );
    }

    #[test]
    fn peer_is_ourselves() {
        let text = format!("{BASE}[[peers]]\naddress = \"192.0.2.1\"\nasn = 1\n");
        one_error(&text, 4, 11, "peers[0].address", "own router_id");
        // The IPv4-mapped spelling is the same address.
        let text = format!("{BASE}[[peers]]\naddress = \"::ffff:192.0.2.1\"\nasn = 1\n");
        one_error(&text, 4, 11, "peers[0].address", "own router_id");
        let text = format!(
            "{BASE}listen = \"2001:db8::1\"\n[[peers]]\naddress = \"2001:db8::1\"\nasn = 1\n"
        );
        one_error(&text, 5, 11, "peers[0].address", "own `listen` address");
    }

    #[test]
    fn duplicate_peer_names_both_lines() {
        let text = format!(
            "{BASE}[[peers]]\naddress = \"2001:db8::2\"\nasn = 1\n[[peers]]\naddress = \"2001:DB8:0::2\"\nasn = 2\n"
        );
        let e = one_error(
            &text,
            7,
            11,
            "peers[1].address",
            "duplicate peer 2001:db8::2",
        );
        assert!(
            e.message
                .ends_with("already configured as peers[0] (line 4)"),
            "{e}"
        );
    }

    #[test]
    fn peer_asn_and_port() {
        one_error(
            &format!("{BASE}[[peers]]\naddress = \"192.0.2.2\"\nasn = 0\n"),
            5,
            7,
            "peers[0].asn",
            "AS number 0 is reserved",
        );
        one_error(
            &peer("port = 0\n"),
            7,
            8,
            "peers[0].port",
            "port 0 is not allowed",
        );
    }

    #[test]
    fn hold_time_one_or_two() {
        let e = one_error(
            &peer("hold_time = 1\n"),
            7,
            13,
            "peers[0].hold_time",
            "hold time 1 is not allowed",
        );
        assert_eq!(
            e.to_string(),
            "bgpod.toml:7:13: peers[0].hold_time: hold time 1 is not allowed; use 0 (no keepalives) or at least 3 (RFC 4271 §4.2)"
        );
        one_error(
            &peer("hold_time = 2\n"),
            7,
            13,
            "peers[0].hold_time",
            "hold time 2 is not allowed",
        );
        // A bad hold time is reported once, not echoed by the keepalive check.
        one_error(
            &peer("hold_time = 2\nkeepalive = 5\n"),
            7,
            13,
            "peers[0].hold_time",
            "hold time 2",
        );
        one_error(
            &peer("hold_time = \"90s\"\nkeepalive = 95\n"),
            7,
            13,
            "peers[0].hold_time",
            "expected an integer",
        );
        for ok in ["hold_time = 0", "hold_time = 3", "hold_time = 65535"] {
            assert!(crate::Config::parse(&peer(ok), "f").is_ok(), "{ok}");
        }
    }

    #[test]
    fn keepalive_against_hold_time() {
        one_error(
            &peer("hold_time = 9\nkeepalive = 9\n"),
            8,
            13,
            "peers[0].keepalive",
            "keepalive 9 must be less than hold_time 9",
        );
        one_error(
            &peer("keepalive = 91\n"),
            7,
            13,
            "peers[0].keepalive",
            "less than hold_time 90",
        );
        one_error(
            &peer("hold_time = 0\nkeepalive = 30\n"),
            8,
            13,
            "peers[0].keepalive",
            "no effect with hold_time 0",
        );
        one_error(
            &peer("keepalive = 0\n"),
            7,
            13,
            "peers[0].keepalive",
            "set hold_time = 0 to disable both",
        );
        for ok in [
            "hold_time = 0\nkeepalive = 0",
            "hold_time = 9\nkeepalive = 8",
            "hold_time = 3\nkeepalive = 1",
        ] {
            assert!(crate::Config::parse(&peer(ok), "f").is_ok(), "{ok}");
        }
    }

    #[test]
    fn keepalive_rules() {
        use super::keepalive_problem;
        assert_eq!(keepalive_problem(0, 0), None);
        assert_eq!(keepalive_problem(1, 3), None);
        assert_eq!(keepalive_problem(30, 90), None);
        assert_eq!(
            keepalive_problem(89, 90),
            None,
            "longer than a third is allowed"
        );
        assert!(keepalive_problem(90, 90).is_some());
        assert!(keepalive_problem(3, 3).is_some());
        assert!(keepalive_problem(0, 90).is_some());
        assert!(keepalive_problem(1, 0).is_some());
    }

    #[test]
    fn multihop_description_connect_retry() {
        one_error(
            &peer("multihop = 0\n"),
            7,
            12,
            "peers[0].multihop",
            "must be 1 to 255",
        );
        one_error(
            &peer("multihop = 256\n"),
            7,
            12,
            "peers[0].multihop",
            "from 0 to 255",
        );
        one_error(
            &peer("description = \"a\\nb\"\n"),
            7,
            15,
            "peers[0].description",
            "single line",
        );
        one_error(
            &peer("connect_retry = 0\n"),
            7,
            17,
            "peers[0].connect_retry",
            "at least 1 second",
        );
    }

    #[test]
    fn local_address() {
        one_error(
            &peer("local_address = \"2001:db8::1\"\n"),
            7,
            17,
            "peers[0].local_address",
            "is IPv6 but the peer address 192.0.2.2 is IPv4",
        );
        one_error(
            &peer("local_address = \"192.0.2.2\"\n"),
            7,
            17,
            "peers[0].local_address",
            "the peer's own address",
        );
        one_error(
            &peer("local_address = \"0.0.0.0\"\n"),
            7,
            17,
            "peers[0].local_address",
            "not a unicast address",
        );
    }

    #[test]
    fn password_length() {
        one_error(
            &peer("password = \"\"\n"),
            7,
            12,
            "peers[0].password",
            "must not be empty",
        );
        let long = "k".repeat(81);
        let e = one_error(
            &peer(&format!("password = \"{long}\"\n")),
            7,
            12,
            "peers[0].password",
            "81 bytes",
        );
        assert!(!e.message.contains(&long), "the key is not echoed: {e}");
        one_error(
            &peer(&format!("password = \"{}\"\n", "k".repeat(80))),
            7,
            12,
            "peers[0].password",
            "not supported",
        );
    }

    #[test]
    fn required_capabilities_names_and_duplicates() {
        let ok = crate::Config::parse(
            &peer("required_capabilities = [\"graceful-restart\", \"add-path\"]\n"),
            "f",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let caps = &ok.peers[0].required_capabilities;
        assert_eq!(caps.iter().map(|c| c.code()).collect::<Vec<_>>(), [64, 69]);
        one_error(
            &peer("required_capabilities = [\"route-refresh\", \"bogus\"]\n"),
            7,
            43,
            "peers[0].required_capabilities[1]",
            "unknown capability \"bogus\"",
        );
        one_error(
            &peer("required_capabilities = [\"add-path\", \"add-path\"]\n"),
            7,
            38,
            "peers[0].required_capabilities[1]",
            "listed twice",
        );
    }

    #[test]
    fn passive_peer_needs_a_listening_family() {
        let text = format!("{BASE}listen = \"192.0.2.1\"\n[[peers]]\naddress = \"2001:db8::2\"\nasn = 1\npassive = true\n");
        one_error(
            &text,
            7,
            11,
            "peers[0].passive",
            "listen = 192.0.2.1 accepts no IPv6 connections",
        );
        let text = format!("{BASE}listen = \"2001:db8::1\"\n[[peers]]\naddress = \"192.0.2.2\"\nasn = 1\npassive = true\n");
        one_error(
            &text,
            7,
            11,
            "peers[0].passive",
            "accepts no IPv4 connections",
        );
        // "::" and the default listen on both families; an active peer is never refused.
        for listen in ["listen = \"::\"\n", ""] {
            let text = format!(
                "{BASE}{listen}[[peers]]\naddress = \"192.0.2.2\"\nasn = 1\npassive = true\n"
            );
            assert!(crate::Config::parse(&text, "f").is_ok(), "{text}");
        }
        let text = format!(
            "{BASE}listen = \"192.0.2.1\"\n[[peers]]\naddress = \"2001:db8::2\"\nasn = 1\n"
        );
        assert!(crate::Config::parse(&text, "f").is_ok());
    }

    #[test]
    fn unknown_peer_key() {
        one_error(
            &peer("remote_as = 65000\n"),
            7,
            1,
            "peers[0].remote_as",
            "unknown key `remote_as` in [[peers]]; the keys allowed here are: address, asn,",
        );
        one_error(
            &peer("adress = \"x\"\n"),
            7,
            1,
            "peers[0].adress",
            "did you mean `address`?",
        );
    }

    #[test]
    fn errors_in_several_peers_are_all_reported() {
        let text = format!(
            "{BASE}[[peers]]\naddress = \"192.0.2.2\"\nasn = 1\nport = 0\n[[peers]]\naddress = \"nope\"\nasn = 1\nmultihop = 0\n"
        );
        let keys: Vec<String> = errors(&text)
            .into_iter()
            .map(|e| format!("{}:{}", e.line, e.key))
            .collect();
        assert_eq!(
            keys,
            [
                "6:peers[0].port",
                "8:peers[1].address",
                "10:peers[1].multihop"
            ]
        );
    }
}
