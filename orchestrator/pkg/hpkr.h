/*
 * hpkr.h - Haiku package repository files (.hpkr, the published "repo"),
 * written without Haiku's package_repo, and their repository info.
 *
 * A repository file is the HPKG container (hpkg.h) with a 72-byte header
 * (magic "hpkr", version 2, minor version 1): info_length u32, reserved
 * u32, then packages_length, packages_strings_length and
 * packages_strings_count, u64 each, all big-endian. Its heap, zlib in
 * 64 KiB chunks, holds two sections:
 *
 *  - the repository info: a BRepositoryInfo archived into a BMessage and
 *    flattened (repoinfo_encode);
 *  - the packages: a string table (every non-empty string used at least
 *    twice in the section, most used first, NUL-terminated, ended by an
 *    empty string), then one attribute "package" (id 54, the package's
 *    name) per package whose children are the package's attributes with
 *    its checksum, the SHA-256 hex of the .hpkg file (id 35, written after
 *    the scripts and before install-path, as Haiku's RegisterPackageInfo
 *    orders it), then a 0.
 *
 * The repository info text (repo.info, driver-settings syntax):
 *
 *	name HaikuPorts
 *	vendor "Haiku Project"
 *	summary "The HaikuPorts repository"
 *	priority 1
 *	baseurl https://eu.hpkg.haiku-os.org/haikuports/master/x86_64/current
 *	identifier tag:haikuports.org,2013:repositories/haikuports/master/x86_64
 *	architecture x86_64
 *
 * name, identifier (older name: url), vendor, summary, priority (0..255)
 * and architecture (not "any") are required, baseurl is optional.
 *
 * Sources: haiku src/kits/package/RepositoryInfo.cpp, src/kits/app/
 * Message.cpp and headers/private/app/MessagePrivate.h (the flattened
 * BMessage), src/kits/package/hpkg/{RepositoryWriterImpl,WriterImplBase}.cpp.
 */
#ifndef MAYFLY_HPKR_H
#define MAYFLY_HPKR_H

#include <stddef.h>

#include "pkg/hpkg.h"

struct repo_info {
	char *name, *vendor, *summary, *identifier;
	char *base_url; /* NULL: none */
	char *arch;	/* "x86_64", ...; never "any" */
	unsigned priority; /* 0..255 */
	/* Licenses a user must approve: names and texts, n_licenses each
	 * (only in the archive; repo.info has no key for them). */
	char **licenses, **license_texts;
	size_t n_licenses;
	/* The archive's shape, set by repoinfo_decode, used by repoinfo_encode:
	 * class_name is the "class" field, NULL meaning "" (what package_repo
	 * built for the host writes: its libbe cannot demangle the class name;
	 * on Haiku it is "BPackageKit::BRepositoryInfo"). legacy_url: the
	 * identifier only under its old name "url", no "identifier" field, as
	 * Haiku wrote before June 2020; otherwise both, as Haiku writes now. */
	char *class_name;
	int legacy_url;
};

/* Parses repo.info text; where names it in messages (with the line). */
int repoinfo_parse(const char *text, const char *where, struct repo_info *out);
/* The same text back, values quoted where driver settings need it. */
char *repoinfo_format(const struct repo_info *ri);
/* The flattened BMessage of BRepositoryInfo::Archive: 'what' 0, fields
 * class, [baseUrl], name, identifier, url, vendor, summary, priority
 * (uint8), architecture (uint8), [licenseName...], [licenseText...],
 * little-endian (Haiku's "HMF1" format on x86). */
int repoinfo_encode(const struct repo_info *ri, unsigned char **out, size_t *len);
/* The reverse, for any input; name is for messages. */
int repoinfo_decode(const void *buf, size_t len, const char *name, struct repo_info *out);
void repoinfo_release(struct repo_info *ri);

/* A package as a repository holds it. */
struct hpkr_package {
	struct hpkg_attr *attrs; /* its attributes (id 15 name required) */
	size_t n_attrs;
	char *checksum;		 /* SHA-256 hex of the .hpkg; NULL: as in attrs */
};

/* A repository file read back. */
struct hpkr_repo {
	struct repo_info info;
	struct hpkr_package *pkgs; /* attrs keep their checksum attribute */
	size_t n_pkgs;
	char **strings; /* the packages section's string table */
	size_t n_strings;
};

int hpkr_read_file(const char *path, struct hpkr_repo *out);
int hpkr_read_buffer(const void *data, size_t len, const char *name, struct hpkr_repo *out);
void hpkr_repo_release(struct hpkr_repo *r);

/* The repository entry of one .hpkg: its attributes and the SHA-256 of
 * the whole file. */
int hpkr_package_from_hpkg(const char *path, struct hpkr_package *out);
void hpkr_package_release(struct hpkr_package *p);

/* Writes a repository file in memory. A package's checksum replaces the
 * checksum attribute of its tree or is inserted where Haiku puts it.
 * Names must be unique. Linear in the size of the trees. */
int hpkr_write(const struct repo_info *ri, const struct hpkr_package *pkgs, size_t n,
	       unsigned char **out, size_t *len);

/* Haiku orders strings used equally often as its hash table and std::sort
 * leave them, which depends on its implementation; by default Mayfly
 * orders them by first use. string_order, when set, ranks them instead
 * (strings absent from it come after, by first use): given the string
 * table of a file Haiku wrote, the section comes out as Haiku's. */
struct hpkr_write_opts {
	const char *const *string_order;
	size_t n_string_order;
};
int hpkr_write_with(const struct repo_info *ri, const struct hpkr_package *pkgs, size_t n,
		    const struct hpkr_write_opts *opts, unsigned char **out, size_t *len);

/* Whether two attribute lists are equal, every attribute and kid. */
int hpkg_attrs_equal(const struct hpkg_attr *a, size_t na, const struct hpkg_attr *b,
		     size_t nb);

#endif
