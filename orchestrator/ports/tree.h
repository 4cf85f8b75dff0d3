/*
 * tree.h - registering, fetching and retiring ports trees.
 *
 * A tree's record lives in the state database (store/trees.h); its bare
 * mirror in STATE/trees/NAME.git (mirror.h). Fetching updates both: the
 * head of a good fetch, or the error of a failed one (the mirror and the
 * recorded head stay as they were). Credentials stay on the host: they
 * are used by the fetch, never sent to a guest.
 */
#ifndef MAYFLY_TREE_H
#define MAYFLY_TREE_H

#include "ports/mirror.h"
#include "store/trees.h"

struct mf_state;

struct tree_add_opts {
	const char *name;
	const char *url;		/* a URL, or a local repository's path */
	const char *branch;		/* NULL: master */
	const char *ssh_key;		/* NULL: none */
	const char *token_file;		/* NULL: none */
	const char *packager;		/* NULL: TREE_DEFAULT_PACKAGER */
	const char *update_image;	/* NULL: none (mayflyd only fetches) */
	int allow_untested, allow_unsafe_sources, create_source_packages;
};

/* Checks an add without touching anything (names, URL, files). MF_E_USAGE. */
int tree_add_check(struct mf_state *st, const struct tree_add_opts *o);
/*
 * Registers a tree and fetches it. If the first fetch fails, nothing is
 * registered and no mirror is left.
 */
int tree_add(struct mf_state *st, const struct tree_add_opts *o, struct tree **out);
/* Fetches a tree and records the outcome; -1 (MF_E_INFRA) if the fetch failed. out may be NULL. */
int tree_sync(struct mf_state *st, const char *name, struct tree **out);
/*
 * The full id of a revision of the tree (rev NULL: its head). With sync,
 * the head is fetched first; a revision not in the mirror is fetched
 * once in any case. MF_E_USAGE for an unknown tree or revision,
 * MF_E_INFRA when the fetch fails.
 */
int tree_resolve(struct mf_state *st, const char *name, const char *rev, int sync,
		 char out[MIRROR_ID_LEN]);
/* Sets (image) or clears (NULL) the image mayflyd builds the tree's updates on. */
int tree_set_update_image(struct mf_state *st, const char *name, const char *image);
/* Removes the record and the mirror; refused while builds of the tree run or wait. */
int tree_remove(struct mf_state *st, const char *name);

/* Opens the tree's mirror (caller closes). */
int tree_mirror(struct mf_state *st, const struct tree *t, struct mirror **out);

#endif
