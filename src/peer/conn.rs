//! One TCP connection of a peer: framed reads in the peer task, writes in a task of their own.

use std::io;
use std::net::SocketAddr;

use bgpod_bgp::wire::{self, frame_len, DecodeError};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, Instrument};

/// Bytes of an offending message shown in a log line.
const LOG_HEX_BYTES: usize = 64;

pub(super) struct Conn {
    reader: OwnedReadHalf,
    pub(super) buf: BytesMut,
    pub(super) tx: mpsc::UnboundedSender<Bytes>,
    pub(super) local: SocketAddr,
    pub(super) remote: SocketAddr,
    pub(super) outgoing: bool,
}

impl Conn {
    /// Split the stream; a writer task owns the write half so that a slow peer never blocks
    /// reading (two speakers both blocked on write is a classic BGP deadlock).
    pub(super) fn new(stream: TcpStream, outgoing: bool) -> io::Result<(Conn, JoinHandle<()>)> {
        let local = stream.local_addr()?;
        let remote = stream.peer_addr()?;
        let (reader, writer) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = tokio::spawn(write_loop(writer, rx).in_current_span());
        Ok((
            Conn {
                reader,
                buf: BytesMut::with_capacity(wire::MAX_MESSAGE_LEN * 4),
                tx,
                local,
                remote,
                outgoing,
            },
            handle,
        ))
    }
}

async fn write_loop(mut writer: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Bytes>) {
    let mut batch = BytesMut::new();
    while let Some(first) = rx.recv().await {
        batch.extend_from_slice(&first);
        // Coalesce whatever else is queued into one write.
        while batch.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if let Err(e) = writer.write_all(&batch).await {
            debug!(error = %e, "write failed; connection closing");
            return;
        }
        batch.clear();
    }
    // The sender was dropped: everything queued is written. Close our side.
    let _ = writer.shutdown().await;
}

pub(super) enum ReadEvent {
    Frame(Bytes),
    Malformed(DecodeError),
    Closed,
    Error(io::Error),
}

/// The next whole message from a connection; pends forever when there is none.
/// Cancel-safe: bytes are only taken from the buffer when a whole frame is returned.
pub(super) async fn next_frame(conn: Option<&mut Conn>, max_len: usize) -> ReadEvent {
    let Some(c) = conn else {
        return std::future::pending().await;
    };
    loop {
        match frame_len(&c.buf, max_len) {
            Err(e) => return ReadEvent::Malformed(e),
            Ok(Some(n)) => return ReadEvent::Frame(c.buf.split_to(n).freeze()),
            Ok(None) => {}
        }
        match c.reader.read_buf(&mut c.buf).await {
            Ok(0) => return ReadEvent::Closed,
            Ok(_) => {}
            Err(e) => return ReadEvent::Error(e),
        }
    }
}

/// Hex of the first bytes of a message, for logs.
pub fn hex_trunc(b: &[u8]) -> String {
    if b.len() <= LOG_HEX_BYTES {
        hex::encode(b)
    } else {
        format!("{}…({} bytes)", hex::encode(&b[..LOG_HEX_BYTES]), b.len())
    }
}
