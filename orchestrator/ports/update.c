/* update.c - see update.h. */
#include "ports/update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "ports/changes.h"
#include "ports/port.h"
#include "ports/tree.h"
#include "store/db.h"
#include "store/images.h"
#include "store/state.h"
#include "store/trees.h"

/* "zlib-1.3.2" -> "zlib" (a port name has no dash). */
static char *name_of(const char *versioned)
{
	return xstrndup(versioned, strcspn(versioned, "-"));
}

static void add(struct update_plan *p, const char *port, const char *trigger, const char *retry)
{
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n].port = xstrdup(port);
	p->v[p->n].name = name_of(port);
	p->v[p->n].trigger = trigger ? xstrdup(trigger) : NULL;
	p->v[p->n].retry = retry ? xstrdup(retry) : NULL;
	p->n++;
}

static int planned(const struct update_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].name, name))
			return 1;
	return 0;
}

/* Failed ports since: their active version at the plan's commit. */
static int add_retries(const struct port_ctx *c, const char *tree, struct update_plan *p,
		       struct strbuf *skip)
{
	struct tree_retry *r = NULL;
	size_t nr = 0;

	if (trees_retries(c->db, tree, &r, &nr) < 0)
		return -1;
	for (size_t i = 0; i < nr; i++) {
		struct port *port = NULL;
		if (planned(p, r[i].port))
			continue;
		if (port_resolve(c, r[i].port, &port) < 0) {
			if (mf_error_class() != MF_E_USAGE) {
				tree_retries_free(r, nr);
				return -1;
			}
			strbuf_addf(skip, "%s: not retried, %s\n", r[i].port, mf_error_msg());
			mf_error_clear();
			p->dropped = xrealloc(p->dropped, (mf_strv_len(p->dropped) + 2) *
							  sizeof(char *));
			size_t k = mf_strv_len(p->dropped);
			p->dropped[k] = xstrdup(r[i].port);
			p->dropped[k + 1] = NULL;
			continue;
		}
		char *why = xasprintf("build %lld failed at %.12s%s%s", (long long)r[i].build_id,
				      r[i].commit, r[i].reason ? ": " : "",
				      r[i].reason ? r[i].reason : "");
		add(p, port->versioned_name, NULL, why);
		free(why);
		port_free(port);
	}
	tree_retries_free(r, nr);
	return 0;
}

int update_plan(struct mf_state *st, const struct update_opts *o, struct update_plan *p)
{
	struct tree *t = NULL;
	struct image *img = NULL;
	struct mirror *m = NULL;
	struct port_index *idx = NULL;
	struct change *ch = NULL;
	struct strbuf skip = STRBUF_INIT;
	char *skipped = NULL;
	size_t nch = 0;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	if (images_get(st->db, o->image, &img) < 0 ||
	    tree_resolve(st, o->tree, o->to, o->sync, p->to) < 0 ||
	    trees_get(st->db, o->tree, &t) < 0)
		goto out;
	if (o->from) {
		if (tree_resolve(st, o->tree, o->from, 0, p->from) < 0)
			goto out;
	} else if (t->processed) {
		snprintf(p->from, sizeof(p->from), "%s", t->processed);
	} else {
		ret = 0; /* the first update: it starts here */
		goto out;
	}
	if (tree_mirror(st, t, &m) < 0)
		goto out;
	if (o->pull_request && mirror_merge_base(m, p->from, p->to, p->from) < 0)
		goto out;
	if (port_index_build(m, p->to, &idx) < 0)
		goto out;
	struct recipe_env env;
	struct port_ctx c;
	port_ctx_init(&c, &env, st->db, m, p->to, idx, img, t);
	if (strcmp(p->from, p->to)) {
		if (!mirror_has_commit(m, p->from)) {
			mf_error(MF_E_USAGE, "tree '%s' does not have its last processed commit %s any "
				 "more (was the branch rewritten?): give --from", o->tree, p->from);
			goto out;
		}
		if (changes_ports(&c, p->from, &ch, &nch, &skipped) < 0)
			goto out;
		for (size_t i = 0; i < nch; i++)
			add(p, ch[i].port, ch[i].file, NULL);
		if (skipped)
			strbuf_addstr(&skip, skipped);
	}
	if (!o->pull_request && add_retries(&c, o->tree, p, &skip) < 0)
		goto out;
	if (skip.len)
		p->skipped = strbuf_detach(&skip);
	ret = 0;
out:
	if (ret < 0)
		update_plan_release(p);
	strbuf_release(&skip);
	free(skipped);
	changes_free(ch, nch);
	port_index_free(idx);
	mirror_close(m);
	image_free(img);
	tree_free(t);
	return ret;
}

void update_plan_release(struct update_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].port);
		free(p->v[i].name);
		free(p->v[i].trigger);
		free(p->v[i].retry);
	}
	free(p->v);
	free(p->skipped);
	mf_strv_free(p->dropped);
	memset(p, 0, sizeof(*p));
}

int update_done(struct db *db, const char *tree, const struct update_plan *p)
{
	if (db_begin(db) < 0)
		return -1;
	for (size_t i = 0; p->dropped && p->dropped[i]; i++)
		if (trees_retry_clear(db, tree, p->dropped[i]) < 0)
			goto rollback;
	if (trees_set_processed(db, tree, p->to) < 0 || db_commit(db) < 0)
		goto rollback;
	return 0;
rollback:
	db_rollback(db);
	return -1;
}

int update_record(struct db *db, const char *tree, const char *port, const char *commit,
		  int64_t build_id, int succeeded, const char *error)
{
	char *name = name_of(port);
	int ret;

	if (succeeded) {
		ret = trees_retry_clear(db, tree, name);
	} else {
		struct tree_retry r = {
			.port = name, .commit = (char *)commit, .build_id = build_id,
			.reason = (char *)error,
		};
		ret = trees_retry_add(db, tree, &r);
	}
	free(name);
	return ret;
}
