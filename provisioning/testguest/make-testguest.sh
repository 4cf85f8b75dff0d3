#!/bin/sh
# make-testguest.sh - build Mayfly's test guest, a tiny disk-bootable Linux
# that stands in for a Haiku builder.
#
# Usage: make-testguest.sh OUTDIR
#
# Writes into OUTDIR:
#   testguest.qcow2            the golden disk (BIOS boot from its own disk)
#   id_ed25519, id_ed25519.pub the key that logs in as 'user'
#   host_key.pub               the guest's SSH host key, to pin with --host-key
#
# Benchmarks set MAYFLY_TESTGUEST_PORTS to a git repository: its HEAD's
# checkout is then the guest's ports tree (instead of the drifted seed),
# and MAYFLY_TESTGUEST_ROOT_MIB to make room for it (default 64).
#
# Uses Debian packages only (linux-image-amd64, busybox-static, openssh-server,
# syslinux, mtools, dosfstools, fdisk, e2fsprogs, cpio, qemu-utils, git; gcc,
# zlib1g-dev and libzstd-dev for hpkgtool); needs no root mounts and no
# network. Rebuilds only when an input changed.
set -eu

die() { echo "make-testguest: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: make-testguest.sh OUTDIR"
out=$1
here=$(cd "$(dirname "$0")" && pwd)
files=$here/files

for tool in busybox sshd ssh-keygen mkfs.vfat mcopy syslinux sfdisk mke2fs cpio qemu-img gzip git; do
	command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || [ -x "/sbin/$tool" ] ||
		die "'$tool' is missing (install the packages listed in this script's header)"
done
PATH=$PATH:/usr/sbin:/sbin

# The newest installed kernel that has its modules.
kver=
for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V); do
	v=${k#/boot/vmlinuz-}
	[ -f "/lib/modules/$v/modules.dep" ] && kver=$v
done
[ -n "$kver" ] || die "no kernel with modules in /boot and /lib/modules (apt-get install linux-image-amd64)"
kernel=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
mbr=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$mbr" ] || die "$mbr is missing (apt-get install syslinux-common)"

mkdir -p "$out"
out=$(cd "$out" && pwd)

# Skip the work when nothing changed since the last build.
ports_repo=${MAYFLY_TESTGUEST_PORTS:-}
ports_head=
[ -z "$ports_repo" ] || ports_head=$(git -C "$ports_repo" rev-parse HEAD)
# hpkgtool is Mayfly's own package reader and writer (orchestrator/pkg/);
# its sources are this script's positional parameters from here on.
top=$(cd "$here/../.." && pwd)
o=$top/orchestrator
set -- "$here/hpkgtool.c" "$o/pkg/hpkg.c" "$o/pkg/hpkg_write.c" "$o/pkg/resolvable.c" \
	"$o/pkg/version.c" "$o/common/error.c" "$o/common/strbuf.c" "$o/common/util.c"
stamp=$( (cat "$0" "$files"/* "$@" "$o"/pkg/*.h "$o"/common/*.h
	echo "$ports_head ${MAYFLY_TESTGUEST_ROOT_MIB:-}") |
	sha256sum | cut -c1-16)-$kver
if [ -f "$out/testguest.qcow2" ] && [ -f "$out/.stamp" ] &&
	[ "$(cat "$out/.stamp")" = "$stamp" ]; then
	echo "test guest is up to date: $out/testguest.qcow2"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mayfly-testguest.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# --- initramfs: busybox and the driver modules, loaded in dependency order
ird=$work/initramfs
mkdir -p "$ird/bin" "$ird/lib/modules"
cp /bin/busybox "$ird/bin/busybox"
cp "$files/init-initramfs" "$ird/init"
chmod 755 "$ird/init"

# Modules: SATA (ahci), IDE (ata_piix), virtio (disk, entropy), ext4, e1000 NIC.
# crc32c_generic is requested by ext4 at run time, not by symbol.
wanted="ahci ata_piix sd_mod virtio_pci virtio_blk virtio_rng crc32c_generic ext4 e1000"
modpath() { # module name -> path relative to $moddir, from modules.dep
	awk -F: -v m="$1" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n);
		gsub(/-/, "_", n); if (n == m) { print $1; exit } }' "$moddir/modules.dep"
}
moddeps() { # path -> direct dependencies, from modules.dep
	awk -F: -v p="$1" '$1 == p { print $2; exit }' "$moddir/modules.dep"
}
: > "$work/order"
addmod() { # path: add dependencies first, then the module
	grep -qxF "$1" "$work/order" && return 0
	for d in $(moddeps "$1"); do addmod "$d"; done
	echo "$1" >> "$work/order"
}
for m in $wanted; do
	p=$(modpath "$m")
	[ -n "$p" ] || die "kernel $kver has no module '$m'"
	addmod "$p"
done
while read -r p; do
	name=$(basename "$p")
	case $name in
	*.ko.xz) xz -dc "$moddir/$p" > "$ird/lib/modules/${name%.xz}"; name=${name%.xz} ;;
	*.ko.zst) zstd -qdc "$moddir/$p" > "$ird/lib/modules/${name%.zst}"; name=${name%.zst} ;;
	*) cp "$moddir/$p" "$ird/lib/modules/$name" ;;
	esac
	echo "$name" >> "$ird/modules.order"
done < "$work/order"
(cd "$ird" && find . | cpio -o -H newc --quiet) | gzip -9 > "$work/initrd.img"

# --- root file system: busybox, OpenSSH, the haikuporter stand-in
root=$work/root
mkdir -p "$root/bin" "$root/sbin" "$root/etc/ssh" "$root/proc" "$root/sys" \
	"$root/dev" "$root/run" "$root/tmp" "$root/var/empty" "$root/usr/sbin" \
	"$root/boot/home/.ssh" "$root/boot/home/haikuports/packages" \
	"$root/boot/system/bin"
cp /bin/busybox "$root/bin/busybox"
for applet in $(busybox --list); do
	[ "$applet" = busybox ] || ln -sf /bin/busybox "$root/bin/$applet"
done
ln -sf /bin/busybox "$root/sbin/init"
chmod 1777 "$root/tmp"

sshd=$(command -v sshd)
cp "$sshd" "$root/usr/sbin/sshd"
for lib in $(ldd "$sshd" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }'); do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
# glibc loads the NSS modules at run time; copy them if the libc has them apart.
for lib in /lib/x86_64-linux-gnu/libnss_files.so.2; do
	[ -f "$lib" ] && cp -L "$lib" "$root$lib"
done
[ -e "$root/lib64" ] || ln -s lib "$root/lib64" 2>/dev/null || true

cp "$files/inittab" "$root/etc/inittab"
install -m 755 "$files/rc.sh" "$root/etc/rc.sh"
install -m 755 "$files/sshd-up.sh" "$root/etc/sshd-up.sh"
install -m 600 "$files/sshd_config" "$root/etc/ssh/sshd_config"
install -m 755 "$files/haikuporter" "$root/boot/system/bin/haikuporter"
ln -sf /boot/system/bin/haikuporter "$root/bin/haikuporter"
install -m 755 "$files/tree-digest" "$root/boot/system/bin/tree-digest"
# hpkgtool, static: the stand-in makes real .hpkg files and checks what it was given.
${CC:-cc} -static -O2 -std=gnu11 -D_GNU_SOURCE -I "$o" -I "$top" \
	-o "$root/boot/system/bin/hpkgtool" "$@" -lzstd -lz ||
	die "cannot build hpkgtool (needs gcc, zlib1g-dev and libzstd-dev)"
# System packages, as a Haiku image has them in /boot/system/packages: what
# HaikuPorter's scriptlets need, and haiku_devel.
sp=$root/boot/system/packages
mkdir -p "$sp"
hv=r1~beta5_hrev57937
mk() { "$root/boot/system/bin/hpkgtool" write "$@" --packager "Mayfly test guest" ||
	die "hpkgtool write $2 failed"; }
mk "$sp/haiku-$hv-1-x86_64.hpkg" --name haiku --version "$hv-1" --arch x86_64 \
	--summary "The Haiku base system (stand-in)" \
	--provides "haiku = $hv compat >= r1~beta5" --provides "cmd:bash = 5.2.15" \
	--provides "cmd:find = 4.9.0" --provides "cmd:grep = 3.11" --provides "cmd:sed = 4.9" \
	--provides "cmd:xres = $hv"
mk "$sp/haiku_devel-$hv-1-x86_64.hpkg" --name haiku_devel --version "$hv-1" --arch x86_64 \
	--summary "Haiku's development files (stand-in)" \
	--provides "haiku_devel = $hv compat >= r1~beta5" --provides "devel:libroot = $hv" \
	--requires "haiku == $hv"
mk "$sp/coreutils-9.4-1-x86_64.hpkg" --name coreutils --version 9.4-1 --arch x86_64 \
	--summary "GNU core utilities (stand-in)" \
	--provides "coreutils = 9.4 compat >= 9" --provides "cmd:ls = 9.4" \
	--requires "haiku >= r1~beta5"
mk "$sp/binutils-2.41-1-x86_64.hpkg" --name binutils --version 2.41-1 --arch x86_64 \
	--summary "GNU binutils (stand-in)" \
	--provides "binutils = 2.41" --provides "cmd:objcopy = 2.41" \
	--provides "cmd:readelf = 2.41" --provides "cmd:strip = 2.41" \
	--requires "haiku >= r1~beta5"
mkdir -p "$root/boot/system/boot"
install -m 644 "$files/SetupEnvironment" "$root/boot/system/boot/SetupEnvironment"
cat > "$root/etc/passwd" <<'PW'
user:x:0:0:Haiku user:/boot/home:/bin/sh
sshd:x:100:65534:sshd privilege separation:/run/sshd:/bin/false
PW
cat > "$root/etc/group" <<'GR'
root:x:0:
nogroup:x:65534:
GR
echo 'user:*:19000:0:99999:7:::' > "$root/etc/shadow"
chmod 600 "$root/etc/shadow"
echo 'passwd: files' > "$root/etc/nsswitch.conf"
echo 'export PATH=/boot/system/bin:/bin:/sbin:/usr/sbin HOME=/boot/home' > "$root/etc/profile"

# Keys: the guest's host key (pinned by Mayfly) and the login key.
rm -f "$out/id_ed25519" "$out/id_ed25519.pub"
ssh-keygen -q -t ed25519 -N '' -C mayfly-testguest-host -f "$root/etc/ssh/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C mayfly-testguest-login -f "$out/id_ed25519"
cp "$root/etc/ssh/ssh_host_ed25519_key.pub" "$out/host_key.pub"
cp "$out/id_ed25519.pub" "$root/boot/home/.ssh/authorized_keys"

# The ports tree: a git checkout of the seed commit (image add reads its
# HEAD), made stale the way long-lived builders drift: a file the commit
# does not have, a tracked file changed, one deleted, HaikuPorter's state.
sh "$files/ports-seed.sh" "$work/seed" >/dev/null
tree=$root/boot/home/haikuports
if [ -n "$ports_repo" ]; then
	git clone -q "$ports_repo" "$work/ports"
	cp -a "$work/ports/." "$tree/"
else
	cp -a "$work/seed/." "$tree/"
	mkdir -p "$tree/app-misc/stale" "$tree/dev-libs/alpha/work-1.0" \
		"$tree/dev-libs/alpha/download"
	echo 'SUMMARY="left over from an old build"' > "$tree/app-misc/stale/stale-1.0.recipe"
	echo '# edited on the builder' >> "$tree/dev-libs/alpha/alpha-1.0.recipe"
	rm "$tree/sys-apps/gamma/gamma-1.0.recipe"
	echo stale > "$tree/dev-libs/alpha/work-1.0/build.log"
	echo stale > "$tree/dev-libs/alpha/download/alpha-1.0.tar.gz"
fi

# A package that was in the image before any build; never to be harvested.
printf 'preinstalled package of the golden image\n' \
	> "$root/boot/home/haikuports/packages/preinstalled-1.0-1-x86_64.hpkg"

# --- the disk: MBR + FAT boot partition (syslinux) + ext4 root
cat > "$work/syslinux.cfg" <<'CFG'
DEFAULT mayfly
PROMPT 0
TIMEOUT 0
LABEL mayfly
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND console=ttyS0,115200 quiet loglevel=3 mitigations=off
CFG
boot_mib=24
root_mib=${MAYFLY_TESTGUEST_ROOT_MIB:-64}
mkfs.vfat -C -n MAYFLYBOOT "$work/boot.img" $((boot_mib * 1024)) >/dev/null
mcopy -i "$work/boot.img" "$kernel" ::vmlinuz
mcopy -i "$work/boot.img" "$work/initrd.img" ::initrd.img
mcopy -i "$work/boot.img" "$work/syslinux.cfg" ::syslinux.cfg
syslinux --install "$work/boot.img"

# Initialise everything now: lazy init would keep a booted guest busy writing.
mke2fs -q -t ext4 -L mayflyroot -E lazy_itable_init=0,lazy_journal_init=0 -d "$root" \
	"$work/root.img" ${root_mib}M >/dev/null

disk=$work/disk.raw
truncate -s $((1 + boot_mib + root_mib))M "$disk"
sfdisk -q "$disk" <<PART
label: dos
start=2048, size=$((boot_mib * 2048)), type=e, bootable
start=$((2048 + boot_mib * 2048)), size=$((root_mib * 2048)), type=83
PART
dd if="$mbr" of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$work/boot.img" of="$disk" bs=1M seek=1 conv=notrunc status=none
dd if="$work/root.img" of="$disk" bs=1M seek=$((1 + boot_mib)) conv=notrunc status=none

qemu-img convert -f raw -O qcow2 "$disk" "$out/testguest.qcow2.tmp"
mv "$out/testguest.qcow2.tmp" "$out/testguest.qcow2"
echo "$stamp" > "$out/.stamp"
echo "test guest ready: $out/testguest.qcow2 (kernel $kver)"
