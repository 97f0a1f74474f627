//! RFC 4271 §8.2.2, Connect and Active states (DelayOpen and SendNOTIFICATIONwithoutOPEN off).

use super::*;

#[test]
fn connect_start_events_are_ignored() {
    // "The start events (Events 1, 3-7) are ignored in the Connect state."
    let mut p = Peer::in_state(cfg(), State::Connect);
    assert!(p.step(Input::ManualStart).is_empty());
    assert_eq!(p.s.state(), State::Connect);
}

#[test]
fn connect_manualstop_goes_idle_without_restart() {
    // Event 2: "drops the TCP connection, ... sets ConnectRetryCounter to zero, stops the
    // ConnectRetryTimer ..., changes its state to Idle." No NOTIFICATION: no OPEN sent yet.
    let mut p = Peer::in_state(cfg(), State::Connect);
    assert_eq!(
        p.step(admin_shutdown()),
        [
            "close",
            "cancel ConnectRetry",
            "Connect -> Idle",
            "down: stopped by operator"
        ]
    );
    assert_eq!(p.s.connect_retry_counter(), 0);
}

#[test]
fn connect_connectretrytimer_expires_retries_the_connection() {
    // Event 9: "drops the TCP connection, restarts the ConnectRetryTimer, ... initiates a TCP
    // connection ..., stays in the Connect state."
    let mut p = Peer::in_state(cfg(), State::Connect);
    assert_eq!(
        p.step(expire(Timer::ConnectRetry)),
        ["close", "arm ConnectRetry ~5s", "connect"]
    );
    assert_eq!(p.s.state(), State::Connect);
}

#[test]
fn connect_tcpconnected_sends_open_goes_opensent() {
    // Events 16/17 (DelayOpen off): "stops the ConnectRetryTimer ..., sends an OPEN message to
    // its peer, sets the HoldTimer to a large value, and changes its state to OpenSent."
    let mut p = Peer::in_state(cfg(), State::Connect);
    assert_eq!(
        p.step(Input::TcpConnected),
        [
            "cancel ConnectRetry",
            "send OPEN",
            "arm Hold 240s",
            "Connect -> OpenSent"
        ]
    );
}

#[test]
fn connect_tcpconnectionfails_goes_idle_with_backoff() {
    // Event 18 (DelayOpen off): "stops the ConnectRetryTimer to zero, drops the TCP
    // connection, releases all BGP resources, and changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::Connect);
    assert_eq!(
        p.step(Input::TcpFailed),
        [
            "close",
            "cancel ConnectRetry",
            "arm IdleHold 1s",
            "Connect -> Idle",
            "down: TCP connection failed"
        ]
    );
}

#[test]
fn connect_message_goes_idle_without_notification() {
    // "In response to any other events (Events 8, 10-11, 13, 19, 23, 25-28)": drop the
    // connection, increment the ConnectRetryCounter, Idle.
    let mut p = Peer::in_state(cfg(), State::Connect);
    assert_eq!(
        p.step(keepalive()),
        [
            "close",
            "cancel ConnectRetry",
            "arm IdleHold 1s",
            "Connect -> Idle",
            "down: unexpected KEEPALIVE in state Connect"
        ]
    );
    assert_eq!(p.s.connect_retry_counter(), 1);
}

#[test]
fn connect_automaticstop_goes_idle_and_restarts_later() {
    let mut p = Peer::in_state(cfg(), State::Connect);
    assert_eq!(
        p.step(Input::AutomaticStop(notification(6, 1))),
        [
            "close",
            "cancel ConnectRetry",
            "arm IdleHold 1s",
            "Connect -> Idle",
            "down: automatic stop, 6/1"
        ]
    );
}

#[test]
fn connect_malformed_goes_idle_without_notification() {
    // Events 21/22 with SendNOTIFICATIONwithoutOPEN off: no NOTIFICATION, Idle.
    let mut p = Peer::in_state(cfg(), State::Connect);
    let out = p.step(malformed(1, 1));
    assert!(!out.iter().any(|l| l.starts_with("send")), "{out:?}");
    assert_eq!(
        out.last().map(String::as_str),
        Some("down: unexpected malformed message in state Connect")
    );
    assert_eq!(p.s.state(), State::Idle);
}

#[test]
fn active_start_events_are_ignored() {
    let mut p = Peer::in_state(passive_cfg(), State::Active);
    assert!(p.step(Input::ManualStart).is_empty());
}

#[test]
fn active_connectretrytimer_expires_goes_connect() {
    // Event 9: "restarts the ConnectRetryTimer (with initial value), initiates a TCP
    // connection to the other BGP peer, ... changes its state to Connect."
    let mut p = Peer::in_state(cfg(), State::Active);
    assert_eq!(
        p.step(expire(Timer::ConnectRetry)),
        ["arm ConnectRetry ~5s", "connect", "Active -> Connect"]
    );
}

#[test]
fn active_tcpconnected_sends_open_goes_opensent() {
    let mut p = Peer::in_state(cfg(), State::Active);
    assert_eq!(
        p.step(Input::TcpConnected),
        [
            "cancel ConnectRetry",
            "send OPEN",
            "arm Hold 240s",
            "Active -> OpenSent"
        ]
    );
}

#[test]
fn active_tcpconnected_passive_sends_open_goes_opensent() {
    let mut p = Peer::in_state(passive_cfg(), State::Active);
    assert_eq!(
        p.step(Input::TcpConnected),
        ["send OPEN", "arm Hold 240s", "Active -> OpenSent"]
    );
}

#[test]
fn active_manualstop_goes_idle_without_restart() {
    // Event 2: "... sets ConnectRetryCounter to zero, stops the ConnectRetryTimer ..., Idle".
    let mut p = Peer::in_state(cfg(), State::Active);
    assert_eq!(
        p.step(admin_shutdown()),
        [
            "cancel ConnectRetry",
            "Active -> Idle",
            "down: stopped by operator"
        ]
    );
    let mut p = Peer::in_state(passive_cfg(), State::Active);
    assert_eq!(
        p.step(admin_shutdown()),
        ["Active -> Idle", "down: stopped by operator"]
    );
}

#[test]
fn active_tcpconnectionfails_goes_idle() {
    // Event 18: "... increments the ConnectRetryCounter by 1, ... changes its state to Idle."
    let mut p = Peer::in_state(cfg(), State::Active);
    assert_eq!(
        p.step(Input::TcpFailed),
        [
            "cancel ConnectRetry",
            "arm IdleHold 1s",
            "Active -> Idle",
            "down: TCP connection failed"
        ]
    );
    assert_eq!(p.s.connect_retry_counter(), 1);
}

#[test]
fn active_bgpopen_goes_idle_without_notification() {
    // Event 19 is among Active's "other events" (DelayOpen off).
    let mut p = Peer::in_state(passive_cfg(), State::Active);
    assert_eq!(
        p.step(recv_open(peer_open())),
        [
            "arm IdleHold 1s",
            "Active -> Idle",
            "down: unexpected OPEN in state Active"
        ]
    );
}

#[test]
fn active_notification_goes_idle() {
    let mut p = Peer::in_state(passive_cfg(), State::Active);
    assert_eq!(
        p.step(recv_notification(6, 5)),
        [
            "arm IdleHold 1s",
            "Active -> Idle",
            "down: received NOTIFICATION 6/5"
        ]
    );
}

#[test]
fn passive_session_never_connects_out() {
    let mut p = Peer::in_state(passive_cfg(), State::OpenSent);
    // OpenSent Event 18 goes to Active; a passive session arms no ConnectRetryTimer there.
    let out = p.step(Input::TcpFailed);
    assert_eq!(
        out,
        [
            "close",
            "cancel Hold",
            "OpenSent -> Active",
            "down: TCP connection failed"
        ]
    );
    assert!(
        p.step(expire(Timer::ConnectRetry)).is_empty(),
        "stale: never armed"
    );
    assert_eq!(p.s.state(), State::Active);
}
