#!/bin/sh
# setup.sh - from a fresh Debian 12 machine to a finished demo build:
# installs the packages, builds and installs vmctl, makes the test guest,
# registers it as image 'testguest' and builds two recipes in a fresh VM.
set -eu
. "$(dirname "$0")/common.sh"

install_deps
build_mayfly
say "installing vmctl into /usr/local"
cmake --install "$build" --prefix /usr/local >/dev/null || die "install failed"
make_guest
start_libvirt

# The demo uses the default state directory (/var/lib/mayfly) unless
# MAYFLY_STATE_DIR says otherwise. Re-register the image if the guest changed.
sha=$(sha256sum "$guest/testguest.qcow2" | cut -d' ' -f1)
if vmctl image show testguest >/dev/null 2>&1; then
	if vmctl image show testguest | grep -q "$sha"; then
		say "image 'testguest' is registered"
	else
		say "the test guest changed: re-registering 'testguest'"
		vmctl image rm testguest
	fi
fi
if ! vmctl image show testguest >/dev/null 2>&1; then
	say "vmctl image add testguest (boots it once to pin its host key)"
	vmctl image add testguest "$guest/testguest.qcow2" \
		--ssh-key "$guest/id_ed25519" --host-key "$guest/host_key.pub" \
		--memory 256 --vcpus 1 --boot-timeout 120
fi

say "vmctl build testguest hello big-2 (a fresh VM, used once)"
vmctl build testguest hello big-2

say "done. Try: vmctl image list; vmctl build testguest hello --json; man vmctl"
