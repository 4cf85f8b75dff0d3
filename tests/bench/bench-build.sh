#!/bin/bash
# bench-build.sh - per-phase times of Mayfly builds, next to the same steps
# done by hand in shell (qemu-img, virsh, ssh, scp), on the test guest.
#
# Usage: bench-build.sh [RUNS]        (as root; libvirtd running)
# Env:   MAYFLY_VMCTL (default build/vmctl), MAYFLY_TESTGUEST (build/testguest)
#
# Prints figures; asserts nothing (machines are noisy). The test guest
# prints two lines on its serial console, watched here through tail -F:
# when its sshd starts listening, and when the first SSH connection is
# accepted. From them:
#   detect_lag  listening -> first connection accepted: how long the builder
#               took to notice (Mayfly: its probes; shell: an ssh loop with
#               1 s sleeps)
#   own_work    clone + detect_lag + destroy: the orchestrator's own time
#               per build (boot, the guest's sshd and the build are the guest's)
#   banner_wait listening -> Mayfly has the SSH banner (adds sshd's own
#               per-connection start-up, a fork and re-exec under TCG)
set -euo pipefail
runs=${1:-3}
top=$(cd "$(dirname "$0")/../.." && pwd)
VMCTL=${MAYFLY_VMCTL:-$top/build/vmctl}
G=${MAYFLY_TESTGUEST:-$top/build/testguest}
VIRSH="virsh -q -c qemu:///system"
. "$top/tests/bench/shell-vm.sh"
RECIPES="hello big-8"

work=$(mktemp -d /var/tmp/mayfly-bench.XXXXXX)
chmod 755 "$work"
export MAYFLY_STATE_DIR=$work/state
head -c 8388608 /dev/urandom > "$work/input-lib.hpkg"
ms() { date +%s%3N; }
cleanup() {
	$VIRSH destroy mayfly-bench-shell >/dev/null 2>&1 || true
	rm -f "$work/shell-overlay.qcow2"
	"$VMCTL" image rm tg >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

"$VMCTL" -v image add tg "$G/testguest.qcow2" --ssh-key "$G/id_ed25519" \
	--host-key "$G/host_key.pub" --memory 256 --vcpus 1 >/dev/null 2>"$work/add.err" || {
	echo "bench: cannot register the test guest:"; cat "$work/add.err"; exit 1; }
golden=$("$VMCTL" image show tg --json | jq -r .path)
echo "accelerator: $(sed -n 's/.*accelerator: //p' "$work/add.err")"

# Writes "listen MS" and "conn MS" (epoch ms) to OUTFILE as the console shows them.
watch_console() { # FILE OUTFILE
	( tail -F -s 0.005 "$1" 2>/dev/null | while IFS= read -r line; do
		case $line in
		*"sshd listening"*) echo "listen $(ms)" >> "$2" ;;
		*"first ssh connection"*) echo "conn $(ms)" >> "$2"; break ;;
		esac
	done ) &
	watcher=$!
}
mark() { sed -n "s/^$1 //p" "$work/marker"; }

declare -A sum
phases="clone boot ready push run harvest destroy"
echo
echo "== Mayfly: vmctl build tg $RECIPES --input (8 MiB), $runs runs"
printf "%-4s %7s %7s %8s %7s %7s %8s %8s %9s %9s %8s %9s\n" run clone boot ready push run harvest destroy total detect_lag own_work banner_wait
for i in $(seq 1 "$runs"); do
	id=$(( $(sqlite3 "$work/state/state.db" "SELECT coalesce(max(id),0) FROM builds") + 1 ))
	mkdir -p "$work/state/builds/$id"
	: > "$work/marker"
	watch_console "$work/state/builds/$id/console.log" "$work/marker"
	"$VMCTL" build tg $RECIPES --input "$work/input-lib.hpkg" --json > "$work/r.json" 2>/dev/null
	sleep 0.2; kill "$watcher" 2>/dev/null || true; pkill -f "$work/state/builds/$id/console.log" || true
	log=$work/state/builds/$id/build.log
	banner=$(sed -n 's/^\[mayfly \([0-9:.]*\)\] SSH banner received/\1/p' "$log")
	banner_ms=$(date -d "$(date +%F) $banner" +%s%3N)
	lag=$(( $(mark conn) - $(mark listen) ))
	bwait=$(( banner_ms - $(mark listen) ))
	sum[m_bwait]=$(( ${sum[m_bwait]:-0} + bwait ))
	row=()
	for p in $phases; do
		v=$(jq ".phases[] | select(.name == \"$p\") | .duration_ms" "$work/r.json")
		row+=("$v"); sum[m_$p]=$(( ${sum[m_$p]:-0} + v ))
	done
	total=$(jq .duration_ms "$work/r.json")
	own=$(( row[0] + lag + row[6] ))
	sum[m_total]=$(( ${sum[m_total]:-0} + total )); sum[m_lag]=$(( ${sum[m_lag]:-0} + lag ))
	sum[m_own]=$(( ${sum[m_own]:-0} + own ))
	printf "%-4s %7s %7s %8s %7s %7s %8s %8s %9s %9s %8s %9s\n" "$i" "${row[@]}" "$total" "$lag" "$own" "$bwait"
	[ "$(jq -r .status "$work/r.json")" = succeeded ] || { echo "build failed"; cat "$work/r.json"; exit 1; }
done

echo
echo "== Shell: qemu-img + virsh + ssh/scp by hand (1 s poll for ssh), $runs runs"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 2299)
SSH="ssh -q -i $G/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -o BatchMode=yes -p $port"
SCP="scp -q -i $G/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -P $port"
pk=/boot/home/haikuports/packages
for i in $(seq 1 "$runs"); do
	ov=$work/shell-overlay.qcow2
	con=$work/shell-console-$i.log
	: > "$con"; chmod 666 "$con"
	t0=$(ms); qemu-img create -q -f qcow2 -b "$golden" -F qcow2 "$ov"; chmod 666 "$ov"; t1=$(ms)
	shell_vm_xml mayfly-bench-shell "$ov" "$port" 256 "$con" > "$work/dom.xml"
	: > "$work/marker"
	watch_console "$con" "$work/marker"
	$VIRSH create "$work/dom.xml" >/dev/null; t2=$(ms)
	until $SSH user@127.0.0.1 true 2>/dev/null; do sleep 1; done; t3=$(ms)
	$SCP "$work/input-lib.hpkg" "user@127.0.0.1:$pk/"; before=$($SSH user@127.0.0.1 "ls $pk"); t4=$(ms)
	$SSH user@127.0.0.1 "haikuporter --ignore-messages --no-package-obsoletion -y $RECIPES" >/dev/null; t5=$(ms)
	mkdir -p "$work/shell-out"
	for f in $($SSH user@127.0.0.1 "ls $pk"); do
		echo "$before" | grep -qx "$f" && continue
		$SCP "user@127.0.0.1:$pk/$f" "$work/shell-out/"
	done
	(cd "$work/shell-out" && sha256sum ./* >/dev/null); t6=$(ms)
	$VIRSH destroy mayfly-bench-shell >/dev/null; rm -f "$ov"; t7=$(ms)
	kill "$watcher" 2>/dev/null || true; pkill -f "$con" || true
	sleep 0.2
	lag=$(( $(mark conn) - $(mark listen) ))
	row=($((t1-t0)) $((t2-t1)) $((t3-t2)) $((t4-t3)) $((t5-t4)) $((t6-t5)) $((t7-t6)))
	k=0; for p in $phases; do sum[s_$p]=$(( ${sum[s_$p]:-0} + row[k] )); k=$((k+1)); done
	own=$(( row[0] + lag + row[6] ))
	sum[s_total]=$(( ${sum[s_total]:-0} + t7 - t0 )); sum[s_lag]=$(( ${sum[s_lag]:-0} + lag ))
	sum[s_own]=$(( ${sum[s_own]:-0} + own ))
	[ $i -eq 1 ] && printf "%-4s %7s %7s %8s %7s %7s %8s %8s %9s %9s %8s\n" run clone boot ready push run harvest destroy total detect_lag own_work
	printf "%-4s %7s %7s %8s %7s %7s %8s %8s %9s %9s %8s\n" "$i" "${row[@]}" "$((t7-t0))" "$lag" "$own"
	rm -rf "$work/shell-out"
done

echo
echo "== Means over $runs runs (ms)"
printf "%-8s %7s %7s %8s %7s %7s %8s %8s %9s %9s %8s\n" "" clone boot ready push run harvest destroy total detect_lag own_work
for who in m s; do
	vals=()
	for p in $phases total lag own; do vals+=($(( ${sum[${who}_$p]} / runs ))); done
	printf "%-8s %7s %7s %8s %7s %7s %8s %8s %9s %9s %8s\n" "$([ $who = m ] && echo mayfly || echo shell)" "${vals[@]}"
done
echo
echo "Mayfly banner_wait (listening -> banner) mean: $(( ${sum[m_bwait]} / runs )) ms"
echo "own_work = clone + detect_lag + destroy (the orchestrator's own time per build)"
