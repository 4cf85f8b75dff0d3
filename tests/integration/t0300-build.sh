#!/bin/sh
# Builds: each in a fresh linked clone, destroyed afterwards; a good, a
# failing and a timed-out build, inputs, and two builds in a row that
# prove no state survives. Leaks are checked after every build.
. "$(dirname "$0")/lib.sh"

test_expect 'register the test guest' '
	add_testguest tg >/dev/null 2>&1
	run_vmctl image show tg --json
	golden=$(json_field .path)
	sha256sum "$golden" | cut -d" " -f1 > "$TEST_TMP/golden.sha"
'

test_expect 'a good build harvests exactly the new packages, with checksums' '
	run_vmctl build tg hello big-3 --json
	expect_rc 0
	expect_eq "$(json_field .status)" succeeded
	expect_eq "$(json_field .exit_code)" 0
	expect_eq "$(json_field .error)" null
	expect_eq "$(json_field "[.phases[].name] | join(\",\")")" clone,boot,ready,push,run,harvest,destroy
	expect_eq "$(json_field "[.packages[].name] | join(\",\")")" \
		big-3-1.0-1-x86_64.hpkg,hello-1.0-1-x86_64.hpkg
	for i in 0 1; do
		path=$(json_field ".packages[$i].path")
		name=$(json_field ".packages[$i].name")
		expect_eq "$(sha256sum "$path" | cut -d" " -f1)" "$(json_field ".packages[$i].sha256")"
		expect_eq "$(stat -c %s "$path")" "$(json_field ".packages[$i].size")"
		# The guest printed the checksum of what it wrote.
		grep -q "package $name sha256 $(json_field ".packages[$i].sha256")" "$TEST_TMP/stderr"
	done
	expect_eq "$(json_field ".packages[0].size")" 3145728
	test ! -e "$(dirname "$path")/preinstalled-1.0-1-x86_64.hpkg"
	test -s "$(json_field .log)"
	grep -q "building hello" "$(json_field .log)"
	test -f "$(json_field .console_log)"
	id=$(json_field .id)
	expect_eq "$(jq -r .status "$MAYFLY_STATE_DIR/builds/$id/result.json")" succeeded
	expect_eq "$(sql "SELECT status FROM builds WHERE id = $id")" succeeded
	expect_eq "$(sql "SELECT count(*) FROM phases WHERE build_id = $id")" 7
	assert_no_leaks
'

test_expect 'human output: phases as they end, output streamed, a summary' '
	run_vmctl build tg slow --out "$TEST_TMP/out"
	expect_rc 0
	expect_stdout "slow: step 6"
	for p in clone boot ready push run harvest destroy; do expect_stderr "==> $p"; done
	expect_stderr "succeeded in"
	test -f "$TEST_TMP/out/slow-1.0-1-x86_64.hpkg"
	assert_no_leaks
'

test_expect 'a failing build exits 1 and harvests nothing' '
	run_vmctl build tg fail-me --json
	expect_rc 1
	expect_eq "$(json_field .status)" failed
	expect_eq "$(json_field .exit_code)" 1
	expect_eq "$(json_field ".packages | length")" 0
	expect_stderr "error: recipe fail-me failed to build"
	assert_no_leaks
'

test_expect 'a build over --timeout exits 4 and its machine is destroyed' '
	start=$(date +%s)
	run_vmctl build tg hang --timeout 5 --json
	expect_rc 4
	expect_eq "$(json_field .status)" timed_out
	expect_eq "$(json_field .exit_code)" null
	expect_eq "$(json_field ".phases[-1].name")" destroy
	expect_stderr "building hang"
	assert_no_leaks
'

test_expect 'inputs are uploaded into the packages dir and not harvested' '
	head -c 100000 /dev/urandom > "$TEST_TMP/input-lib.hpkg"
	run_vmctl build tg needs-input --input "$TEST_TMP/input-lib.hpkg" --json
	expect_rc 0
	expect_stderr "input input-lib.hpkg sha256 $(sha256sum "$TEST_TMP/input-lib.hpkg" | cut -d" " -f1)"
	expect_eq "$(json_field "[.packages[].name] | join(\",\")")" needs-input-1.0-1-x86_64.hpkg
	assert_no_leaks
'

test_expect 'a missing input is bad input: exit 2, no build' '
	n=$(sql "SELECT count(*) FROM builds")
	run_vmctl build tg needs-input --input "$TEST_TMP/nope.hpkg"
	expect_rc 2
	expect_stderr "nope.hpkg"
	expect_eq "$(sql "SELECT count(*) FROM builds")" "$n"
'

test_expect 'two builds in a row: nothing of the first survives into the second' '
	run_vmctl build tg leak-state
	expect_rc 0
	expect_stdout "building leak-state"
	# The stand-in fails any build that finds the marker leak-state wrote.
	run_vmctl build tg hello --json
	expect_rc 0
	expect_eq "$(json_field "[.packages[].name] | join(\",\")")" hello-1.0-1-x86_64.hpkg
	assert_no_leaks
'

test_expect 'a build whose output passes max_log_mb fails; the log keeps its beginning' '
	printf "[limits]\nmax_log_mb = 1\n" > "$TEST_TMP/caps.conf"
	MAYFLY_CONFIG=$TEST_TMP/caps.conf run_vmctl build tg chatty-3 --json
	expect_rc 1
	expect_eq "$(json_field .status)" failed
	json_field .error | grep -q "passed the log.s limit of 1 MiB (max_log_mb)"
	log=$(json_field .log)
	# 1 MiB of output and the event lines, not the 3 MiB the guest printed.
	size=$(stat -c %s "$log")
	[ "$size" -gt 1048576 ] && [ "$size" -lt 1200000 ] || { echo "log is $size bytes"; exit 1; }
	grep -q "the log reached its limit of 1048576 bytes" "$log"
	grep -q "machine .* destroyed" "$log"
	expect_eq "$(json_field ".packages | length")" 0
	assert_no_leaks
'

test_expect 'a build that makes more than max_package_mb harvests nothing and fails' '
	printf "[limits]\nmax_package_mb = 2\n" > "$TEST_TMP/caps.conf"
	MAYFLY_CONFIG=$TEST_TMP/caps.conf run_vmctl build tg hello big-2 --out "$TEST_TMP/capped" --json
	expect_rc 1
	expect_eq "$(json_field .status)" failed
	json_field .error | grep -q "more than the 2.0 MiB a build may harvest (max_package_mb); none was harvested"
	expect_eq "$(ls -A "$TEST_TMP/capped")" ""
	expect_eq "$(sql "SELECT count(*) FROM packages WHERE build_id = $(json_field .id)")" 0
	assert_no_leaks
'

test_expect 'the golden volume was never written' '
	run_vmctl image show tg --json
	expect_eq "$(sha256sum "$(json_field .path)" | cut -d" " -f1)" "$(cat "$TEST_TMP/golden.sha")"
'

test_expect 'a guest whose host key changed is refused at build time (fail closed)' '
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_TMP/other"
	real=$(sql "SELECT host_key FROM images WHERE name = '\''tg'\''")
	sql "UPDATE images SET host_key = '\''$(cut -d" " -f1,2 "$TEST_TMP/other.pub")'\'' WHERE name = '\''tg'\''"
	run_vmctl build tg hello --json
	sql "UPDATE images SET host_key = '\''$real'\'' WHERE name = '\''tg'\''"
	expect_rc 3
	expect_eq "$(json_field .status)" infra_error
	expect_stderr "host key mismatch"
	expect_eq "$(json_field ".packages | length")" 0
	assert_no_leaks
'

test_done
