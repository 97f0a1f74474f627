//! The raw kernel rate: a pipelined rtnetlink writer with no BGP in front of it.
//!
//! Every route is one hand-serialized RTM_NEWROUTE (netlink-packet-route), `batch` of them per
//! `send` on one netlink-sys socket, without NLM_F_ACK, each numbered with its own sequence
//! number. The kernel handles a netlink write synchronously in the writer's context, so when
//! the last `send` returns every route is in the table. Without NLM_F_ACK the kernel still
//! answers a failed request with an NLMSG_ERROR carrying its sequence number; the socket is
//! drained after every write and the failures are counted and reported. All messages are
//! serialized before the clock starts: this column measures the kernel, not the encoder.
//!
//! This is the reference the other columns are divided by (the "1.0×").
//!
//! Protocol with the driver: the writer prints `ready`; `add` runs the N adds and answers
//! `added <seconds> <errors>`, `del` the N deletes and answers `deleted <seconds> <errors>`;
//! `close` or end of input exits.

use std::io::BufRead;
use std::net::Ipv4Addr;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::feeder::say;
use crate::prefixes;

/// What the raw writer installs.
#[derive(Debug, Clone)]
pub struct RawConfig {
    pub count: u32,
    /// Next hop of every route (the feeder's address on the shared link, as BGP would give).
    pub gateway: Ipv4Addr,
    /// The interface towards `gateway`.
    pub dev: String,
    /// Route protocol number the routes are tagged with.
    pub protocol: u8,
    /// Routes per `send` (at most 4095 fit the default send buffer; gains stop near 64).
    pub batch: usize,
}

/// Runs the writer: serialize, print `ready`, then obey `add` / `del` / `close`.
pub fn run(config: RawConfig) -> Result<()> {
    if !(1..=4000).contains(&config.batch) {
        bail!("batch must be 1..=4000 routes per write");
    }
    let ifindex = ifindex(&config.dev)?;
    let mut socket = Socket::new(NETLINK_ROUTE).context("netlink socket")?;
    socket.bind_auto().context("bind netlink socket")?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .context("connect netlink socket")?;

    let count = config.count;
    let adds = serialize(&config, ifindex, Verb::Add, 1)?;
    let dels = serialize(&config, ifindex, Verb::Delete, count + 1)?;
    say("ready");

    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading commands")?;
        match line.trim() {
            "add" => {
                let (secs, errors) = write_all(&socket, &adds)?;
                say(&format!("added {secs:.6} {errors}"));
            }
            "del" => {
                let (secs, errors) = write_all(&socket, &dels)?;
                say(&format!("deleted {secs:.6} {errors}"));
            }
            "close" => break,
            "" => {}
            other => eprintln!("rawfib: unknown command {other:?} ignored"),
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Delete,
}

/// The interface index of `dev` in this namespace (`ip netns exec` mounts its own /sys).
fn ifindex(dev: &str) -> Result<u32> {
    let path = format!("/sys/class/net/{dev}/ifindex");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.trim()
        .parse()
        .with_context(|| format!("{path} holds {text:?}"))
}

/// One route request, ready to serialize.
fn route_message(
    config: &RawConfig,
    ifindex: u32,
    verb: Verb,
    dst: Ipv4Addr,
    seq: u32,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut header = RouteHeader {
        address_family: AddressFamily::Inet,
        destination_prefix_length: 24,
        table: RouteHeader::RT_TABLE_MAIN,
        protocol: RouteProtocol::from(config.protocol),
        ..RouteHeader::default()
    };
    let mut route = RouteMessage::default();
    route
        .attributes
        .push(RouteAttribute::Destination(RouteAddress::Inet(dst)));
    let (payload, flags) = match verb {
        Verb::Add => {
            header.scope = RouteScope::Universe;
            header.kind = RouteType::Unicast;
            route
                .attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(config.gateway)));
            route.attributes.push(RouteAttribute::Oif(ifindex));
            route.header = header;
            (
                RouteNetlinkMessage::NewRoute(route),
                NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL,
            )
        }
        Verb::Delete => {
            // As `ip route del`: any scope, any type, but only our protocol's route.
            header.scope = RouteScope::NoWhere;
            header.kind = RouteType::Unspec;
            route.header = header;
            (RouteNetlinkMessage::DelRoute(route), NLM_F_REQUEST)
        }
    };
    let mut msg = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(payload),
    );
    msg.header.flags = flags;
    msg.header.sequence_number = seq;
    msg.finalize();
    msg
}

/// Every request of one verb, `batch` per buffer, numbered from `first_seq`.
fn serialize(config: &RawConfig, ifindex: u32, verb: Verb, first_seq: u32) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for i in 0..config.count {
        let msg = route_message(config, ifindex, verb, prefixes::nth(i), first_seq + i);
        let at = buf.len();
        buf.resize(at + msg.buffer_len(), 0);
        msg.serialize(&mut buf[at..]);
        if (i as usize + 1).is_multiple_of(config.batch) {
            out.push(std::mem::take(&mut buf));
        }
    }
    if !buf.is_empty() {
        out.push(buf);
    }
    Ok(out)
}

/// Sends every buffer; returns the seconds taken and the number of failed requests.
fn write_all(socket: &Socket, buffers: &[Vec<u8>]) -> Result<(f64, usize)> {
    let started = Instant::now();
    let mut errors = 0;
    for buf in buffers {
        let sent = socket.send(buf, 0).context("netlink send")?;
        if sent != buf.len() {
            bail!("netlink send took {sent} of {} bytes", buf.len());
        }
        errors += drain_errors(socket)?;
    }
    let secs = started.elapsed().as_secs_f64();
    errors += drain_errors(socket)?;
    Ok((secs, errors))
}

/// Reads every pending reply without blocking and counts the NLMSG_ERRORs with an error code.
fn drain_errors(socket: &Socket) -> Result<usize> {
    let mut errors = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match socket.recv(&mut &mut buf[..], libc::MSG_DONTWAIT) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(errors),
            // ENOBUFS: error replies were lost; the count below the fib counter will show it.
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                eprintln!("rawfib: error replies lost (ENOBUFS)");
                return Ok(errors);
            }
            Err(e) => return Err(e).context("netlink recv"),
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                .context("parsing a netlink reply")?;
            let len = (msg.header.length as usize).max(16).min(rest.len());
            if let NetlinkPayload::Error(e) = &msg.payload {
                if let Some(code) = e.code {
                    if errors < 3 {
                        eprintln!(
                            "rawfib: request {} failed: {}",
                            msg.header.sequence_number,
                            std::io::Error::from_raw_os_error(-code.get())
                        );
                    }
                    errors += 1;
                }
            }
            // Netlink messages are 4-byte aligned.
            rest = &rest[len.next_multiple_of(4).min(rest.len())..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(count: u32, batch: usize) -> RawConfig {
        RawConfig {
            count,
            gateway: Ipv4Addr::new(10, 200, 0, 1),
            dev: "vt".into(),
            protocol: 201,
            batch,
        }
    }

    #[test]
    fn adds_are_52_bytes_and_batched() {
        let bufs = serialize(&config(2500, 1024), 7, Verb::Add, 1).expect("serialize");
        assert_eq!(bufs.len(), 3);
        assert_eq!(bufs[0].len(), 1024 * 52);
        assert_eq!(bufs[2].len(), (2500 - 2048) * 52);
        let first =
            NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bufs[0][..52]).expect("parses");
        assert_eq!(first.header.sequence_number, 1);
        assert_eq!(
            first.header.flags,
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL
        );
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) = first.payload else {
            panic!("not RTM_NEWROUTE");
        };
        assert_eq!(r.header.destination_prefix_length, 24);
        assert_eq!(u8::from(r.header.protocol), 201);
        assert!(r
            .attributes
            .contains(&RouteAttribute::Destination(RouteAddress::Inet(
                Ipv4Addr::new(16, 0, 0, 0)
            ))));
        assert!(r.attributes.contains(&RouteAttribute::Oif(7)));
    }

    #[test]
    fn deletes_name_only_the_destination() {
        let bufs = serialize(&config(10, 64), 7, Verb::Delete, 11).expect("serialize");
        assert_eq!(bufs.len(), 1);
        assert_eq!(bufs[0].len(), 10 * 36);
        let last =
            NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bufs[0][9 * 36..]).expect("parses");
        assert_eq!(last.header.sequence_number, 20);
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(r)) = last.payload else {
            panic!("not RTM_DELROUTE");
        };
        assert_eq!(
            r.attributes,
            vec![RouteAttribute::Destination(RouteAddress::Inet(
                Ipv4Addr::new(16, 0, 9, 0)
            ))]
        );
    }
}
