//! `pod_cidrs`: the prefixes this node advertises.

use std::ops::Range;

use ipnetwork::IpNetwork;
use toml::Spanned;

use super::{Checker, Got};
use crate::value::List;

/// `pod_cidrs`: each a network address (host bits zero); none overlapping another.
pub(super) fn validate(
    c: &mut Checker<'_>,
    raw: Option<Spanned<List<IpNetwork>>>,
) -> Vec<IpNetwork> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let span = raw.span();
    let items = match raw.into_inner().0 {
        Ok(items) => items,
        Err(message) => {
            c.report(span, "pod_cidrs", message);
            return Vec::new();
        }
    };
    let mut good: Vec<(usize, IpNetwork, Range<usize>)> = Vec::new();
    let mut all = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let key = format!("pod_cidrs[{i}]");
        let Got::Value(cidr, span) = c.optional(Some(item), &key) else {
            continue;
        };
        all.push(cidr);
        if cidr.ip() != cidr.network() {
            let intended = IpNetwork::new(cidr.network(), cidr.prefix()).unwrap_or(cidr);
            c.report(
                span,
                &key,
                format!("{cidr} has host bits set; did you mean {intended}?"),
            );
            continue;
        }
        if let Some((j, other, other_span)) =
            good.iter().find(|(_, other, _)| overlaps(cidr, *other))
        {
            let line = c.line_of(other_span);
            let message = if cidr == *other {
                format!("{cidr} is listed twice: also pod_cidrs[{j}] (line {line})")
            } else {
                format!("{cidr} overlaps pod_cidrs[{j}] = {other} (line {line})")
            };
            c.report(span, &key, message);
            continue;
        }
        good.push((i, cidr, span));
    }
    all
}

fn overlaps(a: IpNetwork, b: IpNetwork) -> bool {
    a.is_ipv4() == b.is_ipv4() && (a.contains(b.network()) || b.contains(a.network()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{errors, one_error, BASE};

    #[test]
    fn pod_cidr_with_host_bits() {
        one_error(
            &format!("{BASE}pod_cidrs = [\"10.244.0.0/16\", \"10.244.1.5/24\"]\n"),
            3,
            31,
            "pod_cidrs[1]",
            "10.244.1.5/24 has host bits set; did you mean 10.244.1.0/24?",
        );
        one_error(
            &format!("{BASE}pod_cidrs = [\"fd00::1/64\"]\n"),
            3,
            14,
            "pod_cidrs[0]",
            "did you mean fd00::/64?",
        );
    }

    #[test]
    fn pod_cidrs_duplicate_and_overlapping() {
        let text = format!("{BASE}pod_cidrs = [\n  \"10.244.0.0/16\",\n  \"fd00::/64\",\n  \"10.244.1.0/24\",\n  \"fd00::/64\",\n]\n");
        let errors = errors(&text);
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert_eq!(
            (errors[0].line, errors[0].column, errors[0].key.as_str()),
            (6, 3, "pod_cidrs[2]")
        );
        assert_eq!(
            errors[0].message,
            "10.244.1.0/24 overlaps pod_cidrs[0] = 10.244.0.0/16 (line 4)"
        );
        assert_eq!(
            (errors[1].line, errors[1].key.as_str()),
            (7, "pod_cidrs[3]")
        );
        assert_eq!(
            errors[1].message,
            "fd00::/64 is listed twice: also pod_cidrs[1] (line 5)"
        );
    }

    #[test]
    fn pod_cidrs_bad_values() {
        one_error(
            &format!("{BASE}pod_cidrs = [\"10.244.1.0\"]\n"),
            3,
            14,
            "pod_cidrs[0]",
            "prefix length is missing",
        );
        one_error(
            &format!("{BASE}pod_cidrs = [\"10.244.1.0/24\", 7]\n"),
            3,
            31,
            "pod_cidrs[1]",
            "found the integer 7",
        );
        one_error(
            &format!("{BASE}pod_cidrs = \"10.244.1.0/24\"\n"),
            3,
            13,
            "pod_cidrs",
            "expected an array of CIDR prefixes",
        );
    }
}
