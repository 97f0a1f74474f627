//! UPDATE decoding throughput, in prefixes per second.
//!
//! `cargo bench -p bgpod-bgp --bench decode`. Each case decodes one whole framed UPDATE with
//! [`Message::decode`] (header checks, attributes, every prefix into an owned `Vec`), as the
//! peer task does for every message it receives:
//! * `ipv4_nlri/1000x24`: 1000 IPv4 /24s in the NLRI field, ORIGIN + AS_PATH + NEXT_HOP +
//!   MED, 4-octet AS session (the convergence benchmark's shape);
//! * `ipv4_withdrawn/1000x24`: the same 1000 /24s as Withdrawn Routes;
//! * `ipv6_mp_reach/1000x64`: 1000 IPv6 /64s in MP_REACH_NLRI with a global and a link-local
//!   next hop (RFC 2545), which needs an RFC 8654 extended message (~9 kB);
//! * `ipv6_mp_reach/4096B`: as many /64s as fit a plain 4096-octet UPDATE.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bgpod_bgp::wire::prefix::{IpNetwork, Ipv4Network, Ipv6Network};
use bgpod_bgp::wire::{
    pack_announcements, pack_withdrawals, AsPath, Message, Origin, PathAttributes, SessionContext,
    Update,
};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn v4_prefixes(n: u32) -> Vec<IpNetwork> {
    (0..n)
        .map(|i| {
            let addr = Ipv4Addr::from(0x1000_0000 + (i << 8));
            IpNetwork::V4(Ipv4Network::new(addr, 24).expect("a /24"))
        })
        .collect()
}

fn v6_prefixes(n: u32) -> Vec<IpNetwork> {
    (0..n)
        .map(|i| {
            let addr = Ipv6Addr::from((0x2001_0db8_u128 << 96) + (u128::from(i) << 64));
            IpNetwork::V6(Ipv6Network::new(addr, 64).expect("a /64"))
        })
        .collect()
}

fn attrs() -> PathAttributes {
    PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(vec![65100, 4_200_000_000])),
        next_hop: Some(Ipv4Addr::new(10, 200, 0, 1)),
        med: Some(100),
        ..PathAttributes::default()
    }
}

/// The first UPDATE `updates` packs, encoded, with the number of prefixes it carries.
fn first(updates: Vec<Update>, ctx: &SessionContext) -> (Bytes, u64) {
    let update = updates.into_iter().next().expect("at least one UPDATE");
    let n = update.nlri.len()
        + update.withdrawn.len()
        + update
            .attributes
            .mp_reach
            .as_ref()
            .map_or(0, |m| m.nlri.len());
    (Message::Update(update).to_bytes(ctx), n as u64)
}

fn bench_decode(c: &mut Criterion) {
    let ctx = SessionContext {
        four_octet_as: true,
        extended_message: false,
        ibgp: false,
    };
    let ext = SessionContext {
        extended_message: true,
        ..ctx
    };
    let v6_next_hops: [IpAddr; 2] = [
        "2001:db8::1".parse().expect("address"),
        "fe80::1".parse().expect("address"),
    ];

    let v4 = v4_prefixes(1000);
    let v6 = v6_prefixes(1000);
    let cases = [
        (
            "ipv4_nlri/1000x24",
            first(pack_announcements(&attrs(), &v4, &[], &ctx), &ctx),
            ctx,
        ),
        (
            "ipv4_withdrawn/1000x24",
            first(pack_withdrawals(&v4, &ctx), &ctx),
            ctx,
        ),
        (
            "ipv6_mp_reach/1000x64",
            first(pack_announcements(&attrs(), &v6, &v6_next_hops, &ext), &ext),
            ext,
        ),
        (
            "ipv6_mp_reach/4096B",
            first(pack_announcements(&attrs(), &v6, &v6_next_hops, &ctx), &ctx),
            ctx,
        ),
    ];

    let mut group = c.benchmark_group("decode_update");
    for (name, (bytes, prefixes), ctx) in cases {
        // The setup must be what the name says: one UPDATE holding all of them.
        if name.contains("1000") {
            assert_eq!(
                prefixes, 1000,
                "{name}: {prefixes} prefixes in the first UPDATE"
            );
        }
        assert!(matches!(
            Message::decode(&bytes, &ctx),
            Ok(Message::Update(ref u)) if u.faults.is_empty()
        ));
        group.throughput(Throughput::Elements(prefixes));
        group.bench_function(name, |b| {
            b.iter(|| Message::decode(black_box(&bytes), black_box(&ctx)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
