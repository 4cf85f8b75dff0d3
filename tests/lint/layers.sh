#!/bin/sh
# layers.sh - checks Mayfly's layering from the #include lines alone:
#
#  1. each external library's headers are included only in the folder that
#     wraps it (its boundary), e.g. <libvirt/...> only in orchestrator/machine/;
#  2. folders include each other without a circle (the layers point one way),
#     and so do modules (x.c with x.h: "machine/host" uses "store/state").
#
# Usage: layers.sh [SOURCE_ROOT]      check a tree (default: this checkout)
#        layers.sh --self-test        prove that both checks can fail
# Prints the folder graph it found; exits 1 on any violation.
set -u

# header pattern (extended regex on the text inside <>) and its one folder
BOUNDARIES='
^libvirt/                  orchestrator/machine
^libssh/                   orchestrator/machine
^guestfs\.h$               orchestrator/machine
^sqlite3\.h$               orchestrator/store
^jansson\.h$               orchestrator/json
^microhttpd\.h$            orchestrator/daemon
^curl/                     orchestrator/net
^openssl/                  orchestrator/common
^git2(\.h$|/)              orchestrator/ports
^zlib\.h$                  orchestrator/pkg
^zstd\.h$                  orchestrator/pkg
^archive(_entry)?\.h$      orchestrator/build
'

check() (
	root=$1
	cd "$root" || return 1
	files=$(find orchestrator images vmctl -name '*.[ch]' 2>/dev/null | sort)
	[ -n "$files" ] || { echo "no sources under $root"; return 1; }
	work=$(mktemp -d)
	# One pass over every file: boundary violations on stdout, edges in files.
	# shellcheck disable=SC2086
	printf '%s\n' "$BOUNDARIES" | awk -v edges="$work/folders" -v mods="$work/modules" '
	function folder_of(path,   n, p) {
		n = split(path, p, "/")
		if (p[1] == "orchestrator" && n >= 3) return p[1] "/" p[2]
		return n >= 2 ? p[1] : "."
	}
	# The folder an #include "..." names (include paths: the root and orchestrator/).
	function folder_of_include(h,   n, p) {
		n = split(h, p, "/")
		if (n < 2) return ""
		if (p[1] == "images" || p[1] == "vmctl") return p[1]
		return "orchestrator/" p[1]
	}
	FNR == NR {
		if (NF == 2) { pat[++npat] = $1; dir[npat] = $2 }
		next
	}
	FNR == 1 {
		from = folder_of(FILENAME)
		mod = FILENAME; sub(/\.[ch]$/, "", mod)
	}
	/^[ \t]*#[ \t]*include[ \t]*</ {
		h = $0; sub(/^[^<]*</, "", h); sub(/>.*/, "", h)
		for (i = 1; i <= npat; i++)
			if (h ~ pat[i] && dir[i] != from) {
				printf "BOUNDARY: %s includes <%s>, which only %s/ may include\n", \
					FILENAME, h, dir[i]
				bad = 1
			}
	}
	/^[ \t]*#[ \t]*include[ \t]*"/ {
		h = $0; sub(/^[^"]*"/, "", h); sub(/".*/, "", h)
		to = folder_of_include(h)
		if (to == "") next
		if (to != from) print from, to > edges
		tomod = h; sub(/\.h$/, "", tomod)
		tomod = to "/" substr(tomod, index(tomod, "/") + 1)
		if (tomod != mod) print mod, tomod > mods
	}
	END { exit bad }
	' - $files
	status=$?
	touch "$work/folders" "$work/modules"
	sort -u "$work/folders" -o "$work/folders"
	echo "folder graph (A -> B: A includes B's headers):"
	awk '{ a[$1] = a[$1] " " $2 } END { for (k in a) print "  " k " ->" a[k] }' \
		"$work/folders" | sort
	# tsort names the members of a cycle on stderr.
	for what in folders modules; do
		if ! tsort "$work/$what" >/dev/null 2>"$work/err" || [ -s "$work/err" ]; then
			echo "CYCLE: $what include each other in a circle:"
			sed 's/^tsort: [^:]*: /  /' "$work/err"
			status=1
		fi
	done
	rm -rf "$work"
	return $status
)

self_test() {
	here=$(cd "$(dirname "$0")/../.." && pwd)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	fail=0
	mkdir -p "$tmp/a/orchestrator/common" "$tmp/a/orchestrator/store" "$tmp/a/vmctl"
	printf '#include <sqlite3.h>\n#include "common/util.h"\n' > "$tmp/a/orchestrator/store/db.c"
	printf '#include <stdio.h>\n' > "$tmp/a/orchestrator/common/util.c"
	printf '#include "store/db.h"\n' > "$tmp/a/vmctl/vmctl.c"
	check "$tmp/a" >/dev/null || { echo "self-test: a clean tree was refused"; fail=1; }
	# A library header outside its folder must be caught.
	cp -r "$tmp/a" "$tmp/b"
	printf '#include <libvirt/libvirt.h>\n' >> "$tmp/b/orchestrator/common/util.c"
	check "$tmp/b" | grep -q "BOUNDARY: orchestrator/common/util.c includes <libvirt/libvirt.h>" ||
		{ echo "self-test: a misplaced library header went unnoticed"; fail=1; }
	# A circle between folders must be caught.
	cp -r "$tmp/a" "$tmp/c"
	printf '#include "vmctl/vmctl.h"\n' >> "$tmp/c/orchestrator/common/util.c"
	check "$tmp/c" | grep -q "CYCLE: folders" ||
		{ echo "self-test: a cycle common -> vmctl -> store -> common went unnoticed"; fail=1; }
	# And one between two modules of a folder.
	cp -r "$tmp/a" "$tmp/d"
	printf '#include "store/queue.h"\n' >> "$tmp/d/orchestrator/store/db.c"
	printf '#include "store/db.h"\n' > "$tmp/d/orchestrator/store/queue.c"
	check "$tmp/d" | grep -q "CYCLE: modules" ||
		{ echo "self-test: a cycle store/db <-> store/queue went unnoticed"; fail=1; }
	[ $fail -eq 0 ] && echo "self-test: both checks fail when they should"
	# And the real tree passes.
	check "$here" || fail=1
	return $fail
}

if [ "${1:-}" = "--self-test" ]; then
	self_test
	exit $?
fi
check "${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
