/*
 * attempt.h - one attempt of a queued build, and what follows it.
 *
 * A worker (scheduler.h) claims a build and hands it here: the build's
 * request is read back from its record, the pipeline runs it, and the
 * outcome decides what comes next, recorded in one transaction
 * (queue_attempt_done()):
 *
 *	succeeded, failed, timed_out, cancelled by the user	-> finished
 *	infra_error with attempts left				-> queued again
 *	infra_error, none left					-> finished
 *	interrupted by mayflyd's own stop			-> queued again, uncounted
 *	could not start: image quarantined meanwhile		-> queued again, uncounted
 *	could not start: anything else				-> by its error's class
 *							   (build_status_of_error)
 *
 * and a build whose cancel was accepted is never queued again. If the
 * outcome cannot be recorded (the database is locked, the disk full), the
 * recording is retried until it succeeds or mayflyd stops; then the next
 * start recovers the build (queue_recover()), so no build stays "running"
 * under a live mayflyd.
 *
 * The decisions live here, apart from the threads, so that they can be
 * tested with the pipeline stubbed (tests/unit/test_attempt.c).
 */
#ifndef MAYFLY_ATTEMPT_H
#define MAYFLY_ATTEMPT_H

#include <stdatomic.h>
#include <stdint.h>

struct build_env;

struct attempt {
	const struct build_env *env;
	int64_t id;
	int n;			/* 1 on the first try */
	int max_attempts;	/* infra_retries + 1 */
	int idle_timeout;	/* seconds; 0: none */
	atomic_int *cancel;	/* the user's cancel or mayflyd's stop asks the build to end */
	const atomic_int *stopping; /* mayflyd is stopping: an interruption is its own */
	int worker;		/* for log lines */
	/* Called when the build starts running and when the attempt is recorded
	 * (the scheduler advances the build's run, if it has one); may be NULL. */
	void (*changed)(void *payload, int64_t build);
	void *payload;
};

/*
 * Runs the attempt and records what follows. Returns 0 once recorded, -1
 * if mayflyd stopped before the outcome could be recorded.
 */
int attempt_run(const struct attempt *a);

#endif
