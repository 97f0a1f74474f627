//! Just enough of a packet-capture reader to take BGP byte streams out of tcpdump files:
//! classic pcap, the link layers tcpdump writes on Linux, IPv4 and IPv6, and TCP stream
//! reassembly. For tests only, with std alone.
//!
//! File (the classic libpcap format; the magic number tells the byte order of every header
//! field, and whether the fraction of a timestamp is in micro- or nanoseconds):
//!
//! ```text
//! +----------------------------------+----------------------------------------------+
//! | magic 0xa1b2c3d4 / 0xa1b23c4d    | version 2.4 | thiszone | sigfigs | snaplen   |
//! | link type (1 Ethernet, 113 SLL, 276 SLL2)                                        |
//! +----------------------------------+----------------------------------------------+
//! | per packet: ts_sec | ts_frac | captured length | original length | the bytes   |
//! +----------------------------------+----------------------------------------------+
//! ```
//!
//! A packet cut by the snapshot length is an error: a stream with a hole cannot be decoded.
//! Reassembly keys each TCP connection by its two endpoints and each direction's bytes by
//! sequence number relative to the SYN (or to the first segment, if the SYN was not
//! captured). Retransmitted or overlapping segments must repeat the bytes already there; a
//! hole before later data, or a retransmission with different bytes, is an error.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Ethernet II, with any 802.1Q / 802.1ad tags.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Linux "cooked" capture, v1 (`tcpdump -i any` before libpcap 1.10).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// Linux "cooked" capture, v2 (`tcpdump -i any` since libpcap 1.10).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const IPPROTO_TCP: u8 = 6;

/// TCP flag bits (RFC 9293 §3.1).
const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// A whole capture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcap {
    pub link_type: u32,
    /// Header fields are big-endian (the file was written on a big-endian machine).
    pub big_endian: bool,
    /// Timestamps carry nanoseconds rather than microseconds.
    pub nanos: bool,
    pub snaplen: u32,
    pub packets: Vec<Packet>,
}

/// One captured packet: its timestamp and its link-layer bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub ts_sec: u32,
    pub ts_frac: u32,
    pub data: Vec<u8>,
}

/// The TCP segment of one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: Vec<u8>,
}

/// One TCP connection: each direction's bytes in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The side that sent the first SYN (without ACK); else the sender of the first segment.
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
    /// A RST was seen in either direction.
    pub reset: bool,
    /// A FIN was seen in each direction (client's, server's).
    pub fin: (bool, bool),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(array(b, at)?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(array(b, at)?))
}

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

/// Reads a pcap file.
pub fn parse(bytes: &[u8]) -> Result<Pcap, String> {
    let header = bytes
        .get(..FILE_HEADER_LEN)
        .ok_or("shorter than a pcap file header")?;
    let magic_be = u32_at(header, 0).ok_or("no magic")?;
    let (big_endian, nanos) = match (magic_be, magic_be.swap_bytes()) {
        (MAGIC_MICROS, _) => (true, false),
        (MAGIC_NANOS, _) => (true, true),
        (_, MAGIC_MICROS) => (false, false),
        (_, MAGIC_NANOS) => (false, true),
        _ => return Err(format!("not a classic pcap file (magic {magic_be:#010x})")),
    };
    let field32 = |b: &[u8], at: usize| -> Result<u32, String> {
        let v = u32_at(b, at).ok_or("truncated header")?;
        Ok(if big_endian { v } else { v.swap_bytes() })
    };
    let major = u16_at(header, 4).ok_or("truncated header")?;
    let major = if big_endian {
        major
    } else {
        major.swap_bytes()
    };
    if major != 2 {
        return Err(format!("pcap version {major}, want 2"));
    }
    let snaplen = field32(header, 16)?;
    // The top bits of the link type field may carry an FCS length (pcap-savefile(5)).
    let link_type = field32(header, 20)? & 0x0fff_ffff;

    let mut packets = Vec::new();
    let mut rest = &bytes[FILE_HEADER_LEN..];
    while !rest.is_empty() {
        let n = packets.len();
        let record = rest
            .get(..RECORD_HEADER_LEN)
            .ok_or_else(|| format!("packet {n}: truncated record header"))?;
        let incl = field32(record, 8)? as usize;
        let orig = field32(record, 12)? as usize;
        if incl < orig {
            return Err(format!(
                "packet {n}: {incl} of {orig} bytes captured (snapshot length {snaplen})"
            ));
        }
        let data = rest
            .get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + incl)
            .ok_or_else(|| format!("packet {n}: {incl} bytes announced, file ends first"))?;
        packets.push(Packet {
            ts_sec: field32(record, 0)?,
            ts_frac: field32(record, 4)?,
            data: data.to_vec(),
        });
        rest = &rest[RECORD_HEADER_LEN + incl..];
    }
    Ok(Pcap {
        link_type,
        big_endian,
        nanos,
        snaplen,
        packets,
    })
}

/// Writes `pcap` back as a file (in its byte order and timestamp precision).
pub fn write(pcap: &Pcap) -> Vec<u8> {
    let u32b = |v: u32| {
        if pcap.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if pcap.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend(u32b(if pcap.nanos {
        MAGIC_NANOS
    } else {
        MAGIC_MICROS
    }));
    out.extend(u16b(2));
    out.extend(u16b(4));
    out.extend(u32b(0));
    out.extend(u32b(0));
    out.extend(u32b(pcap.snaplen));
    out.extend(u32b(pcap.link_type));
    for p in &pcap.packets {
        let len = u32::try_from(p.data.len()).expect("packet under 4 GiB");
        for v in [p.ts_sec, p.ts_frac, len, len] {
            out.extend(u32b(v));
        }
        out.extend(&p.data);
    }
    out
}

/// The EtherType and the network-layer bytes of a frame of `link_type`.
fn network_layer(link_type: u32, frame: &[u8]) -> Result<(u16, &[u8]), String> {
    let (mut ethertype, mut at) = match link_type {
        LINKTYPE_ETHERNET => (u16_at(frame, 12), 14),
        // SLL: packet type, ARPHRD type, address length, 8 address octets, protocol.
        LINKTYPE_LINUX_SLL => (u16_at(frame, 14), 16),
        // SLL2: protocol, reserved, interface index, ARPHRD type, packet type, address
        // length, 8 address octets.
        LINKTYPE_LINUX_SLL2 => (u16_at(frame, 0), 20),
        other => return Err(format!("link type {other} is not supported")),
    };
    if link_type == LINKTYPE_ETHERNET {
        while matches!(ethertype, Some(ETHERTYPE_VLAN | ETHERTYPE_QINQ)) {
            ethertype = u16_at(frame, at + 2);
            at += 4;
        }
    }
    let ethertype = ethertype.ok_or("frame shorter than its link-layer header")?;
    let payload = frame
        .get(at..)
        .ok_or("frame shorter than its link-layer header")?;
    Ok((ethertype, payload))
}

/// Source, destination, upper-layer protocol and payload of an IPv4 packet. The payload is
/// cut to the Total Length (an Ethernet frame may carry padding after it).
fn ipv4(p: &[u8]) -> Result<(IpAddr, IpAddr, u8, &[u8]), String> {
    let first = *p.first().ok_or("empty IPv4 packet")?;
    let ihl = usize::from(first & 0x0f) * 4;
    let total = usize::from(u16_at(p, 2).ok_or("truncated IPv4 header")?);
    let frag = u16_at(p, 6).ok_or("truncated IPv4 header")?;
    if frag & 0x3fff != 0 {
        return Err("IPv4 fragment: not supported".into());
    }
    if first >> 4 != 4 || ihl < 20 || total < ihl {
        return Err(format!(
            "bad IPv4 header (version/IHL {first:#04x}, length {total})"
        ));
    }
    let proto = *p.get(9).ok_or("truncated IPv4 header")?;
    let src: [u8; 4] = array(p, 12).ok_or("truncated IPv4 header")?;
    let dst: [u8; 4] = array(p, 16).ok_or("truncated IPv4 header")?;
    let payload = p
        .get(ihl..total)
        .ok_or_else(|| format!("IPv4 packet of {total} bytes is cut to {}", p.len()))?;
    Ok((
        IpAddr::V4(Ipv4Addr::from(src)),
        IpAddr::V4(Ipv4Addr::from(dst)),
        proto,
        payload,
    ))
}

/// Source, destination, upper-layer protocol and payload of an IPv6 packet, extension
/// headers (hop-by-hop, routing, destination options) skipped.
fn ipv6(p: &[u8]) -> Result<(IpAddr, IpAddr, u8, &[u8]), String> {
    let (Some(src), Some(dst)) = (array::<16>(p, 8), array::<16>(p, 24)) else {
        return Err("truncated IPv6 header".into());
    };
    if p[0] >> 4 != 6 {
        return Err(format!("IP version {} in an IPv6 packet", p[0] >> 4));
    }
    let len = usize::from(u16_at(p, 4).ok_or("truncated IPv6 header")?);
    let mut payload = p
        .get(40..40 + len)
        .ok_or_else(|| format!("IPv6 payload of {len} bytes is cut to {}", p.len() - 40))?;
    let mut next = p[6];
    loop {
        match next {
            0 | 43 | 60 => {
                let ext_len = (usize::from(*payload.get(1).ok_or("truncated extension")?) + 1) * 8;
                next = payload[0];
                payload = payload.get(ext_len..).ok_or("truncated extension header")?;
            }
            44 => return Err("IPv6 fragment: not supported".into()),
            _ => break,
        }
    }
    Ok((
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
        next,
        payload,
    ))
}

/// The TCP segment a frame carries; `None` for anything that is not TCP over IP.
pub fn segment(link_type: u32, frame: &[u8]) -> Result<Option<Segment>, String> {
    let (ethertype, packet) = network_layer(link_type, frame)?;
    let (src, dst, proto, tcp) = match ethertype {
        ETHERTYPE_IPV4 => ipv4(packet)?,
        ETHERTYPE_IPV6 => ipv6(packet)?,
        _ => return Ok(None),
    };
    if proto != IPPROTO_TCP {
        return Ok(None);
    }
    let data_offset = usize::from(*tcp.get(12).ok_or("truncated TCP header")? >> 4) * 4;
    let flags = *tcp.get(13).ok_or("truncated TCP header")?;
    if data_offset < 20 {
        return Err(format!("TCP data offset {data_offset}"));
    }
    let payload = tcp
        .get(data_offset..)
        .ok_or("TCP header longer than the segment")?;
    Ok(Some(Segment {
        src: SocketAddr::new(src, u16_at(tcp, 0).ok_or("truncated TCP header")?),
        dst: SocketAddr::new(dst, u16_at(tcp, 2).ok_or("truncated TCP header")?),
        seq: u32_at(tcp, 4).ok_or("truncated TCP header")?,
        syn: flags & TCP_SYN != 0,
        ack: flags & TCP_ACK != 0,
        fin: flags & TCP_FIN != 0,
        rst: flags & TCP_RST != 0,
        payload: payload.to_vec(),
    }))
}

/// Every TCP segment of a capture, in capture order (packet numbers in errors are 0-based).
pub fn segments(pcap: &Pcap) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    for (n, p) in pcap.packets.iter().enumerate() {
        if let Some(s) = segment(pcap.link_type, &p.data).map_err(|e| format!("packet {n}: {e}"))? {
            out.push(s);
        }
    }
    Ok(out)
}

/// One direction of a connection while segments come in.
#[derive(Default)]
struct Half {
    /// Sequence number of this direction's SYN: data starts one after it.
    isn: Option<u32>,
    /// (sequence number, bytes) of every segment with data, in capture order.
    data: Vec<(u32, Vec<u8>)>,
    fin: bool,
}

impl Half {
    /// The bytes in order. Without a SYN the stream starts at the segment whose sequence
    /// number comes first (serial-number order, RFC 1982).
    fn assemble(&self) -> Result<Vec<u8>, String> {
        let Some(first) = self.data.first() else {
            return Ok(Vec::new());
        };
        let start = match self.isn {
            Some(isn) => isn.wrapping_add(1),
            None => self.data.iter().map(|(seq, _)| *seq).fold(first.0, |a, s| {
                if (s.wrapping_sub(a) as i32) < 0 {
                    s
                } else {
                    a
                }
            }),
        };
        let mut parts: Vec<(i64, &[u8])> = self
            .data
            .iter()
            .map(|(seq, d)| (i64::from(seq.wrapping_sub(start) as i32), d.as_slice()))
            .collect();
        parts.sort_by_key(|(off, _)| *off);
        let mut stream: Vec<u8> = Vec::new();
        for (off, bytes) in parts {
            let end = off + bytes.len() as i64;
            let have = stream.len() as i64;
            if off > have {
                return Err(format!(
                    "bytes {have}..{off} of the stream were not captured"
                ));
            }
            // Bytes before the start (a keepalive probe, say) and bytes already held must
            // repeat the stream: a retransmission.
            let from = off.max(0);
            let overlap_end = end.min(have);
            if from < overlap_end {
                let old = &stream[from as usize..overlap_end as usize];
                let new = &bytes[(from - off) as usize..(overlap_end - off) as usize];
                if old != new {
                    return Err(format!(
                        "retransmitted bytes at {from} differ from the first copy"
                    ));
                }
            }
            if end > have {
                stream.extend_from_slice(&bytes[(have - off) as usize..]);
            }
        }
        Ok(stream)
    }
}

struct Conn {
    client: SocketAddr,
    server: SocketAddr,
    to_server: Half,
    to_client: Half,
    reset: bool,
}

/// Reassembles every TCP connection of `segments`, in order of first appearance. A SYN
/// (without ACK) with another initial sequence number than the SYN seen before on the same
/// endpoints starts a new connection (a port reused after the first one closed).
pub fn reassemble(segments: &[Segment]) -> Result<Vec<Connection>, String> {
    let mut conns: Vec<Conn> = Vec::new();
    let mut open: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for s in segments {
        let key = if s.src <= s.dst {
            (s.src, s.dst)
        } else {
            (s.dst, s.src)
        };
        let reused = open.get(&key).is_some_and(|&i| {
            let c = &conns[i];
            let half = if s.src == c.client {
                &c.to_server
            } else {
                &c.to_client
            };
            s.syn && !s.ack && half.isn.is_some_and(|isn| isn != s.seq)
        });
        if reused || !open.contains_key(&key) {
            let (client, server) = if s.syn && s.ack {
                (s.dst, s.src)
            } else {
                (s.src, s.dst)
            };
            open.insert(key, conns.len());
            conns.push(Conn {
                client,
                server,
                to_server: Half::default(),
                to_client: Half::default(),
                reset: false,
            });
        }
        let c = &mut conns[open[&key]];
        c.reset |= s.rst;
        let half = if s.src == c.client {
            &mut c.to_server
        } else {
            &mut c.to_client
        };
        if s.syn {
            half.isn = Some(s.seq);
        }
        half.fin |= s.fin;
        // A SYN's payload (TCP Fast Open) comes after the SYN's own sequence number.
        if !s.payload.is_empty() && !s.rst {
            half.data
                .push((s.seq.wrapping_add(u32::from(s.syn)), s.payload.clone()));
        }
    }
    conns
        .into_iter()
        .map(|c| {
            let name = format!("{} -> {}", c.client, c.server);
            Ok(Connection {
                client: c.client,
                server: c.server,
                to_server: c.to_server.assemble().map_err(|e| format!("{name}: {e}"))?,
                to_client: c
                    .to_client
                    .assemble()
                    .map_err(|e| format!("{name} (reply): {e}"))?,
                reset: c.reset,
                fin: (c.to_server.fin, c.to_client.fin),
            })
        })
        .collect()
}

/// ARPHRD_ETHER, the hardware type of the cooked headers below.
const ARPHRD_ETHER: u16 = 1;

/// `frame` (Ethernet) with a Linux cooked (SLL) header instead, as `tcpdump -i any` wrote it
/// before libpcap 1.10. `packet_type`: 0 "to us", 4 "sent by us".
pub fn ethernet_to_sll(frame: &[u8], packet_type: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 2);
    out.extend(packet_type.to_be_bytes());
    out.extend(ARPHRD_ETHER.to_be_bytes());
    out.extend(6u16.to_be_bytes());
    out.extend(&frame[6..12]);
    out.extend([0, 0]);
    out.extend(&frame[12..]);
    out
}

/// `frame` (Ethernet) with a Linux cooked v2 (SLL2) header instead, as `tcpdump -i any`
/// writes it since libpcap 1.10.
pub fn ethernet_to_sll2(frame: &[u8], packet_type: u8, ifindex: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 6);
    out.extend(&frame[12..14]);
    out.extend([0, 0]);
    out.extend(ifindex.to_be_bytes());
    out.extend(ARPHRD_ETHER.to_be_bytes());
    out.push(packet_type);
    out.push(6);
    out.extend(&frame[6..12]);
    out.extend([0, 0]);
    out.extend(&frame[14..]);
    out
}

/// `frame` (Ethernet) with an 802.1Q tag for VLAN `vid` after the MAC addresses.
pub fn ethernet_add_vlan(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend(&frame[..12]);
    out.extend(ETHERTYPE_VLAN.to_be_bytes());
    out.extend((vid & 0x0fff).to_be_bytes());
    out.extend(&frame[12..]);
    out
}

/// The reader on the committed captures, and on variants of them.
mod tests {
    use super::*;

    const CAPTURES: [&str; 2] = ["bird-bgpod.pcap", "frr-bgpod.pcap"];

    fn read_capture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/captures")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    fn read_pcap(name: &str) -> Pcap {
        parse(&read_capture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Read and written back, each file is the same bytes: the reader keeps every field.
    #[test]
    fn pcap_reader_and_writer_agree_on_the_files() {
        for name in CAPTURES {
            let file = read_pcap(name);
            assert_eq!(file.link_type, LINKTYPE_ETHERNET, "{name}");
            assert!(
                !file.big_endian && !file.nanos,
                "{name}: tcpdump on x86 writes little-endian µs"
            );
            assert_eq!(write(&file), read_capture(name), "{name}");
        }
    }

    /// The same packets in a big-endian file, with nanosecond timestamps, behind Linux
    /// cooked headers (SLL, SLL2) or with an 802.1Q tag give the same TCP segments.
    #[test]
    fn other_byte_orders_and_link_types_give_the_same_segments() {
        for name in CAPTURES {
            let file = read_pcap(name);
            let want = segments(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
            let relink = |link_type, f: &dyn Fn(&[u8]) -> Vec<u8>| Pcap {
                link_type,
                packets: file
                    .packets
                    .iter()
                    .map(|p| Packet {
                        data: f(&p.data),
                        ..p.clone()
                    })
                    .collect(),
                ..file.clone()
            };
            let nanos = Pcap {
                nanos: true,
                packets: file
                    .packets
                    .iter()
                    .map(|p| Packet {
                        ts_frac: p.ts_frac * 1000,
                        ..p.clone()
                    })
                    .collect(),
                ..file.clone()
            };
            let variants = [
                (
                    "big-endian",
                    Pcap {
                        big_endian: true,
                        ..file.clone()
                    },
                ),
                ("nanoseconds", nanos),
                (
                    "SLL",
                    relink(LINKTYPE_LINUX_SLL, &|d| ethernet_to_sll(d, 4)),
                ),
                (
                    "SLL2",
                    relink(LINKTYPE_LINUX_SLL2, &|d| ethernet_to_sll2(d, 0, 2)),
                ),
                (
                    "802.1Q",
                    relink(LINKTYPE_ETHERNET, &|d| ethernet_add_vlan(d, 100)),
                ),
            ];
            for (what, variant) in variants {
                let back = parse(&write(&variant)).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(back, variant, "{name} as {what}");
                assert_eq!(segments(&back), Ok(want.clone()), "{name} as {what}");
            }
        }
    }

    /// Segments split with overlaps, delivered out of order and retransmitted reassemble into
    /// the same streams. A segment lost before later data, or a retransmission with other
    /// bytes, is an error, not a silently different stream.
    #[test]
    fn reassembly_handles_reordering_retransmission_and_loss() {
        for name in CAPTURES {
            let segs = segments(&read_pcap(name)).unwrap_or_else(|e| panic!("{e}"));
            let want = reassemble(&segs).unwrap_or_else(|e| panic!("{name}: {e}"));

            let mut mangled = Vec::new();
            for s in &segs {
                if s.payload.len() < 2 || s.syn || s.rst {
                    mangled.push(s.clone());
                    continue;
                }
                // The second half (from one byte before the middle) first, then the first
                // half, then the whole segment again.
                let mid = s.payload.len() / 2;
                let second = Segment {
                    seq: s.seq.wrapping_add(mid as u32 - 1),
                    payload: s.payload[mid - 1..].to_vec(),
                    ..s.clone()
                };
                let first = Segment {
                    payload: s.payload[..mid].to_vec(),
                    ..s.clone()
                };
                mangled.extend([second, first, s.clone()]);
            }
            assert_eq!(reassemble(&mangled), Ok(want), "{name}");

            // The peer's second data segment (its KEEPALIVE or first UPDATE) lost.
            let from_peer: Vec<usize> = (0..segs.len())
                .filter(|&i| {
                    segs[i].src.ip() == IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))
                        && !segs[i].payload.is_empty()
                })
                .collect();
            let mut lost = segs.clone();
            lost.remove(from_peer[1]);
            let err = reassemble(&lost).expect_err("a hole must be an error");
            assert!(err.contains("were not captured"), "{name}: {err}");

            let mut altered = segs.clone();
            let mut copy = segs[from_peer[1]].clone();
            copy.payload[0] ^= 0xff;
            altered.push(copy);
            let err = reassemble(&altered).expect_err("other bytes must be an error");
            assert!(err.contains("differ"), "{name}: {err}");
        }
    }

    /// A file cut short, a packet cut by the snapshot length, and a file that is not a pcap
    /// are errors that say so.
    #[test]
    fn pcap_reader_rejects_damaged_files() {
        let bytes = read_capture("bird-bgpod.pcap");
        let cut = parse(&bytes[..bytes.len() - 1]).expect_err("cut file");
        assert!(cut.contains("file ends first"), "{cut}");
        let mut snapped = bytes.clone();
        // The first record's original length (little-endian, at 24 + 12): one more than
        // the bytes captured.
        let incl = u32::from_le_bytes(snapped[32..36].try_into().expect("4 bytes"));
        snapped[36..40].copy_from_slice(&(incl + 1).to_le_bytes());
        let err = parse(&snapped).expect_err("snapped packet");
        assert!(err.contains("captured"), "{err}");
        let err = parse(&[0u8; 24]).expect_err("no magic");
        assert!(err.contains("not a classic pcap"), "{err}");
    }
}
