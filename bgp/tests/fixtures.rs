//! Malformed-message conformance fixtures.
//!
//! `tests/fixtures/malformed/` (at the workspace root) holds one whole BGP message per case,
//! `<case>.bin`, and beside it `<case>.expect`:
//!
//! ```text
//! notification CODE SUBCODE [HEXDATA]   decoding fails with exactly this NOTIFICATION
//!                                       (no HEXDATA: the data must be empty)
//! treat-as-withdraw                     an UPDATE whose strongest fault is treat-as-withdraw
//! discard TYPECODE                      an UPDATE whose strongest fault is attribute discard,
//!                                       one of them on attribute TYPECODE
//! keep-partial TYPECODE                 an UPDATE without faults that keeps unknown attribute
//!                                       TYPECODE and sends it on with the Partial bit set
//! ok                                    decodes without any fault
//! ```
//!
//! An optional second line `ctx WORD...` sets the session: `ibgp`, `four_octet_as`,
//! `extended_message` (default: eBGP, 2-octet AS, 4096-octet messages). OPEN messages also go
//! through `check_open_basic`, as the FSM does.
//!
//! `fixtures_decode_as_expected` reads the directory, so a changed outcome fails it; it also
//! fails on an empty directory or a file without its sibling. The cases below were written by
//! hand from the RFCs; `write_fixtures` (ignored) regenerates the files from them:
//!
//! ```text
//! cargo test -p bgpod-bgp --test fixtures -- --ignored write_fixtures
//! ```
//!
//! Files not defined here (a fuzz crash kept as a fixture, say) are checked all the same.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bgpod_bgp::wire::iana::attr_flags;
use bgpod_bgp::wire::{
    check_open_basic, frame_len, AttrAction, DecodeError, Message, SessionContext, HEADER_LEN,
};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/malformed")
}

// ----- building messages by hand -----

fn raw_header(len: u16, msg_type: u8) -> Vec<u8> {
    let mut v = vec![0xff; 16];
    v.extend_from_slice(&len.to_be_bytes());
    v.push(msg_type);
    v
}

fn message(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = raw_header((HEADER_LEN + body.len()) as u16, msg_type);
    v.extend_from_slice(body);
    v
}

/// OPEN with `params` after an Optional Parameters Length of `opt_len`.
fn open_raw(
    version: u8,
    my_as: u16,
    hold: u16,
    id: [u8; 4],
    opt_len: u8,
    params: &[u8],
) -> Vec<u8> {
    let mut body = vec![version];
    body.extend_from_slice(&my_as.to_be_bytes());
    body.extend_from_slice(&hold.to_be_bytes());
    body.extend_from_slice(&id);
    body.push(opt_len);
    body.extend_from_slice(params);
    message(1, &body)
}

/// One Capabilities parameter: MP IPv4 unicast, 4-octet AS 65001.
const CAPS: [u8; 14] = [2, 12, 1, 4, 0, 1, 0, 1, 65, 4, 0, 0, 0xfd, 0xe9];

fn open(version: u8, my_as: u16, hold: u16, id: [u8; 4]) -> Vec<u8> {
    open_raw(version, my_as, hold, id, CAPS.len() as u8, &CAPS)
}

fn attr(flags: u8, type_code: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, type_code];
    if flags & attr_flags::EXTENDED_LENGTH != 0 {
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        v.push(value.len() as u8);
    }
    v.extend_from_slice(value);
    v
}

fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut body = (withdrawn.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(withdrawn);
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(nlri);
    message(2, &body)
}

fn origin_igp() -> Vec<u8> {
    attr(0x40, 1, &[0])
}
/// AS_PATH AS_SEQUENCE 65001 with 2-octet ASes.
fn as_path() -> Vec<u8> {
    attr(0x40, 2, &[2, 1, 0xfd, 0xe9])
}
fn next_hop() -> Vec<u8> {
    attr(0x40, 3, &[192, 0, 2, 1])
}
fn mandatory() -> Vec<u8> {
    [origin_igp(), as_path(), next_hop()].concat()
}
fn with_mandatory(extra: &[u8]) -> Vec<u8> {
    [mandatory(), extra.to_vec()].concat()
}
/// 10.1.2.0/24
const NLRI: [u8; 4] = [24, 10, 1, 2];

/// MP_REACH_NLRI for 2001:db8:1::/48 via 2001:db8::1.
fn mp_reach_v6() -> Vec<u8> {
    let mut v = vec![0, 2, 1, 16, 0x20, 0x01, 0x0d, 0xb8];
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(&[0, 48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
    attr(0x80, 14, &v)
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expect: String,
}

fn case(name: &'static str, bytes: Vec<u8>, expect: &str) -> Case {
    Case {
        name,
        bytes,
        expect: expect.to_string(),
    }
}

/// The fixtures, written from the RFCs (section in the comment).
fn cases() -> Vec<Case> {
    let id = [192, 0, 2, 1];
    let mut v = vec![
        // RFC 4271 §6.1: marker, length, type.
        case(
            "header_bad_marker",
            {
                let mut m = message(4, &[]);
                m[5] = 0;
                m
            },
            "notification 1 1",
        ),
        case(
            "header_length_too_small",
            raw_header(18, 4),
            "notification 1 2 0012",
        ),
        case(
            "header_length_too_big",
            {
                let mut m = raw_header(4097, 2);
                m.resize(4097, 0);
                m
            },
            "notification 1 2 1001",
        ),
        case("header_bad_type", message(99, &[]), "notification 1 3 63"),
        case(
            "keepalive_with_body",
            message(4, &[0]),
            "notification 1 2 0014",
        ),
        case(
            "open_too_short",
            message(1, &[4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1]),
            "notification 1 2 001c",
        ),
        case(
            "notification_too_short",
            message(3, &[6]),
            "notification 1 2 0014",
        ),
        // RFC 4271 §6.2 (check_open_basic), RFC 7607 §2.
        case(
            "open_version_3",
            open(3, 65001, 90, id),
            "notification 2 1 0004",
        ),
        case(
            "open_hold_time_1",
            open(4, 65001, 1, id),
            "notification 2 6",
        ),
        case(
            "open_hold_time_2",
            open(4, 65001, 2, id),
            "notification 2 6",
        ),
        case(
            "open_bgp_id_zero",
            open(4, 65001, 90, [0, 0, 0, 0]),
            "notification 2 3",
        ),
        case(
            "open_peer_as_zero",
            open_raw(4, 0, 90, id, 0, &[]),
            "notification 2 2",
        ),
        // RFC 4271 §6.2 / RFC 5492: optional parameter structure.
        case(
            "open_unsupported_optional_parameter",
            open_raw(4, 65001, 90, id, 4, &[1, 2, 0, 0]),
            "notification 2 4",
        ),
        case(
            "open_truncated_capability",
            open_raw(4, 65001, 90, id, 6, &[2, 4, 65, 4, 0, 0]),
            "notification 2 0",
        ),
        case(
            "open_optional_parameters_overrun",
            {
                // Optional Parameters Length 20 with 14 octets of parameters.
                let mut m = open(4, 65001, 90, id);
                m[28] = 20;
                m
            },
            "notification 2 0",
        ),
        case(
            "open_extended_optional_parameters",
            open_raw(
                4,
                65001,
                90,
                id,
                255,
                &[255, 0, 9, 2, 0, 6, 65, 4, 0, 0, 0xfd, 0xe9],
            ),
            "ok",
        ),
        case("open_well_formed", open(4, 65001, 90, id), "ok"),
        // RFC 7606 §3(b): the length fields.
        case(
            "update_withdrawn_length_overrun",
            message(2, &[0, 50, 0, 0]),
            "notification 3 1",
        ),
        case(
            "update_total_attribute_length_overrun",
            {
                let mut body = vec![0, 0, 0, 100];
                body.extend_from_slice(&mandatory());
                message(2, &body)
            },
            "notification 3 1",
        ),
        // RFC 7606 §4 (treat-as-withdraw) and §5.2 (reset when no NLRI is located).
        case(
            "update_attribute_length_overrun",
            update(&[], &with_mandatory(&[0xc0, 8, 8, 0, 0, 0, 1]), &NLRI),
            "treat-as-withdraw",
        ),
        case(
            "update_attribute_length_overrun_no_nlri",
            update(&[], &with_mandatory(&[0xc0, 8, 8, 0, 0, 0, 1]), &[]),
            "notification 3 1",
        ),
        // RFC 7606 §3(c): flags.
        case(
            "update_origin_flags_error",
            update(
                &[],
                &[attr(0xc0, 1, &[0]), as_path(), next_hop()].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        // RFC 7606 §3(g): duplicates.
        case(
            "update_duplicate_attribute",
            update(
                &[],
                &with_mandatory(
                    &[attr(0x80, 4, &[0, 0, 0, 1]), attr(0x80, 4, &[0, 0, 0, 2])].concat(),
                ),
                &NLRI,
            ),
            "discard 4",
        ),
        case(
            "update_duplicate_mp_reach",
            update(
                &[],
                &[mp_reach_v6(), mp_reach_v6(), origin_igp(), as_path()].concat(),
                &[],
            ),
            "notification 3 1",
        ),
        // RFC 7606 §3(d): missing well-known attributes.
        case(
            "update_missing_origin",
            update(&[], &[as_path(), next_hop()].concat(), &NLRI),
            "treat-as-withdraw",
        ),
        case(
            "update_missing_as_path",
            update(&[], &[origin_igp(), next_hop()].concat(), &NLRI),
            "treat-as-withdraw",
        ),
        case(
            "update_missing_next_hop",
            update(&[], &[origin_igp(), as_path()].concat(), &NLRI),
            "treat-as-withdraw",
        ),
        case(
            "update_missing_local_pref_ibgp",
            update(&[], &mandatory(), &NLRI),
            "treat-as-withdraw\nctx ibgp",
        ),
        case("update_withdraw_only", update(&NLRI, &[], &[]), "ok"),
        // RFC 7606 §7.1 ORIGIN, §7.2 AS_PATH.
        case(
            "update_origin_bad_value",
            update(
                &[],
                &[attr(0x40, 1, &[3]), as_path(), next_hop()].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        case(
            "update_as_path_bad_segment_type",
            update(
                &[],
                &[origin_igp(), attr(0x40, 2, &[5, 1, 0xfd, 0xe9]), next_hop()].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        case(
            "update_as_path_zero_length_segment",
            update(
                &[],
                &[origin_igp(), attr(0x40, 2, &[2, 0]), next_hop()].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        case(
            "update_as_path_segment_overrun",
            update(
                &[],
                &[origin_igp(), attr(0x40, 2, &[2, 2, 0xfd, 0xe9]), next_hop()].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        // RFC 6793 §6 / §4.1: AS4_PATH.
        case(
            "update_as4_path_malformed",
            update(
                &[],
                &with_mandatory(&attr(0xc0, 17, &[2, 2, 0, 0, 0xfd, 0xe9])),
                &NLRI,
            ),
            "discard 17",
        ),
        case(
            "update_as4_path_from_four_octet_speaker",
            update(
                &[],
                &[
                    origin_igp(),
                    attr(0x40, 2, &[2, 1, 0, 0, 0xfd, 0xe9]),
                    next_hop(),
                    attr(0xc0, 17, &[2, 1, 0, 0, 0xfd, 0xe9]),
                ]
                .concat(),
                &NLRI,
            ),
            "discard 17\nctx four_octet_as",
        ),
        // RFC 7606 §7.3 and RFC 4271 §6.3 (with §3(e)): NEXT_HOP.
        case(
            "update_next_hop_zero",
            update(
                &[],
                &[origin_igp(), as_path(), attr(0x40, 3, &[0, 0, 0, 0])].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        case(
            "update_next_hop_multicast",
            update(
                &[],
                &[origin_igp(), as_path(), attr(0x40, 3, &[224, 0, 0, 1])].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        case(
            "update_next_hop_broadcast",
            update(
                &[],
                &[
                    origin_igp(),
                    as_path(),
                    attr(0x40, 3, &[255, 255, 255, 255]),
                ]
                .concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        case(
            "update_next_hop_bad_length",
            update(
                &[],
                &[origin_igp(), as_path(), attr(0x40, 3, &[192, 0, 2])].concat(),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        // RFC 4271 §6.3, RFC 7606 §5.3: NLRI and Withdrawn Routes syntax.
        case(
            "update_nlri_prefix_length_33",
            update(&[], &mandatory(), &[33, 10, 1, 2, 3, 4]),
            "notification 3 10",
        ),
        case(
            "update_nlri_truncated",
            update(&[], &mandatory(), &[24, 10, 1]),
            "notification 3 10",
        ),
        case(
            "update_withdrawn_prefix_length_33",
            update(&[33, 10, 1, 2, 3, 4], &[], &[]),
            "notification 3 10",
        ),
        // RFC 7606 §7.4 MED, §7.5 LOCAL_PREF, §7.6 ATOMIC_AGGREGATE, §7.7 AGGREGATOR.
        case(
            "update_med_bad_length",
            update(&[], &with_mandatory(&attr(0x80, 4, &[0, 1])), &NLRI),
            "treat-as-withdraw",
        ),
        case(
            "update_local_pref_from_ebgp",
            update(&[], &with_mandatory(&attr(0x40, 5, &[0, 0, 0, 100])), &NLRI),
            "discard 5",
        ),
        case(
            "update_atomic_aggregate_length_1",
            update(&[], &with_mandatory(&attr(0x40, 6, &[0])), &NLRI),
            "discard 6",
        ),
        case(
            "update_aggregator_bad_length",
            update(
                &[],
                &with_mandatory(&attr(0xc0, 7, &[0xfd, 0xe9, 10, 0, 0])),
                &NLRI,
            ),
            "discard 7",
        ),
        // RFC 7606 §7.8, §4 (zero length), RFC 8092 §6.
        case(
            "update_communities_zero_length",
            update(&[], &with_mandatory(&attr(0xc0, 8, &[])), &NLRI),
            "treat-as-withdraw",
        ),
        case(
            "update_large_communities_bad_length",
            update(
                &[],
                &with_mandatory(&attr(0xc0, 32, &[0, 0, 0, 1, 0, 0, 0, 2])),
                &NLRI,
            ),
            "treat-as-withdraw",
        ),
        // RFC 4271 §6.3 / §9: unknown attributes.
        case(
            "update_unknown_optional_transitive",
            update(&[], &with_mandatory(&attr(0xc0, 99, &[1, 2, 3])), &NLRI),
            "keep-partial 99",
        ),
        case(
            "update_unknown_optional_non_transitive",
            update(&[], &with_mandatory(&attr(0x80, 98, &[1, 2, 3])), &NLRI),
            "ok",
        ),
        case(
            "update_mp_reach_unknown_family",
            update(
                &[],
                &[
                    attr(
                        0x80,
                        14,
                        &[0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                    ),
                    origin_igp(),
                    as_path(),
                ]
                .concat(),
                &[],
            ),
            "ok",
        ),
        case("update_well_formed", update(&[], &mandatory(), &NLRI), "ok"),
        // RFC 7313 §5: ROUTE-REFRESH length.
        case("route_refresh_bad_length", message(5, &[0, 1, 0, 1, 0]), ""),
    ];
    // Cases whose NOTIFICATION data is the offending attribute (RFC 4271 §6.3) or message
    // (RFC 7313 §5): the expectation names those bytes.
    let unknown_well_known = attr(0x40, 99, &[1]);
    v.push(case(
        "update_unknown_well_known",
        update(&[], &with_mandatory(&unknown_well_known), &NLRI),
        &format!("notification 3 2 {}", hex::encode(&unknown_well_known)),
    ));
    let bad_nh_len = {
        let mut value = vec![0, 2, 1, 4, 192, 0, 2, 1, 0];
        value.extend_from_slice(&[48, 0x20, 0x01, 0x0d, 0xb8, 0, 1]);
        attr(0x80, 14, &value)
    };
    v.push(case(
        "update_mp_reach_bad_next_hop_length",
        update(
            &[],
            &[bad_nh_len.clone(), origin_igp(), as_path()].concat(),
            &[],
        ),
        &format!("notification 3 9 {}", hex::encode(&bad_nh_len)),
    ));
    let truncated_unreach = attr(0x80, 15, &[0, 2, 1, 64, 0x20, 0x01, 0x0d, 0xb8]);
    v.push(case(
        "update_mp_unreach_truncated",
        update(&[], &truncated_unreach, &[]),
        &format!("notification 3 9 {}", hex::encode(&truncated_unreach)),
    ));
    for c in &mut v {
        if c.name == "route_refresh_bad_length" {
            c.expect = format!("notification 7 1 {}", hex::encode(&c.bytes));
        }
    }
    v
}

// ----- checking -----

#[derive(Debug)]
enum Expect {
    Notification {
        code: u8,
        subcode: u8,
        data: Vec<u8>,
    },
    TreatAsWithdraw,
    Discard(u8),
    KeepPartial(u8),
    Ok,
}

fn parse_expect(text: &str) -> Result<(Expect, SessionContext), String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first: Vec<&str> = lines
        .next()
        .ok_or("empty .expect")?
        .split_whitespace()
        .collect();
    let num = |s: &str| {
        s.parse::<u8>()
            .map_err(|e| format!("bad number {s:?}: {e}"))
    };
    let expect = match first.as_slice() {
        ["notification", code, subcode] => Expect::Notification {
            code: num(code)?,
            subcode: num(subcode)?,
            data: Vec::new(),
        },
        ["notification", code, subcode, data] => Expect::Notification {
            code: num(code)?,
            subcode: num(subcode)?,
            data: hex::decode(data).map_err(|e| format!("bad hex: {e}"))?,
        },
        ["treat-as-withdraw"] => Expect::TreatAsWithdraw,
        ["discard", t] => Expect::Discard(num(t)?),
        ["keep-partial", t] => Expect::KeepPartial(num(t)?),
        ["ok"] => Expect::Ok,
        other => return Err(format!("unknown expectation {other:?}")),
    };
    let mut ctx = SessionContext::default();
    if let Some(line) = lines.next() {
        let mut words = line.split_whitespace();
        if words.next() != Some("ctx") {
            return Err(format!("second line must start with ctx: {line:?}"));
        }
        for word in words {
            match word {
                "ibgp" => ctx.ibgp = true,
                "four_octet_as" => ctx.four_octet_as = true,
                "extended_message" => ctx.extended_message = true,
                other => return Err(format!("unknown ctx word {other:?}")),
            }
        }
    }
    Ok((expect, ctx))
}

/// Decodes as the daemon does: framing, decode, then the OPEN checks of the FSM.
fn decode(bytes: &[u8], ctx: &SessionContext) -> Result<Message, DecodeError> {
    let message = Message::decode(bytes, ctx)?;
    if let Message::Open(open) = &message {
        check_open_basic(open)?;
    }
    Ok(message)
}

/// Flags of attribute `type_code` in an encoded UPDATE.
fn sent_flags(encoded: &[u8], type_code: u8) -> Option<u8> {
    let body = encoded.get(HEADER_LEN..)?;
    let withdrawn = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let at = 2 + withdrawn;
    let attr_len = usize::from(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]));
    let mut attrs = body.get(at + 2..at + 2 + attr_len)?;
    while let [flags, t, rest @ ..] = attrs {
        let (len, skip) = if flags & attr_flags::EXTENDED_LENGTH != 0 {
            (
                usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
                2,
            )
        } else {
            (usize::from(*rest.first()?), 1)
        };
        if *t == type_code {
            return Some(*flags);
        }
        attrs = rest.get(skip + len..)?;
    }
    None
}

fn check(bytes: &[u8], expect: &Expect, ctx: &SessionContext) -> Result<(), String> {
    let framed = frame_len(bytes, ctx.max_message_len());
    let decoded = decode(bytes, ctx);
    if let Expect::Notification {
        code,
        subcode,
        data,
    } = expect
    {
        let err = match &decoded {
            Err(e) => e,
            Ok(m) => return Err(format!("decoded, expected {code}/{subcode}: {m:?}")),
        };
        if (err.code, err.subcode, &err.data) != (*code, *subcode, data) {
            return Err(format!(
                "got {}/{} data {}, expected {code}/{subcode} data {} ({})",
                err.code,
                err.subcode,
                hex::encode(&err.data),
                hex::encode(data),
                err.reason
            ));
        }
        // Framing either reports the same header error at once or hands over the frame.
        return match framed {
            Err(e) if e == *err => Ok(()),
            Ok(Some(n)) if n == bytes.len() => Ok(()),
            other => Err(format!("frame_len disagrees: {other:?}")),
        };
    }
    if framed != Ok(Some(bytes.len())) {
        return Err(format!("frame_len: {framed:?}"));
    }
    let message = decoded.map_err(|e| format!("unexpected error: {e}"))?;
    let update = match (&message, expect) {
        (Message::Update(u), _) => u,
        (_, Expect::Ok) => return Ok(()),
        (other, _) => return Err(format!("not an UPDATE: {other:?}")),
    };
    let strongest = update.strongest_action();
    match expect {
        Expect::Ok if update.faults.is_empty() => Ok(()),
        Expect::TreatAsWithdraw if strongest == Some(AttrAction::TreatAsWithdraw) => Ok(()),
        Expect::Discard(t)
            if strongest == Some(AttrAction::Discard)
                && update.faults.iter().any(|f| f.type_code == *t) =>
        {
            Ok(())
        }
        Expect::KeepPartial(t) if update.faults.is_empty() => {
            let kept = update.attributes.unknown.iter().find(|a| a.type_code == *t);
            match kept {
                Some(a) if a.flags & attr_flags::PARTIAL != 0 => {}
                other => return Err(format!("attribute {t} not kept with Partial: {other:?}")),
            }
            let sent = message.to_bytes(ctx);
            match sent_flags(&sent, *t) {
                Some(flags) if flags & attr_flags::PARTIAL != 0 => Ok(()),
                other => Err(format!("attribute {t} sent with flags {other:?}")),
            }
        }
        _ => Err(format!("faults {:?}", update.faults)),
    }
}

/// Every `<case>.bin` and `<case>.expect` in the directory, by case name.
fn read_dir() -> BTreeMap<String, (Option<Vec<u8>>, Option<String>)> {
    let mut found: BTreeMap<String, (Option<Vec<u8>>, Option<String>)> = BTreeMap::new();
    let dir = fixture_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else {
            continue;
        };
        let stem = stem.to_string_lossy().into_owned();
        match ext.to_str() {
            Some("bin") => {
                found.entry(stem).or_default().0 = Some(std::fs::read(&path).expect("read .bin"));
            }
            Some("expect") => {
                found.entry(stem).or_default().1 =
                    Some(std::fs::read_to_string(&path).expect("read .expect"));
            }
            _ => {}
        }
    }
    found
}

#[test]
fn fixtures_decode_as_expected() {
    let found = read_dir();
    assert!(
        !found.is_empty(),
        "no fixtures in {}",
        fixture_dir().display()
    );
    let mut failures = Vec::new();
    for (name, files) in &found {
        let (Some(bytes), Some(expect)) = files else {
            failures.push(format!("{name}: needs both {name}.bin and {name}.expect"));
            continue;
        };
        let result = parse_expect(expect).and_then(|(e, ctx)| check(bytes, &e, &ctx));
        if let Err(why) = result {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n{}",
        failures.len(),
        found.len(),
        failures.join("\n")
    );
}

/// The files on disk are the ones the cases above describe (regenerate with `write_fixtures`).
#[test]
fn fixtures_match_their_definitions() {
    let found = read_dir();
    for c in cases() {
        let Some((Some(bytes), Some(expect))) = found.get(c.name) else {
            panic!("{} is defined but not on disk: run write_fixtures", c.name);
        };
        assert_eq!(
            bytes, &c.bytes,
            "{}.bin differs from its definition",
            c.name
        );
        assert_eq!(expect.trim_end(), c.expect, "{}.expect differs", c.name);
    }
}

#[test]
#[ignore = "writes tests/fixtures/malformed/; run explicitly to regenerate"]
fn write_fixtures() {
    let dir = fixture_dir();
    std::fs::create_dir_all(&dir).expect("create fixture directory");
    for c in cases() {
        std::fs::write(dir.join(format!("{}.bin", c.name)), &c.bytes).expect("write .bin");
        std::fs::write(
            dir.join(format!("{}.expect", c.name)),
            format!("{}\n", c.expect),
        )
        .expect("write .expect");
    }
}
