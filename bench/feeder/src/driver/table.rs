//! The results table: one row per N, one column group per target, and the ratios.

use super::kernel::Outcome;
use crate::prefixes::format_count;

/// What one target did with one N.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub add: Outcome,
    /// `None` when the add phase did not complete (nothing to withdraw meaningfully).
    pub del: Option<Outcome>,
    /// Peak RSS (VmHWM) of the daemon at the end, in kB; `None` for the raw writer.
    pub hwm_kb: Option<u64>,
    /// Other processes used the machine noticeably during a phase (marked † in the table).
    pub noisy: bool,
}

impl Measured {
    fn add_secs(&self) -> Option<f64> {
        match self.add {
            Outcome::Done(s) => Some(s),
            Outcome::Timeout { .. } => None,
        }
    }

    fn del_secs(&self) -> Option<f64> {
        match self.del {
            Some(Outcome::Done(s)) => Some(s),
            _ => None,
        }
    }
}

/// One row: N and what each target did (`None`: not run, or the run failed).
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub n: u32,
    pub raw: Option<Measured>,
    pub bird: Option<Measured>,
    pub bgpod: Option<Measured>,
}

fn secs(o: Option<Outcome>) -> String {
    match o {
        None => "—".into(),
        Some(Outcome::Done(s)) if s < 10.0 => format!("{s:.2}"),
        Some(Outcome::Done(s)) => format!("{s:.1}"),
        Some(Outcome::Timeout { reached, wanted }) => {
            format!(
                "timeout ({}/{})",
                format_count_any(reached),
                format_count_any(wanted)
            )
        }
    }
}

fn format_count_any(n: u64) -> String {
    u32::try_from(n).map_or_else(|_| n.to_string(), format_count)
}

fn add_del(m: Option<&Measured>) -> String {
    match m {
        None => "—".into(),
        Some(m) => format!(
            "{} / {}{}",
            secs(Some(m.add)),
            secs(m.del),
            if m.noisy { " †" } else { "" }
        ),
    }
}

/// Peak RSS in MiB (VmHWM counts KiB), the unit `ps` and `top` use.
fn rss(m: Option<&Measured>) -> String {
    match m.and_then(|m| m.hwm_kb) {
        None => "—".into(),
        Some(kb) => format!("{:.0} MiB", kb as f64 / 1024.0),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "—".into(),
    }
}

fn ratios(a: Option<&Measured>, b: Option<&Measured>) -> String {
    let add = ratio(
        a.and_then(Measured::add_secs),
        b.and_then(Measured::add_secs),
    );
    let del = ratio(
        a.and_then(Measured::del_secs),
        b.and_then(Measured::del_secs),
    );
    format!("{add} / {del}")
}

/// The Markdown table.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::new();
    out += "| N | raw kernel add / del (s) | BIRD add / del (s) | BIRD peak RSS \
            | bgpod add / del (s) | bgpod peak RSS | bgpod÷BIRD add / del | bgpod÷raw add / del |\n";
    out += "|---|---|---|---|---|---|---|---|\n";
    for r in rows {
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            format_count(r.n),
            add_del(r.raw.as_ref()),
            add_del(r.bird.as_ref()),
            rss(r.bird.as_ref()),
            add_del(r.bgpod.as_ref()),
            rss(r.bgpod.as_ref()),
            ratios(r.bgpod.as_ref(), r.bird.as_ref()),
            ratios(r.bgpod.as_ref(), r.raw.as_ref()),
        );
    }
    let noisy = rows
        .iter()
        .flat_map(|r| [&r.raw, &r.bird, &r.bgpod])
        .any(|m| m.as_ref().is_some_and(|m| m.noisy));
    if noisy {
        out += "\n† other processes used more than 0.3 cores during that run (during most of \
                the runs, with --repeat): rerun it on a quiet machine.\n";
    }
    out
}

/// The median of each phase over repeated runs; a timeout in any run is the result. The
/// result is noisy when most runs were (the median shrugs off one disturbed run).
pub fn combine(runs: &[Measured]) -> Option<Measured> {
    let first = runs.first()?;
    let median = |xs: Vec<Option<Outcome>>| -> Option<Outcome> {
        let mut done = Vec::new();
        for x in &xs {
            match x {
                Some(Outcome::Done(s)) => done.push(*s),
                other => return *other,
            }
        }
        done.sort_by(f64::total_cmp);
        done.get(done.len() / 2).map(|s| Outcome::Done(*s))
    };
    let add = median(runs.iter().map(|m| Some(m.add)).collect()).unwrap_or(first.add);
    let del = median(runs.iter().map(|m| m.del).collect());
    let hwm_kb = runs.iter().filter_map(|m| m.hwm_kb).max();
    let noisy = 2 * runs.iter().filter(|m| m.noisy).count() > runs.len();
    Some(Measured {
        add,
        del,
        hwm_kb,
        noisy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(add: f64, del: f64, hwm: Option<u64>) -> Measured {
        Measured {
            add: Outcome::Done(add),
            del: Some(Outcome::Done(del)),
            hwm_kb: hwm,
            noisy: false,
        }
    }

    #[test]
    fn table_with_ratios_and_timeouts() {
        let rows = vec![
            Row {
                n: 100_000,
                raw: Some(m(0.4, 0.3, None)),
                bird: Some(m(1.0, 0.9, Some(40_000))),
                bgpod: Some(m(0.8, 0.6, Some(30_000))),
            },
            Row {
                n: 1_000_000,
                raw: Some(m(5.0, 4.0, None)),
                bird: Some(m(10.0, 9.0, Some(400_000))),
                bgpod: Some(Measured {
                    add: Outcome::Timeout {
                        reached: 0,
                        wanted: 1_000_000,
                    },
                    del: None,
                    hwm_kb: Some(100_000),
                    noisy: true,
                }),
            },
        ];
        let t = render(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(
            lines[2],
            "| 100k | 0.40 / 0.30 | 1.00 / 0.90 | 39 MiB | 0.80 / 0.60 | 29 MiB | 0.80× / 0.67× | 2.00× / 2.00× |"
        );
        assert!(lines[3].contains("timeout (0/1M) / — †"), "{}", lines[3]);
        assert!(t.ends_with("quiet machine.\n"), "{t}");
        assert!(lines[3].ends_with("| — / — | — / — |"), "{}", lines[3]);
        assert!(lines[3].contains("| 10.0 / 9.00 |"), "{}", lines[3]);
    }

    #[test]
    fn combine_takes_medians() {
        let c = combine(&[
            m(3.0, 1.0, Some(5)),
            m(1.0, 2.0, Some(9)),
            m(2.0, 3.0, None),
        ])
        .expect("some");
        assert_eq!(c, m(2.0, 2.0, Some(9)));
        assert_eq!(combine(&[]), None);
        let noisy = |mut x: Measured| {
            x.noisy = true;
            x
        };
        let one = [
            noisy(m(1.0, 1.0, None)),
            m(1.0, 1.0, None),
            m(1.0, 1.0, None),
        ];
        assert!(!combine(&one).expect("some").noisy);
        let two = [
            noisy(m(1.0, 1.0, None)),
            noisy(m(1.0, 1.0, None)),
            m(1.0, 1.0, None),
        ];
        assert!(combine(&two).expect("some").noisy);
    }
}
