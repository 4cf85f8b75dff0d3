# common.sh - shared by setup.sh and test.sh (sourced, not run).
# Installs what Mayfly needs on Debian 12, builds it, makes the test guest
# and starts libvirt's daemons (these machines have no systemd).

top=$(cd "$(dirname "$0")/.." && pwd)
build=${MAYFLY_BUILD_DIR:-$top/build}
guest=$build/testguest

say() { printf '\n== %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run this as root (it installs packages and starts libvirtd)"

# Debian packages, by purpose.
PKGS_BUILD="gcc make cmake pkg-config libvirt-dev libssh-dev libjansson-dev libguestfs-dev libxml2-dev
 libsqlite3-dev libssl-dev libcmocka-dev libmicrohttpd-dev libcurl4-openssl-dev
 clang libclang-rt-14-dev libgit2-dev libarchive-dev zlib1g-dev libzstd-dev"
PKGS_RUN="libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
 qemu-utils tini sqlite3 jq curl iproute2 procps python3 git bubblewrap
 nodejs npm python3-botocore minisign openssl"
PKGS_GUEST="linux-image-amd64 busybox-static openssh-server openssh-sftp-server syslinux
 syslinux-common mtools dosfstools fdisk e2fsprogs cpio"

install_deps() {
	missing=
	for p in $PKGS_BUILD $PKGS_RUN $PKGS_GUEST; do
		# A Node.js from elsewhere (nodesource) carries its own npm and
		# conflicts with Debian's: what works is enough.
		case $p in nodejs | npm) command -v "${p%js}" >/dev/null 2>&1 && continue ;; esac
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		say "packages: all installed"
		return 0
	fi
	say "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null ||
		die "apt-get install failed"
}

build_mayfly() {
	say "building Mayfly in $build"
	cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
		die "cmake configure failed"
	cmake --build "$build" -j"$(nproc)" >/dev/null || {
		cmake --build "$build" 2>&1 | tail -30
		die "build failed"
	}
}

# build_variant NAME CMAKE_ARGS...: another build directory ($build-NAME),
# e.g. with sanitizers; CC from the environment picks the compiler, and
# TARGETS (space-separated) limits what is built.
build_variant() {
	name=$1
	shift
	say "building Mayfly ($name) in $build-$name"
	cmake -S "$top" -B "$build-$name" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null ||
		die "cmake configure ($name) failed"
	targets=
	for t in ${TARGETS:-}; do targets="$targets --target $t"; done
	# shellcheck disable=SC2086
	cmake --build "$build-$name" -j"$(nproc)" $targets >/dev/null || {
		cmake --build "$build-$name" $targets 2>&1 | tail -30
		die "build ($name) failed"
	}
}

# s3rver, the S3 server test_s3 runs against (found there by the tests);
# the exact version they were written against.
S3RVER_VERSION=3.7.1
install_s3rver() {
	if [ -x "$build/s3rver/node_modules/.bin/s3rver" ]; then
		say "s3rver: already installed"
		return 0
	fi
	say "installing s3rver $S3RVER_VERSION in $build/s3rver"
	npm install --prefix "$build/s3rver" --no-audit --no-fund "s3rver@$S3RVER_VERSION" >/dev/null ||
		die "npm install s3rver failed"
}

make_guest() {
	say "making the test guest in $guest"
	sh "$top/provisioning/testguest/make-testguest.sh" "$guest" || die "test guest failed"
}

# libvirtd runs under tini as a child subreaper: QEMU processes that libvirt
# daemonizes are then reaped at once. (PID 1 of these machines reaps
# orphans late, and libvirt waits for QEMU's pid to vanish on destroy.)
start_libvirt() {
	if virsh -c qemu:///system version >/dev/null 2>&1; then
		say "libvirtd: already running"
		return 0
	fi
	say "starting virtlogd and libvirtd"
	pgrep -x virtlogd >/dev/null || virtlogd -d || die "cannot start virtlogd"
	setsid tini -s -- libvirtd </dev/null >/var/log/mayfly-libvirtd.log 2>&1 &
	i=0
	until virsh -c qemu:///system version >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || die "libvirtd did not start (see /var/log/mayfly-libvirtd.log)"
		sleep 0.1
	done
}
