/*
 * port.h - the ports of a tree at one commit, as HaikuPorter sees them.
 *
 * Recipes live at <category>/<port>/<name>-<version>.recipe, in categories
 * with a dash ("sys-libs"; not starting with '.'); a recipe file name has
 * exactly one dash. A port's active version is the highest one whose
 * recipe evaluates and whose main package is buildable on the target
 * architecture (stable, or untested when allowed). A port built for a
 * secondary architecture is named <name>_<arch> ("zlib_x86").
 */
#ifndef MAYFLY_PORT_H
#define MAYFLY_PORT_H

#include <stddef.h>

#include "ports/mirror.h"
#include "ports/recipe.h"

struct db;

/* One recipe file of the tree. */
struct port_recipe {
	char *name;		/* from the file name: "zlib" */
	char *version;		/* "1.3.2" */
	char *dir;		/* "sys-libs/zlib" */
	char *file;		/* "zlib-1.3.2.recipe" */
	int meta;		/* in the category meta-ports */
};

/* Every recipe of a commit, sorted by name, then version (highest first). */
struct port_index {
	struct port_recipe *v;
	size_t n;
};

int port_index_build(struct mirror *m, const char *commit, struct port_index **out);
void port_index_free(struct port_index *idx);
/* The recipes of a port name, highest version first: *first and *n (n 0: none). */
void port_index_find(const struct port_index *idx, const char *name, size_t *first, size_t *n);

/* A package a port's build produces. */
struct port_package {
	char *name;		/* "zlib_devel" */
	char *version;		/* "1.3.2" */
	char *arch;		/* "x86_64", "any" or "source" */
	char *file;		/* "zlib_devel-1.3.2-3-x86_64.hpkg" */
	int recipe_package;	/* index into the recipe's packages; -1 for a source package */
};

/* A port at a commit, resolved and evaluated. */
struct port {
	char *versioned_name;	/* "zlib-1.3.2", "zlib_x86-1.3.2" */
	char *dir;
	char *file;
	int meta;
	struct recipe *recipe;
	struct port_package *packages; /* what its build must produce */
	size_t npackages;
};

void port_free(struct port *p);

/* What resolving ports needs. */
struct port_ctx {
	struct db *db;			/* the recipe cache */
	struct mirror *m;
	const char *commit;
	const struct port_index *idx;
	const struct recipe_env *env;
	const char *secondary_arches;	/* the builder's, space-separated */
	int create_source_packages;
};

struct image;
struct tree;

/*
 * The context of ports of tree t at a commit built on image img: the
 * recipes evaluated with the image's architectures and TREE_PATH and the
 * tree's settings. env and c are filled; they point into img and t.
 */
void port_ctx_init(struct port_ctx *c, struct recipe_env *env, struct db *db, struct mirror *m,
		   const char *commit, const struct port_index *idx, const struct image *img,
		   const struct tree *t);

/*
 * Resolves "name" (its active version) or "name-version", "name_arch" and
 * "name_arch-version" to a port. MF_E_USAGE naming what is wrong: no such
 * port, no such version, two ports of that name, a recipe that does not
 * evaluate, no version buildable on the architecture.
 */
int port_resolve(const struct port_ctx *c, const char *spec, struct port **out);

/*
 * The packages a port's build produces, by HaikuPorter's rules: a package
 * per PROVIDES, buildable on the architecture; names with the secondary
 * suffix unless "any"; the source package when asked for.
 */
void port_packages(const struct port_ctx *c, struct port *p);

/*
 * Evaluates, in batches (one sandbox per batch), the recipes of the port
 * directories dirs (all of the tree's when dirs is NULL) into the recipe
 * cache, so that port_resolve() of their ports finds them there.
 */
int port_prefetch(const struct port_ctx *c, char *const *dirs, size_t ndirs);

#endif
