//! [`MemoryFib`]: the in-memory twin of a kernel routing table, for tests and for running
//! without kernel access (`[fib] enabled = false`).

use std::collections::BTreeMap;

use ipnetwork::IpNetwork;

use crate::types::{FibError, FibOp, Route, RouteTarget};
use crate::Fib;

/// bgpod's routes of one table, keyed like the kernel keys them: prefix and metric.
#[derive(Debug, Default, Clone)]
pub struct MemoryFib {
    table: BTreeMap<(IpNetwork, u32), RouteTarget>,
    /// Set by tests: operations on these prefixes fail with this errno.
    failing: BTreeMap<IpNetwork, i32>,
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

    /// The route installed for `prefix` with `metric`, if any.
    pub fn get(&self, prefix: &IpNetwork, metric: u32) -> Option<&RouteTarget> {
        self.table.get(&(*prefix, metric))
    }

    /// Every route for `prefix`, whatever its metric.
    pub fn find(&self, prefix: &IpNetwork) -> Vec<(u32, &RouteTarget)> {
        self.table
            .range((*prefix, 0)..=(*prefix, u32::MAX))
            .map(|((_, m), t)| (*m, t))
            .collect()
    }

    /// Make every later operation on `prefix` fail with `errno` (`None`: stop failing).
    pub fn fail(&mut self, prefix: IpNetwork, errno: Option<i32>) {
        match errno {
            Some(e) => self.failing.insert(prefix, e),
            None => self.failing.remove(&prefix),
        };
    }

    /// Remove a route behind bgpod's back, as `ip route del` would.
    pub fn remove_external(&mut self, prefix: &IpNetwork, metric: u32) -> bool {
        self.table.remove(&(*prefix, metric)).is_some()
    }
}

impl Fib for MemoryFib {
    fn apply(&mut self, ops: &[FibOp]) -> Vec<FibError> {
        let mut errors = Vec::new();
        for (index, op) in ops.iter().enumerate() {
            let prefix = op.prefix();
            if let Some(errno) = self.failing.get(&prefix) {
                errors.push(FibError {
                    index,
                    prefix,
                    errno: Some(*errno),
                    reason: format!("injected failure (errno {errno})"),
                });
                continue;
            }
            match op {
                FibOp::Replace(Route {
                    target: RouteTarget::Unicast(hops),
                    ..
                }) if hops.is_empty() => errors.push(FibError {
                    index,
                    prefix,
                    errno: Some(libc::EINVAL),
                    reason: "route with no next hop".into(),
                }),
                FibOp::Replace(route) => {
                    self.table
                        .insert((route.prefix, route.metric), route.target.clone());
                }
                FibOp::Delete { prefix, metric } => {
                    if self.table.remove(&(*prefix, *metric)).is_none() {
                        errors.push(FibError {
                            index,
                            prefix: *prefix,
                            errno: Some(libc::ESRCH),
                            reason: "no such route".into(),
                        });
                    }
                }
            }
        }
        errors
    }

    fn routes(&self) -> Vec<Route> {
        self.table
            .iter()
            .map(|((prefix, metric), target)| Route {
                prefix: *prefix,
                metric: *metric,
                target: target.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NextHop;

    fn p(s: &str) -> IpNetwork {
        s.parse().expect("test prefix")
    }
    fn via(s: &str, ifindex: u32) -> NextHop {
        NextHop {
            gateway: s.parse().expect("test address"),
            ifindex,
        }
    }
    fn replace(prefix: &str, hops: Vec<NextHop>) -> FibOp {
        FibOp::Replace(Route {
            prefix: p(prefix),
            metric: 20,
            target: RouteTarget::Unicast(hops),
        })
    }

    #[test]
    fn replace_then_delete() {
        let mut fib = MemoryFib::new();
        let errs = fib.apply(&[
            replace("10.244.2.0/24", vec![via("10.0.0.2", 2)]),
            replace(
                "10.244.2.0/24",
                vec![via("10.0.0.2", 2), via("10.0.0.3", 2)],
            ),
        ]);
        assert!(errs.is_empty());
        assert_eq!(
            fib.get(&p("10.244.2.0/24"), 20),
            Some(&RouteTarget::Unicast(vec![
                via("10.0.0.2", 2),
                via("10.0.0.3", 2)
            ]))
        );
        let del = FibOp::Delete {
            prefix: p("10.244.2.0/24"),
            metric: 20,
        };
        assert!(fib.apply(&[del]).is_empty());
        assert!(fib.is_empty());
    }

    #[test]
    fn errors_are_per_operation_and_do_not_stop_the_batch() {
        let mut fib = MemoryFib::new();
        fib.fail(p("10.4.0.0/16"), Some(libc::ENETUNREACH));
        let errs = fib.apply(&[
            FibOp::Delete {
                prefix: p("10.1.0.0/16"),
                metric: 20,
            },
            replace("10.2.0.0/16", vec![]),
            replace("10.3.0.0/16", vec![via("10.0.0.9", 1)]),
            replace("10.4.0.0/16", vec![via("10.0.0.9", 1)]),
        ]);
        let got: Vec<_> = errs.iter().map(|e| (e.index, e.prefix, e.errno)).collect();
        assert_eq!(
            got,
            [
                (0, p("10.1.0.0/16"), Some(libc::ESRCH)),
                (1, p("10.2.0.0/16"), Some(libc::EINVAL)),
                (3, p("10.4.0.0/16"), Some(libc::ENETUNREACH)),
            ]
        );
        assert_eq!(fib.len(), 1);
    }

    #[test]
    fn metric_is_part_of_the_key() {
        let mut fib = MemoryFib::new();
        let mut other = Route {
            prefix: p("10.9.0.0/24"),
            metric: 0,
            target: RouteTarget::Blackhole,
        };
        fib.apply(&[FibOp::Replace(other.clone())]);
        other.metric = 20;
        fib.apply(&[FibOp::Replace(other)]);
        assert_eq!(fib.find(&p("10.9.0.0/24")).len(), 2);
    }
}
