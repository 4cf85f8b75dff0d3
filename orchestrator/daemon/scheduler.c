/* scheduler.c - see scheduler.h. */
#include "daemon/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "store/builds.h"
#include "common/config.h"
#include "machine/ctx.h"
#include "store/db.h"
#include "common/error.h"
#include "common/log.h"
#include "build/pipeline.h"
#include "store/queue.h"
#include "store/state.h"
#include "common/util.h"

#define MONITOR_INTERVAL_MS 500
#define IDLE_WAIT_MS 1000	/* a worker looks at the queue at least this often */

struct worker {
	struct scheduler *s;
	pthread_t thread;
	int index;
	struct mf_ctx *ctx;
	volatile sig_atomic_t cancel;
	int64_t current;	/* the build it runs; 0 when idle (under s->lock) */
	int stopped_by_daemon;	/* the cancel is mayflyd's own stop, not a user's */
};

struct scheduler {
	struct mf_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
	int running;
	int disk_low;
	struct worker *workers;
	int nworkers;
	pthread_t monitor;
	struct mf_ctx *mctx;	/* the monitor's own connection */
};

static void timed_wait(struct scheduler *s, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

static void on_phase(void *payload, const char *name, int64_t ms)
{
	struct worker *w = payload;

	log_debug("worker %d: build %lld: %s done in %lld ms", w->index, (long long)w->current,
		  name, (long long)ms);
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

/* What follows an attempt: finished, or back into the queue. */
static void after_attempt(struct worker *w, int64_t id, int attempt, struct build_result *res)
{
	struct db *db = w->ctx->state->db;
	const char *status = build_status_name(res->status);

	if (res->status == BUILD_CANCELLED && w->stopped_by_daemon) {
		queue_attempt_end(db, id, attempt, "cancelled", "mayflyd stopped; queued again");
		queue_requeue(db, id, 1);
		log_info("build %lld: interrupted by mayflyd's stop, queued again", (long long)id);
		return;
	}
	queue_attempt_end(db, id, attempt, status, res->error);
	if (res->status == BUILD_INFRA_ERROR && attempt <= w->s->cfg.infra_retries) {
		queue_requeue(db, id, 0);
		log_info("build %lld: attempt %d failed (%s); queued again, %d attempt%s left",
			 (long long)id, attempt, res->error ? res->error : "infrastructure",
			 w->s->cfg.infra_retries - attempt + 1,
			 w->s->cfg.infra_retries - attempt + 1 == 1 ? "" : "s");
		scheduler_wake(w->s);
		return;
	}
	pipeline_finish(w->ctx, res);
	log_info("build %lld %s after %d attempt%s", (long long)id, status, attempt,
		 attempt == 1 ? "" : "s");
}

static void run_attempt(struct worker *w, int64_t id, int attempt)
{
	struct db *db = w->ctx->state->db;
	struct build_record *rec = NULL;
	struct build_result res;
	char **recipes = NULL, **names = NULL, **inputs = NULL;
	size_t nrecipes = 0, ninputs = 0;

	memset(&res, 0, sizeof(res));
	if (builds_get(db, id, &rec) < 0) {
		log_warnx("build %lld: %s", (long long)id, mf_error_msg());
		queue_requeue(db, id, 1);
		return;
	}
	recipes = split_words(rec->recipes, &nrecipes);
	names = split_words(rec->inputs, &ninputs);
	inputs = xcalloc(ninputs + 1, sizeof(char *));
	for (size_t i = 0; i < ninputs; i++)
		inputs[i] = xasprintf("%s/%lld/inputs/%s", w->ctx->state->builds_dir,
				      (long long)id, names[i]);
	struct build_request req = {
		.image = rec->image,
		.recipes = recipes,
		.nrecipes = nrecipes,
		.inputs = inputs,
		.ninputs = ninputs,
		.timeout_s = rec->timeout,
		.idle_timeout_s = w->s->cfg.idle_timeout,
		.cancel = &w->cancel,
		.build_id = id,
		.attempt = attempt,
		.defer_finish = 1,
	};
	struct build_events ev = { .phase = on_phase, .payload = w };
	log_info("build %lld: attempt %d on worker %d (image %s: %s)", (long long)id, attempt,
		 w->index, rec->image, rec->recipes);
	if (pipeline_run(w->ctx, &req, &ev, &res) < 0) {
		/* The request no longer holds: image removed, quarantined meanwhile... */
		if (mf_error_class() == MF_E_CONFLICT) {
			queue_requeue(db, id, 1); /* waits for 'vmctl image clear' */
		} else {
			queue_attempt_end(db, id, attempt, "failed", mf_error_msg());
			builds_finish(db, id, BUILD_FAILED, -1, mf_error_msg());
		}
		log_info("build %lld: %s", (long long)id, mf_error_msg());
	} else {
		after_attempt(w, id, attempt, &res);
	}
	build_result_release(&res);
	mf_strv_free(recipes);
	mf_strv_free(names);
	mf_strv_free(inputs);
	build_record_free(rec);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct scheduler *s = w->s;

	for (;;) {
		int64_t id;
		int attempt, rc, low;

		pthread_mutex_lock(&s->lock);
		if (s->stopping) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		low = s->disk_low;
		pthread_mutex_unlock(&s->lock);
		rc = low ? 0 : queue_claim(w->ctx->state->db, &id, &attempt);
		if (rc < 0)
			log_warnx("worker %d: %s", w->index, mf_error_msg());
		if (rc <= 0) {
			pthread_mutex_lock(&s->lock);
			if (!s->stopping)
				timed_wait(s, IDLE_WAIT_MS);
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		w->current = id;
		w->cancel = s->stopping;
		w->stopped_by_daemon = s->stopping;
		s->running++;
		pthread_mutex_unlock(&s->lock);

		run_attempt(w, id, attempt);

		pthread_mutex_lock(&s->lock);
		w->current = 0;
		s->running--;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static int disk_low(struct scheduler *s)
{
	struct statvfs v;

	if (s->cfg.disk_reserve_mb <= 0 || statvfs(s->mctx->state->pool_dir, &v) < 0)
		return 0;
	return (uint64_t)v.f_bavail * v.f_frsize / (1024 * 1024) < (uint64_t)s->cfg.disk_reserve_mb;
}

/* Looks at the pool's free disk and says so when that changes. Call unlocked. */
static void update_disk_low(struct scheduler *s)
{
	int low = disk_low(s);

	pthread_mutex_lock(&s->lock);
	if (low != s->disk_low)
		log_warnx(low ? "less than %d MiB free for the pool: no new machines start" :
				"the pool has %d MiB free again: machines start",
			  s->cfg.disk_reserve_mb);
	s->disk_low = low;
	pthread_mutex_unlock(&s->lock);
}

/* Forwards cancel requests to workers; watches the pool's free disk. */
static void *monitor_main(void *arg)
{
	struct scheduler *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		for (int i = 0; i < s->nworkers; i++) {
			struct worker *w = &s->workers[i];
			int64_t id = w->current;
			if (!id || w->cancel)
				continue;
			pthread_mutex_unlock(&s->lock);
			int yes = queue_cancel_requested(s->mctx->state->db, id);
			pthread_mutex_lock(&s->lock);
			if (yes > 0 && w->current == id) {
				log_info("build %lld: cancel requested", (long long)id);
				w->cancel = 1;
			}
		}
		pthread_mutex_unlock(&s->lock);
		update_disk_low(s);
		pthread_mutex_lock(&s->lock);
		if (!s->stopping)
			timed_wait(s, MONITOR_INTERVAL_MS);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int open_ctx(const struct mf_config *cfg, struct mf_ctx **out)
{
	struct mf_config copy;

	config_copy(&copy, cfg);
	if (ctx_open(out, &copy) < 0) {
		config_release(&copy);
		return -1;
	}
	return 0;
}

int scheduler_start(struct scheduler **out, const struct mf_config *cfg)
{
	struct scheduler *s = xcalloc(1, sizeof(*s));
	int started = 0;

	*out = NULL;
	config_copy(&s->cfg, cfg);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->nworkers = cfg->max_vms;
	s->workers = xcalloc((size_t)s->nworkers, sizeof(*s->workers));
	if (open_ctx(cfg, &s->mctx) < 0)
		goto fail;
	for (int i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		w->s = s;
		w->index = i + 1;
		if (open_ctx(cfg, &w->ctx) < 0)
			goto fail;
	}
	update_disk_low(s); /* before any worker claims a build */
	if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0) {
		mf_error(MF_E_INFRA, "cannot start the scheduler's monitor thread");
		goto fail;
	}
	for (; started < s->nworkers; started++) {
		if (pthread_create(&s->workers[started].thread, NULL, worker_main,
				   &s->workers[started]) != 0) {
			mf_error(MF_E_INFRA, "cannot start worker %d", started + 1);
			break;
		}
	}
	if (started < s->nworkers) {
		s->nworkers = started; /* join those that did start */
		scheduler_stop(s, 0);
		return -1;
	}
	*out = s;
	return 0;
fail:
	for (int i = 0; i < s->nworkers; i++)
		ctx_free(s->workers[i].ctx);
	ctx_free(s->mctx);
	free(s->workers);
	config_release(&s->cfg);
	free(s);
	return -1;
}

void scheduler_wake(struct scheduler *s)
{
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void scheduler_cancel(struct scheduler *s, int64_t id)
{
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nworkers; i++)
		if (s->workers[i].current == id)
			s->workers[i].cancel = 1;
	pthread_mutex_unlock(&s->lock);
}

int scheduler_running(struct scheduler *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->running;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int scheduler_disk_low(struct scheduler *s)
{
	int low;

	pthread_mutex_lock(&s->lock);
	low = s->disk_low;
	pthread_mutex_unlock(&s->lock);
	return low;
}

void scheduler_stop(struct scheduler *s, int drain)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	if (!drain) {
		for (int i = 0; i < s->nworkers; i++) {
			if (s->workers[i].current) {
				s->workers[i].stopped_by_daemon = 1;
				s->workers[i].cancel = 1;
			}
		}
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i].thread, NULL);
	pthread_join(s->monitor, NULL);
	for (int i = 0; i < s->nworkers; i++)
		ctx_free(s->workers[i].ctx);
	for (int i = s->nworkers; i < s->cfg.max_vms; i++)
		ctx_free(s->workers[i].ctx);
	ctx_free(s->mctx);
	free(s->workers);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	config_release(&s->cfg);
	free(s);
}
