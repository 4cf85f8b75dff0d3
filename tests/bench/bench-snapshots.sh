#!/bin/bash
# bench-snapshots.sh - booted memory snapshots and the warm pool, in figures.
#
# Usage: bench-snapshots.sh [ROUNDS]   (as root; libvirtd running; default 5)
# Env:   MAYFLY_VMCTL (default build/vmctl), MAYFLY_TESTGUEST (build/testguest)
#
# All in one run, on the test guest (512 MiB, 1 vCPU, TCG):
# 1. "Up": from the start of the machine to a logged-in SSH session (the
#    restore command run), as the build's phases record it: clone + boot +
#    ready (cold), clone + restore + ready (snapshot), warm (taken from
#    mayflyd's pool). ROUNDS builds of "hello" each; median, min, max. The
#    whole build's time (vmctl's duration; for the pool, the sum of the
#    build's phases, and the time from vmctl --url's request to its result)
#    likewise.
# 2. Throughput from snapshots on 2 slots: 2*ROUNDS builds one at a time,
#    then the same with two vmctl processes at once; builds per minute.
# 3. Disk cost of a snapshot slot (memory image, disk layer) and restore
#    time (ROUNDS restores each) for guests of 256 MiB, 1 GiB and 2 GiB.
# Asserts nothing: figures only (these machines are noisy). Everything is
# on 127.0.0.1; the trap stops mayflyd and removes the images, any machine
# left and the state directory.
set -euo pipefail
rounds=${1:-5}
top=$(cd "$(dirname "$0")/../.." && pwd)
VMCTL=${MAYFLY_VMCTL:-$top/build/vmctl}
MAYFLYD=$(dirname "$VMCTL")/mayflyd
G=${MAYFLY_TESTGUEST:-$top/build/testguest}
VIRSH="virsh -q -c qemu:///system"

work=$(mktemp -d /var/tmp/mayfly-bench-snapshots.XXXXXX)
chmod 755 "$work"
export MAYFLY_STATE_DIR=$work/state
TOKEN=bench-$$
echo "$TOKEN" > "$work/tokens"
chmod 600 "$work/tokens"
cat > "$work/mayfly.conf" <<EOF
[daemon]
state_dir = $work/state
listen = 127.0.0.1:0
token_file = $work/tokens
poll_interval = 0
[limits]
max_vms = 2
disk_reserve_mb = 0
EOF
export MAYFLY_CONFIG=$work/mayfly.conf
daemon=

cleanup() {
	trap - EXIT
	[ -z "$daemon" ] || { kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null || true; }
	unset MAYFLY_URL
	for img in $("$VMCTL" image list --json 2>/dev/null | jq -r '.[].name'); do
		"$VMCTL" image rm "$img" >/dev/null 2>&1 || echo "could not remove image $img"
	done
	inst=$(sqlite3 "$work/state/state.db" "SELECT value FROM meta WHERE key = 'instance'" 2>/dev/null || true)
	if [ -n "$inst" ]; then
		for d in $($VIRSH list --all --name | grep "^mayfly-$inst-" || true); do
			echo "leftover domain $d"; $VIRSH destroy "$d" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

add() { # NAME MEMORY SLOTS
	"$VMCTL" image add "$1" "$G/testguest.qcow2" --ssh-key "$G/id_ed25519" \
		--host-key "$G/host_key.pub" --memory "$2" --vcpus 1 --boot-timeout 120 \
		${3:+--snapshot-slots "$3"} >/dev/null 2>&1
}

# Prints "median min max" of the numbers on stdin (ms), as seconds.
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f s (min %.2f, max %.2f, n %d)", m / 1000, v[1] / 1000, v[NR] / 1000, NR }'
}

# The same in milliseconds.
stats_ms() {
	sort -n | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%d ms (min %d, max %d, n %d)", m, v[1], v[NR], NR }'
}

# phase_sum JSON NAMES...: the sum of those phases' durations (ms).
phase_sum() {
	json=$1; shift
	sel=$(printf '"%s",' "$@"); sel=${sel%,}
	printf '%s' "$json" | jq "[.phases[] | select(.name | IN($sel)) | .duration_ms] | add // 0"
}

build_json() { "$VMCTL" build "$@" --json 2>/dev/null; }

echo "== 1. up (to a logged-in SSH session) and the whole hello build, $rounds each"
add tg 512 2
"$VMCTL" image snapshot --remove tg >/dev/null
: > "$work/cold.up"; : > "$work/cold.build"
for i in $(seq "$rounds"); do
	j=$(build_json tg hello)
	phase_sum "$j" clone boot ready >> "$work/cold.up"
	echo "$j" | jq .duration_ms >> "$work/cold.build"
done
"$VMCTL" image snapshot tg --slots 2 >/dev/null 2>&1
: > "$work/snap.up"; : > "$work/snap.build"
for i in $(seq "$rounds"); do
	j=$(build_json tg hello)
	echo "$j" | jq -e '.phases | map(.name) | index("restore")' >/dev/null ||
		echo "  (build $(echo "$j" | jq .id) did not restore)"
	phase_sum "$j" clone restore ready >> "$work/snap.up"
	echo "$j" | jq .duration_ms >> "$work/snap.build"
done

"$VMCTL" image warm tg 1 >/dev/null
"$MAYFLYD" -c "$MAYFLY_CONFIG" > "$work/daemon.log" 2>&1 &
daemon=$!
until grep -q "listening on" "$work/daemon.log"; do sleep 0.1; done
export MAYFLY_URL=http://127.0.0.1:$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/daemon.log")
export MAYFLY_TOKEN=$TOKEN
warm_ready() {
	until [ "$(curl -s "$MAYFLY_URL/healthz" | jq -r '.warm.tg.ready // 0')" = 1 ]; do sleep 0.1; done
}
: > "$work/warm.up"; : > "$work/warm.build"; : > "$work/warm.request"
for i in $(seq "$rounds"); do
	warm_ready
	t0=$(date +%s%N)
	id=$("$VMCTL" build tg hello --json 2>/dev/null | jq .id)
	t1=$(date +%s%N)
	j=$(curl -s -H "Authorization: Bearer $TOKEN" "$MAYFLY_URL/api/v1/builds/$id")
	phase_sum "$j" warm >> "$work/warm.up"
	# mayflyd's record has no duration: the sum of its phases.
	echo "$j" | jq '[.phases[].duration_ms] | add' >> "$work/warm.build"
	echo $(( (t1 - t0) / 1000000 )) >> "$work/warm.request"
done
kill "$daemon"; wait "$daemon" || true; daemon=
unset MAYFLY_URL
"$VMCTL" image warm tg 0 >/dev/null

printf '  up, cold boot:      %s\n' "$(stats < "$work/cold.up")"
printf '  up, from snapshot:  %s\n' "$(stats < "$work/snap.up")"
printf '  up, warm pool:      %s\n' "$(stats_ms < "$work/warm.up")"
printf '  hello build, cold:      %s\n' "$(stats < "$work/cold.build")"
printf '  hello build, snapshot:  %s\n' "$(stats < "$work/snap.build")"
printf '  hello build, warm pool: %s (vmctl --url, request to result: %s)\n' \
	"$(stats < "$work/warm.build")" "$(stats < "$work/warm.request")"
cold=$(sort -n "$work/cold.build" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
snap=$(sort -n "$work/snap.build" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
warmb=$(sort -n "$work/warm.build" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
awk -v c="$cold" -v s="$snap" -v w="$warmb" 'BEGIN {
	printf "  ratio of medians to the cold build: snapshot %.2fx, warm pool %.2fx\n", s / c, w / c }'

echo "== 2. throughput from snapshots (2 slots, 2 cores)"
n=$((2 * rounds))
t0=$(date +%s%N)
for i in $(seq "$n"); do "$VMCTL" build tg hello >/dev/null 2>&1; done
t1=$(date +%s%N)
half() { for i in $(seq "$rounds"); do "$VMCTL" build tg hello >/dev/null 2>&1; done; }
half & p1=$!
half & p2=$!
wait $p1 $p2
t2=$(date +%s%N)
cold_boots=$(cat "$work"/state/builds/*/build.log | grep -c "every snapshot slot is in use" || true)
awk -v n="$n" -v a=$(( (t1 - t0) / 1000000 )) -v b=$(( (t2 - t1) / 1000000 )) 'BEGIN {
	printf "  %d builds one at a time: %.1f s (%.1f/min); two at a time: %.1f s (%.1f/min); %.2fx\n",
		n, a / 1000, n * 60000 / a, b / 1000, n * 60000 / b, a / b }'
echo "  builds that found no free slot (booted cold): $cold_boots"
"$VMCTL" image rm tg >/dev/null

echo "== 3. snapshot disk cost and restore time by guest memory"
printf '  %-8s %-14s %-12s %s\n' memory "memory image" "disk layer" restore
for mem in 256 1024 2048; do
	add "m$mem" "$mem" 1
	j=$("$VMCTL" image show "m$mem" --json)
	save=$(sqlite3 "$work/state/state.db" "SELECT save_bytes FROM snapshots WHERE image = 'm$mem'")
	layer=$(sqlite3 "$work/state/state.db" "SELECT layer_bytes FROM snapshots WHERE image = 'm$mem'")
	: > "$work/r$mem"
	for i in $(seq "$rounds"); do
		build_json "m$mem" hello | jq '[.phases[] | select(.name == "restore") | .duration_ms] | add // empty' >> "$work/r$mem"
	done
	printf '  %-8s %-14s %-12s %s\n' "$mem MiB" "$(numfmt --to=iec "$save")B" \
		"$(numfmt --to=iec "$layer")B" "$(stats < "$work/r$mem")"
	"$VMCTL" image rm "m$mem" >/dev/null
done
