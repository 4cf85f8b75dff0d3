/* buildruns.c - see buildruns.h. Lists are stored one entry per line. */
#include "store/buildruns.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "store/db.h"

static const char *const state_names[BR_NSTATES] = {
	"scheduled", "blocked", "active", "complete", "failed", "lost", "skipped",
};

const char *br_state_name(enum br_state s)
{
	return (unsigned)s < BR_NSTATES ? state_names[s] : "?";
}

static enum br_state state_of(const char *s)
{
	for (int i = 0; i < BR_NSTATES; i++)
		if (!strcmp(s, state_names[i]))
			return (enum br_state)i;
	return BR_LOST;
}

void br_port_release(struct br_port *p)
{
	free(p->port);
	free(p->name);
	free(p->version);
	free(p->recipe_path);
	free(p->reason);
	free(p->slot);
	mf_strv_free(p->makes);
	mf_strv_free(p->resulting);
	mf_strv_free(p->required);
	mf_strv_free(p->missing);
	memset(p, 0, sizeof(*p));
}

void buildrun_free(struct buildrun *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nports; i++)
		br_port_release(&r->ports[i]);
	free(r->ports);
	free(r->tree);
	free(r->commit);
	free(r->image);
	free(r->kind);
	free(r->status);
	free(r->source);
	free(r->requested_by);
	free(r);
}

static char *join(char *const *v)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; v && v[i]; i++)
		strbuf_addf(&sb, "%s%s", i ? "\n" : "", v[i]);
	return strbuf_detach(&sb);
}

static char **split(const char *s)
{
	char **v = xcalloc(1, sizeof(*v));
	size_t n = 0;

	while (s && *s) {
		const char *e = strchr(s, '\n');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		v = xrealloc(v, (n + 2) * sizeof(*v));
		v[n++] = xstrndup(s, len);
		v[n] = NULL;
		s = e ? e + 1 : s + len;
	}
	return v;
}

static int insert_port(struct db *db, int64_t run, int seq, const struct br_port *p)
{
	char *makes = join(p->makes), *res = join(p->resulting), *req = join(p->required),
	     *miss = join(p->missing);
	int rc = db_execf(db, "INSERT OR REPLACE INTO buildrun_ports (run, seq, port, name, version,"
			      " revision, recipe_path, state, reason, build_id, slot, makes,"
			      " resulting, required, missing)"
			      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			  "iitttitttnttttt", run, (int64_t)seq, p->port, p->name, p->version,
			  (int64_t)p->revision, p->recipe_path ? p->recipe_path : "",
			  br_state_name(p->state), p->reason, p->build_id ? p->build_id : -1,
			  p->slot, makes, res, req, miss);
	free(makes);
	free(res);
	free(req);
	free(miss);
	return rc;
}

int buildruns_insert(struct db *db, struct buildrun *r)
{
	if (db_begin(db) < 0)
		return -1;
	if (db_execf(db, "INSERT INTO buildruns (tree, commit_id, image, kind, status, start, slots,"
			 " source, priority, timeout, requested_by, pr) VALUES (?, ?, ?, ?, ?, ?, ?,"
			 " ?, ?, ?, ?, ?)", "tttttiitiitn", r->tree, r->commit, r->image, r->kind,
		     r->status, (int64_t)r->start, (int64_t)r->slots,
		     r->source ? r->source : "vmctl", (int64_t)r->priority, (int64_t)r->timeout,
		     r->requested_by, r->pr > 0 ? r->pr : -1) < 0)
		goto fail;
	r->id = db_last_insert_id(db);
	for (size_t i = 0; i < r->nports; i++)
		if (insert_port(db, r->id, (int)i, &r->ports[i]) < 0)
			goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return -1;
}

int buildruns_save_port(struct db *db, int64_t run, const struct br_port *p)
{
	struct db_stmt *st;
	int seq = 0, rc;

	if (db_prepare(db, &st, "SELECT seq FROM buildrun_ports WHERE run = ? AND port = ?") < 0)
		return -1;
	db_bind_int(st, 1, run);
	db_bind_text(st, 2, p->port);
	rc = db_step(st);
	if (rc == 1)
		seq = (int)db_col_int(st, 0);
	else
		seq = -1;
	db_finalize(st);
	if (rc < 0)
		return -1;
	if (seq < 0) {
		if (db_prepare(db, &st, "SELECT count(*) FROM buildrun_ports WHERE run = ?") < 0)
			return -1;
		db_bind_int(st, 1, run);
		rc = db_step(st);
		seq = rc == 1 ? (int)db_col_int(st, 0) : 0;
		db_finalize(st);
		if (rc < 0)
			return -1;
	}
	return insert_port(db, run, seq, p);
}

int buildruns_save(struct db *db, const struct buildrun *r)
{
	return db_execf(db, "UPDATE buildruns SET status = ?, start = ?, end = ? WHERE id = ?",
			"tiii", r->status, (int64_t)r->start, (int64_t)r->end, r->id);
}

#define RUN_COLUMNS "id, tree, commit_id, image, kind, status, start, end, slots, source, " \
	"priority, timeout, requested_by, pr"

static void *run_from_row(struct db_stmt *st)
{
	struct buildrun *r = xcalloc(1, sizeof(*r));

	r->id = db_col_int(st, 0);
	r->tree = xstrdup(db_col_text(st, 1));
	r->commit = xstrdup(db_col_text(st, 2));
	r->image = xstrdup(db_col_text(st, 3));
	r->kind = xstrdup(db_col_text(st, 4));
	r->status = xstrdup(db_col_text(st, 5));
	r->start = (double)db_col_int(st, 6);
	r->end = (double)db_col_int(st, 7);
	r->slots = (int)db_col_int(st, 8);
	r->source = xstrdup(db_col_text(st, 9));
	r->priority = (int)db_col_int(st, 10);
	r->timeout = (int)db_col_int(st, 11);
	r->requested_by = db_col_is_null(st, 12) ? NULL : xstrdup(db_col_text(st, 12));
	r->pr = db_col_is_null(st, 13) ? 0 : db_col_int(st, 13);
	return r;
}

int buildruns_get(struct db *db, int64_t id, struct buildrun **out)
{
	struct db_stmt *st;
	struct buildrun *r = NULL;
	int rc;

	*out = NULL;
	if (db_get_row(db, "SELECT " RUN_COLUMNS " FROM buildruns WHERE id = ?1", id, run_from_row,
		       (void **)&r) < 0)
		return -1;
	if (!r)
		return mf_error(MF_E_USAGE, "no build run %lld", (long long)id);
	if (db_prepare(db, &st, "SELECT port, name, version, revision, recipe_path, state, reason,"
				" build_id, slot, makes, resulting, required, missing"
				" FROM buildrun_ports WHERE run = ? ORDER BY seq") < 0) {
		buildrun_free(r);
		return -1;
	}
	db_bind_int(st, 1, id);
	while ((rc = db_step(st)) == 1) {
		r->ports = xrealloc(r->ports, (r->nports + 1) * sizeof(*r->ports));
		struct br_port *p = &r->ports[r->nports++];
		memset(p, 0, sizeof(*p));
		p->port = xstrdup(db_col_text(st, 0));
		p->name = xstrdup(db_col_text(st, 1));
		p->version = xstrdup(db_col_text(st, 2));
		p->revision = (int)db_col_int(st, 3);
		p->recipe_path = xstrdup(db_col_text(st, 4));
		p->state = state_of(db_col_text(st, 5));
		p->reason = db_col_is_null(st, 6) ? NULL : xstrdup(db_col_text(st, 6));
		p->build_id = db_col_is_null(st, 7) ? 0 : db_col_int(st, 7);
		p->slot = db_col_is_null(st, 8) ? NULL : xstrdup(db_col_text(st, 8));
		p->makes = split(db_col_text(st, 9));
		p->resulting = split(db_col_text(st, 10));
		p->required = split(db_col_text(st, 11));
		p->missing = split(db_col_text(st, 12));
	}
	db_finalize(st);
	if (rc < 0) {
		buildrun_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int buildruns_list(struct db *db, int limit, struct buildrun ***out, size_t *n)
{
	struct db_stmt *st;
	struct buildrun **v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " RUN_COLUMNS " FROM buildruns ORDER BY id DESC LIMIT ?") < 0)
		return -1;
	db_bind_int(st, 1, limit > 0 ? limit : -1);
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = run_from_row(st);
	}
	db_finalize(st);
	if (rc < 0) {
		buildruns_list_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void buildruns_list_free(struct buildrun **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buildrun_free(v[i]);
	free(v);
}

int buildruns_last(struct db *db, int64_t *id)
{
	struct db_stmt *st;
	int rc;

	*id = 0;
	if (db_prepare(db, &st, "SELECT max(id) FROM buildruns") < 0)
		return -1;
	rc = db_step(st);
	if (rc == 1 && !db_col_is_null(st, 0))
		*id = db_col_int(st, 0);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int buildruns_open(struct db *db, int64_t **ids, size_t *n)
{
	struct db_stmt *st;
	int64_t *v = NULL;
	size_t len = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT id FROM buildruns WHERE end = 0 AND source != 'vmctl'"
				" ORDER BY id") < 0)
		return -1;
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = db_col_int(st, 0);
	}
	db_finalize(st);
	if (rc < 0) {
		free(v);
		return -1;
	}
	*ids = v;
	*n = len;
	return 0;
}
