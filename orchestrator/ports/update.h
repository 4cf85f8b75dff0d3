/*
 * update.h - update mode, as buildmaster's `update` runs it, for a tree
 * and the image its ports are built on: the ports the commits since the
 * last processed one changed (changes.h), plus the ports whose builds
 * failed since (retries), at the tree's head.
 *
 * The last processed commit advances when an update's builds have been
 * run (vmctl) or queued (mayflyd). Unlike buildmaster, which advances
 * past failed ports and builds them again only when their files change,
 * a port whose build fails is kept as a retry and built again by every
 * later update (at that update's commit) until a build of it succeeds,
 * or it has no active version left.
 */
#ifndef MAYFLY_UPDATE_H
#define MAYFLY_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "ports/mirror.h"

struct db;
struct mf_state;

struct update_item {
	char *port;		/* versioned name, at the plan's commit */
	char *name;		/* port name ("zlib", "zlib_x86") */
	char *trigger;		/* the changed file that triggered it, or NULL */
	char *retry;		/* for a retry: why ("build 12 failed at abc123: ..."), or NULL */
};

struct update_plan {
	char from[MIRROR_ID_LEN];	/* "" on a tree's first update */
	char to[MIRROR_ID_LEN];
	struct update_item *v;
	size_t n;
	char *skipped;		/* lines: ports left out, and why (or NULL) */
	char **dropped;		/* retries of ports that have no active version any more */
};

struct update_opts {
	const char *tree;
	const char *image;	/* what the ports are built on (architectures, TREE_PATH) */
	const char *from;	/* NULL: the tree's last processed commit */
	const char *to;		/* NULL: the tree's head */
	int sync;		/* fetch the tree first (when to is NULL) */
	/* A pull request's ports: from is its target branch, the changes are
	 * counted from the merge base of from and to; no retries. */
	int pull_request;
};

/*
 * What an update would build. On a tree's first update (nothing processed
 * and no from), nothing: plan->from is empty. MF_E_USAGE for an unknown
 * tree, image or revision; MF_E_INFRA when a fetch fails.
 */
int update_plan(struct mf_state *st, const struct update_opts *o, struct update_plan *plan);
void update_plan_release(struct update_plan *plan);

/* After the plan's builds were run or queued: plan->to is processed, dropped retries go. */
int update_done(struct db *db, const char *tree, const struct update_plan *plan);

/* A build of a port of the tree ended: success clears its retry, failure records one. */
int update_record(struct db *db, const char *tree, const char *port, const char *commit,
		  int64_t build_id, int succeeded, const char *error);

#endif
