#!/bin/sh
# run.sh - runs the integration test files (all t*.sh, or those named) one
# after another and prints a summary. Needs MAYFLY_VMCTL and MAYFLY_TESTGUEST
# (scripts/test.sh sets them).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
	files=$*
else
	files=$(ls "$here"/t[0-9]*.sh)
fi
failed=
start=$(date +%s)
for f in $files; do
	[ -f "$f" ] || f=$here/$f
	name=$(basename "$f" .sh)
	t0=$(date +%s)
	echo "# --- $name"
	if sh "$f"; then
		echo "# $name passed in $(( $(date +%s) - t0 )) s"
	else
		echo "# $name FAILED in $(( $(date +%s) - t0 )) s"
		failed="$failed $name"
	fi
done
echo "# integration tests took $(( $(date +%s) - start )) s"
# A last look across all of libvirt: nothing of any Mayfly test may remain.
left=$(virsh -q -c qemu:///system list --all --name | grep '^mayfly-' || true)
if [ -n "$left" ]; then
	echo "# domains left in libvirt: $left"
	failed="$failed (leak)"
fi
if [ -n "$failed" ]; then
	echo "# FAILED:$failed"
	exit 1
fi
echo "# all integration tests passed"
