/*
 * publishes.h - publishing to package repositories, in the state
 * database: what each repository holds (published), and a journal of each
 * publish (publishes, publish_items) that makes a publish crash-safe.
 *
 * A publish is planned in one transaction (its packages to add, the older
 * versions they make obsolete), then moves through its steps, each
 * recorded when it is done:
 *
 *	packages  every new package uploaded (each item marked when it is)
 *	index     repo, repo.info, package.list, repo.minisig, then
 *	          repo.sha256 written; then, in one transaction, the new
 *	          packages become live and the old ones obsolete
 *	obsolete  every obsolete package moved to packages/.obsolete/
 *	finish    the package index and the local copies tidied
 *	done      (or failed, with the error)
 *
 * Every step can be repeated after a crash with the same result, so a
 * publish interrupted anywhere completes exactly once when resumed.
 */
#ifndef MAYFLY_STORE_PUBLISHES_H
#define MAYFLY_STORE_PUBLISHES_H

#include <stddef.h>
#include <stdint.h>

struct db;

/* One package of a repository. */
struct published_pkg {
	char *file_name;	/* canonical: name-version-arch.hpkg */
	char *name, *version, *arch;
	char *sha256;
	int64_t size;
	int64_t publish;	/* the publish that added it */
};
void published_pkg_release(struct published_pkg *p);
void published_pkgs_free(struct published_pkg *v, size_t n);

enum publish_action { PUBLISH_ADD, PUBLISH_OBSOLETE };

struct publish_item {
	enum publish_action action;
	char *file_name;
	char *name, *version, *arch;
	char *path;		/* add: the file on this host */
	char *sha256;
	int64_t size;
	int done;
};

struct publish {
	int64_t id;
	char *repository;
	int64_t buildrun;	/* 0: none (packages given by file) */
	char *state;		/* "packages", "index", "obsolete", "finish", "done", "failed" */
	char *error;		/* failed: why */
	char *requested_by;
	int64_t created, finished;
	char *repo_sha256;	/* the repo file it published (after "index") */
	struct publish_item *items;
	size_t nitems;
};
void publish_free(struct publish *p);

/* Records a new publish in state "packages" with its items (one
 * transaction); sets p->id. */
int publishes_insert(struct db *db, struct publish *p);
int publishes_get(struct db *db, int64_t id, struct publish **out);
int publishes_item_done(struct db *db, int64_t id, enum publish_action a, const char *file);
int publishes_set_state(struct db *db, int64_t id, const char *state, const char *error);
/* The "index" step's transaction: adds become live, obsoletes leave, the
 * publish records the repo's digest and moves to "obsolete". */
int publishes_commit_index(struct db *db, const struct publish *p, const char *repo_sha256);
/* Publishes that have not ended, oldest first (repository NULL: all). */
int publishes_unfinished(struct db *db, const char *repository, int64_t **ids, size_t *n);
/* The newest publishes of a repository, without their items (limit 0: all). */
int publishes_list(struct db *db, const char *repository, int limit, struct publish ***out,
		   size_t *n);
void publishes_list_free(struct publish **v, size_t n);
/* The repository's live packages, by file name. */
int published_live(struct db *db, const char *repository, struct published_pkg **out,
		   size_t *n);
/* One package of the repository (live or obsolete); 0 and *found = 0 if none. */
int published_find(struct db *db, const char *repository, const char *file,
		   struct published_pkg *out, int *found, int *live);

/* Packages of r (live or obsolete) and publishes to r, all told. */
int published_count(struct db *db, const char *repository, int64_t *n);
/* A repository holding file with that sha256 (*repository NULL: none). */
int published_locate(struct db *db, const char *file, const char *sha256, char **repository);
/* The packages of a repository file made elsewhere, taken as live (one
 * transaction; publish 0). */
struct hpkg_info;
int published_adopt(struct db *db, const char *repository, const struct hpkg_info *pkgs,
		    size_t n);

/* Update runs that ended and were not yet published on their own, oldest first. */
int publishes_runs_pending(struct db *db, int64_t **ids, size_t *n);
int publishes_run_handled(struct db *db, int64_t run);

#endif
