//! RFC 4271 §8.2.2, OpenSent state.

use super::*;

/// The teardown lines after a NOTIFICATION `c/s` is sent from OpenSent (Hold armed).
fn fsm_teardown(notif: &str, down: &str) -> Vec<String> {
    vec![
        format!("send NOTIFICATION {notif}"),
        "close".into(),
        "cancel Hold".into(),
        "arm IdleHold 1s".into(),
        "OpenSent -> Idle".into(),
        format!("down: {down}"),
    ]
}

#[test]
fn opensent_start_events_and_second_connection_are_ignored() {
    // "The start events (Events 1, 3-7) are ignored"; Events 16/17 are a second connection,
    // tracked by the driver's collision detection (§6.8), not by this session.
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert!(p
        .run([Input::ManualStart, Input::TcpConnected, Input::UpdateSent])
        .is_empty());
    assert_eq!(p.s.state(), State::OpenSent);
}

#[test]
fn opensent_bgpopen_valid_goes_openconfirm() {
    // Event 19: "sends a KEEPALIVE message, and sets a KeepaliveTimer ..., sets the HoldTimer
    // according to the negotiated value ..., changes its state to OpenConfirm."
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(p.s.peer_id(), None);
    assert_eq!(
        p.step(recv_open(peer_open())),
        [
            "send KEEPALIVE",
            "arm Hold 90s",
            "arm Keepalive ~30s",
            "OpenSent -> OpenConfirm"
        ]
    );
    // The driver needs the peer's id for collision detection and the context for decoding.
    assert_eq!(p.s.peer_id(), Some(PEER_ID));
    assert!(p.s.context().four_octet_as);
    assert!(!p.s.context().ibgp);
}

#[test]
fn opensent_bgpopen_invalid_sends_open_error_goes_idle() {
    // Event 22: "sends a NOTIFICATION message with the appropriate error code, ... increments
    // the ConnectRetryCounter by 1, ... changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    let open = Open {
        my_as: 65009,
        capabilities: vec![Capability::FourOctetAs(65009)],
        ..peer_open()
    };
    assert_eq!(
        p.step(recv_open(open)),
        fsm_teardown("2/2", "sent NOTIFICATION 2/2")
    );
    assert_eq!(p.s.connect_retry_counter(), 1);
    assert_eq!(p.s.peer_id(), None);
}

#[test]
fn opensent_holdtimer_expires_sends_notification_4_0() {
    // Event 10: "sends a NOTIFICATION message with the error code Hold Timer Expired, ...
    // changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(expire(Timer::Hold)),
        [
            "send NOTIFICATION 4/0",
            "close",
            "arm IdleHold 1s",
            "OpenSent -> Idle",
            "down: hold timer expired"
        ]
    );
}

#[test]
fn opensent_tcpconnectionfails_goes_active() {
    // Event 18: "closes the BGP connection, restarts the ConnectRetryTimer, continues to
    // listen for a connection that may be initiated by the remote BGP peer, and changes its
    // state to Active."
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(Input::TcpFailed),
        [
            "close",
            "cancel Hold",
            "arm ConnectRetry ~5s",
            "OpenSent -> Active",
            "down: TCP connection failed"
        ]
    );
    assert_eq!(
        p.s.connect_retry_counter(),
        0,
        "Event 18 in OpenSent does not count"
    );
}

#[test]
fn opensent_manualstop_sends_cease() {
    // Event 2: "sends the NOTIFICATION with a Cease, ... sets the ConnectRetryCounter to zero,
    // and changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(admin_shutdown()),
        [
            "send NOTIFICATION 6/2",
            "close",
            "cancel Hold",
            "OpenSent -> Idle",
            "down: stopped by operator"
        ]
    );
}

#[test]
fn opensent_automaticstop_collision_sends_cease_6_7() {
    // Events 8 / 23 OpenCollisionDump: "sends the NOTIFICATION with a Cease, ... increments
    // the ConnectRetryCounter by 1, ... Idle".
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(Input::AutomaticStop(notification(6, 7))),
        fsm_teardown("6/7", "automatic stop, 6/7")
    );
}

#[test]
fn opensent_keepalive_is_fsm_error_5_1() {
    // RFC 6608 §4: unexpected KEEPALIVE in OpenSent → 5/1.
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(keepalive()),
        fsm_teardown("5/1", "sent NOTIFICATION 5/1")
    );
}

#[test]
fn opensent_update_is_fsm_error_5_1() {
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(update()),
        fsm_teardown("5/1", "sent NOTIFICATION 5/1")
    );
}

#[test]
fn opensent_routerefresh_is_fsm_error_5_1() {
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    let out = p.step(route_refresh(Afi::Ipv4, Safi::Unicast));
    assert_eq!(out[0], "send NOTIFICATION 5/1");
    assert_eq!(p.s.state(), State::Idle);
}

#[test]
fn opensent_notification_goes_idle_without_reply() {
    // Events 24/25: close and go Idle; never answer a NOTIFICATION with one (§6.4).
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(recv_notification(2, 2)),
        [
            "close",
            "cancel Hold",
            "arm IdleHold 1s",
            "OpenSent -> Idle",
            "down: received NOTIFICATION 2/2"
        ]
    );
}

#[test]
fn opensent_bgpheadererr_sends_its_notification() {
    // Event 21: the DecodeError's own NOTIFICATION, data included (RFC 4271 §6.1).
    let mut s = Session::new(cfg());
    replay(&mut s, [Input::ManualStart, Input::TcpConnected]);
    let out = s.handle(malformed(1, 2));
    assert_eq!(
        sent_notification(&out),
        Some(&Notification {
            code: 1,
            subcode: 2,
            data: Bytes::from_static(&[0xAB])
        })
    );
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn opensent_bgpopenmsgerr_sends_its_notification() {
    // Event 22 from the decoder (e.g. 2/4 Unsupported Optional Parameter).
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(malformed(2, 4)),
        fsm_teardown("2/4", "sent NOTIFICATION 2/4")
    );
}

#[test]
fn opensent_updatemsgerr_is_fsm_error_5_1() {
    // Event 28 is among OpenSent's "other events": a (malformed) UPDATE is unexpected here.
    let mut p = Peer::in_state(cfg(), State::OpenSent);
    assert_eq!(
        p.step(malformed(3, 1)),
        fsm_teardown("5/1", "sent NOTIFICATION 5/1")
    );
}
