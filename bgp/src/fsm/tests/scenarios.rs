//! Whole-session scripts and invariants across every state: happy paths, ManualStop and
//! TcpFailed in every state, the restart back-off, collisions and random event sequences.

use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::fsm::{resolve_collision, DownReason, Keep};

#[test]
fn happy_path_active() {
    let mut p = Peer::new(cfg());
    let lines = p.run([
        Input::ManualStart,
        Input::TcpConnected,
        recv_open(peer_open()),
        keepalive(),
        update(),
        expire(Timer::Keepalive),
        Input::UpdateSent,
        admin_shutdown(),
    ]);
    assert_eq!(
        lines,
        [
            "arm ConnectRetry ~5s",
            "connect",
            "Idle -> Connect",
            "cancel ConnectRetry",
            "send OPEN",
            "arm Hold 240s",
            "Connect -> OpenSent",
            "send KEEPALIVE",
            "arm Hold 90s",
            "arm Keepalive ~30s",
            "OpenSent -> OpenConfirm",
            "arm Hold 90s",
            "OpenConfirm -> Established",
            "established",
            "arm Hold 90s",
            "deliver UPDATE",
            "send KEEPALIVE",
            "arm Keepalive ~30s",
            "arm Keepalive ~30s",
            "send NOTIFICATION 6/2",
            "close",
            "cancel Hold",
            "cancel Keepalive",
            "Established -> Idle",
            "down: stopped by operator",
        ]
    );
}

#[test]
fn happy_path_passive() {
    let mut p = Peer::new(passive_cfg());
    let lines = p.run([
        Input::ManualStart,
        Input::TcpConnected,
        recv_open(peer_open()),
        keepalive(),
    ]);
    assert_eq!(
        lines,
        [
            "Idle -> Active",
            "send OPEN",
            "arm Hold 240s",
            "Active -> OpenSent",
            "send KEEPALIVE",
            "arm Hold 90s",
            "arm Keepalive ~30s",
            "OpenSent -> OpenConfirm",
            "arm Hold 90s",
            "OpenConfirm -> Established",
            "established",
        ]
    );
}

#[test]
fn manualstop_in_every_state() {
    // Event 2 everywhere: Idle, no automatic restart, Cease only once our OPEN was sent.
    for config in [cfg(), passive_cfg()] {
        for state in ALL_STATES {
            if config.passive && state == State::Connect {
                continue; // a passive session never connects out
            }
            let mut p = Peer::in_state(config.clone(), state);
            let lines = p.step(admin_shutdown());
            let sent_cease = lines.first().map(String::as_str) == Some("send NOTIFICATION 6/2");
            let connected = matches!(
                state,
                State::OpenSent | State::OpenConfirm | State::Established
            );
            assert_eq!(sent_cease, connected, "{state}: {lines:?}");
            assert_eq!(
                lines.iter().any(|l| l == "close"),
                connected || state == State::Connect
            );
            if state != State::Idle {
                assert_eq!(
                    lines.last().map(String::as_str),
                    Some("down: stopped by operator")
                );
                assert!(
                    lines.contains(&format!("{state} -> Idle")),
                    "{state}: {lines:?}"
                );
            }
            assert!(
                !lines.iter().any(|l| l.starts_with("arm")),
                "{state}: {lines:?}"
            );
            assert_eq!(p.s.state(), State::Idle);
            assert_eq!(p.s.connect_retry_counter(), 0);
            assert!(
                p.step(expire(Timer::IdleHold)).is_empty(),
                "{state}: restarted"
            );
        }
    }
}

#[test]
fn tcpfailed_in_every_state() {
    // Event 18 everywhere: never a NOTIFICATION (the connection is gone); OpenSent goes back to
    // Active, every other connected state to Idle with the automatic restart armed.
    let want = [
        (State::Idle, State::Idle),
        (State::Connect, State::Idle),
        (State::Active, State::Idle),
        (State::OpenSent, State::Active),
        (State::OpenConfirm, State::Idle),
        (State::Established, State::Idle),
    ];
    for (from, to) in want {
        let mut p = Peer::in_state(cfg(), from);
        let lines = p.step(Input::TcpFailed);
        assert_eq!(p.s.state(), to, "{from}");
        assert!(
            !lines.iter().any(|l| l.starts_with("send")),
            "{from}: {lines:?}"
        );
        if from == State::Idle {
            assert!(lines.is_empty());
            continue;
        }
        assert_eq!(
            lines.last().map(String::as_str),
            Some("down: TCP connection failed")
        );
        let restart = if to == State::Idle {
            "arm IdleHold 1s"
        } else {
            "arm ConnectRetry ~5s"
        };
        assert!(lines.iter().any(|l| l == restart), "{from}: {lines:?}");
    }
}

#[test]
fn idle_hold_backoff_doubles_caps_and_resets_on_established() {
    let mut s = Session::new(cfg());
    s.handle(Input::ManualStart);
    let mut delays = Vec::new();
    for _ in 0..9 {
        for o in s.handle(Input::TcpFailed) {
            if let Output::ArmTimer(Timer::IdleHold, d) = o {
                delays.push(d.as_secs());
            }
        }
        // Each automatic restart goes back to Connect.
        s.handle(expire(Timer::IdleHold));
        assert_eq!(s.state(), State::Connect);
    }
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 120, 120]);
    assert_eq!(s.connect_retry_counter(), 9);
    // Established ends the series: the next failure waits the base delay again.
    replay(
        &mut s,
        [Input::TcpConnected, recv_open(peer_open()), keepalive()],
    );
    assert_eq!(s.connect_retry_counter(), 0);
    let out = s.handle(Input::TcpFailed);
    assert!(
        out.contains(&Output::ArmTimer(Timer::IdleHold, Duration::from_secs(1))),
        "{out:?}"
    );
}

#[test]
fn connect_retry_jitter_stays_within_bounds() {
    let mut s = Session::new(SessionConfig {
        connect_retry: Duration::from_secs(120),
        ..cfg()
    });
    s.handle(Input::ManualStart);
    for _ in 0..200 {
        for o in s.handle(expire(Timer::ConnectRetry)) {
            if let Output::ArmTimer(Timer::ConnectRetry, d) = o {
                assert_jittered(d, Duration::from_secs(120));
            }
        }
    }
}

#[test]
fn stale_timer_expiries_are_ignored() {
    // Timers not armed (or already cancelled) never trigger the "other event" rows.
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert!(p
        .run([
            expire(Timer::Keepalive),
            expire(Timer::ConnectRetry),
            expire(Timer::IdleHold)
        ])
        .is_empty());
    assert_eq!(p.s.state(), State::OpenSent);
    // A timer fires at most once per arming.
    let mut p = Peer::in_state(cfg(), State::Established);
    p.step(expire(Timer::Keepalive));
    p.step(recv_notification(6, 2)); // cancels Hold and Keepalive
    assert!(p
        .run([expire(Timer::Hold), expire(Timer::Keepalive)])
        .is_empty());
}

#[test]
fn collision_keeps_the_connection_of_the_higher_identifier() {
    // We are 10.0.0.1, the peer 10.0.0.2: the connection the peer initiated survives.
    let mut outgoing = Session::new(cfg());
    let mut incoming = Session::new(passive_cfg());
    replay(
        &mut outgoing,
        [
            Input::ManualStart,
            Input::TcpConnected,
            recv_open(peer_open()),
        ],
    );
    replay(
        &mut incoming,
        [
            Input::ManualStart,
            Input::TcpConnected,
            recv_open(peer_open()),
        ],
    );
    let peer_id = incoming.peer_id().expect("OPEN received");
    assert_eq!(resolve_collision(LOCAL_ID, peer_id, true), Keep::New);
    let out = outgoing.handle(Input::AutomaticStop(notification(6, 7)));
    assert_eq!(sent_notification(&out), Some(&notification(6, 7)));
    assert_eq!(outgoing.state(), State::Idle);
    incoming.handle(keepalive());
    assert_eq!(incoming.state(), State::Established);
    // The peer decides alike: for it the same connection is the existing, incoming one.
    assert_eq!(resolve_collision(peer_id, LOCAL_ID, false), Keep::New);
}

/// Actions of a well-behaved driver, for the random scripts below.
#[derive(Debug, Clone)]
enum Act {
    Input(u8),
    /// Fire the n-th currently armed timer (in a fixed order), if any.
    Fire(u8),
}

fn input_for(i: u8) -> Input {
    match i % 16 {
        0 => Input::ManualStart,
        1 => admin_shutdown(),
        2 => Input::AutomaticStop(notification(6, 1)),
        3 => Input::TcpConnected,
        4 => Input::TcpFailed,
        5 => recv_open(peer_open()),
        6 => recv_open(Open {
            hold_time: 1,
            ..peer_open()
        }),
        7 | 8 => keepalive(),
        9 => update(),
        10 => recv_notification(6, 4),
        11 => route_refresh(Afi::Ipv4, Safi::Unicast),
        12 => malformed(1, 1),
        13 => malformed(3, 1),
        14 => malformed(2, 2),
        _ => Input::UpdateSent,
    }
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        any::<u8>().prop_map(Act::Input),
        any::<u8>().prop_map(Act::Fire)
    ]
}

/// Timers a state may have running between two events.
fn allowed(state: State) -> &'static [Timer] {
    match state {
        State::Idle => &[Timer::IdleHold],
        State::Connect | State::Active => &[Timer::ConnectRetry],
        State::OpenSent => &[Timer::Hold],
        State::OpenConfirm | State::Established => &[Timer::Hold, Timer::Keepalive],
    }
}

proptest! {
    #[test]
    fn random_scripts_keep_the_invariants(
        passive in any::<bool>(),
        hold in prop_oneof![Just(0u16), Just(3), Just(90)],
        acts in prop::collection::vec(act(), 0..120),
    ) {
        let config = SessionConfig { passive, hold_time: hold, ..cfg() };
        let mut s = Session::new(config);
        let mut armed: HashSet<Timer> = HashSet::new();
        let order = [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive, Timer::IdleHold];
        let mut established_open = false; // Established emitted and no Down since
        for a in acts {
            let input = match a {
                Act::Input(i) => input_for(i),
                Act::Fire(n) => {
                    let running: Vec<Timer> = order.iter().copied().filter(|t| armed.contains(t)).collect();
                    if running.is_empty() { continue; }
                    let t = running[usize::from(n) % running.len()];
                    armed.remove(&t);
                    Input::TimerExpired(t)
                }
            };
            let before = s.state();
            let out = s.handle(input);
            let mut downs = 0;
            let mut closed = false;
            for o in &out {
                match o {
                    Output::ArmTimer(t, d) => {
                        armed.insert(*t);
                        if *t == Timer::Keepalive {
                            let k = s.negotiated().map_or(0, |n| n.keepalive);
                            prop_assert!(k > 0, "keepalive armed with hold 0");
                            assert_jittered(*d, Duration::from_secs(u64::from(k)));
                        }
                    }
                    Output::CancelTimer(t) => prop_assert!(armed.remove(t), "cancel of idle {t:?}"),
                    Output::StateChange { from, .. } => prop_assert_eq!(*from, before),
                    Output::Send(Message::Notification(_)) => {
                        prop_assert!(matches!(before, State::OpenSent | State::OpenConfirm | State::Established));
                        prop_assert!(!closed, "NOTIFICATION after close");
                    }
                    Output::Send(Message::Open(_)) => prop_assert!(matches!(before, State::Connect | State::Active)),
                    Output::CloseTcp => closed = true,
                    Output::Established(_) => {
                        prop_assert!(!established_open, "Established twice");
                        established_open = true;
                    }
                    Output::Down(_) => {
                        downs += 1;
                        established_open = false;
                    }
                    Output::Deliver(_) => prop_assert_eq!(before, State::Established),
                    _ => {}
                }
            }
            prop_assert!(downs <= 1, "{} Down outputs", downs);
            if before == State::Established && s.state() != State::Established {
                prop_assert_eq!(downs, 1, "left Established without exactly one Down");
            }
            if let Some(Output::StateChange { to, .. }) = out.iter().rev().find(|o| matches!(o, Output::StateChange { .. })) {
                prop_assert_eq!(*to, s.state());
            } else {
                prop_assert_eq!(before, s.state(), "state changed without StateChange");
            }
            for t in &armed {
                prop_assert!(allowed(s.state()).contains(t), "{:?} running in {}", t, s.state());
            }
            prop_assert_eq!(s.negotiated().is_some(), matches!(s.state(), State::OpenConfirm | State::Established));
            if passive {
                prop_assert!(!out.contains(&Output::Connect), "passive session connected out");
            }
        }
    }
}

#[test]
fn down_reasons_read_well_in_logs() {
    let cases = [
        (
            DownReason::NotificationSent(notification(4, 0)),
            "sent NOTIFICATION 4/0 (",
        ),
        (
            DownReason::NotificationReceived(Notification::cease(2, Some("maintenance"))),
            "received NOTIFICATION 6/2 (",
        ),
        (
            DownReason::AutomaticStop(notification(6, 7)),
            "automatic stop, 6/7 (",
        ),
        (DownReason::TcpFailed, "TCP connection failed"),
        (DownReason::HoldTimerExpired, "hold timer expired"),
        (DownReason::Stopped, "stopped by operator"),
        (
            DownReason::UnexpectedEvent {
                state: State::Connect,
                event: "OPEN",
            },
            "unexpected OPEN in state Connect",
        ),
    ];
    for (reason, start) in cases {
        let text = reason.to_string();
        assert!(text.starts_with(start), "{text:?}");
    }
    // The NOTIFICATION's own description and RFC 9003 Shutdown Communication come along.
    let text =
        DownReason::NotificationReceived(Notification::cease(2, Some("maintenance"))).to_string();
    assert!(
        text.contains("Administrative Shutdown") && text.contains("maintenance"),
        "{text}"
    );
}
