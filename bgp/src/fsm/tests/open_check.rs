//! OPEN checks (RFC 4271 §6.2 and friends) and negotiation, through the session: each test
//! sends one OPEN in OpenSent and looks at the NOTIFICATION or at what was negotiated.

use super::*;
use crate::fsm::Negotiated;
use crate::wire::{GracefulRestart, GracefulRestartFamily, AS_TRANS};

/// The session's answer to `open` received in OpenSent.
fn answer(config: SessionConfig, open: Open) -> Result<Negotiated, Notification> {
    let mut s = Session::new(config);
    replay(&mut s, [Input::ManualStart, Input::TcpConnected]);
    let out = s.handle(recv_open(open));
    match (s.state(), s.negotiated(), sent_notification(&out)) {
        (State::OpenConfirm, Some(n), None) => Ok(n.clone()),
        (State::Idle, None, Some(n)) => Err(n.clone()),
        other => panic!("unexpected outcome {other:?}"),
    }
}

fn code(r: Result<Negotiated, Notification>) -> (u8, u8) {
    match r {
        Ok(_) => panic!("OPEN accepted"),
        Err(n) => (n.code, n.subcode),
    }
}

fn four_octet_peer(asn: u32, my_as: u16) -> Open {
    Open {
        my_as,
        capabilities: vec![Capability::FourOctetAs(asn)],
        ..peer_open()
    }
}

#[test]
fn open_unsupported_version_is_2_1_with_data_0004() {
    // RFC 4271 §6.2: Data "indicates the largest, locally-supported version number less than
    // the version the remote BGP peer bid".
    for version in [3, 5] {
        let n = answer(
            cfg(),
            Open {
                version,
                ..peer_open()
            },
        )
        .expect_err("version");
        assert_eq!((n.code, n.subcode, &n.data[..]), (2, 1, &[0x00, 0x04][..]));
    }
}

#[test]
fn open_wrong_peer_as_is_2_2() {
    assert_eq!(code(answer(cfg(), four_octet_peer(65003, 65003))), (2, 2));
    let two_octet = Open {
        my_as: 65003,
        capabilities: vec![],
        ..peer_open()
    };
    assert_eq!(code(answer(cfg(), two_octet)), (2, 2));
}

#[test]
fn open_two_octet_peer_is_accepted_on_my_as() {
    let two_octet = Open {
        capabilities: vec![],
        ..peer_open()
    };
    let n = answer(cfg(), two_octet).expect("2-octet peer");
    assert_eq!(n.peer_asn, PEER_ASN);
    assert!(!n.ctx.four_octet_as);
}

#[test]
fn open_as_trans_without_capability_is_a_mismatch() {
    // RFC 6793: without the capability My AS is the real ASN, so AS_TRANS means AS 23456.
    let open = Open {
        my_as: AS_TRANS,
        capabilities: vec![],
        ..peer_open()
    };
    let big = SessionConfig {
        peer_asn: 4_200_000_001,
        ..cfg()
    };
    assert_eq!(code(answer(big, open.clone())), (2, 2));
    // ... unless 23456 is what we were told to expect.
    let n = answer(
        SessionConfig {
            peer_asn: 23456,
            ..cfg()
        },
        open,
    )
    .expect("AS 23456");
    assert_eq!(n.peer_asn, 23456);
}

#[test]
fn open_four_octet_asn_is_compared_in_full() {
    let big = SessionConfig {
        peer_asn: 4_200_000_001,
        ..cfg()
    };
    let n = answer(big.clone(), four_octet_peer(4_200_000_001, AS_TRANS)).expect("4-octet");
    assert_eq!(n.peer_asn, 4_200_000_001);
    assert!(n.ctx.four_octet_as);
    assert_eq!(
        code(answer(big, four_octet_peer(4_200_000_002, AS_TRANS))),
        (2, 2)
    );
}

#[test]
fn open_four_octet_capability_zero_is_2_2() {
    // RFC 7607 §2: zero as the peer AS → Bad Peer AS.
    let zero = SessionConfig {
        peer_asn: 0,
        ..cfg()
    };
    assert_eq!(code(answer(zero.clone(), four_octet_peer(0, 0))), (2, 2));
    assert_eq!(
        code(answer(zero.clone(), four_octet_peer(0, AS_TRANS))),
        (2, 2)
    );
    let my_as_zero = Open {
        my_as: 0,
        capabilities: vec![],
        ..peer_open()
    };
    assert_eq!(code(answer(zero, my_as_zero)), (2, 2));
}

#[test]
fn open_four_octet_capability_inconsistent_with_my_as_is_2_2() {
    // A 2-octet-sized ASN must be in My AS, a larger one must come with AS_TRANS.
    assert_eq!(
        code(answer(cfg(), four_octet_peer(PEER_ASN, AS_TRANS))),
        (2, 2)
    );
    let big = SessionConfig {
        peer_asn: 4_200_000_001,
        ..cfg()
    };
    assert_eq!(
        code(answer(big, four_octet_peer(4_200_000_001, 65002))),
        (2, 2)
    );
}

#[test]
fn open_hold_time_one_or_two_is_2_6() {
    // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds."
    for hold_time in [1, 2] {
        assert_eq!(
            code(answer(
                cfg(),
                Open {
                    hold_time,
                    ..peer_open()
                }
            )),
            (2, 6)
        );
    }
}

#[test]
fn open_bgp_identifier_zero_is_2_3() {
    let open = Open {
        bgp_id: Ipv4Addr::UNSPECIFIED,
        ..peer_open()
    };
    assert_eq!(code(answer(cfg(), open)), (2, 3));
}

#[test]
fn open_bgp_identifier_equal_to_ours_is_2_3_for_ibgp_only() {
    // RFC 6286 §2.2: same identifier is an error "and the message is from an internal peer".
    let ibgp = SessionConfig {
        peer_asn: LOCAL_ASN,
        ..cfg()
    };
    let open = Open {
        my_as: 65001,
        bgp_id: LOCAL_ID,
        capabilities: vec![Capability::FourOctetAs(LOCAL_ASN)],
        ..peer_open()
    };
    assert_eq!(code(answer(ibgp, open)), (2, 3));
    let ebgp = answer(
        cfg(),
        Open {
            bgp_id: LOCAL_ID,
            ..peer_open()
        },
    )
    .expect("eBGP same id");
    assert_eq!(ebgp.peer_id, LOCAL_ID);
}

#[test]
fn open_required_capability_missing_is_2_7_with_the_capabilities_as_data() {
    // RFC 5492 §5: the data lists the missing capabilities as they would be in an OPEN.
    let config = SessionConfig {
        required_capabilities: vec![2, 65, 70],
        ..cfg()
    };
    let open = Open {
        my_as: 65002,
        capabilities: vec![],
        ..peer_open()
    };
    let n = answer(config, open).expect_err("missing capabilities");
    assert_eq!((n.code, n.subcode), (2, 7));
    // Route Refresh (ours, empty), 4-octet AS (ours: 65001), Enhanced RR (not ours: empty).
    assert_eq!(&n.data[..], &[2, 0, 65, 4, 0, 0, 0xFD, 0xE9, 70, 0][..]);
}

#[test]
fn open_required_capabilities_present_is_accepted() {
    let config = SessionConfig {
        required_capabilities: vec![1, 2, 65],
        ..cfg()
    };
    assert!(answer(config, peer_open()).is_ok());
}

#[test]
fn open_check_precedence() {
    // The configuration-free checks first (version, hold time, identifier, AS 0), then the
    // peer AS against the configuration.
    let all_wrong = Open {
        version: 3,
        my_as: 1,
        hold_time: 1,
        bgp_id: Ipv4Addr::UNSPECIFIED,
        capabilities: vec![],
    };
    assert_eq!(code(answer(cfg(), all_wrong.clone())), (2, 1));
    let v4 = Open {
        version: 4,
        ..all_wrong
    };
    assert_eq!(code(answer(cfg(), v4.clone())), (2, 6));
    let hold = Open {
        hold_time: 90,
        ..v4
    };
    assert_eq!(code(answer(cfg(), hold.clone())), (2, 3));
    assert_eq!(
        code(answer(
            cfg(),
            Open {
                bgp_id: PEER_ID,
                ..hold
            }
        )),
        (2, 2)
    );
}

#[test]
fn hold_time_negotiation_table() {
    // RFC 4271 §4.2: the smaller of the two; 0 means no keepalives (§4.4); keepalive is a
    // third of the hold time unless configured lower.
    let cases: [(u16, u16, Option<u16>, u16, u16); 10] = [
        // (ours, theirs, configured keepalive, hold, keepalive)
        (0, 0, None, 0, 0),
        (0, 90, None, 0, 0),
        (90, 0, None, 0, 0),
        (90, 30, None, 30, 10),
        (3, 90, None, 3, 1),
        (90, 3, None, 3, 1),
        (180, 90, None, 90, 30),
        (90, 90, Some(10), 90, 10),
        (90, 30, Some(20), 30, 10),
        (0, 90, Some(10), 0, 0),
    ];
    for (ours, theirs, ka, hold, keepalive) in cases {
        let config = SessionConfig {
            hold_time: ours,
            keepalive: ka,
            ..cfg()
        };
        let n = answer(
            config,
            Open {
                hold_time: theirs,
                ..peer_open()
            },
        )
        .expect("accepted");
        assert_eq!(
            (n.hold_time, n.keepalive),
            (hold, keepalive),
            "ours {ours}, theirs {theirs}, keepalive {ka:?}"
        );
    }
}

#[test]
fn configured_hold_time_of_one_or_two_is_proposed_as_three() {
    let s = Session::new(SessionConfig {
        hold_time: 2,
        ..cfg()
    });
    assert_eq!(s.local_open().hold_time, 3);
}

#[test]
fn negotiated_families_are_the_intersection() {
    let v4_only = Open {
        capabilities: vec![
            Capability::Multiprotocol {
                afi: Afi::Ipv4,
                safi: Safi::Unicast,
            },
            Capability::Multiprotocol {
                afi: Afi::Ipv4,
                safi: Safi::Multicast,
            },
            Capability::FourOctetAs(PEER_ASN),
        ],
        ..peer_open()
    };
    let n = answer(cfg(), v4_only).expect("accepted");
    assert_eq!(n.families, [(Afi::Ipv4, Safi::Unicast)]);
    // RFC 4760: no Multiprotocol capability at all means IPv4 unicast.
    let plain = Open {
        capabilities: vec![Capability::FourOctetAs(PEER_ASN)],
        ..peer_open()
    };
    assert_eq!(
        answer(cfg(), plain).expect("plain").families,
        [(Afi::Ipv4, Safi::Unicast)]
    );
    let v6_only = Open {
        capabilities: vec![
            Capability::Multiprotocol {
                afi: Afi::Ipv6,
                safi: Safi::Unicast,
            },
            Capability::FourOctetAs(PEER_ASN),
        ],
        ..peer_open()
    };
    let ours_v4 = SessionConfig {
        families: vec![],
        ..cfg()
    };
    assert!(answer(ours_v4, v6_only).expect("v6").families.is_empty());
}

#[test]
fn negotiated_capabilities_need_both_sides() {
    let gr = GracefulRestart {
        restart_state: false,
        notification: true,
        restart_time: 120,
        families: vec![GracefulRestartFamily {
            afi: Afi::Ipv4,
            safi: Safi::Unicast,
            forwarding_state: true,
        }],
    };
    let add_path = crate::wire::AddPathFamily {
        afi: Afi::Ipv4,
        safi: Safi::Unicast,
        send_receive: 3,
    };
    let mut open = peer_open();
    open.capabilities.extend([
        Capability::ExtendedMessage,
        Capability::GracefulRestart(gr.clone()),
        Capability::AddPath(vec![add_path]),
        Capability::Unknown {
            code: 73,
            value: Bytes::from_static(b"host"),
        },
    ]);
    // We do not advertise Extended Message by default: both sides must (RFC 8654).
    let n = answer(cfg(), open.clone()).expect("accepted");
    assert!(!n.ctx.extended_message);
    assert!(n.route_refresh);
    assert_eq!(n.peer_graceful_restart, Some(gr));
    assert_eq!(n.peer_add_path, [add_path]);
    let n = answer(
        SessionConfig {
            extended_message: true,
            ..cfg()
        },
        open,
    )
    .expect("accepted");
    assert!(n.ctx.extended_message);
    assert_eq!(n.ctx.max_message_len(), 65535);
    // Route refresh off on our side.
    let n = answer(
        SessionConfig {
            route_refresh: false,
            ..cfg()
        },
        peer_open(),
    )
    .expect("ok");
    assert!(!n.route_refresh);
}

#[test]
fn negotiated_context_marks_ibgp() {
    let ibgp = SessionConfig {
        peer_asn: LOCAL_ASN,
        ..cfg()
    };
    let open = Open {
        my_as: 65001,
        capabilities: vec![Capability::FourOctetAs(LOCAL_ASN)],
        ..peer_open()
    };
    assert!(answer(ibgp, open).expect("iBGP").ctx.ibgp);
}

#[test]
fn local_open_advertises_the_configuration() {
    let gr = GracefulRestart {
        restart_state: true,
        notification: false,
        restart_time: 90,
        families: vec![],
    };
    let config = SessionConfig {
        local_asn: 4_200_000_001,
        extended_message: true,
        graceful_restart: Some(gr.clone()),
        ..cfg()
    };
    let open = Session::new(config).local_open();
    assert_eq!(
        (open.version, open.my_as, open.hold_time, open.bgp_id),
        (4, AS_TRANS, 90, LOCAL_ID)
    );
    assert_eq!(
        open.capabilities,
        [
            Capability::Multiprotocol {
                afi: Afi::Ipv4,
                safi: Safi::Unicast
            },
            Capability::Multiprotocol {
                afi: Afi::Ipv6,
                safi: Safi::Unicast
            },
            Capability::RouteRefresh,
            Capability::FourOctetAs(4_200_000_001),
            Capability::ExtendedMessage,
            Capability::GracefulRestart(gr),
        ]
    );
    assert_eq!(open.asn(), 4_200_000_001);
    let small = Session::new(cfg()).local_open();
    assert_eq!(small.my_as, 65001);
}
