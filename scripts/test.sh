#!/bin/sh
# test.sh - the whole test suite. Installs and builds what is missing first,
# so it runs on a fresh machine; exits non-zero if any test fails or
# anything leaked.
#
#  1. unit tests (cmocka) and the layering check
#  2. integration tests: the real vmctl and mayflyd against real libvirtd +
#     QEMU (TCG) and the test guest
#  3. the unit tests and the daemon's integration tests again, built with
#     AddressSanitizer + UBSan (API, publishing, webhooks), then with
#     ThreadSanitizer (build runs, webhooks, snapshots and the warm pool):
#     any report fails
#  4. each fuzzer (libFuzzer) for 15 s from its seeds
#
# With arguments (integration test files), runs steps 1 and 2 for those only.
set -eu
. "$(dirname "$0")/common.sh"

FUZZ_SECONDS=${MAYFLY_FUZZ_SECONDS:-15}

install_deps
build_mayfly
install_s3rver
make_guest
start_libvirt
# Every build variant's tests use this s3rver; none may skip for want of it.
export MAYFLY_S3RVER="$build/s3rver/node_modules/.bin/s3rver" MAYFLY_TEST_REQUIRE_ALL=1

say "unit tests"
(cd "$build" && ctest --output-on-failure) || die "unit tests failed"

say "integration tests"
MAYFLY_VMCTL=$build/vmctl MAYFLY_TESTGUEST=$guest \
	sh "$top/tests/integration/run.sh" "$@" || die "integration tests failed"
[ $# -eq 0 ] || { say "the named integration tests passed"; exit 0; }

# Reports of every sanitized process (vmctl, mayflyd, unit tests) go to
# files in LOGS; the run fails when one appears. The integration tests
# named after LOGS run with the sanitized vmctl and mayflyd.
sanitized_run() {
	name=$1 dir=$2 logs=$3
	shift 3
	rm -rf "$logs"
	mkdir -p "$logs"
	say "unit tests under $name"
	(cd "$dir" && ctest --output-on-failure) || die "unit tests under $name failed"
	say "integration tests under $name: $*"
	MAYFLY_VMCTL=$dir/vmctl MAYFLY_TESTGUEST=$guest \
		sh "$top/tests/integration/run.sh" "$@" ||
		die "an integration test under $name failed"
	if ls "$logs"/* >/dev/null 2>&1; then
		head -60 "$logs"/*
		die "$name reported errors (above; all in $logs)"
	fi
	say "$name: no reports"
}

supp=$top/tests/sanitizers
logs=$build/sanitizers
build_variant asan -DENABLE_SANITIZERS=ON
ASAN_OPTIONS=log_path=$logs/asan/asan:detect_leaks=1:abort_on_error=1 \
LSAN_OPTIONS=suppressions=$supp/lsan.supp:print_suppressions=0 \
UBSAN_OPTIONS=log_path=$logs/asan/ubsan:print_stacktrace=1:halt_on_error=1 \
	sanitized_run "ASan+UBSan" "$build-asan" "$logs/asan" \
	t0500-daemon-api.sh t0700-publish.sh t0800-webhooks.sh

build_variant tsan -DENABLE_TSAN=ON
# The threads that changed most recently: build run slots, the webhook
# thread, the warm pool (t0500's HTTP server threads and t0700's publisher
# run under ASan above and were checked under TSan before; left out here
# to keep the suite within 45 minutes on two cores).
TSAN_OPTIONS=log_path=$logs/tsan/tsan:suppressions=$supp/tsan.supp:second_deadlock_stack=1 \
	sanitized_run "TSan" "$build-tsan" "$logs/tsan" \
	t0610-buildrun.sh t0800-webhooks.sh t0900-snapshots.sh

say "fuzzers, $FUZZ_SECONDS s each"
# Only the fuzz targets: their libraries are instrumented for libFuzzer.
TARGETS="$(cd "$top/tests/fuzz/seeds" && for s in *; do printf 'fuzz_%s ' "$s"; done)" \
CC=clang build_variant fuzz -DBUILD_FUZZERS=ON -DBUILD_TESTS=OFF
for seeds in "$top"/tests/fuzz/seeds/*; do
	name=$(basename "$seeds")
	corpus=$build-fuzz/corpus-$name
	mkdir -p "$corpus"
	"$build-fuzz/tests/fuzz/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
		"$corpus" "$seeds" >"$build-fuzz/fuzz_$name.log" 2>&1 || {
		tail -40 "$build-fuzz/fuzz_$name.log"
		die "fuzz_$name found a crash (input in $build-fuzz)"
	}
	grep -E "^stat::number_of_executed_units|^cov:|DONE" "$build-fuzz/fuzz_$name.log" |
		tail -1 | sed "s/^/fuzz_$name: /"
done
say "all tests passed"
