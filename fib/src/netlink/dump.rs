//! Dumps: the routes of a table and the interface addresses, on the writer socket (only
//! between writes, so no answer of a write is pending).

use netlink_packet_route::address::AddressMessage;

use super::batch::NetlinkFib;
use super::route::{
    emit_message, messages, parse_address, parse_error, parse_route, route_dump_request,
    NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
    RTM_GETADDR, RTM_GETROUTE, RTM_NEWADDR, RTM_NEWROUTE,
};
use crate::error::Error;
use crate::types::{Address, KernelRoute};

/// A dump that changed under us (NLM_F_DUMP_INTR) is started again, this many times.
const DUMP_TRIES: usize = 5;

enum Outcome {
    Done,
    Interrupted,
}

impl NetlinkFib {
    /// Every route of `tables`, IPv4 and IPv6 (a table that does not exist is empty).
    pub fn dump_routes(&mut self, tables: &[u32]) -> Result<Vec<KernelRoute>, Error> {
        let mut out = Vec::new();
        for &table in tables {
            for ipv4 in [true, false] {
                self.dump_table(table, ipv4, &mut out)?;
            }
        }
        Ok(out)
    }

    fn dump_table(
        &mut self,
        table: u32,
        ipv4: bool,
        out: &mut Vec<KernelRoute>,
    ) -> Result<(), Error> {
        let start = out.len();
        for _ in 0..DUMP_TRIES {
            out.truncate(start);
            let req = route_dump_request(ipv4, table);
            let outcome = self.dump(RTM_GETROUTE, &req, "routes", |kind, payload| {
                if kind == RTM_NEWROUTE {
                    if let Some(r) = parse_route(payload) {
                        // The kernel filters by table (strict checking); older ones do not.
                        if r.table == table {
                            out.push(r);
                        }
                    }
                }
            });
            match outcome {
                Ok(Outcome::Done) => return Ok(()),
                Ok(Outcome::Interrupted) => continue,
                // No such table yet: nothing in it.
                Err(Error::Dump { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
                    out.truncate(start);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Decode(format!(
            "route dump of table {table} kept being interrupted"
        )))
    }

    /// Every address of every interface.
    pub fn dump_addresses(&mut self) -> Result<Vec<Address>, Error> {
        let mut out = Vec::new();
        for _ in 0..DUMP_TRIES {
            out.clear();
            let req = AddressMessage::default();
            let outcome = self.dump(RTM_GETADDR, &req, "addresses", |kind, payload| {
                if kind == RTM_NEWADDR {
                    if let Some(a) = parse_address(payload) {
                        out.push(a);
                    }
                }
            })?;
            if let Outcome::Done = outcome {
                return Ok(out);
            }
        }
        Err(Error::Decode("address dump kept being interrupted".into()))
    }

    fn dump<M, F>(
        &mut self,
        kind: u16,
        req: &M,
        what: &'static str,
        mut f: F,
    ) -> Result<Outcome, Error>
    where
        M: netlink_packet_core::Emitable,
        F: FnMut(u16, &[u8]),
    {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut buf = Vec::with_capacity(64);
        emit_message(&mut buf, kind, NLM_F_REQUEST | NLM_F_DUMP, seq, req);
        self.sock.send(&buf, 0).map_err(|source| Error::Io {
            what: "sendmsg (dump)",
            source,
        })?;
        let mut interrupted = false;
        loop {
            self.recv()?;
            let mut done = false;
            let mut failure = None;
            for (h, payload) in messages(&self.rbuf) {
                if h.seq != seq {
                    continue; // a late answer to an abandoned write
                }
                if h.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match h.kind {
                    NLMSG_DONE => done = true,
                    NLMSG_ERROR => {
                        let errno = parse_error(&h, payload).map_or(libc::EIO, |(e, _)| e);
                        failure = Some(errno);
                        done = true;
                    }
                    NLMSG_OVERRUN => interrupted = true,
                    k => f(k, payload),
                }
            }
            if let Some(errno) = failure {
                if errno != 0 {
                    return Err(Error::Dump {
                        what,
                        source: std::io::Error::from_raw_os_error(errno),
                    });
                }
            }
            if done {
                return Ok(if interrupted {
                    Outcome::Interrupted
                } else {
                    Outcome::Done
                });
            }
        }
    }
}
