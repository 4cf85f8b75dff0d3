#!/bin/bash
# bench-webhooks.sh - forge webhooks and pull-request statuses, in figures.
#
# Usage: bench-webhooks.sh [DELIVERIES]   (as root; libvirtd running; default 500)
# Env:   MAYFLY_VMCTL (default build/vmctl), MAYFLY_TESTGUEST (build/testguest)
#
# A ports tree of two ports (as t0800-webhooks.sh) with a GitHub forge: the
# stand-in tests/unit/forge_standin.py on 127.0.0.1 receives the commit
# statuses; every webhook is signed with openssl (HMAC-SHA256).
#
# 1. Answer latency: DELIVERIES signed deliveries, each with its own
#    delivery id (a mix: pings, ignored events - issues, a push to another
#    branch - and pull_request "synchronize" for many pull requests whose
#    head changes no port, so they are recorded and handled but build
#    nothing), sent by 4 concurrent curl (xargs -P 4); p50/p99/max of
#    curl's time_total, (a) on an idle mayflyd, (b) while 2 builds run
#    (max_vms = 2). Also how long the hooks thread took to handle the
#    recorded pull-request events and send their statuses.
# 2. A one-port pull request, 3 times (different numbers and heads): the
#    time from sending the signed "opened" webhook to the stand-in receiving
#    the "pending" status, and the final one (a full build under TCG);
#    each and the median.
# Asserts nothing: figures only (these machines are noisy). Everything is
# on 127.0.0.1; the trap stops mayflyd and the stand-in and removes the
# tree, the image, any machine left and the state directory.
set -euo pipefail
deliveries=${1:-500}
top=$(cd "$(dirname "$0")/../.." && pwd)
VMCTL=${MAYFLY_VMCTL:-$top/build/vmctl}
MAYFLYD=$(dirname "$VMCTL")/mayflyd
G=${MAYFLY_TESTGUEST:-$top/build/testguest}
VIRSH="virsh -q -c qemu:///system"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@mayfly.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@mayfly.invalid
SECRET="It's a Secret to Everybody"

work=$(mktemp -d /var/tmp/mayfly-bench-webhooks.XXXXXX)
chmod 755 "$work"
export MAYFLY_STATE_DIR=$work/state
TOKEN=bench-$$
echo "$TOKEN" > "$work/tokens"
printf '%s\n' "$SECRET" > "$work/hook.secret"
printf 'ghp_benchtoken\n' > "$work/forge.token"
chmod 600 "$work/tokens" "$work/hook.secret" "$work/forge.token"
cat > "$work/mayfly.conf" <<EOF
[daemon]
state_dir = $work/state
listen = 127.0.0.1:0
token_file = $work/tokens
poll_interval = 0
public_url = http://mayfly.invalid
[limits]
max_vms = 2
pr_max_vms = 1
pr_max_per_author = 100000
pr_max_pending = 100000
disk_reserve_mb = 0
EOF
export MAYFLY_CONFIG=$work/mayfly.conf
dpid='' fpid='' inst=''
sql() { sqlite3 -cmd ".timeout 5000" "$MAYFLY_STATE_DIR/state.db" "$1"; }
cleanup() {
	trap - EXIT
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null || true
		wait "$dpid" 2>/dev/null || true
	fi
	if [ -n "$fpid" ]; then
		kill "$fpid" 2>/dev/null || true
		wait "$fpid" 2>/dev/null || true
	fi
	unset MAYFLY_URL MAYFLY_TOKEN
	# The tree first: an image that builds a tree's updates cannot be removed.
	"$VMCTL" tree rm up >/dev/null 2>&1 || true
	"$VMCTL" image rm tg >/dev/null 2>&1 || true
	[ -n "$inst" ] || inst=$(sql "SELECT value FROM meta WHERE key = 'instance'" 2>/dev/null || true)
	if [ -n "$inst" ]; then
		for d in $($VIRSH list --all --name | grep "^mayfly-$inst-" || true); do
			$VIRSH destroy "$d" >/dev/null 2>&1 || true
			$VIRSH undefine "$d" >/dev/null 2>&1 || true
		done
		for p in $($VIRSH pool-list --all --name | grep "^mayfly-$inst" || true); do
			$VIRSH pool-destroy "$p" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

# --- the upstream ports tree: two ports, and three one-port pull requests
UP=$work/up
recipe() { # DIR NAME REVISION
	mkdir -p "$UP/$1"
	cat > "$UP/$1/$2-1.0.recipe" <<EOF
SUMMARY="$2"
DESCRIPTION="A port of the webhook benchmark."
HOMEPAGE="https://$2.invalid/"
COPYRIGHT="2026 Mayfly"
LICENSE="MIT"
REVISION="$3"
ARCHITECTURES="all"
PROVIDES="
	$2 = \$portVersion
	"

BUILD()
{
	true
}
EOF
}
recipe app-misc/alpha alpha 1
recipe app-misc/beta beta 1
git -C "$UP" init -q -b master
git -C "$UP" add -A
git -C "$UP" commit -q -m "two ports"
BASE=$(git -C "$UP" rev-parse HEAD)
PRS="1 2 3"
declare -A HEAD
for n in $PRS; do
	git -C "$UP" checkout -q -b "pr$n" master
	case $n in
	1) recipe app-misc/beta beta 2 ;;
	2) recipe app-misc/alpha alpha 2 ;;
	*) recipe app-misc/beta beta $((n + 1)) ;;
	esac
	git -C "$UP" commit -q -a -m "pull request $n"
	HEAD[$n]=$(git -C "$UP" rev-parse HEAD)
	git -C "$UP" update-ref "refs/pull/$n/head" "${HEAD[$n]}"
done
git -C "$UP" checkout -q master

# --- the forge stand-in, the image, the tree, mayflyd
FORGE_LOG=$work/forge.log
: > "$FORGE_LOG"
python3 -u "$top/tests/unit/forge_standin.py" "$work/forge.port" "$FORGE_LOG" \
	"$work/forge.control" > "$work/forge.out" 2>&1 &
fpid=$!
until [ -s "$work/forge.port" ]; do sleep 0.1; done
FORGE=http://127.0.0.1:$(cat "$work/forge.port")

"$VMCTL" image add tg "$G/testguest.qcow2" --ssh-key "$G/id_ed25519" \
	--host-key "$G/host_key.pub" --memory 256 --vcpus 1 >/dev/null 2>&1
inst=$(sql "SELECT value FROM meta WHERE key = 'instance'")
"$VMCTL" tree add up "$UP" >/dev/null
"$VMCTL" tree set up --update-image tg --forge github --forge-repo haiku/ports \
	--forge-api "$FORGE" --webhook-secret-file "$work/hook.secret" \
	--forge-token-file "$work/forge.token" >/dev/null
"$MAYFLYD" -c "$MAYFLY_CONFIG" > "$work/daemon.log" 2>&1 &
dpid=$!
until grep -q "listening on" "$work/daemon.log"; do sleep 0.1; done
port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/daemon.log")
export MAYFLY_URL=http://127.0.0.1:$port MAYFLY_TOKEN=$TOKEN
HOOK_URL=$MAYFLY_URL/api/v1/hooks/github/up

sign() { # BODY-FILE: the X-Hub-Signature-256 value
	echo "sha256=$(openssl dgst -sha256 -hmac "$SECRET" < "$1" | sed 's/.*= //')"
}
pr_body() { # ACTION NUMBER HEAD AUTHOR
	printf '{"action":"%s","number":%s,"pull_request":{"number":%s,"state":"open","head":{"sha":"%s","ref":"pr%s","repo":{"full_name":"haiku/ports"}},"base":{"ref":"master","sha":"%s","repo":{"full_name":"haiku/ports"}},"user":{"login":"%s"}},"repository":{"full_name":"haiku/ports"},"sender":{"login":"%s"}}' \
		"$1" "$2" "$2" "$3" "$2" "$BASE" "$4" "$4"
}

# The deliveries of one phase (P, a hex digit, makes their ids unique; a
# delivery id of other characters would be replaced by the body's digest):
# "EVENT DELIVERY SIGNATURE BODY-FILE" lines in $work/reqs.P.
prepare() {
	local p=$1 d i n
	d=$work/bodies.$p
	mkdir -p "$d"
	printf '{"zen":"Keep it logically awesome.","hook_id":1}' > "$d/ping"
	printf '{"action":"opened","issue":{"number":1}}' > "$d/issues"
	printf '{"ref":"refs/heads/other","before":"%s","after":"%s","repository":{"full_name":"haiku/ports"},"pusher":{"name":"bench"}}' \
		"$BASE" "$BASE" > "$d/push"
	local sping sissues spush
	sping=$(sign "$d/ping"); sissues=$(sign "$d/issues"); spush=$(sign "$d/push")
	: > "$work/reqs.$p"
	for i in $(seq 1 "$deliveries"); do
		id=$(printf '%s-%08x' "$p" "$i")	# hex digits and '-' only
		case $((i % 5)) in
		0|1) echo "ping $id $sping $d/ping" ;;
		2) echo "issues $id $sissues $d/issues" ;;
		3) echo "push $id $spush $d/push" ;;
		4)	# A pull request whose head is the base: recorded, handled, nothing built.
			n=$(( (16#$p) * 100000 + i ))
			pr_body synchronize "$n" "$BASE" "bench$n" > "$d/pr$n"
			echo "pull_request $id $(sign "$d/pr$n") $d/pr$n" ;;
		esac
	done >> "$work/reqs.$p"
}

# Sends the deliveries of phase P, 4 at a time; "HTTP-CODE TIME" lines in $work/lat.P.
send() {
	HOOK_URL=$HOOK_URL xargs -P 4 -n 4 sh -c 'curl -s -o /dev/null \
		-w "%{http_code} %{time_total}\n" -X POST -H "X-GitHub-Event: $1" \
		-H "X-GitHub-Delivery: $2" -H "X-Hub-Signature-256: $3" \
		-H "Content-Type: application/json" --data-binary @"$4" "$HOOK_URL"' _ \
		< "$work/reqs.$1" > "$work/lat.$1"
}

# p50/p99/max in ms of the times in $work/lat.P, and the answers' codes.
report() {
	awk '{print $2 * 1000}' "$work/lat.$1" | sort -n | awk '
		{ v[NR] = $1 }
		END {
			p50 = int(NR * 0.50 + 0.999999); p99 = int(NR * 0.99 + 0.999999)
			printf "  %d deliveries: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
				NR, v[p50], v[p99], v[NR]
		}'
	echo "  answers: $(awk '{print $1}' "$work/lat.$1" | sort | uniq -c |
		awk '{printf "%s%s x %s", sep, $2, $1; sep = ", "}')"
}

# Waits until the hooks thread handled every recorded event and sent every
# status (or dropped it for a newer one of the same commit: they all name
# the base); prints how long that took after the last answer.
drain() {
	local t0=$EPOCHREALTIME
	until [ "$(sql "SELECT (SELECT count(*) FROM webhook_events WHERE processed IS NULL) +
		(SELECT count(*) FROM forge_statuses WHERE outcome IS NULL)")" = 0 ]; do
		sleep 0.1
	done
	echo "  the hooks thread handled the $(sql "SELECT count(*) FROM webhook_events WHERE
		delivery LIKE '$1-%'") recorded pull-request events and sent their statuses" \
		"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s after the last answer"
	echo "  statuses so far: $(sql "SELECT group_concat(n || ' ' || o, ', ') FROM (SELECT
		outcome AS o, count(*) AS n FROM forge_statuses GROUP BY outcome)")"
}

prepare a
prepare b
echo "== webhooks: $deliveries signed deliveries each phase (2/5 ping, 1/5 issues," \
	"1/5 push elsewhere, 1/5 pull_request changing no port), 4 concurrent senders"
echo
echo "(a) idle mayflyd"
t0=$EPOCHREALTIME
send a
echo "  sent in (wall, with a curl started per delivery) $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s"
report a
drain a

echo
echo "(b) while 2 builds run (max_vms = 2)"
ids=
for i in 1 2 3 4; do ids="$ids $("$VMCTL" build tg slow big-4 --no-wait 2>/dev/null)"; done
until [ "$(curl -s "$MAYFLY_URL/healthz" | jq .running)" -ge 2 ]; do sleep 0.5; done
echo "  before: $(curl -s "$MAYFLY_URL/healthz" | jq -c '{running, queued}')"
t0=$EPOCHREALTIME
send b
echo "  sent in (wall, with a curl started per delivery) $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s"
echo "  after:  $(curl -s "$MAYFLY_URL/healthz" | jq -c '{running, queued}')"
report b
drain b
# The machines are needed for the pull requests: the load builds end now.
for id in $ids; do "$VMCTL" cancel "$id" >/dev/null 2>&1 || true; done
for id in $ids; do
	until "$VMCTL" status "$id" 2>/dev/null | grep -qE "succeeded|failed|error|timed_out|cancelled"; do sleep 1; done
done
echo "  load builds (cancelled once measured): $(for id in $ids; do "$VMCTL" status "$id" | head -1 | cut -d' ' -f3; done | sort | uniq -c | tr '\n' ' ')"
until [ "$(curl -s "$MAYFLY_URL/healthz" | jq .running)" -eq 0 ]; do sleep 0.5; done

echo
echo "== a one-port pull request: signed \"opened\" webhook to the stand-in's statuses"
states() { # SHA: the states the stand-in received for it, in order
	grep -F "/statuses/$1\"" "$FORGE_LOG" 2>/dev/null |
		jq -r '.body | fromjson | "\(.state):\(.description)"' || true
}
: > "$work/pending"; : > "$work/final"
for n in $PRS; do
	sha=${HEAD[$n]}
	pr_body opened "$n" "$sha" "contributor$n" > "$work/open.$n"
	sig=$(sign "$work/open.$n")
	t0=$EPOCHREALTIME
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-GitHub-Event: pull_request" \
		-H "X-GitHub-Delivery: c-$(printf '%08x' "$n")" -H "X-Hub-Signature-256: $sig" \
		-H 'Content-Type: application/json' --data-binary @"$work/open.$n" "$HOOK_URL")
	tp='' tf='' final=''
	deadline=$(( $(date +%s) + 300 ))
	while [ -z "$tf" ] && [ "$(date +%s)" -lt "$deadline" ]; do
		s=$(states "$sha")
		now=$EPOCHREALTIME
		if [ -z "$tp" ] && grep -q "^pending:" <<< "$s"; then tp=$now; fi
		final=$(grep -E "^(success|failure|error):" <<< "$s" | head -1 || true)
		if [ -n "$final" ]; then tf=$now; else sleep 0.05; fi
	done
	dp=$( [ -n "$tp" ] && awk -v a="$t0" -v b="$tp" 'BEGIN {printf "%.2f", b - a}' || echo "-")
	df=$( [ -n "$tf" ] && awk -v a="$t0" -v b="$tf" 'BEGIN {printf "%.2f", b - a}' || echo "-")
	[ "$dp" = - ] || echo "$dp" >> "$work/pending"
	[ "$df" = - ] || echo "$df" >> "$work/final"
	echo "  PR #$n at ${sha:0:12} (HTTP $code): pending after $dp s, final (${final:-none in 300 s}) after $df s"
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2); else print "-" }'; }
echo "  median: pending $(median "$work/pending") s, final $(median "$work/final") s"

echo
echo "end: mayflyd RSS $(awk '/^VmRSS/ {print $2 " kB"}' "/proc/$dpid/status")," \
	"$(ls "/proc/$dpid/fd" | wc -l) open fds"
left=$($VIRSH list --name | grep -c "^mayfly-$inst-" || true)
echo "machines left running: $left"
