/* advance.c - mayflyd's build runs, driven by its queue: see buildrun.h. */
#include "buildrun/buildrun.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "store/builds.h"
#include "store/pkgindex.h"
#include "store/queue.h"
#include "store/state.h"

static pthread_mutex_t advance_lock = PTHREAD_MUTEX_INITIALIZER;

static int is_final(const char *status)
{
	return strcmp(status, "accepted") && strcmp(status, "queued") && strcmp(status, "running");
}

void buildrun_index_packages(struct mf_state *st, int64_t run, const struct build_package *v,
			     size_t n)
{
	char origin[32];

	snprintf(origin, sizeof(origin), "run:%lld", (long long)run);
	for (size_t k = 0; k < n; k++) {
		struct hpkg_file f;
		if (hpkg_read_file(v[k].path, &f) < 0 ||
		    pkgindex_add(st->db, origin, &f.pkgs[0], v[k].path, (int64_t)v[k].size,
				 v[k].sha256) < 0)
			log_warnx("build run %lld: %s", (long long)run, mf_error_msg());
		hpkg_file_release(&f);
	}
}

/* Queues a scheduled port's build (queue_max does not apply: the run was accepted). */
static int queue_port(struct mf_state *st, const struct buildrun *r, struct br_port *p)
{
	char *ports[] = { p->port, NULL };
	int64_t id;
	struct queue_request qr = {
		.image = r->image, .tree = r->tree, .commit = r->commit, .ports = ports,
		.nports = 1, .source = r->source, .priority = r->priority, .timeout = r->timeout,
		.requested_by = r->requested_by, .buildrun = r->id,
	};
	if (queue_submit(st->db, &qr, 1 << 30, &id) != 0 || queue_commit(st->db, id, NULL) < 0)
		return -1;
	p->build_id = id;
	log_info("build %lld queued: build run %lld, port %s", (long long)id, (long long)r->id,
		 p->port);
	return 0;
}

static int advance_locked(struct mf_state *st, int64_t id, int64_t build, const char *slot,
			  int *queued)
{
	struct buildrun *r = NULL;
	int changed = 0, ret = -1;

	if (buildruns_get(st->db, id, &r) < 0)
		return -1;
	if (r->end > 0) {
		buildrun_free(r);
		return 0;
	}
	/* What the builds say. */
	for (int again = 1; again;) {
		again = 0;
		for (size_t i = 0; i < r->nports; i++) {
			struct br_port *p = &r->ports[i];
			if (!p->build_id || p->state == BR_COMPLETE || p->state == BR_FAILED ||
			    p->state == BR_LOST || p->state == BR_SKIPPED)
				continue;
			struct build_record *rec = NULL;
			if (builds_get(st->db, p->build_id, &rec) < 0)
				goto out;
			if (!strcmp(rec->status, "running") &&
			    (p->state != BR_ACTIVE || (slot && p->build_id == build))) {
				p->state = BR_ACTIVE;
				if (slot && p->build_id == build) {
					free(p->slot);
					p->slot = xstrdup(slot);
				}
				changed = 1;
			} else if (is_final(rec->status)) {
				if (!strcmp(rec->status, "succeeded")) {
					p->state = BR_COMPLETE;
					buildrun_index_packages(st, r->id, rec->packages, rec->npackages);
					buildrun_unblock(r, p);
				} else {
					p->state = BR_FAILED;
					free(p->reason);
					p->reason = xstrdup(rec->error ? rec->error : rec->status);
					buildrun_lose_dependents(r);
				}
				changed = again = 1;
			}
			build_record_free(rec);
		}
	}
	/* Scheduled ports without a build get one. */
	for (size_t i = 0; i < r->nports; i++) {
		struct br_port *p = &r->ports[i];
		if (p->state == BR_SCHEDULED && !p->build_id) {
			if (queue_port(st, r, p) < 0)
				goto out;
			if (queued)
				(*queued)++;
			changed = 1;
		}
	}
	/* Nothing left to run: the run ends. */
	int live = 0, failures = 0;
	for (size_t i = 0; i < r->nports; i++) {
		enum br_state s = r->ports[i].state;
		live += s == BR_SCHEDULED || s == BR_ACTIVE || s == BR_BLOCKED;
		failures += s == BR_FAILED || s == BR_LOST;
	}
	free(r->status);
	if (!live) {
		r->status = failures ? xasprintf("complete (with %d failure%s)", failures,
						 failures == 1 ? "" : "s") :
				       xstrdup("complete");
		r->end = (double)mf_wall_seconds();
		char origin[32];
		snprintf(origin, sizeof(origin), "run:%lld", (long long)r->id);
		if (pkgindex_remove_origin(st->db, origin) < 0)
			log_warnx("build run %lld: %s", (long long)r->id, mf_error_msg());
		log_info("build run %lld %s", (long long)r->id, r->status);
		changed = 1;
	} else {
		int active = 0, scheduled = 0;
		for (size_t i = 0; i < r->nports; i++) {
			active += r->ports[i].state == BR_ACTIVE;
			scheduled += r->ports[i].state == BR_SCHEDULED;
		}
		r->status = xstrdup(active || scheduled ? "starting builds" : "waiting for packages");
	}
	if (changed) {
		for (size_t i = 0; i < r->nports; i++)
			if (buildruns_save_port(st->db, r->id, &r->ports[i]) < 0)
				goto out;
		if (buildruns_save(st->db, r) < 0)
			goto out;
	}
	if (buildrun_publish_status(st, r) < 0)
		log_warnx("build run %lld: %s", (long long)r->id, mf_error_msg());
	ret = 0;
out:
	buildrun_free(r);
	return ret;
}

int buildrun_advance(struct mf_state *st, int64_t run, int *queued)
{
	return buildrun_advance_slot(st, run, 0, NULL, queued);
}

int buildrun_advance_slot(struct mf_state *st, int64_t run, int64_t build, const char *slot,
			  int *queued)
{
	if (queued)
		*queued = 0;
	pthread_mutex_lock(&advance_lock);
	int rc = advance_locked(st, run, build, slot, queued);
	pthread_mutex_unlock(&advance_lock);
	if (rc < 0)
		mf_error_wrap("build run %lld", (long long)run);
	return rc;
}

int buildrun_cancel(struct mf_state *st, int64_t id, const char *why, int64_t **cancelling,
		    size_t *n)
{
	struct buildrun *r = NULL;
	int ret = -1;

	*cancelling = NULL;
	*n = 0;
	pthread_mutex_lock(&advance_lock);
	if (buildruns_get(st->db, id, &r) < 0)
		goto out;
	ret = 0;
	if (r->end > 0)
		goto out;
	for (size_t i = 0; i < r->nports; i++) {
		struct br_port *p = &r->ports[i];
		char *state = NULL;
		if (p->build_id && queue_cancel(st->db, p->build_id, &state) == 0 && state &&
		    !strcmp(state, "cancelling")) {
			*cancelling = xrealloc(*cancelling, (*n + 1) * sizeof(**cancelling));
			(*cancelling)[(*n)++] = p->build_id;
		}
		free(state);
		if (p->state != BR_COMPLETE && p->state != BR_FAILED && p->state != BR_SKIPPED) {
			p->state = BR_LOST;
			free(p->reason);
			p->reason = xstrdup(why);
		}
		if (buildruns_save_port(st->db, r->id, p) < 0)
			goto out;
	}
	free(r->status);
	r->status = xstrdup(why);
	r->end = (double)mf_wall_seconds();
	char origin[32];
	snprintf(origin, sizeof(origin), "run:%lld", (long long)r->id);
	if (pkgindex_remove_origin(st->db, origin) < 0 || buildruns_save(st->db, r) < 0) {
		ret = -1;
		goto out;
	}
	log_info("build run %lld: %s", (long long)r->id, why);
	ret = 1;
out:
	pthread_mutex_unlock(&advance_lock);
	buildrun_free(r);
	return ret;
}

int buildrun_advance_open(struct mf_state *st)
{
	int64_t *ids;
	size_t n;
	int ret = 0;

	if (buildruns_open(st->db, &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (buildrun_advance(st, ids[i], NULL) < 0) {
			log_warnx("%s", mf_error_msg());
			ret = -1;
		}
	free(ids);
	return ret;
}

int buildrun_build_changed(struct mf_state *st, int64_t build, const char *slot)
{
	struct build_record *rec = NULL;
	int rc = 0;

	if (builds_get(st->db, build, &rec) < 0)
		return -1;
	if (rec->buildrun)
		rc = buildrun_advance_slot(st, rec->buildrun, build, slot, NULL);
	build_record_free(rec);
	return rc;
}
