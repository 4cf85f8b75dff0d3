/* scheduler.c - see scheduler.h. */
#include "daemon/scheduler.h"

#include <stdatomic.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "build/pipeline.h"
#include "buildrun/buildrun.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/attempt.h"
#include "daemon/warm.h"
#include "machine/host.h"
#include "store/queue.h"
#include "store/state.h"

#define MONITOR_INTERVAL_MS 500
#define IDLE_WAIT_MS 1000	/* a worker looks at the queue at least this often */

struct worker {
	struct scheduler *s;
	pthread_t thread;
	int index;
	struct mf_state *state;	/* its own database connection */
	struct host *host;	/* its own libvirt connection */
	struct build_env env;
	atomic_int cancel;	/* asks the running build to end */
	int64_t current;	/* the build it runs; 0 when idle (under s->lock) */
};

struct scheduler {
	struct mf_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_int stopping;	/* set under lock; read by attempts without it */
	int draining;		/* no more claims; running builds go on */
	int running;
	int disk_low;
	struct worker *workers;
	int nworkers;
	pthread_t monitor;
	struct mf_state *mstate; /* the monitor's own connection */
	struct warm_pool *warm;
};

static void timed_wait(struct scheduler *s, int ms)
{
	mf_cond_wait_ms(&s->cond, &s->lock, ms);
}

/* A build of a build run started or ended: the run catches up (and queues what it can). */
static void build_changed(void *payload, int64_t build)
{
	struct worker *w = payload;
	char slot[24];

	/* status.json's builders are the machine slots: a worker is one. */
	snprintf(slot, sizeof(slot), "vm-%d", w->index);
	if (buildrun_build_changed(w->state, build, slot) < 0)
		log_warnx("build %lld: %s", (long long)build, mf_error_msg());
	else
		scheduler_wake(w->s);
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
		low = s->disk_low || s->draining;
		pthread_mutex_unlock(&s->lock);
		rc = low ? 0 : queue_claim_fair(w->state->db, s->cfg.pr_max_vms, &id, &attempt);
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
		s->running++;
		pthread_mutex_unlock(&s->lock);

		struct attempt a = {
			.env = &w->env,
			.id = id,
			.n = attempt,
			.max_attempts = s->cfg.infra_retries + 1,
			.idle_timeout = s->cfg.idle_timeout,
			.cancel = &w->cancel,
			.stopping = &s->stopping,
			.worker = w->index,
			.changed = build_changed,
			.payload = w,
		};
		attempt_run(&a);

		pthread_mutex_lock(&s->lock);
		w->current = 0;
		s->running--;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		warm_kick(s->warm); /* its room is free again */
	}
	return NULL;
}

static struct machine *take_warm(void *arg, const char *image, struct db *db,
				 atomic_int *cancel)
{
	struct scheduler *s = arg;

	return warm_take(s->warm, image, db, cancel);
}

static int running_cb(void *arg)
{
	return scheduler_running(arg);
}

/* No machine starts ahead of demand while none may start for a build either. */
static int paused_cb(void *arg)
{
	struct scheduler *s = arg;
	int paused;

	pthread_mutex_lock(&s->lock);
	paused = s->disk_low || s->draining || s->stopping;
	pthread_mutex_unlock(&s->lock);
	return paused;
}

static int disk_low(struct scheduler *s)
{
	struct statvfs v;

	if (s->cfg.disk_reserve_mb <= 0 || statvfs(s->mstate->pool_dir, &v) < 0)
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
			int yes = queue_cancel_requested(s->mstate->db, id);
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

static int open_worker(struct scheduler *s, struct worker *w)
{
	if (state_open(&w->state, s->cfg.state_dir) < 0 ||
	    host_open(&w->host, s->cfg.libvirt_uri, s->cfg.accel, w->state) < 0)
		return -1;
	build_env_init(&w->env, &s->cfg, w->state, w->host);
	w->env.take_machine = take_warm;
	w->env.take_arg = s;
	return 0;
}

static void close_workers(struct scheduler *s, int n)
{
	for (int i = 0; i < n; i++) {
		host_close(s->workers[i].host);
		state_free(s->workers[i].state);
	}
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
	if (state_open(&s->mstate, cfg->state_dir) < 0)
		goto fail;
	for (int i = 0; i < s->nworkers; i++) {
		struct worker *w = &s->workers[i];
		w->s = s;
		w->index = i + 1;
		if (open_worker(s, w) < 0)
			goto fail;
	}
	update_disk_low(s); /* before any worker claims a build */
	if (warm_start(&s->warm, cfg, running_cb, paused_cb, s) < 0)
		goto fail;
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
	warm_free(s->warm);
	close_workers(s, s->nworkers);
	state_free(s->mstate);
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

int scheduler_warm(struct scheduler *s, struct report_warm **out, size_t *n)
{
	return warm_counts(s->warm, out, n);
}

int scheduler_disk_low(struct scheduler *s)
{
	int low;

	pthread_mutex_lock(&s->lock);
	low = s->disk_low;
	pthread_mutex_unlock(&s->lock);
	return low;
}

void scheduler_drain(struct scheduler *s)
{
	pthread_mutex_lock(&s->lock);
	s->draining = 1;
	pthread_mutex_unlock(&s->lock);
}

void scheduler_stop(struct scheduler *s, int drain)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	if (!drain) {
		for (int i = 0; i < s->nworkers; i++) {
			if (s->workers[i].current)
				s->workers[i].cancel = 1;
		}
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* No build takes a pool machine from now on; the ready ones go. */
	warm_halt(s->warm);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i].thread, NULL);
	pthread_join(s->monitor, NULL);
	warm_free(s->warm);
	close_workers(s, s->cfg.max_vms); /* also those whose thread did not start */
	state_free(s->mstate);
	free(s->workers);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	config_release(&s->cfg);
	free(s);
}
