#!/usr/bin/env bash
# Prepare the cache used by vm/run.sh: Debian's stock kernel (unpacked, never installed), an
# uncompressed vmlinux and a small busybox initramfs with the modules tunnel tests need.
# Idempotent: a second run only checks that the stamp file is there.
# Why a VM at all: the host kernel lacks CONFIG_NET_IPIP (see /work/shared/docs/kernel.md).
set -euo pipefail

CACHE=${BGPOD_VM_CACHE:-/var/cache/bgpod-vm}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The initramfs is rebuilt whenever this script or the init script changes.
LAYOUT=$(cat "$HERE/prepare.sh" "$HERE/init.sh" | sha256sum | cut -c1-12)

# Modules loaded at boot (virtio transport, 9p, overlay) and modules shipped for on-demand
# loading by the kernel through busybox modprobe (tunnels and the usual test link types).
BOOT_MODULES=(virtio_pci virtio_console 9pnet_virtio 9p overlay)
EXTRA_MODULES=(ipip tunnel4 ip_tunnel veth bridge vxlan udp_tunnel ip6_udp_tunnel
	ip_gre gre sit dummy vrf tun 8021q)

log() { printf 'vm/prepare: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- host packages -----------------------------------------------------------------------------
need_pkgs=(qemu-system-x86 busybox-static cpio kmod xz-utils)
missing=()
for p in "${need_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	[[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run as root or install them"
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-remove \
		"${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed (it never removes packages)"
fi

# --- kernel version ----------------------------------------------------------------------------
# The exact package linux-image-amd64 depends on, e.g. linux-image-6.1.0-41-amd64.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1)
[[ -n $kpkg ]] || die "cannot find the kernel package linux-image-amd64 depends on (apt-get update?)"
kver=${kpkg#linux-image-}

KDIR=$CACHE/$kver
STAMP=$KDIR/ready-$LAYOUT
if [[ -f $STAMP ]]; then
	# Fast path: everything already built for this kernel and layout.
	printf '%s\n' "$KDIR"
	exit 0
fi

mkdir -p "$KDIR"
exec 9>"$CACHE/.lock"
flock 9
if [[ -f $STAMP ]]; then printf '%s\n' "$KDIR"; exit 0; fi

# --- download and unpack (never install) ------------------------------------------------------
if [[ ! -d $KDIR/root/lib/modules/$kver ]]; then
	log "downloading $kpkg"
	rm -rf "$KDIR/dl" "$KDIR/root"
	mkdir -p "$KDIR/dl"
	# apt's download sandbox user must be able to write there.
	if id _apt >/dev/null 2>&1; then chown _apt "$KDIR/dl" 2>/dev/null || true; fi
	(cd "$KDIR/dl" && apt-get download -qq "$kpkg" >&2)
	deb=$(ls "$KDIR"/dl/*.deb)
	log "unpacking $(basename "$deb")"
	mkdir -p "$KDIR/root.tmp"
	dpkg -x "$deb" "$KDIR/root.tmp"
	mv "$KDIR/root.tmp" "$KDIR/root"
	rm -rf "$KDIR/dl"
fi
KROOT=$KDIR/root
[[ -f $KROOT/lib/modules/$kver/modules.dep ]] || depmod -b "$KROOT" "$kver"

# --- uncompressed vmlinux (the in-kernel XZ decompressor costs ~2.5 s under TCG) --------------
if [[ ! -s $KDIR/vmlinux ]]; then
	bz=$KROOT/boot/vmlinuz-$kver
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" | head -n1 | cut -d: -f1)
	[[ -n $off ]] || die "no XZ stream in $bz"
	tail -c +"$((off + 1))" "$bz" | xz -dc --single-stream >"$KDIR/vmlinux.tmp" 2>/dev/null || true
	[[ $(head -c 4 "$KDIR/vmlinux.tmp" | od -An -c | tr -d ' ') == '177ELF' ]] ||
		die "extracted kernel from $bz is not an ELF file"
	mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
fi

# --- initramfs ---------------------------------------------------------------------------------
log "building initramfs for $kver"
stage=$KDIR/initramfs.d
rm -rf "$stage"
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,host,ovl,newroot,ctl,etc} "$stage/lib/modules/$kver"
cp /bin/busybox "$stage/bin/busybox" # busybox-static
for applet in $("$stage/bin/busybox" --list); do
	[[ $applet == busybox ]] && continue # a self-symlink loops (ELOOP) at boot
	ln -sf busybox "$stage/bin/$applet"
done
ln -sf ../bin/busybox "$stage/sbin/modprobe"

# Each module with everything modules.dep says it needs (modprobe resolves aliases too).
mods=()
for m in "${BOOT_MODULES[@]}" "${EXTRA_MODULES[@]}"; do
	deps=$(modprobe -d "$KROOT" -S "$kver" --show-depends "$m") || die "module $m not found"
	while read -r kind path _; do
		[[ $kind == insmod ]] && mods+=("$path")
	done <<<"$deps"
done
mdir=$KROOT/lib/modules/$kver
for path in $(printf '%s\n' "${mods[@]}" | sort -u); do
	rel=${path#"$KROOT"/lib/modules/"$kver"/}
	mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
	case $rel in
	*.ko.xz) xz -dc "$path" >"$stage/lib/modules/$kver/${rel%.xz}" ;;
	*.ko.zst) die "zstd-compressed modules are not supported ($rel)" ;;
	*) cp "$path" "$stage/lib/modules/$kver/$rel" ;;
	esac
done
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[[ -f $mdir/$f ]] && cp "$mdir/$f" "$stage/lib/modules/$kver/"
done
depmod -b "$stage" "$kver"

printf '%s\n' "${BOOT_MODULES[@]}" >"$stage/etc/boot-modules"
cp "$HERE/init.sh" "$stage/init"
chmod 755 "$stage/init"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) |
	gzip -6 >"$KDIR/initramfs.gz.tmp"
mv "$KDIR/initramfs.gz.tmp" "$KDIR/initramfs.gz"
rm -rf "$stage"
touch "$STAMP"
log "ready: $KDIR ($(du -h "$KDIR/initramfs.gz" | cut -f1) initramfs)"
printf '%s\n' "$KDIR"
