#!/usr/bin/env python3
"""gen-ports.py - writes a ports tree in HaikuPorts layout for benchmarks.

Usage: gen-ports.py DIR [PORTS]    (default 4000 ports)

Each port gets two recipe versions (bash that HaikuPorter and Mayfly
evaluate: PROVIDES, REQUIRES, a conditional, a _devel package), a
patchset, and every other port an executable additional file; categories
as in HaikuPorts. Deterministic: the same arguments write the same files.
"""
import os
import random
import sys

CATEGORIES = ["app-arch", "app-editors", "app-misc", "app-shells", "app-text",
              "dev-db", "dev-lang", "dev-libs", "dev-util", "games-arcade",
              "haiku-apps", "media-gfx", "media-libs", "media-sound", "net-libs",
              "net-misc", "sci-libs", "sys-apps", "sys-libs", "x11-libs"]

RECIPE = """SUMMARY="{name}, port number {i} of the benchmark tree"
DESCRIPTION="{desc}"
HOMEPAGE="https://{name}.invalid/"
COPYRIGHT="2001-2026 The {name} authors"
LICENSE="MIT"
REVISION="{rev}"
SOURCE_URI="https://{name}.invalid/releases/{name}-$portVersion.tar.xz"
CHECKSUM_SHA256="{sha}"
PATCHES="{name}-$portVersion.patchset"
{addl}
ARCHITECTURES="all !x86_gcc2"
SECONDARY_ARCHITECTURES="x86"
if [ "$targetArchitecture" = x86_gcc2 ]; then
	REVISION="$((REVISION + 1))"
fi

PROVIDES="
	{name}$secondaryArchSuffix = $portVersion
	lib:lib{name}$secondaryArchSuffix = $portVersion compat >= ${{portVersion%%.*}}
	"
REQUIRES="
	haiku$secondaryArchSuffix
	lib:libz$secondaryArchSuffix
	"
PROVIDES_devel="
	{name}${{secondaryArchSuffix}}_devel = $portVersion
	devel:lib{name}$secondaryArchSuffix = $portVersion compat >= ${{portVersion%%.*}}
	"
REQUIRES_devel="
	{name}$secondaryArchSuffix == $portVersion base
	"
BUILD_REQUIRES="
	haiku${{secondaryArchSuffix}}_devel
	devel:libz$secondaryArchSuffix
	"
BUILD_PREREQUIRES="
	cmd:gcc$secondaryArchSuffix
	cmd:make
	cmd:pkg_config$secondaryArchSuffix
	"

BUILD()
{{
	runConfigure --omit-dirs binDir ./configure
	make $jobArgs
}}

INSTALL()
{{
	make install
	prepareInstalledDevelLib lib{name}
	packageEntries devel $developDir
}}

TEST()
{{
	make check
}}
"""


def main():
    out = sys.argv[1]
    ports = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    rnd = random.Random(4000)
    files = 0
    os.makedirs(os.path.join(out, "licenses"), exist_ok=True)
    with open(os.path.join(out, "licenses", "MIT"), "w") as f:
        f.write("Permission is hereby granted, free of charge, ...\n" * 20)
    files += 1
    for i in range(ports):
        cat = CATEGORIES[i % len(CATEGORIES)]
        name = "port%04d" % i
        d = os.path.join(out, cat, name)
        os.makedirs(os.path.join(d, "patches"), exist_ok=True)
        desc = " ".join(rnd.choice(["fast", "small", "library", "tool", "for", "the",
                                    "Haiku", "data", "with", "support", "of", "files"])
                        for _ in range(60))
        addl = ""
        if i % 2 == 0:
            os.makedirs(os.path.join(d, "additional-files"), exist_ok=True)
            p = os.path.join(d, "additional-files", name + ".sh")
            with open(p, "w") as f:
                f.write("#!/bin/sh\n# helper of %s\nexec %s \"$@\"\n" % (name, name))
            os.chmod(p, 0o755)
            files += 1
            addl = 'ADDITIONAL_FILES="%s.sh"' % name
        for v in ("1.%d" % (i % 7), "2.%d" % (i % 5)):
            sha = "%064x" % rnd.getrandbits(256)
            with open(os.path.join(d, "%s-%s.recipe" % (name, v)), "w") as f:
                f.write(RECIPE.format(name=name, i=i, desc=desc, rev=1 + i % 3, sha=sha,
                                      addl=addl))
            with open(os.path.join(d, "patches", "%s-%s.patchset" % (name, v)), "w") as f:
                for k in range(3):
                    f.write("From %040x Mon Sep 17 00:00:00 2001\n" % rnd.getrandbits(160))
                    f.write("Subject: [PATCH] Haiku fix %d\n\n" % k)
                    f.write("--- a/src/main.c\n+++ b/src/main.c\n@@ -1,3 +1,4 @@\n")
                    f.write(" #include <stdio.h>\n+#include <OS.h>\n int main(void)\n")
            files += 2
    print(files)


main()
