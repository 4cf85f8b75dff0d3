#!/bin/sh
# Bad input gets a clear error that says what and where, exit status 2,
# and creates nothing: no build record, no machine.
. "$(dirname "$0")/lib.sh"

test_expect 'no command prints usage and exits 2' '
	run_vmctl
	expect_rc 2
	expect_stderr "usage: vmctl"
'

test_expect 'unknown command' '
	run_vmctl frobnicate
	expect_rc 2
	expect_stderr "unknown command .frobnicate."
'

test_expect 'image without subcommand' '
	run_vmctl image
	expect_rc 2
	expect_stderr "needs a subcommand"
'

test_expect 'build --help lists the exit statuses' '
	run_vmctl build --help
	expect_rc 0
	expect_stdout "4 the build exceeded --timeout"
'

test_expect 'build with too few arguments' '
	run_vmctl build onlyimage
	expect_rc 2
	expect_stderr "expected an image and at least one recipe"
'

test_expect 'build of an unknown image names it and says none is registered' '
	run_vmctl build nosuchimage hello
	expect_rc 2
	expect_stderr "unknown image .nosuchimage."
	expect_stderr "no image is registered"
'

test_expect 'recipe names with shell metacharacters are refused before anything runs' '
	for bad in "hello;reboot" "\$(id)" "a b" "x|y" "-rf" "back\`tick" "../up" ""; do
		run_vmctl build nosuchimage -- "$bad"
		expect_rc 2
		expect_stderr "invalid recipe name"
	done
	expect_eq "$(sql "SELECT count(*) FROM builds")" 0 "(no build record)"
'

test_expect '--timeout must be a positive number' '
	run_vmctl build img hello --timeout 0
	expect_rc 2
	expect_stderr "--timeout must be a whole number"
	run_vmctl build img hello --timeout 10x
	expect_rc 2
'

test_expect 'a config typo is reported with file, line and a hint' '
	printf "[daemon]\n# comment\nstat_dir = /tmp/x\n[limits]\nboot_timeout = soon\n" > "$TEST_TMP/bad.conf"
	run_vmctl -c "$TEST_TMP/bad.conf" image list
	expect_rc 2
	expect_stderr "bad.conf:3: unknown key .stat_dir. in \[daemon\]; did you mean .state_dir.?"
	expect_stderr "bad.conf:5: .boot_timeout. must be a whole number"
'

test_expect 'the example config parses' '
	run_vmctl -c "$(dirname "$0")/../../configs/mayfly.conf.example" image list
	expect_rc 0
'

test_expect 'a missing config file is an error, not a silent default' '
	run_vmctl -c "$TEST_TMP/none.conf" image list
	expect_rc 2
	expect_stderr "none.conf"
'

test_expect 'MAYFLY_ACCEL must be auto, kvm or tcg' '
	rc=0; MAYFLY_ACCEL=fast "$VMCTL" image list >/dev/null 2>"$TEST_TMP/stderr" || rc=$?
	expect_rc 2
	expect_stderr "MAYFLY_ACCEL must be auto, kvm or tcg"
'

test_expect 'image add checks its inputs before booting anything' '
	run_vmctl image add "bad name" "$GUEST/testguest.qcow2"
	expect_rc 2; expect_stderr "invalid image name"
	run_vmctl image add ok "$TEST_TMP/missing.qcow2" --ssh-key "$GUEST/id_ed25519"
	expect_rc 2; expect_stderr "missing.qcow2"
	run_vmctl image add ok "$GUEST/testguest.qcow2" --ssh-key "$GUEST/host_key.pub"
	expect_rc 2; expect_stderr "cannot use SSH key"
	run_vmctl image add ok "$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		--build-command "make {recipe}"
	expect_rc 2; expect_stderr "unknown placeholder .{recipe}."
	run_vmctl image add ok "$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		--host-key "$GUEST/id_ed25519"
	expect_rc 2; expect_stderr "host-key"
	run_vmctl image add ok "$GUEST/testguest.qcow2" --disk-bus scsi
	expect_rc 2; expect_stderr "disk-bus must be sata, ide or virtio"
	run_vmctl image list
	expect_stdout "no images"
'

test_expect 'no libvirtd at the given URI: exit 3 with a hint' '
	rc=0
	MAYFLY_LIBVIRT_URI="qemu:///system?socket=/nonexistent/sock" "$VMCTL" image add ok \
		"$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		>/dev/null 2>"$TEST_TMP/stderr" || rc=$?
	expect_rc 3
	expect_stderr "cannot connect to libvirt"
	expect_stderr "is libvirtd running"
'

test_expect 'a state directory QEMU cannot reach is refused with the reason' '
	mkdir -m 700 "$TEST_TMP/private"
	rc=0
	MAYFLY_STATE_DIR="$TEST_TMP/private/state" "$VMCTL" image add ok \
		"$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		>/dev/null 2>"$TEST_TMP/stderr" || rc=$?
	expect_rc 2
	expect_stderr "private. is not searchable by other users"
	rm -rf "$TEST_TMP/private"
'

HAIKU_DATA=$(cd "$(dirname "$0")/../data/haiku" && pwd)

test_expect 'pkg info reads packages and repositories made by Haiku' '
	run_vmctl pkg info "$HAIKU_DATA/tipster-1.1.1-1-x86_64.hpkg" "$HAIKU_DATA/repo.hpkr" --json
	expect_rc 0
	expect_eq "$(json_field length)" 236
	expect_eq "$(json_field ".[0].file_name")" tipster-1.1.1-1-x86_64.hpkg
	expect_eq "$(json_field ".[0].requires[0] | \"\\(.name) \\(.operator) \\(.version)\"")" \
		"haiku >= r1~beta1_hrev52295_129-1"
	expect_eq "$(json_field "[.[] | select(.name == \"apr\")][0].provides[1].compatible")" 0
	run_vmctl pkg info "$HAIKU_DATA/artificial-1.0.0-any.hpkg"
	expect_rc 0
	expect_stdout "example-42.17-12-x86_gcc2.hpkg"
	expect_stdout "provides:   example = 42.17-12"
'

test_expect 'pkg info refuses a truncated file, names it, and prints nothing' '
	head -c 30000 "$HAIKU_DATA/tipster-1.1.1-1-x86_64.hpkg" > "$TEST_TMP/cut.hpkg"
	run_vmctl pkg info "$HAIKU_DATA/repo.hpkr" "$TEST_TMP/cut.hpkg"
	expect_rc 2
	expect_stderr "cut.hpkg: the header says 49334 bytes, the file has 30000"
	test ! -s "$TEST_TMP/stdout"
	run_vmctl pkg info "$TEST_TMP/nothing.hpkg"
	expect_rc 2
	expect_stderr "cannot open .*nothing.hpkg"
'

test_expect 'nothing was created in libvirt' '
	assert_no_leaks
'

test_done
