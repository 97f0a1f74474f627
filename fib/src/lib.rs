//! # bgpod-fib: the kernel side of bgpod
//!
//! The RIB decides which next hops a prefix should use; this crate makes the kernel agree.
//! Everything goes through the small [`Fib`] trait so that the RIB → FIB hand-off can be unit
//! tested against [`MemoryFib`], the in-memory twin of the kernel table. The rtnetlink
//! implementation (batched, pipelined, tagged with bgpod's route protocol number) arrives with
//! kernel route installation.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnetwork::IpNetwork;

/// One change to the forwarding table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FibOp {
    /// Install or replace the route for `prefix` with this ECMP next-hop set.
    Replace {
        prefix: IpNetwork,
        next_hops: Vec<IpAddr>,
    },
    /// Remove bgpod's route for `prefix`.
    Delete { prefix: IpNetwork },
}

/// A prefix the FIB could not program, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{prefix}: {reason}")]
pub struct FibError {
    pub prefix: IpNetwork,
    pub reason: String,
}

/// A forwarding table bgpod can program.
pub trait Fib {
    /// Apply a batch of operations. Operations that failed are returned one per prefix; the
    /// others took effect.
    fn apply(&mut self, ops: &[FibOp]) -> Vec<FibError>;
    /// The routes bgpod owns, as the table holds them now.
    fn routes(&self) -> Vec<(IpNetwork, Vec<IpAddr>)>;
}

/// The in-memory twin of the kernel table, for tests and for running without kernel access.
#[derive(Debug, Default, Clone)]
pub struct MemoryFib {
    table: BTreeMap<IpNetwork, Vec<IpAddr>>,
}

impl MemoryFib {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of routes held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The next hops installed for `prefix`, if any.
    pub fn get(&self, prefix: &IpNetwork) -> Option<&[IpAddr]> {
        self.table.get(prefix).map(Vec::as_slice)
    }
}

impl Fib for MemoryFib {
    fn apply(&mut self, ops: &[FibOp]) -> Vec<FibError> {
        let mut errors = Vec::new();
        for op in ops {
            match op {
                FibOp::Replace { prefix, next_hops } if next_hops.is_empty() => {
                    errors.push(FibError {
                        prefix: *prefix,
                        reason: "route with no next hop".into(),
                    });
                }
                FibOp::Replace { prefix, next_hops } => {
                    self.table.insert(*prefix, next_hops.clone());
                }
                FibOp::Delete { prefix } => {
                    if self.table.remove(prefix).is_none() {
                        errors.push(FibError {
                            prefix: *prefix,
                            reason: "no such route".into(),
                        });
                    }
                }
            }
        }
        errors
    }

    fn routes(&self) -> Vec<(IpNetwork, Vec<IpAddr>)> {
        self.table.iter().map(|(p, n)| (*p, n.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpNetwork {
        s.parse().expect("test prefix")
    }
    fn a(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn replace_then_delete() {
        let mut fib = MemoryFib::new();
        let errs = fib.apply(&[
            FibOp::Replace {
                prefix: p("10.244.2.0/24"),
                next_hops: vec![a("10.0.0.2")],
            },
            FibOp::Replace {
                prefix: p("10.244.2.0/24"),
                next_hops: vec![a("10.0.0.2"), a("10.0.0.3")],
            },
        ]);
        assert!(errs.is_empty());
        assert_eq!(
            fib.get(&p("10.244.2.0/24")),
            Some(&[a("10.0.0.2"), a("10.0.0.3")][..])
        );
        assert!(fib
            .apply(&[FibOp::Delete {
                prefix: p("10.244.2.0/24")
            }])
            .is_empty());
        assert!(fib.is_empty());
    }

    #[test]
    fn errors_are_per_prefix_and_do_not_stop_the_batch() {
        let mut fib = MemoryFib::new();
        let errs = fib.apply(&[
            FibOp::Delete {
                prefix: p("10.1.0.0/16"),
            },
            FibOp::Replace {
                prefix: p("10.2.0.0/16"),
                next_hops: vec![],
            },
            FibOp::Replace {
                prefix: p("10.3.0.0/16"),
                next_hops: vec![a("10.0.0.9")],
            },
        ]);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].prefix, p("10.1.0.0/16"));
        assert_eq!(errs[1].prefix, p("10.2.0.0/16"));
        assert_eq!(fib.len(), 1);
    }
}
