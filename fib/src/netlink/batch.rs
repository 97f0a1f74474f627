//! [`NetlinkFib`]: the pipelined route writer.

use std::io;

use netlink_sys::Socket;

use super::route::{self, messages, parse_error, NLMSG_ERROR};
use super::{open_socket, AckMode, WriterOptions};
use crate::error::Error;
use crate::types::{FibError, FibOp, Route};
use crate::Fib;

/// Receive buffer per `recv` call: an answer is small, a dump part is at most a few pages.
const RECV_BUF: usize = 64 << 10;

/// What one [`NetlinkFib::write`] did.
#[derive(Debug, Default)]
pub struct WriteOutcome {
    /// One per operation that did not take effect (or whose fate is unknown: `errno` `None`).
    pub errors: Vec<FibError>,
    /// Answers were lost (receive buffer overrun, timeout, socket error): the kernel's state
    /// is unknown for the operations reported with `errno: None`; dump and compare.
    pub lost: Option<Error>,
}

/// Writes bgpod's routes over one rtnetlink socket, many requests per `sendmsg`.
#[derive(Debug)]
pub struct NetlinkFib {
    pub(super) sock: Socket,
    port: u32,
    pub(super) opts: WriterOptions,
    pub(super) seq: u32,
    out: Vec<u8>,
    pub(super) rbuf: Vec<u8>,
}

impl NetlinkFib {
    /// Opens the writer socket (needs CAP_NET_ADMIN to change routes).
    pub fn open(opts: WriterOptions) -> Result<Self, Error> {
        let (sock, port) = open_socket(opts.rcvbuf)?;
        socket2::SockRef::from(&sock)
            .set_read_timeout(Some(opts.timeout))
            .map_err(Error::io("SO_RCVTIMEO"))?;
        // Dumps filtered by table in the kernel.
        let _ = sock.set_netlink_get_strict_chk(true);
        Ok(NetlinkFib {
            sock,
            port,
            opts,
            seq: 0,
            out: Vec::with_capacity(64 << 10),
            rbuf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// The socket's netlink port id: the kernel stamps it on the notifications our own
    /// writes cause, which is how the listener ignores them.
    pub fn port_id(&self) -> u32 {
        self.port
    }

    pub fn options(&self) -> &WriterOptions {
        &self.opts
    }

    /// Applies `ops` in order, `per_write` requests per `sendmsg`.
    pub fn write(&mut self, ops: &[FibOp]) -> WriteOutcome {
        let mut outcome = WriteOutcome::default();
        let per_write = self.opts.per_write.max(1);
        for (c, chunk) in ops.chunks(per_write).enumerate() {
            let base = c * per_write;
            if let Err(e) = self.write_chunk(chunk, base, &mut outcome.errors) {
                // This chunk's unanswered requests were reported by write_chunk; the later
                // ones were never sent.
                for (i, op) in ops.iter().enumerate().skip(base + chunk.len()) {
                    outcome.errors.push(FibError {
                        index: i,
                        prefix: op.prefix(),
                        errno: None,
                        reason: format!("not sent: {e}"),
                    });
                }
                outcome.lost = Some(e);
                break;
            }
        }
        outcome
    }

    fn write_chunk(
        &mut self,
        chunk: &[FibOp],
        base: usize,
        errors: &mut Vec<FibError>,
    ) -> Result<(), Error> {
        let first = self.seq.wrapping_add(1);
        self.out.clear();
        let last_j = chunk.len() - 1;
        for (j, op) in chunk.iter().enumerate() {
            let ack = self.opts.ack == AckMode::Every || j == last_j;
            let seq = first.wrapping_add(u32::try_from(j).unwrap_or(0));
            route::emit(
                &mut self.out,
                op,
                self.opts.table,
                self.opts.protocol,
                seq,
                ack,
            );
        }
        self.seq = first.wrapping_add(u32::try_from(last_j).unwrap_or(0));
        if let Err(e) = self.send() {
            for (j, op) in chunk.iter().enumerate() {
                errors.push(FibError {
                    index: base + j,
                    prefix: op.prefix(),
                    errno: None,
                    reason: format!("not sent: {e}"),
                });
            }
            return Err(e);
        }
        let mut answered = vec![false; chunk.len()];
        let mut remaining = match self.opts.ack {
            AckMode::Every => chunk.len(),
            AckMode::Barrier => 1,
        };
        let last_seq = self.seq;
        while remaining > 0 {
            if let Err(e) = self.recv() {
                for (j, op) in chunk.iter().enumerate() {
                    if !answered[j] {
                        errors.push(FibError {
                            index: base + j,
                            prefix: op.prefix(),
                            errno: None,
                            reason: format!("answer lost: {e}"),
                        });
                    }
                }
                return Err(e);
            }
            for (h, payload) in messages(&self.rbuf) {
                if h.kind != NLMSG_ERROR {
                    continue;
                }
                let j = h.seq.wrapping_sub(first) as usize;
                if j >= chunk.len() || answered[j] {
                    continue; // a late answer to an earlier, abandoned write
                }
                answered[j] = true;
                let Some((errno, ext)) = parse_error(&h, payload) else {
                    continue;
                };
                if errno != 0 {
                    let os = io::Error::from_raw_os_error(errno);
                    errors.push(FibError {
                        index: base + j,
                        prefix: chunk[j].prefix(),
                        errno: Some(errno),
                        reason: match ext {
                            Some(m) => format!("{os}: {m}"),
                            None => os.to_string(),
                        },
                    });
                }
                match self.opts.ack {
                    AckMode::Every => remaining -= 1,
                    AckMode::Barrier if h.seq == last_seq => remaining = 0,
                    AckMode::Barrier => {}
                }
            }
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), Error> {
        let mut tries = 0;
        loop {
            match self.sock.send(&self.out, 0) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Memory pressure: wait a little, a few times.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOBUFS | libc::EAGAIN | libc::ENOMEM)
                    ) && tries < 5 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10 << tries));
                }
                Err(e) => {
                    return Err(Error::Io {
                        what: "sendmsg",
                        source: e,
                    })
                }
            }
        }
    }

    /// One `recv` into `rbuf`.
    pub(super) fn recv(&mut self) -> Result<usize, Error> {
        loop {
            self.rbuf.clear();
            match self.sock.recv(&mut self.rbuf, 0) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(Error::Timeout(self.opts.timeout))
                }
                Err(e) => {
                    return Err(Error::Io {
                        what: "recv",
                        source: e,
                    })
                }
            }
        }
    }

    /// bgpod's routes as the kernel holds them now (a dump of our table, filtered).
    pub fn our_routes(&mut self) -> Result<Vec<Route>, Error> {
        let (table, protocol) = (self.opts.table, self.opts.protocol);
        let routes = self.dump_routes(&[table])?;
        Ok(routes
            .into_iter()
            .filter(|r| r.protocol == protocol && r.table == table)
            .filter_map(|r| {
                r.target().map(|target| Route {
                    prefix: r.prefix,
                    metric: r.metric,
                    target,
                })
            })
            .collect())
    }
}

impl Fib for NetlinkFib {
    fn apply(&mut self, ops: &[FibOp]) -> Vec<FibError> {
        self.write(ops).errors
    }

    fn routes(&self) -> Vec<Route> {
        // A dump needs the socket mutably; open a second one for this read-only view.
        let Ok(mut other) = NetlinkFib::open(self.opts.clone()) else {
            return Vec::new();
        };
        let mut v = other.our_routes().unwrap_or_default();
        v.sort_by_key(|r| (r.prefix, r.metric));
        v
    }
}
