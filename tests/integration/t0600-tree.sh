#!/bin/sh
# Ports trees at exact commits: trees made here with git (the seed commit
# the golden image's checkout is at, and commits on top), sources served
# on 127.0.0.1 (HTTP, and git daemon for a git source), builds in the guest as buildmaster runs them. The guest's
# haikuporter stand-in puts the digest of the tree it saw into every
# package: it must be the digest of `git archive` of the commit asked for.
# Then update mode, in vmctl and in mayflyd's poller.
. "$(dirname "$0")/lib.sh"

SEED=$(dirname "$0")/../../provisioning/testguest/files/ports-seed.sh
DIGEST=$(dirname "$0")/../../provisioning/testguest/files/tree-digest
UP=$TEST_TMP/up
SRV=$TEST_TMP/srv
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t.invalid GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@t.invalid

mkdir -p "$SRV"
echo "delta sources, version 1.0" > "$SRV/delta-1.0.tar.gz"
echo "delta extra data" > "$SRV/extra-data.bin"
echo "what epsilon's server really serves" > "$SRV/epsilon-1.0.tar.gz"
start_source_server "$SRV"

# A git source, served by git daemon on 127.0.0.1: tag v1.0, then a later commit.
GITSRC=$TEST_TMP/gitsrc
mkdir -p "$GITSRC/lib"
git -C "$GITSRC/lib" init -q -b main
echo "int lib;" > "$GITSRC/lib/lib.c"
git -C "$GITSRC/lib" add -A
git -C "$GITSRC/lib" -c user.name=t -c user.email=t@t.invalid commit -q -m one
git -C "$GITSRC/lib" -c user.name=t -c user.email=t@t.invalid tag -a -m v1 v1.0
echo later > "$GITSRC/lib/later.c"
git -C "$GITSRC/lib" add -A
git -C "$GITSRC/lib" -c user.name=t -c user.email=t@t.invalid commit -q -m two
LIB_V1=$(git -C "$GITSRC/lib" rev-parse "v1.0^{commit}")
# The checksum HaikuPorter computes: git archive, export attributes off.
mkdir -p "$GITSRC/lib/.git/info"
echo "* -export-subst -export-ignore" > "$GITSRC/lib/.git/info/attributes"
LIB_SHA=$(git -C "$GITSRC/lib" -c core.abbrev=no archive --format tar v1.0 | sha256sum | cut -d" " -f1)
GIT_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_helper /usr/lib/git-core/git-daemon --reuseaddr --export-all --listen=127.0.0.1 \
	--port="$GIT_PORT" --base-path="$GITSRC" "$GITSRC"

sha() { sha256sum "$1" | cut -d" " -f1; }

# The digest of a commit's files, as the stand-in computes it in the guest.
commit_digest() {
	rm -rf "$TEST_TMP/archive"
	mkdir "$TEST_TMP/archive"
	git -C "$1" archive "$2" | tar x -C "$TEST_TMP/archive"
	sh "$DIGEST" "$TEST_TMP/archive"
}

# A line of what the test guest wrote into a package's description: pkg_line FILE KEY
pkg_line() {
	"$VMCTL" pkg info --json "$1" | jq -r ".[0].description" | sed -n "s/^$2 //p"
}

commit() {
	git -C "$UP" add -A
	git -C "$UP" commit -q -m "$1"
	git -C "$UP" rev-parse HEAD
}

# C0: the seed, as in the golden image.
C0=$(sh "$SEED" "$UP")

# C1: a port with two sources, a changed additional file, a new executable,
# a symlink pointing elsewhere, a file deleted.
mkdir -p "$UP/dev-util/delta"
cat > "$UP/dev-util/delta/delta-1.0.recipe" <<EOF
SUMMARY="Delta"
DESCRIPTION="A port with sources."
HOMEPAGE="https://delta.invalid/"
COPYRIGHT="2026 Delta"
LICENSE="MIT"
REVISION="4"
SOURCE_URI="$SOURCE_URL/delta-1.0.tar.gz"
CHECKSUM_SHA256="$(sha "$SRV/delta-1.0.tar.gz")"
SOURCE_URI_2="$SOURCE_URL/extra-data.bin#noarchive"
CHECKSUM_SHA256_2="$(sha "$SRV/extra-data.bin")"
SOURCE_FILENAME_2="delta-extra.bin"
SOURCE_URI_3="git+git://127.0.0.1:$GIT_PORT/lib#tag=v1.0"
CHECKSUM_SHA256_3="$LIB_SHA"
SOURCE_FILENAME_3="lib-1.0"
ARCHITECTURES="all"
PROVIDES="
	delta = \$portVersion
	"
REQUIRES="
	haiku
	"
PROVIDES_devel="
	delta_devel = \$portVersion
	"
REQUIRES_devel="
	delta == \$portVersion base
	"
EOF
printf '#!/bin/sh\necho beta, changed\n' > "$UP/app-misc/beta/additional-files/beta.sh"
printf '#!/bin/sh\necho tool\n' > "$UP/app-misc/beta/additional-files/tool.sh"
chmod 755 "$UP/app-misc/beta/additional-files/tool.sh"
ln -sf tool.sh "$UP/app-misc/beta/additional-files/beta-link"
git -C "$UP" rm -q README.md
C1=$(commit "C1: delta, beta changes")

# C2: bad recipes: a checksum that does not match, no active version, a
# recipe that does not parse, and two ports of one name.
mkdir -p "$UP/dev-util/epsilon" "$UP/dev-util/zeta" "$UP/dev-util/broken" \
	"$UP/app-misc/twin" "$UP/sys-apps/twin"
cat > "$UP/dev-util/epsilon/epsilon-1.0.recipe" <<EOF
SUMMARY="Epsilon"
REVISION="1"
LICENSE="MIT"
SOURCE_URI="$SOURCE_URL/epsilon-1.0.tar.gz"
CHECKSUM_SHA256="0000000000000000000000000000000000000000000000000000000000000000"
ARCHITECTURES="all"
PROVIDES="epsilon = \$portVersion"
EOF
cat > "$UP/dev-util/zeta/zeta-1.0.recipe" <<'EOF'
SUMMARY="Zeta"
REVISION="1"
LICENSE="MIT"
ARCHITECTURES="!x86_64 x86_gcc2"
PROVIDES="zeta = $portVersion"
EOF
printf 'SUMMARY="Broken"\nif then fi (\n' > "$UP/dev-util/broken/broken-1.0.recipe"
for d in app-misc sys-apps; do
	printf 'SUMMARY="Twin"\nREVISION="1"\nARCHITECTURES="all"\nPROVIDES="twin = $portVersion"\n' \
		> "$UP/$d/twin/twin-1.0.recipe"
done
C2=$(commit "C2: bad recipes")

test_expect 'register the test guest; its tree is a checkout of the seed commit' '
	add_testguest tg >/dev/null 2>&1
	run_vmctl image show tg --json
	expect_rc 0
	expect_eq "$(json_field .settings.tree_path)" /boot/home/haikuports
	expect_eq "$(json_field .tree_commit)" "$C0"
'

test_expect 'tree add of a local repository mirrors its branch' '
	run_vmctl tree add hp "$UP" --json
	expect_rc 0
	expect_eq "$(json_field .head)" "$C2"
	expect_eq "$(json_field .processed)" null
	test -d "$MAYFLY_STATE_DIR/trees/hp.git"
'

test_expect 'bad input is refused, naming the thing, and starts nothing' '
	run_vmctl build tg --tree nope alpha
	expect_rc 2; expect_stderr "unknown tree .nope. (registered: hp)"
	run_vmctl build tg --tree hp --commit 0123456789abcdef alpha
	expect_rc 2; expect_stderr "unknown commit .0123456789abcdef."
	run_vmctl build tg --tree hp --commit "HEAD@{1}" alpha
	expect_rc 2; expect_stderr "is not a revision"
	run_vmctl build tg --tree hp nosuchport
	expect_rc 2; expect_stderr "no port .nosuchport. at commit"
	run_vmctl build tg --tree hp alpha-9.9
	expect_rc 2; expect_stderr "has no version 9.9"
	run_vmctl build tg --tree hp alpha alpha-1.0
	expect_rc 2; expect_stderr "given twice"
	run_vmctl build tg --tree hp zeta
	expect_rc 2; expect_stderr "zeta"; expect_stderr "x86_64"
	run_vmctl build tg --tree hp broken
	expect_rc 2; expect_stderr "broken-1.0.recipe"
	run_vmctl build tg --tree hp twin
	expect_rc 2; expect_stderr "app-misc/twin"; expect_stderr "sys-apps/twin"
	run_vmctl build tg --tree hp "alpha;reboot"
	expect_rc 2; expect_stderr "invalid recipe name"
	run_vmctl build tg --tree hp --commit "$C0" delta
	expect_rc 2; expect_stderr "no port .delta."
	run_vmctl build nope --tree hp alpha
	expect_rc 2; expect_stderr "unknown image"
	run_vmctl update nope tg
	expect_rc 2; expect_stderr "unknown tree"
	expect_eq "$(sql "SELECT count(*) FROM builds")" 0
	assert_no_leaks
'

test_expect 'a source that does not match its checksum fails the build before a machine starts' '
	run_vmctl build tg --tree hp epsilon --json
	expect_rc 1
	expect_eq "$(json_field .status)" failed
	expect_eq "$(json_field "[.phases[].name] | join(\",\")")" sources
	json_field .error > "$TEST_TMP/err"
	grep -q "$SOURCE_URL/epsilon-1.0.tar.gz" "$TEST_TMP/err"
	grep -q "$(sha "$SRV/epsilon-1.0.tar.gz")" "$TEST_TMP/err"
	grep -q 0000000000000000000000000000000000000000000000000000000000000000 "$TEST_TMP/err"
	test ! -e "$MAYFLY_STATE_DIR/sources/$(sha "$SRV/epsilon-1.0.tar.gz")"
	expect_eq "$(sql "SELECT count(*) FROM sources")" 0
	assert_no_leaks
'

test_expect 'a port at a commit: the exact tree, only the difference sent, sources sealed in' '
	run_vmctl build tg --tree hp --commit "$C1" delta --json
	expect_rc 0
	expect_eq "$(json_field .status)" succeeded
	expect_eq "$(json_field .tree)" hp
	expect_eq "$(json_field .commit)" "$C1"
	expect_eq "$(json_field .port)" delta-1.0
	expect_eq "$(json_field "[.packages[].name] | join(\",\")")" \
		delta-1.0-4-x86_64.hpkg,delta_devel-1.0-4-x86_64.hpkg
	id=$(json_field .id)
	expect_eq "$(sql "SELECT tree || '\'' '\'' || commit_id FROM builds WHERE id = $id")" "hp $C1"
	pkg=$(json_field ".packages[0].path")
	expect_eq "$(pkg_line "$pkg" tree)" "$(commit_digest "$UP" "$C1")"
	expect_eq "$(pkg_line "$pkg" recipe)" \
		"$(git -C "$UP" show "$C1:dev-util/delta/delta-1.0.recipe" | sha256sum | cut -d" " -f1)"
	pkg_line "$pkg" source > "$TEST_TMP/sources"
	grep -qx "delta-1.0.tar.gz $(sha "$SRV/delta-1.0.tar.gz")" "$TEST_TMP/sources"
	grep -qx "delta-extra.bin $(sha "$SRV/extra-data.bin")" "$TEST_TMP/sources"
	grep -qx "lib-1.0 git $LIB_V1" "$TEST_TMP/sources"
	log=$(json_field .log)
	grep -q "sent as the difference to the image" "$log"
	# The golden checkout drifted (a stale port, an edited and a deleted recipe): repaired.
	grep -q "not exactly its commit $(echo "$C0" | cut -c1-12): 1 file not in it removed, 2 missing or different files sent" "$log"
	grep -q -- "--config=\"/boot/home/haikuports/builder.conf\" --no-system-packages --no-package-obsoletion --ignore-messages \"delta-1.0\"" "$log"
	# Both sources are in the cache now, by their digests.
	test -f "$MAYFLY_STATE_DIR/sources/$(sha "$SRV/delta-1.0.tar.gz")"
	assert_no_leaks
'

# A tree with no history in common with the image: the whole tree is sent.
OTHER=$TEST_TMP/other
mkdir -p "$OTHER/app-misc/beta/additional-files"
cp "$UP/app-misc/beta/beta-2.1.recipe" "$OTHER/app-misc/beta/"
printf '#!/bin/sh\necho other\n' > "$OTHER/app-misc/beta/additional-files/beta.sh"
chmod 755 "$OTHER/app-misc/beta/additional-files/beta.sh"
ln -s beta.sh "$OTHER/app-misc/beta/additional-files/link"
echo other > "$OTHER/README"
git -C "$OTHER" init -q -b main
git -C "$OTHER" add -A
git -C "$OTHER" commit -q -m other
O1=$(git -C "$OTHER" rev-parse HEAD)

test_expect 'a tree the image knows nothing of is sent whole, nothing of the image left' '
	run_vmctl tree add other "$OTHER" --branch main
	expect_rc 0
	run_vmctl build tg --tree other beta --json
	expect_rc 0
	expect_eq "$(json_field "[.packages[].name] | join(\",\")")" beta-2.1-2-any.hpkg
	expect_eq "$(json_field .commit)" "$O1"
	pkg=$(json_field ".packages[0].path")
	expect_eq "$(pkg_line "$pkg" tree)" "$(commit_digest "$OTHER" "$O1")"
	grep -q "sent whole" "$(json_field .log)"
	assert_no_leaks
'

test_expect 'update --dry-run says what would be built and why, and records nothing' '
	n=$(sql "SELECT count(*) FROM builds")
	run_vmctl update hp tg --from "$C0" --to "$C1" --dry-run --json
	expect_rc 0
	expect_eq "$(json_field .from)" "$C0"
	expect_eq "$(json_field .to)" "$C1"
	expect_eq "$(json_field "[.ports[].port] | join(\",\")")" beta-2.1,delta-1.0
	expect_eq "$(json_field ".ports[1].trigger")" dev-util/delta/delta-1.0.recipe
	json_field ".ports[0].trigger" | grep -q "^app-misc/beta/additional-files/"
	# Of what C2 adds only epsilon can be built (its source fails later):
	# the others are skipped, each with the reason.
	run_vmctl update hp tg --from "$C1" --dry-run --json
	expect_rc 0
	expect_eq "$(json_field "[.ports[].port] | join(\",\")")" epsilon-1.0
	json_field ".skipped[]" > "$TEST_TMP/skipped"
	grep -q "^broken: .*dev-util/broken/broken-1.0.recipe does not evaluate" "$TEST_TMP/skipped"
	grep -q "^zeta: " "$TEST_TMP/skipped"
	grep -q "^twin: " "$TEST_TMP/skipped"
	run_vmctl update hp tg --dry-run
	expect_rc 0
	expect_stderr "first update"
	run_vmctl tree show hp --json
	expect_eq "$(json_field .processed)" null
	expect_eq "$(sql "SELECT count(*) FROM builds")" "$n"
'

write_config "max_vms = 1" "[daemon]" "poll_interval = 1"

test_expect 'mayflyd: a build of a port through the API, bad ones refused with the field' '
	run_vmctl tree set hp --update-image tg
	expect_rc 0
	start_daemon
	i=0
	until grep -q "tree hp: updates start at $(echo "$C2" | cut -c1-12)" "$TEST_TMP/daemon.log"; do
		i=$((i + 1)); [ $i -le 300 ] || { cat "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.1
	done
	api POST /api/v1/builds "{\"image\":\"tg\",\"tree\":\"hp\",\"ports\":[\"nosuchport\"]}"
	expect_code 400; expect_eq "$(json_field .field)" "ports[0]"
	api POST /api/v1/builds "{\"image\":\"tg\",\"tree\":\"nope\",\"ports\":[\"alpha\"]}"
	expect_code 400; expect_eq "$(json_field .field)" tree
	api POST /api/v1/builds "{\"image\":\"tg\",\"tree\":\"hp\",\"commit\":\"0123456789abcdef\",\"ports\":[\"alpha\"]}"
	expect_code 400; expect_eq "$(json_field .field)" commit
	api POST /api/v1/builds "{\"image\":\"tg\",\"tree\":\"hp\",\"ports\":[\"alpha\",\"alpha-1.0\"]}"
	expect_code 400; json_field .error | grep -q "given twice"
	expect_eq "$(sql "SELECT count(*) FROM builds WHERE source = '\''api'\''")" 0
	run_vmctl build tg --tree hp --commit "$C1" alpha --json
	expect_rc 0
	expect_eq "$(json_field .status)" succeeded
	expect_eq "$(json_field .commit)" "$C1"
	expect_eq "$(json_field "[.packages[].name] | join(\",\")")" \
		alpha-1.0-1-x86_64.hpkg,alpha_devel-1.0-1-x86_64.hpkg
	assert_no_leaks
'

# C3 changes a patch of alpha; C4 makes beta fail.
echo "another fix" >> "$UP/dev-libs/alpha/patches/alpha-1.0.patchset"
C3=$(commit "C3: alpha patch")

test_expect 'mayflyd polls the tree and builds the port a new commit changed' '
	i=0
	until [ "$(sql "SELECT count(*) FROM builds WHERE source = '\''update'\''")" = 1 ]; do
		i=$((i + 1)); [ $i -le 300 ] || { cat "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.1
	done
	id=$(sql "SELECT id FROM builds WHERE source = '\''update'\''")
	expect_eq "$(wait_final "$id" 300)" succeeded
	expect_eq "$(sql "SELECT recipes || '\'' '\'' || commit_id FROM builds WHERE id = $id")" \
		"alpha-1.0 $C3"
	grep -q "changed: dev-libs/alpha/patches/alpha-1.0.patchset" "$TEST_TMP/daemon.log"
	run_vmctl tree show hp --json
	expect_eq "$(json_field .processed)" "$C3"
	assert_no_leaks
'

sed -i 's/^INSTALL()$/BUILD()\n{\n\techo mayfly-fail\n}\n\nINSTALL()/' "$UP/app-misc/beta/beta-2.1.recipe"
C4=$(commit "C4: beta fails")

test_expect 'a port whose update build failed is retried by the next update' '
	i=0
	until [ "$(sql "SELECT count(*) FROM builds WHERE source = '\''update'\''")" = 2 ]; do
		i=$((i + 1)); [ $i -le 300 ] || { cat "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.1
	done
	id=$(sql "SELECT max(id) FROM builds WHERE source = '\''update'\''")
	expect_eq "$(wait_final "$id" 300)" failed
	i=0
	until [ "$(sql "SELECT port FROM tree_retries WHERE tree = '\''hp'\''")" = beta ]; do
		i=$((i + 1)); [ $i -le 50 ] || exit 1; sleep 0.1
	done
	run_vmctl tree show hp --json
	expect_eq "$(json_field .processed)" "$C4"
	run_vmctl update hp tg --dry-run --json
	expect_rc 0
	expect_eq "$(json_field "[.ports[].port] | join(\",\")")" beta-2.1
	json_field ".ports[0].retry" | grep -q "^build $id failed at $(echo "$C4" | cut -c1-12)"
	assert_no_leaks
'

test_expect 'vmctl update builds the retry in this process; it fails again and stays a retry' '
	stop_daemon
	run_vmctl update hp tg --json
	expect_rc 1
	expect_eq "$(json_field "[.ports[].port] | join(\",\")")" beta-2.1
	expect_eq "$(json_field ".ports[0].status")" failed
	id=$(json_field ".ports[0].build")
	expect_eq "$(sql "SELECT build_id FROM tree_retries WHERE tree = '\''hp'\''")" "$id"
	expect_eq "$(sql "SELECT commit_id FROM builds WHERE id = $id")" "$C4"
	run_vmctl tree show hp --json
	expect_eq "$(json_field .processed)" "$C4"
	assert_no_leaks
'

test_done
