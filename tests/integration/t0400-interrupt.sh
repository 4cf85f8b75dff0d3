#!/bin/sh
# Interruptions: Ctrl-C destroys the machine and deletes the clone; a
# vmctl killed with SIGKILL leaves a ledger from which the next vmctl
# cleans up (libvirt itself destroys the machine when vmctl's connection
# drops).
. "$(dirname "$0")/lib.sh"

test_expect 'register the test guest' '
	add_testguest tg >/dev/null 2>&1
'

test_expect 'Ctrl-C while the guest boots: exit 130, machine destroyed' '
	start_build tg hello
	wait_for "==> boot" 30
	kill -INT $bg
	rc=0; wait $bg || rc=$?
	expect_eq "$rc" 130
	grep -q "interrupted" "$TEST_TMP/bg.err"
	id=$(sql "SELECT max(id) FROM builds")
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" cancelled
	assert_no_leaks
'

test_expect 'Ctrl-C during the build command: exit 130, machine destroyed' '
	start_build tg hang
	wait_for "building hang" 120
	kill -INT $bg
	rc=0; wait $bg || rc=$?
	expect_eq "$rc" 130
	grep -q "==> destroy" "$TEST_TMP/bg.err"
	assert_no_leaks
'

test_expect 'SIGTERM is handled like Ctrl-C' '
	start_build tg hang
	wait_for "building hang" 120
	kill -TERM $bg
	rc=0; wait $bg || rc=$?
	expect_eq "$rc" 130
	assert_no_leaks
'

test_expect 'kill -9 of vmctl: libvirt destroys the machine, the next vmctl cleans up the rest' '
	start_build tg hang
	wait_for "building hang" 120
	id=$(sql "SELECT max(id) FROM builds")
	kill -KILL $bg
	wait $bg || true
	# The ledger still names what the dead process owned.
	test -n "$(sql "SELECT name FROM resources WHERE kind = '\''volume'\''")"
	i=0
	while $VIRSH list --name | grep -q "^mayfly-$(instance)-b$id\$"; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "domain still running"; exit 1; }
		sleep 0.1
	done
	run_vmctl build tg hello
	expect_rc 0
	expect_stderr "cleaned up volume .b$id.qcow2. left by a dead process"
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" infra_error
	expect_eq "$(sql "SELECT error FROM builds WHERE id = $id")" "the process running this build died"
	assert_no_leaks
'

test_done
