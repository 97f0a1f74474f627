//! The crate's error type.

use std::io;

/// What can go wrong talking to the kernel (per-route failures are [`crate::FibError`]s).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A netlink socket call failed.
    #[error("netlink {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// The kernel sent something we could not parse.
    #[error("netlink message we cannot parse: {0}")]
    Decode(String),
    /// The kernel refused a dump request.
    #[error("netlink dump of {what} refused: {source}")]
    Dump {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    /// No reply came in time (the socket lost replies).
    #[error("netlink reply timed out after {0:?}")]
    Timeout(std::time::Duration),
}

impl Error {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { what, source }
    }
}
