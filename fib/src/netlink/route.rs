//! rtnetlink messages: RTM_NEWROUTE / RTM_DELROUTE built from [`FibOp`]s, and routes,
//! addresses and links read back from dumps and events.
//!
//! The payloads are `netlink-packet-route` values; the 16-byte `nlmsghdr` in front of each is
//! written here, so that many requests go into one buffer with our own sequence numbers.

use std::net::IpAddr;

use ipnetwork::IpNetwork;
use netlink_packet_core::{Emitable, Parseable};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteNextHop, RouteProtocol,
    RouteScope, RouteType, RouteVia,
};
use netlink_packet_route::AddressFamily;

use crate::types::{Address, FibOp, KernelNextHop, KernelRoute, NextHop, RouteTarget};

pub(crate) const NLMSG_HDR_LEN: usize = 16;
pub(crate) const NLMSG_ERROR: u16 = 2;
pub(crate) const NLMSG_DONE: u16 = 3;
pub(crate) const NLMSG_OVERRUN: u16 = 4;
pub(crate) const RTM_NEWLINK: u16 = 16;
pub(crate) const RTM_DELLINK: u16 = 17;
pub(crate) const RTM_NEWADDR: u16 = 20;
pub(crate) const RTM_DELADDR: u16 = 21;
pub(crate) const RTM_GETADDR: u16 = 22;
pub(crate) const RTM_NEWROUTE: u16 = 24;
pub(crate) const RTM_DELROUTE: u16 = 25;
pub(crate) const RTM_GETROUTE: u16 = 26;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
pub(crate) const NLM_F_DUMP_INTR: u16 = 0x10;
pub(crate) const NLM_F_REPLACE: u16 = 0x100;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
/// In an NLMSG_ERROR: extended ACK attributes follow.
pub(crate) const NLM_F_ACK_TLVS: u16 = 0x200;
/// In an NLMSG_ERROR: the request was not echoed beyond its header (NETLINK_CAP_ACK).
pub(crate) const NLM_F_CAPPED: u16 = 0x100;
/// `NLMSGERR_ATTR_MSG`: the extended ACK's text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// `RTM_F_CLONED`: a cache entry, not a route.
const RTM_F_CLONED: u32 = 0x200;

/// One netlink message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub len: u32,
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

impl Header {
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.kind.to_ne_bytes());
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
    }

    pub fn read(b: &[u8]) -> Option<Header> {
        let h = b.get(..NLMSG_HDR_LEN)?;
        let u32_at = |i: usize| {
            h.get(i..i + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        let u16_at = |i: usize| {
            h.get(i..i + 2)
                .and_then(|s| s.try_into().ok())
                .map(u16::from_ne_bytes)
        };
        Some(Header {
            len: u32_at(0)?,
            kind: u16_at(4)?,
            flags: u16_at(6)?,
            seq: u32_at(8)?,
            pid: u32_at(12)?,
        })
    }
}

/// Splits a receive buffer into (header, payload) pairs; stops at the first malformed one.
pub(crate) fn messages(mut b: &[u8]) -> impl Iterator<Item = (Header, &[u8])> {
    std::iter::from_fn(move || {
        let h = Header::read(b)?;
        let len = h.len as usize;
        if len < NLMSG_HDR_LEN || len > b.len() {
            return None;
        }
        let payload = &b[NLMSG_HDR_LEN..len];
        let aligned = (len + 3) & !3;
        b = b.get(aligned..).unwrap_or(&[]);
        Some((h, payload))
    })
}

/// An NLMSG_ERROR payload: the errno (0 for an ACK) and the extended ACK text, if any.
pub(crate) fn parse_error(h: &Header, payload: &[u8]) -> Option<(i32, Option<String>)> {
    let code = i32::from_ne_bytes(payload.get(..4)?.try_into().ok()?);
    let mut msg = None;
    if h.flags & NLM_F_ACK_TLVS != 0 {
        // The echoed request: its header only when capped, else all of it.
        let echoed = Header::read(payload.get(4..)?)?;
        let skip = if h.flags & NLM_F_CAPPED != 0 {
            NLMSG_HDR_LEN
        } else {
            echoed.len as usize
        };
        let mut tlvs = payload.get(4 + ((skip + 3) & !3)..).unwrap_or(&[]);
        while tlvs.len() >= 4 {
            let len = usize::from(u16::from_ne_bytes([tlvs[0], tlvs[1]]));
            let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
            if len < 4 || len > tlvs.len() {
                break;
            }
            if kind == NLMSGERR_ATTR_MSG {
                let text = &tlvs[4..len];
                let text = text.split(|c| *c == 0).next().unwrap_or(text);
                msg = Some(String::from_utf8_lossy(text).into_owned());
            }
            tlvs = tlvs.get((len + 3) & !3..).unwrap_or(&[]);
        }
    }
    Some((-code, msg))
}

fn family(p: &IpNetwork) -> AddressFamily {
    if p.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn route_header(prefix: &IpNetwork, table: u32, protocol: u8) -> RouteHeader {
    RouteHeader {
        address_family: family(prefix),
        destination_prefix_length: prefix.prefix(),
        // Tables above 255 go in RTA_TABLE only, with RT_TABLE_UNSPEC in the header.
        table: u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC),
        protocol: RouteProtocol::from(protocol),
        ..Default::default()
    }
}

fn next_hop(nh: &NextHop) -> RouteNextHop {
    let mut n = RouteNextHop::default();
    n.interface_index = nh.ifindex;
    n.attributes = vec![RouteAttribute::Gateway(RouteAddress::from(nh.gateway))];
    n
}

/// The route message for `op` (RTM_NEWROUTE for a replace, RTM_DELROUTE for a delete).
pub(crate) fn route_message(op: &FibOp, table: u32, protocol: u8) -> (u16, RouteMessage) {
    let prefix = op.prefix();
    let mut msg = RouteMessage::default();
    msg.header = route_header(&prefix, table, protocol);
    if prefix.prefix() > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                prefix.network(),
            )));
    }
    msg.attributes.push(RouteAttribute::Table(table));
    msg.attributes.push(RouteAttribute::Priority(op.metric()));
    match op {
        FibOp::Replace(route) => {
            msg.header.scope = RouteScope::Universe;
            match &route.target {
                RouteTarget::Blackhole => msg.header.kind = RouteType::BlackHole,
                RouteTarget::Unicast(hops) => {
                    msg.header.kind = RouteType::Unicast;
                    match hops.as_slice() {
                        [one] => {
                            msg.attributes
                                .push(RouteAttribute::Gateway(RouteAddress::from(one.gateway)));
                            msg.attributes.push(RouteAttribute::Oif(one.ifindex));
                        }
                        many => msg.attributes.push(RouteAttribute::MultiPath(
                            many.iter().map(next_hop).collect(),
                        )),
                    }
                }
            }
            (RTM_NEWROUTE, msg)
        }
        FibOp::Delete { .. } => {
            // Scope "nowhere" and type unspec match any route with this key and protocol.
            msg.header.scope = RouteScope::NoWhere;
            msg.header.kind = RouteType::Unspec;
            (RTM_DELROUTE, msg)
        }
    }
}

/// Appends the request for `op` to `out`: header (with `seq`) and message.
pub(crate) fn emit(out: &mut Vec<u8>, op: &FibOp, table: u32, protocol: u8, seq: u32, ack: bool) {
    let (kind, msg) = route_message(op, table, protocol);
    let mut flags = NLM_F_REQUEST;
    if kind == RTM_NEWROUTE {
        flags |= NLM_F_CREATE | NLM_F_REPLACE;
    }
    if ack {
        flags |= NLM_F_ACK;
    }
    emit_message(out, kind, flags, seq, &msg);
}

/// Appends one netlink message (header + payload, padded to 4 bytes) to `out`.
pub(crate) fn emit_message<M: Emitable>(
    out: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    msg: &M,
) {
    let len = NLMSG_HDR_LEN + msg.buffer_len();
    Header {
        len: u32::try_from(len).unwrap_or(u32::MAX),
        kind,
        flags,
        seq,
        pid: 0,
    }
    .write(out);
    let start = out.len();
    out.resize(start + msg.buffer_len(), 0);
    msg.emit(&mut out[start..]);
    out.resize((out.len() + 3) & !3, 0);
}

/// The dump request for the routes of `table` of one family.
pub(crate) fn route_dump_request(ipv4: bool, table: u32) -> RouteMessage {
    let prefix: IpNetwork = if ipv4 {
        IpNetwork::V4(ipnetwork::Ipv4Network::from(
            std::net::Ipv4Addr::UNSPECIFIED,
        ))
    } else {
        IpNetwork::V6(ipnetwork::Ipv6Network::from(
            std::net::Ipv6Addr::UNSPECIFIED,
        ))
    };
    let mut msg = RouteMessage::default();
    msg.header = route_header(&prefix, table, 0);
    msg.header.destination_prefix_length = 0;
    msg.attributes.push(RouteAttribute::Table(table));
    msg
}

fn addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn via(v: &RouteVia) -> Option<IpAddr> {
    match v {
        RouteVia::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteVia::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// A route message from a dump or an event, or `None` for what bgpod does not look at
/// (other families, source-specific and TOS routes, cache entries) or cannot parse.
pub(crate) fn parse_route(payload: &[u8]) -> Option<KernelRoute> {
    let msg = RouteMessage::parse(payload).ok()?;
    let h = &msg.header;
    let ipv4 = match h.address_family {
        AddressFamily::Inet => true,
        AddressFamily::Inet6 => false,
        _ => return None,
    };
    if h.source_prefix_length != 0 || h.tos != 0 || h.flags.bits() & RTM_F_CLONED != 0 {
        return None;
    }
    let mut dst: Option<IpAddr> = None;
    let mut table = u32::from(h.table);
    let mut metric = 0;
    let mut gateway = None;
    let mut oif = 0;
    let mut multipath = Vec::new();
    for a in &msg.attributes {
        match a {
            RouteAttribute::Destination(d) => dst = addr(d),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Priority(m) => metric = *m,
            RouteAttribute::Gateway(g) => gateway = addr(g),
            RouteAttribute::Via(v) => gateway = via(v),
            RouteAttribute::Oif(i) => oif = *i,
            RouteAttribute::MultiPath(hops) => {
                for nh in hops {
                    let gw = nh.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Gateway(g) => addr(g),
                        RouteAttribute::Via(v) => via(v),
                        _ => None,
                    });
                    multipath.push(KernelNextHop {
                        gateway: gw,
                        ifindex: nh.interface_index,
                    });
                }
            }
            _ => {}
        }
    }
    let dst = dst.unwrap_or(if ipv4 {
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
    });
    if dst.is_ipv4() != ipv4 {
        return None;
    }
    let prefix = IpNetwork::new(dst, h.destination_prefix_length).ok()?;
    let next_hops = if multipath.is_empty() {
        if gateway.is_some() || oif != 0 {
            vec![KernelNextHop {
                gateway,
                ifindex: oif,
            }]
        } else {
            Vec::new()
        }
    } else {
        multipath
    };
    Some(KernelRoute {
        table,
        prefix,
        protocol: u8::from(h.protocol),
        metric,
        kind: u8::from(h.kind),
        next_hops,
    })
}

/// An address message: the interface, our address (`IFA_LOCAL` if present, the peer address
/// of a point-to-point link being `IFA_ADDRESS`) and its prefix length.
pub(crate) fn parse_address(payload: &[u8]) -> Option<Address> {
    let msg = AddressMessage::parse(payload).ok()?;
    let mut local = None;
    let mut address = None;
    for a in &msg.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    let ip = local.or(address)?;
    Some(Address {
        ifindex: msg.header.index,
        network: IpNetwork::new(ip, msg.header.prefix_len).ok()?,
    })
}

/// A link message's interface index and `ifi_flags` (read straight from `ifinfomsg`).
pub(crate) fn parse_link(payload: &[u8]) -> Option<(u32, u32)> {
    let index = u32::from_ne_bytes(payload.get(4..8)?.try_into().ok()?);
    let flags = u32::from_ne_bytes(payload.get(8..12)?.try_into().ok()?);
    Some((index, flags))
}

#[cfg(test)]
mod tests;
