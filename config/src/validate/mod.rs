//! Semantic validation: raw spanned values in, plain [`Config`] out.
//!
//! Every check reports into a shared list and carries on, so one run finds every mistake. A
//! check that depends on another key (keepalive on hold time, a peer on `listen`) only runs
//! when that key is valid, so one mistake is reported once, not echoed by its neighbours.
//! The [`Config`] built alongside holds placeholders where a value was bad or missing; the
//! caller discards it unless no problem was found.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::PathBuf;

use crate::error::{Locator, Problem};
use crate::raw::RawConfig;
use crate::value::Field;
use crate::Config;

mod fib;
mod peers;
mod pod_cidrs;

pub(crate) use fib::{
    DEFAULT_FIB_METRIC, DEFAULT_FIB_PROTOCOL, DEFAULT_FIB_SWEEP_DELAY, DEFAULT_FIB_TABLE,
};

pub(crate) const DEFAULT_PORT: u16 = 179;
const DEFAULT_MAX_PATHS: usize = 8;
const MAX_MAX_PATHS: usize = 64;
const DEFAULT_CONTROL_SOCKET: &str = "/run/bgpod/bgpod.sock";
/// `sizeof(sockaddr_un.sun_path) - 1` on Linux: the path needs a terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
const DEFAULT_CONNECT_RETRY: u16 = 5;
const DEFAULT_IDLE_HOLD: u16 = 1;

/// What a key held.
pub(crate) enum Got<T> {
    /// The key is not in the file.
    Absent,
    /// The key is there but its value is bad; already reported.
    Invalid,
    /// A well-typed value and its span.
    Value(T, Range<usize>),
}

impl<T> Got<T> {
    /// The value, if the key held a good one.
    pub fn get(&self) -> Option<&T> {
        match self {
            Got::Value(v, _) => Some(v),
            Got::Absent | Got::Invalid => None,
        }
    }

    /// The value, or `default` (also a placeholder for a bad value: the config is discarded).
    pub fn or(self, default: T) -> T {
        match self {
            Got::Value(v, _) => v,
            Got::Absent | Got::Invalid => default,
        }
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self, Got::Invalid)
    }
}

/// Collects problems while validating.
pub(crate) struct Checker<'a> {
    locator: &'a Locator<'a>,
    problems: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    pub fn report(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(span, key, message));
    }

    /// "line N" of a span, to name the other place in messages about two places.
    pub fn line_of(&self, span: &Range<usize>) -> usize {
        self.locator.position(span.start).0
    }

    /// An optional key; a bad value is reported.
    pub fn optional<T>(&mut self, field: Option<Field<T>>, key: &str) -> Got<T> {
        match field {
            None => Got::Absent,
            Some(Field { span, value: Ok(v) }) => Got::Value(v, span),
            Some(Field {
                span,
                value: Err(message),
            }) => {
                self.report(span, key, message);
                Got::Invalid
            }
        }
    }

    /// A required key; a bad or missing value is reported (a missing one at `table_span`).
    pub fn required<T>(
        &mut self,
        field: Option<Field<T>>,
        key: &str,
        table_span: Range<usize>,
    ) -> Got<T> {
        let got = self.optional(field, key);
        if matches!(got, Got::Absent) {
            self.report(table_span, key, "missing required key");
        }
        got
    }

    /// Reports `message` if the key's value fails `ok`.
    pub fn check<T>(
        &mut self,
        got: &Got<T>,
        key: &str,
        ok: impl FnOnce(&T) -> bool,
        message: impl FnOnce(&T) -> String,
    ) {
        if let Got::Value(v, span) = got {
            if !ok(v) {
                self.report(span.clone(), key, message(v));
            }
        }
    }
}

/// Validates `raw`, adding every problem to `problems`. The result is meaningful only if
/// `problems` stays empty.
pub(crate) fn validate(
    raw: RawConfig,
    locator: &Locator<'_>,
    problems: &mut Vec<Problem>,
) -> Config {
    let mut c = Checker { locator, problems };
    // A missing top-level key is reported at the start of the file.
    let top = 0..0;

    let router_id = c.required(raw.router_id, "router_id", top.clone());
    // RFC 6286 §2.1: "the BGP Identifier ... is a 4-octet, unsigned, non-zero integer".
    c.check(
        &router_id,
        "router_id",
        |id| !id.is_unspecified(),
        |_| {
            "router_id 0.0.0.0 is not allowed: the BGP Identifier must be non-zero (RFC 6286 §2.1)"
                .into()
        },
    );

    let asn = c.required(raw.asn, "asn", top.clone());
    c.check(&asn, "asn", |asn| *asn != 0, |_| asn_zero_message());

    let listen = c.optional(raw.listen, "listen");
    let listen = match listen {
        Got::Value(ip, span) => Got::Value(ip.to_canonical(), span),
        other => other,
    };
    c.check(
        &listen,
        "listen",
        |ip| is_listenable(*ip),
        |ip| {
            format!("cannot listen on {ip}: use a unicast address of this host, or \"::\" for all")
        },
    );

    let port = c.optional(raw.port, "port");
    c.check(
        &port,
        "port",
        |p| *p != 0,
        |_| "port 0 is not allowed: peers must know which port to connect to (BGP's is 179)".into(),
    );

    let pod_cidrs = pod_cidrs::validate(&mut c, raw.pod_cidrs);

    let max_paths = c.optional(raw.max_paths, "max_paths");
    c.check(
        &max_paths,
        "max_paths",
        |n| (1..=MAX_MAX_PATHS).contains(n),
        |n| format!("max_paths must be 1 to {MAX_MAX_PATHS}, found {n}"),
    );

    let control_socket = c.optional(raw.control_socket, "control_socket");
    c.check(
        &control_socket,
        "control_socket",
        |p| !p.as_os_str().is_empty(),
        |_| "control_socket must not be empty".into(),
    );
    c.check(
        &control_socket,
        "control_socket",
        |p| p.as_os_str().len() <= MAX_SOCKET_PATH,
        |p| {
            let len = p.as_os_str().len();
            format!("control_socket is {len} bytes long; a Unix socket path is at most {MAX_SOCKET_PATH}")
        },
    );

    let connect_retry = c.optional(raw.connect_retry, "connect_retry");
    c.check(
        &connect_retry,
        "connect_retry",
        |s| *s >= 1,
        |_| at_least_one_second("connect_retry"),
    );

    let idle_hold = c.optional(raw.idle_hold, "idle_hold");
    c.check(
        &idle_hold,
        "idle_hold",
        |s| *s >= 1,
        |_| {
            format!(
                "{} (it is the base of the restart back-off)",
                at_least_one_second("idle_hold")
            )
        },
    );

    let local_v6_next_hop = c.optional(raw.local_v6_next_hop, "local_v6_next_hop");
    c.check(
        &local_v6_next_hop,
        "local_v6_next_hop",
        is_global_v6,
        |ip| format!("{ip} is not a global unicast IPv6 address (RFC 2545 §3)"),
    );

    let fib = fib::validate(&mut c, raw.fib);

    let context = peers::Context {
        router_id: router_id.get().copied(),
        listen: if listen.is_invalid() {
            None
        } else {
            Some(listen.get().copied())
        },
    };
    let peers = peers::validate(&mut c, raw.peers, &context);

    Config {
        router_id: router_id.or(Ipv4Addr::UNSPECIFIED),
        asn: asn.or(0),
        listen: listen.get().copied(),
        port: port.or(DEFAULT_PORT),
        pod_cidrs,
        max_paths: max_paths.or(DEFAULT_MAX_PATHS),
        control_socket: control_socket.or(PathBuf::from(DEFAULT_CONTROL_SOCKET)),
        connect_retry: connect_retry.or(DEFAULT_CONNECT_RETRY),
        idle_hold: idle_hold.or(DEFAULT_IDLE_HOLD),
        local_v6_next_hop: local_v6_next_hop.get().copied(),
        fib,
        peers,
    }
}

/// RFC 7607 §2: AS 0 "MUST NOT" be used; a speaker receiving it in OPEN rejects the session.
pub(crate) fn asn_zero_message() -> String {
    "AS number 0 is reserved and cannot be used (RFC 7607)".into()
}

pub(crate) fn at_least_one_second(key: &str) -> String {
    format!("{key} must be at least 1 second")
}

fn is_listenable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
}

/// Unicast, routable beyond the link: not unspecified, loopback, multicast, link-local
/// (fe80::/10) or IPv4-mapped.
fn is_global_v6(ip: &Ipv6Addr) -> bool {
    let link_local = ip.segments()[0] & 0xffc0 == 0xfe80;
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || link_local
        || ip.to_ipv4_mapped().is_some())
}

#[cfg(test)]
mod tests {
    use crate::{Config, ConfigError};

    /// Lines 1 and 2 of most test files.
    pub(super) const BASE: &str = "router_id = \"192.0.2.1\"\nasn = 64512\n";

    pub(super) fn errors(text: &str) -> Vec<ConfigError> {
        match Config::parse(text, "bgpod.toml") {
            Ok(config) => panic!("accepted: {config:?}\n{text}"),
            Err(errors) => errors.0,
        }
    }

    /// Asserts that `text` has exactly one error, at `line:column` of `key`, whose message
    /// contains `needle`.
    #[track_caller]
    pub(super) fn one_error(
        text: &str,
        line: usize,
        column: usize,
        key: &str,
        needle: &str,
    ) -> ConfigError {
        let errors = errors(text);
        let [error] = &errors[..] else {
            panic!("expected one error, got {errors:#?}\n{text}");
        };
        assert_eq!(error.file, "bgpod.toml");
        assert_eq!(
            (error.line, error.column, error.key.as_str()),
            (line, column, key),
            "{error}"
        );
        assert!(
            error.message.contains(needle),
            "{error}\nshould contain: {needle}"
        );
        error.clone()
    }

    #[test]
    fn router_id_zero() {
        let e = one_error(
            "router_id = \"0.0.0.0\"\nasn = 1\n",
            1,
            13,
            "router_id",
            "must be non-zero",
        );
        assert_eq!(
            e.to_string(),
            "bgpod.toml:1:13: router_id: router_id 0.0.0.0 is not allowed: the BGP Identifier must be non-zero (RFC 6286 §2.1)"
        );
    }

    #[test]
    fn router_id_missing_or_not_ipv4() {
        one_error("asn = 1\n", 1, 1, "router_id", "missing required key");
        one_error(
            "router_id = \"2001:db8::1\"\nasn = 1\n",
            1,
            13,
            "router_id",
            "expected an IPv4 address, found the IPv6",
        );
        one_error(
            "router_id = \"192.0.2.256\"\nasn = 1\n",
            1,
            13,
            "router_id",
            "found \"192.0.2.256\"",
        );
    }

    #[test]
    fn asn_zero_missing_or_out_of_range() {
        one_error(
            "router_id = \"192.0.2.1\"\nasn = 0\n",
            2,
            7,
            "asn",
            "AS number 0 is reserved",
        );
        one_error(
            "router_id = \"192.0.2.1\"\n",
            1,
            1,
            "asn",
            "missing required key",
        );
        one_error(
            "router_id = \"192.0.2.1\"\nasn = 4294967296\n",
            2,
            7,
            "asn",
            "from 0 to 4294967295",
        );
        one_error(
            "router_id = \"192.0.2.1\"\nasn = \"64512\"\n",
            2,
            7,
            "asn",
            "expected an integer, found the string",
        );
        let ok = Config::parse("router_id = \"192.0.2.1\"\nasn = 4294967295\n", "f");
        assert_eq!(ok.map(|c| c.asn), Ok(u32::MAX));
    }

    #[test]
    fn listen_and_port() {
        one_error(
            &format!("{BASE}listen = \"224.0.0.5\"\n"),
            3,
            10,
            "listen",
            "cannot listen on 224.0.0.5",
        );
        one_error(
            &format!("{BASE}listen = \"0.0.0.0:179\"\n"),
            3,
            10,
            "listen",
            "without a port",
        );
        one_error(
            &format!("{BASE}listen = \"[::]\"\n"),
            3,
            10,
            "listen",
            "without brackets",
        );
        one_error(
            &format!("{BASE}port = 0\n"),
            3,
            8,
            "port",
            "port 0 is not allowed",
        );
        one_error(
            &format!("{BASE}port = 65536\n"),
            3,
            8,
            "port",
            "from 0 to 65535",
        );
    }

    #[test]
    fn max_paths_range() {
        one_error(
            &format!("{BASE}max_paths = 0\n"),
            3,
            13,
            "max_paths",
            "must be 1 to 64, found 0",
        );
        one_error(
            &format!("{BASE}max_paths = 65\n"),
            3,
            13,
            "max_paths",
            "must be 1 to 64, found 65",
        );
        one_error(
            &format!("{BASE}max_paths = -1\n"),
            3,
            13,
            "max_paths",
            "found -1",
        );
    }

    #[test]
    fn control_socket_path() {
        one_error(
            &format!("{BASE}control_socket = \"\"\n"),
            3,
            18,
            "control_socket",
            "must not be empty",
        );
        let long = format!("/run/{}", "x".repeat(103));
        one_error(
            &format!("{BASE}control_socket = \"{long}\"\n"),
            3,
            18,
            "control_socket",
            "108 bytes long",
        );
        let ok = Config::parse(
            &format!("{BASE}control_socket = \"/run/{}\"\n", "x".repeat(102)),
            "f",
        );
        assert!(ok.is_ok(), "107 bytes fit");
    }

    #[test]
    fn timers_need_one_second() {
        one_error(
            &format!("{BASE}connect_retry = 0\n"),
            3,
            17,
            "connect_retry",
            "at least 1 second",
        );
        one_error(
            &format!("{BASE}idle_hold = 0\n"),
            3,
            13,
            "idle_hold",
            "at least 1 second",
        );
    }

    #[test]
    fn local_v6_next_hop_must_be_global() {
        for bad in ["fe80::1", "::", "::1", "ff02::5", "::ffff:192.0.2.1"] {
            one_error(
                &format!("{BASE}local_v6_next_hop = \"{bad}\"\n"),
                3,
                21,
                "local_v6_next_hop",
                "not a global unicast IPv6 address",
            );
        }
        one_error(
            &format!("{BASE}local_v6_next_hop = \"192.0.2.1\"\n"),
            3,
            21,
            "local_v6_next_hop",
            "found the IPv4 address",
        );
    }

    #[test]
    fn unknown_top_level_key() {
        one_error(
            &format!("{BASE}log_level = \"debug\"\n"),
            3,
            1,
            "log_level",
            "unknown key `log_level` at the top level; the keys allowed here are: router_id, asn,",
        );
        one_error(
            &format!("{BASE}max_path = 4\n"),
            3,
            1,
            "max_path",
            "did you mean `max_paths`?",
        );
        one_error(
            &format!("{BASE}[peer]\naddress = \"192.0.2.2\"\n"),
            3,
            2,
            "peer",
            "did you mean `peers`?",
        );
    }

    #[test]
    fn wrong_section_types() {
        one_error(
            &format!("{BASE}fib = 254\n"),
            3,
            7,
            "fib",
            "expected a [fib] table, found an integer",
        );
        one_error(
            &format!("{BASE}peers = \"192.0.2.2\"\n"),
            3,
            9,
            "peers",
            "expected [[peers]] tables, found a string",
        );
    }

    #[test]
    fn syntax_errors_are_located() {
        let e = one_error(
            &format!("{BASE}port = 1 79\n"),
            3,
            8,
            "port",
            "invalid TOML",
        );
        assert!(
            e.to_string()
                .starts_with("bgpod.toml:3:8: port: invalid TOML: "),
            "{e}"
        );
        one_error(
            &format!("{BASE}[fib\n"),
            3,
            5,
            "",
            "invalid TOML: unclosed table",
        );
        one_error(
            &format!("{BASE}asn = 1\n"),
            3,
            1,
            "",
            "invalid TOML: duplicate key",
        );
    }

    #[test]
    fn every_error_is_collected_in_file_order() {
        let text = r#"router_id = "0.0.0.0"
asn = 0
colour = "blue"
pod_cidrs = ["10.244.1.1/24"]

[fib]
protocol = 2
tabel = 254

[[peers]]
address = "192.0.2.2"
asn = 65000
hold_time = 1
hold_tme = 90

[[peers]]
address = "192.0.2.2"
asn = 65001
keepalive = 100
"#;
        let errors = match Config::parse(text, "bgpod.toml") {
            Ok(_) => panic!("accepted"),
            Err(errors) => errors,
        };
        let lines: Vec<String> = errors.to_string().lines().map(str::to_owned).collect();
        assert_eq!(
            lines,
            [
                "bgpod.toml:1:13: router_id: router_id 0.0.0.0 is not allowed: the BGP Identifier must be non-zero (RFC 6286 §2.1)",
                "bgpod.toml:2:7: asn: AS number 0 is reserved and cannot be used (RFC 7607)",
                "bgpod.toml:3:1: colour: unknown key `colour` at the top level; the keys allowed here are: router_id, asn, listen, port, pod_cidrs, max_paths, control_socket, connect_retry, idle_hold, local_v6_next_hop, fib, peers",
                "bgpod.toml:4:14: pod_cidrs[0]: 10.244.1.1/24 has host bits set; did you mean 10.244.1.0/24?",
                "bgpod.toml:7:12: fib.protocol: protocol 2 is reserved by the kernel (0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static); use a number from 5 to 255 that no other routing daemon on this host uses, e.g. 179",
                "bgpod.toml:8:1: fib.tabel: unknown key `tabel` in [fib]; did you mean `table`?",
                "bgpod.toml:13:13: peers[0].hold_time: hold time 1 is not allowed; use 0 (no keepalives) or at least 3 (RFC 4271 §4.2)",
                "bgpod.toml:14:1: peers[0].hold_tme: unknown key `hold_tme` in [[peers]]; did you mean `hold_time`?",
                "bgpod.toml:17:11: peers[1].address: duplicate peer 192.0.2.2: already configured as peers[0] (line 11)",
                "bgpod.toml:19:13: peers[1].keepalive: keepalive 100 must be less than hold_time 90 (RFC 4271 §4.4 suggests a third: 30)",
            ]
        );
    }

    #[test]
    fn empty_file_names_both_required_keys() {
        let errors = errors("");
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["router_id", "asn"]);
        assert!(errors.iter().all(|e| (e.line, e.column) == (1, 1)));
    }
}
