//! The writer, the listener and the FIB service against the real kernel, each test in a
//! network namespace of its own (removed by a drop guard, also on panic). Root only: without
//! root each test says SKIPPED and passes, and fails under CI=true.

use std::fs::File;
use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bgpod_fib::{
    AckMode, FibOp, HoldReason, ManagerSettings, NetlinkFib, NextHop, Route, RouteState,
    RouteTarget, RouteUpdate, ServiceOptions, WriterOptions, BLACKHOLE_METRIC,
};
use ipnetwork::IpNetwork;
use nix::sched::{setns, CloneFlags};
use tokio::sync::mpsc;

const PROTO: u8 = 179;
const METRIC: u32 = 20;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace with a veth pair: v0 10.99.0.1/24 and fd00:99::1/64, v1 up (the peer side).
struct Netns {
    name: String,
}

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Netns {
    fn new() -> Netns {
        let name = format!(
            "bgpodfib{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        for cmd in [
            "link add v0 type veth peer name v1",
            "link set lo up",
            "link set v0 up",
            "link set v1 up",
            "addr add 10.99.0.1/24 dev v0",
            "-6 addr add fd00:99::1/64 dev v0 nodad",
        ] {
            ns.ip(cmd);
        }
        ns
    }

    /// `ip -n NS <cmd>`.
    fn ip(&self, cmd: &str) -> String {
        let mut args = vec!["-n", self.name.as_str()];
        args.extend(cmd.split_whitespace());
        ip(&args)
    }

    /// Runs `f` on a thread that entered the namespace.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let fd = File::open(&path).expect("open netns");
            setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("namespace thread")
    }

    /// Lines of `ip route show proto 179` for one family.
    fn ours(&self, family: &str) -> Vec<String> {
        self.ip(&format!("{family} route show proto {PROTO} table 254"))
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn ifindex(&self, dev: &str) -> u32 {
        let out = self.ip(&format!("-o link show {dev}"));
        out.split(':')
            .next()
            .and_then(|s| s.trim().parse().ok())
            .expect("ifindex")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "these tests need root in CI"
    );
    eprintln!("SKIPPED: kernel route tests need root");
    false
}

fn p(s: &str) -> IpNetwork {
    s.parse().expect("prefix")
}
fn a(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("timed out waiting for {what}");
}

fn v4_24(i: u32) -> IpNetwork {
    IpNetwork::new(IpAddr::from((0x1000_0000u32 + (i << 8)).to_be_bytes()), 24).expect("prefix")
}

#[test]
fn writer_installs_replaces_and_deletes_10k_routes_pipelined() {
    if !root() {
        return;
    }
    let ns = Netns::new();
    let dev = ns.ifindex("v0");
    let errors = ns.run(move || {
        let mut w = NetlinkFib::open(WriterOptions::new(254, PROTO)).expect("open");
        let ops: Vec<FibOp> = (0..10_000)
            .map(|i| {
                FibOp::Replace(Route {
                    prefix: v4_24(i),
                    metric: METRIC,
                    target: RouteTarget::Unicast(vec![NextHop {
                        gateway: a("10.99.0.2"),
                        ifindex: dev,
                    }]),
                })
            })
            .collect();
        let out = w.write(&ops);
        assert!(out.lost.is_none());
        out.errors
    });
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ns.ours("-4").len(), 10_000);
    assert!(ns.ours("-4")[0].contains("via 10.99.0.2 dev v0"));
    assert!(ns.ours("-4")[0].contains("metric 20"));

    // Replace half, delete all: every answer maps back to its prefix.
    ns.run(move || {
        let mut w = NetlinkFib::open(WriterOptions {
            ack: AckMode::Every,
            ..WriterOptions::new(254, PROTO)
        })
        .expect("open");
        let ops: Vec<FibOp> = (0..5_000)
            .map(|i| {
                FibOp::Replace(Route {
                    prefix: v4_24(i),
                    metric: METRIC,
                    target: RouteTarget::Unicast(vec![NextHop {
                        gateway: a("10.99.0.3"),
                        ifindex: dev,
                    }]),
                })
            })
            .collect();
        assert!(w.write(&ops).errors.is_empty());
    });
    let lines = ns.ours("-4");
    assert_eq!(
        lines.iter().filter(|l| l.contains("via 10.99.0.3")).count(),
        5_000
    );
    assert_eq!(lines.len(), 10_000, "replace never adds a second route");

    let errors = ns.run(move || {
        let mut w = NetlinkFib::open(WriterOptions::new(254, PROTO)).expect("open");
        // 10 000 of ours and 5 that do not exist: exactly those 5 fail.
        let ops: Vec<FibOp> = (0..10_005)
            .map(|i| FibOp::Delete {
                prefix: v4_24(i),
                metric: METRIC,
            })
            .collect();
        w.write(&ops).errors
    });
    let failed: Vec<usize> = errors.iter().map(|e| e.index).collect();
    assert_eq!(failed, (10_000..10_005).collect::<Vec<_>>());
    assert!(errors.iter().all(|e| e.errno == Some(libc_esrch())));
    assert!(ns.ours("-4").is_empty());
}

fn libc_esrch() -> i32 {
    3
}

#[test]
fn writer_ecmp_ipv6_blackhole_and_other_tables() {
    if !root() {
        return;
    }
    let ns = Netns::new();
    let dev = ns.ifindex("v0");
    let errors = ns.run(move || {
        let mut w = NetlinkFib::open(WriterOptions::new(254, PROTO)).expect("open");
        let nh = |g: &str| NextHop {
            gateway: a(g),
            ifindex: dev,
        };
        let mut errors = w
            .write(&[
                FibOp::Replace(Route {
                    prefix: p("10.244.3.0/24"),
                    metric: METRIC,
                    target: RouteTarget::Unicast(vec![nh("10.99.0.2"), nh("10.99.0.3")]),
                }),
                FibOp::Replace(Route {
                    prefix: p("fd00:10:244:3::/64"),
                    metric: METRIC,
                    target: RouteTarget::Unicast(vec![nh("fd00:99::2"), nh("fd00:99::3")]),
                }),
                FibOp::Replace(Route {
                    prefix: p("fd00:10:244:4::/64"),
                    metric: METRIC,
                    target: RouteTarget::Unicast(vec![nh("fd00:99::2")]),
                }),
                FibOp::Replace(Route {
                    prefix: p("10.244.1.0/24"),
                    metric: BLACKHOLE_METRIC,
                    target: RouteTarget::Blackhole,
                }),
            ])
            .errors;
        let mut t1000 = NetlinkFib::open(WriterOptions::new(1000, PROTO)).expect("open");
        errors.extend(
            t1000
                .write(&[FibOp::Replace(Route {
                    prefix: p("10.244.5.0/24"),
                    metric: METRIC,
                    target: RouteTarget::Unicast(vec![nh("10.99.0.2")]),
                })])
                .errors,
        );
        let back = w.our_routes().expect("dump");
        (errors, back.len())
    });
    assert!(errors.0.is_empty(), "{:?}", errors.0);
    assert_eq!(errors.1, 4, "our_routes reads our table back");
    let v4 = ns.ip(&format!("route show 10.244.3.0/24 proto {PROTO}"));
    assert!(v4.contains("nexthop via 10.99.0.2 dev v0"), "{v4}");
    assert!(v4.contains("nexthop via 10.99.0.3 dev v0"), "{v4}");
    let v6 = ns.ip(&format!("-6 route show fd00:10:244:3::/64 proto {PROTO}"));
    assert!(v6.contains("nexthop via fd00:99::2 dev v0"), "{v6}");
    assert!(v6.contains("nexthop via fd00:99::3 dev v0"), "{v6}");
    let v6 = ns.ip(&format!("-6 route show fd00:10:244:4::/64 proto {PROTO}"));
    assert!(v6.contains("via fd00:99::2 dev v0"), "{v6}");
    let bh = ns.ip("route show 10.244.1.0/24");
    assert!(bh.contains("blackhole 10.244.1.0/24"), "{bh}");
    assert!(bh.contains("metric 4294967295"), "{bh}");
    let t = ns.ip("route show table 1000");
    assert!(t.contains("10.244.5.0/24 via 10.99.0.2 dev v0"), "{t}");

    // ECMP down to one path, then back to two: always one route, never a leftover sibling.
    let errors = ns.run(move || {
        let mut w = NetlinkFib::open(WriterOptions::new(254, PROTO)).expect("open");
        let nh = |g: &str| NextHop {
            gateway: a(g),
            ifindex: dev,
        };
        let mut errors = Vec::new();
        for hops in [vec!["fd00:99::3"], vec!["fd00:99::4", "fd00:99::5"]] {
            let mut ops = vec![FibOp::Replace(Route {
                prefix: p("fd00:10:244:3::/64"),
                metric: METRIC,
                target: RouteTarget::Unicast(hops.iter().map(|h| nh(h)).collect()),
            })];
            let v4: Vec<String> = hops
                .iter()
                .map(|h| h.replace("fd00:99::", "10.99.0."))
                .collect();
            ops.push(FibOp::Replace(Route {
                prefix: p("10.244.3.0/24"),
                metric: METRIC,
                target: RouteTarget::Unicast(v4.iter().map(|h| nh(h)).collect()),
            }));
            errors.extend(w.write(&ops).errors);
            if hops.len() == 1 {
                errors.extend(w.our_routes().expect("dump").into_iter().filter_map(|r| {
                    matches!(&r.target, RouteTarget::Unicast(h) if h.len() > 1 && r.prefix.prefix() < 32)
                        .then(|| bgpod_fib::FibError {
                            index: 0,
                            prefix: r.prefix,
                            errno: None,
                            reason: "siblings left".into(),
                        })
                }));
            }
        }
        errors
    });
    assert!(errors.is_empty(), "{errors:?}");
    let v6 = ns.ip(&format!("-6 route show fd00:10:244:3::/64 proto {PROTO}"));
    assert!(v6.contains("nexthop via fd00:99::4 dev v0"), "{v6}");
    assert!(v6.contains("nexthop via fd00:99::5 dev v0"), "{v6}");
    assert!(!v6.contains("fd00:99::3"), "{v6}");
    let v4 = ns.ip(&format!("route show 10.244.3.0/24 proto {PROTO}"));
    assert!(
        v4.contains("nexthop via 10.99.0.4") && v4.contains("nexthop via 10.99.0.5"),
        "{v4}"
    );
    assert!(!v4.contains("10.99.0.3"), "{v4}");
}

#[test]
fn delete_never_hits_a_route_of_another_protocol() {
    if !root() {
        return;
    }
    let ns = Netns::new();
    ns.ip("route add 10.50.0.0/24 via 10.99.0.9 proto 77 metric 20");
    let errors = ns.run(|| {
        let mut w = NetlinkFib::open(WriterOptions::new(254, PROTO)).expect("open");
        w.write(&[FibOp::Delete {
            prefix: p("10.50.0.0/24"),
            metric: METRIC,
        }])
        .errors
    });
    assert_eq!(errors.len(), 1);
    assert!(ns.ip("route show 10.50.0.0/24").contains("proto 77"));
}

/// The FIB service running in a namespace, fed like the daemon feeds it.
struct Service {
    tx: mpsc::UnboundedSender<Vec<RouteUpdate>>,
    handle: Option<bgpod_fib::FibHandle>,
    rt: tokio::runtime::Runtime,
}

impl Service {
    fn start(ns: &Netns, sweep: Duration, retain: bool) -> Service {
        let (tx, rx) = mpsc::unbounded_channel();
        let opts = ServiceOptions {
            manager: ManagerSettings {
                table: 254,
                protocol: PROTO,
                metric: METRIC,
                pod_cidrs: vec![p("10.244.1.0/24"), p("fd00:10:244:1::/64")],
                blackhole_pod_cidrs: true,
                sweep_delay: sweep,
            },
            writer: WriterOptions::new(254, PROTO),
            retain_on_exit: retain,
            shutdown_timeout: Duration::from_secs(10),
        };
        let handle = ns.run(move || bgpod_fib::spawn(opts, rx, |u| u).expect("spawn"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Service {
            tx,
            handle: Some(handle),
            rt,
        }
    }

    fn install(&self, prefix: &str, hops: &[&str]) {
        let _ = self.tx.send(vec![RouteUpdate::Install {
            prefix: p(prefix),
            next_hops: hops.iter().map(|h| a(h)).collect(),
        }]);
    }

    fn remove(&self, prefix: &str) {
        let _ = self
            .tx
            .send(vec![RouteUpdate::Remove { prefix: p(prefix) }]);
    }

    fn state(&self, prefix: &str) -> Option<RouteState> {
        let h = self.handle.as_ref().expect("running");
        self.rt.block_on(h.route_state(p(prefix)))
    }

    fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

#[test]
fn service_installs_holds_back_repairs_and_cleans_up() {
    if !root() {
        return;
    }
    let ns = Netns::new();
    ns.ip("route add 10.50.0.0/24 via 10.99.0.9 proto 77 metric 20");
    ns.ip("route add 192.0.2.0/24 via 10.99.0.254");
    let svc = Service::start(&ns, Duration::from_secs(30), false);
    svc.install("10.244.2.0/24", &["10.99.0.2"]);
    svc.install("10.244.3.0/24", &["10.99.0.2", "10.99.0.3"]);
    svc.install("fd00:10:244:2::/64", &["fd00:99::2"]);
    svc.install("10.50.0.0/24", &["10.99.0.2"]); // someone else's
    svc.install("10.244.4.0/24", &["192.0.2.7"]); // not connected: through 192.0.2.0/24
    svc.install("10.244.6.0/24", &["198.51.100.1"]); // unreachable
    svc.install("10.244.1.128/25", &["10.99.0.2"]); // inside our pod CIDR

    wait_for("routes installed", || {
        svc.state("10.244.4.0/24") == Some(RouteState::Installed)
            && svc.state("fd00:10:244:2::/64") == Some(RouteState::Installed)
    });
    let v4 = ns.ours("-4").join("\n");
    assert!(v4.contains("10.244.2.0/24 via 10.99.0.2 dev v0"), "{v4}");
    assert!(v4.contains("10.244.3.0/24 metric 20"), "{v4}");
    assert!(v4.contains("10.244.4.0/24 via 10.99.0.254 dev v0"), "{v4}");
    assert!(v4.contains("blackhole 10.244.1.0/24"), "{v4}");
    assert!(!v4.contains("10.244.6.0"), "{v4}");
    assert!(!v4.contains("10.244.1.128"), "{v4}");
    assert!(ns
        .ours("-6")
        .join("\n")
        .contains("fd00:10:244:2::/64 via fd00:99::2 dev v0"));
    assert!(ns.ip("route show 10.50.0.0/24").contains("proto 77"));
    assert_eq!(
        svc.state("10.50.0.0/24"),
        Some(RouteState::Held(HoldReason::Conflict { protocol: 77 }))
    );
    assert!(matches!(
        svc.state("10.244.6.0/24"),
        Some(RouteState::Held(HoldReason::Unresolved { .. }))
    ));
    assert!(matches!(
        svc.state("10.244.1.128/25"),
        Some(RouteState::Held(HoldReason::Overlap { pod_cidr: true, .. }))
    ));

    // Someone deletes one of ours: it comes back.
    ns.ip(&format!("route del 10.244.2.0/24 proto {PROTO} metric 20"));
    wait_for("the deleted route to come back", || {
        ns.ours("-4").iter().any(|l| l.starts_with("10.244.2.0/24"))
    });
    // The unreachable next hop becomes reachable: installed.
    ns.ip("route add 198.51.100.0/24 via 10.99.0.253");
    wait_for("the held route to be installed", || {
        ns.ours("-4")
            .iter()
            .any(|l| l.starts_with("10.244.6.0/24 via 10.99.0.253"))
    });
    // Withdrawn: removed.
    svc.remove("10.244.3.0/24");
    wait_for("the withdrawn route to go", || {
        !ns.ours("-4").iter().any(|l| l.starts_with("10.244.3.0/24"))
    });
    let h = svc.handle.as_ref().expect("running").status();
    assert!(h.installed >= 5, "{h:?}");
    assert!(h.repairs >= 1, "{h:?}");

    svc.stop();
    assert!(
        ns.ours("-4").is_empty(),
        "clean shutdown removes our routes"
    );
    assert!(ns.ours("-6").is_empty());
    assert!(ns.ip("route show 10.50.0.0/24").contains("proto 77"));
}

#[test]
fn service_adopts_and_sweeps_routes_of_a_previous_run() {
    if !root() {
        return;
    }
    let ns = Netns::new();
    ns.ip(&format!(
        "route add 10.77.0.0/24 via 10.99.0.5 proto {PROTO} metric 20"
    ));
    ns.ip(&format!(
        "route add 10.78.0.0/24 via 10.99.0.5 proto {PROTO} metric 20"
    ));
    let svc = Service::start(&ns, Duration::from_millis(1500), true);
    svc.install("10.78.0.0/24", &["10.99.0.5"]);
    wait_for("adoption", || {
        svc.state("10.78.0.0/24") == Some(RouteState::Installed)
    });
    assert_eq!(svc.state("10.77.0.0/24"), Some(RouteState::Stale));
    assert_eq!(ns.ours("-4").len(), 3, "both old routes and the blackhole");
    wait_for("the sweep", || {
        !ns.ours("-4").iter().any(|l| l.starts_with("10.77.0.0/24"))
    });
    assert!(ns.ours("-4").iter().any(|l| l.starts_with("10.78.0.0/24")));
    svc.stop();
    assert_eq!(ns.ours("-4").len(), 2, "retain_on_exit keeps them");
}

#[test]
fn link_down_and_up_reinstalls_through_the_link() {
    if !root() {
        return;
    }
    let ns = Netns::new();
    let svc = Service::start(&ns, Duration::from_secs(30), false);
    svc.install("10.244.2.0/24", &["10.99.0.2"]);
    wait_for("install", || {
        svc.state("10.244.2.0/24") == Some(RouteState::Installed)
    });
    // IPv4 flushes the route silently when the link goes down.
    ns.ip("link set v0 down");
    wait_for("held back while the link is down", || {
        matches!(svc.state("10.244.2.0/24"), Some(RouteState::Held(_)))
    });
    ns.ip("link set v0 up");
    wait_for("reinstalled", || {
        ns.ours("-4")
            .iter()
            .any(|l| l.starts_with("10.244.2.0/24 via 10.99.0.2"))
    });
    svc.stop();
}

/// Rates of the writer (not a test; run with `--ignored --nocapture` as root):
/// adds and deletes of N /24s from 16.0.0.0 upward, both ACK modes.
#[test]
#[ignore]
fn measure_writer_rates() {
    if !root() {
        return;
    }
    let sizes: Vec<u32> = std::env::var("FIB_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000]);
    for n in sizes {
        for (mode, per_write) in [
            (AckMode::Barrier, 128),
            (AckMode::Barrier, 64),
            (AckMode::Every, 128),
        ] {
            let ns = Netns::new();
            let dev = ns.ifindex("v0");
            let (add, del) = ns.run(move || {
                let mut w = NetlinkFib::open(WriterOptions {
                    ack: mode,
                    per_write,
                    ..WriterOptions::new(254, PROTO)
                })
                .expect("open");
                let hop = vec![NextHop {
                    gateway: a("10.99.0.2"),
                    ifindex: dev,
                }];
                let chunk = 8 * per_write;
                let t = Instant::now();
                let mut i = 0;
                while i < n {
                    let ops: Vec<FibOp> = (i..(i + chunk as u32).min(n))
                        .map(|k| {
                            FibOp::Replace(Route {
                                prefix: v4_24(k),
                                metric: METRIC,
                                target: RouteTarget::Unicast(hop.clone()),
                            })
                        })
                        .collect();
                    let out = w.write(&ops);
                    assert!(out.errors.is_empty(), "{:?}", &out.errors[..1]);
                    i += chunk as u32;
                }
                let add = t.elapsed();
                let t = Instant::now();
                let mut i = 0;
                while i < n {
                    let ops: Vec<FibOp> = (i..(i + chunk as u32).min(n))
                        .map(|k| FibOp::Delete {
                            prefix: v4_24(k),
                            metric: METRIC,
                        })
                        .collect();
                    assert!(w.write(&ops).errors.is_empty());
                    i += chunk as u32;
                }
                (add, t.elapsed())
            });
            println!(
                "{n} routes, {mode:?}, {per_write}/write: add {:.2} s ({:.0}/s), delete {:.2} s ({:.0}/s)",
                add.as_secs_f64(),
                f64::from(n) / add.as_secs_f64(),
                del.as_secs_f64(),
                f64::from(n) / del.as_secs_f64()
            );
        }
    }
}

#[test]
fn our_own_writes_do_not_overrun_the_listener() {
    if !root() {
        return;
    }
    let ns = Netns::new();
    let svc = Service::start(&ns, Duration::from_secs(30), false);
    // The socket filter drops the echoes of our own writes in the kernel: the listener sees
    // a handful of events, not 50 000, and the only dump is the one at start.
    let batch: Vec<RouteUpdate> = (0..50_000)
        .map(|i| RouteUpdate::Install {
            prefix: v4_24(i),
            next_hops: vec![a("10.99.0.2")],
        })
        .collect();
    let _ = svc.tx.send(batch);
    let handle = svc.handle.as_ref().expect("running");
    wait_for("50 000 routes", || {
        let s = handle.status();
        s.installed == 50_002 && s.pending == 0
    });
    let s = handle.status();
    assert_eq!(s.resyncs, 1, "{s:?}");
    assert!(
        s.events < 1_000,
        "our own echoes reached the listener: {s:?}"
    );
    assert_eq!(s.errors, 0, "{s:?}");
    assert!(s.last_sync.is_some());
    assert_eq!(ns.ours("-4").len(), 50_001);
    svc.stop();
    assert!(ns.ours("-4").is_empty());
}

/// The whole FIB path (service thread: manager + writer + listener) for N routes from the
/// channel to the kernel, then their withdrawal (run with `--ignored --nocapture` as root).
#[test]
#[ignore]
fn measure_service_rate() {
    if !root() {
        return;
    }
    let n: u32 = std::env::var("FIB_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let ns = Netns::new();
    let svc = Service::start(&ns, Duration::from_secs(30), false);
    let handle = svc.handle.as_ref().expect("running");
    wait_for("start", || handle.status().installed == 2);
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let batch = chunk
            .iter()
            .map(|&i| RouteUpdate::Install {
                prefix: v4_24(i),
                next_hops: vec![a("10.99.0.2")],
            })
            .collect();
        let _ = svc.tx.send(batch);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while handle.status().installed < n as usize + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let add = t.elapsed();
    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let batch = chunk
            .iter()
            .map(|&i| RouteUpdate::Remove { prefix: v4_24(i) })
            .collect();
        let _ = svc.tx.send(batch);
    }
    while handle.status().installed > 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let del = t.elapsed();
    let s = handle.status();
    println!(
        "service, {n} routes: install {:.2} s ({:.0}/s), withdraw {:.2} s ({:.0}/s); {s:?}",
        add.as_secs_f64(),
        f64::from(n) / add.as_secs_f64(),
        del.as_secs_f64(),
        f64::from(n) / del.as_secs_f64()
    );
    svc.stop();
}
