/*
 * publish.h - publishing packages to a Haiku package repository, on this
 * host's disk or in S3, without Haiku's tools (pkg/hpkr.h writes "repo"),
 * crash-safe through a journal in the state database (store/publishes.h).
 *
 * What a client sees (HaikuPorter's layout): packages/FILE.hpkg, repo,
 * repo.info, package.list, repo.minisig (when a signing key is set) and
 * repo.sha256, the bare hex digest of repo. Written in that order, with
 * repo.sha256 last, and older versions moved to packages/.obsolete/ only
 * after the new repo.sha256 is in place: a client polling during a publish
 * never sees a repo or package.list that names a package it cannot fetch,
 * nor a repo.sha256 that does not match repo.
 *
 * Mayfly keeps no package store of its own: the state directory holds the
 * repository's metadata (STATE/repos/ID/), and for an S3 repository a
 * build's packages are deleted from this host once they are published.
 * Builds that need them later fetch them back through the package cache
 * (publish_cache_get).
 */
#ifndef MAYFLY_PUBLISH_H
#define MAYFLY_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct mf_state;

struct publish_request {
	int64_t buildrun;	/* publish its ports' packages; or 0 and: */
	char *const *files;	/* .hpkg files on this host */
	size_t nfiles;
	const char *requested_by;
};

/*
 * Plans a publish to r (one transaction): the packages to add and the
 * older versions they make obsolete. Under the repository's lock, after
 * finishing any earlier publish to r that was interrupted, so a plan is
 * always made against what the repository holds. A repository this state
 * directory never published to, whose target already has a repo file, is
 * adopted first (its packages stay). *id is 0 when there is nothing new to
 * publish (every package is there). MF_E_USAGE, naming the package, for a
 * package of another architecture, one already published with other
 * contents, one older than what is published, a run that has not ended
 * or is a pull request's.
 */
int publish_plan(struct mf_state *st, const struct mf_config *cfg,
		 const struct mf_repository *r, const struct publish_request *req, int64_t *id);

struct publish_result {
	size_t added, obsoleted, live;
	uint64_t bytes;		/* written to the target */
	double seconds;
	char repo_sha256[65];
};

/* Runs publish id to its end (or resumes it where it stopped). A publish
 * that fails stays where it stopped, to be resumed. */
int publish_execute(struct mf_state *st, const struct mf_config *cfg, int64_t id,
		    struct publish_result *res);
/* publish_plan() and publish_execute() under one hold of the lock; *refused
 * (may be NULL) says a failure was about the packages, not the repository. */
int publish_run(struct mf_state *st, const struct mf_config *cfg, const struct mf_repository *r,
		const struct publish_request *req, int64_t *id, struct publish_result *res,
		int *refused);
/* Resumes every publish that has not ended, each repository's apart (one
 * that fails holds up only its own); -1 with the first failure if any. */
int publish_resume_all(struct mf_state *st, const struct mf_config *cfg);
/* Ends a publish that has not got past its packages (clients have seen
 * nothing of it) as failed, so that later ones can go on. */
int publish_abandon(struct mf_state *st, const struct mf_config *cfg, int64_t id);

/*
 * Publishes an ended update run to every repository whose publish_trees
 * names its tree, then marks it handled, so it is published once
 * (mayflyd's publisher and vmctl update). Runs of other kinds, and runs
 * that made no package, are only marked.
 */
int publish_auto(struct mf_state *st, const struct mf_config *cfg, int64_t run);
/* publish_resume_all(), then publish_auto() for every update run not yet handled. */
int publish_auto_pending(struct mf_state *st, const struct mf_config *cfg);

/*
 * A published package on this host: the repository's own file for a local
 * repository, else a copy in the package cache (STATE/packages, at most
 * cfg->package_cache_mb, least recently used dropped first), fetched on
 * demand and checked against sha256. Sets *path (caller frees).
 */
int publish_cache_get(struct mf_state *st, const struct mf_config *cfg, const char *repository,
		      const char *file, const char *sha256, char **path);

#endif
