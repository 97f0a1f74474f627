//! BGP-4 wire format (RFC 4271 §4).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                           Marker                              |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! How the pieces fit:
//! * [`frame_len`] cuts a byte stream into messages. It answers "need more bytes", "a message
//!   of n bytes is ready", or an error at once for a bad marker or length (RFC 4271 §6.1) — a
//!   broken header is never a reason to wait.
//! * [`Message::decode`] turns one framed message into an owned value. Every error is a
//!   [`DecodeError`] that carries the exact NOTIFICATION (code, subcode, data) to send.
//! * UPDATE attribute faults that RFC 7606 lets a session survive are not errors: they are
//!   recorded in [`Update::faults`] as "attribute discard" or "treat-as-withdraw" actions.
//! * [`Message::encode`] writes into a `BytesMut` and back-patches the length;
//!   [`Message::encoded_len`] gives the same number without writing, so that
//!   [`update::pack_announcements`] can keep every UPDATE under the negotiated maximum.
//!
//! Beyond the list in the crate documentation, the decoder follows RFC 7607 (AS 0 is
//! malformed in AS_PATH, AGGREGATOR, AS4_PATH and AS4_AGGREGATOR) and accepts the RFC 9072
//! extended optional parameters length in OPEN.

pub mod attr;
pub mod capability;
pub mod iana;
pub mod notification;
pub mod open;
pub mod prefix;
pub mod route_refresh;
pub mod update;

#[cfg(test)]
pub(crate) mod testgen;

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_u16, be_u8};

pub use attr::{
    Aggregator, AsPath, AsPathSegment, AttrAction, AttrFault, LargeCommunity, MpReach, MpUnreach,
    Origin, PathAttributes, RawAttribute,
};
pub use capability::{AddPathFamily, Capability, GracefulRestart, GracefulRestartFamily};
pub use iana::{Afi, Safi};
pub use notification::Notification;
pub use open::{check_open_basic, Open};
pub use route_refresh::RouteRefresh;
pub use update::{end_of_rib, pack_announcements, pack_withdrawals, Update};

use iana::{error, message_type};

/// Length of the fixed message header (RFC 4271 §4.1).
pub const HEADER_LEN: usize = 19;
/// Largest message without RFC 8654 (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Largest message once RFC 8654 extended messages are negotiated.
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
/// AS_TRANS, the 2-octet stand-in for a 4-octet AS number (RFC 6793 §9).
pub const AS_TRANS: u16 = 23456;

/// Length of the marker that opens every message (RFC 4271 §4.1).
const MARKER_LEN: usize = 16;
/// Smallest OPEN: header plus the ten fixed octets (RFC 4271 §4.2).
const MIN_OPEN_LEN: usize = 29;
/// Smallest UPDATE: header plus the two 2-octet length fields (RFC 4271 §4.3).
const MIN_UPDATE_LEN: usize = 23;
/// Smallest NOTIFICATION: header plus code and subcode (RFC 4271 §4.5).
const MIN_NOTIFICATION_LEN: usize = 21;

/// nom results in this module tree: the error carries nothing, each call site says what the
/// missing bytes mean for the NOTIFICATION.
pub(crate) type NomResult<'a, T> = nom::IResult<&'a [u8], T, ()>;

/// A BGP message (RFC 4271 §4, RFC 2918 §3).
#[allow(
    clippy::large_enum_variant,
    reason = "a message is moved once, decoder to FSM; boxing Update would add an allocation \
              per UPDATE and change the shape every caller matches on"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// What the decoder needs to know about the session (negotiated capabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH carries 4-octet ASNs.
    pub four_octet_as: bool,
    /// Both sides advertised RFC 8654 extended messages: the limit is 65535 instead of 4096.
    pub extended_message: bool,
    /// The peer is in our AS (iBGP). RFC 7606 treats some attributes differently per peer type.
    pub ibgp: bool,
}

impl Default for SessionContext {
    /// Before OPEN is exchanged: 2-octet AS, 4096-byte messages, eBGP rules.
    fn default() -> Self {
        SessionContext {
            four_octet_as: false,
            extended_message: false,
            ibgp: false,
        }
    }
}

impl SessionContext {
    /// The largest message length allowed on this session.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}

/// A message that cannot be decoded: it maps 1:1 to the NOTIFICATION to send (RFC 4271 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: NOTIFICATION {code}/{subcode}")]
pub struct DecodeError {
    /// NOTIFICATION error code (RFC 4271 §4.5).
    pub code: u8,
    /// NOTIFICATION error subcode.
    pub subcode: u8,
    /// NOTIFICATION data, as the RFC section for this error prescribes.
    pub data: Vec<u8>,
    /// What was wrong, for the log.
    pub reason: String,
}

impl DecodeError {
    /// An error answered by NOTIFICATION `code`/`subcode` with `data`.
    pub fn new(code: u8, subcode: u8, data: impl Into<Vec<u8>>, reason: impl Into<String>) -> Self {
        DecodeError {
            code,
            subcode,
            data: data.into(),
            reason: reason.into(),
        }
    }

    /// A Message Header Error (RFC 4271 §6.1).
    pub(crate) fn header(subcode: u8, data: impl Into<Vec<u8>>, reason: impl Into<String>) -> Self {
        Self::new(error::MESSAGE_HEADER, subcode, data, reason)
    }

    /// An OPEN Message Error (RFC 4271 §6.2).
    pub(crate) fn open(subcode: u8, data: impl Into<Vec<u8>>, reason: impl Into<String>) -> Self {
        Self::new(error::OPEN_MESSAGE, subcode, data, reason)
    }

    /// An UPDATE Message Error (RFC 4271 §6.3): always a session reset.
    pub(crate) fn update(subcode: u8, data: impl Into<Vec<u8>>, reason: impl Into<String>) -> Self {
        Self::new(error::UPDATE_MESSAGE, subcode, data, reason)
    }

    /// The NOTIFICATION that answers this error.
    pub fn to_notification(&self) -> Notification {
        Notification {
            code: self.code,
            subcode: self.subcode,
            data: Bytes::from(self.data.clone()),
        }
    }
}

/// The checked fixed header of a message.
#[derive(Debug, Clone, Copy)]
struct Header {
    len: usize,
    msg_type: u8,
}

/// Checks as much of the header as `buf` holds (RFC 4271 §6.1). `Ok(None)`: not enough bytes
/// yet to know the length and type; everything seen so far is fine.
fn check_header(buf: &[u8], max_len: usize) -> Result<Option<Header>, DecodeError> {
    // RFC 4271 §6.1: "If the Marker field of the message header is not as expected, then a
    // synchronization error has occurred and the Error Subcode MUST be set to Connection Not
    // Synchronized." Checked on the bytes already here, so garbage fails at once.
    let seen = buf.len().min(MARKER_LEN);
    if buf[..seen].iter().any(|&b| b != 0xff) {
        return Err(DecodeError::header(
            error::header::CONNECTION_NOT_SYNCHRONIZED,
            Vec::new(),
            "marker is not all ones",
        ));
    }
    let Some(len_field) = buf.get(MARKER_LEN..MARKER_LEN + 2) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([len_field[0], len_field[1]]));
    // RFC 4271 §6.1: "If the Length field of the message header is less than 19 or greater than
    // 4096, [...] the Error Subcode MUST be set to Bad Message Length. The Data field MUST
    // contain the erroneous Length field." RFC 8654 raises 4096 to 65535 once negotiated.
    let bad_length = |reason: String| {
        DecodeError::header(
            error::header::BAD_MESSAGE_LENGTH,
            len_field.to_vec(),
            reason,
        )
    };
    if len < HEADER_LEN || len > max_len {
        return Err(bad_length(format!(
            "message length {len} outside {HEADER_LEN}..={max_len}"
        )));
    }
    let Some(&msg_type) = buf.get(HEADER_LEN - 1) else {
        return Ok(None);
    };
    // RFC 4271 §6.1 continued: "[...] or if the Length field of an OPEN message is less than the
    // minimum length of the OPEN message, or if the Length field of an UPDATE message is less
    // than the minimum length of the UPDATE message, or if the Length field of a KEEPALIVE
    // message is not equal to 19, or if the Length field of a NOTIFICATION message is less than
    // the minimum length of the NOTIFICATION message". RFC 8654 §4: "The Extended Message
    // Capability applies to all messages except for OPEN and KEEPALIVE messages."
    // ROUTE-REFRESH length is checked by its decoder: RFC 7313 §5 gives it its own error.
    let wrong = match msg_type {
        message_type::OPEN => !(MIN_OPEN_LEN..=MAX_MESSAGE_LEN).contains(&len),
        message_type::UPDATE => len < MIN_UPDATE_LEN,
        message_type::NOTIFICATION => len < MIN_NOTIFICATION_LEN,
        message_type::KEEPALIVE => len != HEADER_LEN,
        _ => false,
    };
    if wrong {
        return Err(bad_length(format!(
            "length {len} is wrong for a message of type {msg_type}"
        )));
    }
    Ok(Some(Header { len, msg_type }))
}

/// Framing: Ok(None) = need more bytes; Ok(Some(n)) = a whole message of n bytes is at the front;
/// Err = bad marker (1/1 Connection Not Synchronized) or bad length (1/2, data = the 2 length bytes) at once.
///
/// The length checks include the per-type ones of RFC 4271 §6.1, so a KEEPALIVE that claims
/// 4000 bytes is refused before its body arrives. An unknown type is left to
/// [`Message::decode`] (1/3), once the message is whole.
pub fn frame_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    Ok(match check_header(buf, max_len)? {
        Some(header) if buf.len() >= header.len => Some(header.len),
        _ => None,
    })
}

impl Message {
    /// Decode one whole framed message (header included).
    ///
    /// `frame` must be exactly one message: a length field that disagrees with `frame.len()` is
    /// a Bad Message Length. The OPEN is decoded structurally only; its semantic checks are
    /// [`check_open_basic`] plus the FSM's own (peer AS, collision).
    pub fn decode(frame: &[u8], ctx: &SessionContext) -> Result<Message, DecodeError> {
        let header = match check_header(frame, ctx.max_message_len())? {
            Some(header) => header,
            None => {
                return Err(DecodeError::header(
                    error::header::BAD_MESSAGE_LENGTH,
                    frame.get(MARKER_LEN..).unwrap_or_default().to_vec(),
                    format!("frame of {} bytes is shorter than a header", frame.len()),
                ))
            }
        };
        if frame.len() != header.len {
            return Err(DecodeError::header(
                error::header::BAD_MESSAGE_LENGTH,
                frame[MARKER_LEN..MARKER_LEN + 2].to_vec(),
                format!(
                    "length field says {} bytes but the frame holds {}",
                    header.len,
                    frame.len()
                ),
            ));
        }
        let body = &frame[HEADER_LEN..];
        match header.msg_type {
            message_type::OPEN => Open::decode_body(body).map(Message::Open),
            message_type::UPDATE => Update::decode_body(body, ctx).map(Message::Update),
            message_type::NOTIFICATION => {
                Notification::decode_body(body).map(Message::Notification)
            }
            message_type::KEEPALIVE => Ok(Message::Keepalive),
            message_type::ROUTE_REFRESH => {
                RouteRefresh::decode_message(frame).map(Message::RouteRefresh)
            }
            // RFC 4271 §6.1: "If the Type field of the message header is not recognized, then
            // the Error Subcode MUST be set to Bad Message Type. The Data field MUST contain the
            // erroneous Type field."
            other => Err(DecodeError::header(
                error::header::BAD_MESSAGE_TYPE,
                vec![other],
                format!("unknown message type {other}"),
            )),
        }
    }

    /// The Type octet of this message (RFC 4271 §4.1).
    pub fn type_code(&self) -> u8 {
        match self {
            Message::Open(_) => message_type::OPEN,
            Message::Update(_) => message_type::UPDATE,
            Message::Notification(_) => message_type::NOTIFICATION,
            Message::Keepalive => message_type::KEEPALIVE,
            Message::RouteRefresh(_) => message_type::ROUTE_REFRESH,
        }
    }

    /// A short name for logs: "OPEN", "UPDATE", …
    pub fn name(&self) -> &'static str {
        match self {
            Message::Open(_) => "OPEN",
            Message::Update(_) => "UPDATE",
            Message::Notification(_) => "NOTIFICATION",
            Message::Keepalive => "KEEPALIVE",
            Message::RouteRefresh(_) => "ROUTE-REFRESH",
        }
    }

    /// Appends the message, header included, to `out` and back-patches the length.
    ///
    /// The caller keeps the message under `ctx.max_message_len()` (check with
    /// [`Message::encoded_len`], or build UPDATEs with [`update::pack_announcements`]).
    pub fn encode(&self, ctx: &SessionContext, out: &mut BytesMut) {
        let start = out.len();
        out.reserve(self.encoded_len(ctx));
        out.put_slice(&[0xff; MARKER_LEN]);
        out.put_u16(0);
        out.put_u8(self.type_code());
        match self {
            Message::Open(open) => open.encode_body(out),
            Message::Update(update) => update.encode_body(ctx, out),
            Message::Notification(notification) => notification.encode_body(out),
            Message::Keepalive => {}
            Message::RouteRefresh(refresh) => refresh.encode_body(out),
        }
        patch_u16(out, start + MARKER_LEN, out.len() - start);
    }

    /// The number of bytes [`Message::encode`] writes.
    pub fn encoded_len(&self, ctx: &SessionContext) -> usize {
        HEADER_LEN
            + match self {
                Message::Open(open) => open.body_len(),
                Message::Update(update) => update.body_len(ctx),
                Message::Notification(notification) => notification.body_len(),
                Message::Keepalive => 0,
                Message::RouteRefresh(_) => route_refresh::BODY_LEN,
            }
    }

    /// The encoded message as one buffer.
    pub fn to_bytes(&self, ctx: &SessionContext) -> Bytes {
        let mut out = BytesMut::with_capacity(self.encoded_len(ctx));
        self.encode(ctx, &mut out);
        out.freeze()
    }
}

/// Writes `value` as a big-endian u16 at `pos`, over a placeholder written earlier.
///
/// Lengths here are bounded by the message size the caller keeps under 65535; a larger value
/// means a caller broke that contract and is caught in debug builds.
pub(crate) fn patch_u16(out: &mut BytesMut, pos: usize, value: usize) {
    debug_assert!(
        value <= usize::from(u16::MAX),
        "length {value} does not fit 16 bits"
    );
    let bytes = (value as u16).to_be_bytes();
    out[pos..pos + 2].copy_from_slice(&bytes);
}

/// Reads a 1-octet length then that many bytes.
pub(crate) fn length_prefixed_u8(input: &[u8]) -> NomResult<'_, &[u8]> {
    let (input, len) = be_u8(input)?;
    take(len)(input)
}

/// Reads a 2-octet length then that many bytes.
pub(crate) fn length_prefixed_u16(input: &[u8]) -> NomResult<'_, &[u8]> {
    let (input, len) = be_u16(input)?;
    take(len)(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(len: u16, msg_type: u8) -> Vec<u8> {
        let mut v = vec![0xff; 16];
        v.extend_from_slice(&len.to_be_bytes());
        v.push(msg_type);
        v
    }

    #[test]
    fn keepalive_both_ways() {
        let bytes = header(19, 4);
        let ctx = SessionContext::default();
        assert_eq!(Message::decode(&bytes, &ctx), Ok(Message::Keepalive));
        assert_eq!(Message::Keepalive.to_bytes(&ctx).as_ref(), &bytes[..]);
        assert_eq!(Message::Keepalive.encoded_len(&ctx), 19);
    }

    #[test]
    fn frame_len_waits_for_more() {
        let bytes = header(19, 4);
        for cut in 0..bytes.len() {
            assert_eq!(frame_len(&bytes[..cut], 4096), Ok(None), "cut at {cut}");
        }
        assert_eq!(frame_len(&bytes, 4096), Ok(Some(19)));
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        assert_eq!(frame_len(&two, 4096), Ok(Some(19)));
        // An UPDATE announcing 30 bytes waits until all 30 are there.
        let mut update = header(30, 2);
        update.extend_from_slice(&[0; 5]);
        assert_eq!(frame_len(&update, 4096), Ok(None));
        update.extend_from_slice(&[0; 6]);
        assert_eq!(frame_len(&update, 4096), Ok(Some(30)));
    }

    #[test]
    fn bad_marker_fails_at_once() {
        let err = frame_len(&[0xff, 0xff, 0x00], 4096).expect_err("must fail");
        assert_eq!((err.code, err.subcode), (1, 1));
        assert!(err.data.is_empty());
    }

    #[test]
    fn bad_lengths() {
        let check = |bytes: &[u8], max: usize, data: [u8; 2]| {
            let err = frame_len(bytes, max).expect_err("must fail");
            assert_eq!(
                (err.code, err.subcode, err.data.as_slice()),
                (1, 2, &data[..])
            );
        };
        check(&header(18, 4)[..18], 4096, [0, 18]);
        check(&header(4097, 2)[..18], 4096, [0x10, 0x01]);
        check(&header(20, 4), 4096, [0, 20]);
        check(&header(28, 1), 4096, [0, 28]);
        check(&header(22, 2), 4096, [0, 22]);
        check(&header(20, 3), 4096, [0, 20]);
        // OPEN stays at 4096 even with extended messages (RFC 8654 §4); UPDATE may grow.
        check(&header(5000, 1), 65535, [0x13, 0x88]);
        assert_eq!(frame_len(&header(5000, 2), 65535), Ok(None));
    }

    #[test]
    fn unknown_type_is_1_3() {
        let bytes = header(19, 9);
        assert_eq!(frame_len(&bytes, 4096), Ok(Some(19)));
        let err = Message::decode(&bytes, &SessionContext::default()).expect_err("must fail");
        assert_eq!((err.code, err.subcode, err.data), (1, 3, vec![9]));
    }

    #[test]
    fn frame_and_length_field_must_agree() {
        let mut bytes = header(19, 4);
        bytes.push(0);
        let err = Message::decode(&bytes, &SessionContext::default()).expect_err("must fail");
        assert_eq!((err.code, err.subcode, err.data), (1, 2, vec![0, 19]));
        let err = Message::decode(&[0xff; 10], &SessionContext::default()).expect_err("must fail");
        assert_eq!((err.code, err.subcode), (1, 2));
    }

    #[test]
    fn decode_error_to_notification() {
        let err = DecodeError::new(3, 2, vec![1, 2], "x");
        let n = err.to_notification();
        assert_eq!((n.code, n.subcode, n.data.as_ref()), (3, 2, &[1u8, 2][..]));
    }

    fn contexts() -> impl Strategy<Value = SessionContext> {
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(four, ext, ibgp)| SessionContext {
            four_octet_as: four,
            extended_message: ext,
            ibgp,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn message_round_trip((ctx, msg) in contexts().prop_flat_map(|ctx| {
            (Just(ctx), testgen::message(ctx))
        })) {
            let bytes = msg.to_bytes(&ctx);
            prop_assert_eq!(bytes.len(), msg.encoded_len(&ctx));
            prop_assert_eq!(frame_len(&bytes, ctx.max_message_len()), Ok(Some(bytes.len())));
            let decoded = Message::decode(&bytes, &ctx);
            prop_assert_eq!(decoded, Ok(msg));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200),
                                       ctx in contexts()) {
            let _ = frame_len(&bytes, ctx.max_message_len());
            let _ = Message::decode(&bytes, &ctx);
        }

        #[test]
        fn arbitrary_body_after_valid_header_never_panics(
            msg_type in 0u8..7,
            body in proptest::collection::vec(any::<u8>(), 0..300),
            ctx in contexts(),
        ) {
            let mut bytes = header((HEADER_LEN + body.len()) as u16, msg_type);
            bytes.extend_from_slice(&body);
            let _ = frame_len(&bytes, ctx.max_message_len());
            if let Ok(Message::Update(update)) = Message::decode(&bytes, &ctx) {
                // Whatever was accepted re-encodes without panicking.
                let _ = Message::Update(update).to_bytes(&ctx);
            }
        }

        #[test]
        fn mutated_valid_messages_never_panic(
            (ctx, msg) in contexts().prop_flat_map(|ctx| (Just(ctx), testgen::message(ctx))),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut bytes = msg.to_bytes(&ctx).to_vec();
            for (index, value) in flips {
                // Keep the header intact so that the body parsers are what gets exercised.
                if bytes.len() > HEADER_LEN {
                    let i = HEADER_LEN + index.index(bytes.len() - HEADER_LEN);
                    bytes[i] = value;
                }
            }
            if let Ok(decoded) = Message::decode(&bytes, &ctx) {
                let _ = decoded.to_bytes(&ctx);
            }
        }
    }
}
