//! RFC 4271 §8.2.2, OpenConfirm state.

use super::*;

/// The teardown lines after NOTIFICATION `notif` is sent from OpenConfirm (Hold and
/// Keepalive armed).
fn teardown(notif: &str, down: &str) -> Vec<String> {
    vec![
        format!("send NOTIFICATION {notif}"),
        "close".into(),
        "cancel Hold".into(),
        "cancel Keepalive".into(),
        "arm IdleHold 1s".into(),
        "OpenConfirm -> Idle".into(),
        format!("down: {down}"),
    ]
}

const FSM_5_2: &str = "sent NOTIFICATION 5/2";

#[test]
fn openconfirm_start_events_and_second_connection_are_ignored() {
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert!(p
        .run([Input::ManualStart, Input::TcpConnected, Input::UpdateSent])
        .is_empty());
    assert_eq!(p.s.state(), State::OpenConfirm);
}

#[test]
fn openconfirm_keepalive_goes_established() {
    // Event 26: "restarts the HoldTimer and changes its state to Established."
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(keepalive()),
        ["arm Hold 90s", "OpenConfirm -> Established", "established"]
    );
}

#[test]
fn openconfirm_keepalivetimer_expires_sends_keepalive() {
    // Event 11: "sends a KEEPALIVE message, restarts the KeepaliveTimer, and remains in the
    // OpenConfirm state."
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(expire(Timer::Keepalive)),
        ["send KEEPALIVE", "arm Keepalive ~30s"]
    );
    assert_eq!(p.s.state(), State::OpenConfirm);
}

#[test]
fn openconfirm_holdtimer_expires_sends_notification_4_0() {
    // Event 10: "sends the NOTIFICATION message with the Error Code Hold Timer Expired, ...
    // changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(expire(Timer::Hold)),
        [
            "send NOTIFICATION 4/0",
            "close",
            "cancel Keepalive",
            "arm IdleHold 1s",
            "OpenConfirm -> Idle",
            "down: hold timer expired"
        ]
    );
}

#[test]
fn openconfirm_tcpconnectionfails_goes_idle() {
    // Event 18: "... drops the TCP connection, increments the ConnectRetryCounter by 1, ...
    // changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(Input::TcpFailed),
        [
            "close",
            "cancel Hold",
            "cancel Keepalive",
            "arm IdleHold 1s",
            "OpenConfirm -> Idle",
            "down: TCP connection failed"
        ]
    );
    assert_eq!(p.s.negotiated(), None);
    assert_eq!(p.s.context(), crate::wire::SessionContext::default());
}

#[test]
fn openconfirm_manualstop_sends_cease() {
    // Event 2: "sends the NOTIFICATION message with a Cease, ... sets the ConnectRetryCounter
    // to zero, ... changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(admin_shutdown()),
        [
            "send NOTIFICATION 6/2",
            "close",
            "cancel Hold",
            "cancel Keepalive",
            "OpenConfirm -> Idle",
            "down: stopped by operator"
        ]
    );
}

#[test]
fn openconfirm_opencollisiondump_sends_cease_6_7() {
    // Event 23 (the driver's §6.8 decision, fed as AutomaticStop): "sends a NOTIFICATION with a
    // Cease, ... changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(Input::AutomaticStop(notification(6, 7))),
        teardown("6/7", "automatic stop, 6/7")
    );
}

#[test]
fn openconfirm_bgpopen_is_fsm_error_5_2() {
    // RFC 6608 §4: an OPEN on a session in OpenConfirm → 5/2.
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(p.step(recv_open(peer_open())), teardown("5/2", FSM_5_2));
}

#[test]
fn openconfirm_update_is_fsm_error_5_2() {
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(p.step(update()), teardown("5/2", FSM_5_2));
}

#[test]
fn openconfirm_routerefresh_is_fsm_error_5_2() {
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(route_refresh(Afi::Ipv4, Safi::Unicast)),
        teardown("5/2", FSM_5_2)
    );
}

#[test]
fn openconfirm_notification_goes_idle_without_reply() {
    // Events 24/25: "sets the ConnectRetryTimer to zero, releases all BGP resources, drops the
    // TCP connection, ... changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(recv_notification(6, 3)),
        [
            "close",
            "cancel Hold",
            "cancel Keepalive",
            "arm IdleHold 1s",
            "OpenConfirm -> Idle",
            "down: received NOTIFICATION 6/3"
        ]
    );
}

#[test]
fn openconfirm_bgpheadererr_and_openmsgerr_send_their_notification() {
    // Events 21/22: "sends a NOTIFICATION message with the appropriate error code".
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(malformed(1, 3)),
        teardown("1/3", "sent NOTIFICATION 1/3")
    );
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(
        p.step(malformed(2, 4)),
        teardown("2/4", "sent NOTIFICATION 2/4")
    );
}

#[test]
fn openconfirm_updatemsgerr_is_fsm_error_5_2() {
    // Event 28 is among OpenConfirm's "other events (Events 9, 12-13, 20, 27-28)".
    let mut p = Peer::in_state(cfg(), State::OpenConfirm);
    assert_eq!(p.step(malformed(3, 11)), teardown("5/2", FSM_5_2));
}
