//! Step lines on stderr while the lab builds: `[2/5] starting bgpod on 3 nodes… done (0.1 s)`.
//!
//! On a terminal a running step also shows what it is waiting for (`3/4 routers converged`),
//! rewritten in place; in a log or a pipe each step is one line. Results go to stdout.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// The numbered steps of one lab run.
pub struct Progress {
    total: usize,
    done: usize,
    tty: bool,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// Start the next step; it prints `failed` if dropped without [`Step::done`].
    pub fn step(&mut self, what: impl Into<String>) -> Step {
        self.done += 1;
        self.start(self.done, what.into())
    }

    /// Start the last step, whatever steps were skipped on the way (the teardown after a
    /// failure).
    pub fn last_step(&mut self, what: impl Into<String>) -> Step {
        self.done = self.total;
        self.start(self.total, what.into())
    }

    fn start(&self, n: usize, what: String) -> Step {
        let head = format!("[{n}/{}] {what}…", self.total);
        eprint!("{head} ");
        let _ = std::io::stderr().flush();
        Step {
            head,
            started: Instant::now(),
            tty: self.tty,
            detail_shown: false,
            last_update: None,
            finished: false,
        }
    }
}

/// A running step.
pub struct Step {
    head: String,
    started: Instant,
    tty: bool,
    detail_shown: bool,
    last_update: Option<Instant>,
    finished: bool,
}

/// How often an in-place detail may be rewritten.
const UPDATE_EVERY: Duration = Duration::from_millis(100);

impl Step {
    /// Show what the step is waiting for (terminal only, at most every 100 ms).
    pub fn update(&mut self, detail: &str) {
        if !self.tty || self.last_update.is_some_and(|t| t.elapsed() < UPDATE_EVERY) {
            return;
        }
        self.last_update = Some(Instant::now());
        self.detail_shown = true;
        eprint!("\r\x1b[K{} ", fit(&format!("{} {detail}", self.head)));
        let _ = std::io::stderr().flush();
    }

    /// Finish the step: `done (0.1 s)`.
    pub fn done(self) {
        self.finish("done");
    }

    /// Finish the step with a result instead of `done`: `60/60 OK (0.3 s)`.
    pub fn done_with(self, result: &str) {
        self.finish(result);
    }

    fn finish(mut self, result: &str) {
        self.finished = true;
        self.print_end(result);
    }

    fn print_end(&self, result: &str) {
        let line = end_line(result, self.started.elapsed());
        if self.detail_shown {
            eprintln!("\r\x1b[K{} {line}", self.head);
        } else {
            eprintln!("{line}");
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if !self.finished {
            self.print_end("failed");
        }
    }
}

/// A line rewritten in place must not wrap (`\r` only returns to the start of the last
/// screen line), so it is cut to fit an 80-column terminal.
const LINE_MAX: usize = 79;

fn fit(line: &str) -> String {
    if line.chars().count() <= LINE_MAX {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(LINE_MAX - 1).collect();
    cut.push('…');
    cut
}

/// `done (0.1 s)`.
fn end_line(result: &str, elapsed: Duration) -> String {
    format!("{result} ({:.1} s)", elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_place_lines_fit_80_columns() {
        assert_eq!(fit("short"), "short");
        let long = "x".repeat(100);
        let cut = fit(&long);
        assert_eq!(cut.chars().count(), LINE_MAX);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn end_line_shows_tenths_of_seconds() {
        assert_eq!(end_line("done", Duration::from_millis(140)), "done (0.1 s)");
        assert_eq!(
            end_line("60/60 OK", Duration::from_millis(2350)),
            "60/60 OK (2.4 s)"
        );
    }
}
