#!/bin/bash
# bench-publish.sh - publishing packages to a repository (vmctl publish):
#
#  1. a build run of 20 packages published to a local repository and to S3
#     (s3rver on 127.0.0.1): wall time, the bytes vmctl says it wrote and
#     the packages' total size; then 20 newer versions of the same packages
#     (making the first 20 obsolete): time and bytes;
#  2. 500 packages published to S3 in 10 publishes of 50, each batch put
#     where a build leaves its packages (STATE/builds/N/packages/), so that
#     Mayfly deletes them once they are published: the bytes published next
#     to the disk the state directory uses afterwards (its repos/ metadata,
#     the SQLite database, and the packages still in builds/: none expected);
#  3. the repository file written for 10,000 packages (bench_hpkr's output).
#
# Usage: bench-publish.sh     (no root, no libvirt; about a minute or two)
# Env:   MAYFLY_VMCTL        (default build/vmctl)
#        MAYFLY_S3RVER       (default build/s3rver/node_modules/.bin/s3rver)
#        MAYFLY_BENCH_HPKR   bench_hpkr, built with BUILD_TESTS=ON; when unset,
#                            it is built here in a scratch build directory
#
# The packages are synthetic (tests/bench/gen-hpkg.c, built here with cc
# against Mayfly's own package writer): real .hpkg files holding attributes
# only, made 0.2-3 MB (log-uniform, fixed seed) by pseudo-random padding in
# the heap where a real package's file data is, stored uncompressed as
# incompressible data is. Sizes are realistic, contents are not.
#
# Works in a scratch directory under /var/tmp and removes it, and stops its
# s3rver, on exit. Prints figures; asserts nothing (machines are noisy).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
VMCTL=${MAYFLY_VMCTL:-$top/build/vmctl}
S3RVER=${MAYFLY_S3RVER:-$top/build/s3rver/node_modules/.bin/s3rver}
[ -x "$VMCTL" ] || { echo "bench-publish: no vmctl at $VMCTL (set MAYFLY_VMCTL)" >&2; exit 2; }
[ -x "$S3RVER" ] || { echo "bench-publish: no s3rver at $S3RVER (set MAYFLY_S3RVER)" >&2; exit 2; }

work=$(mktemp -d /var/tmp/mayfly-bench-publish.XXXXXX)
s3pid=
cleanup() {
	if [ -n "$s3pid" ]; then
		kill "$s3pid" 2>/dev/null || true
		wait "$s3pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap "exit 130" INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

# --- the package generator
o=$top/orchestrator
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -I "$o" -I "$top" -o "$work/gen-hpkg" \
	"$top/tests/bench/gen-hpkg.c" "$o/pkg/hpkg.c" "$o/pkg/hpkg_write.c" \
	"$o/pkg/resolvable.c" "$o/pkg/version.c" "$o/common/error.c" "$o/common/strbuf.c" \
	"$o/common/util.c" -lzstd -lz -lm ||
	{ echo "bench-publish: cannot build gen-hpkg (needs cc, zlib and libzstd headers)" >&2; exit 2; }
gen() { "$work/gen-hpkg" "$@"; } # DIR PREFIX FIRST COUNT VERSION MIN MAX SEED -> total bytes

# --- s3rver, on 127.0.0.1, a port of its choosing
mkdir -p "$work/s3rver"
NODE_OPTIONS=--openssl-legacy-provider "$S3RVER" -d "$work/s3rver" -a 127.0.0.1 -p 0 -s \
	--configure-bucket hpkg > "$work/s3rver.out" 2>&1 &
s3pid=$!
port=
for _ in $(seq 300); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/s3rver.out" | head -1)
	[ -n "$port" ] && break
	kill -0 "$s3pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$port" ] || { echo "bench-publish: s3rver did not start:" >&2; cat "$work/s3rver.out" >&2; exit 1; }

# --- the configuration: a local repository, and two S3 ones in the same bucket
printf 'access_key_id = S3RVER\nsecret_access_key = S3RVER\n' > "$work/s3.credentials"
chmod 600 "$work/s3.credentials"
repo_info() { # NAME
	printf 'name = Bench-%s\nvendor = "Mayfly bench"\nsummary = "bench-publish"\n' "$1"
	printf 'priority = 1\narchitecture = x86_64\nidentifier = tag:mayfly-bench-%s\n' "$1"
}
{
	printf '[repository local]\ntype = local\npath = %s\n' "$work/local-repo"
	repo_info local
	printf 'baseurl = http://127.0.0.1:1/local\n'
	for r in s3 s3many; do
		printf '[repository %s]\ntype = s3\nendpoint = http://127.0.0.1:%s\n' "$r" "$port"
		printf 'region = eu-1\nbucket = hpkg\nprefix = %s/x86_64/current/\n' "$r"
		printf 'credentials_file = %s\n' "$work/s3.credentials"
		repo_info "$r"
	done
	printf '[limits]\npackage_cache_mb = 0\n'
} > "$work/mayfly.conf"
export MAYFLY_CONFIG=$work/mayfly.conf

# One publish; sets pub_wall (s, measured here), pub_bytes and pub_secs (vmctl's).
publish() { # REPOSITORY FILE...
	local repo=$1 t out
	shift
	local args=()
	for f; do args+=(--package "$f"); done
	t=$(now)
	out=$("$VMCTL" publish "${args[@]}" "$repo")
	pub_wall=$(secs "$t" "$(now)")
	pub_line=$(echo "$out" | grep -m1 '^publish ')
	pub_bytes=$(echo "$out" | sed -n 's/^ *\([0-9]*\) bytes written in.*/\1/p')
	pub_secs=$(echo "$out" | sed -n 's/.* bytes written in \([0-9.]*\) s;.*/\1/p')
}

echo "== 1. a build run of 20 packages (0.2-3 MB each, synthetic)"
export MAYFLY_STATE_DIR=$work/state1
mkdir -p "$work/run1" "$work/run2"
run1_bytes=$(gen "$work/run1" bench 0 20 1.0-1 200000 3000000 1)
run2_bytes=$(gen "$work/run2" bench 0 20 1.1-1 200000 3000000 1)
echo "packages: 20, $run1_bytes bytes ($(mb "$run1_bytes")); newer versions: $run2_bytes bytes"
printf '%-8s %-22s %8s %8s %12s\n' repo publish "wall s" "vmctl s" "bytes"
for repo in local s3; do
	publish "$repo" "$work"/run1/*.hpkg
	printf '%-8s %-22s %8s %8s %12s   (%s)\n' "$repo" "20 new" "$pub_wall" "$pub_secs" \
		"$pub_bytes" "$pub_line"
	publish "$repo" "$work"/run2/*.hpkg
	printf '%-8s %-22s %8s %8s %12s   (%s)\n' "$repo" "20 newer, 20 obsolete" \
		"$pub_wall" "$pub_secs" "$pub_bytes" "$pub_line"
done
for repo in local s3; do
	echo "vmctl repo show $repo: $("$VMCTL" repo show "$repo" | grep -m1 '^packages:' | sed 's/  */ /g')"
done
newer=("$work"/run2/*.hpkg)
links=$(stat -c %h "$work/local-repo/packages/$(basename "${newer[0]}")")
echo "(local: a package in the repository has $links links, so hard-linked, not copied, when 2;"
echo " vmctl counts its bytes as written either way. S3: obsolete packages move by server-side"
echo " copy, not counted in bytes written)"

echo
echo "== 2. 500 packages to S3, 10 publishes of 50, from STATE/builds/N/packages/"
export MAYFLY_STATE_DIR=$work/state2
total=0
walls=()
t0=$(now)
for b in $(seq 1 10); do
	d=$MAYFLY_STATE_DIR/builds/$b/packages
	mkdir -p "$d"
	n=$(gen "$d" many $(( (b - 1) * 50 )) 50 1.0-1 200000 3000000 2)
	total=$(( total + n ))
	publish s3many "$d"/*.hpkg
	walls+=("$pub_wall")
	echo "batch $b: $n bytes of packages; $pub_wall s wall, $pub_bytes bytes written  ($pub_line)"
done
echo "total: 500 packages, $total bytes ($(mb "$total")) published in $(secs "$t0" "$(now)") s" \
	"(generating them included)"
left=$(find "$MAYFLY_STATE_DIR/builds" -name '*.hpkg' | wc -l)
left_bytes=$(find "$MAYFLY_STATE_DIR/builds" -name '*.hpkg' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
echo "state directory afterwards: $(du -sb "$MAYFLY_STATE_DIR" | cut -f1) bytes in all"
echo "  repos/ (metadata):        $(du -sb "$MAYFLY_STATE_DIR/repos" | cut -f1) bytes"
for f in "$MAYFLY_STATE_DIR"/state.db*; do
	echo "  $(basename "$f"):$(printf '%*s' $(( 24 - ${#f} + ${#MAYFLY_STATE_DIR} )) '')" \
		"$(stat -c %s "$f") bytes"
done
echo "  builds/:                  $(du -sb "$MAYFLY_STATE_DIR/builds" | cut -f1) bytes" \
	"(packages left: $left, $left_bytes bytes; the rest is directories)"
for d in "$MAYFLY_STATE_DIR"/*/; do
	case $(basename "$d") in repos|builds) continue;; esac
	s=$(du -sb "$d" | cut -f1)
	[ "$s" -gt 4096 ] && echo "  $(basename "$d")/: $s bytes"
done
(cd "$MAYFLY_STATE_DIR/repos" && find . -type f -printf '    repos/%P: %s bytes\n' | sort)
echo "s3rver's copy of the bucket (both S3 repositories): $(du -sb "$work/s3rver" | cut -f1) bytes"
echo "vmctl repo show s3many: $("$VMCTL" repo show s3many | grep -m1 '^packages:' | sed 's/  */ /g')"

echo
echo "== 3. the repository file for 10,000 packages (bench_hpkr)"
hpkr=${MAYFLY_BENCH_HPKR:-}
if [ -z "$hpkr" ]; then
	t=$(now)
	if ! { cmake -S "$top" -B "$work/build-hpkr" -DBUILD_TESTS=ON &&
		cmake --build "$work/build-hpkr" -j2 --target bench_hpkr; } > "$work/build-hpkr.log" 2>&1; then
		echo "bench-publish: cannot build bench_hpkr:" >&2
		tail -20 "$work/build-hpkr.log" >&2
		exit 1
	fi
	hpkr=$work/build-hpkr/tests/unit/bench_hpkr
	echo "(bench_hpkr built in $(secs "$t" "$(now)") s; set MAYFLY_BENCH_HPKR to skip that)"
fi
(cd "$work" && "$hpkr" 10000 "$work/bench.hpkr")
