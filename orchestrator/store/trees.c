/* trees.c - see trees.h. */
#include "store/trees.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "store/db.h"

#define TREE_COLUMNS \
	"name, url, branch, credentials, packager, allow_untested, allow_unsafe_sources, " \
	"create_source_packages, head, fetched, fetch_error, processed, created, update_image, " \
	"forge, webhook_secret_file, forge_api_url, forge_repo, forge_token_file, status_context"

void tree_free(struct tree *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->url);
	free(t->branch);
	free(t->credentials);
	free(t->packager);
	free(t->head);
	free(t->fetch_error);
	free(t->processed);
	free(t->update_image);
	free(t->forge);
	free(t->webhook_secret_file);
	free(t->forge_api_url);
	free(t->forge_repo);
	free(t->forge_token_file);
	free(t->status_context);
	free(t);
}

static struct tree *tree_from_row(struct db_stmt *st)
{
	struct tree *t = xcalloc(1, sizeof(*t));

	t->name = xstrdup(db_col_text(st, 0));
	t->url = xstrdup(db_col_text(st, 1));
	t->branch = xstrdup(db_col_text(st, 2));
	t->credentials = xstrdup_or_null(db_col_text(st, 3));
	t->packager = xstrdup(db_col_text(st, 4));
	t->allow_untested = (int)db_col_int(st, 5);
	t->allow_unsafe_sources = (int)db_col_int(st, 6);
	t->create_source_packages = (int)db_col_int(st, 7);
	t->head = xstrdup_or_null(db_col_text(st, 8));
	t->fetched = db_col_int(st, 9);
	t->fetch_error = xstrdup_or_null(db_col_text(st, 10));
	t->processed = xstrdup_or_null(db_col_text(st, 11));
	t->created = db_col_int(st, 12);
	t->update_image = xstrdup_or_null(db_col_text(st, 13));
	t->forge = xstrdup_or_null(db_col_text(st, 14));
	t->webhook_secret_file = xstrdup_or_null(db_col_text(st, 15));
	t->forge_api_url = xstrdup_or_null(db_col_text(st, 16));
	t->forge_repo = xstrdup_or_null(db_col_text(st, 17));
	t->forge_token_file = xstrdup_or_null(db_col_text(st, 18));
	t->status_context = xstrdup_or_null(db_col_text(st, 19));
	return t;
}

int trees_list(struct db *db, struct tree ***out, size_t *n)
{
	struct db_stmt *st;
	struct tree **v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " TREE_COLUMNS " FROM trees ORDER BY name") < 0)
		return -1;
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = tree_from_row(st);
	}
	db_finalize(st);
	if (rc < 0) {
		trees_list_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void trees_list_free(struct tree **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tree_free(v[i]);
	free(v);
}

int trees_get(struct db *db, const char *name, struct tree **out)
{
	struct db_stmt *st;
	struct tree **all = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (db_prepare(db, &st, "SELECT " TREE_COLUMNS " FROM trees WHERE name = ?") < 0)
		return -1;
	db_bind_text(st, 1, name);
	rc = db_step(st);
	if (rc == 1)
		*out = tree_from_row(st);
	db_finalize(st);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (trees_list(db, &all, &n) < 0)
		return -1;
	struct strbuf known = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&known, "%s%s", i ? ", " : "", all[i]->name);
	trees_list_free(all, n);
	if (n)
		mf_error(MF_E_USAGE, "unknown tree '%s' (registered: %s)", name, known.buf);
	else
		mf_error(MF_E_USAGE, "unknown tree '%s': no tree is registered (add one with "
			 "'vmctl tree add')", name);
	strbuf_release(&known);
	return -1;
}

int trees_insert(struct db *db, const struct tree *t)
{
	int rc = db_execf(db, "INSERT INTO trees (name, url, branch, credentials, packager, "
			      "allow_untested, allow_unsafe_sources, create_source_packages, "
			      "created, update_image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			  "tttttiiiit", t->name, t->url, t->branch, t->credentials, t->packager,
			  (int64_t)t->allow_untested, (int64_t)t->allow_unsafe_sources,
			  (int64_t)t->create_source_packages, t->created, t->update_image);

	if (rc < 0 && mf_error_class() == MF_E_CONFLICT)
		return mf_error(MF_E_USAGE, "tree '%s' already exists", t->name);
	return rc;
}

int trees_delete(struct db *db, const char *name)
{
	return db_execf(db, "DELETE FROM trees WHERE name = ?", "t", name);
}

int trees_fetched(struct db *db, const char *name, const char *head, const char *error)
{
	if (error)
		return db_execf(db, "UPDATE trees SET fetch_error = ? WHERE name = ?", "tt", error,
				name);
	return db_execf(db, "UPDATE trees SET head = ?, fetched = ?, fetch_error = NULL "
			    "WHERE name = ?", "tit", head, mf_wall_seconds(), name);
}

int trees_set_update_image(struct db *db, const char *name, const char *image)
{
	return db_execf(db, "UPDATE trees SET update_image = ? WHERE name = ?", "tt", image, name);
}

int trees_set_processed(struct db *db, const char *name, const char *commit)
{
	return db_execf(db, "UPDATE trees SET processed = ? WHERE name = ?", "tt", commit, name);
}

int trees_retry_add(struct db *db, const char *tree, const struct tree_retry *r)
{
	return db_execf(db, "INSERT OR REPLACE INTO tree_retries (tree, port, commit_id, build_id, "
			    "reason) VALUES (?, ?, ?, ?, ?)", "tttnt", tree, r->port, r->commit,
			r->build_id > 0 ? r->build_id : (int64_t)-1, r->reason);
}

int trees_retry_clear(struct db *db, const char *tree, const char *port)
{
	return db_execf(db, "DELETE FROM tree_retries WHERE tree = ? AND port = ?", "tt", tree,
			port);
}

int trees_retries(struct db *db, const char *tree, struct tree_retry **out, size_t *n)
{
	struct db_stmt *st;
	struct tree_retry *v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT port, commit_id, build_id, reason FROM tree_retries "
				"WHERE tree = ? ORDER BY port") < 0)
		return -1;
	db_bind_text(st, 1, tree);
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len].port = xstrdup(db_col_text(st, 0));
		v[len].commit = xstrdup(db_col_text(st, 1));
		v[len].build_id = db_col_is_null(st, 2) ? 0 : db_col_int(st, 2);
		v[len].reason = xstrdup_or_null(db_col_text(st, 3));
		len++;
	}
	db_finalize(st);
	if (rc < 0) {
		tree_retries_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void tree_retries_free(struct tree_retry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].port);
		free(v[i].commit);
		free(v[i].reason);
	}
	free(v);
}

int trees_set_forge(struct db *db, const char *name, const struct tree_forge *f)
{
	if (db_execf(db, "UPDATE trees SET forge = ?, webhook_secret_file = ?, forge_api_url = ?,"
			 " forge_repo = ?, forge_token_file = ?, status_context = ? WHERE name = ?",
		     "ttttttt", f->forge, f->webhook_secret_file, f->api_url, f->repo,
		     f->token_file, f->context, name) < 0)
		return -1;
	return db_changes(db) ? 0 : mf_error(MF_E_USAGE, "unknown tree '%s'", name);
}
