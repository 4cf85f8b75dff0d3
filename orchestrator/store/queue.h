/*
 * queue.h - mayflyd's persistent build queue, in the state database.
 *
 * A build submitted over the API goes through these states:
 *
 *	accepted  -> queued -> running -> succeeded | failed | timed_out |
 *	   |           |         |          infra_error | cancelled
 *	   |           |         +-> queued (infrastructure failure, retried;
 *	   |           |                     cancelled instead if a cancel was asked)
 *	   +-----------+-> cancelled
 *
 * "accepted" lasts while the API writes the inputs; a build is claimable
 * only once "queued". Claims are atomic (one transaction), so no build
 * ever runs twice at once, whatever number of workers or daemons share the
 * database. Order: priority (higher first), then submission (FIFO).
 */
#ifndef MAYFLY_QUEUE_H
#define MAYFLY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct build_result;
struct db;

struct queue_request {
	const char *image;
	char *const *recipes;	/* one build of these recipes, or */
	size_t nrecipes;
	const char *tree;	/* one build of each port of the tree at the commit */
	const char *commit;	/* a full commit id */
	char *const *ports;
	size_t nports;
	const char *source;	/* "api" (NULL) or "update" */
	int priority;		/* higher runs first */
	int timeout;		/* seconds for the build command; 0: the default */
	const char *requested_by;
	int64_t buildrun;	/* the build run its ports belong to; 0: none */
};

/*
 * Records the accepted builds of a request (not yet claimable), all or
 * none: one, or one per port. Returns 0 and their ids in ids[], 1 when
 * they would make more than queue_max builds wait, -1 on error.
 */
int queue_submit(struct db *db, const struct queue_request *r, int queue_max, int64_t *ids);
/* How many builds wait (accepted or queued). */
int queue_waiting(struct db *db, int64_t *n);
/* Makes an accepted build claimable; inputs is its input names (or NULL). */
int queue_commit(struct db *db, int64_t id, const char *inputs);

/*
 * Claims the next queued build whose image is not quarantined, for this
 * process: 1 with *id and *attempt (1 on the first try), 0 when there is
 * none, -1 on error. A build whose image is no longer registered is
 * claimed too, so that its attempt fails it with the reason.
 */
int queue_claim(struct db *db, int64_t *id, int *attempt);
/* The same, with builds of pull requests (source "pull-request") claimed only
 * while fewer than max_pr_running of them run (-1: no limit), so a burst
 * of pull requests cannot take every machine from the main branch. */
int queue_claim_fair(struct db *db, int max_pr_running, int64_t *id, int *attempt);
/* Ends an attempt with its outcome (status name and error). */
int queue_attempt_end(struct db *db, int64_t id, int attempt, const char *status,
		      const char *error);
/*
 * Puts a running build back into the queue (to be tried again); with
 * forget_attempt, the attempt does not count. A build whose cancel was
 * requested ends cancelled instead: an accepted cancel is never lost.
 */
int queue_requeue(struct db *db, int64_t id, int forget_attempt);

/* What follows an attempt (queue_attempt_done()). */
enum queue_next {
	QUEUE_FINISH,		/* the build ends with the attempt's outcome */
	QUEUE_RETRY,		/* queued again; the attempt counts */
	QUEUE_RETRY_UNCOUNTED,	/* queued again, the attempt does not count (mayflyd's
				   own stop, a quarantined image) */
};

/*
 * Ends attempt n with its outcome (res: status, exit code, error) and, in
 * the same transaction, finishes the build or queues it again as next
 * says (queue_requeue(): a cancel that was asked for wins). *now gets the
 * build's status afterwards ("queued", "cancelled", "failed"...; caller
 * frees). On failure nothing changed and the call may be repeated.
 */
int queue_attempt_done(struct db *db, int64_t id, int n, const struct build_result *res,
		       enum queue_next next, char **now);

/*
 * Cancels a build: a queued one at once, a running one by request (the
 * worker sees it). Returns 0 with *state "cancelled" or "cancelling", or 1
 * when the build had already finished, with *state its status (caller
 * frees). MF_E_USAGE when there is no such build.
 */
int queue_cancel(struct db *db, int64_t id, char **state);
/* 1 if a cancel was requested for a running build. */
int queue_cancel_requested(struct db *db, int64_t id);

/*
 * After a crash: builds left running by dead processes are retried as an
 * infrastructure failure (or fail when out of attempts); submissions that
 * never completed are dropped as failed. Returns the number recovered.
 */
int queue_recover(struct db *db, int max_attempts);

int queue_counts(struct db *db, int *queued, int *running);
/*
 * How many queued builds queue_claim_fair() could claim now (not those of
 * quarantined images, nor pull requests' beyond max_pr_running).
 */
int queue_claimable(struct db *db, int max_pr_running, int *n);

#endif
