/*
 * hpkg.h - Haiku package (.hpkg) and repository (.hpkr) files, read
 * without Haiku's tools.
 *
 * Both are one container: an 80- or 72-byte big-endian header, then a
 * heap cut into chunks (64 KiB in Haiku's files), each compressed alone
 * with zlib or zstd, with the table of compressed chunk sizes at the heap's
 * end. A package's attributes (an .hpkg's "package attributes" section, an
 * .hpkr's "packages" section) sit at the end of the uncompressed heap, so
 * the reader decompresses only the chunks that hold that section, never
 * the files a package carries.
 *
 * Every length and count in a file is checked before it is used, every
 * allocation is bounded (HPKG_MAX_SECTION, HPKG_MAX_CHUNK), and nesting is
 * limited: a truncated, corrupted or hostile file is an error with a
 * message that says what is wrong and where (MF_E_USAGE), never a crash.
 *
 * The format: haiku's docs/develop/packages/FileFormat.rst; attribute ids
 * from headers/os/package/hpkg/PackageAttributes.h; architectures from
 * PackageArchitecture.h.
 */
#ifndef MAYFLY_HPKG_H
#define MAYFLY_HPKG_H

#include <stddef.h>
#include <stdint.h>

#define HPKG_MAX_SECTION (64u << 20) /* an attributes section, uncompressed */
#define HPKG_MAX_CHUNK (1u << 20)    /* one heap chunk, uncompressed */

/* Resolvable operators, as Haiku numbers them; HPKG_OP_NONE: no version. */
enum hpkg_op { HPKG_OP_LT, HPKG_OP_LE, HPKG_OP_EQ, HPKG_OP_NE, HPKG_OP_GE, HPKG_OP_GT,
	       HPKG_OP_NONE = -1 };

/* What a package provides: "name[ = version][ compat >= compat]". */
struct hpkg_provide {
	char *name;
	char *version; /* NULL: none */
	char *compat;  /* NULL: none */
};

/* What it requires: "name[ op version]". */
struct hpkg_require {
	char *name;
	enum hpkg_op op;
	char *version; /* NULL when op is HPKG_OP_NONE */
};

struct hpkg_info {
	char *name;
	char *version;	    /* "major[.minor[.micro]][~pre][-revision]" */
	char *arch;	    /* "x86_64", "any", ... */
	char *summary;	    /* "" when absent */
	char *description;  /* "" when absent; may hold newlines */
	char *vendor;	    /* "" when absent */
	char *packager;	    /* "" when absent */
	char *base_package; /* NULL when absent */
	char *checksum;	    /* SHA-256 hex of the .hpkg (repository files only), or NULL */
	struct hpkg_provide *provides;
	size_t n_provides;
	struct hpkg_require *requires;
	size_t n_requires;
};

enum hpkg_kind { HPKG_PACKAGE, HPKG_REPOSITORY };

/* What one file holds: a package, or a repository's packages. */
struct hpkg_file {
	enum hpkg_kind kind;
	struct hpkg_info *pkgs;
	size_t n_pkgs;
	/* Repository files: the archived repository info, raw (a BMessage). */
	unsigned char *repo_info;
	size_t repo_info_len;
	/* How much of the heap was decompressed, for the curious and the tests. */
	uint64_t heap_size;
	uint64_t heap_read;
};

/* Reads a .hpkg or .hpkr file (told apart by its magic). Sets *out on
 * success; errors name the file and what is wrong with it. */
int hpkg_read_file(const char *path, struct hpkg_file *out);
/* The same from memory (the fuzz target and tests); name is for messages. */
int hpkg_read_buffer(const void *data, size_t len, const char *name, struct hpkg_file *out);
/* The same through read_at(ctx, offset, buf, len), which reads exactly len
 * bytes or fails (setting the error): a file on a guest, read over SFTP. */
int hpkg_read_with(int (*read_at)(void *ctx, uint64_t off, void *buf, size_t len), void *ctx,
		   uint64_t size, const char *name, struct hpkg_file *out);
void hpkg_file_release(struct hpkg_file *f);
void hpkg_info_release(struct hpkg_info *p);

/*
 * The attributes of a package as a tree, every one the file holds, known to
 * Mayfly or not (licenses, copyrights, urls, scripts, users, groups,
 * settings files, flags, ...): what a repository writer needs to carry a
 * package into a repository unchanged (hpkr.h). Ids are PackageAttributes.h's
 * (HPKG_ATTR_* below); string-table references are resolved to strings.
 * Strings are the file's bytes, not checked or scrubbed: do not print them
 * as they are.
 */
enum { HPKG_TYPE_INT = 1, HPKG_TYPE_UINT = 2, HPKG_TYPE_STRING = 3, HPKG_TYPE_RAW = 4 };

enum {
	HPKG_ATTR_NAME = 15,
	HPKG_ATTR_VENDOR = 18,
	HPKG_ATTR_ARCH = 21,
	HPKG_ATTR_CHECKSUM = 35,
	HPKG_ATTR_INSTALL_PATH = 40,
	HPKG_ATTR_PACKAGE = 54, /* a repository's per-package entry */
};

#define HPKG_MAX_ATTRS (1u << 22) /* attributes in one section, for trees */

struct hpkg_attr {
	unsigned id;	/* 0..127 */
	unsigned type;	/* HPKG_TYPE_* */
	uint64_t u;	/* INT (two's complement) and UINT values; RAW in the heap: offset */
	char *s;	/* STRING: the string; RAW inline: raw_len bytes (+ a NUL); else NULL */
	size_t raw_len; /* RAW: the data's size */
	int raw_heap;	/* RAW: the data is in the file's heap at offset u, not inline */
	struct hpkg_attr *kids;
	size_t n_kids;
};

struct hpkg_tree {
	enum hpkg_kind kind;
	/* .hpkg: the package's attributes; .hpkr: the packages section's list,
	 * one HPKG_ATTR_PACKAGE entry (the name) per package, its attributes
	 * as kids. */
	struct hpkg_attr *attrs;
	size_t n_attrs;
	/* The section's string table, in the file's order. */
	char **strings;
	size_t n_strings;
	/* .hpkr: the repository info section, raw (hpkr.h decodes it). */
	unsigned char *repo_info;
	size_t repo_info_len;
};

/* Reads the attribute tree of a .hpkg (its package attributes section,
 * decompressing only the chunks that hold it) or of a .hpkr. */
int hpkg_read_tree_file(const char *path, struct hpkg_tree *out);
int hpkg_read_tree_buffer(const void *data, size_t len, const char *name, struct hpkg_tree *out);
void hpkg_tree_release(struct hpkg_tree *t);
/* Frees n attributes, their kids, and the array. */
void hpkg_attrs_free(struct hpkg_attr *a, size_t n);

/* "x86_64" for 4, NULL for a number Haiku does not define. */
const char *hpkg_arch_name(uint64_t arch);
/* "<", "<=", "==", "!=", ">=", ">"; "" for HPKG_OP_NONE. */
const char *hpkg_op_name(enum hpkg_op op);
/* The canonical file name, "name-version-arch.hpkg" (allocated). */
char *hpkg_file_name(const struct hpkg_info *p);

#endif
