/* poller.c - see poller.h. */
#include "daemon/poller.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buildrun/buildrun.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/scheduler.h"
#include "ports/tree.h"
#include "ports/update.h"
#include "store/builds.h"
#include "store/queue.h"
#include "store/state.h"
#include "store/trees.h"

struct poller {
	struct mf_config cfg;
	struct scheduler *sched;
	struct mf_state *st;	/* the poller's own connection */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
};

/*
 * The plan's ports as a build run (the ports they need join it); those
 * that can start are queued now, the others as packages are harvested. A
 * port lost at planning is recorded as failed for the next update. 0, or
 * -1 (nothing queued; the update is tried again later).
 */
static int queue_plan(struct poller *p, const struct tree *t, const struct update_plan *plan)
{
	char **ports = xcalloc(plan->n + 1, sizeof(char *));
	struct buildrun *r = NULL;
	int64_t waiting = 0;
	int queued = 0, ret = -1;

	for (size_t i = 0; i < plan->n; i++)
		ports[i] = plan->v[i].port;
	if (queue_waiting(p->st->db, &waiting) < 0)
		goto out;
	if (waiting + (int64_t)plan->n > p->cfg.queue_max) {
		mf_error(MF_E_INFRA, "the queue has no room for %zu builds", plan->n);
		goto out;
	}
	struct plan_opts po = {
		.tree = t->name, .commit = plan->to, .image = t->update_image, .ports = ports,
		.kind = "update", .slots = p->cfg.max_vms, .source = "update",
		.requested_by = "update",
	};
	if (buildrun_plan(p->st, &po, &r) < 0)
		goto out;
	for (size_t i = 0; i < r->nports; i++)
		if (r->ports[i].state == BR_LOST &&
		    update_record(p->st->db, t->name, r->ports[i].port, plan->to, 0, 0,
				  r->ports[i].reason) < 0)
			log_warnx("tree %s: %s", t->name, mf_error_msg());
	if (buildrun_advance(p->st, r->id, &queued) < 0)
		goto out;
	log_info("tree %s: build run %lld at %.12s, %zu port%s, %d queued now", t->name,
		 (long long)r->id, plan->to, r->nports, r->nports == 1 ? "" : "s", queued);
	for (size_t i = 0; i < plan->n; i++)
		log_info("tree %s: port %s (%s%s)", t->name, plan->v[i].port,
			 plan->v[i].trigger ? "changed: " : "retry: ",
			 plan->v[i].trigger ? plan->v[i].trigger : plan->v[i].retry);
	scheduler_wake(p->sched);
	ret = 0;
out:
	buildrun_free(r);
	free(ports);
	return ret;
}

static void poll_tree(struct poller *p, const char *name)
{
	struct tree *t = NULL;
	struct update_plan plan;

	memset(&plan, 0, sizeof(plan));
	if (tree_sync(p->st, name, &t) < 0) {
		log_warnx("%s (the tree keeps its last good state)", mf_error_msg());
		return;
	}
	if (!t->update_image || !t->head)
		goto out;
	if (!t->processed) {
		if (trees_set_processed(p->st->db, name, t->head) == 0)
			log_info("tree %s: updates start at %.12s (nothing built for the commits "
				 "before)", name, t->head);
		goto out;
	}
	if (!strcmp(t->processed, t->head))
		goto out;
	struct update_opts o = { .tree = name, .image = t->update_image, .to = t->head };
	if (update_plan(p->st, &o, &plan) < 0) {
		log_warnx("tree %s: update to %.12s: %s (tried again at the next poll)", name,
			  t->head, mf_error_msg());
		goto out;
	}
	for (const char *s = plan.skipped; s && *s;) {
		size_t len = strcspn(s, "\n");
		log_info("tree %s: skipped %.*s", name, (int)len, s);
		s += len;
		s += *s == '\n';
	}
	if (plan.n && queue_plan(p, t, &plan) < 0) {
		log_warnx("tree %s: update to %.12s: %s (tried again at the next poll)", name,
			  t->head, mf_error_msg());
		goto out;
	}
	if (update_done(p->st->db, name, &plan) < 0)
		log_warnx("tree %s: %s", name, mf_error_msg());
	else
		log_info("tree %s: %.12s..%.12s processed, %zu port%s queued", name, plan.from,
			 plan.to, plan.n, plan.n == 1 ? "" : "s");
out:
	update_plan_release(&plan);
	tree_free(t);
}

static void *poller_main(void *arg)
{
	struct poller *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		struct tree **v = NULL;
		size_t n = 0;
		pthread_mutex_unlock(&p->lock);
		if (trees_list(p->st->db, &v, &n) < 0)
			log_warnx("poller: %s", mf_error_msg());
		for (size_t i = 0; i < n; i++) {
			pthread_mutex_lock(&p->lock);
			int stop = p->stopping;
			pthread_mutex_unlock(&p->lock);
			if (stop)
				break;
			poll_tree(p, v[i]->name);
		}
		trees_list_free(v, n);
		pthread_mutex_lock(&p->lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += p->cfg.poll_interval;
		while (!p->stopping &&
		       pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int poller_start(struct poller **out, const struct mf_config *cfg, struct scheduler *sched)
{
	struct poller *p;

	*out = NULL;
	if (cfg->poll_interval <= 0)
		return 0;
	p = xcalloc(1, sizeof(*p));
	config_copy(&p->cfg, cfg);
	p->sched = sched;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (state_open(&p->st, cfg->state_dir) < 0)
		goto fail;
	if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
		mf_error(MF_E_INFRA, "cannot start the tree poller");
		goto fail;
	}
	*out = p;
	return 0;
fail:
	state_free(p->st);
	config_release(&p->cfg);
	free(p);
	return -1;
}

void poller_stop(struct poller *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	state_free(p->st);
	config_release(&p->cfg);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
