//! The BGP feeder: one eBGP session to the target, N /24s announced then withdrawn on command.
//!
//! The session is bgpod's own sans-IO machine ([`Session`]) driven by three threads: a reader
//! that cuts the TCP stream into frames ([`frame_len`]), a writer that owns the sending half,
//! and a stdin reader for the driver's commands. The main thread decodes frames, runs the
//! machine, keeps its timers and queues what it says to send.
//!
//! The feeder must never be the bottleneck. Once the session is Established it encodes every
//! announcement and every withdrawal up front ([`pack_announcements`], ~1000 /24s per
//! 4096-octet UPDATE; extended messages are not offered), into one buffer each. A command then
//! hands a whole buffer to the writer, which gives it to the kernel with a single `write_all`:
//! TCP flow control is the only thing that paces it. KEEPALIVEs queue behind it; the target's
//! hold timer is kept alive by the UPDATEs themselves while they flow.
//!
//! Protocol with the driver (one line each way, on stdin / stdout):
//! * feeder: `established <updates> <withdraw-updates>` once the session is up and encoded;
//! * driver: `announce` / `withdraw` — feeder: `sent announce <seconds>` when the last byte
//!   of that buffer is in the socket;
//! * driver: `close` (or end of input) — Cease / Administrative Shutdown, then exit 0.
//!
//! Anything else that ends the session is printed as `down <reason>` and exits 1.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bgpod_bgp::fsm::{Input, Output, Session, SessionConfig, Timer};
use bgpod_bgp::wire::iana::error::cease;
use bgpod_bgp::wire::{
    frame_len, pack_announcements, pack_withdrawals, Afi, AsPath, DecodeError, Message,
    Notification, Origin, PathAttributes, Safi, SessionContext, MAX_EXTENDED_MESSAGE_LEN,
};
use bytes::{Bytes, BytesMut};

use crate::prefixes;

/// What the feeder needs to know.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// The target's address and port.
    pub connect: SocketAddr,
    pub local_asn: u32,
    pub peer_asn: u32,
    pub router_id: Ipv4Addr,
    /// NEXT_HOP of every announced route (the feeder's address on the shared link).
    pub next_hop: Ipv4Addr,
    pub count: u32,
    /// Proposed hold time: long, so that a target busy installing a million routes is not
    /// dropped for a late KEEPALIVE.
    pub hold_time: u16,
    /// How long to keep trying to connect while the target starts.
    pub connect_timeout: Duration,
}

/// Everything the main thread waits for.
enum Event {
    /// One whole message from the target.
    Frame(Bytes),
    /// The byte stream broke the framing rules.
    BadFrame(DecodeError),
    /// The target closed the connection, or reading failed.
    ReadClosed(String),
    /// The writer has written everything queued before this mark.
    Written(&'static str),
    WriteFailed(String),
    Command(String),
    StdinClosed,
}

/// What the writer thread is asked to do, in order.
enum Job {
    Data(Bytes),
    Mark(&'static str),
    /// Shut down the sending half (after everything queued before) and stop.
    Close,
}

/// Runs the feeder until `close`; `Err` if the session ends any other way.
pub fn run(config: FeedConfig) -> Result<()> {
    let prefixes = prefixes::prefixes(config.count)?;
    let mut session_config =
        SessionConfig::new(config.local_asn, config.router_id, config.peer_asn);
    session_config.hold_time = config.hold_time;
    session_config.families = vec![(Afi::Ipv4, Safi::Unicast)];
    session_config.connect_retry = Duration::from_secs(1);
    session_config.idle_hold = Duration::from_secs(1);
    let mut feeder = Feeder {
        config,
        session: Session::new(session_config),
        timers: HashMap::new(),
        events: mpsc::channel(),
        writer: None,
        encoded: None,
        prefixes,
        started: HashMap::new(),
        closing: false,
    };
    spawn_stdin(feeder.events.0.clone());
    feeder.step(Input::ManualStart)?;
    feeder.run()
}

struct Feeder {
    config: FeedConfig,
    session: Session,
    timers: HashMap<Timer, Instant>,
    events: (Sender<Event>, Receiver<Event>),
    writer: Option<(Sender<Job>, thread::JoinHandle<()>)>,
    /// The announcement and withdrawal streams, encoded once the session is Established.
    encoded: Option<(Bytes, Bytes)>,
    prefixes: Vec<ipnetwork::IpNetwork>,
    /// When each `announce` / `withdraw` command was handed to the writer.
    started: HashMap<&'static str, Instant>,
    /// `close` was asked for: the session ending is the expected outcome.
    closing: bool,
}

impl Feeder {
    fn run(&mut self) -> Result<()> {
        loop {
            let now = Instant::now();
            let next = self
                .timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (*t, *at));
            let event = match next {
                Some((timer, at)) if at <= now => {
                    self.timers.remove(&timer);
                    self.step(Input::TimerExpired(timer))?;
                    continue;
                }
                Some((_, at)) => match self.events.1.recv_timeout(at - now) {
                    Ok(e) => e,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => bail!("event channel closed"),
                },
                None => self.events.1.recv().context("event channel closed")?,
            };
            if self.on_event(event)? {
                return Ok(());
            }
        }
    }

    /// Handles one event; `Ok(true)` once the feeder is done.
    fn on_event(&mut self, event: Event) -> Result<bool> {
        match event {
            Event::Frame(frame) => {
                let input = match Message::decode(&frame, &self.session.context()) {
                    Ok(msg) => Input::Received(msg),
                    Err(e) => Input::Malformed(e),
                };
                self.step(input)?;
            }
            Event::BadFrame(e) => self.step(Input::Malformed(e))?,
            Event::ReadClosed(why) | Event::WriteFailed(why) => {
                if self.closing {
                    return Ok(true);
                }
                eprintln!("feeder: connection lost: {why}");
                self.step(Input::TcpFailed)?;
            }
            Event::Written(mark) => {
                let secs = self
                    .started
                    .get(mark)
                    .map_or(0.0, |t| t.elapsed().as_secs_f64());
                say(&format!("sent {mark} {secs:.6}"));
            }
            Event::Command(cmd) => match cmd.trim() {
                "announce" => self.send_stream("announce")?,
                "withdraw" => self.send_stream("withdraw")?,
                "close" => return self.close(),
                "" => {}
                other => eprintln!("feeder: unknown command {other:?} ignored"),
            },
            Event::StdinClosed => return self.close(),
        }
        Ok(false)
    }

    /// Hands one pre-encoded stream to the writer.
    fn send_stream(&mut self, which: &'static str) -> Result<()> {
        let Some((announce, withdraw)) = &self.encoded else {
            bail!("{which} before the session is Established");
        };
        let data = if which == "announce" {
            announce.clone()
        } else {
            withdraw.clone()
        };
        self.started.insert(which, Instant::now());
        self.queue(Job::Data(data))?;
        self.queue(Job::Mark(which))?;
        self.step(Input::UpdateSent)
    }

    /// Cease / Administrative Shutdown, then wait for the writer to flush it.
    fn close(&mut self) -> Result<bool> {
        self.closing = true;
        let notification = Notification::cease(
            cease::ADMINISTRATIVE_SHUTDOWN,
            Some("bgpod-feeder: benchmark done"),
        );
        self.step(Input::ManualStop(notification))?;
        if let Some((tx, handle)) = self.writer.take() {
            let _ = tx.send(Job::Close);
            let _ = handle.join();
        }
        Ok(true)
    }

    fn queue(&self, job: Job) -> Result<()> {
        let Some((tx, _)) = &self.writer else {
            bail!("no connection to write to");
        };
        tx.send(job).ok().context("writer thread gone")
    }

    /// Feeds the session one input and carries out what it asks for.
    fn step(&mut self, input: Input) -> Result<()> {
        let mut pending = vec![input];
        while let Some(input) = pending.pop() {
            for output in self.session.handle(input) {
                if let Some(next) = self.on_output(output)? {
                    pending.push(next);
                }
            }
        }
        Ok(())
    }

    /// Carries out one output; may produce the next input (the result of a connect).
    fn on_output(&mut self, output: Output) -> Result<Option<Input>> {
        match output {
            Output::Connect => return Ok(Some(self.connect())),
            Output::CloseTcp => {
                if let Some((tx, handle)) = self.writer.take() {
                    let _ = tx.send(Job::Close);
                    if self.closing {
                        let _ = handle.join();
                    }
                }
            }
            Output::Send(msg) => {
                let bytes = msg.to_bytes(&self.session.context());
                self.queue(Job::Data(bytes))?;
            }
            Output::ArmTimer(timer, after) => {
                self.timers.insert(timer, Instant::now() + after);
            }
            Output::CancelTimer(timer) => {
                self.timers.remove(&timer);
            }
            Output::StateChange { from, to } => eprintln!("feeder: {from} -> {to}"),
            Output::Established(negotiated) => {
                let (announce, withdraw) = encode_streams(
                    &self.prefixes,
                    self.config.local_asn,
                    self.config.next_hop,
                    &negotiated.ctx,
                );
                let (a, w) = (count_messages(&announce), count_messages(&withdraw));
                self.encoded = Some((announce, withdraw));
                say(&format!("established {a} {w}"));
            }
            Output::Down(reason) => {
                if !self.closing {
                    say(&format!("down {reason}"));
                    bail!("session down: {reason}");
                }
            }
            Output::Deliver(_) => {}
        }
        Ok(None)
    }

    /// Connects, retrying every 100 ms while the target is still starting.
    fn connect(&mut self) -> Input {
        let deadline = Instant::now() + self.config.connect_timeout;
        loop {
            match TcpStream::connect_timeout(&self.config.connect, Duration::from_secs(1)) {
                Ok(stream) => match self.start_io(stream) {
                    Ok(()) => return Input::TcpConnected,
                    Err(e) => eprintln!("feeder: cannot use the connection: {e:#}"),
                },
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    thread::sleep(Duration::from_millis(100));
                    continue;
                }
                Err(e) => eprintln!("feeder: connect to {}: {e}", self.config.connect),
            }
            return Input::TcpFailed;
        }
    }

    /// Starts the reader and writer threads on a fresh connection.
    fn start_io(&mut self, stream: TcpStream) -> Result<()> {
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        let events = self.events.0.clone();
        thread::spawn(move || read_loop(reader, events));
        let (tx, rx) = mpsc::channel();
        let events = self.events.0.clone();
        let handle = thread::spawn(move || write_loop(stream, rx, events));
        self.writer = Some((tx, handle));
        Ok(())
    }
}

/// The announcement and withdrawal streams for `prefixes`, each one buffer of UPDATEs.
pub fn encode_streams(
    prefixes: &[ipnetwork::IpNetwork],
    local_asn: u32,
    next_hop: Ipv4Addr,
    ctx: &SessionContext,
) -> (Bytes, Bytes) {
    let attrs = PathAttributes {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::from_sequence(vec![local_asn])),
        next_hop: Some(next_hop),
        ..PathAttributes::default()
    };
    let encode = |updates: Vec<bgpod_bgp::wire::Update>| {
        let mut out = BytesMut::new();
        for u in updates {
            Message::Update(u).encode(ctx, &mut out);
        }
        out.freeze()
    };
    (
        encode(pack_announcements(&attrs, prefixes, &[], ctx)),
        encode(pack_withdrawals(prefixes, ctx)),
    )
}

/// Number of messages in a well-formed stream (for the report line).
fn count_messages(stream: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = stream;
    while let Ok(Some(len)) = frame_len(rest, MAX_EXTENDED_MESSAGE_LEN) {
        rest = &rest[len..];
        n += 1;
    }
    n
}

fn read_loop(mut stream: TcpStream, events: Sender<Event>) {
    let mut buf = BytesMut::with_capacity(1 << 16);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        loop {
            match frame_len(&buf, MAX_EXTENDED_MESSAGE_LEN) {
                Ok(Some(len)) => {
                    if events
                        .send(Event::Frame(buf.split_to(len).freeze()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = events.send(Event::BadFrame(e));
                    return;
                }
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                let _ = events.send(Event::ReadClosed("closed by the target".into()));
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = events.send(Event::ReadClosed(e.to_string()));
                return;
            }
        }
    }
}

fn write_loop(mut stream: TcpStream, jobs: Receiver<Job>, events: Sender<Event>) {
    for job in jobs {
        match job {
            Job::Data(bytes) => {
                if let Err(e) = stream.write_all(&bytes) {
                    let _ = events.send(Event::WriteFailed(e.to_string()));
                    return;
                }
            }
            Job::Mark(mark) => {
                let _ = events.send(Event::Written(mark));
            }
            Job::Close => break,
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

fn spawn_stdin(events: Sender<Event>) {
    thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if events.send(Event::Command(line)).is_err() {
                return;
            }
        }
        let _ = events.send(Event::StdinClosed);
    });
}

/// One line to the driver, flushed at once.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgpod_bgp::wire::prefix::IpNetwork;

    #[test]
    fn streams_decode_back_to_the_prefixes() {
        let ctx = SessionContext {
            four_octet_as: true,
            ..SessionContext::default()
        };
        let prefixes = prefixes::prefixes(3000).expect("prefixes");
        let nh = Ipv4Addr::new(10, 200, 0, 1);
        let (announce, withdraw) = encode_streams(&prefixes, 65100, nh, &ctx);
        let decode_all = |mut rest: &[u8]| {
            let mut out = Vec::new();
            while let Some(len) = frame_len(rest, 4096).expect("frames") {
                match Message::decode(&rest[..len], &ctx).expect("decodes") {
                    Message::Update(u) => out.push(u),
                    other => panic!("not an UPDATE: {other:?}"),
                }
                rest = &rest[len..];
            }
            assert!(rest.is_empty());
            out
        };
        let ann = decode_all(&announce);
        // ~1000 /24s per UPDATE: 1013 fit in 4096 octets with these three attributes.
        assert_eq!(ann.len(), 3);
        assert_eq!(ann[0].nlri.len(), 1013);
        let got: Vec<IpNetwork> = ann.iter().flat_map(|u| u.nlri.clone()).collect();
        assert_eq!(got, prefixes);
        assert!(ann.iter().all(|u| u.attributes.next_hop == Some(nh)
            && u.attributes.as_path == Some(AsPath::from_sequence(vec![65100]))));
        let wd = decode_all(&withdraw);
        let got: Vec<IpNetwork> = wd.iter().flat_map(|u| u.withdrawn.clone()).collect();
        assert_eq!(got, prefixes);
        assert_eq!(count_messages(&announce), 3);
    }
}
