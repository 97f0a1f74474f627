//! RFC 4271 §8.2.2, Idle state.

use super::*;

#[test]
fn idle_manualstart_goes_connect() {
    // Event 1: "starts the ConnectRetryTimer ..., initiates a TCP connection ..., Connect".
    let mut p = Peer::new(cfg());
    assert_eq!(
        p.step(Input::ManualStart),
        ["arm ConnectRetry ~5s", "connect", "Idle -> Connect"]
    );
    assert_eq!(p.s.state(), State::Connect);
}

#[test]
fn idle_manualstart_passive_goes_active() {
    // Event 5: "listens for a connection ..., changes its state to Active". bgpod's passive
    // session never connects out, so no ConnectRetryTimer either.
    let mut p = Peer::new(passive_cfg());
    assert_eq!(p.step(Input::ManualStart), ["Idle -> Active"]);
}

#[test]
fn idle_other_events_are_ignored() {
    // "Any other event (Events 9-12, 15-28) received in the Idle state does not cause change
    // in the state of the local system." ManualStop/AutomaticStop are ignored too.
    let mut p = Peer::new(cfg());
    let out = p.run([
        admin_shutdown(),
        Input::AutomaticStop(notification(6, 1)),
        Input::TcpFailed,
        recv_open(peer_open()),
        keepalive(),
        update(),
        recv_notification(6, 2),
        malformed(1, 2),
        expire(Timer::ConnectRetry),
        expire(Timer::Hold),
        expire(Timer::Keepalive),
        expire(Timer::IdleHold),
        Input::UpdateSent,
    ]);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(p.s.state(), State::Idle);
}

#[test]
fn idle_tcpconnected_is_refused() {
    // §8.2.2 Idle: "BGP FSM refuses all incoming BGP connections for this peer".
    let mut p = Peer::new(cfg());
    assert_eq!(p.step(Input::TcpConnected), ["close"]);
    assert_eq!(p.s.state(), State::Idle);
}

#[test]
fn idle_idleholdtimer_expires_restarts_automatically() {
    // AllowAutomaticStart with DampPeerOscillations: the automatic start once IdleHold expires.
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
    assert_eq!(
        p.step(expire(Timer::IdleHold)),
        ["arm ConnectRetry ~5s", "connect", "Idle -> Connect"]
    );
}

#[test]
fn idle_idleholdtimer_expires_passive_goes_active() {
    let mut p = Peer::in_state(passive_cfg(), State::OpenSent);
    p.step(keepalive()); // FSM error in OpenSent: Idle with an automatic restart
    assert_eq!(p.s.state(), State::Idle);
    assert_eq!(p.step(expire(Timer::IdleHold)), ["Idle -> Active"]);
}

#[test]
fn idle_manualstop_cancels_the_automatic_restart() {
    let mut p = Peer::in_state(cfg(), State::Connect);
    p.step(Input::TcpFailed);
    assert_eq!(p.step(admin_shutdown()), ["cancel IdleHold"]);
    // A late expiry of the cancelled timer is stale and ignored.
    assert!(p.step(expire(Timer::IdleHold)).is_empty());
    assert_eq!(p.s.state(), State::Idle);
}

#[test]
fn idle_manualstart_during_backoff_starts_at_once_and_resets_the_counter() {
    let mut p = Peer::in_state(cfg(), State::Connect);
    p.step(Input::TcpFailed);
    assert_eq!(p.s.connect_retry_counter(), 1);
    assert_eq!(
        p.step(Input::ManualStart),
        [
            "cancel IdleHold",
            "arm ConnectRetry ~5s",
            "connect",
            "Idle -> Connect"
        ]
    );
    // Event 1: "sets ConnectRetryCounter to zero".
    assert_eq!(p.s.connect_retry_counter(), 0);
}
