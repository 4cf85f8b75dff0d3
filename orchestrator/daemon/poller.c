/* poller.c - see poller.h. */
#include "daemon/poller.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buildrun/buildrun.h"
#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/scheduler.h"
#include "daemon/ticker.h"
#include "ports/tree.h"
#include "ports/update.h"
#include "store/builds.h"
#include "store/queue.h"
#include "store/state.h"
#include "store/trees.h"

struct poller {
	struct ticker *ticker;
	struct scheduler *sched;
};

/* What one round works with: the ticker's connection and settings. */
struct round {
	struct mf_state *st;
	const struct mf_config *cfg;
	struct scheduler *sched;
};

/*
 * The plan's ports as a build run (the ports they need join it); those
 * that can start are queued now, the others as packages are harvested. A
 * port lost at planning is recorded as failed for the next update. 0, or
 * -1 (nothing queued; the update is tried again later).
 */
static int queue_plan(struct round *p, const struct tree *t, const struct update_plan *plan)
{
	char **ports = xcalloc(plan->n + 1, sizeof(char *));
	struct buildrun *r = NULL;
	int64_t waiting = 0;
	int queued = 0, ret = -1;

	for (size_t i = 0; i < plan->n; i++)
		ports[i] = plan->v[i].port;
	if (queue_waiting(p->st->db, &waiting) < 0)
		goto out;
	if (waiting + (int64_t)plan->n > p->cfg->queue_max) {
		mf_error(MF_E_INFRA, "the queue has no room for %zu builds", plan->n);
		goto out;
	}
	struct plan_opts po = {
		.tree = t->name, .commit = plan->to, .image = t->update_image, .ports = ports,
		.kind = "update", .slots = p->cfg->max_vms, .source = "update",
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

/* A poll and a pushed webhook never update one tree at once (and so never
 * plan one commit twice: the second finds it processed). */
static pthread_mutex_t update_lock = PTHREAD_MUTEX_INITIALIZER;

static void poll_tree_locked(struct round *p, const char *name);

static void poll_tree(struct round *p, const char *name)
{
	pthread_mutex_lock(&update_lock);
	poll_tree_locked(p, name);
	pthread_mutex_unlock(&update_lock);
}

void poller_update_tree(struct mf_state *st, const struct mf_config *cfg,
			struct scheduler *sched, const char *tree)
{
	struct round p = { .st = st, .cfg = cfg, .sched = sched };
	poll_tree(&p, tree);
}

static void poll_tree_locked(struct round *p, const char *name)
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

static int poll_round(struct ticker *tk, struct mf_state *st, const struct mf_config *cfg,
		      void *arg)
{
	struct poller *pl = arg;
	struct round p = { .st = st, .cfg = cfg, .sched = pl->sched };
	struct tree **v = NULL;
	size_t n = 0;

	if (trees_list(st->db, &v, &n) < 0)
		log_warnx("poller: %s", mf_error_msg());
	for (size_t i = 0; i < n && !ticker_stopping(tk); i++)
		poll_tree(&p, v[i]->name);
	trees_list_free(v, n);
	return cfg->poll_interval;
}

int poller_start(struct poller **out, const struct mf_config *cfg, struct scheduler *sched)
{
	struct poller *p;

	*out = NULL;
	if (cfg->poll_interval <= 0)
		return 0;
	p = xcalloc(1, sizeof(*p));
	p->sched = sched;
	if (ticker_start(&p->ticker, "tree poller", cfg, poll_round, p) < 0) {
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void poller_stop(struct poller *p)
{
	if (!p)
		return;
	ticker_stop(p->ticker);
	free(p);
}
