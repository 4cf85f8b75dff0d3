#!/bin/sh
# test.sh - the whole test suite: unit tests (cmocka) and integration tests
# that drive the real vmctl against real libvirtd + QEMU (TCG) and the test
# guest. Installs and builds what is missing first, so it runs on a fresh
# machine. Exits non-zero if any test fails or anything leaked.
set -eu
. "$(dirname "$0")/common.sh"

install_deps
build_mayfly
make_guest
start_libvirt

say "unit tests"
(cd "$build" && ctest --output-on-failure) || die "unit tests failed"

say "integration tests"
MAYFLY_VMCTL=$build/vmctl MAYFLY_TESTGUEST=$guest \
	sh "$top/tests/integration/run.sh" "$@" || die "integration tests failed"
say "all tests passed"
