//! Leaf values: typed, spanned, and never fatal.
//!
//! A wrong value (`asn = "x"`, `address = "192.0.2.300"`) must not stop the parse: the operator
//! wants every mistake in the file at once. So every leaf key deserializes into a [`Field`],
//! which keeps the value's span and either the typed value or the message saying what is wrong
//! with it. Arrays of leaves use [`List`], which keeps the span of each element.

use std::fmt;
use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;

use ipnetwork::IpNetwork;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::{Spanned, Value};

/// One leaf value, with its span and either the typed value or what is wrong with it.
#[derive(Debug, Clone)]
pub(crate) struct Field<T> {
    pub span: Range<usize>,
    pub value: Result<T, String>,
}

impl<'de, T: FromToml> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Field {
            span: raw.span(),
            value: T::from_toml(raw.get_ref()),
        })
    }
}

/// An array of leaf values: each element is its own [`Field`], or the whole value is wrong
/// (not an array at all).
#[derive(Debug, Clone)]
pub(crate) struct List<T>(pub Result<Vec<Field<T>>, String>);

impl<'de, T: FromToml> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<T: FromToml> ListVisitor<T> {
    fn not_an_array<E>(found: &str) -> Result<List<T>, E> {
        Ok(List(Err(format!(
            "expected an array of {}, found {found}",
            T::PLURAL
        ))))
    }
}

impl<'de, T: FromToml> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array of {}", T::PLURAL)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Field<T>>()? {
            items.push(item);
        }
        Ok(List(Ok(items)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<List<T>, E> {
        Self::not_an_array(&format!("the boolean {v}"))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<List<T>, E> {
        Self::not_an_array(&format!("the integer {v}"))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<List<T>, E> {
        Self::not_an_array(&format!("the integer {v}"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<List<T>, E> {
        Self::not_an_array(&format!("the float {v}"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<List<T>, E> {
        Self::not_an_array(&format!("the string {v:?}"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Self::not_an_array("a table")
    }
}

/// Conversion from a TOML value, with a message an operator can act on.
pub(crate) trait FromToml: Sized {
    /// How a list of these is described in "expected an array of ..." messages.
    const PLURAL: &'static str;

    fn from_toml(value: &Value) -> Result<Self, String>;
}

/// "found ..." text for a value of the wrong type.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(x) => format!("the float {x}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the date-time {d}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}

fn string<'v>(value: &'v Value, expected: &str) -> Result<&'v str, String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(format!(
            "expected {expected} (a quoted string), found {}",
            describe(other)
        )),
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl FromToml for $t {
            const PLURAL: &'static str = "integers";

            fn from_toml(value: &Value) -> Result<Self, String> {
                match value {
                    Value::Integer(i) => <$t>::try_from(*i).map_err(|_| {
                        format!(
                            "expected an integer from 0 to {}, found {i}",
                            <$t>::MAX
                        )
                    }),
                    other => Err(format!("expected an integer, found {}", describe(other))),
                }
            }
        }
    )*};
}
unsigned!(u8, u16, u32, usize);

impl FromToml for bool {
    const PLURAL: &'static str = "booleans";

    fn from_toml(value: &Value) -> Result<Self, String> {
        match value {
            Value::Boolean(b) => Ok(*b),
            other => Err(format!("expected true or false, found {}", describe(other))),
        }
    }
}

impl FromToml for String {
    const PLURAL: &'static str = "strings";

    fn from_toml(value: &Value) -> Result<Self, String> {
        string(value, "a string").map(str::to_owned)
    }
}

impl FromToml for PathBuf {
    const PLURAL: &'static str = "paths";

    fn from_toml(value: &Value) -> Result<Self, String> {
        string(value, "a path").map(PathBuf::from)
    }
}

/// Why `text` is not an address, with a hint for the usual mistakes.
fn address_hint(text: &str, expected: &str) -> String {
    let hint = if text.parse::<SocketAddr>().is_ok() {
        "; write the address without a port (ports have their own `port` key)"
    } else if text.starts_with('[') && text.ends_with(']') {
        "; write IPv6 addresses without brackets, e.g. \"::\""
    } else if text.contains('/') {
        "; a prefix length is not allowed here"
    } else if text.contains('%') {
        "; zone indices (\"%eth0\") are not supported"
    } else {
        ""
    };
    format!("expected {expected}, found {text:?}{hint}")
}

impl FromToml for IpAddr {
    const PLURAL: &'static str = "IP addresses";

    fn from_toml(value: &Value) -> Result<Self, String> {
        const EXPECTED: &str = "an IP address such as \"192.0.2.1\" or \"2001:db8::1\"";
        let text = string(value, EXPECTED)?;
        text.parse().map_err(|_| address_hint(text, EXPECTED))
    }
}

impl FromToml for Ipv4Addr {
    const PLURAL: &'static str = "IPv4 addresses";

    fn from_toml(value: &Value) -> Result<Self, String> {
        const EXPECTED: &str = "an IPv4 address such as \"192.0.2.1\"";
        let text = string(value, EXPECTED)?;
        text.parse().map_err(|_| match text.parse::<Ipv6Addr>() {
            Ok(_) => format!("expected an IPv4 address, found the IPv6 address {text:?}"),
            Err(_) => address_hint(text, EXPECTED),
        })
    }
}

impl FromToml for Ipv6Addr {
    const PLURAL: &'static str = "IPv6 addresses";

    fn from_toml(value: &Value) -> Result<Self, String> {
        const EXPECTED: &str = "an IPv6 address such as \"2001:db8::1\"";
        let text = string(value, EXPECTED)?;
        text.parse().map_err(|_| match text.parse::<Ipv4Addr>() {
            Ok(_) => format!("expected an IPv6 address, found the IPv4 address {text:?}"),
            Err(_) => address_hint(text, EXPECTED),
        })
    }
}

impl FromToml for IpNetwork {
    const PLURAL: &'static str = "CIDR prefixes";

    /// Parses `address/length` strictly: the address in standard notation (no "10/8"
    /// shorthand) and an explicit length. Host bits are checked later, by the validator, so
    /// that the message can suggest the intended prefix.
    fn from_toml(value: &Value) -> Result<Self, String> {
        const EXPECTED: &str = "a CIDR prefix such as \"10.244.1.0/24\" or \"fd00::/64\"";
        let text = string(value, EXPECTED)?;
        let Some((address, length)) = text.split_once('/') else {
            return Err(format!(
                "expected {EXPECTED}, found {text:?}: the prefix length is missing"
            ));
        };
        let address: IpAddr = address.parse().map_err(|_| {
            format!("expected {EXPECTED}, found {text:?}: {address:?} is not an IP address")
        })?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let length = length
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max && length.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!("expected {EXPECTED}, found {text:?}: the prefix length must be 0 to {max}")
            })?;
        IpNetwork::new(address, length).map_err(|e| format!("invalid CIDR prefix {text:?}: {e}"))
    }
}

impl FromToml for crate::RequiredCapability {
    const PLURAL: &'static str = "capability names";

    fn from_toml(value: &Value) -> Result<Self, String> {
        let names = || {
            crate::RequiredCapability::ALL
                .iter()
                .map(|(_, n)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match value {
            Value::String(s) => crate::RequiredCapability::ALL
                .iter()
                .find(|(_, n)| n == s)
                .map(|(c, _)| *c)
                .ok_or_else(|| format!("unknown capability {s:?}; known: {}", names())),
            other => Err(format!(
                "expected a capability name ({}), found {}",
                names(),
                describe(other)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.to_owned())
    }

    #[test]
    fn integers_check_their_range_and_type() {
        assert_eq!(u16::from_toml(&Value::Integer(179)), Ok(179));
        assert_eq!(
            u16::from_toml(&Value::Integer(70000)),
            Err("expected an integer from 0 to 65535, found 70000".to_owned())
        );
        assert_eq!(
            u32::from_toml(&Value::Integer(-1)),
            Err("expected an integer from 0 to 4294967295, found -1".to_owned())
        );
        assert_eq!(
            u8::from_toml(&s("200")),
            Err("expected an integer, found the string \"200\"".to_owned())
        );
        assert_eq!(
            u16::from_toml(&Value::Float(90.0)),
            Err("expected an integer, found the float 90".to_owned())
        );
    }

    #[test]
    fn addresses_explain_common_mistakes() {
        assert_eq!(
            IpAddr::from_toml(&s("::")),
            Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        );
        let port = IpAddr::from_toml(&s("192.0.2.1:179")).expect_err("must be rejected");
        assert!(port.contains("without a port"), "{port}");
        let brackets = IpAddr::from_toml(&s("[::]")).expect_err("must be rejected");
        assert!(brackets.contains("without brackets"), "{brackets}");
        let prefix = IpAddr::from_toml(&s("192.0.2.0/24")).expect_err("must be rejected");
        assert!(prefix.contains("prefix length is not allowed"), "{prefix}");
        let zone = IpAddr::from_toml(&s("fe80::1%eth0")).expect_err("must be rejected");
        assert!(zone.contains("zone"), "{zone}");
        let v6 = Ipv4Addr::from_toml(&s("2001:db8::1")).expect_err("must be rejected");
        assert_eq!(
            v6,
            "expected an IPv4 address, found the IPv6 address \"2001:db8::1\""
        );
        let v4 = Ipv6Addr::from_toml(&s("192.0.2.1")).expect_err("must be rejected");
        assert_eq!(
            v4,
            "expected an IPv6 address, found the IPv4 address \"192.0.2.1\""
        );
        let bad = Ipv4Addr::from_toml(&s("192.0.2.300")).expect_err("must be rejected");
        assert_eq!(
            bad,
            "expected an IPv4 address such as \"192.0.2.1\", found \"192.0.2.300\""
        );
        let number = IpAddr::from_toml(&Value::Integer(1)).expect_err("must be rejected");
        assert!(number.contains("found the integer 1"), "{number}");
    }

    #[test]
    fn cidrs_are_parsed_strictly() {
        let ok = IpNetwork::from_toml(&s("fd00:10:244:1::/64")).expect("valid");
        assert_eq!(ok.prefix(), 64);
        for (text, needle) in [
            ("10.244.1.0", "prefix length is missing"),
            ("10/8", "is not an IP address"),
            ("10.0.0.0/33", "must be 0 to 32"),
            ("10.0.0.0/+8", "must be 0 to 32"),
            ("fd00::/129", "must be 0 to 128"),
            ("10.0.0.0/", "must be 0 to 32"),
        ] {
            let e = IpNetwork::from_toml(&s(text)).expect_err("must be rejected");
            assert!(e.contains(needle), "{text}: {e}");
        }
        // Host bits are the validator's business: the value itself parses.
        assert!(IpNetwork::from_toml(&s("10.244.1.5/24")).is_ok());
    }

    #[test]
    fn booleans_and_strings() {
        assert_eq!(bool::from_toml(&Value::Boolean(true)), Ok(true));
        assert_eq!(
            bool::from_toml(&s("yes")),
            Err("expected true or false, found the string \"yes\"".to_owned())
        );
        assert_eq!(String::from_toml(&s("node-2")), Ok("node-2".to_owned()));
        assert_eq!(
            PathBuf::from_toml(&s("/run/x.sock")),
            Ok(PathBuf::from("/run/x.sock"))
        );
    }
}
