//! The file as written: TOML syntax, section shapes, unknown keys, spanned raw types.
//!
//! Reading happens in three passes so that one run reports as many mistakes as possible:
//! 1. TOML syntax, with the parser's error recovery (every syntax error is reported; nothing
//!    else is checked if there is one, because the recovered document is a guess).
//! 2. Shape: `[fib]` must be a table, `[[peers]]` an array of tables, and every key must be
//!    known. Unknown keys are reported (with a "did you mean") and removed, so pass 3 can go on.
//!    The known keys are read from the serde derives of the raw types themselves, so this
//!    list cannot drift from the structs.
//! 3. serde into the raw types below (`deny_unknown_fields` everywhere, as a backstop). Leaves
//!    are [`Field`]s, which keep their span and never fail the parse; `validate.rs` turns them
//!    into the plain [`crate::Config`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::PathBuf;

use ipnetwork::IpNetwork;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Problem;
use crate::value::{Field, List};

/// The top level of the file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub router_id: Option<Field<Ipv4Addr>>,
    pub asn: Option<Field<u32>>,
    pub listen: Option<Field<IpAddr>>,
    pub port: Option<Field<u16>>,
    pub pod_cidrs: Option<Spanned<List<IpNetwork>>>,
    pub max_paths: Option<Field<usize>>,
    pub control_socket: Option<Field<PathBuf>>,
    pub connect_retry: Option<Field<u16>>,
    pub idle_hold: Option<Field<u16>>,
    pub local_v6_next_hop: Option<Field<Ipv6Addr>>,
    pub fib: Option<Spanned<RawFib>>,
    #[serde(default)]
    pub peers: Vec<Spanned<RawPeer>>,
}

/// `[fib]`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFib {
    pub enabled: Option<Field<bool>>,
    pub table: Option<Field<u32>>,
    pub protocol: Option<Field<u8>>,
    pub metric: Option<Field<u32>>,
    pub blackhole_pod_cidrs: Option<Field<bool>>,
    pub sweep_delay: Option<Field<u32>>,
    pub retain_on_exit: Option<Field<bool>>,
}

/// One `[[peers]]` table; its span is the `[[peers]]` header.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPeer {
    pub address: Option<Field<IpAddr>>,
    pub asn: Option<Field<u32>>,
    pub port: Option<Field<u16>>,
    pub passive: Option<Field<bool>>,
    pub hold_time: Option<Field<u16>>,
    pub keepalive: Option<Field<u16>>,
    pub multihop: Option<Field<u8>>,
    pub description: Option<Field<String>>,
    pub export_learned: Option<Field<bool>>,
    pub local_address: Option<Field<IpAddr>>,
    pub password: Option<Field<String>>,
    pub connect_retry: Option<Field<u16>>,
    pub required_capabilities: Option<Spanned<List<crate::RequiredCapability>>>,
}

/// Reads `text` into the raw types, adding every problem found to `problems`.
///
/// Returns `None` when the document is too broken to validate further (syntax errors).
pub(crate) fn read(text: &str, problems: &mut Vec<Problem>) -> Option<RawConfig> {
    let (mut doc, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for e in syntax_errors {
            let span = e.span().unwrap_or(0..0);
            let key = path_at(doc.get_ref(), span.start);
            problems.push(Problem::new(
                span,
                key,
                format!("invalid TOML: {}", e.message()),
            ));
        }
        return None;
    }
    check_shape(doc.get_mut(), problems);
    // Kept to name the key of a serde error; the deserializer consumes `doc`.
    let lookup = doc.get_ref().clone();
    match RawConfig::deserialize(toml::de::Deserializer::from(doc)) {
        Ok(raw) => Some(raw),
        Err(e) => {
            // Not expected once `check_shape` has run: leaves never fail. Kept so that a
            // schema change cannot turn a mistake in the file into an unlocated error.
            let span = e.span().unwrap_or(0..0);
            problems.push(Problem::new(
                span.clone(),
                path_at(&lookup, span.start),
                e.message(),
            ));
            None
        }
    }
}

/// Pass 2: section shapes and unknown keys. Offending entries are reported and removed.
fn check_shape(root: &mut DeTable<'_>, problems: &mut Vec<Problem>) {
    prune_unknown(
        root,
        "",
        "at the top level",
        fields_of::<RawConfig>(),
        problems,
    );

    let fib_ok = match root.get_mut("fib") {
        None => true,
        Some(fib) => match fib.get_mut() {
            DeValue::Table(table) => {
                prune_unknown(table, "fib", "in [fib]", fields_of::<RawFib>(), problems);
                true
            }
            other => {
                let found = describe(other);
                problems.push(Problem::new(
                    fib.span(),
                    "fib",
                    format!("expected a [fib] table, found {found}"),
                ));
                false
            }
        },
    };
    if !fib_ok {
        root.remove("fib");
    }

    let peers_ok = match root.get_mut("peers") {
        None => true,
        Some(peers) => {
            let span = peers.span();
            match peers.get_mut() {
                DeValue::Array(items) => {
                    let mut ok = true;
                    for (i, item) in items.iter_mut().enumerate() {
                        let key = format!("peers[{i}]");
                        let item_span = item.span();
                        match item.get_mut() {
                            DeValue::Table(table) => prune_unknown(
                                table,
                                &key,
                                "in [[peers]]",
                                fields_of::<RawPeer>(),
                                problems,
                            ),
                            other => {
                                let found = describe(other);
                                problems.push(Problem::new(
                                    item_span,
                                    key,
                                    format!("expected a peer table, found {found}"),
                                ));
                                ok = false;
                            }
                        }
                    }
                    ok
                }
                other => {
                    let found = describe(other);
                    problems.push(Problem::new(
                        span,
                        "peers",
                        format!("expected [[peers]] tables, found {found}"),
                    ));
                    false
                }
            }
        }
    };
    if !peers_ok {
        root.remove("peers");
    }
}

/// Reports and removes the keys of `table` that are not in `known`.
fn prune_unknown(
    table: &mut DeTable<'_>,
    prefix: &str,
    section: &str,
    known: &[&str],
    problems: &mut Vec<Problem>,
) {
    let unknown: Vec<(String, Range<usize>)> = table
        .iter()
        .filter(|(key, _)| !known.contains(&key.get_ref().as_ref()))
        .map(|(key, _)| (key.get_ref().to_string(), key.span()))
        .collect();
    for (name, span) in unknown {
        table.remove(name.as_str());
        let message = match suggest(&name, known) {
            Some(close) => format!("unknown key `{name}` {section}; did you mean `{close}`?"),
            None => format!(
                "unknown key `{name}` {section}; the keys allowed here are: {}",
                known.join(", ")
            ),
        };
        problems.push(Problem::new(span, join(prefix, &name), message));
    }
}

/// The known key closest to `name`, if it looks like a typo of it.
fn suggest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, _)| *d <= 2 && *d < name.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// `prefix.key`, quoting `key` if it is not a bare TOML key.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// The path of the innermost key or value at byte `offset`, or "" if there is none.
fn path_at(table: &DeTable<'_>, offset: usize) -> String {
    find_in_table(table, offset, "").unwrap_or_default()
}

fn covers(span: Range<usize>, offset: usize) -> bool {
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

fn find_in_table(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let path = join(prefix, key.get_ref());
        // A table's span is only its header, so look inside it whatever its span.
        find_in_value(value, offset, &path).or_else(|| {
            (covers(key.span(), offset) || covers(value.span(), offset)).then_some(path)
        })
    })
}

fn find_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &str) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(table) => find_in_table(table, offset, path),
        DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let path = format!("{path}[{i}]");
            find_in_value(item, offset, &path)
                .or_else(|| covers(item.span(), offset).then_some(path))
        }),
        _ => None,
    }
}

/// The field names of a `#[derive(Deserialize)]` struct, read from the derive itself.
///
/// The derived `deserialize` hands its field list to `Deserializer::deserialize_struct`; this
/// deserializer records it and stops.
fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe always returns an error once it has the list; there is nothing else to get.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs have field names"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> (Option<RawConfig>, Vec<Problem>) {
        let mut problems = Vec::new();
        let raw = read(text, &mut problems);
        (raw, problems)
    }

    #[test]
    fn field_lists_come_from_the_derives() {
        assert_eq!(
            fields_of::<RawFib>(),
            [
                "enabled",
                "table",
                "protocol",
                "metric",
                "blackhole_pod_cidrs",
                "sweep_delay",
                "retain_on_exit"
            ]
        );
        assert_eq!(fields_of::<RawConfig>().len(), 12);
        assert!(fields_of::<RawPeer>().contains(&"hold_time"));
    }

    #[test]
    fn suggestions_for_typos_only() {
        let known = fields_of::<RawPeer>();
        assert_eq!(suggest("hold_tme", known), Some("hold_time"));
        assert_eq!(suggest("adress", known), Some("address"));
        assert_eq!(suggest("remote_as", known), None);
        assert_eq!(suggest("as", &["asn"]), Some("asn"));
        assert_eq!(suggest("ab", &["asn"]), None, "too short to guess");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn unknown_keys_are_removed_so_reading_goes_on() {
        let text =
            "router_id = \"192.0.2.1\"\nrouterid = 1\n[fib]\ntabel = 1\n[[peers]]\nfoo = 2\n";
        let (raw, found) = problems(text);
        let raw = raw.expect("unknown keys are not fatal");
        assert!(raw.router_id.is_some());
        assert_eq!(raw.peers.len(), 1);
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["routerid", "fib.tabel", "peers[0].foo"]);
        assert_eq!(&text[found[0].span.clone()], "routerid");
        assert!(found[1].message.contains("did you mean `table`?"));
        assert!(found[2].message.contains("in [[peers]]"));
    }

    #[test]
    fn wrong_section_shapes_are_reported() {
        let (raw, found) = problems("fib = 3\npeers = \"x\"\n");
        assert!(raw.is_some());
        assert_eq!(found[0].key, "fib");
        assert_eq!(found[0].message, "expected a [fib] table, found an integer");
        assert_eq!(found[1].key, "peers");
        let (_, found) = problems("peers = [1]\n");
        assert_eq!(found[0].key, "peers[0]");
        assert_eq!(found[0].message, "expected a peer table, found an integer");
    }

    #[test]
    fn syntax_errors_stop_reading_and_are_all_reported() {
        let (raw, found) = problems("asn = \nport = 1 2\n");
        assert!(raw.is_none());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found
            .iter()
            .all(|p| p.message.starts_with("invalid TOML: ")));
    }

    #[test]
    fn path_lookup_finds_nested_values() {
        let text = "a = 1\n[fib]\ntable = 2\n[[peers]]\nx = [1, 2]\n";
        let doc = DeTable::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let at = |needle: &str| path_at(doc.get_ref(), text.find(needle).unwrap_or(0));
        assert_eq!(at("1\n"), "a");
        assert_eq!(at("2\n"), "fib.table");
        assert_eq!(at("2]"), "peers[0].x[1]");
        assert_eq!(join("", "a.b"), "\"a.b\"");
    }
}
