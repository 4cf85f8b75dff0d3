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
GUEST=${MAYFLY_TESTGUEST:?set MAYFLY_TESTGUEST to the test guest directory}
VIRSH="virsh -q -c qemu:///system"
TEST_NAME=$(basename "$0" .sh)

# /var/tmp is searchable by QEMU's user; mktemp makes 0700, so open it up.
TEST_STATE=$(mktemp -d /var/tmp/mayfly-test.XXXXXX)
chmod 755 "$TEST_STATE"
TEST_TMP=$TEST_STATE/tmp
mkdir -p "$TEST_TMP"
export MAYFLY_STATE_DIR=$TEST_STATE/state
unset MAYFLY_CONFIG MAYFLY_ACCEL MAYFLY_LIBVIRT_URI

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

# Fails if this state directory owns anything in libvirt besides golden
# volumes, has ledger entries, or a port it forwarded is still open.
assert_no_leaks() {
	inst=$(instance)
	[ -n "$inst" ] || return 0
	leaks=
	doms=$($VIRSH list --all --name | grep "^mayfly-$inst-" || true)
	[ -z "$doms" ] || leaks="$leaks domains: $doms;"
	vols=$($VIRSH vol-list "mayfly-$inst" 2>/dev/null | awk '{print $1}' |
		grep -v '^golden-' | grep . || true)
	[ -z "$vols" ] || leaks="$leaks volumes: $vols;"
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

cleanup() {
	status=$?
	trap - EXIT INT TERM
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
