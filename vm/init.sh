#!/bin/sh
# /init of the bgpod test VM (busybox sh). Copied into the initramfs by vm/prepare.sh.
# Mounts the host root (9p, read-only) under a tmpfs overlay, the working directory (9p,
# read-write) on top, runs /ctl/cmd chrooted, writes its exit code to /ctl/rc and powers off.
export PATH=/bin:/sbin

fail() {
	echo "bgpod-vm init: $*" >/dev/console
	[ -d /ctl/. ] && echo 125 >/ctl/rc
	poweroff -f
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	modprobe "$m" || fail "modprobe $m failed"
done </etc/boot-modules
# Let `ip link add ... type ipip` load modules on demand.
echo /sbin/modprobe >/proc/sys/kernel/modprobe

opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$opts" ctl /ctl || fail "cannot mount ctl"
mount -t 9p -o "$opts,ro" host /host || fail "cannot mount host root"
mount -t tmpfs -o mode=755 tmpfs /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/host,upperdir=/ovl/upper,workdir=/ovl/work overlay /newroot ||
	fail "cannot mount overlay"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t tmpfs -o mode=755 tmpfs $R/run
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null
cwd=$(cat /ctl/cwd)
mkdir -p "$R$cwd"
mount -t 9p -o "$opts" cwd "$R$cwd" || fail "cannot mount working directory $cwd"
# A ping for hosts without iputils (busybox ping needs no capabilities beyond root).
if ! chroot $R /bin/sh -c 'command -v ping' >/dev/null 2>&1; then
	mkdir -p $R/usr/local/bin
	cp /bin/busybox $R/usr/local/bin/busybox-vm
	ln -sf busybox-vm $R/usr/local/bin/ping
fi
hostname bgpod-vm
ip link set lo up 2>/dev/null

out=/dev/console
for d in /sys/class/virtio-ports/*; do
	[ "$(cat "$d/name" 2>/dev/null)" = out ] && out=/dev/${d##*/}
done
[ -c "$out" ] || fail "no virtio-serial port for output"

chroot $R /bin/sh -c "$(cat /ctl/cmd)" </dev/null >"$out" 2>&1
echo $? >/ctl/rc
sync
poweroff -f
