/* attempt.c - see attempt.h. */
#include "daemon/attempt.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build/pipeline.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "ports/update.h"
#include "store/builds.h"
#include "store/queue.h"
#include "store/state.h"

#define RECORD_RETRY_MAX_MS 5000

static int stopping(const struct attempt *a)
{
	return a->stopping && *a->stopping;
}

/* Sleeps for ms, in steps, returning early when mayflyd stops. */
static void pause_ms(const struct attempt *a, int ms)
{
	for (int slept = 0; slept < ms && !stopping(a); slept += 50) {
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

/* "a b c" -> a NULL-terminated vector (caller frees with mf_strv_free). */
static char **split_words(const char *s, size_t *n)
{
	char **v = xcalloc(1, sizeof(char *)), *copy = xstrdup(s ? s : ""), *save = NULL;

	*n = 0;
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		v = xrealloc(v, (*n + 2) * sizeof(char *));
		v[(*n)++] = xstrdup(t);
		v[*n] = NULL;
	}
	free(copy);
	return v;
}

static void on_phase(void *payload, const char *name, int64_t ms)
{
	const struct attempt *a = payload;

	log_debug("worker %d: build %lld: %s done in %lld ms", a->worker, (long long)a->id, name,
		  (long long)ms);
}

/* An attempt that could not start: its outcome from the error's class. */
static enum queue_next not_started(struct build_result *res, int64_t id)
{
	enum mf_errclass cls = mf_error_class();

	build_result_release(res);
	res->id = id;
	res->exit_code = -1;
	res->error = xstrdup(mf_error_msg());
	if (cls == MF_E_CONFLICT) {
		/* Quarantined meanwhile: it waits for 'vmctl image clear', uncounted. */
		res->status = BUILD_INFRA_ERROR;
		return QUEUE_RETRY_UNCOUNTED;
	}
	res->status = build_status_of_error(cls);
	return QUEUE_FINISH; /* attempt_next() may still retry an infra_error */
}

static enum queue_next attempt_next(const struct attempt *a, const struct build_result *res,
				    enum queue_next next)
{
	if (next != QUEUE_FINISH)
		return next;
	if (res->status == BUILD_CANCELLED && stopping(a))
		return QUEUE_RETRY_UNCOUNTED; /* mayflyd's own stop, not the user's cancel */
	if (res->status == BUILD_INFRA_ERROR && a->n < a->max_attempts)
		return QUEUE_RETRY;
	return QUEUE_FINISH;
}

/* Records the outcome, retrying while the database refuses and mayflyd runs. */
static int record(const struct attempt *a, const struct build_result *res, enum queue_next next,
		  char **now)
{
	struct db *db = a->env->state->db;
	int wait = 100;

	for (;;) {
		if (queue_attempt_done(db, a->id, a->n, res, next, now) == 0)
			return 0;
		if (stopping(a)) {
			log_warnx("build %lld: cannot record the end of attempt %d (%s); mayflyd "
				  "stops, and its next start recovers the build", (long long)a->id,
				  a->n, mf_error_msg());
			return -1;
		}
		log_warnx("build %lld: cannot record the end of attempt %d (%s); retrying in "
			  "%d ms", (long long)a->id, a->n, mf_error_msg(), wait);
		pause_ms(a, wait);
		wait = wait * 2 > RECORD_RETRY_MAX_MS ? RECORD_RETRY_MAX_MS : wait * 2;
	}
}

static void report(const struct attempt *a, const struct build_result *res,
		   enum queue_next next, const char *now)
{
	long long id = (long long)a->id;

	if (!strcmp(now, "queued")) {
		if (next == QUEUE_RETRY_UNCOUNTED)
			log_info("build %lld: %s; queued again", id, stopping(a) ?
				 "interrupted by mayflyd's stop" : res->error);
		else
			log_info("build %lld: attempt %d failed (%s); queued again, %d attempt%s "
				 "left", id, a->n, res->error ? res->error : "infrastructure",
				 a->max_attempts - a->n, a->max_attempts - a->n == 1 ? "" : "s");
	} else if (next != QUEUE_FINISH) {
		log_info("build %lld: %s on request, instead of being queued again", id, now);
	} else {
		log_info("build %lld %s after %d attempt%s%s%s", id, now, a->n,
			 a->n == 1 ? "" : "s", res->error ? ": " : "",
			 res->error ? res->error : "");
	}
}

/* Runs the build the record describes; returns what should follow. */
static enum queue_next run(const struct attempt *a, const struct build_record *rec,
			   struct build_result *res)
{
	struct mf_state *st = a->env->state;
	char **recipes, **names, **inputs;
	size_t nrecipes = 0, ninputs = 0;
	enum queue_next next = QUEUE_FINISH;

	recipes = split_words(rec->recipes, &nrecipes);
	names = split_words(rec->inputs, &ninputs);
	inputs = xcalloc(ninputs + 1, sizeof(char *));
	for (size_t i = 0; i < ninputs; i++)
		inputs[i] = xasprintf("%s/%lld/inputs/%s", st->builds_dir, (long long)a->id,
				      names[i]);
	char run[24];
	snprintf(run, sizeof(run), "%lld", (long long)rec->buildrun);
	struct build_request req = {
		.run = rec->buildrun ? run : NULL,
		.image = rec->image,
		/* A build of a port of a tree records its one port as its recipe. */
		.recipes = rec->tree ? NULL : recipes,
		.nrecipes = rec->tree ? 0 : nrecipes,
		.tree = rec->tree,
		.commit = rec->commit,
		.port = rec->tree ? rec->recipes : NULL,
		.inputs = inputs,
		.ninputs = ninputs,
		.timeout_s = rec->timeout,
		.idle_timeout_s = a->idle_timeout,
		.cancel = a->cancel,
		.build_id = a->id,
		.attempt = a->n,
		.defer_finish = 1,
	};
	struct build_events ev = { .phase = on_phase, .payload = (void *)a };
	log_info("build %lld: attempt %d on worker %d (image %s: %s)", (long long)a->id, a->n,
		 a->worker, rec->image, rec->recipes);
	if (a->changed && rec->buildrun)
		a->changed(a->payload, a->id);
	if (pipeline_run(a->env, &req, &ev, res) < 0)
		next = not_started(res, a->id);
	mf_strv_free(recipes);
	mf_strv_free(names);
	mf_strv_free(inputs);
	return attempt_next(a, res, next);
}

int attempt_run(const struct attempt *a)
{
	struct build_record *rec = NULL;
	struct build_result res;
	enum queue_next next;
	char *now = NULL;
	int ret;

	memset(&res, 0, sizeof(res));
	if (builds_get(a->env->state->db, a->id, &rec) == 0) {
		next = run(a, rec, &res);
	} else {
		/* Unreadable now, perhaps not later: the attempt does not count. */
		not_started(&res, a->id);
		res.status = BUILD_INFRA_ERROR;
		next = QUEUE_RETRY_UNCOUNTED;
	}
	ret = record(a, &res, next, &now);
	if (ret == 0) {
		report(a, &res, next, now);
		if (strcmp(now, "queued")) {
			/* Finished, perhaps cancelled instead of a retry: say so in result.json. */
			if (build_status_parse(now, &res.status) == 0 && next != QUEUE_FINISH) {
				free(res.error);
				res.error = xstrdup("cancelled on request");
			}
			pipeline_write_result(a->env->state, &res);
			/* An update's port: a failure is retried by the next update. */
			if (rec && rec->tree && rec->commit && !strcmp(rec->source, "update") &&
			    update_record(a->env->state->db, rec->tree, rec->recipes, rec->commit,
					  a->id, !strcmp(now, "succeeded"), res.error) < 0)
				log_warnx("build %lld: cannot record its outcome for tree %s's "
					  "updates: %s", (long long)a->id, rec->tree, mf_error_msg());
		}
	}
	if (ret == 0 && a->changed && rec && rec->buildrun)
		a->changed(a->payload, a->id);
	free(now);
	build_result_release(&res);
	build_record_free(rec);
	return ret;
}
