//! The bytes of the requests, checked field by field, and parsing them back.

use super::*;
use crate::types::{Route, RTN_BLACKHOLE, RTN_UNICAST};

fn p(s: &str) -> IpNetwork {
    s.parse().expect("test prefix")
}
fn nh(g: &str, ifindex: u32) -> NextHop {
    NextHop {
        gateway: g.parse().expect("test address"),
        ifindex,
    }
}

/// The top-level attributes of an rtmsg payload: (type, value).
fn attrs(payload: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut out = Vec::new();
    let mut b = &payload[12..];
    while b.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let kind = u16::from_ne_bytes([b[2], b[3]]);
        assert!(len >= 4 && len <= b.len(), "attribute length {len}");
        out.push((kind, b[4..len].to_vec()));
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    out
}

fn attr(list: &[(u16, Vec<u8>)], kind: u16) -> Option<Vec<u8>> {
    list.iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| v.clone())
}

fn u32_of(v: &[u8]) -> u32 {
    u32::from_ne_bytes(v.try_into().expect("4 bytes"))
}

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;

fn one(op: &FibOp, table: u32, seq: u32, ack: bool) -> (Header, Vec<u8>) {
    let mut buf = Vec::new();
    emit(&mut buf, op, table, 179, seq, ack);
    assert_eq!(buf.len() % 4, 0);
    let v: Vec<_> = messages(&buf).map(|(h, p)| (h, p.to_vec())).collect();
    assert_eq!(v.len(), 1);
    v.into_iter().next().expect("one message")
}

#[test]
fn single_path_replace_in_main() {
    let op = FibOp::Replace(Route {
        prefix: p("10.244.2.0/24"),
        metric: 20,
        target: RouteTarget::Unicast(vec![nh("10.99.0.2", 7)]),
    });
    let (h, payload) = one(&op, 254, 42, false);
    assert_eq!(h.kind, RTM_NEWROUTE);
    assert_eq!(h.flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE);
    assert_eq!(h.seq, 42);
    assert_eq!(h.len as usize, NLMSG_HDR_LEN + payload.len());
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    assert_eq!(&payload[..8], &[2, 24, 0, 0, 254, 179, 0, RTN_UNICAST]);
    assert_eq!(&payload[8..12], &[0, 0, 0, 0]);
    let a = attrs(&payload);
    assert_eq!(attr(&a, RTA_DST), Some(vec![10, 244, 2, 0]));
    assert_eq!(attr(&a, RTA_TABLE).map(|v| u32_of(&v)), Some(254));
    assert_eq!(attr(&a, RTA_PRIORITY).map(|v| u32_of(&v)), Some(20));
    assert_eq!(attr(&a, RTA_GATEWAY), Some(vec![10, 99, 0, 2]));
    assert_eq!(attr(&a, RTA_OIF).map(|v| u32_of(&v)), Some(7));
    assert_eq!(attr(&a, RTA_MULTIPATH), None);
}

#[test]
fn table_above_255_goes_in_rta_table_only() {
    let op = FibOp::Replace(Route {
        prefix: p("10.244.2.0/24"),
        metric: 20,
        target: RouteTarget::Unicast(vec![nh("10.99.0.2", 7)]),
    });
    let (_, payload) = one(&op, 1000, 1, true);
    assert_eq!(payload[4], 0, "RT_TABLE_UNSPEC in the header");
    assert_eq!(
        attr(&attrs(&payload), RTA_TABLE).map(|v| u32_of(&v)),
        Some(1000)
    );
}

#[test]
fn ecmp_is_rta_multipath_ipv4_and_ipv6() {
    for (prefix, a, b, addr_len) in [
        ("10.244.3.0/24", "10.99.0.2", "10.99.0.3", 4usize),
        ("fd00:10:244:3::/64", "fd00:99::2", "fd00:99::3", 16),
    ] {
        let op = FibOp::Replace(Route {
            prefix: p(prefix),
            metric: 20,
            target: RouteTarget::Unicast(vec![nh(a, 3), nh(b, 4)]),
        });
        let (h, payload) = one(&op, 254, 9, true);
        assert_ne!(h.flags & NLM_F_ACK, 0);
        let list = attrs(&payload);
        assert_eq!(attr(&list, RTA_GATEWAY), None);
        let mp = attr(&list, RTA_MULTIPATH).expect("RTA_MULTIPATH");
        // struct rtnexthop { len u16, flags u8, hops u8, ifindex i32 } + RTA_GATEWAY.
        let each = 8 + 4 + addr_len;
        assert_eq!(mp.len(), 2 * each);
        for (i, ifindex) in [3u32, 4].into_iter().enumerate() {
            let nh = &mp[i * each..(i + 1) * each];
            assert_eq!(usize::from(u16::from_ne_bytes([nh[0], nh[1]])), each);
            assert_eq!(u32_of(&nh[4..8]), ifindex);
            assert_eq!(u16::from_ne_bytes([nh[10], nh[11]]), RTA_GATEWAY);
        }
        // And back.
        let r = parse_route(&payload).expect("parses");
        assert_eq!(r.prefix, p(prefix));
        assert_eq!(r.protocol, 179);
        assert_eq!(r.metric, 20);
        assert_eq!(
            r.target(),
            Some(RouteTarget::Unicast(vec![nh(a, 3), nh(b, 4)]))
        );
    }
}

#[test]
fn blackhole_and_delete() {
    let op = FibOp::Replace(Route {
        prefix: p("10.244.1.0/24"),
        metric: u32::MAX,
        target: RouteTarget::Blackhole,
    });
    let (_, payload) = one(&op, 254, 1, false);
    assert_eq!(payload[7], RTN_BLACKHOLE);
    assert_eq!(
        attr(&attrs(&payload), RTA_PRIORITY).map(|v| u32_of(&v)),
        Some(u32::MAX)
    );
    assert_eq!(attr(&attrs(&payload), RTA_GATEWAY), None);

    let del = FibOp::Delete {
        prefix: p("fd00:10:244:2::/64"),
        metric: 20,
    };
    let (h, payload) = one(&del, 254, 2, true);
    assert_eq!(h.kind, RTM_DELROUTE);
    assert_eq!(h.flags, NLM_F_REQUEST | NLM_F_ACK);
    // Family 10, /64, protocol 179 (a delete never matches another protocol's route),
    // scope nowhere and type unspec (any route of ours with this key).
    assert_eq!(&payload[..8], &[10, 64, 0, 0, 254, 179, 255, 0]);
    let a = attrs(&payload);
    assert_eq!(attr(&a, RTA_PRIORITY).map(|v| u32_of(&v)), Some(20));
    assert_eq!(attr(&a, RTA_DST).map(|v| v.len()), Some(16));
}

#[test]
fn many_requests_in_one_buffer_with_consecutive_sequence_numbers() {
    let mut buf = Vec::new();
    for i in 0..64u32 {
        let op = FibOp::Delete {
            prefix: IpNetwork::new(IpAddr::from([16, (i >> 8) as u8, i as u8, 0]), 24)
                .expect("prefix"),
            metric: 20,
        };
        emit(&mut buf, &op, 254, 179, 100 + i, i == 63);
    }
    let hs: Vec<Header> = messages(&buf).map(|(h, _)| h).collect();
    assert_eq!(hs.len(), 64);
    assert!(hs.iter().enumerate().all(|(i, h)| h.seq == 100 + i as u32));
    assert_eq!(hs.iter().filter(|h| h.flags & NLM_F_ACK != 0).count(), 1);
}

#[test]
fn error_messages_with_extended_ack() {
    // NLMSG_ERROR, capped, with TLVs: errno -101, echoed header, NLMSGERR_ATTR_MSG.
    let mut b = Vec::new();
    let text = b"Nexthop has invalid gateway\0";
    let tlv_len = 4 + text.len();
    let total = NLMSG_HDR_LEN + 4 + NLMSG_HDR_LEN + ((tlv_len + 3) & !3);
    Header {
        len: total as u32,
        kind: NLMSG_ERROR,
        flags: NLM_F_CAPPED | NLM_F_ACK_TLVS,
        seq: 7,
        pid: 0,
    }
    .write(&mut b);
    b.extend_from_slice(&(-101i32).to_ne_bytes());
    Header {
        len: 60,
        kind: RTM_NEWROUTE,
        flags: 0,
        seq: 7,
        pid: 0,
    }
    .write(&mut b);
    b.extend_from_slice(&(tlv_len as u16).to_ne_bytes());
    b.extend_from_slice(&1u16.to_ne_bytes());
    b.extend_from_slice(text);
    b.resize(total, 0);
    let (h, payload) = messages(&b).next().expect("one message");
    assert_eq!(h.seq, 7);
    assert_eq!(
        parse_error(&h, payload),
        Some((101, Some("Nexthop has invalid gateway".to_string())))
    );
    // A plain ACK.
    let mut ack = Vec::new();
    Header {
        len: 36,
        kind: NLMSG_ERROR,
        flags: NLM_F_CAPPED,
        seq: 8,
        pid: 0,
    }
    .write(&mut ack);
    ack.extend_from_slice(&0i32.to_ne_bytes());
    ack.extend_from_slice(&[0; 16]);
    let (h, payload) = messages(&ack).next().expect("one message");
    assert_eq!(parse_error(&h, payload), Some((0, None)));
}

#[test]
fn truncated_input_is_not_a_panic() {
    for n in 0..40 {
        let b = vec![0xffu8; n];
        let _ = messages(&b).count();
        let _ = parse_route(&b);
        let _ = parse_address(&b);
        let _ = parse_link(&b);
    }
}
