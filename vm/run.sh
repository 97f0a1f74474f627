#!/usr/bin/env bash
# Run a command inside a throw-away QEMU VM booted from Debian's stock kernel (which has ipip,
# gre, sit, vrf, dummy), against this machine's own files. See vm/README.md.
#
#   vm/run.sh [--timeout SECS] -- COMMAND ARGS...
#
# COMMAND runs as root in the current working directory (shared read-write); the host root is
# shared read-only under a tmpfs overlay; /tmp and /run are fresh tmpfs. COMMAND's stdout and
# stderr come back on stdout; its exit code is run.sh's exit code. Harness failures: 124 timeout,
# 125 VM/boot failure, 130/143 interrupted.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout=${BGPOD_VM_TIMEOUT:-300}
mem=${BGPOD_VM_MEM:-1024}
smp=${BGPOD_VM_SMP:-$(nproc)}
# Host environment variables passed into the guest command (names, space separated).
pass_env=${BGPOD_VM_ENV:-RUST_BACKTRACE RUST_LOG RUST_TEST_THREADS CI TERM}

usage() {
	echo "usage: vm/run.sh [--timeout SECS] -- COMMAND [ARGS...]" >&2
	exit 2
}
while (($#)); do
	case $1 in
	--timeout) (($# >= 2)) || usage; timeout=$2; shift 2 ;;
	--timeout=*) timeout=${1#*=}; shift ;;
	--) shift; break ;;
	-h | --help) usage ;;
	*) break ;;
	esac
done
(($#)) || usage
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "vm/run.sh: bad --timeout '$timeout'" >&2; exit 2; }
cwd=$(pwd -P)
[[ $cwd != / ]] || { echo "vm/run.sh: run it from a directory, not /" >&2; exit 2; }

kdir=$("$HERE/prepare.sh" | tail -n1) || { echo "vm/run.sh: prepare.sh failed" >&2; exit 125; }

# Shell-quote one word for the guest's /bin/sh.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

run=$(mktemp -d "${TMPDIR:-/tmp}/bgpod-vm.XXXXXX")
qemu_pid='' sleep_pid='' cat_pid=''
# shellcheck disable=SC2329 # invoked from traps
stop() {
	local pid
	for pid in "$qemu_pid" "$sleep_pid" "$cat_pid"; do
		[[ -n $pid ]] && kill "$pid" 2>/dev/null || true
	done
	for pid in "$qemu_pid" "$sleep_pid" "$cat_pid"; do
		[[ -n $pid ]] && wait "$pid" 2>/dev/null || true
	done
	qemu_pid='' sleep_pid='' cat_pid=''
}
# shellcheck disable=SC2329 # invoked from traps
cleanup() {
	stop
	if [[ -n ${BGPOD_VM_KEEP:-} ]]; then echo "vm/run.sh: kept $run" >&2; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

printf '%s\n' "$cwd" >"$run/cwd"
{
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8"
	for name in $pass_env; do
		[[ -v $name ]] && echo "export $name=$(q "${!name}")"
	done
	echo "cd $(q "$cwd") || exit 125"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	echo
} >"$run/cmd"

# Software emulation unless real hardware virtualisation is there: /dev/kvm on these machines
# is PVM (kvm_pvm), which cannot run a stock kernel.
if [[ -w /dev/kvm && ( -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ) ]]; then
	accel=(-accel kvm -cpu host)
else
	# shellcheck disable=SC2054 # QEMU's comma-separated options
	accel=(-accel tcg,thread=multi -cpu max)
fi

mkfifo "$run/out"
cat "$run/out" &
cat_pid=$!
# The guest's output port writes to QEMU's stdout (a pipe); `-chardev stdio` would block.
qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
	-machine pc "${accel[@]}" -smp "$smp" -m "$mem" \
	-kernel "$kdir/vmlinux" -initrd "$kdir/initramfs.gz" \
	-append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init" \
	-chardev "file,id=con,path=${run//,/,,}/console.log" -serial chardev:con \
	-device virtio-serial-pci \
	-chardev file,id=out,path=/proc/self/fd/1 \
	-device virtserialport,chardev=out,name=out \
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=${run//,/,,},mount_tag=ctl,security_model=none" \
	-virtfs "local,path=${cwd//,/,,},mount_tag=cwd,security_model=none,multidevs=remap" \
	</dev/null >"$run/out" 2>"$run/qemu.err" &
qemu_pid=$!
sleep "$timeout" &
sleep_pid=$!

done_pid=''
wait -n -p done_pid "$qemu_pid" "$sleep_pid" || true
if [[ $done_pid == "$sleep_pid" ]]; then
	sleep_pid=''
	kill "$qemu_pid" 2>/dev/null || true
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=''
	wait "$cat_pid" || true
	cat_pid=''
	echo "vm/run.sh: timed out after ${timeout}s" >&2
	exit 124
fi
qemu_pid=''
kill "$sleep_pid" 2>/dev/null || true
wait "$sleep_pid" 2>/dev/null || true
sleep_pid=''
wait "$cat_pid" || true
cat_pid=''

rc=$(cat "$run/rc" 2>/dev/null || true)
if [[ ! $rc =~ ^[0-9]+$ ]] || [[ $rc == 125 && ! -s $run/out ]]; then
	echo "vm/run.sh: the VM did not report an exit code; QEMU stderr and console tail:" >&2
	cat "$run/qemu.err" >&2 || true
	tail -n 30 "$run/console.log" >&2 || true
	exit 125
fi
exit "$rc"
