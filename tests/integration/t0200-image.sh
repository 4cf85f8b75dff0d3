#!/bin/sh
# Golden images: add (import + smoke boot + pinned host key), list, show,
# rm; failed adds register nothing and leave nothing behind.
. "$(dirname "$0")/lib.sh"

test_expect 'image add imports, boots one clone and pins the host key' '
	run_vmctl image add tg "$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		--host-key "$GUEST/host_key.pub" --memory 256 --vcpus 1 --boot-timeout 120 --json
	expect_rc 0
	for step in inspect checksum import clone boot ready check destroy; do
		expect_stderr "==> $step"
	done
	expect_eq "$(json_field .name)" tg
	expect_eq "$(json_field .format)" qcow2
	expect_eq "$(json_field .sha256)" "$(sha256sum "$GUEST/testguest.qcow2" | cut -d" " -f1)"
	expect_eq "$(json_field .virtual_size)" "$(qemu-img info --output=json "$GUEST/testguest.qcow2" | jq .\"virtual-size\")"
	expect_eq "$(json_field .host_key)" "$(cut -d" " -f1,2 "$GUEST/host_key.pub")"
	expect_eq "$(json_field .settings.disk_bus)" sata
	expect_eq "$(json_field .settings.ssh_user)" user
	expect_eq "$(json_field .settings.packages_dir)" /boot/home/haikuports/packages
	expect_eq "$(json_field .settings.memory_mib)" 256
	test -f "$(json_field .path)"
	test ! -w "$(json_field .path)" || [ "$(stat -c %a "$(json_field .path)")" = 444 ]
	assert_no_leaks
'

test_expect 'the key copy is private to the state directory' '
	run_vmctl image show tg --json
	key=$(json_field .settings.ssh_key)
	case $key in "$MAYFLY_STATE_DIR"/keys/*) ;; *) echo "key at $key"; exit 1;; esac
	expect_eq "$(stat -c %a "$key")" 600
	cmp "$key" "$GUEST/id_ed25519"
'

test_expect 'image list and show' '
	run_vmctl image list
	expect_rc 0
	expect_stdout "^tg "
	expect_stdout "SHA256:"
	run_vmctl image show tg
	expect_rc 0
	expect_stdout "build_command: haikuporter --ignore-messages --no-package-obsoletion -y {recipes}"
	run_vmctl image list --json
	expect_eq "$(json_field ".[0].name")" tg
'

test_expect 'adding a name twice is refused' '
	run_vmctl image add tg "$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519"
	expect_rc 2
	expect_stderr "image .tg. already exists"
'

test_expect 'a raw disk is converted to a qcow2 golden volume' '
	qemu-img convert -O raw "$GUEST/testguest.qcow2" "$TEST_TMP/tg.raw"
	run_vmctl image add tgraw "$TEST_TMP/tg.raw" --ssh-key "$GUEST/id_ed25519" \
		--host-key "$GUEST/host_key.pub" --memory 256 --vcpus 1 --disk-bus ide --json
	expect_rc 0
	expect_eq "$(json_field .format)" raw
	expect_eq "$(qemu-img info --output=json "$(json_field .path)" | jq -r .format)" qcow2
	expect_eq "$(json_field .settings.disk_bus)" ide
	rm -f "$TEST_TMP/tg.raw"
	run_vmctl image rm tgraw
	expect_rc 0
	assert_no_leaks
'

test_expect 'a wrong pinned host key fails the add, closed, and registers nothing' '
	ssh-keygen -q -t ed25519 -N "" -f "$TEST_TMP/other"
	run_vmctl image add wrongkey "$GUEST/testguest.qcow2" --ssh-key "$GUEST/id_ed25519" \
		--host-key "$TEST_TMP/other.pub" --memory 256 --vcpus 1
	expect_rc 3
	expect_stderr "host key mismatch"
	expect_stderr "$(ssh-keygen -lf "$TEST_TMP/other.pub" | cut -d" " -f2)"
	run_vmctl image show wrongkey
	expect_rc 2
	test ! -e "$MAYFLY_STATE_DIR/keys/wrongkey.key"
	assert_no_leaks
'

test_expect 'an unbootable image fails the add at the boot timeout' '
	qemu-img create -q -f qcow2 "$TEST_TMP/blank.qcow2" 64M
	run_vmctl image add blank "$TEST_TMP/blank.qcow2" --ssh-key "$GUEST/id_ed25519" \
		--memory 256 --vcpus 1 --boot-timeout 8
	expect_rc 3
	expect_stderr "did not answer SSH within 8 s"
	expect_stderr "last console output"
	run_vmctl image list
	expect_stdout "^tg "
	! grep -q blank "$TEST_TMP/stdout"
	! $VIRSH vol-list "mayfly-$(instance)" | grep -q golden-blank
	assert_no_leaks
'

test_expect 'image rm of an unknown image' '
	run_vmctl image rm nope
	expect_rc 2
	expect_stderr "unknown image .nope. (registered: tg)"
'

test_expect 'image rm removes the record, the golden volume, the key and finally the pool' '
	run_vmctl image show tg --json
	path=$(json_field .path); key=$(json_field .settings.ssh_key)
	run_vmctl image rm tg
	expect_rc 0
	test ! -e "$path"
	test ! -e "$key"
	! $VIRSH pool-list --name | grep -q "^mayfly-$(instance)\$"
'

test_done
