#!/bin/sh
# Build runs in dependency order, as buildmaster runs them: libalpha
# provides devel:libalpha, beta build-requires it, gamma build-requires
# cmd:beta, delta fails, epsilon build-requires what delta provides, zeta
# stands alone, eta and theta need each other. One run: libalpha before
# beta before gamma, zeta beside them, delta failed, epsilon lost with the
# reason, the cycle reported; each build given exactly the packages it
# needs (the stand-in lists what its packages directory holds and fails
# unless every BUILD_REQUIRES is met there), real .hpkg files harvested.
# The same run again through mayflyd's API and queue.
. "$(dirname "$0")/lib.sh"

UP=$TEST_TMP/dep
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t.invalid GIT_COMMITTER_NAME=t
export GIT_COMMITTER_EMAIL=t@t.invalid

recipe() { # DIR NAME BODY
	mkdir -p "$UP/$1"
	cat > "$UP/$1/$2-1.0.recipe" <<EOF
SUMMARY="$2"
DESCRIPTION="A port of the build run test."
HOMEPAGE="https://$2.invalid/"
COPYRIGHT="2026 Mayfly"
LICENSE="MIT"
REVISION="1"
ARCHITECTURES="all"
$3

BUILD()
{
	true
}
EOF
}

recipe dev-libs/libalpha libalpha 'PROVIDES="
	libalpha = $portVersion
	lib:libalpha = $portVersion
	"
REQUIRES="
	haiku
	"
PROVIDES_devel="
	libalpha_devel = $portVersion
	devel:libalpha = $portVersion
	"
REQUIRES_devel="
	libalpha == $portVersion base
	"
BUILD_REQUIRES="
	haiku_devel
	"'
recipe app-misc/beta beta 'PROVIDES="
	beta = $portVersion
	cmd:beta = $portVersion
	"
REQUIRES="
	haiku
	lib:libalpha >= 1.0
	"
BUILD_REQUIRES="
	haiku_devel
	devel:libalpha >= 1.0
	"'
recipe app-misc/gamma gamma 'PROVIDES="
	gamma = $portVersion
	"
REQUIRES="
	haiku
	"
BUILD_REQUIRES="
	cmd:beta
	"'
recipe dev-libs/delta delta 'PROVIDES="
	delta = $portVersion
	devel:libdelta = $portVersion
	"'
# delta's build fails (the stand-in fails a BUILD that prints this).
sed -i 's/^	true$/	echo mayfly-fail/' "$UP/dev-libs/delta/delta-1.0.recipe"
recipe app-misc/epsilon epsilon 'PROVIDES="
	epsilon = $portVersion
	"
BUILD_REQUIRES="
	devel:libdelta
	"'
recipe app-misc/zeta zeta 'PROVIDES="
	zeta = $portVersion
	"'
recipe app-misc/eta eta 'PROVIDES="
	eta = $portVersion
	cmd:eta
	"
BUILD_REQUIRES="
	cmd:theta
	"'
recipe app-misc/theta theta 'PROVIDES="
	theta = $portVersion
	cmd:theta
	"
BUILD_REQUIRES="
	cmd:eta
	"'
git -C "$UP" init -q -b master
git -C "$UP" add -A
git -C "$UP" commit -q -m "six ports and a cycle"
HEAD=$(git -C "$UP" rev-parse HEAD)

SYSTEM="binutils-2.41-1-x86_64.hpkg coreutils-9.4-1-x86_64.hpkg haiku-r1~beta5_hrev57937-1-x86_64.hpkg"

# What the stand-in found in its packages directory, as one sorted line.
given() { # BUILD_ID
	sed -n 's/^given: //p' "$MAYFLY_STATE_DIR/builds/$1/build.log" | tr ' ' '\n' |
		grep -v '^preinstalled' | grep . | sort | tr '\n' ' ' | sed 's/ $//'
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
port_field() { # PORT JQ
	jq -r ".ports[] | select(.port == \"$1\") | $2" "$TEST_TMP/run.json"
}
build_col() { # BUILD COLUMN
	sql "SELECT $2 FROM builds WHERE id = $1"
}

test_expect 'image add reads the system packages of the image' '
	add_testguest tg >/dev/null 2>&1
	expect_eq "$(sql "SELECT count(*) FROM pkg_index WHERE origin = '\''system:tg'\''")" 4
	expect_eq "$(sql "SELECT location FROM pkg_index WHERE name = '\''haiku_devel'\''")" \
		"/boot/system/packages/haiku_devel-r1~beta5_hrev57937-1-x86_64.hpkg"
	run_vmctl tree add dep "$UP"
	expect_rc 0
'

test_expect 'one build run: dependency order, two machines, failures and cycles reported' '
	run_vmctl build tg --tree dep gamma zeta epsilon eta --json
	expect_rc 1
	expect_stderr "build run 1: 8 ports of dep"
	expect_stderr "gamma-1.0 *blocked: waiting for beta-1.0"
	run_vmctl buildrun show 1 --json
	expect_rc 0
	cp "$TEST_TMP/stdout" "$TEST_TMP/run.json"
	expect_eq "$(jq -r .status "$TEST_TMP/run.json")" "complete (with 4 failures)"
	for p in libalpha beta gamma zeta; do
		expect_eq "$(port_field $p-1.0 .state)" complete "($p)"
	done
	expect_eq "$(port_field delta-1.0 .state)" failed
	expect_eq "$(port_field epsilon-1.0 .state)" lost
	port_field epsilon-1.0 .reason | grep -q "dependency delta-1.0 failed"
	expect_eq "$(port_field epsilon-1.0 .build)" null
	for p in eta theta; do
		expect_eq "$(port_field $p-1.0 .state)" lost
		port_field $p-1.0 .reason | grep -q "dependency cycle: .*eta-1.0.*theta-1.0"
	done
	# libalpha before beta before gamma; zeta beside libalpha (the first two scheduled).
	a=$(port_field libalpha-1.0 .build); b=$(port_field beta-1.0 .build)
	g=$(port_field gamma-1.0 .build); z=$(port_field zeta-1.0 .build)
	test "$(build_col "$b" created)" -ge "$(build_col "$a" finished)"
	test "$(build_col "$g" created)" -ge "$(build_col "$b" finished)"
	test "$(build_col "$z" created)" -lt "$(build_col "$a" finished)"
	test "$(build_col "$a" created)" -lt "$(build_col "$z" finished)"
	# Exactly what each needs: its requirements, theirs at run time, the scriptlet ones.
	expect_eq "$(given "$a")" "$(sorted $SYSTEM haiku_devel-r1~beta5_hrev57937-1-x86_64.hpkg)"
	expect_eq "$(given "$b")" "$(sorted $SYSTEM haiku_devel-r1~beta5_hrev57937-1-x86_64.hpkg \
		libalpha-1.0-1-x86_64.hpkg libalpha_devel-1.0-1-x86_64.hpkg)"
	expect_eq "$(given "$g")" "$(sorted $SYSTEM beta-1.0-1-x86_64.hpkg libalpha-1.0-1-x86_64.hpkg)"
	expect_eq "$(given "$z")" "$(sorted $SYSTEM)"
	expect_eq "$(port_field beta-1.0 "[.given[]] | join(\" \")")" \
		"$(sorted $SYSTEM haiku_devel-r1~beta5_hrev57937-1-x86_64.hpkg)"
	# The harvested packages are real: what beta provides and requires.
	pkg=$MAYFLY_STATE_DIR/builds/$b/packages/beta-1.0-1-x86_64.hpkg
	"$VMCTL" pkg info --json "$pkg" > "$TEST_TMP/beta.json"
	expect_eq "$(jq -r "[.[0].provides[].name] | join(\",\")" "$TEST_TMP/beta.json")" beta,cmd:beta
	expect_eq "$(jq -r "[.[0].requires[] | \"\\(.name)\\(.operator // \"\")\\(.version // \"\")\"] | join(\",\")" \
		"$TEST_TMP/beta.json")" "haiku,lib:libalpha>=1.0"
	# The run'\''s packages left the index with it.
	expect_eq "$(sql "SELECT count(*) FROM pkg_index WHERE origin LIKE '\''run:%'\''")" 0
	assert_no_leaks
'

test_expect 'status.json and the files buildmaster'\''s frontend reads' '
	out=$MAYFLY_STATE_DIR/output/dep
	expect_eq "$(cat "$out/buildruns/last_buildrun")" 1
	expect_eq "$(cat "$out/buildruns/buildruns.txt")" 1
	s=$out/buildruns/1/status.json
	# The schema of HaikuPorter'\''s ReporterJson.py, field by field and type by type.
	jq -e "
	  def sb: (.port | (.name, .version, .revision, .revisionedName, .recipeFilePath) | type == \"string\")
	      and (.resultingPackages | type == \"array\") and (.requiredPackages | type == \"array\")
	      and (.missingPackageIDs | type == \"array\") and (.buildable | type == \"boolean\")
	      and (.buildNumbers | all(type == \"number\")) and (.lost | type == \"boolean\");
	  def sk: (.port.revisionedName | type == \"string\") and (.reason | type == \"string\");
	  def bs: (.name | type == \"string\") and (.state | type == \"string\")
	      and (.connectionErrors | type == \"number\") and (.maxConnectionErrors | type == \"number\")
	      and (.availablePackages | type == \"array\");
	  (.builds | keys) == [\"active\",\"blocked\",\"complete\",\"failed\",\"lost\",\"scheduled\",\"skipped\"]
	  and ([.builds.active[], .builds.scheduled[], .builds.blocked[], .builds.complete[],
	        .builds.failed[], .builds.lost[]] | all(sb))
	  and (.builds.skipped | all(sk))
	  and ([.builders.active[], .builders.idle[], .builders.lost[]] | all(bs))
	  and (.nextBuildNumber | type == \"number\") and (.portsTreeOriginURL | type == \"string\")
	  and (.portsTreeHead | type == \"string\") and (.buildStatus | type == \"string\")
	  and (.startTime | type == \"number\") and (.endTime | type == \"number\")
	" "$s" >/dev/null
	expect_eq "$(jq -r .portsTreeHead "$s")" "$HEAD"
	expect_eq "$(jq -r "[.builds.complete[].port.revisionedName] | sort | join(\",\")" "$s")" \
		beta-1.0-1,gamma-1.0-1,libalpha-1.0-1,zeta-1.0-1
	expect_eq "$(jq -r ".builds.failed[0].port.recipeFilePath" "$s")" dev-libs/delta/delta-1.0.recipe
	expect_eq "$(jq -r "[.builds.lost[].port.name] | sort | join(\",\")" "$s")" epsilon,eta,theta
	expect_eq "$(jq -r ".builders.idle | length" "$s")" 2
	expect_eq "$(jq -r .buildStatus "$s")" "complete (with 4 failures)"
	# Each build: its log (a link to the build log) and its record.
	b=$(jq -r ".builds.complete[] | select(.port.name == \"beta\") | .buildNumbers[0]" "$s")
	grep -q "building beta-1.0" "$out/builds/$b.log"
	expect_eq "$(jq -r .buildSuccess "$out/records/$b.json")" true
	expect_eq "$(jq -r .port.revisionedName "$out/records/$b.json")" beta-1.0-1
	jq -r .builderId "$out/records/$b.json" | grep -qx "vm-[12]"
	run_vmctl buildrun list
	expect_stdout "complete (with 4 failures)"
'

write_config
test_expect 'mayflyd answers the same about build runs' '
	start_daemon
	api GET /api/v1/buildruns; expect_code 200
	expect_eq "$(json_field ".[0].id")" 1
	expect_eq "$(json_field ".[0].status")" "complete (with 4 failures)"
	api GET /api/v1/buildruns/1; expect_code 200
	expect_eq "$(json_field "[.ports[] | .port + \" \" + .state] | join(\",\")")" \
		"$(jq -r "[.ports[] | .port + \" \" + .state] | join(\",\")" "$TEST_TMP/run.json")"
	api GET /api/v1/buildruns/99; expect_code 404; expect_stdout "no build run 99"
	api POST /api/v1/buildruns/1 "{}"; expect_code 405
'

test_expect 'mayflyd runs a build run through its queue, ports queued as packages are made; kill -9 loses nothing' '
	api POST /api/v1/builds "{\"image\":\"tg\",\"tree\":\"dep\",\"ports\":[\"gamma\",\"zeta\",\"epsilon\",\"eta\"]}"
	expect_code 202
	expect_eq "$(json_field .buildrun)" 2
	expect_eq "$(json_field "[.builds[].port] | join(\",\")")" zeta-1.0,libalpha-1.0,delta-1.0
	# kill -9 while libalpha builds: the restart finishes the run all the same.
	a=$(json_field ".builds[1].id")
	i=0
	until [ "$(build_col "$a" status)" = running ]; do
		i=$((i + 1)); [ $i -le 600 ] || exit 1; sleep 0.2
	done
	stop_daemon KILL
	start_daemon
	i=0
	while :; do
		api GET /api/v1/buildruns/2
		[ "$(json_field .end)" = null ] || break
		i=$((i + 1)); [ $i -le 600 ] || { cat "$TEST_TMP/daemon.log"; exit 1; }; sleep 0.5
	done
	cp "$TEST_TMP/stdout" "$TEST_TMP/run2.json"
	expect_eq "$(jq -r "[.ports[] | .port + \" \" + .state] | sort | join(\",\")" "$TEST_TMP/run2.json")" \
		"$(jq -r "[.ports[] | .port + \" \" + .state] | sort | join(\",\")" "$TEST_TMP/run.json")"
	expect_eq "$(jq -r .status "$TEST_TMP/run2.json")" "complete (with 4 failures)"
	a=$(jq -r ".ports[] | select(.port == \"libalpha-1.0\") | .build" "$TEST_TMP/run2.json")
	b=$(jq -r ".ports[] | select(.port == \"beta-1.0\") | .build" "$TEST_TMP/run2.json")
	test "$(build_col "$b" created)" -ge "$(build_col "$a" finished)"
	expect_eq "$(build_col "$b" buildrun)" 2
	expect_eq "$(given "$b")" "$(sorted $SYSTEM haiku_devel-r1~beta5_hrev57937-1-x86_64.hpkg \
		libalpha-1.0-1-x86_64.hpkg libalpha_devel-1.0-1-x86_64.hpkg)"
	expect_eq "$(cat "$MAYFLY_STATE_DIR/output/dep/buildruns/last_buildrun")" 2
	expect_eq "$(jq -r .buildStatus "$MAYFLY_STATE_DIR/output/dep/buildruns/2/status.json")" \
		"complete (with 4 failures)"
	jq -r .builderId "$MAYFLY_STATE_DIR/output/dep/records/$b.json" | grep -qx "vm-[12]"
	expect_eq "$(sql "SELECT count(*) FROM pkg_index WHERE origin LIKE '\''run:%'\''")" 0
	stop_daemon
	assert_no_leaks
'

test_done
