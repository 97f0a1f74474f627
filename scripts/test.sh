#!/usr/bin/env bash
# The one test command for bgpod, for developers and CI alike:
#
#   sudo scripts/test.sh
#
# 1. Installs what the namespace tests need on Debian 12 (BIRD 2, FRR, iproute2, tcpdump,
#    ping) — skipped when every binary is already there. Package installs may not start
#    services; any bird/frr daemon the install started anyway is stopped again.
# 2. cargo build, clippy (-D warnings), rustfmt --check, cargo test — the whole workspace.
#    Every step runs; the exit status is non-zero if any failed.
#
# Root is required: the integration tests create network namespaces (they never touch the
# host's links, routes or sysctls). The environment is left as it is (proxies included);
# CARGO_TARGET_DIR is honoured. BGPOD_FORCE_INSTALL=1 runs apt even when the binaries are
# present; BGPOD_TEST_TIMEOUT (default 15m) bounds `cargo test`. Set BGPOD_KEEP_LOGS=1 to keep every test's log directory
# (failed tests always keep theirs, under ${TMPDIR:-/tmp}/bgpod-it/).

set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

if [[ $(id -u) -ne 0 ]]; then
    echo "error: scripts/test.sh must run as root (the tests create network namespaces)." >&2
    echo "       run: sudo scripts/test.sh" >&2
    exit 1
fi

# Test steps that take longer than this are stopped (a hung test must not hang CI).
TEST_TIMEOUT=${BGPOD_TEST_TIMEOUT:-15m}
PACKAGES=(bird2 frr iproute2 tcpdump iputils-ping)
# One binary per package above, found in PATH or by absolute path.
BINARIES=(bird birdc /usr/lib/frr/bgpd vtysh ip ss tcpdump ping)
POLICY_RC=/usr/sbin/policy-rc.d

started=$SECONDS
summary=()
failed=0

log() { printf '\n==> %s\n' "$*"; }

# --- Rust toolchain ---------------------------------------------------------------------

# Under sudo, PATH may miss the invoking user's rustup toolchain.
if ! command -v cargo >/dev/null 2>&1; then
    for home in "${HOME:-/root}" "$(getent passwd "${SUDO_USER:-root}" | cut -d: -f6)"; do
        if [[ -n $home && -x $home/.cargo/bin/cargo ]]; then
            export PATH="$home/.cargo/bin:$PATH"
            export CARGO_HOME=${CARGO_HOME:-$home/.cargo}
            export RUSTUP_HOME=${RUSTUP_HOME:-$home/.rustup}
            break
        fi
    done
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install Rust (https://rustup.rs) first" >&2
    exit 1
fi
if ! cargo clippy --version >/dev/null 2>&1 || ! cargo fmt --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
        log "adding rustup components clippy and rustfmt"
        rustup component add clippy rustfmt || exit 1
    fi
fi

# --- Test dependencies ------------------------------------------------------------------

have() {
    if [[ $1 == /* ]]; then [[ -x $1 ]]; else command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; fi
}

# Running bird/frr daemons, one "pid:PID:PIDFILE" or "unit:NAME" per line; only PIDs whose
# process is one of those daemons count (a stale pid file may name a reused PID).
running_daemons() {
    local f pid comm unit
    for f in /run/bird/bird.pid /run/frr/*.pid; do
        [[ -f $f ]] || continue
        pid=$(tr -dc '0-9' <"$f")
        [[ -n $pid && -r /proc/$pid/comm ]] || continue
        comm=$(<"/proc/$pid/comm")
        case $comm in
        bird | watchfrr | zebra | mgmtd | staticd | bgpd | ospfd | ospf6d | ripd | ripngd | \
            isisd | pimd | pim6d | ldpd | nhrpd | eigrpd | babeld | sharpd | pbrd | bfdd | \
            fabricd | vrrpd | pathd)
            echo "pid:$pid:$f"
            ;;
        esac
    done
    if [[ -d /run/systemd/system ]]; then
        for unit in bird frr; do
            systemctl is-active --quiet "$unit" 2>/dev/null && echo "unit:$unit"
        done
    fi
}

# Stop what the install started: daemons running now that were not running before ($1).
stop_new_daemons() {
    local before=$1 entry pid file i
    for entry in $(running_daemons); do
        grep -qxF "$entry" <<<"$before" && continue
        case $entry in
        unit:*)
            echo "stopping service ${entry#unit:}, started by the package install"
            systemctl stop "${entry#unit:}"
            ;;
        esac
    done
    for entry in $(running_daemons); do
        grep -qxF "$entry" <<<"$before" && continue
        case $entry in
        pid:*)
            pid=${entry#pid:}
            file=${pid#*:}
            pid=${pid%%:*}
            echo "stopping pid $pid ($file), started by the package install"
            kill -TERM "$pid" 2>/dev/null
            for ((i = 0; i < 50; i++)); do
                [[ -d /proc/$pid ]] || break
                sleep 0.2
            done
            ;;
        esac
    done
    local still
    still=$(running_daemons | grep -vxF "$before")
    if [[ -n $still ]]; then
        echo "warning: still running after the install: $still" >&2
    fi
}

created_policy=0
remove_policy() {
    if ((created_policy)); then
        rm -f "$POLICY_RC"
        created_policy=0
    fi
}
trap remove_policy EXIT

install_deps() {
    local before rc=0
    before=$(running_daemons)
    # invoke-rc.d and deb-systemd-invoke start no service while policy-rc.d says 101.
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\n# Written by bgpod scripts/test.sh: no service starts during installs.\nexit 101\n' >"$POLICY_RC"
        chmod 0755 "$POLICY_RC"
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || rc=$?
    if ((rc == 0)); then
        apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" || rc=$?
    fi
    remove_policy
    stop_new_daemons "$before"
    return $rc
}

missing=()
for b in "${BINARIES[@]}"; do
    have "$b" || missing+=("$b")
done
# BGPOD_FORCE_INSTALL=1 runs apt even when everything is present (to refresh an image).
if [[ ${BGPOD_FORCE_INSTALL:-0} == 1 && ${#missing[@]} -eq 0 ]]; then
    missing=("(forced)")
fi
if ((${#missing[@]} == 0)); then
    log "test dependencies present (${PACKAGES[*]}): apt skipped"
else
    log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    t0=$SECONDS
    if install_deps; then
        summary+=("ok    install dependencies ($((SECONDS - t0))s)")
    else
        echo "error: installing test dependencies failed" >&2
        exit 1
    fi
fi

# --- Build, lint, test ------------------------------------------------------------------

# step NAME COMMAND...: run it, record the result and time.
step() {
    local name=$1 t0=$SECONDS
    shift
    log "$name: $*"
    if "$@"; then
        summary+=("ok    $name ($((SECONDS - t0))s)")
    else
        summary+=("FAIL  $name ($((SECONDS - t0))s)")
        failed=1
        return 1
    fi
}

print_summary() {
    printf '\n==> summary (%ds in all)\n' "$((SECONDS - started))"
    printf '    %s\n' "${summary[@]}"
    if ((failed)); then
        echo "    FAILED"
    else
        echo "    all passed"
    fi
}

# Test namespaces are named bgpod-<test>-<role>-<pid>-<n>; list those whose test process
# is gone (left behind by a crash or a timeout).
orphan_namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' | while read -r ns; do
        [[ $ns =~ ^bgpod-.+-([0-9]+)-[0-9]+$ ]] || continue
        [[ -d /proc/${BASH_REMATCH[1]} ]] || echo "$ns"
    done
}

if ! step "build" cargo build --workspace --all-targets; then
    print_summary
    exit 1
fi
step "clippy" cargo clippy --workspace --all-targets -- -D warnings
step "rustfmt" cargo fmt --all -- --check
orphans_before=$(orphan_namespaces)
step "test" timeout --kill-after=30s "$TEST_TIMEOUT" cargo test --workspace --no-fail-fast
leftover=$(orphan_namespaces | grep -vxF "$orphans_before")
if [[ -n $leftover ]]; then
    echo "error: the tests left namespaces behind: $leftover" >&2
    summary+=("FAIL  namespaces left behind: $(echo "$leftover" | tr '\n' ' ')")
    failed=1
fi

print_summary
exit $failed
