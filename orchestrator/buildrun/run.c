/*
 * run.c - a planned build run run in this process (see buildrun.h): one
 * thread per machine slot, each with its own state database connection and
 * libvirt connection, taking the first scheduled port under one lock.
 */
#include "buildrun/buildrun.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/pipeline.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "machine/host.h"
#include "store/builds.h"
#include "store/pkgindex.h"
#include "store/state.h"

struct runner {
	struct buildrun *r;
	const struct run_opts *o;
	struct mf_state *st;	/* the caller's: saves and status, under the lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int active;
	int stop;		/* cancelled, or a slot could not start */
	char run[32];		/* the index origin of its packages: "run:ID" */
};

struct slot {
	struct runner *rn;
	int n;			/* 1, 2, ... */
	pthread_t thread;
	struct mf_state *st;	/* its own connections, opened before the threads start */
	struct host *host;
};

static void save_all(struct runner *rn)
{
	for (size_t i = 0; i < rn->r->nports; i++)
		if (buildruns_save_port(rn->st->db, rn->r->id, &rn->r->ports[i]) < 0)
			log_warnx("build run %lld: %s", (long long)rn->r->id, mf_error_msg());
	if (buildruns_save(rn->st->db, rn->r) < 0 || buildrun_publish_status(rn->st, rn->r) < 0)
		log_warnx("build run %lld: %s", (long long)rn->r->id, mf_error_msg());
}

static void set_status(struct runner *rn)
{
	struct buildrun *r = rn->r;
	int scheduled = 0, blocked = 0;

	for (size_t i = 0; i < r->nports; i++) {
		scheduled += r->ports[i].state == BR_SCHEDULED;
		blocked += r->ports[i].state == BR_BLOCKED;
	}
	free(r->status);
	if (scheduled && rn->active >= r->slots)
		r->status = xstrdup("waiting for available builders");
	else if (!scheduled && blocked)
		r->status = xstrdup("waiting for packages");
	else
		r->status = xstrdup("starting builds");
}

static ssize_t next_scheduled(const struct buildrun *r)
{
	for (size_t i = 0; i < r->nports; i++)
		if (r->ports[i].state == BR_SCHEDULED)
			return (ssize_t)i;
	return -1;
}

static void *slot_main(void *arg)
{
	struct slot *s = arg;
	struct runner *rn = s->rn;
	struct buildrun *r = rn->r;
	const struct run_opts *o = rn->o;
	struct build_env env;

	build_env_init(&env, o->cfg, s->st, s->host);
	pthread_mutex_lock(&rn->lock);
	for (;;) {
		if (rn->stop || (o->cancel && atomic_load(o->cancel)))
			break;
		ssize_t i = next_scheduled(r);
		if (i < 0) {
			if (rn->active == 0)
				break; /* nothing runs, nothing can start */
			pthread_cond_wait(&rn->cond, &rn->lock);
			continue;
		}
		struct br_port *p = &r->ports[i];
		p->state = BR_ACTIVE;
		free(p->slot);
		p->slot = xasprintf("vm-%d", s->n);
		rn->active++;
		set_status(rn);
		save_all(rn);
		if (o->ev && o->ev->started)
			o->ev->started(o->ev->payload, p, s->n);
		struct build_request req = {
			.image = r->image,
			.tree = r->tree,
			.commit = r->commit,
			.port = p->port,
			.run = rn->run + 4,
			.out_dir = o->out_dir,
			.timeout_s = o->timeout_s,
			.cancel = o->cancel,
		};
		struct build_result res;
		pthread_mutex_unlock(&rn->lock);
		int rc = pipeline_run(&env, &req, r->slots == 1 ? o->build_ev : NULL, &res);
		pthread_mutex_lock(&rn->lock);
		rn->active--;
		p = &r->ports[i];	/* its slot stays: the record names the builder */
		if (rc < 0) {
			/* Not started: the port's own problem at this commit. */
			memset(&res, 0, sizeof(res));
			res.status = BUILD_FAILED;
			res.error = xstrdup(mf_error_msg());
			res.exit_code = -1;
		}
		p->build_id = res.id;
		if (res.status == BUILD_SUCCEEDED) {
			p->state = BR_COMPLETE;
			buildrun_index_packages(rn->st, r->id, res.packages, res.npackages);
			buildrun_unblock(r, p);
		} else {
			p->state = BR_FAILED;
			free(p->reason);
			p->reason = xstrdup(res.error ? res.error : build_status_name(res.status));
			buildrun_lose_dependents(r);
		}
		set_status(rn);
		save_all(rn);
		if (o->ev && o->ev->ended)
			o->ev->ended(o->ev->payload, p, &res);
		build_result_release(&res);
		pthread_cond_broadcast(&rn->cond);
	}
	pthread_cond_broadcast(&rn->cond);
	pthread_mutex_unlock(&rn->lock);
	return NULL;
}

int buildrun_run(struct mf_state *st, struct buildrun *r, const struct run_opts *o)
{
	struct runner rn = { .r = r, .o = o, .st = st };
	struct slot *slots;
	int n = r->slots > 0 ? r->slots : 1, started = 0, failures = 0;

	snprintf(rn.run, sizeof(rn.run), "run:%lld", (long long)r->id);
	pthread_mutex_init(&rn.lock, NULL);
	pthread_cond_init(&rn.cond, NULL);
	if (r->start == 0)
		r->start = (double)mf_wall_seconds();
	pthread_mutex_lock(&rn.lock);
	set_status(&rn);
	save_all(&rn);
	pthread_mutex_unlock(&rn.lock);
	slots = xcalloc((size_t)n, sizeof(*slots));
	/* Each slot's connections, one after another (libvirt's and glib's
	 * set-up is not meant to race), before any thread starts. */
	for (int i = 0; i < n; i++) {
		slots[i] = (struct slot){ .rn = &rn, .n = i + 1 };
		if (state_open(&slots[i].st, o->cfg->state_dir) < 0 ||
		    host_open(&slots[i].host, o->cfg->libvirt_uri, o->cfg->accel,
			      slots[i].st) < 0) {
			log_warnx("build run %lld, machine slot %d: %s", (long long)r->id, i + 1,
				  mf_error_msg());
			host_close(slots[i].host);
			state_free(slots[i].st);
			break;
		}
		if (pthread_create(&slots[i].thread, NULL, slot_main, &slots[i]) != 0) {
			host_close(slots[i].host);
			state_free(slots[i].st);
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(slots[i].thread, NULL);
		host_close(slots[i].host);
		state_free(slots[i].st);
	}
	free(slots);

	/* What could not start now never will in this run. */
	int cancelled = o->cancel && atomic_load(o->cancel);
	for (size_t i = 0; i < r->nports; i++) {
		struct br_port *p = &r->ports[i];
		if (p->state == BR_SCHEDULED || p->state == BR_BLOCKED) {
			p->state = BR_LOST;
			free(p->reason);
			p->reason = xstrdup(cancelled ? "the build run was interrupted" :
					    "waiting for packages no build of the run made");
		}
		failures += p->state == BR_FAILED || p->state == BR_LOST;
	}
	free(r->status);
	if (cancelled)
		r->status = xstrdup("aborted");
	else if (failures)
		r->status = xasprintf("complete (with %d failure%s)", failures,
				      failures == 1 ? "" : "s");
	else
		r->status = xstrdup("complete");
	r->end = (double)mf_wall_seconds();
	save_all(&rn);
	/* The run's packages leave the index with it (the build records keep them). */
	if (pkgindex_remove_origin(st->db, rn.run) < 0)
		log_warnx("build run %lld: %s", (long long)r->id, mf_error_msg());
	pthread_mutex_destroy(&rn.lock);
	pthread_cond_destroy(&rn.cond);
	return started ? 0 : mf_error(MF_E_INFRA, "no machine slot could start");
}
