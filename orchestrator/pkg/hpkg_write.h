/*
 * hpkg_write.h - writing Haiku package attributes in the HPKG container.
 *
 * hpkg_write_package() writes an .hpkg holding a package's attributes and
 * an empty table of contents (no files): what Mayfly's test guest makes
 * for its stand-in builds, read back by hpkg.h as Haiku's files are. The
 * heap is compressed with zlib in 64 KiB chunks, a chunk stored as it is
 * when compressing does not make it smaller, as Haiku's writer does.
 */
#ifndef MAYFLY_HPKG_WRITE_H
#define MAYFLY_HPKG_WRITE_H

#include <stddef.h>

#include "pkg/hpkg.h"

/* Encodes p (name, version, arch, summary, vendor, packager, provides,
 * requires) as a complete .hpkg file in memory. */
int hpkg_write_package(const struct hpkg_info *p, unsigned char **out, size_t *len);

#endif
