/*
 * recipe.h - HaikuPorts recipes, evaluated as HaikuPorter evaluates them,
 * but never trusted.
 *
 * HaikuPorter sources each recipe with bash, after presetting the port's
 * shell variables (portName, portVersion, secondaryArchSuffix,
 * effectiveTargetArchitecture, the install directories...), and reads the
 * variables it set: multi-line strings (PROVIDES="\n\tzlib = 1.3\n...")
 * that may be set inside ifs. Mayfly does the same, in the sandbox of
 * sandbox.h (a recipe from a pull request is untrusted code), many recipes
 * per sandbox, each in its own bash with a time limit. What comes out is
 * cached in the state database by the ids of the port directory's files
 * and the settings it depends on, so an update after one commit evaluates
 * only the recipes it touched.
 *
 * Not evaluated: what depends on the builder's own system (the LICENSE
 * check against /boot/system/data/licenses, HaikuPorter's style checks of
 * SUMMARY and DESCRIPTION): a recipe Mayfly accepts may still be refused
 * by haikuporter on the builder, and its build then fails with that.
 */
#ifndef MAYFLY_RECIPE_H
#define MAYFLY_RECIPE_H

#include <stddef.h>

struct db;
struct mirror;

/* What an evaluation depends on besides the port's files. */
struct recipe_env {
	const char *target_arch;	/* TARGET_ARCHITECTURE, e.g. "x86_64" */
	const char *tree_path;		/* the builder's TREE_PATH: portBaseDir's prefix */
	const char *packager;		/* "Name <mail>" */
	int allow_untested;
	int timeout_s;			/* one recipe's evaluation; 0: 20 s */
};

/* One recipe to evaluate. */
struct recipe_job {
	const char *port_dir;		/* in the tree: "sys-libs/zlib" */
	const char *file;		/* "zlib-1.3.2.recipe" */
	const char *name;		/* "zlib" */
	const char *version;		/* "1.3.2" */
	const char *secondary_arch;	/* NULL, or "x86": the port zlib_x86 */
};

struct recipe_source {
	int index;			/* 1 for SOURCE_URI, n for SOURCE_URI_n */
	char **uris;			/* NULL-terminated; mirrors, in order */
	char *checksum;			/* CHECKSUM_SHA256[_n], or NULL */
	char *filename;			/* SOURCE_FILENAME[_n], or NULL */
	char *dir;			/* SOURCE_DIR[_n], or NULL */
};

enum arch_status { ARCH_UNSUPPORTED, ARCH_BROKEN, ARCH_UNTESTED, ARCH_STABLE };

struct recipe_package {
	char *ext;			/* "" for the base package, "devel", "bin"... */
	char **provides;		/* NULL-terminated, lowercased, comments removed */
	char **requires;
	char *architectures;		/* ARCHITECTURES[_ext], inherited from the base */
	char *secondary_architectures;
	char *package_name;		/* PACKAGE_NAME_ext, or NULL */
	char *package_version;		/* PACKAGE_VERSION_ext, or NULL */
};

struct recipe {
	char *name;			/* the port: "zlib", or "zlib_x86" */
	char *base_name;		/* "zlib" */
	char *version;
	char *secondary_arch;		/* NULL or "x86" */
	char *error;			/* the evaluation failed: why; nothing else is set */
	int revision;
	char *summary;			/* SUMMARY, or NULL */
	char **build_requires;		/* NULL-terminated */
	char **build_prerequires;
	char **test_requires;
	char **patches;			/* all PATCHES[_n] entries, comments removed */
	char **additional_files;
	char **licenses;
	int disable_source_package;
	struct recipe_source *sources;
	size_t nsources;
	struct recipe_package *packages; /* those with a non-empty PROVIDES, base first */
	size_t npackages;
};

void recipe_free(struct recipe *r);

/*
 * Evaluates the jobs (reading the port directories from the mirror at
 * commit), using and filling the cache in db. out[i] gets job i's recipe
 * (its error set when the recipe does not evaluate). -1 (MF_E_INFRA) only
 * when the sandbox cannot run at all.
 */
int recipe_evaluate(struct db *db, struct mirror *m, const char *commit,
		    const struct recipe_env *env, const struct recipe_job *jobs, size_t n,
		    struct recipe **out);

/* The status of an architecture in an ARCHITECTURES value. */
enum arch_status recipe_arch_status(const char *architectures, const char *arch);
/* 1 if the value names "any" (an architecture-independent package). */
int recipe_arch_any(const char *architectures);

/* Parses an evaluation's output (KEY=VALUE lines, newlines as \n) into r. */
int recipe_parse_dump(struct recipe *r, const char *dump);

#endif
