/* builds.c - see builds.h. */
#include "store/builds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "common/error.h"
#include "store/ledger.h"
#include "common/util.h"

const char *build_status_name(enum build_status s)
{
	switch (s) {
	case BUILD_RUNNING:
		return "running";
	case BUILD_SUCCEEDED:
		return "succeeded";
	case BUILD_FAILED:
		return "failed";
	case BUILD_INFRA_ERROR:
		return "infra_error";
	case BUILD_TIMED_OUT:
		return "timed_out";
	case BUILD_CANCELLED:
		break;
	}
	return "cancelled";
}

int build_status_parse(const char *s, enum build_status *out)
{
	for (int i = BUILD_RUNNING; i <= BUILD_CANCELLED; i++) {
		if (!strcmp(s, build_status_name((enum build_status)i))) {
			*out = (enum build_status)i;
			return 0;
		}
	}
	return -1;
}

int build_status_exit_code(enum build_status s)
{
	switch (s) {
	case BUILD_RUNNING:
	case BUILD_SUCCEEDED:
		return 0;
	case BUILD_FAILED:
		return 1;
	case BUILD_TIMED_OUT:
		return 4;
	case BUILD_CANCELLED:
		return 130;
	case BUILD_INFRA_ERROR:
		break;
	}
	return 3;
}

enum build_status build_status_of_error(enum mf_errclass cls)
{
	switch (cls) {
	case MF_E_INTERRUPTED:
		return BUILD_CANCELLED;
	case MF_E_TIMEOUT:
		return BUILD_TIMED_OUT;
	case MF_E_BUILD:
	case MF_E_USAGE:
		return BUILD_FAILED;
	case MF_E_NONE:
	case MF_E_INFRA:
	case MF_E_CONFLICT:
		break;
	}
	return BUILD_INFRA_ERROR;
}


int builds_create(struct db *db, const char *image, const char *recipes, int64_t *id)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "INSERT INTO builds (image, recipes, status, owner, created) "
				"VALUES (?, ?, 'running', ?, ?)") < 0)
		return -1;
	db_bind_text(st, 1, image);
	db_bind_text(st, 2, recipes);
	db_bind_text(st, 3, ledger_self());
	db_bind_int(st, 4, mf_wall_seconds());
	rc = db_step(st);
	db_finalize(st);
	if (rc < 0)
		return -1;
	*id = db_last_insert_id(db);
	return 0;
}

int builds_set_origin(struct db *db, int64_t id, const char *tree, const char *commit)
{
	return db_execf(db, "UPDATE builds SET tree = ?, commit_id = ? WHERE id = ?", "tti", tree,
			commit, id);
}

int builds_set_paths(struct db *db, int64_t id, const char *log_path, const char *out_dir)
{
	return db_execf(db, "UPDATE builds SET log_path = ?, out_dir = ? WHERE id = ?", "tti",
			log_path, out_dir, id);
}

int builds_add_phase(struct db *db, int64_t id, int seq, const struct build_phase *p)
{
	return db_execf(db, "INSERT OR REPLACE INTO phases (build_id, seq, name, duration_ms) "
			    "VALUES (?, ?, ?, ?)", "iiti", id, (int64_t)seq, p->name,
			p->duration_ms);
}

int builds_add_package(struct db *db, int64_t id, const struct build_package *p)
{
	return db_execf(db, "INSERT OR REPLACE INTO packages (build_id, name, size, sha256, path) "
			    "VALUES (?, ?, ?, ?, ?)", "ititt", id, p->name, (int64_t)p->size,
			p->sha256, p->path);
}

int builds_finish(struct db *db, int64_t id, enum build_status status, int exit_code,
		  const char *error)
{
	return db_execf(db, "UPDATE builds SET status = ?, exit_code = ?, error = ?, finished = ? "
			    "WHERE id = ? AND status = 'running'", "tntii",
			build_status_name(status), (int64_t)exit_code, error, mf_wall_seconds(), id);
}

int builds_fail_orphans(struct db *db)
{
	struct db_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0;
	int rc, ret = 0;

	/* Collect first: rows are not updated under a running SELECT. */
	if (db_prepare(db, &st, "SELECT id, owner FROM builds "
				"WHERE status = 'running' AND source = 'vmctl'") < 0)
		return -1;
	while ((rc = db_step(st)) == 1) {
		const char *owner = db_col_text(st, 1);
		if (owner && mf_process_alive(owner))
			continue;
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = db_col_int(st, 0);
	}
	db_finalize(st);
	if (rc < 0)
		ret = -1;
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = builds_finish(db, ids[i], BUILD_INFRA_ERROR, -1,
				    "the process running this build died");
	free(ids);
	return ret;
}

int build_status_valid(const char *s)
{
	static const char *const names[] = { "accepted", "queued", "running", "succeeded",
					     "failed", "infra_error", "timed_out", "cancelled" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return 1;
	return 0;
}

#define RECORD_COLUMNS \
	"id, image, recipes, status, exit_code, error, source, priority, timeout, attempts, " \
	"cancel_requested, requested_by, created, started, finished, log_path, out_dir, inputs, " \
	"tree, commit_id, buildrun"

static struct build_record *record_from_row(struct db_stmt *st)
{
	struct build_record *r = xcalloc(1, sizeof(*r));

	r->id = db_col_int(st, 0);
	r->image = xstrdup(db_col_text(st, 1));
	r->recipes = xstrdup(db_col_text(st, 2));
	r->status = xstrdup(db_col_text(st, 3));
	r->exit_code = db_col_is_null(st, 4) ? -1 : (int)db_col_int(st, 4);
	r->error = xstrdup_or_null(db_col_text(st, 5));
	r->source = xstrdup(db_col_text(st, 6));
	r->priority = (int)db_col_int(st, 7);
	r->timeout = (int)db_col_int(st, 8);
	r->attempts = (int)db_col_int(st, 9);
	r->cancel_requested = (int)db_col_int(st, 10);
	r->requested_by = xstrdup_or_null(db_col_text(st, 11));
	r->created = db_col_int(st, 12);
	r->started = db_col_int(st, 13);
	r->finished = db_col_int(st, 14);
	r->log_path = xstrdup_or_null(db_col_text(st, 15));
	r->out_dir = xstrdup_or_null(db_col_text(st, 16));
	r->inputs = xstrdup_or_null(db_col_text(st, 17));
	r->tree = xstrdup_or_null(db_col_text(st, 18));
	r->commit = xstrdup_or_null(db_col_text(st, 19));
	r->buildrun = db_col_is_null(st, 20) ? 0 : db_col_int(st, 20);
	return r;
}

static int load_details(struct db *db, struct build_record *r)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "SELECT name, duration_ms FROM phases WHERE build_id = ? "
				"ORDER BY seq") < 0)
		return -1;
	db_bind_int(st, 1, r->id);
	while ((rc = db_step(st)) == 1) {
		r->phases = xrealloc(r->phases, (r->nphases + 1) * sizeof(*r->phases));
		struct build_phase *p = &r->phases[r->nphases++];
		snprintf(p->name, sizeof(p->name), "%s", db_col_text(st, 0));
		p->duration_ms = db_col_int(st, 1);
	}
	db_finalize(st);
	if (rc < 0)
		return -1;
	if (db_prepare(db, &st, "SELECT name, size, sha256, path FROM packages "
				"WHERE build_id = ? ORDER BY name") < 0)
		return -1;
	db_bind_int(st, 1, r->id);
	while ((rc = db_step(st)) == 1) {
		r->packages = xrealloc(r->packages, (r->npackages + 1) * sizeof(*r->packages));
		struct build_package *p = &r->packages[r->npackages++];
		memset(p, 0, sizeof(*p));
		p->name = xstrdup(db_col_text(st, 0));
		p->size = (uint64_t)db_col_int(st, 1);
		snprintf(p->sha256, sizeof(p->sha256), "%s", db_col_text(st, 2));
		p->path = xstrdup(db_col_text(st, 3));
	}
	db_finalize(st);
	if (rc < 0)
		return -1;
	if (db_prepare(db, &st, "SELECT n, status, error, started, finished FROM attempts "
				"WHERE build_id = ? ORDER BY n") < 0)
		return -1;
	db_bind_int(st, 1, r->id);
	while ((rc = db_step(st)) == 1) {
		r->tries = xrealloc(r->tries, (r->ntries + 1) * sizeof(*r->tries));
		struct build_attempt *a = &r->tries[r->ntries++];
		a->n = (int)db_col_int(st, 0);
		a->status = xstrdup(db_col_text(st, 1));
		a->error = xstrdup_or_null(db_col_text(st, 2));
		a->started = db_col_int(st, 3);
		a->finished = db_col_int(st, 4);
	}
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int builds_get(struct db *db, int64_t id, struct build_record **out)
{
	struct db_stmt *st;
	int rc;

	*out = NULL;
	if (db_prepare(db, &st, "SELECT " RECORD_COLUMNS " FROM builds WHERE id = ?") < 0)
		return -1;
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == 1)
		*out = record_from_row(st);
	db_finalize(st);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return mf_error(MF_E_USAGE, "no build %lld", (long long)id);
	if (load_details(db, *out) < 0) {
		build_record_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int builds_list(struct db *db, const char *const *statuses, int limit,
		struct build_record ***out, size_t *n)
{
	char sql[512];
	struct db_stmt *st;
	struct build_record **v = NULL;
	size_t len = 0, nst = 0;
	int rc;

	*out = NULL;
	*n = 0;
	while (statuses && statuses[nst])
		nst++;
	if (nst > 8)
		return mf_error(MF_E_USAGE, "too many statuses");
	/* "?, ?, ..." for the statuses; values are bound, never pasted. */
	snprintf(sql, sizeof(sql), "SELECT " RECORD_COLUMNS " FROM builds %s%.*s%s "
		 "ORDER BY id DESC LIMIT ?", nst ? "WHERE status IN (" : "",
		 nst ? (int)(nst * 3 - 2) : 0, "?, ?, ?, ?, ?, ?, ?, ?", nst ? ")" : "");
	if (db_prepare(db, &st, sql) < 0)
		return -1;
	for (size_t i = 0; i < nst; i++)
		db_bind_text(st, (int)i + 1, statuses[i]);
	db_bind_int(st, (int)nst + 1, limit);
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = record_from_row(st);
	}
	db_finalize(st);
	if (rc < 0) {
		build_records_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void build_record_free(struct build_record *r)
{
	if (!r)
		return;
	free(r->image);
	free(r->recipes);
	free(r->status);
	free(r->error);
	free(r->source);
	free(r->requested_by);
	free(r->log_path);
	free(r->out_dir);
	free(r->inputs);
	free(r->tree);
	free(r->commit);
	free(r->phases);
	for (size_t i = 0; i < r->npackages; i++) {
		build_package_release(&r->packages[i]);
	}
	free(r->packages);
	for (size_t i = 0; i < r->ntries; i++) {
		free(r->tries[i].status);
		free(r->tries[i].error);
	}
	free(r->tries);
	free(r);
}

void build_records_free(struct build_record **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		build_record_free(v[i]);
	free(v);
}

void build_result_release(struct build_result *r)
{
	free(r->image);
	free(r->error);
	for (size_t i = 0; i < r->npackages; i++)
		build_package_release(&r->packages[i]);
	free(r->packages);
	free(r->log_path);
	free(r->console_path);
	free(r->out_dir);
	free(r->tree);
	free(r->commit);
	free(r->port);
	memset(r, 0, sizeof(*r));
}

void build_package_release(struct build_package *p)
{
	free(p->name);
	free(p->path);
	memset(p, 0, sizeof(*p));
}
