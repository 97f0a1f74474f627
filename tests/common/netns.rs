//! Network namespaces, links between them, and the processes run inside them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::lab::LogDir;
use super::wait::wait_until;

/// Time a process gets between SIGTERM and SIGKILL when its namespace is torn down.
const GRACE: Duration = Duration::from_secs(3);

/// Run a command on the host (only `ip`, `kill`, `birdc`, `vtysh`: never a host change);
/// `Ok(stdout)` if it exited 0, else an error with the command line, status and stderr.
pub fn run_cmd(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    output_to_result(program, args, &out)
}

fn output_to_result(program: &str, args: &[&str], out: &Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// Whether a namespace of that name exists (`ip netns list`).
pub fn netns_exists(name: &str) -> bool {
    let list = run_cmd("ip", &["netns", "list"]).unwrap_or_default();
    list.lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock must not stop the cleanup that follows it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A network namespace, deleted (after its processes are stopped) on drop.
pub struct Netns {
    name: String,
    dir: Arc<LogDir>,
    procs: Mutex<Vec<Proc>>,
    next_if: AtomicUsize,
}

impl Netns {
    /// Create `name`: `ip netns add`, `lo` up, IPv6 DAD off for every interface made later.
    pub(crate) fn create(name: String, dir: Arc<LogDir>) -> Netns {
        run_cmd("ip", &["netns", "add", &name]).unwrap_or_else(|e| panic!("{e}"));
        // From here on, the guard deletes the namespace even if a step below panics.
        let ns = Netns {
            name,
            dir,
            procs: Mutex::new(Vec::new()),
            next_if: AtomicUsize::new(0),
        };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.sysctl("net.ipv6.conf.all.accept_dad", "0");
        ns.sysctl("net.ipv6.conf.default.accept_dad", "0");
        ns
    }

    /// The namespace's name (as in `ip netns list`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lab's log directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the lab's log directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run `program args` inside the namespace and return its output, whatever its status.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip netns exec {} {program}: {e}", self.name))
    }

    /// Run `program args` inside the namespace: `Ok(stdout)` if it exited 0.
    pub fn try_run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let out = self.exec(program, args);
        output_to_result(program, args, &out).map_err(|e| format!("in {}: {e}", self.name))
    }

    /// Run `program args` inside the namespace; panics unless it exits 0. Returns stdout.
    #[track_caller]
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        self.try_run(program, args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `ip -n NS args...`; panics on failure.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_cmd("ip", &full).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Set a sysctl inside this namespace only (`ip netns exec NS sysctl -w key=value`).
    #[track_caller]
    pub fn sysctl(&self, key: &str, value: &str) {
        self.run("sysctl", &["-q", "-w", &format!("{key}={value}")]);
    }

    /// A fresh interface name, unique inside this namespace (names are per namespace).
    fn next_ifname(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.next_if.fetch_add(1, Ordering::Relaxed))
    }

    /// Add addresses (`"10.0.0.1/24"`, `"fd00::1/64"`) to `ifname`; IPv6 ones with `nodad`.
    #[track_caller]
    pub fn add_addrs(&self, ifname: &str, addrs: &[&str]) {
        for addr in addrs {
            if addr.contains(':') {
                self.ip(&["-6", "addr", "add", addr, "dev", ifname, "nodad"]);
            } else {
                self.ip(&["addr", "add", addr, "dev", ifname]);
            }
        }
    }

    /// Take `ifname` down: its peer loses carrier, and nothing crosses the link any more
    /// (a "node vanished" without a TCP FIN or RST reaching the other side).
    #[track_caller]
    pub fn link_down(&self, ifname: &str) {
        self.ip(&["link", "set", "dev", ifname, "down"]);
    }

    /// Remove `ifname`'s IPv6 link-local address and stop the kernel making a new one.
    /// BIRD adds a link-local next hop to IPv6 routes whenever its interface has one.
    #[track_caller]
    pub fn disable_link_local(&self, ifname: &str) {
        self.ip(&["link", "set", "dev", ifname, "addrgenmode", "none"]);
        self.ip(&["-6", "addr", "flush", "dev", ifname, "scope", "link"]);
    }

    /// Established TCP connections with local or remote port `port` (`ss -Htn`), one line
    /// per connection: `"LOCAL_ADDR:PORT PEER_ADDR:PORT"`.
    pub fn tcp_established(&self, port: u16) -> Vec<String> {
        let filter = format!("( sport = :{port} or dport = :{port} )");
        let out = self.try_run("ss", &["-Htn", "state", "established", &filter]);
        out.unwrap_or_default()
            .lines()
            .filter_map(|l| {
                // With a state filter, ss prints: Recv-Q Send-Q Local:Port Peer:Port
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() >= 4).then(|| format!("{} {}", f[2], f[3]))
            })
            .collect()
    }

    /// Start `program args` inside the namespace, stdout and stderr appended to
    /// `<log dir>/<log_name>`. The process is stopped when the namespace is dropped.
    pub fn spawn(&self, program: &str, args: &[&str], log_name: &str) -> Proc {
        self.spawn_env(program, args, &[], log_name)
    }

    /// [`Netns::spawn`] with extra environment variables.
    pub fn spawn_env(
        &self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
        log_name: &str,
    ) -> Proc {
        let log_path = self.file(log_name);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", log_path.display()));
        let env_text: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Best effort: the header only helps a reader of the log.
        let _ = writeln!(
            log,
            "# {} ip netns exec {} {program} {}",
            env_text.join(" "),
            self.name,
            args.join(" ")
        );
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot dup log fd: {e}"));
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} in {}: {e}", self.name));
        // `ip netns exec` execs the program in place: this PID is the program's own.
        let proc = Proc {
            pid: child.id(),
            name: format!("{program} in {}", self.name),
            log: log_path,
            state: Arc::new(Mutex::new(ProcState {
                child,
                status: None,
            })),
        };
        lock(&self.procs).push(proc.clone());
        proc
    }

    /// Start tcpdump on `ifname` (verbose, so BGP messages are decoded) with a pcap filter
    /// such as `"tcp port 179"`, and wait until it is capturing.
    pub fn tcpdump(&self, ifname: &str, filter: &str, log_name: &str) -> Proc {
        let mut args = vec!["-i", ifname, "-n", "-l", "-v"];
        args.extend(filter.split_whitespace());
        let proc = self.spawn("tcpdump", &args, log_name);
        wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
            proc.check_running()?;
            if proc.log().contains("listening on") {
                Ok(())
            } else {
                Err(format!("tcpdump on {ifname} is not capturing yet"))
            }
        });
        proc
    }

    /// Ping `addr` once from this namespace; `Ok` if it answered.
    pub fn ping(&self, addr: &str) -> Result<(), String> {
        self.try_run("ping", &["-c", "1", "-W", "1", addr])
            .map(|_| ())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let procs = std::mem::take(&mut *lock(&self.procs));
        for p in &procs {
            p.signal("TERM");
        }
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline && procs.iter().any(Proc::is_running) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for p in &procs {
            if p.is_running() {
                eprintln!("{} (pid {}) ignored SIGTERM: SIGKILL", p.name, p.pid);
                p.kill();
            }
        }
        if let Err(e) = run_cmd("ip", &["netns", "del", &self.name]) {
            eprintln!("warning: {e}");
        }
    }
}

/// Join `a` and `b` with a veth pair, addresses added and both ends up. Returns the
/// interface names (in `a`, in `b`). Created inside `a` with its peer moved into `b` at
/// once: the host namespace never sees the link.
pub fn veth_pair(a: &Netns, addrs_a: &[&str], b: &Netns, addrs_b: &[&str]) -> (String, String) {
    let if_a = a.next_ifname("veth");
    let if_b = b.next_ifname("veth");
    a.ip(&[
        "link", "add", &if_a, "type", "veth", "peer", "name", &if_b, "netns", &b.name,
    ]);
    a.add_addrs(&if_a, addrs_a);
    b.add_addrs(&if_b, addrs_b);
    a.ip(&["link", "set", "dev", &if_a, "up"]);
    b.ip(&["link", "set", "dev", &if_b, "up"]);
    (if_a, if_b)
}

/// A bridge `br0` in its own "fabric" namespace: an L2 segment joining any number of
/// namespaces. STP and multicast snooping are off, so ports forward (ND included) at once.
pub struct Bridge {
    fabric: Netns,
}

impl Bridge {
    pub(crate) fn new(fabric: Netns) -> Bridge {
        fabric.ip(&["link", "add", "br0", "type", "bridge", "stp_state", "0"]);
        fabric.ip(&[
            "link",
            "set",
            "dev",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
            "forward_delay",
            "0",
        ]);
        fabric.ip(&["link", "set", "dev", "br0", "up"]);
        Bridge { fabric }
    }

    /// Connect `ns` to the bridge with `addrs`; returns the interface name inside `ns`.
    pub fn attach(&self, ns: &Netns, addrs: &[&str]) -> String {
        let port = self.fabric.next_ifname("port");
        let ifname = ns.next_ifname("veth");
        self.fabric.ip(&[
            "link", "add", &port, "type", "veth", "peer", "name", &ifname, "netns", &ns.name,
        ]);
        self.fabric
            .ip(&["link", "set", "dev", &port, "master", "br0", "up"]);
        ns.add_addrs(&ifname, addrs);
        ns.ip(&["link", "set", "dev", &ifname, "up"]);
        ifname
    }

    /// The namespace holding the bridge (to capture on `br0`, say).
    pub fn fabric(&self) -> &Netns {
        &self.fabric
    }
}

struct ProcState {
    child: Child,
    status: Option<ExitStatus>,
}

impl ProcState {
    /// Reap the child if it has exited (never blocks).
    fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(s)) = self.child.try_wait() {
                self.status = Some(s);
            }
        }
        self.status
    }
}

/// A process started in a namespace. Clones share it; the namespace stops it on drop.
#[derive(Clone)]
pub struct Proc {
    pid: u32,
    name: String,
    log: PathBuf,
    state: Arc<Mutex<ProcState>>,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The log file holding its stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Exit status if it has exited (reaps it), `None` while it runs.
    pub fn try_status(&self) -> Option<ExitStatus> {
        lock(&self.state).poll()
    }

    pub fn is_running(&self) -> bool {
        self.try_status().is_none()
    }

    /// `Err` (with the log's tail) if the process has exited.
    pub fn check_running(&self) -> Result<(), String> {
        match self.try_status() {
            None => Ok(()),
            Some(s) => Err(format!(
                "{} (pid {}) exited early ({s}); last lines of {}:\n{}",
                self.name,
                self.pid,
                self.log.display(),
                self.log_tail(30)
            )),
        }
    }

    /// Send `sig` (`"TERM"`, `"STOP"`, `"CONT"`, ...) with kill(1), unless it has exited.
    /// The lock is held throughout, so the PID cannot have been reaped and reused.
    pub fn signal(&self, sig: &str) {
        let mut st = lock(&self.state);
        if st.poll().is_none() {
            let pid = self.pid.to_string();
            if let Err(e) = run_cmd("kill", &["-s", sig, &pid]) {
                eprintln!("warning: {e}");
            }
        }
    }

    /// SIGTERM.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// SIGKILL, then reap it.
    pub fn kill(&self) {
        let mut st = lock(&self.state);
        if st.poll().is_none() {
            // Errors here mean it exited meanwhile; wait() below reaps it either way.
            let _ = st.child.kill();
            if let Ok(s) = st.child.wait() {
                st.status = Some(s);
            }
        }
    }

    /// Wait for it to exit; panics after `timeout`.
    #[track_caller]
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        wait_until(timeout, Duration::from_millis(20), || {
            self.try_status()
                .ok_or_else(|| format!("{} (pid {}) still running", self.name, self.pid))
        })
    }
}

/// Write `text` to `path`; panics on error.
#[track_caller]
pub fn write_file(path: &Path, text: &str) {
    let mut f =
        File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    f.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
