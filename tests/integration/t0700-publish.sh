#!/bin/sh
# Publishing as an operator does it: a build run's packages published to a
# repository directory and to S3 (s3rver on 127.0.0.1), the files a Haiku
# client reads checked; a later build given a package from the S3
# repository through the package cache; an update run that mayflyd
# publishes on its own, killed with -9 in the middle of the publish and
# restarted: the publish completes exactly once, the older package
# obsolete, nothing lost.
. "$(dirname "$0")/lib.sh"

UP=$TEST_TMP/up
REPO=$TEST_TMP/repo
S3RVER=${MAYFLY_S3RVER:-$(dirname "$VMCTL")/s3rver/node_modules/.bin/s3rver}
PREFIX=haikuports/master/x86_64/current/
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t.invalid GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@t.invalid

recipe() { # DIR NAME REVISION BODY
	mkdir -p "$UP/$1"
	cat > "$UP/$1/$2-1.0.recipe" <<EOF
SUMMARY="$2"
DESCRIPTION="A port of the publishing test."
HOMEPAGE="https://$2.invalid/"
COPYRIGHT="2026 Mayfly"
LICENSE="MIT"
REVISION="$3"
ARCHITECTURES="all"
$4

BUILD()
{
	true
}
EOF
}
libalpha='PROVIDES="
	libalpha = $portVersion
	"
PROVIDES_devel="
	libalpha_devel = $portVersion
	devel:libalpha = $portVersion
	"
REQUIRES_devel="
	libalpha == $portVersion base
	"'
beta='PROVIDES="
	beta = $portVersion
	cmd:beta = $portVersion
	"
BUILD_REQUIRES="
	devel:libalpha >= 1.0
	"'
recipe dev-libs/libalpha libalpha 1 "$libalpha"
recipe app-misc/beta beta 1 "$beta"
git -C "$UP" init -q -b master
git -C "$UP" add -A
git -C "$UP" commit -q -m "two ports"

if [ ! -x "$S3RVER" ]; then
	say "not ok - s3rver is not at $S3RVER (scripts/common.sh install_s3rver)"
	exit 1
fi
mkdir -p "$TEST_TMP/s3"
NODE_OPTIONS=--openssl-legacy-provider start_helper "$S3RVER" -d "$TEST_TMP/s3" \
	-a 127.0.0.1 -p 0 -s --configure-bucket hpkg
i=0
until grep -q "listening on 127.0.0.1:" "$HELPER_LOG"; do
	i=$((i + 1))
	[ $i -le 300 ] || { say "not ok - s3rver did not start: $(cat "$HELPER_LOG")"; exit 1; }
	sleep 0.1
done
S3=http://127.0.0.1:$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$HELPER_LOG")
printf 'access_key_id = S3RVER\nsecret_access_key = S3RVER\n' > "$TEST_TMP/s3.credentials"
chmod 600 "$TEST_TMP/s3.credentials"

repo_info='name = HaikuPorts
vendor = "Haiku Project"
summary = "The HaikuPorts repository"
priority = 1
architecture = x86_64'
write_config "max_vms = 1" "[daemon]" "poll_interval = 1" \
	"[repository local]" "type = local" "path = $REPO" "$repo_info" \
	"identifier = tag:mayfly.invalid,2026:test/local" \
	"[repository s3]" "type = s3" "endpoint = $S3" "region = eu-1" "bucket = hpkg" \
	"prefix = $PREFIX" "credentials_file = $TEST_TMP/s3.credentials" "$repo_info" \
	"identifier = tag:mayfly.invalid,2026:test/s3" "baseurl = $S3/hpkg/$PREFIX" \
	"publish_trees = up"

# The keys under the prefix in s3rver (anonymous GETs are allowed there), sorted.
s3_keys() {
	curl -sf "$S3/hpkg?list-type=2&prefix=$PREFIX" | grep -o '<Key>[^<]*</Key>' |
		sed "s|<Key>$PREFIX||; s|</Key>||" | sort | tr '\n' ' ' | sed 's/ $//'
}
s3_get() { curl -sf "$S3/hpkg/$PREFIX$1"; }
# The packages a repo file names, sorted, on one line.
repo_names() { # FILE
	"$VMCTL" pkg info --json "$1" | jq -r ".[] | .file_name" |
		sort | tr '\n' ' ' | sed 's/ $//'
}

test_expect 'a build run published to a directory: the files a Haiku client reads' '
	add_testguest tg >/dev/null 2>&1
	run_vmctl tree add up "$UP"; expect_rc 0
	run_vmctl build tg --tree up libalpha
	expect_rc 0
	run_vmctl publish 1 local
	expect_rc 0
	expect_stdout "publish 1: 2 packages added, 0 made obsolete, 2 live in .local."
	expect_eq "$(ls "$REPO/packages")" "$(printf "libalpha-1.0-1-x86_64.hpkg\nlibalpha_devel-1.0-1-x86_64.hpkg")"
	expect_eq "$(cat "$REPO/repo.sha256")" "$(sha256sum "$REPO/repo" | cut -d" " -f1)"
	expect_eq "$(wc -c < "$REPO/repo.sha256")" 64
	expect_eq "$(cat "$REPO/package.list")" \
		"$(printf "libalpha-1.0-1-x86_64.hpkg\nlibalpha_devel-1.0-1-x86_64.hpkg")"
	expect_eq "$(repo_names "$REPO/repo")" "libalpha-1.0-1-x86_64.hpkg libalpha_devel-1.0-1-x86_64.hpkg"
	grep -qx "name HaikuPorts" "$REPO/repo.info"
	grep -qx "vendor \"Haiku Project\"" "$REPO/repo.info"
	# The checksums in repo are the packages.
	"$VMCTL" pkg info --json "$REPO/repo" | jq -r ".[] | .checksum" | sort > "$TEST_TMP/sums"
	(cd "$REPO/packages" && sha256sum *.hpkg | cut -d" " -f1 | sort) | diff - "$TEST_TMP/sums"
	# Again: nothing new, nothing recorded.
	run_vmctl publish --buildrun last local
	expect_rc 0; expect_stdout "nothing new to publish"
	expect_eq "$(sql "SELECT count(*) FROM publishes")" 1
	run_vmctl repo show local
	expect_rc 0
	expect_stdout "packages:     2 live"
	expect_stdout "libalpha_devel-1.0-1-x86_64.hpkg"
'

test_expect 'bad input: a clear error, nothing published' '
	run_vmctl publish 1 nope
	expect_rc 2; expect_stderr "no repository .nope."; expect_stderr "configured: local, s3"
	run_vmctl publish 99 local
	expect_rc 2; expect_stderr "no build run 99"
	run_vmctl publish "1;reboot" local
	expect_rc 2
	run_vmctl publish --package "$TEST_TMP/s3.credentials" local
	expect_rc 2; expect_stderr "s3.credentials"
	run_vmctl publish 1
	expect_rc 2
	expect_eq "$(sql "SELECT count(*) FROM publishes")" 1
'

test_expect 'the same run published to S3: objects in order, no local package store' '
	run_vmctl publish 1 s3
	expect_rc 0
	expect_stdout "publish 2: 2 packages added, 0 made obsolete, 2 live in .s3."
	expect_eq "$(s3_keys)" "package.list packages/libalpha-1.0-1-x86_64.hpkg packages/libalpha_devel-1.0-1-x86_64.hpkg repo repo.info repo.sha256"
	s3_get repo > "$TEST_TMP/s3repo"
	expect_eq "$(s3_get repo.sha256)" "$(sha256sum "$TEST_TMP/s3repo" | cut -d" " -f1)"
	s3_get repo.info | grep -qx "baseurl $S3/hpkg/$PREFIX"
	# The builds copies are gone; the repository and the index have them.
	b=$(sql "SELECT id FROM builds ORDER BY id LIMIT 1")
	expect_eq "$(ls "$MAYFLY_STATE_DIR/builds/$b/packages" | wc -l)" 0
	expect_eq "$(sql "SELECT location FROM pkg_index WHERE origin = '\''repo:s3'\'' AND name = '\''libalpha_devel'\''")" \
		"repository:s3/libalpha_devel-1.0-1-x86_64.hpkg"
	run_vmctl repo show s3
	expect_rc 0; expect_stdout "bucket hpkg"
	! grep -q S3RVER "$TEST_TMP/stdout"
'

test_expect 'a build is given a package from the S3 repository through the cache' '
	# The directory repository leaves the index: S3 is the only provider.
	run_vmctl repo rm local
	expect_rc 0
	run_vmctl build tg --tree up beta --json
	expect_rc 0
	b=$(sql "SELECT max(id) FROM builds")
	grep -q "package libalpha_devel-1.0-1-x86_64.hpkg: from repository s3 (cached)" \
		"$MAYFLY_STATE_DIR/builds/$b/build.log"
	# The cache holds what the build needed, named by content, verified.
	ls "$MAYFLY_STATE_DIR/packages" | sed "s/^[0-9a-f]\{64\}-//" | sort > "$TEST_TMP/cached.names"
	expect_eq "$(cat "$TEST_TMP/cached.names")" \
		"$(printf "libalpha-1.0-1-x86_64.hpkg\nlibalpha_devel-1.0-1-x86_64.hpkg")"
	(cd "$MAYFLY_STATE_DIR/packages" && sha256sum *.hpkg | cut -d" " -f1 | sort) > "$TEST_TMP/cached"
	s3_get repo > "$TEST_TMP/s3repo"
	"$VMCTL" pkg info --json "$TEST_TMP/s3repo" | jq -r ".[] | .checksum" | sort | diff - "$TEST_TMP/cached"
	run_vmctl publish --buildrun last s3
	expect_rc 0; expect_stdout "publish 3: 1 packages added"
	assert_no_leaks
'

recipe app-misc/beta beta 2 "$beta"
git -C "$UP" commit -q -a -m "beta revision 2"
C2=$(git -C "$UP" rev-parse HEAD)

test_expect 'mayflyd publishes an update run on its own; kill -9 in the publish, restart: exactly once' '
	run_vmctl tree set up --update-image tg
	expect_rc 0
	# The first poll takes the head before C2 as processed: C2 is built.
	git -C "$UP" reset -q --hard HEAD~1
	export MAYFLY_TEST_KILL_AT=publish:sha256
	start_daemon
	unset MAYFLY_TEST_KILL_AT
	i=0
	until grep -q "tree up: updates start at" "$TEST_TMP/daemon.log"; do
		i=$((i + 1)); [ $i -le 300 ] || { cat "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.1
	done
	git -C "$UP" reset -q --hard "$C2"
	# The update run builds beta-1.0-2; its publish is killed after repo.sha256.
	i=0
	while kill -0 "$(daemon_pid)" 2>/dev/null; do
		i=$((i + 1)); [ $i -le 1200 ] || { cat "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.25
	done
	rm -f "$TEST_TMP/daemon.pid"
	grep -q "killed at publish:sha256" "$TEST_TMP/daemon.log" || { cat "$TEST_TMP/daemon.log"; exit 1; }
	run=$(sql "SELECT id FROM buildruns WHERE kind = '\''update'\''")
	expect_eq "$(sql "SELECT state FROM publishes WHERE buildrun = $run")" index
	# Meanwhile S3 serves a whole repository: repo.sha256 matches repo.
	s3_get repo > "$TEST_TMP/s3repo"
	expect_eq "$(s3_get repo.sha256)" "$(sha256sum "$TEST_TMP/s3repo" | cut -d" " -f1)"
	cp "$TEST_TMP/daemon.log" "$TEST_TMP/daemon.1.log"
	start_daemon
	i=0
	until [ "$(sql "SELECT state FROM publishes WHERE buildrun = $run")" = done ]; do
		i=$((i + 1)); [ $i -le 300 ] || { cat "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.2
	done
	grep -q "publish 4: resuming" "$TEST_TMP/daemon.log" || { cat "$TEST_TMP/daemon.log"; exit 1; }
	expect_eq "$(sql "SELECT count(*) FROM publishes WHERE buildrun = $run")" 1
	expect_eq "$(sql "SELECT published FROM buildruns WHERE id = $run")" 1
	expect_eq "$(s3_keys)" "package.list packages/.obsolete/beta-1.0-1-x86_64.hpkg packages/beta-1.0-2-x86_64.hpkg packages/libalpha-1.0-1-x86_64.hpkg packages/libalpha_devel-1.0-1-x86_64.hpkg repo repo.info repo.sha256"
	s3_get repo > "$TEST_TMP/s3repo"
	expect_eq "$(s3_get repo.sha256)" "$(sha256sum "$TEST_TMP/s3repo" | cut -d" " -f1)"
	expect_eq "$(repo_names "$TEST_TMP/s3repo")" \
		"beta-1.0-2-x86_64.hpkg libalpha-1.0-1-x86_64.hpkg libalpha_devel-1.0-1-x86_64.hpkg"
	expect_eq "$(s3_get package.list | tr "\n" " ")" \
		"beta-1.0-2-x86_64.hpkg libalpha-1.0-1-x86_64.hpkg libalpha_devel-1.0-1-x86_64.hpkg"
	stop_daemon
	# Published once: by hand it is nothing new.
	run_vmctl publish "$run" s3
	expect_rc 0; expect_stdout "nothing new to publish"
	assert_no_leaks
'

test_done
