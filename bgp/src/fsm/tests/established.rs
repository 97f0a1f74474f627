//! RFC 4271 §8.2.2, Established state.

use super::*;

/// The teardown lines after NOTIFICATION `notif` is sent from Established.
fn teardown(notif: &str, down: &str) -> Vec<String> {
    vec![
        format!("send NOTIFICATION {notif}"),
        "close".into(),
        "cancel Hold".into(),
        "cancel Keepalive".into(),
        "arm IdleHold 1s".into(),
        "Established -> Idle".into(),
        format!("down: {down}"),
    ]
}

#[test]
fn established_start_events_and_second_connection_are_ignored() {
    // CollisionDetectEstablishedState off: a second connection never touches this session.
    let mut p = Peer::in_state(cfg(), State::Established);
    assert!(p.run([Input::ManualStart, Input::TcpConnected]).is_empty());
    assert_eq!(p.s.state(), State::Established);
}

#[test]
fn established_keepalivemsg_restarts_holdtimer() {
    // Event 26: "restarts its HoldTimer, if the negotiated HoldTime value is non-zero".
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(p.step(keepalive()), ["arm Hold 90s"]);
}

#[test]
fn established_updatemsg_restarts_holdtimer_and_delivers() {
    // Event 27: "processes the message, restarts its HoldTimer, if the negotiated HoldTime
    // value is non-zero".
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(p.step(update()), ["arm Hold 90s", "deliver UPDATE"]);
}

#[test]
fn established_routerefresh_delivered_for_negotiated_families_only() {
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(route_refresh(Afi::Ipv6, Safi::Unicast)),
        ["arm Hold 90s", "deliver ROUTE-REFRESH"]
    );
    // RFC 2918 §4: a family not advertised at session establishment is ignored.
    assert_eq!(
        p.step(route_refresh(Afi::Ipv4, Safi::Multicast)),
        ["arm Hold 90s"]
    );
    assert_eq!(p.s.state(), State::Established);
}

#[test]
fn established_holdtimer_expires_sends_notification_4_0() {
    // Event 10: "sends a NOTIFICATION message with the Error Code Hold Timer Expired, ...
    // changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(expire(Timer::Hold)),
        [
            "send NOTIFICATION 4/0",
            "close",
            "cancel Keepalive",
            "arm IdleHold 1s",
            "Established -> Idle",
            "down: hold timer expired"
        ]
    );
}

#[test]
fn established_keepalivetimer_expires_sends_keepalive() {
    // Event 11: "sends a KEEPALIVE message, and restarts its KeepaliveTimer".
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(expire(Timer::Keepalive)),
        ["send KEEPALIVE", "arm Keepalive ~30s"]
    );
}

#[test]
fn established_keepalive_jitter_stays_within_bounds() {
    // RFC 4271 §10: each restart is scaled by a factor in [0.75, 1.0] (the harness asserts
    // the bound on every ArmTimer); the factor must actually vary.
    let mut s = Session::new(cfg());
    replay(
        &mut s,
        [
            Input::ManualStart,
            Input::TcpConnected,
            recv_open(peer_open()),
            keepalive(),
        ],
    );
    let mut seen = Vec::new();
    for _ in 0..500 {
        for o in s.handle(expire(Timer::Keepalive)) {
            if let Output::ArmTimer(Timer::Keepalive, d) = o {
                assert_jittered(d, Duration::from_secs(30));
                seen.push(d);
            }
        }
    }
    assert_eq!(seen.len(), 500);
    seen.sort();
    seen.dedup();
    assert!(seen.len() > 100, "only {} distinct delays", seen.len());
}

#[test]
fn established_updatesent_restarts_keepalivetimer() {
    // "Each time the local system sends a KEEPALIVE or UPDATE message, it restarts its
    // KeepaliveTimer, unless the negotiated HoldTime value is zero."
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(p.step(Input::UpdateSent), ["arm Keepalive ~30s"]);
}

#[test]
fn established_bgpopen_is_fsm_error_5_3() {
    // RFC 6608 §4: an OPEN on an Established session → 5/3 (CollisionDetectEstablishedState
    // off, so Event 19 gets no collision processing here).
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(recv_open(peer_open())),
        teardown("5/3", "sent NOTIFICATION 5/3")
    );
}

#[test]
fn established_notifmsg_goes_idle_without_reply() {
    // Events 24/25: "... deletes all routes ..., drops the TCP connection, ... Idle."
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(recv_notification(6, 2)),
        [
            "close",
            "cancel Hold",
            "cancel Keepalive",
            "arm IdleHold 1s",
            "Established -> Idle",
            "down: received NOTIFICATION 6/2"
        ]
    );
}

#[test]
fn established_updatemsgerr_sends_update_error() {
    // Event 28: "sends a NOTIFICATION message with an Update error, ... Idle."
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(malformed(3, 3)),
        teardown("3/3", "sent NOTIFICATION 3/3")
    );
}

#[test]
fn established_bgpopenmsgerr_is_fsm_error_5_3() {
    // Events 20-22 are among Established's "other events": FSM Error.
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(malformed(2, 1)),
        teardown("5/3", "sent NOTIFICATION 5/3")
    );
}

#[test]
fn established_bgpheadererr_keeps_message_header_error() {
    // RFC 4271 §6.1: "All errors detected while processing the Message Header MUST be
    // indicated by sending the NOTIFICATION message with the Error Code Message Header Error."
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(malformed(1, 2)),
        teardown("1/2", "sent NOTIFICATION 1/2")
    );
}

#[test]
fn established_tcpconnectionfails_goes_idle() {
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(Input::TcpFailed),
        [
            "close",
            "cancel Hold",
            "cancel Keepalive",
            "arm IdleHold 1s",
            "Established -> Idle",
            "down: TCP connection failed"
        ]
    );
}

#[test]
fn established_manualstop_sends_cease_and_stays_down() {
    // Event 2: "sends the NOTIFICATION message with a Cease, ... sets the ConnectRetryCounter
    // to zero, ... changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(admin_shutdown()),
        [
            "send NOTIFICATION 6/2",
            "close",
            "cancel Hold",
            "cancel Keepalive",
            "Established -> Idle",
            "down: stopped by operator"
        ]
    );
}

#[test]
fn established_automaticstop_max_prefix_restarts_after_idlehold() {
    // Event 8: "sends a NOTIFICATION with a Cease, ... increments the ConnectRetryCounter by 1,
    // ... Idle"; AllowAutomaticStart brings it back after the IdleHold delay.
    let mut p = Peer::in_state(cfg(), State::Established);
    assert_eq!(
        p.step(Input::AutomaticStop(notification(6, 1))),
        teardown("6/1", "automatic stop, 6/1")
    );
    assert_eq!(
        p.step(expire(Timer::IdleHold)),
        ["arm ConnectRetry ~5s", "connect", "Idle -> Connect"]
    );
}

#[test]
fn established_with_hold_time_zero_runs_no_timers() {
    // RFC 4271 §4.4: with a zero Hold Time, KEEPALIVEs "MUST NOT be sent"; §8.2.2: "the
    // HoldTimer and KeepaliveTimer are not started".
    let mut p = Peer::in_state(
        SessionConfig {
            hold_time: 0,
            ..cfg()
        },
        State::OpenSent,
    );
    assert_eq!(
        p.step(recv_open(peer_open())),
        ["send KEEPALIVE", "cancel Hold", "OpenSent -> OpenConfirm"]
    );
    assert_eq!(
        p.step(keepalive()),
        ["OpenConfirm -> Established", "established"]
    );
    assert!(p.step(keepalive()).is_empty());
    assert_eq!(p.step(update()), ["deliver UPDATE"]);
    assert!(p.step(Input::UpdateSent).is_empty());
    assert!(p.step(expire(Timer::Hold)).is_empty(), "stale: never armed");
    assert_eq!(p.s.state(), State::Established);
}

#[test]
fn established_output_carries_the_negotiation() {
    let mut s = Session::new(cfg());
    let out = replay(
        &mut s,
        [
            Input::ManualStart,
            Input::TcpConnected,
            recv_open(peer_open()),
            keepalive(),
        ],
    );
    let established: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Established(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(established.len(), 1);
    let n = established[0];
    assert_eq!(
        (n.peer_asn, n.peer_id, n.hold_time, n.keepalive),
        (PEER_ASN, PEER_ID, 90, 30)
    );
    assert_eq!(n.peer_open, peer_open());
    assert_eq!(
        n.families,
        [(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)]
    );
    assert!(n.route_refresh);
    assert_eq!(Some(n), s.negotiated());
}
