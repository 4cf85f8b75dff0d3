#!/bin/bash
# bench-tree.sh - a generated ports tree of about 4,000 ports (gen-ports.py,
# ~18,000 files) into the guest, and its recipes evaluated:
#
#  1. upload: Mayfly's whole-tree upload (a tree whose history the image
#     does not know) and its one-port difference (the image's tree is a
#     checkout of the commit before), next to `git archive | ssh tar x`
#     of the same commit done by hand on a guest booted by hand, in the
#     same run: bytes and time, and their ratios;
#  2. recipes: update mode over every port (cold: nothing cached), then
#     over a commit that changes one recipe (goal: under 1 s).
#
# Usage: bench-tree.sh [PORTS]     (as root; libvirtd running; default 4000)
# Env:   MAYFLY_VMCTL (default build/vmctl)
#
# Builds its own test guest whose ports tree is the generated tree. Prints
# figures; asserts nothing (machines are noisy).
set -euo pipefail
ports=${1:-4000}
top=$(cd "$(dirname "$0")/../.." && pwd)
VMCTL=${MAYFLY_VMCTL:-$top/build/vmctl}
VIRSH="virsh -q -c qemu:///system"
. "$top/tests/bench/shell-vm.sh"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@mayfly.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@mayfly.invalid

work=$(mktemp -d /var/tmp/mayfly-bench-tree.XXXXXX)
chmod 755 "$work"
export MAYFLY_STATE_DIR=$work/state
ms() { date +%s%3N; }
cleanup() {
	$VIRSH destroy mayfly-bench-tree-shell >/dev/null 2>&1 || true
	"$VMCTL" tree rm big >/dev/null 2>&1 || true
	"$VMCTL" tree rm flat >/dev/null 2>&1 || true
	"$VMCTL" image rm tgbig >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# --- the tree: an empty root commit, then every port (C0), then one port changed (C1)
up=$work/ports
mkdir -p "$up"
git -C "$up" init -q -b master
git -C "$up" commit -q --allow-empty -m "empty"
E=$(git -C "$up" rev-parse HEAD)
files=$(python3 "$top/tests/bench/gen-ports.py" "$up" "$ports")
git -C "$up" add -A
git -C "$up" commit -q -m "$ports ports"
C0=$(git -C "$up" rev-parse HEAD)
bytes_tree=$(git -C "$up" archive --format=tar "$C0" | wc -c)
echo "tree: $ports ports, $files files, git archive $bytes_tree bytes"

# The guest's tree is a checkout of C0 (the image's tree commit).
t=$(ms)
MAYFLY_TESTGUEST_PORTS=$up MAYFLY_TESTGUEST_ROOT_MIB=384 \
	sh "$top/provisioning/testguest/make-testguest.sh" "$work/guest" >/dev/null
echo "test guest with the tree built in $(( $(ms) - t )) ms"
G=$work/guest
"$VMCTL" image add tgbig "$G/testguest.qcow2" --ssh-key "$G/id_ed25519" \
	--host-key "$G/host_key.pub" --memory 512 --vcpus 1 --boot-timeout 300 >/dev/null 2>&1
echo "image tree commit: $("$VMCTL" image show tgbig --json | jq -r .tree_commit) (C0 $C0)"

# C1: one port changed (a new revision; no sources, so that it builds here).
port=port0042
recipe=$(ls "$up"/*/$port/$port-2.*.recipe)
sed -i -e 's/^REVISION=.*/REVISION="9"/' -e '/^SOURCE_URI=/d' -e '/^CHECKSUM_SHA256=/d' "$recipe"
echo "# changed" >> "$(ls "$up"/*/$port/patches/$port-2.*.patchset)"
git -C "$up" commit -q -a -m "$port: revision 9"
C1=$(git -C "$up" rev-parse HEAD)

# The same files as C1 with a history of their own: the image knows nothing of it.
flat=$work/flat
mkdir -p "$flat"
git -C "$up" archive --format=tar "$C1" | tar x -C "$flat"
git -C "$flat" init -q -b master
git -C "$flat" add -A
git -C "$flat" commit -q -m flat

echo
echo "== registering the trees (libgit2 fetch from a local path)"
t=$(ms); "$VMCTL" tree add big "$up" >/dev/null; echo "tree add big:  $(( $(ms) - t )) ms"
t=$(ms); "$VMCTL" tree add flat "$flat" >/dev/null; echo "tree add flat: $(( $(ms) - t )) ms"

echo
echo "== recipes: update mode"
t=$(ms)
"$VMCTL" update big tgbig --from "$E" --to "$C0" --dry-run --json > "$work/u0.json" 2>/dev/null
cold=$(( $(ms) - t ))
echo "every port changed, nothing cached: $cold ms, $(jq '.ports | length' "$work/u0.json") ports to build, $(jq '.skipped | length' "$work/u0.json") skipped"
t=$(ms)
"$VMCTL" update big tgbig --from "$E" --to "$C0" --dry-run --json > /dev/null 2>&1
echo "the same again, all cached:         $(( $(ms) - t )) ms"
t=$(ms)
"$VMCTL" update big tgbig --from "$C0" --to "$C1" --dry-run --json > "$work/u1.json" 2>/dev/null
one=$(( $(ms) - t ))
echo "after a one-recipe commit:           $one ms ($(jq -r '[.ports[].port] | join(",")' "$work/u1.json"))"

# Milliseconds between two events of a build log.
log_ms() { # LOG PATTERN
	local ts
	ts=$(grep -m1 -- "$2" "$1" | sed -n 's/^\[mayfly \([0-9:.]*\)\].*/\1/p')
	date -d "$(date +%F) $ts" +%s%3N
}

# One build; prints "ms bytes files" of its tree upload.
mayfly_upload() { # TREE
	"$VMCTL" build tgbig --tree "$1" --commit "$([ "$1" = big ] && echo "$C1" || echo HEAD)" \
		"$port" --json > "$work/r.json" 2>/dev/null || {
		echo "bench: the build failed:" >&2; jq . "$work/r.json" >&2; exit 1; }
	log=$(jq -r .log "$work/r.json")
	line=$(grep -m1 "ports tree at" "$log")
	b=$(echo "$line" | sed -n 's/.*deleted, \([0-9]*\) bytes.*/\1/p')
	f=$(echo "$line" | sed -n 's/.*, \([0-9]*\) files\{0,1\} sent.*/\1/p')
	echo "$(( $(log_ms "$log" "ports tree at") - $(log_ms "$log" "ready done") )) $b $f"
}

echo
echo "== upload: Mayfly"
read -r full_ms full_bytes full_files <<< "$(mayfly_upload flat)"
echo "whole tree (history unknown to the image): $full_ms ms, $full_bytes bytes, $full_files files"
read -r diff_ms diff_bytes diff_files <<< "$(mayfly_upload big)"
echo "one-port difference to the image's commit:  $diff_ms ms, $diff_bytes bytes, $diff_files files"

echo
echo "== upload: by hand, git archive | ssh tar x, on a guest booted by hand"
golden=$("$VMCTL" image show tgbig --json | jq -r .path)
sport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SSH="ssh -q -i $G/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o BatchMode=yes -p $sport"
ov=$work/shell-overlay.qcow2
qemu-img create -q -f qcow2 -b "$golden" -F qcow2 "$ov"; chmod 666 "$ov"
shell_vm_xml mayfly-bench-tree-shell "$ov" "$sport" 512  > "$work/dom.xml"
$VIRSH create "$work/dom.xml" >/dev/null
until $SSH user@127.0.0.1 true 2>/dev/null; do sleep 1; done
t=$(ms)
git -C "$up" archive --format=tar "$C1" |
	$SSH user@127.0.0.1 "rm -rf /boot/home/byhand && mkdir -p /boot/home/byhand && cd /boot/home/byhand && tar xf -"
hand_ms=$(( $(ms) - t ))
hand_bytes=$(git -C "$up" archive --format=tar "$C1" | wc -c)
$VIRSH destroy mayfly-bench-tree-shell >/dev/null
rm -f "$ov"
echo "whole tree: $hand_ms ms, $hand_bytes bytes"

echo
echo "== ratios to git archive | ssh tar x (lower is better)"
ratio() { python3 -c "print('%.3f' % ($1 / $2))"; }
echo "Mayfly whole tree:    time $(ratio "$full_ms" "$hand_ms"), bytes $(ratio "$full_bytes" "$hand_bytes")"
echo "Mayfly one-port diff: time $(ratio "$diff_ms" "$hand_ms"), bytes $(ratio "$diff_bytes" "$hand_bytes")"
echo "(Mayfly's times include clearing the tree and, for the difference, listing it to check it)"
