# lib.sh - the integration test library (sourced by each t*.sh).
#
# Every test file gets a private state directory and a trap that, whatever
# happens, removes what the file registered, checks that nothing leaked
# (domains, volumes, ledger entries, forwarded ports, QEMU processes) and
# destroys anything that did. A leak fails the file.
#
#	. "$(dirname "$0")/lib.sh"
#	test_expect 'title' 'shell commands'
#	test_done
#
# Real parts only: the real vmctl, real libvirtd + QEMU (TCG), the real
# test guest over real SSH, a real SQLite file.

set -u

VMCTL=${MAYFLY_VMCTL:?set MAYFLY_VMCTL to the vmctl binary}
MAYFLYD=${MAYFLY_MAYFLYD:-$(dirname "$VMCTL")/mayflyd}
GUEST=${MAYFLY_TESTGUEST:?set MAYFLY_TESTGUEST to the test guest directory}
VIRSH="virsh -q -c qemu:///system"
TEST_NAME=$(basename "$0" .sh)

# /var/tmp is searchable by QEMU's user; mktemp makes 0700, so open it up.
TEST_STATE=$(mktemp -d /var/tmp/mayfly-test.XXXXXX)
chmod 755 "$TEST_STATE"
TEST_TMP=$TEST_STATE/tmp
mkdir -p "$TEST_TMP"
export MAYFLY_STATE_DIR=$TEST_STATE/state
unset MAYFLY_CONFIG MAYFLY_ACCEL MAYFLY_LIBVIRT_URI MAYFLY_URL MAYFLY_TOKEN
TOKEN=test-token-$$

test_count=0
test_failed=0

say() { printf '%s\n' "$*"; }

test_expect() {
	title=$1
	body=$2
	test_count=$((test_count + 1))
	out=$TEST_TMP/out.$test_count
	# Not inside "if": there, set -e would be ignored and no step could fail.
	(set -eu; eval "$body") >"$out" 2>&1
	status=$?
	if [ "$status" -eq 0 ]; then
		say "ok $test_count - $title"
	else
		test_failed=$((test_failed + 1))
		say "not ok $test_count - $title"
		sed 's/^/#   /' "$out" | tail -40
	fi
}

# --- helpers for test bodies

# vmctl with the private state directory; status in $rc, output in files.
run_vmctl() {
	rc=0
	[ -f "$TEST_TMP/daemon.pid" ] && daemon_env
	"$VMCTL" "$@" >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr" || rc=$?
	return 0
}

expect_rc() {
	if [ "$rc" -ne "$1" ]; then
		echo "expected exit status $1, got $rc"
		echo "--- stdout"; tail -20 "$TEST_TMP/stdout"
		echo "--- stderr"; tail -20 "$TEST_TMP/stderr"
		return 1
	fi
}

expect_stderr() {
	grep -q -- "$1" "$TEST_TMP/stderr" || {
		echo "stderr lacks '$1':"
		cat "$TEST_TMP/stderr"
		return 1
	}
}

expect_stdout() {
	grep -q -- "$1" "$TEST_TMP/stdout" || {
		echo "stdout lacks '$1':"
		cat "$TEST_TMP/stdout"
		return 1
	}
}

# A value from the JSON on stdout: json_field '.status'
json_field() {
	jq -r "$1" "$TEST_TMP/stdout"
}

expect_eq() {
	[ "$1" = "$2" ] || { echo "expected '$2', got '$1' ${3:-}"; return 1; }
}

sql() {
	sqlite3 "$MAYFLY_STATE_DIR/state.db" "$1"
}

instance() {
	sql "SELECT value FROM meta WHERE key = 'instance'" 2>/dev/null
}

# Registers the test guest as image $1 (extra options follow).
add_testguest() {
	name=$1
	shift
	"$VMCTL" image add "$name" "$GUEST/testguest.qcow2" \
		--ssh-key "$GUEST/id_ed25519" --host-key "$GUEST/host_key.pub" \
		--memory 256 --vcpus 1 --boot-timeout 120 "$@"
}

# Starts "vmctl build ..." in the background (output in $TEST_TMP/bg.out,
# bg.err); $bg is its pid. Call it inside a test body.
start_build() {
	"$VMCTL" build "$@" >"$TEST_TMP/bg.out" 2>"$TEST_TMP/bg.err" &
	bg=$!
}

# Waits (up to $2 seconds) until the background build's stderr or stdout shows $1.
wait_for() {
	i=0
	until grep -q -- "$1" "$TEST_TMP/bg.err" "$TEST_TMP/bg.out" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt $(( $2 * 10 )) ]; then
			echo "timed out waiting for '$1'"; cat "$TEST_TMP/bg.err"; return 1
		fi
		sleep 0.1
	done
}

# --- mayflyd

# Writes $TEST_TMP/mayfly.conf for this state directory; arguments are extra
# [limits] lines ("max_vms = 1"). vmctl reads it too (MAYFLY_CONFIG). Call
# it outside test_expect: a test body is a subshell and its export is lost.
write_config() {
	printf '%s\n' "$TOKEN" > "$TEST_TMP/tokens"
	chmod 600 "$TEST_TMP/tokens"
	{
		echo "[daemon]"
		echo "state_dir = $MAYFLY_STATE_DIR"
		echo "listen = 127.0.0.1:0"
		echo "token_file = $TEST_TMP/tokens"
		echo "[limits]"
		echo "disk_reserve_mb = 0"
		for line in "$@"; do echo "$line"; done
	} > "$TEST_TMP/mayfly.conf"
	export MAYFLY_CONFIG=$TEST_TMP/mayfly.conf
}

# Starts mayflyd (extra arguments go to it) and waits until it listens.
# Its pid and URL are kept in files, so that any test body (a subshell)
# can use, stop or restart it, and the cleanup trap finds it.
start_daemon() {
	: > "$TEST_TMP/daemon.log"
	"$MAYFLYD" -c "$MAYFLY_CONFIG" "$@" >> "$TEST_TMP/daemon.log" 2>&1 &
	echo $! > "$TEST_TMP/daemon.pid"
	i=0
	until grep -q "listening on" "$TEST_TMP/daemon.log"; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$(cat "$TEST_TMP/daemon.pid")" 2>/dev/null; then
			echo "mayflyd did not start:"; cat "$TEST_TMP/daemon.log"; return 1
		fi
		sleep 0.1
	done
	port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$TEST_TMP/daemon.log")
	echo "http://127.0.0.1:$port" > "$TEST_TMP/daemon.url"
	daemon_env
}

# Points vmctl at the running mayflyd.
daemon_env() {
	export MAYFLY_URL="$(cat "$TEST_TMP/daemon.url")" MAYFLY_TOKEN=$TOKEN
}

# Empty, and still a success, when no mayflyd runs: "pid=$(daemon_pid)"
# must not end a test body under set -e.
daemon_pid() {
	cat "$TEST_TMP/daemon.pid" 2>/dev/null || true
}

# Stops mayflyd with a signal (default TERM) and waits (60 s at most) until it is gone.
stop_daemon() {
	pid=$(daemon_pid)
	[ -n "$pid" ] || return 0
	kill -"${1:-TERM}" "$pid" 2>/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || { echo "mayflyd $pid did not stop"; return 1; }
		sleep 0.1
	done
	rm -f "$TEST_TMP/daemon.pid"
}

# api METHOD PATH [BODY]: HTTP status in $code, body in $TEST_TMP/stdout.
api() {
	daemon_env
	if [ $# -ge 3 ]; then
		code=$(curl -s -o "$TEST_TMP/stdout" -w '%{http_code}' -X "$1" \
			-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
			--data-binary "$3" "$MAYFLY_URL$2")
	else
		code=$(curl -s -o "$TEST_TMP/stdout" -w '%{http_code}' -X "$1" \
			-H "Authorization: Bearer $TOKEN" "$MAYFLY_URL$2")
	fi
}

expect_code() {
	[ "$code" = "$1" ] || { echo "expected HTTP $1, got $code:"; cat "$TEST_TMP/stdout"; return 1; }
}

# Waits (up to $2 s) until build $1 is in a final state; prints the state.
wait_final() {
	i=0
	while :; do
		st=$(sql "SELECT status FROM builds WHERE id = $1")
		case $st in
		succeeded|failed|infra_error|timed_out|cancelled) echo "$st"; return 0 ;;
		esac
		i=$((i + 1))
		[ $i -le $(( ${2:-300} * 5 )) ] || { echo "build $1 still $st"; return 1; }
		sleep 0.2
	done
}

# Waits (up to $3 s) until build $1's log contains $2.
wait_log() {
	i=0
	until grep -q -- "$2" "$MAYFLY_STATE_DIR/builds/$1/build.log" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $(( ${3:-120} * 10 )) ] || { echo "build $1's log never showed '$2'"; return 1; }
		sleep 0.1
	done
}

# Fails if this state directory owns anything in libvirt besides golden
# volumes, has ledger entries, or a port it forwarded is still open.
assert_no_leaks() {
	inst=$(instance)
	[ -n "$inst" ] || return 0
	leaks=
	doms=$($VIRSH list --all --name | grep "^mayfly-$inst-" || true)
	[ -z "$doms" ] || leaks="$leaks domains: $doms;"
	# Golden volumes and snapshot layers belong to image records.
	layers=$(sql "SELECT layer_volume FROM snapshots" 2>/dev/null || true)
	vols=$($VIRSH vol-list "mayfly-$inst" 2>/dev/null | awk '{print $1}' |
		grep -v '^golden-' | grep -vxF "${layers:-/}" | grep . || true)
	[ -z "$vols" ] || leaks="$leaks volumes: $vols;"
	saves=$(sql "SELECT save_path FROM snapshots" 2>/dev/null || true)
	for f in "$MAYFLY_STATE_DIR"/snapshots/*; do
		[ -e "$f" ] || continue
		printf '%s\n' "$saves" | grep -qxF "$f" || leaks="$leaks file: $f;"
	done
	ledger=$(sql "SELECT kind || ' ' || name FROM resources")
	[ -z "$ledger" ] || leaks="$leaks ledger: $ledger;"
	qemu=$(pgrep -f "guest=mayfly-$inst-" || true)
	[ -z "$qemu" ] || leaks="$leaks qemu pids: $qemu;"
	for log in "$MAYFLY_STATE_DIR"/builds/*/build.log; do
		[ -f "$log" ] || continue
		for port in $(sed -n 's/.*SSH forwarded from 127.0.0.1:\([0-9]*\).*/\1/p' "$log"); do
			if ss -Hltn "sport = :$port" | grep -q .; then
				leaks="$leaks port $port still listening;"
			fi
		done
	done
	if [ -n "$leaks" ]; then
		echo "LEAK:$leaks"
		return 1
	fi
}

# Removes everything this file's state directory owns; used by the trap.
force_cleanup() {
	inst=$(instance)
	[ -n "$inst" ] || return 0
	for d in $($VIRSH list --all --name | grep "^mayfly-$inst-" || true); do
		$VIRSH destroy "$d" >/dev/null 2>&1 || true
	done
	for p in $($VIRSH pool-list --all --name | grep "^mayfly-$inst" || true); do
		$VIRSH pool-destroy "$p" >/dev/null 2>&1 || true
	done
}

# Starts CMD in the background (output in $TEST_TMP/helper.N.log); the
# cleanup trap stops it. Call it outside test_expect (its subshell would
# lose nothing, but keep helpers visible at the top level).
start_helper() {
	touch "$TEST_TMP/helpers"
	n=$(($(wc -l < "$TEST_TMP/helpers") + 1))
	"$@" > "$TEST_TMP/helper.$n.log" 2>&1 &
	echo $! >> "$TEST_TMP/helpers"
	HELPER_LOG=$TEST_TMP/helper.$n.log
}

# Serves directory $1 over HTTP on 127.0.0.1 (python3); its URL in $SOURCE_URL.
start_source_server() {
	start_helper python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1"
	i=0
	until grep -q "Serving HTTP" "$HELPER_LOG"; do
		i=$((i + 1))
		[ $i -le 100 ] || { echo "the source server did not start:"; cat "$HELPER_LOG"; return 1; }
		sleep 0.1
	done
	SOURCE_URL=http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$HELPER_LOG" | head -1)
}

cleanup() {
	status=$?
	trap - EXIT INT TERM
	stop_daemon TERM
	unset MAYFLY_URL
	# Helpers the file started (source servers...): "start_helper CMD...".
	for pid in $(cat "$TEST_TMP/helpers" 2>/dev/null); do
		kill "$pid" 2>/dev/null || true
	done
	# Trees first: an image that builds a tree's updates cannot be removed.
	for t in $("$VMCTL" tree list --json 2>/dev/null | jq -r '.[].name' 2>/dev/null); do
		"$VMCTL" tree rm "$t" >/dev/null 2>&1 || say "# could not remove tree $t"
	done
	# Remove the images the file registered: the pool goes with the last one.
	for img in $("$VMCTL" image list --json 2>/dev/null | jq -r '.[].name' 2>/dev/null); do
		"$VMCTL" image rm "$img" >/dev/null 2>&1 || say "# could not remove image $img"
	done
	if ! assert_no_leaks >"$TEST_TMP/leaks" 2>&1; then
		say "not ok - $TEST_NAME left things behind: $(cat "$TEST_TMP/leaks")"
		test_failed=$((test_failed + 1))
	fi
	inst=$(instance)
	if [ -n "$inst" ] && $VIRSH pool-list --name | grep -q "^mayfly-$inst\$"; then
		say "not ok - $TEST_NAME left its storage pool active"
		test_failed=$((test_failed + 1))
	fi
	force_cleanup
	rm -rf "$TEST_STATE"
	[ "$test_failed" -eq 0 ] && [ "$status" -eq 0 ] && exit 0
	exit 1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

test_done() {
	say "# $TEST_NAME: $((test_count - test_failed)) of $test_count passed"
	[ "$test_failed" -eq 0 ]
}
