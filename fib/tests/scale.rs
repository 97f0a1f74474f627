//! The manager's cost at a million prefixes, without the kernel (run with
//! `cargo test --release -p bgpod-fib --test scale -- --ignored --nocapture`).

use std::net::IpAddr;
use std::time::Instant;

use bgpod_fib::{Address, FibManager, KernelRoute, ManagerSettings, RouteUpdate, BLACKHOLE_METRIC};
use ipnetwork::IpNetwork;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4)
}

#[test]
#[ignore]
fn manager_at_a_million_prefixes() {
    let n: u32 = 1_000_000;
    let now = Instant::now();
    let mut m = FibManager::new(
        ManagerSettings {
            table: 254,
            protocol: 179,
            metric: 179,
            pod_cidrs: vec![],
            blackhole_pod_cidrs: false,
            sweep_delay: std::time::Duration::from_secs(30),
        },
        now,
    );
    m.snapshot(
        vec![KernelRoute {
            table: 254,
            prefix: "10.99.0.0/24".parse().expect("prefix"),
            protocol: 2,
            metric: 0,
            kind: 1,
            next_hops: vec![bgpod_fib::KernelNextHop {
                gateway: None,
                ifindex: 2,
            }],
        }],
        vec![Address {
            ifindex: 2,
            network: "10.99.0.1/24".parse().expect("net"),
        }],
    );
    let before = rss_kib();
    let hops: Vec<IpAddr> = vec![
        "10.99.0.2".parse().expect("a"),
        "10.99.0.3".parse().expect("a"),
    ];
    let t = Instant::now();
    for i in 0..n {
        let prefix = IpNetwork::new(IpAddr::from((0x1000_0000u32 + (i << 8)).to_be_bytes()), 24)
            .expect("prefix");
        m.update(RouteUpdate::Install {
            prefix,
            next_hops: vec![hops[(i % 2) as usize]],
        });
    }
    let updates = t.elapsed();
    let queued = rss_kib();
    let t = Instant::now();
    let mut written = 0;
    loop {
        let ops = m.poll_ops(512, now);
        if ops.is_empty() {
            break;
        }
        written += ops.len();
        m.applied(&ops, &[], now);
    }
    let polled = t.elapsed();
    let after = rss_kib();
    assert_eq!(written, n as usize);
    assert_eq!(m.installed_count(), n as usize);
    println!(
        "{n} prefixes: updates {:.2} s, ops built and acknowledged {:.2} s; RSS +{} MiB with the \
         queue, +{} MiB after ({} bytes a prefix); blackhole metric {BLACKHOLE_METRIC}",
        updates.as_secs_f64(),
        polled.as_secs_f64(),
        (queued - before) / 1024,
        (after - before) / 1024,
        (after - before) * 1024 / u64::from(n)
    );
}
