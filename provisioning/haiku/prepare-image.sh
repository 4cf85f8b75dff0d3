#!/bin/sh
#
# prepare-image.sh - host side, step 1 of turning a Haiku anyboot image into
# a Mayfly golden builder image.  See README.md in this directory.
#
# usage: prepare-image.sh [options] ANYBOOT.iso OUTPUT.qcow2 SIZE
#
# It checks the downloaded anyboot image, creates the empty qcow2 system disk
# of SIZE that Haiku will be installed onto, and prints the QEMU command
# lines for the next steps.
#
# Why not convert the anyboot image to qcow2 and grow it?  The anyboot image
# is MBR + ISO 9660 + one BFS partition sized to the image, followed by an
# EFI (FAT) partition (haiku: src/tools/anyboot/anyboot.cpp).  Growing the
# disk file does not grow that BFS partition, the ESP sits right behind it,
# Haiku's BFS disk-system add-on does not offer resizing
# (src/add-ons/disk_systems/bfs/BFSAddOn.cpp has the resize flags commented
# out) and the installation guide says Haiku cannot resize partitions.  So
# the documented route is used instead: boot the anyboot image as a CD and
# let Haiku's Installer put the system on an empty disk of the wanted size.
# The anyboot image itself is only ever attached read-only.

# "A && B || die ..." is used on purpose below: die when A or B fails.
# shellcheck disable=SC2015
set -eu

PROG=${0##*/}
SSH_PORT=2222
VNC_DISPLAY=1
MEMORY=2048
SHA256=""
FORCE=0
MIN_MIB=8192

die()  { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

usage() {
	cat <<EOF
usage: $PROG [options] ANYBOOT.iso OUTPUT.qcow2 SIZE

  ANYBOOT.iso    downloaded Haiku anyboot image (unzip nightly .zip files first)
  OUTPUT.qcow2   system disk to create (must not exist, unless --force)
  SIZE           its virtual size: a whole number with M, G or T, e.g. 40G
                 (at least 8G; 40G or more is suggested for building ports)

options:
  --sha256 HEX       check the anyboot image against this SHA-256 first
  --force            replace OUTPUT.qcow2 if it exists (it must be a qcow2)
  --ssh-port PORT    host port forwarded to guest port 22 in the printed
                     commands (default $SSH_PORT)
  --vnc-display N    VNC display in the printed commands (default $VNC_DISPLAY,
                     i.e. 127.0.0.1:$((5900 + VNC_DISPLAY)))
  --memory MIB       guest memory in the printed commands (default $MEMORY)
  -h, --help         this text
EOF
}

is_uint() {
	case "$1" in
		''|*[!0-9]*) return 1 ;;
		*) return 0 ;;
	esac
}

# Quote one argument for a POSIX shell command line that we print.
q() {
	printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# -------------------------------------------------------------- arguments --

while [ "$#" -gt 0 ]; do
	case "$1" in
		--sha256)
			[ "$#" -ge 2 ] || die "--sha256 needs a value"
			SHA256=$2; shift 2 ;;
		--force)
			FORCE=1; shift ;;
		--ssh-port)
			[ "$#" -ge 2 ] || die "--ssh-port needs a value"
			SSH_PORT=$2; shift 2 ;;
		--vnc-display)
			[ "$#" -ge 2 ] || die "--vnc-display needs a value"
			VNC_DISPLAY=$2; shift 2 ;;
		--memory)
			[ "$#" -ge 2 ] || die "--memory needs a value"
			MEMORY=$2; shift 2 ;;
		-h|--help)
			usage; exit 0 ;;
		--)
			shift; break ;;
		-*)
			usage >&2; die "unknown option: $1" ;;
		*)
			break ;;
	esac
done

[ "$#" -eq 3 ] || { usage >&2; die "expected ANYBOOT.iso OUTPUT.qcow2 SIZE"; }
ISO=$1
OUT=$2
SIZE=$3

is_uint "$SSH_PORT" && [ "$SSH_PORT" -ge 1 ] && [ "$SSH_PORT" -le 65535 ] \
	|| die "--ssh-port must be 1..65535"
is_uint "$VNC_DISPLAY" && [ "$VNC_DISPLAY" -le 99 ] \
	|| die "--vnc-display must be 0..99"
is_uint "$MEMORY" && [ "$MEMORY" -ge 512 ] \
	|| die "--memory must be a number of MiB, at least 512"

NL='
'
for path in "$ISO" "$OUT"; do
	case "$path" in
		'') die "empty path" ;;
		*"$NL"*) die "paths with newlines are not supported" ;;
		# QEMU's -drive file=... would need commas doubled; keep it simple.
		*,*) die "paths with commas are not supported: $path" ;;
		-*) die "paths starting with '-' are not supported: $path" ;;
	esac
done

# SIZE: digits + M/G/T (qemu-img also takes other forms; this is stricter).
case "$SIZE" in
	*[!0-9MGT]*|[MGT]*|*[MGT]?*|0*) die "SIZE must look like 40G (digits then M, G or T)" ;;
	*M) SIZE_MIB=${SIZE%M} ;;
	*G) SIZE_MIB=$(( ${SIZE%G} * 1024 )) ;;
	*T) SIZE_MIB=$(( ${SIZE%T} * 1024 * 1024 )) ;;
	*) die "SIZE needs a unit: M, G or T (e.g. 40G)" ;;
esac
[ "$SIZE_MIB" -ge "$MIN_MIB" ] || die "SIZE must be at least 8G"
if [ "$SIZE_MIB" -lt 32768 ]; then
	warn "SIZE below 32G leaves little room for building ports"
fi

command -v qemu-img >/dev/null 2>&1 || die "qemu-img not found in PATH"

# ------------------------------------------------------- the anyboot image --

[ -f "$ISO" ] && [ -r "$ISO" ] || die "cannot read anyboot image: $ISO"
case "$ISO" in
	*.zip|*.ZIP) die "$ISO is a zip archive; unzip it and pass the .iso inside" ;;
esac

# An anyboot image is a hybrid: an MBR (boot signature 55 aa at byte 510)
# and an ISO 9660 volume ("CD001" at byte 32769).
mbr_sig=$(od -An -tx1 -j510 -N2 "$ISO" | tr -d ' \n')
iso_sig=$(dd if="$ISO" bs=1 skip=32769 count=5 2>/dev/null || true)
if [ "$mbr_sig" != "55aa" ] && [ "$iso_sig" != "CD001" ]; then
	die "$ISO has neither an MBR nor an ISO 9660 signature; not an anyboot image"
fi
[ "$mbr_sig" = "55aa" ] || warn "$ISO has no MBR boot signature (plain ISO?)"
[ "$iso_sig" = "CD001" ] || warn "$ISO has no ISO 9660 signature (raw disk image?)"

if [ -n "$SHA256" ]; then
	case "$SHA256" in
		*[!0-9a-fA-F]*) die "--sha256 must be 64 hex digits" ;;
	esac
	[ "${#SHA256}" -eq 64 ] || die "--sha256 must be 64 hex digits"
	if command -v sha256sum >/dev/null 2>&1; then
		actual=$(sha256sum < "$ISO")
	elif command -v shasum >/dev/null 2>&1; then
		actual=$(shasum -a 256 < "$ISO")
	else
		die "neither sha256sum nor shasum found"
	fi
	actual=${actual%% *}
	expected=$(printf '%s' "$SHA256" | tr 'A-F' 'a-f')
	[ "$actual" = "$expected" ] \
		|| die "SHA-256 mismatch for $ISO: got $actual, expected $expected"
	printf 'SHA-256 of %s matches.\n' "$ISO"
fi

# ------------------------------------------------------------ the new disk --

out_dir=$(dirname -- "$OUT")
[ -d "$out_dir" ] && [ -w "$out_dir" ] || die "directory not writable: $out_dir"
if [ -e "$OUT" ] || [ -L "$OUT" ]; then
	[ "$FORCE" = 1 ] || die "$OUT exists (use --force to replace it)"
	[ -f "$OUT" ] && [ ! -L "$OUT" ] || die "$OUT is not a regular file"
	# Refuse to overwrite anything that is not a qcow2 (e.g. the anyboot image).
	qemu-img info -- "$OUT" 2>/dev/null | grep -q '^file format: qcow2$' \
		|| die "$OUT is not a qcow2 image; not replacing it"
fi

tmp="$OUT.partial.$$"
trap 'rm -f -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
qemu-img create -q -f qcow2 -- "$tmp" "$SIZE"
mv -f -- "$tmp" "$OUT"
trap - EXIT

printf 'Created %s (%s, qcow2, empty).\n' "$OUT" "$SIZE"

# ------------------------------------------------------------- next steps --

QISO=$(q "$ISO")
QOUT=$(q "$OUT")
QLOG=$(q "$OUT.serial.log")
VNC_PORT=$((5900 + VNC_DISPLAY))

cat <<EOF

Next steps (details in README.md):

1. Install Haiku onto the new disk.  Boots the anyboot image as a CD once
   (-boot once=d); later reboots start from the disk.  Connect a VNC viewer
   to 127.0.0.1:$VNC_PORT.  In the first-boot prompt choose "Install Haiku",
   then in DriveSetup: Disk > Initialize > Intel Partition Map on the empty
   QEMU disk, Partition > Create (Be File System, whole disk, Active
   partition), Partition > Format > Be File System; back in the Installer
   install onto it and click Quit to restart.

qemu-system-x86_64 \\
  -machine pc -m $MEMORY -smp 2 \\
  -device ahci,id=ahci \\
  -drive if=none,id=disk0,format=qcow2,file=$QOUT \\
  -device ide-hd,bus=ahci.0,drive=disk0 \\
  -drive if=ide,index=2,media=cdrom,format=raw,readonly=on,file=$QISO \\
  -boot order=c,once=d \\
  -netdev user,id=net0,hostfwd=tcp:127.0.0.1:$SSH_PORT-:22 \\
  -device e1000,netdev=net0 \\
  -usb -device usb-tablet \\
  -vnc 127.0.0.1:$VNC_DISPLAY \\
  -serial file:$QLOG

   (Add -accel kvm if /dev/kvm is available; it only speeds this up.)

2. Setup boot (same command without the two CD lines; network NOT
   restricted so pkgman and git can download).  Serve guest-setup.sh and
   the public key from the host, e.g.:
     python3 -m http.server 8000 --bind 127.0.0.1 --directory STAGING_DIR
   and in a Haiku Terminal:
     curl -fsSO http://10.0.2.2:8000/guest-setup.sh
     curl -fsSO http://10.0.2.2:8000/mayfly_haiku_ed25519.pub
     bash guest-setup.sh --authorized-key mayfly_haiku_ed25519.pub
     shutdown -r

3. Check from the host (ssh-keyscan / ssh / sftp on port $SSH_PORT, see
   README.md), preferably after booting with restrict=on added to -netdev,
   as Mayfly does.  Then power the guest off (shutdown) and register:
     vmctl image add haiku-r1b5 $QOUT --ssh-key KEY --host-key HOSTKEY.pub ...
EOF
