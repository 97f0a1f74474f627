//! # bgpod-bgp: the BGP-4 protocol, sans-IO
//!
//! This crate is the protocol half of bgpod. It holds no sockets, no timers and no kernel
//! handles: every piece is a value that takes events and returns actions, so each rule of the
//! RFCs below is a unit test with a fake clock.
//!
//! * [`wire`] — the message formats. Each message is an owned value (`Open`, `Update`,
//!   `Notification`, …) with a `decode` built from nom combinators and an `encode` into
//!   `BytesMut`. Decode errors map one-to-one onto the NOTIFICATION that RFC 4271 §6 prescribes;
//!   attribute faults that RFC 7606 handles without a reset are recorded on the decoded
//!   `Update` as actions (attribute discard, treat-as-withdraw) instead of being errors.
//! * [`fsm`] — the RFC 4271 §8 session state machine: `Session::handle(Input) -> Vec<Output>`.
//!   Timers and TCP are outputs for the driver to carry out; routes never live here.
//! * [`rib`] — Adj-RIB-In per peer, the Loc-RIB, and export to peers (RFC 4271 §9). It emits
//!   best-route changes for the kernel (the FIB) and per-peer advertisements.
//! * [`decision`] — the RFC 4271 §9.1 decision process and equal-cost multipath selection.
//!
//! ## Supported standards
//! * RFC 4271 — BGP-4 (messages, FSM, decision process)
//! * RFC 2918 — Route Refresh
//! * RFC 5492 — Capabilities Advertisement
//! * RFC 4760 — Multiprotocol Extensions (IPv4 and IPv6 unicast)
//! * RFC 6793 — Four-octet AS numbers (AS4_PATH, AS4_AGGREGATOR, AS_TRANS)
//! * RFC 1997 — Communities; RFC 8092 — Large Communities
//! * RFC 7606 — Revised Error Handling for UPDATE messages
//! * RFC 8203 / RFC 9003 — Administrative Shutdown communication
//! * RFC 8654 — Extended Message (only when both sides advertise it)
//! * RFC 4724 (graceful restart) and RFC 7911 (add-path): capabilities parsed and kept

pub mod decision;
pub mod fsm;
pub mod rib;
pub mod wire;
