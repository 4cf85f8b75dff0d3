#!/bin/sh
# Booted memory snapshots: made at image add, restored by builds (clock set
# after the restore), a busy slot or a failed restore boots cold (counted),
# a vmctl killed with -9 during a restored build is cleaned up, and the
# snapshots go with the image. Nothing leaks.
. "$(dirname "$0")/lib.sh"

test_expect 'bad snapshot input is refused before anything boots' '
	run_vmctl image add tg "$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		--restore-command "date -s @{epoc}"
	expect_rc 2
	expect_stderr "unknown placeholder .{epoc}. at column 10 of the restore command"
	run_vmctl image snapshot nosuch
	expect_rc 2
	expect_stderr "nosuch"
	run_vmctl image snapshot tg --slots 0
	expect_rc 2
	expect_stderr "slots"
	run_vmctl image warm tg lots
	expect_rc 2
	test -z "$(sql "SELECT name FROM images")"
	assert_no_leaks
'

# The build command prints the guest clock, to see that a restore sets it.
test_expect 'image add --snapshot-slots 1 saves a booted machine' '
	run_vmctl image add tg "$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		--host-key "$GUEST/host_key.pub" --memory 256 --vcpus 1 --boot-timeout 120 \
		--build-command "echo guest-clock=\$(date +%s); haikuporter {recipes}" \
		--snapshot-slots 1
	expect_rc 0
	expect_stderr "==> slot 0: save"
	run_vmctl image show tg --json
	expect_eq "$(json_field .snapshots.slots)" 1
	inst=$(instance)
	$VIRSH vol-list "mayfly-$inst" | grep -q "^ *snap-tg-0.qcow2 "
	test -s "$MAYFLY_STATE_DIR/snapshots/tg-0.save"
	expect_eq "$(sql "SELECT domain FROM snapshots")" "mayfly-$inst-snap-tg-0"
	test -z "$(sql "SELECT name FROM resources")"
	assert_no_leaks
'

test_expect 'a build restores the snapshot instead of booting' '
	run_vmctl build tg hello --json
	expect_rc 0
	expect_eq "$(json_field .status)" succeeded
	expect_stderr "==> restore"
	if grep -q "==> boot" "$TEST_TMP/stderr"; then echo "booted cold"; exit 1; fi
	id=$(json_field .id)
	grep -q "machine mayfly-$(instance)-snap-tg-0 restored" "$MAYFLY_STATE_DIR/builds/$id/build.log"
	grep -q "guest clock set and random pool reseeded" "$MAYFLY_STATE_DIR/builds/$id/build.log"
	run_vmctl image show tg --json
	expect_eq "$(json_field .snapshots.restores)" 1
	assert_no_leaks
'

test_expect 'kill -9 of vmctl during a restored build: the next vmctl destroys the machine' '
	start_build tg hang
	wait_for "building hang" 60
	id=$(sql "SELECT max(id) FROM builds")
	kill -KILL $bg
	wait $bg || true
	# A restored machine is not auto-destroyed by libvirt: the ledger is what finds it.
	$VIRSH list --name | grep -q "^mayfly-$(instance)-snap-tg-0\$"
	run_vmctl build tg hello
	expect_rc 0
	expect_stderr "cleaned up domain .mayfly-$(instance)-snap-tg-0. left by a dead process"
	expect_stderr "==> restore"
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" infra_error
	assert_no_leaks
'

test_expect 'a busy slot: the second build at once boots cold; the clock of a restored guest is set' '
	start_build tg hang
	wait_for "building hang" 60
	run_vmctl build tg hello
	expect_rc 0
	expect_stderr "==> boot"
	grep -q "every snapshot slot is in use" "$TEST_TMP/stderr" ||
		grep -q "every snapshot slot is in use" "$MAYFLY_STATE_DIR/builds/$(sql "SELECT max(id) FROM builds")/build.log"
	kill -INT $bg
	wait $bg || true
	# The snapshot was saved minutes ago: without the restore command the
	# guest clock would be that far behind.
	made=$(sql "SELECT created FROM snapshots")
	run_vmctl build tg hello
	expect_rc 0
	guest=$(sed -n "s/^guest-clock=//p" "$TEST_TMP/stdout" "$TEST_TMP/stderr" | head -1)
	host=$(date +%s)
	test -n "$guest"
	test $((host - made)) -gt 20 || { echo "only $((host - made)) s since the save"; exit 1; }
	d=$((host - guest)); [ $d -lt 0 ] && d=$((-d))
	test $d -le 3 || { echo "guest clock $guest, host $host"; exit 1; }
	assert_no_leaks
'

test_expect 'a restore that fails boots cold, is counted, and the build succeeds' '
	cp "$MAYFLY_STATE_DIR/snapshots/tg-0.save" "$TEST_TMP/good.save"
	truncate -s 4096 "$MAYFLY_STATE_DIR/snapshots/tg-0.save"
	run_vmctl build tg hello --json
	expect_rc 0
	expect_eq "$(json_field .status)" succeeded
	expect_stderr "==> boot"
	grep -q "restore failed, booting cold" "$MAYFLY_STATE_DIR/builds/$(json_field .id)/build.log"
	run_vmctl image show tg --json
	expect_eq "$(json_field .snapshots.fallbacks)" 1
	expect_eq "$(json_field .snapshots.failures_in_a_row)" 1
	expect_eq "$(json_field .snapshots.disabled)" null
	cp "$TEST_TMP/good.save" "$MAYFLY_STATE_DIR/snapshots/tg-0.save"
	assert_no_leaks
'

# --- mayflyd's warm pool (1 snapshot slot, 2 machines at most)
write_config "max_vms = 2" "warm_ttl = 10"

# Waits (up to $2 s) until /healthz says image tg has $1 ready machines.
wait_warm() {
	daemon_env
	i=0
	until [ "$(curl -s "$MAYFLY_URL/healthz" | jq -r ".warm.tg.ready // 0")" = "$1" ]; do
		i=$((i + 1))
		[ $i -le $(( $2 * 10 )) ] || { echo "never $1 warm:"; curl -s "$MAYFLY_URL/healthz"; cat "$TEST_TMP/daemon.log"; return 1; }
		sleep 0.1
	done
}

test_expect 'mayflyd keeps a warm machine, hands it to one build, and refills' '
	run_vmctl image warm tg 1
	expect_rc 0
	start_daemon
	wait_warm 1 60
	grep -q "machine mayfly-$(instance)-snap-tg-0 of image tg ready (restored from a snapshot)" "$TEST_TMP/daemon.log"
	run_vmctl status
	expect_stdout "warm pool: image tg, 1 ready, 0 starting"
	# Two builds at once: one takes the warm machine, the other its own; none is used twice.
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hello\"]}"
	expect_code 202
	a=$(jq .id "$TEST_TMP/stdout")
	api POST /api/v1/builds "{\"image\": \"tg\", \"recipes\": [\"hello\"]}"
	b=$(jq .id "$TEST_TMP/stdout")
	expect_eq "$(wait_final $a 120)" succeeded
	expect_eq "$(wait_final $b 120)" succeeded
	# Each pool machine came up once and went to at most one build.
	took=$(cat "$MAYFLY_STATE_DIR/builds/$a/build.log" "$MAYFLY_STATE_DIR/builds/$b/build.log" |
		grep -c "from the warm pool" || true)
	ready=$(grep -c "of image tg ready (" "$TEST_TMP/daemon.log")
	taken=$(grep -c "taken by a build" "$TEST_TMP/daemon.log")
	test "$took" -ge 1 && test "$took" = "$taken" && test "$taken" -le "$ready" ||
		{ echo "took $took, taken $taken, ready $ready"; cat "$TEST_TMP/daemon.log"; exit 1; }
	grep -q "took machine mayfly-$(instance)-snap-tg-0 from the warm pool (restored from a snapshot)" \
		"$MAYFLY_STATE_DIR/builds/$a/build.log" "$MAYFLY_STATE_DIR/builds/$b/build.log"
	w=$(grep -l "from the warm pool" "$MAYFLY_STATE_DIR/builds/$a/build.log" "$MAYFLY_STATE_DIR/builds/$b/build.log" | head -1)
	test -s "$(dirname "$w")/console.log"
	expect_eq "$(sql "SELECT count(*) FROM phases WHERE name = '\''warm'\'' AND build_id IN ($a, $b)")" 1
	wait_warm 1 90
'

test_expect 'a warm machine older than warm_ttl is replaced' '
	wait_log_daemon() {
		i=0
		until grep -q -- "$1" "$TEST_TMP/daemon.log"; do
			i=$((i + 1)); [ $i -le 400 ] || { echo "no \"$1\""; cat "$TEST_TMP/daemon.log"; return 1; }
			sleep 0.1
		done
	}
	wait_log_daemon "destroyed (too old, or no longer wanted)"
	wait_warm 1 60
'

test_expect 'kill -9 of mayflyd with a warm machine: the restart cleans it up' '
	wait_warm 1 60
	stop_daemon KILL
	$VIRSH list --name | grep -q "^mayfly-$(instance)-snap-tg-0\$"
	start_daemon
	grep -q "cleaned up domain .mayfly-$(instance)-snap-tg-0. left by a dead process" "$TEST_TMP/daemon.log"
	wait_warm 1 60
	run_vmctl image rm tg
	expect_rc 2
	expect_stderr "run .vmctl image warm tg 0. first"
	run_vmctl image warm tg 0
	wait_warm 0 30
	stop_daemon TERM
	assert_no_leaks
'

test_expect 'snapshot --remove and image rm take the files and layers away' '
	unset MAYFLY_URL MAYFLY_TOKEN
	run_vmctl image snapshot --remove tg
	expect_rc 0
	test -z "$(sql "SELECT slot FROM snapshots")"
	test ! -e "$MAYFLY_STATE_DIR/snapshots/tg-0.save"
	if $VIRSH vol-list "mayfly-$(instance)" | grep -q snap-; then echo "layer left"; exit 1; fi
	# image rm takes them too (one slot, made again).
	run_vmctl image snapshot tg --slots 1
	expect_rc 0
	test -e "$MAYFLY_STATE_DIR/snapshots/tg-0.save"
	run_vmctl image rm tg
	expect_rc 0
	test -z "$(sql "SELECT slot FROM snapshots")"
	test ! -e "$MAYFLY_STATE_DIR/snapshots/tg-0.save"
	if $VIRSH vol-list "mayfly-$(instance)" 2>/dev/null | grep -q snap-; then echo "layer left"; exit 1; fi
	assert_no_leaks
'

test_done
