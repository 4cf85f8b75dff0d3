/*
 * pkgindex.h - the packages Mayfly can provide to builds, in the state
 * database: what it built, what an operator imported from an existing
 * repository (vmctl repo import), and each image's system packages.
 *
 * Every package belongs to one origin: "repo:NAME" (imported), "built",
 * "system:IMAGE", or "run:ID" (harvested by a build run, seen only by the
 * builds of that run). Lookups follow HaikuPorter's order of providers:
 * the packages directory (imported and built, oldest first, then what this
 * run built), then the image's system packages; only packages of the
 * target architecture, "any" and "source" are seen. Provides are indexed by name, so finding the
 * providers of one name costs one indexed query whatever the index's size.
 */
#ifndef MAYFLY_PKGINDEX_H
#define MAYFLY_PKGINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/hpkg.h"
#include "pkg/resolvable.h"

struct db;
struct pkgindex;

struct pkg_entry {
	int64_t id;
	char *origin;
	char *name, *version, *arch;
	char *file_name;	/* canonical: name-version-arch.hpkg */
	char *location;		/* a path on the host or a URL */
	char *sha256;		/* NULL: not known */
	int64_t size;		/* -1: not known */
};
void pkg_entry_free(struct pkg_entry *e);

/* One provider of a name, in lookup order. */
struct pkg_provider {
	int64_t pkg;
	int system;		/* from the image's system packages */
	struct hpkg_provide provide;
};
void pkg_providers_free(struct pkg_provider *v, size_t n);

/* A handle with its statements prepared, for many lookups. */
int pkgindex_open(struct db *db, struct pkgindex **out);
void pkgindex_close(struct pkgindex *ix);

/*
 * Replaces every package of origin with pkgs, in one transaction (a failure
 * changes nothing). locations[i] is where pkgs[i] is fetched from; sizes
 * may be NULL. A package's sha256 is its checksum attribute when it has
 * one (repository files), else shas[i] (may be NULL).
 */
int pkgindex_set_origin(struct db *db, const char *origin, const struct hpkg_info *pkgs,
			size_t n, char *const *locations, const int64_t *sizes,
			char *const *shas);
/* The same inside the caller's transaction. */
int pkgindex_replace_origin(struct db *db, const char *origin, const struct hpkg_info *pkgs,
			    size_t n, char *const *locations, const int64_t *sizes,
			    char *const *shas);
/* Adds (or replaces, same origin and file name) one package. */
int pkgindex_add(struct db *db, const char *origin, const struct hpkg_info *p,
		 const char *location, int64_t size, const char *sha256);
int pkgindex_remove_origin(struct db *db, const char *origin);
int pkgindex_count(struct db *db, const char *origin, int64_t *n);

/* Providers of name for arch: the run's packages (run may be NULL) after
 * the index's, the system packages of image (may be NULL) last. */
int pkgindex_providers(struct pkgindex *ix, const char *name, const char *arch,
		       const char *image, const char *run, struct pkg_provider **out,
		       size_t *n);
/* What package id requires at run time. */
int pkgindex_requires(struct pkgindex *ix, int64_t pkg, struct requirement **out, size_t *n);
int pkgindex_get(struct pkgindex *ix, int64_t pkg, struct pkg_entry *out);
/* 1 if a package of that file name is in the packages directory's part of
 * the index (imported or built; not a system or run package), else 0. */
int pkgindex_has_file(struct pkgindex *ix, const char *file);

/* Imported repositories. */
struct pkg_repo {
	char *name;
	char *hpkr_sha256;
	char *packages;		/* the directory or URL packages are fetched from */
	int64_t imported;
	int64_t npackages;
};
void pkg_repo_free(struct pkg_repo *r);
/* Records the repository and replaces its packages, in one transaction. */
int pkgindex_import_repo(struct db *db, const struct pkg_repo *r, const struct hpkg_info *pkgs,
			 size_t n, char *const *locations);
int pkgindex_repos(struct db *db, struct pkg_repo **out, size_t *n);
/* MF_E_USAGE naming the known ones when unknown. */
int pkgindex_remove_repo(struct db *db, const char *name);

#endif
