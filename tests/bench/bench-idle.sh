#!/bin/sh
# bench-idle.sh - mayflyd's HTTP API against many idle connections ("slowloris").
#
# Usage: bench-idle.sh [N ...]          (default N: 300 1000 5000)
# Env:   MAYFLY_MAYFLYD  the daemon (default build/mayflyd in this repository)
#        RUNS     runs of each N (default 2)
#        MODE     partial (each idle connection sends a header without its
#                 final blank line) or none (sends nothing); default partial
#        REQS     fresh requests per route per measurement (default 10)
#        TIMEOUT  timeout of one fresh request in ms (default 5000)
#        HOLD     if > 0, measure again HOLD s after the idle connections were
#                 opened, to see whether the server's idle timeout frees it
#                 (default 0; 130 shows a 120 s timeout)
#        CC       C compiler (default cc)
#
# For each run a fresh mayflyd (private state directory under /var/tmp, its
# own config and token, listen = 127.0.0.1:0) gets N idle connections from
# tests/bench/idleconn.c, which then times sequential fresh GET /healthz and
# GET /api/v1/builds (each on a new connection) while they are held. No VM,
# no image, no network beyond 127.0.0.1. Prints figures; asserts nothing.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
MAYFLYD=${MAYFLY_MAYFLYD:-$top/build/mayflyd}
RUNS=${RUNS:-2}
MODE=${MODE:-partial}
REQS=${REQS:-10}
TIMEOUT=${TIMEOUT:-5000}
HOLD=${HOLD:-0}
[ $# -gt 0 ] || set -- 300 1000 5000
[ -x "$MAYFLYD" ] || { echo "bench-idle: no mayflyd at $MAYFLYD" >&2; exit 2; }

work=$(mktemp -d /var/tmp/mayfly-idle.XXXXXX)
chmod 755 "$work"	# mayflyd wants QEMU (libvirt-qemu) to reach its pool
dpid=
stop_daemon() {
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null || true
		i=0
		while kill -0 "$dpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$dpid" 2>/dev/null || true
		wait "$dpid" 2>/dev/null || true
		dpid=
	fi
	# mayflyd leaves its (transient) libvirt storage pool active when it
	# stops; destroy the ones whose directory is ours, as tests/integration do.
	command -v virsh >/dev/null || return 0
	for p in $(virsh -q -c qemu:///system pool-list --name 2>/dev/null | grep '^mayfly-'); do
		if virsh -q -c qemu:///system pool-dumpxml "$p" 2>/dev/null | grep -q "<path>$work/"; then
			virsh -q -c qemu:///system pool-destroy "$p" >/dev/null 2>&1 || true
		fi
	done
}
cpid=
cleanup() {
	[ -z "$cpid" ] || kill "$cpid" 2>/dev/null || true
	stop_daemon
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

${CC:-cc} -O2 -o "$work/idleconn" "$top/tests/bench/idleconn.c"

# The daemon needs an fd per connection: raise the limit it inherits
# (ulimit -n is not POSIX, but dash, bash and busybox sh have it).
# shellcheck disable=SC3045
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TOKEN=bench-idle-$$
printf '%s\n' "$TOKEN" > "$work/tokens"
chmod 600 "$work/tokens"

# Starts a fresh mayflyd with a new, empty state directory; sets dpid and port.
nstate=0
start_daemon() {
	nstate=$((nstate + 1))
	state=$work/state.$nstate
	cat > "$work/mayfly.conf" <<EOF
[daemon]
state_dir = $state
listen = 127.0.0.1:0
token_file = $work/tokens
[limits]
disk_reserve_mb = 0
EOF
	: > "$work/daemon.log"
	MAYFLY_STATE_DIR=$state "$MAYFLYD" -c "$work/mayfly.conf" >> "$work/daemon.log" 2>&1 &
	dpid=$!
	i=0
	until grep -q "listening on" "$work/daemon.log"; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$dpid" 2>/dev/null; then
			echo "mayflyd did not start:"; cat "$work/daemon.log"; exit 1
		fi
		sleep 0.1
	done
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/daemon.log")
}

echo "mayflyd: $MAYFLYD"
# shellcheck disable=SC3045
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), fd limit for mayflyd $(ulimit -n)"
echo "idle connections: $MODE; $REQS requests per route, timeout $TIMEOUT ms; runs: $RUNS; hold: $HOLD s"
: > "$work/results"
for n in "$@"; do
	run=1
	while [ $run -le "$RUNS" ]; do
		start_daemon
		echo
		echo "== N=$n run $run (port $port, load $(cut -d' ' -f1 /proc/loadavg), mayflyd fd limit $(awk '/^Max open files/ {print $4}' "/proc/$dpid/limits"))"
		# In the background, so that a signal to this script is handled at once.
		"$work/idleconn" -p "$port" -n "$n" -m "$MODE" -r "$REQS" -t "$TOKEN" \
			-T "$TIMEOUT" -s "$HOLD" -P "$dpid" > "$work/out" 2>&1 &
		cpid=$!
		wait "$cpid" || true
		cpid=
		grep -v '^RESULT' "$work/out"
		sed -n "s/^RESULT /run=$run /p" "$work/out" >> "$work/results"
		warn=$(grep -c 'http:' "$work/daemon.log" || true)
		[ "$warn" -eq 0 ] || echo "mayflyd logged $warn http warnings, e.g.: $(grep 'http:' "$work/daemon.log" | head -1)"
		stop_daemon
		run=$((run + 1))
	done
done

# The table: one row per measurement, from the RESULT lines.
echo
echo "== summary (latency in ms, median/p95/max of the answered requests; fail = of $REQS)"
echo "est = established (client view), kept = still open, srv+ = fds the server gained (accepted connections), acq = accept queue"
awk '
function v(k,  i, a) { for (i = 1; i <= NF; i++) { split($i, a, "="); if (a[1] == k) return a[2] } return "?" }
function lat(p) { return v(p "_ok") == 0 ? "-" : sprintf("%.0f/%.0f/%.0f", v(p "_med"), v(p "_p95"), v(p "_max")) }
BEGIN { printf "%-5s %-3s %-10s %5s %5s %5s %5s %5s %4s  %-15s %4s  %-15s %4s %8s %7s %5s\n",
	"N", "run", "phase", "t(s)", "est", "kept", "srv+", "acq", "load",
	"healthz", "fail", "builds", "fail", "RSS kB", "threads", "fds" }
{ printf "%-5s %-3s %-10s %5.0f %5s %5s %5s %5s %4s  %-15s %4s  %-15s %4s %8s %7s %5s\n",
	v("n"), v("run"), v("phase"), v("t"), v("est"), v("open"), v("srv_fds_delta"), v("listen_q"),
	v("load"), lat("hz"), v("hz_fail"), lat("bl"), v("bl_fail"), v("srv_rss_kb"),
	v("srv_threads"), v("srv_fds") }
' "$work/results"
