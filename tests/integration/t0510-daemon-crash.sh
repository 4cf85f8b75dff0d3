#!/bin/sh
# mayflyd killed with SIGKILL during boot, during the build and during the
# harvest: a restart cleans up what it left (no domain, volume, ledger entry
# or port survives) and runs the build again, never twice at once. Also the
# idle timeout, and the quarantine of an image whose machines do not boot.
. "$(dirname "$0")/lib.sh"

write_config "max_vms = 1" "infra_retries = 2" "idle_timeout = 8" "quarantine_after = 3"

# kill_during ID PATTERN: SIGKILL mayflyd once build ID's log shows PATTERN.
kill_during() {
	wait_log "$1" "$2" 180
	stop_daemon KILL
}

# After a SIGKILL: libvirt destroys the machine itself (its connection is
# gone); the overlay and the ledger wait for the restart.
check_restart() { # ID
	i=0
	while $VIRSH list --name | grep -q "^mayfly-$(instance)-b$1"; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "machine of build $1 still runs"; return 1; }
		sleep 0.1
	done
	test -n "$(sql "SELECT name FROM resources WHERE build_id = $1")"
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $1")" running
	start_daemon
	grep -q "cleaned up volume .b$1" "$TEST_TMP/daemon.log"
	grep -q "build $1: mayflyd stopped during this attempt" "$TEST_TMP/daemon.log"
	expect_eq "$(wait_final "$1" 240)" succeeded
	expect_eq "$(sql "SELECT attempts FROM builds WHERE id = $1")" 2
	expect_eq "$(sql "SELECT status FROM attempts WHERE build_id = $1 AND n = 1")" infra_error
	# Attempts never overlap: the second began after the first ended.
	expect_eq "$(sql "SELECT (SELECT started FROM attempts WHERE build_id = $1 AND n = 2) >= (SELECT finished FROM attempts WHERE build_id = $1 AND n = 1)")" 1
	assert_no_leaks
}

test_expect 'register the test guest and start mayflyd' '
	add_testguest tg >/dev/null 2>&1
	start_daemon
'

test_expect 'kill -9 during boot, restart: cleaned up, built again' '
	run_vmctl build tg hello --no-wait
	id=$(cat "$TEST_TMP/stdout")
	kill_during "$id" "machine .* started"
	check_restart "$id"
'

test_expect 'kill -9 during the build command, restart: cleaned up, built again' '
	run_vmctl build tg slow --no-wait
	id=$(cat "$TEST_TMP/stdout")
	kill_during "$id" "slow: step 2"
	check_restart "$id"
'

test_expect 'kill -9 during the harvest, restart: cleaned up, built again' '
	run_vmctl build tg big-48 --no-wait
	id=$(cat "$TEST_TMP/stdout")
	kill_during "$id" "run done"
	grep -q "harvest done" "$MAYFLY_STATE_DIR/builds/$id/build.log" &&
		{ echo "the harvest ended before the kill: make big-N bigger"; exit 1; }
	check_restart "$id"
'

test_expect 'a build silent for idle_timeout ends as timed_out, not retried' '
	run_vmctl build tg hang --json
	expect_rc 4
	expect_eq "$(json_field .status)" timed_out
	expect_stdout "idle timeout"
	expect_eq "$(json_field ".attempts | length")" 1
	assert_no_leaks
'

test_expect 'machines that never come up: retried, then the image is quarantined' '
	# A boot timeout no guest can meet stands in for a broken image.
	sql "UPDATE images SET boot_timeout = 1 WHERE name = '\''tg'\''"
	run_vmctl build tg hello --json
	expect_rc 3
	expect_eq "$(json_field .status)" infra_error
	expect_eq "$(json_field ".attempts | length")" 3
	expect_stdout "did not answer SSH within 1 s"
	test -n "$(sql "SELECT quarantined FROM images WHERE name = '\''tg'\''")"
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hello\"]}"
	expect_code 409
	expect_stdout "quarantined"
	expect_stdout "vmctl image clear tg"
	assert_no_leaks
'

test_expect 'vmctl image clear lifts the quarantine' '
	sql "UPDATE images SET boot_timeout = 120 WHERE name = '\''tg'\''"
	run_vmctl image clear tg
	expect_rc 0
	run_vmctl build tg hello
	expect_rc 0
	expect_eq "$(sql "SELECT boot_failures FROM images WHERE name = '\''tg'\''")" 0
	assert_no_leaks
'

test_done
