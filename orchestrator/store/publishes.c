/* publishes.c - see publishes.h. */
#include "store/publishes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "store/db.h"

static const char *action_name(enum publish_action a)
{
	return a == PUBLISH_ADD ? "add" : "obsolete";
}

static char *col(struct db_stmt *st, int i)
{
	return db_col_is_null(st, i) ? NULL : xstrdup(db_col_text(st, i));
}

void published_pkg_release(struct published_pkg *p)
{
	free(p->file_name);
	free(p->name);
	free(p->version);
	free(p->arch);
	free(p->sha256);
	memset(p, 0, sizeof(*p));
}

void published_pkgs_free(struct published_pkg *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		published_pkg_release(&v[i]);
	free(v);
}

void publish_free(struct publish *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nitems; i++) {
		struct publish_item *it = &p->items[i];
		free(it->file_name);
		free(it->name);
		free(it->version);
		free(it->arch);
		free(it->path);
		free(it->sha256);
	}
	free(p->items);
	free(p->repository);
	free(p->state);
	free(p->error);
	free(p->requested_by);
	free(p->repo_sha256);
	free(p);
}

int publishes_insert(struct db *db, struct publish *p)
{
	if (db_begin(db) < 0)
		return -1;
	if (db_execf(db, "INSERT INTO publishes (repository, buildrun, state, requested_by, created)"
			 " VALUES (?, ?, 'packages', ?, ?)", "tnti", p->repository,
		     p->buildrun > 0 ? p->buildrun : -1, p->requested_by, (int64_t)time(NULL)) < 0)
		goto fail;
	p->id = db_last_insert_id(db);
	for (size_t i = 0; i < p->nitems; i++) {
		const struct publish_item *it = &p->items[i];
		if (db_execf(db, "INSERT INTO publish_items (publish, action, file_name, name,"
				 " version, arch, path, sha256, size) VALUES (?,?,?,?,?,?,?,?,?)",
			     "ittttttti", p->id, action_name(it->action), it->file_name, it->name,
			     it->version, it->arch, it->path, it->sha256, it->size) < 0)
			goto fail;
	}
	free(p->state);
	p->state = xstrdup("packages");
	return db_commit(db);
fail:
	db_rollback(db);
	return -1;
}

#define PUBLISH_COLUMNS "id, repository, buildrun, state, error, requested_by, created, " \
			"finished, repo_sha256"

static void *publish_from_row(struct db_stmt *st)
{
	struct publish *p = xcalloc(1, sizeof(*p));

	p->id = db_col_int(st, 0);
	p->repository = col(st, 1);
	p->buildrun = db_col_is_null(st, 2) ? 0 : db_col_int(st, 2);
	p->state = col(st, 3);
	p->error = col(st, 4);
	p->requested_by = col(st, 5);
	p->created = db_col_int(st, 6);
	p->finished = db_col_is_null(st, 7) ? 0 : db_col_int(st, 7);
	p->repo_sha256 = col(st, 8);
	return p;
}

int publishes_get(struct db *db, int64_t id, struct publish **out)
{
	struct db_stmt *st;
	struct publish *p = NULL;
	int rc;

	*out = NULL;
	if (db_get_row(db, "SELECT " PUBLISH_COLUMNS " FROM publishes WHERE id = ?1", id,
		       publish_from_row, (void **)&p) < 0)
		return -1;
	if (!p)
		return mf_error(MF_E_USAGE, "no publish %lld", (long long)id);
	if (db_prepare(db, &st, "SELECT action, file_name, name, version, arch, path, sha256, size,"
				" done FROM publish_items WHERE publish = ? ORDER BY action, file_name")
	    < 0) {
		publish_free(p);
		return -1;
	}
	db_bind_int(st, 1, id);
	while ((rc = db_step(st)) == 1) {
		p->items = xrealloc(p->items, (p->nitems + 1) * sizeof(*p->items));
		struct publish_item *it = &p->items[p->nitems++];
		it->action = strcmp(db_col_text(st, 0), "add") ? PUBLISH_OBSOLETE : PUBLISH_ADD;
		it->file_name = col(st, 1);
		it->name = col(st, 2);
		it->version = col(st, 3);
		it->arch = col(st, 4);
		it->path = col(st, 5);
		it->sha256 = col(st, 6);
		it->size = db_col_int(st, 7);
		it->done = (int)db_col_int(st, 8);
	}
	db_finalize(st);
	if (rc < 0) {
		publish_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int publishes_item_done(struct db *db, int64_t id, enum publish_action a, const char *file)
{
	return db_execf(db, "UPDATE publish_items SET done = 1 WHERE publish = ? AND action = ?"
			    " AND file_name = ?", "itt", id, action_name(a), file);
}

int publishes_set_state(struct db *db, int64_t id, const char *state, const char *error)
{
	int final = !strcmp(state, "done") || !strcmp(state, "failed");

	return db_execf(db, "UPDATE publishes SET state = ?, error = ?, finished = ? WHERE id = ?",
			"ttni", state, error, final ? (int64_t)time(NULL) : -1, id);
}

int publishes_commit_index(struct db *db, const struct publish *p, const char *repo_sha256)
{
	if (db_begin(db) < 0)
		return -1;
	for (size_t i = 0; i < p->nitems; i++) {
		const struct publish_item *it = &p->items[i];
		int rc = it->action == PUBLISH_ADD ?
			db_execf(db, "INSERT OR REPLACE INTO published (repository, file_name, name,"
				     " version, arch, sha256, size, live, publish)"
				     " VALUES (?,?,?,?,?,?,?,1,?)", "ttttttii", p->repository,
				 it->file_name, it->name, it->version, it->arch, it->sha256,
				 it->size, p->id) :
			db_execf(db, "UPDATE published SET live = 0 WHERE repository = ?"
				     " AND file_name = ?", "tt", p->repository, it->file_name);
		if (rc < 0)
			goto fail;
	}
	if (db_execf(db, "UPDATE publishes SET state = 'obsolete', repo_sha256 = ? WHERE id = ?",
		     "ti", repo_sha256, p->id) < 0)
		goto fail;
	return db_commit(db);
fail:
	db_rollback(db);
	return -1;
}

static int ids_query(struct db *db, const char *sql, const char *arg, int64_t **ids, size_t *n)
{
	struct db_stmt *st;
	int64_t *v = NULL;
	size_t len = 0;
	int rc;

	*ids = NULL;
	*n = 0;
	if (db_prepare(db, &st, sql) < 0)
		return -1;
	db_bind_text(st, 1, arg);
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

int publishes_unfinished(struct db *db, const char *repository, int64_t **ids, size_t *n)
{
	return ids_query(db, "SELECT id FROM publishes WHERE state NOT IN ('done', 'failed')"
			     " AND (?1 IS NULL OR repository = ?1) ORDER BY id", repository, ids, n);
}

int publishes_list(struct db *db, const char *repository, int limit, struct publish ***out,
		   size_t *n)
{
	struct db_stmt *st;
	struct publish **v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " PUBLISH_COLUMNS " FROM publishes"
				" WHERE ?1 IS NULL OR repository = ?1 ORDER BY id DESC LIMIT ?2") < 0)
		return -1;
	db_bind_text(st, 1, repository);
	db_bind_int(st, 2, limit > 0 ? limit : -1);
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = publish_from_row(st);
	}
	db_finalize(st);
	if (rc < 0) {
		publishes_list_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void publishes_list_free(struct publish **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		publish_free(v[i]);
	free(v);
}

#define PKG_COLUMNS "file_name, name, version, arch, sha256, size, publish, live"

static void pkg_from_row(struct db_stmt *st, struct published_pkg *p)
{
	p->file_name = col(st, 0);
	p->name = col(st, 1);
	p->version = col(st, 2);
	p->arch = col(st, 3);
	p->sha256 = col(st, 4);
	p->size = db_col_int(st, 5);
	p->publish = db_col_int(st, 6);
}

int published_live(struct db *db, const char *repository, struct published_pkg **out,
		   size_t *n)
{
	struct db_stmt *st;
	struct published_pkg *v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " PKG_COLUMNS " FROM published WHERE repository = ?"
				" AND live = 1 ORDER BY file_name") < 0)
		return -1;
	db_bind_text(st, 1, repository);
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		pkg_from_row(st, &v[len++]);
	}
	db_finalize(st);
	if (rc < 0) {
		published_pkgs_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

int published_find(struct db *db, const char *repository, const char *file,
		   struct published_pkg *out, int *found, int *live)
{
	struct db_stmt *st;
	int rc;

	*found = 0;
	memset(out, 0, sizeof(*out));
	if (db_prepare(db, &st, "SELECT " PKG_COLUMNS " FROM published WHERE repository = ?"
				" AND file_name = ?") < 0)
		return -1;
	db_bind_text(st, 1, repository);
	db_bind_text(st, 2, file);
	rc = db_step(st);
	if (rc == 1) {
		pkg_from_row(st, out);
		*live = (int)db_col_int(st, 7);
		*found = 1;
	}
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int publishes_runs_pending(struct db *db, int64_t **ids, size_t *n)
{
	return ids_query(db, "SELECT id FROM buildruns WHERE kind = 'update' AND end > 0"
			     " AND published = 0 AND ?1 IS NULL ORDER BY id", NULL, ids, n);
}

int publishes_run_handled(struct db *db, int64_t run)
{
	return db_execf(db, "UPDATE buildruns SET published = 1 WHERE id = ?", "i", run);
}

int published_count(struct db *db, const char *repository, int64_t *n)
{
	struct db_stmt *st;
	int rc;

	*n = 0;
	if (db_prepare(db, &st, "SELECT (SELECT count(*) FROM published WHERE repository = ?1) +"
				" (SELECT count(*) FROM publishes WHERE repository = ?1)") < 0)
		return -1;
	db_bind_text(st, 1, repository);
	rc = db_step(st);
	if (rc == 1)
		*n = db_col_int(st, 0);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int published_locate(struct db *db, const char *file, const char *sha256, char **repository)
{
	struct db_stmt *st;
	int rc;

	*repository = NULL;
	if (db_prepare(db, &st, "SELECT repository FROM published WHERE file_name = ?"
				" AND sha256 = ? ORDER BY live DESC, repository LIMIT 1") < 0)
		return -1;
	db_bind_text(st, 1, file);
	db_bind_text(st, 2, sha256);
	rc = db_step(st);
	if (rc == 1)
		*repository = xstrdup(db_col_text(st, 0));
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int published_adopt(struct db *db, const char *repository, const struct hpkg_info *pkgs,
		    size_t n)
{
	if (db_begin(db) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *file = hpkg_file_name(&pkgs[i]);
		int rc = db_execf(db, "INSERT OR REPLACE INTO published (repository, file_name, name,"
				      " version, arch, sha256, size, live, publish)"
				      " VALUES (?,?,?,?,?,?,-1,1,0)", "tttttt", repository, file,
				  pkgs[i].name, pkgs[i].version, pkgs[i].arch,
				  pkgs[i].checksum ? pkgs[i].checksum : "");
		free(file);
		if (rc < 0) {
			db_rollback(db);
			return -1;
		}
	}
	return db_commit(db);
}
