//! A test's lab: its unique name, its log directory, and the namespaces it creates.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::netns::{Bridge, Netns};

/// Counter behind every unique name in this test process (namespaces, log directories).
static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn next_id() -> usize {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Root of every test's log directory. Kept short: Unix socket paths live under it and
/// `sun_path` holds 108 bytes.
fn logs_root() -> PathBuf {
    std::env::temp_dir().join("bgpod-it")
}

/// Lines of each log printed when a test fails.
const TAIL_LINES: usize = 60;

/// The per-test log directory: removed when the test passes, kept and printed when it fails.
pub struct LogDir {
    path: PathBuf,
    test: String,
}

impl LogDir {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed || std::env::var_os("BGPOD_KEEP_LOGS").is_some() {
            eprintln!(
                "\n=== test {}: logs kept in {} ===",
                self.test,
                self.path.display()
            );
            if failed {
                print_log_tails(&self.path);
            }
        } else if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("warning: cannot remove {}: {e}", self.path.display());
        }
    }
}

/// Print the last lines of every `*.log` file in `dir` (to the test's captured stderr).
fn print_log_tails(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    for log in logs {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(TAIL_LINES);
        eprintln!(
            "--- {} (last {} of {} lines) ---",
            log.display(),
            lines.len() - skip,
            lines.len()
        );
        for line in &lines[skip..] {
            eprintln!("{line}");
        }
    }
}

/// One test's lab. Create it first in the test (`let lab = Lab::new("smoke");`), then the
/// namespaces from it; the log directory outlives every namespace of the lab.
pub struct Lab {
    test: String,
    dir: Arc<LogDir>,
}

impl Lab {
    /// A lab for the test called `test` (short: it is part of every namespace name).
    /// Panics at once, saying why, unless run as root.
    pub fn new(test: &str) -> Lab {
        let uid = super::netns::run_cmd("id", &["-u"]).unwrap_or_default();
        assert!(
            uid.trim() == "0",
            "namespace tests need root (uid {}): run `sudo scripts/test.sh`",
            uid.trim()
        );
        let path = logs_root().join(format!("{test}-{}-{}", std::process::id(), next_id()));
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Lab {
            test: test.to_string(),
            dir: Arc::new(LogDir {
                path,
                test: test.to_string(),
            }),
        }
    }

    /// The lab's log directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the lab's log directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A new namespace `bgpod-<test>-<role>-<pid>-<n>`, `lo` up, IPv6 DAD off.
    pub fn netns(&self, role: &str) -> Netns {
        let name = format!(
            "bgpod-{}-{role}-{}-{}",
            self.test,
            std::process::id(),
            next_id()
        );
        Netns::create(name, Arc::clone(&self.dir))
    }

    /// A "fabric" namespace holding a bridge; attach namespaces with [`Bridge::attach`].
    pub fn bridge(&self) -> Bridge {
        Bridge::new(self.netns("fabric"))
    }
}
