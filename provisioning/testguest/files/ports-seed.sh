#!/bin/sh
# ports-seed.sh - the small ports tree, in HaikuPorts layout, that the test
# guest's golden image holds as a git checkout, and that tests start their
# own repositories from.
#
# Usage: ports-seed.sh DIR
#
# Makes DIR a git repository with one commit whose id is the same every
# time (fixed names, dates and modes; no user or system git config), so a
# test's repository made with this script shares its first commit with the
# golden image's checkout.
set -eu

[ $# -eq 1 ] || { echo "usage: ports-seed.sh DIR" >&2; exit 2; }
dir=$1
umask 022
mkdir -p "$dir"
cd "$dir"

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME="Mayfly Seed" GIT_AUTHOR_EMAIL="seed@mayfly.invalid"
export GIT_COMMITTER_NAME="Mayfly Seed" GIT_COMMITTER_EMAIL="seed@mayfly.invalid"
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

mkdir -p licenses dev-libs/alpha/patches app-misc/beta/additional-files sys-apps/gamma

printf 'Permission is hereby granted, free of charge, ...\n' > licenses/MIT
printf '# A ports tree for Mayfly tests, in HaikuPorts layout.\n' > README.md

cat > dev-libs/alpha/alpha-1.0.recipe <<'R'
SUMMARY="Alpha, a library"
DESCRIPTION="A port without sources, with a patch."
HOMEPAGE="https://alpha.invalid/"
COPYRIGHT="2026 Alpha"
LICENSE="MIT"
REVISION="1"
ARCHITECTURES="all"
PATCHES="alpha-1.0.patchset"

PROVIDES="
	alpha = $portVersion
	lib:libalpha = $portVersion
	"
REQUIRES="
	haiku
	"
PROVIDES_devel="
	alpha_devel = $portVersion
	"
REQUIRES_devel="
	alpha == $portVersion base
	"
BUILD_REQUIRES="
	haiku_devel
	"

BUILD()
{
	true
}
R
printf 'From: seed\nSubject: alpha fix\n' > dev-libs/alpha/patches/alpha-1.0.patchset

for v in 2.0 2.1; do
	cat > "app-misc/beta/beta-$v.recipe" <<'R'
SUMMARY="Beta, a tool"
DESCRIPTION="A port with two versions and additional files."
HOMEPAGE="https://beta.invalid/"
COPYRIGHT="2026 Beta"
LICENSE="MIT"
REVISION="2"
ARCHITECTURES="any"
ADDITIONAL_FILES="beta.sh"

PROVIDES="
	beta = $portVersion
	cmd:beta
	"
REQUIRES="
	haiku
	"

INSTALL()
{
	true
}
R
done
printf '#!/bin/sh\necho beta\n' > app-misc/beta/additional-files/beta.sh
chmod 755 app-misc/beta/additional-files/beta.sh
ln -s beta.sh app-misc/beta/additional-files/beta-link

cat > sys-apps/gamma/gamma-1.0.recipe <<'R'
SUMMARY="Gamma"
DESCRIPTION="A port that builds only where it is tested."
HOMEPAGE="https://gamma.invalid/"
COPYRIGHT="2026 Gamma"
LICENSE="MIT"
REVISION="1"
ARCHITECTURES="x86_64"
if [ "$targetArchitecture" = x86_64 ]; then
	REVISION="3"
fi

PROVIDES="
	gamma = $portVersion
	"
REQUIRES="
	haiku
	"
R

git init -q -b master .
git add -A
git -c core.fileMode=true commit -q -m "seed: alpha, beta, gamma"
git rev-parse HEAD
