/*
 * resolve.h - what a port needs before it can build, as HaikuPorter's
 * resolver finds it (HP/DependencyResolver.py, in buildmaster mode).
 *
 * A port's BUILD_REQUIRES and BUILD_PREREQUIRES, plus the prerequisites
 * HaikuPorter always adds for its scriptlets, are each met by the first
 * provider, in this order: packages of the index (store/pkgindex.h: the
 * packages directory, then the image's system packages), then the ports of
 * the tree at the commit (that port must then be built first, in this run).
 * Runtime REQUIRES of what is found are followed the same way, transitively.
 * A requirement nothing meets makes the port lost, with the requirement
 * named ('build-requires "devel:libfoo >= 2" of port "bar-1.0" could not be
 * resolved').
 */
#ifndef MAYFLY_RESOLVE_H
#define MAYFLY_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/resolvable.h"

struct pkgindex;

/* HaikuPorter's scriptlet prerequisites (HP/ShellScriptlets.py). */
extern char *const resolve_scriptlet_prerequires[];

/* A package a port of the tree would make. */
struct tree_package {
	const char *port;	/* versioned port name, "beta-1.0" */
	const char *package_id; /* what it makes, "beta-1.0" (name-version) */
	const struct hpkg_provide *provides;
	size_t nprovides;
	const struct requirement *requires; /* at run time */
	size_t nrequires;
};

/* The tree's packages, indexed by what they provide (built once, read often). */
struct tree_provides;
struct tree_provides *tree_provides_new(const struct tree_package *pkgs, size_t n);
void tree_provides_free(struct tree_provides *t);

struct resolve_env {
	struct pkgindex *ix;
	const char *arch;		/* the target architecture */
	const char *image;		/* whose system packages count, or NULL */
	const char *run;		/* the build run whose packages count, or NULL */
	const struct tree_provides *tree; /* NULL: only existing packages */
	char *const *always;		/* added to every port's prerequisites (NULL-terminated), or NULL */
};

struct resolution {
	int64_t *pkgs;		/* index packages the build needs, in the order found */
	size_t npkgs;
	char **ports;		/* tree ports to build first (versioned names) */
	size_t nports;
	char **missing;		/* the package ids those make, sorted */
	size_t nmissing;
	char *error;		/* set when the port cannot be built: which requirement */
};
void resolution_release(struct resolution *r);

/*
 * Resolves what port (a versioned name, for messages and to refuse a port
 * that requires itself) needs: requirements are BUILD_REQUIRES and
 * BUILD_PREREQUIRES entries as text. Returns -1 only when the index cannot
 * be read; an unmet or malformed requirement sets out->error.
 */
int resolve_port(const struct resolve_env *env, const char *port, char *const *build_requires,
		 char *const *build_prerequires, struct resolution *out);

#endif
