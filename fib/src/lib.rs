//! # bgpod-fib: the kernel side of bgpod
//!
//! The RIB decides which next hops a prefix should use; this crate makes the kernel agree,
//! without ever touching a route bgpod does not own.
//!
//! ## Layout
//! * [`FibManager`] (`manager/`) is sans-IO: it holds the *desired* state (the RIB's best
//!   routes and the blackholes for our own pod CIDRs), a view of the kernel ([`KernelView`]:
//!   interface addresses and every route in our table and `main` that is not ours), and turns
//!   both into [`FibOp`]s. It resolves next hops (`resolve.rs`), filters prefixes that fall
//!   inside the node's own pod CIDRs or take over its interface addresses, refuses to replace a
//!   route another protocol owns, sweeps stale routes of a previous run after a delay, and repairs routes someone
//!   else deleted. Its tests run against [`MemoryFib`], the in-memory twin of a kernel table.
//! * `netlink/` talks rtnetlink with `netlink-packet-route` messages serialized by hand into
//!   one buffer, many per `sendmsg`, each numbered with our own sequence number so that an
//!   error maps back to exactly one prefix (`batch.rs`); dumps (`dump.rs`); a listener for
//!   route, address and link events that drops the echoes of our own writes in the kernel
//!   with a socket filter (`listen.rs`). The only socket options beyond `netlink-sys` are set
//!   through safe wrappers (`socket2`, `nix`): the crate has no `unsafe`.
//! * `service.rs` runs the two on a dedicated thread with its own single-threaded tokio
//!   runtime, so a million routes never cost the daemon's runtime a wake-up each.
//!
//! ## Kernel facts this design rests on (measured, see the project's kernel notes)
//! * `NLM_F_REPLACE` ignores the route protocol: replacing `(table, prefix, tos, metric)`
//!   overwrites whoever owns that key. bgpod therefore installs its routes with its own metric
//!   and replaces only after the kernel view shows the key is free or already ours.
//! * rtnetlink requests are processed synchronously inside `sendmsg`, in order; every error
//!   carries the sequence number of its request, and the socket's receive buffer must hold the
//!   replies of one write.
//! * IPv4 removes routes whose device or address went away without telling anyone; a link or
//!   address change therefore triggers a resynchronisation (a dump), as does `ENOBUFS` on the
//!   listener.

mod error;
mod manager;
mod memory;
mod netlink;
mod prefix_table;
mod resolve;
mod service;
mod types;
mod view;

pub use error::Error;
pub use manager::{Counters, FibManager, HoldReason, ManagerSettings, RouteState};
pub use memory::MemoryFib;
pub use netlink::{AckMode, NetlinkFib, WriteOutcome, WriterOptions};
pub use service::{spawn, FibHandle, FibStatus, FibStatusReader, ServiceOptions};
pub use types::{
    Address, FibError, FibOp, KernelEvent, KernelNextHop, KernelRoute, NextHop, Route, RouteTarget,
    RouteUpdate, BLACKHOLE_METRIC,
};
pub use view::KernelView;

/// A forwarding table bgpod can program.
pub trait Fib {
    /// Apply a batch of operations. Operations that failed are returned, each with its index
    /// in `ops`; the others took effect.
    fn apply(&mut self, ops: &[FibOp]) -> Vec<FibError>;
    /// The routes bgpod owns, as the table holds them now.
    fn routes(&self) -> Vec<Route>;
}
