//! `[fib]`: where and how learned routes become kernel routes.

use toml::Spanned;

use super::Checker;
use crate::raw::RawFib;
use crate::FibConfig;

/// `RT_TABLE_MAIN`.
pub(crate) const DEFAULT_FIB_TABLE: u32 = 254;
/// `RT_TABLE_UNSPEC`: not a table.
const RT_TABLE_UNSPEC: u32 = 0;
/// `RT_TABLE_LOCAL`: the kernel's local and broadcast routes.
const RT_TABLE_LOCAL: u32 = 255;
/// BGP's TCP port, and a route protocol number no routing software we know of uses: the
/// kernel's `rtnetlink.h` and iproute2's `rt_protos` assign 0–4, 8–18, 42, 99 and 186–192, FRR
/// 186–198 (growing upward, so 200 was too close), BIRD 12, Calico's Felix 80, kube-router 17,
/// Cilium 2. See [`crate::FibConfig::protocol`].
pub(crate) const DEFAULT_FIB_PROTOCOL: u8 = 179;
/// bgpod's own metric: not 0 (IPv4 routes added by hand) or 1024 (IPv6 routes added by hand),
/// nor FRR's 20 or BIRD's 32, so that bgpod's routes never share a kernel key with theirs.
pub(crate) const DEFAULT_FIB_METRIC: u32 = 179;
/// Seconds routes of a previous run survive at start.
pub(crate) const DEFAULT_FIB_SWEEP_DELAY: u32 = 30;
/// The longest `sweep_delay` accepted: a day.
const MAX_SWEEP_DELAY: u32 = 86_400;
/// The metric of the pod CIDR blackholes, reserved for them.
const BLACKHOLE_METRIC: u32 = u32::MAX;
/// `RTPROT_STATIC`: 0 (unspec), 1 (redirect), 2 (kernel), 3 (boot) and 4 (static) are the
/// kernel's own route protocols.
const LAST_KERNEL_PROTOCOL: u8 = 4;

/// `[fib]`.
pub(super) fn validate(c: &mut Checker<'_>, raw: Option<Spanned<RawFib>>) -> FibConfig {
    let Some(raw) = raw else {
        return FibConfig::default();
    };
    let raw = raw.into_inner();
    let enabled = c.optional(raw.enabled, "fib.enabled");
    let table = c.optional(raw.table, "fib.table");
    c.check(
        &table,
        "fib.table",
        |t| *t != RT_TABLE_UNSPEC,
        |_| {
            format!(
                "table 0 is not a routing table; use {DEFAULT_FIB_TABLE} (main) or another table"
            )
        },
    );
    c.check(&table, "fib.table", |t| *t != RT_TABLE_LOCAL, |_| {
        "table 255 is the kernel's local table (RT_TABLE_LOCAL); bgpod must not install routes there".into()
    });
    let protocol = c.optional(raw.protocol, "fib.protocol");
    c.check(&protocol, "fib.protocol", |p| *p > LAST_KERNEL_PROTOCOL, |p| {
        format!(
            "protocol {p} is reserved by the kernel (0 unspec, 1 redirect, 2 kernel, 3 boot, 4 static); \
             use a number from 5 to 255 that no other routing daemon on this host uses, e.g. {DEFAULT_FIB_PROTOCOL}"
        )
    });
    let metric = c.optional(raw.metric, "fib.metric");
    c.check(
        &metric,
        "fib.metric",
        |m| *m != 0,
        |_| {
            format!(
            "metric 0 is what `ip route add` uses: bgpod's routes would share their kernel key \
             with routes added by hand and be held back; use another, e.g. {DEFAULT_FIB_METRIC}"
        )
        },
    );
    c.check(
        &metric,
        "fib.metric",
        |m| *m != BLACKHOLE_METRIC,
        |_| {
            format!(
            "metric {BLACKHOLE_METRIC} is reserved for the pod CIDR blackholes; use a smaller one, \
             e.g. {DEFAULT_FIB_METRIC}"
        )
        },
    );
    let blackhole_pod_cidrs = c.optional(raw.blackhole_pod_cidrs, "fib.blackhole_pod_cidrs");
    let sweep_delay = c.optional(raw.sweep_delay, "fib.sweep_delay");
    c.check(
        &sweep_delay,
        "fib.sweep_delay",
        |d| *d <= MAX_SWEEP_DELAY,
        |d| format!("sweep delay {d} s is longer than a day ({MAX_SWEEP_DELAY} s)"),
    );
    let retain_on_exit = c.optional(raw.retain_on_exit, "fib.retain_on_exit");
    FibConfig {
        enabled: enabled.or(true),
        table: table.or(DEFAULT_FIB_TABLE),
        protocol: protocol.or(DEFAULT_FIB_PROTOCOL),
        metric: metric.or(DEFAULT_FIB_METRIC),
        blackhole_pod_cidrs: blackhole_pod_cidrs.or(true),
        sweep_delay: sweep_delay.or(DEFAULT_FIB_SWEEP_DELAY),
        retain_on_exit: retain_on_exit.or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{one_error, BASE};
    use crate::Config;

    #[test]
    fn fib_table_and_protocol() {
        one_error(
            &format!("{BASE}[fib]\ntable = 0\n"),
            4,
            9,
            "fib.table",
            "table 0 is not a routing table",
        );
        one_error(
            &format!("{BASE}[fib]\ntable = 255\n"),
            4,
            9,
            "fib.table",
            "local table",
        );
        for reserved in 0..=4 {
            one_error(
                &format!("{BASE}[fib]\nprotocol = {reserved}\n"),
                4,
                12,
                "fib.protocol",
                &format!("protocol {reserved} is reserved by the kernel"),
            );
        }
        one_error(
            &format!("{BASE}[fib]\nprotocol = 256\n"),
            4,
            12,
            "fib.protocol",
            "from 0 to 255",
        );
        one_error(
            &format!("{BASE}[fib]\nenabled = \"yes\"\n"),
            4,
            11,
            "fib.enabled",
            "expected true or false",
        );
        let config = Config::parse(
            &format!("{BASE}[fib]\nenabled = false\ntable = 100\nprotocol = 5\n"),
            "f",
        );
        let fib = config.map(|c| c.fib).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((fib.enabled, fib.table, fib.protocol), (false, 100, 5));
    }

    #[test]
    fn unknown_fib_key() {
        one_error(
            &format!("{BASE}[fib]\ntable = 254\ncolour = 20\n"),
            5,
            1,
            "fib.colour",
            "unknown key `colour` in [fib]",
        );
        one_error(
            &format!("{BASE}[fib]\nsweep_dealy = 20\n"),
            4,
            1,
            "fib.sweep_dealy",
            "did you mean `sweep_delay`?",
        );
    }

    #[test]
    fn fib_metric_sweep_blackhole_retain() {
        one_error(
            &format!("{BASE}[fib]\nmetric = 0\n"),
            4,
            10,
            "fib.metric",
            "metric 0 is what `ip route add` uses",
        );
        one_error(
            &format!("{BASE}[fib]\nmetric = 4294967295\n"),
            4,
            10,
            "fib.metric",
            "reserved for the pod CIDR blackholes",
        );
        one_error(
            &format!("{BASE}[fib]\nmetric = -1\n"),
            4,
            10,
            "fib.metric",
            "",
        );
        one_error(
            &format!("{BASE}[fib]\nsweep_delay = 90000\n"),
            4,
            15,
            "fib.sweep_delay",
            "longer than a day",
        );
        one_error(
            &format!("{BASE}[fib]\nblackhole_pod_cidrs = 1\n"),
            4,
            23,
            "fib.blackhole_pod_cidrs",
            "expected true or false",
        );
        let config = Config::parse(
            &format!(
                "{BASE}[fib]\nmetric = 50\nblackhole_pod_cidrs = false\nsweep_delay = 0\n\
                 retain_on_exit = true\n"
            ),
            "f",
        );
        let fib = config.map(|c| c.fib).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                fib.metric,
                fib.blackhole_pod_cidrs,
                fib.sweep_delay,
                fib.retain_on_exit
            ),
            (50, false, 0, true)
        );
        let defaults = Config::parse(BASE, "f")
            .map(|c| c.fib)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                defaults.protocol,
                defaults.metric,
                defaults.blackhole_pod_cidrs
            ),
            (179, 179, true)
        );
        assert_eq!((defaults.sweep_delay, defaults.retain_on_exit), (30, false));
    }
}
