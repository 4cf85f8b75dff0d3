#!/bin/bash
# bench-daemon.sh - mayflyd under load and over time, in figures.
#
# Usage: bench-daemon.sh [SOAK_BUILDS]   (as root; libvirtd running)
# Env:   MAYFLY_VMCTL (default build/vmctl), MAYFLY_TESTGUEST (build/testguest)
#
# 1. Load: while builds run (max_vms = 2), wrk sends API requests (a build
#    list, one build, /healthz) for 20 s; prints latency percentiles.
# 2. Soak: SOAK_BUILDS (default 20) builds, one after another; prints the
#    daemon's RSS and open file descriptors before and after.
# Asserts nothing: figures only (these machines are noisy).
set -euo pipefail
soak=${1:-20}
top=$(cd "$(dirname "$0")/../.." && pwd)
VMCTL=${MAYFLY_VMCTL:-$top/build/vmctl}
MAYFLYD=$(dirname "$VMCTL")/mayflyd
G=${MAYFLY_TESTGUEST:-$top/build/testguest}
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null

work=$(mktemp -d /var/tmp/mayfly-bench.XXXXXX)
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
[limits]
max_vms = 2
disk_reserve_mb = 0
EOF
export MAYFLY_CONFIG=$work/mayfly.conf
dpid=
cleanup() {
	[ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null || true
	"$VMCTL" image rm tg >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

"$VMCTL" image add tg "$G/testguest.qcow2" --ssh-key "$G/id_ed25519" \
	--host-key "$G/host_key.pub" --memory 256 --vcpus 1 >/dev/null 2>&1
"$MAYFLYD" -c "$MAYFLY_CONFIG" > "$work/daemon.log" 2>&1 &
dpid=$!
until grep -q "listening on" "$work/daemon.log"; do sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/daemon.log")
export MAYFLY_URL=http://127.0.0.1:$port MAYFLY_TOKEN=$TOKEN
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$dpid/status"; }
fds() { ls "/proc/$dpid/fd" | wc -l; }
threads() { awk '/^Threads/ {print $2}' "/proc/$dpid/status"; }

echo "== start: RSS $(rss), $(fds) open fds, $(threads) threads"

echo
echo "== load: wrk, 20 s, 2 threads, 16 connections, while 2 builds run"
ids=
for i in 1 2 3 4; do ids="$ids $("$VMCTL" build tg slow big-4 --no-wait 2>/dev/null)"; done
until [ "$(curl -s "$MAYFLY_URL/healthz" | jq .running)" -ge 2 ]; do sleep 0.5; done
first=${ids%% *}; first=${ids# }; first=${first%% *}
cat > "$work/mix.lua" <<EOF
local paths = { "/api/v1/builds?limit=20", "/api/v1/builds/$first", "/healthz" }
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1],
    { ["Authorization"] = "Bearer $TOKEN" })
end
EOF
wrk -t2 -c16 -d20s --latency -s "$work/mix.lua" "$MAYFLY_URL" | sed -n '/Thread Stats/,/Transfer/p'
echo "running during the load: $(curl -s "$MAYFLY_URL/healthz" | jq -c '{running, queued}')"
for id in $ids; do
	until "$VMCTL" status "$id" 2>/dev/null | grep -qE "succeeded|failed|error|timed_out|cancelled"; do sleep 1; done
done
echo "load builds: $(for id in $ids; do "$VMCTL" status "$id" | head -1 | cut -d' ' -f3; done | sort | uniq -c | tr '\n' ' ')"
echo "after load: RSS $(rss), $(fds) open fds, $(threads) threads"

echo
echo "== soak: $soak builds one after another"
r0=$(rss); f0=$(fds)
t0=$(date +%s)
ok=0
for i in $(seq 1 "$soak"); do
	if "$VMCTL" build tg hello >/dev/null 2>&1; then ok=$((ok + 1)); fi
done
echo "$ok of $soak succeeded in $(( $(date +%s) - t0 )) s"
echo "soak start: RSS $r0, $f0 open fds"
echo "soak end:   RSS $(rss), $(fds) open fds, $(threads) threads"
left=$(virsh -q -c qemu:///system list --name | grep -c "^mayfly-" || true)
echo "machines left running: $left"
