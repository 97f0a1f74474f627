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
/// Not assigned in the kernel's `rtnetlink.h` nor iproute2's `rt_protos`. The issue that
/// installs routes may choose another default.
pub(crate) const DEFAULT_FIB_PROTOCOL: u8 = 200;
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
    FibConfig {
        enabled: enabled.or(true),
        table: table.or(DEFAULT_FIB_TABLE),
        protocol: protocol.or(DEFAULT_FIB_PROTOCOL),
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
            &format!("{BASE}[fib]\ntable = 254\nmetric = 20\n"),
            5,
            1,
            "fib.metric",
            "unknown key `metric` in [fib]",
        );
    }
}
