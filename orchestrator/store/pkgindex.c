/* pkgindex.c - see pkgindex.h. */
#include "store/pkgindex.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "store/db.h"

struct pkgindex {
	struct db *db;
	struct db_stmt *providers, *requires, *get, *has;
};

void pkg_entry_free(struct pkg_entry *e)
{
	if (!e)
		return;
	free(e->origin);
	free(e->name);
	free(e->version);
	free(e->arch);
	free(e->file_name);
	free(e->location);
	free(e->sha256);
	memset(e, 0, sizeof(*e));
}

void pkg_providers_free(struct pkg_provider *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		provide_release(&v[i].provide);
	free(v);
}

void pkg_repo_free(struct pkg_repo *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->hpkr_sha256);
	free(r->packages);
	memset(r, 0, sizeof(*r));
}

int pkgindex_open(struct db *db, struct pkgindex **out)
{
	struct pkgindex *ix = xcalloc(1, sizeof(*ix));

	ix->db = db;
	/* Lookup order: the packages directory (oldest first), then the system. */
	if (db_prepare(db, &ix->providers,
		       "SELECT p.pkg, i.origin LIKE 'system:%', p.name, p.version, p.compat"
		       " FROM pkg_provides p JOIN pkg_index i ON i.id = p.pkg"
		       " WHERE p.name = ?1 AND i.arch IN (?2, 'any', 'source')"
		       "  AND ((i.origin NOT LIKE 'system:%' AND i.origin NOT LIKE 'run:%')"
		       "       OR i.origin = 'system:' || ?3 OR i.origin = 'run:' || ?4)"
		       " ORDER BY i.origin LIKE 'system:%', i.origin LIKE 'run:%', i.id, p.rowid")
	    < 0 ||
	    db_prepare(db, &ix->requires,
		       "SELECT name, op, version FROM pkg_requires WHERE pkg = ? ORDER BY rowid") < 0 ||
	    db_prepare(db, &ix->get,
		       "SELECT id, origin, name, version, arch, file_name, location, sha256, size"
		       " FROM pkg_index WHERE id = ?") < 0 ||
	    db_prepare(db, &ix->has,
		       "SELECT 1 FROM pkg_index WHERE file_name = ? AND origin NOT LIKE 'system:%'"
		       " AND origin NOT LIKE 'run:%' LIMIT 1") < 0) {
		pkgindex_close(ix);
		*out = NULL;
		return -1;
	}
	*out = ix;
	return 0;
}

void pkgindex_close(struct pkgindex *ix)
{
	if (!ix)
		return;
	db_finalize(ix->providers);
	db_finalize(ix->requires);
	db_finalize(ix->get);
	db_finalize(ix->has);
	free(ix);
}

/* Inserts one package with its provides and requires; in a transaction. */
static int insert(struct db *db, struct db_stmt *const st[3], const char *origin,
		  const struct hpkg_info *p, const char *location, int64_t size, const char *sha)
{
	char *file = hpkg_file_name(p);
	int64_t id;

	db_reset(st[0]);
	db_bind_text(st[0], 1, origin);
	db_bind_text(st[0], 2, p->name);
	db_bind_text(st[0], 3, p->version);
	db_bind_text(st[0], 4, p->arch);
	db_bind_text(st[0], 5, file);
	db_bind_text(st[0], 6, location);
	db_bind_text(st[0], 7, p->checksum ? p->checksum : sha);
	if (size >= 0)
		db_bind_int(st[0], 8, size);
	else
		db_bind_text(st[0], 8, NULL);
	db_bind_int(st[0], 9, mf_wall_seconds());
	int rc = db_step(st[0]);
	if (rc < 0) {
		mf_error_wrap("indexing %s (%s)", file, origin);
		free(file);
		return -1;
	}
	free(file);
	id = db_last_insert_id(db);
	for (size_t i = 0; i < p->n_provides; i++) {
		db_reset(st[1]);
		db_bind_int(st[1], 1, id);
		db_bind_text(st[1], 2, p->provides[i].name);
		db_bind_text(st[1], 3, p->provides[i].version);
		db_bind_text(st[1], 4, p->provides[i].compat);
		if (db_step(st[1]) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->n_requires; i++) {
		db_reset(st[2]);
		db_bind_int(st[2], 1, id);
		db_bind_text(st[2], 2, p->requires[i].name);
		if (p->requires[i].op == HPKG_OP_NONE)
			db_bind_text(st[2], 3, NULL);
		else
			db_bind_int(st[2], 3, p->requires[i].op);
		db_bind_text(st[2], 4, p->requires[i].version);
		if (db_step(st[2]) < 0)
			return -1;
	}
	return 0;
}

static int prepare_insert(struct db *db, struct db_stmt *st[3])
{
	st[0] = st[1] = st[2] = NULL;
	if (db_prepare(db, &st[0],
		       "INSERT INTO pkg_index (origin, name, version, arch, file_name,"
		       " location, sha256, size, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)") < 0 ||
	    db_prepare(db, &st[1],
		       "INSERT INTO pkg_provides (pkg, name, version, compat) VALUES (?, ?, ?, ?)") < 0 ||
	    db_prepare(db, &st[2],
		       "INSERT INTO pkg_requires (pkg, name, op, version) VALUES (?, ?, ?, ?)") < 0) {
		for (int i = 0; i < 3; i++)
			db_finalize(st[i]);
		return -1;
	}
	return 0;
}

int pkgindex_replace_origin(struct db *db, const char *origin, const struct hpkg_info *pkgs,
			  size_t n, char *const *locations, const int64_t *sizes,
			  char *const *shas)
{
	struct db_stmt *st[3];
	int rc = 0;

	if (db_execf(db, "DELETE FROM pkg_index WHERE origin = ?", "t", origin) < 0)
		return -1;
	if (prepare_insert(db, st) < 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = insert(db, st, origin, &pkgs[i], locations[i], sizes ? sizes[i] : -1,
			    shas ? shas[i] : NULL);
	for (int i = 0; i < 3; i++)
		db_finalize(st[i]);
	return rc;
}

int pkgindex_set_origin(struct db *db, const char *origin, const struct hpkg_info *pkgs,
			size_t n, char *const *locations, const int64_t *sizes,
			char *const *shas)
{
	if (db_begin(db) < 0)
		return -1;
	if (pkgindex_replace_origin(db, origin, pkgs, n, locations, sizes, shas) < 0) {
		db_rollback(db);
		return -1;
	}
	return db_commit(db);
}

int pkgindex_add(struct db *db, const char *origin, const struct hpkg_info *p,
		 const char *location, int64_t size, const char *sha256)
{
	struct db_stmt *st[3];
	char *file = hpkg_file_name(p);
	int rc = -1;

	if (db_begin(db) < 0) {
		free(file);
		return -1;
	}
	if (db_execf(db, "DELETE FROM pkg_index WHERE origin = ? AND file_name = ?", "tt", origin,
		     file) == 0 &&
	    prepare_insert(db, st) == 0) {
		rc = insert(db, st, origin, p, location, size, sha256);
		for (int i = 0; i < 3; i++)
			db_finalize(st[i]);
	}
	free(file);
	if (rc < 0) {
		db_rollback(db);
		return -1;
	}
	return db_commit(db);
}

int pkgindex_remove_origin(struct db *db, const char *origin)
{
	return db_execf(db, "DELETE FROM pkg_index WHERE origin = ?", "t", origin);
}

int pkgindex_count(struct db *db, const char *origin, int64_t *n)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, origin ? "SELECT count(*) FROM pkg_index WHERE origin = ?" :
					 "SELECT count(*) FROM pkg_index") < 0)
		return -1;
	if (origin)
		db_bind_text(st, 1, origin);
	rc = db_step(st);
	*n = rc == 1 ? db_col_int(st, 0) : 0;
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

static char *col_dup(struct db_stmt *st, int col)
{
	return db_col_is_null(st, col) ? NULL : xstrdup(db_col_text(st, col));
}

int pkgindex_providers(struct pkgindex *ix, const char *name, const char *arch,
		       const char *image, const char *run, struct pkg_provider **out, size_t *n)
{
	struct db_stmt *st = ix->providers;
	struct pkg_provider *v = NULL;
	size_t len = 0;
	int rc;

	db_reset(st);
	db_bind_text(st, 1, name);
	db_bind_text(st, 2, arch);
	db_bind_text(st, 3, image ? image : "");
	db_bind_text(st, 4, run ? run : "");
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		struct pkg_provider *p = &v[len++];
		p->pkg = db_col_int(st, 0);
		p->system = (int)db_col_int(st, 1);
		p->provide.name = xstrdup(db_col_text(st, 2));
		p->provide.version = col_dup(st, 3);
		p->provide.compat = col_dup(st, 4);
	}
	db_reset(st);
	if (rc < 0) {
		pkg_providers_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

int pkgindex_requires(struct pkgindex *ix, int64_t pkg, struct requirement **out, size_t *n)
{
	struct db_stmt *st = ix->requires;
	struct requirement *v = NULL;
	size_t len = 0;
	int rc;

	db_reset(st);
	db_bind_int(st, 1, pkg);
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		struct requirement *r = &v[len++];
		memset(r, 0, sizeof(*r));
		r->name = xstrdup(db_col_text(st, 0));
		r->op = db_col_is_null(st, 1) ? HPKG_OP_NONE : (enum hpkg_op)db_col_int(st, 1);
		r->version = col_dup(st, 2);
	}
	db_reset(st);
	if (rc < 0) {
		for (size_t i = 0; i < len; i++)
			requirement_release(&v[i]);
		free(v);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

int pkgindex_get(struct pkgindex *ix, int64_t pkg, struct pkg_entry *out)
{
	struct db_stmt *st = ix->get;
	int rc;

	memset(out, 0, sizeof(*out));
	db_reset(st);
	db_bind_int(st, 1, pkg);
	rc = db_step(st);
	if (rc == 1) {
		out->id = db_col_int(st, 0);
		out->origin = xstrdup(db_col_text(st, 1));
		out->name = xstrdup(db_col_text(st, 2));
		out->version = xstrdup(db_col_text(st, 3));
		out->arch = xstrdup(db_col_text(st, 4));
		out->file_name = xstrdup(db_col_text(st, 5));
		out->location = xstrdup(db_col_text(st, 6));
		out->sha256 = col_dup(st, 7);
		out->size = db_col_is_null(st, 8) ? -1 : db_col_int(st, 8);
	}
	db_reset(st);
	if (rc == 0)
		return mf_error(MF_E_INFRA, "package %lld is not in the index", (long long)pkg);
	return rc < 0 ? -1 : 0;
}

int pkgindex_import_repo(struct db *db, const struct pkg_repo *r, const struct hpkg_info *pkgs,
			 size_t n, char *const *locations)
{
	char *origin = xasprintf("repo:%s", r->name);
	int rc = -1;

	if (db_begin(db) < 0)
		goto out;
	if (db_execf(db, "INSERT OR REPLACE INTO pkg_repos (name, hpkr_sha256, packages, imported)"
			 " VALUES (?, ?, ?, ?)", "ttti", r->name, r->hpkr_sha256, r->packages,
		     mf_wall_seconds()) < 0 ||
	    pkgindex_replace_origin(db, origin, pkgs, n, locations, NULL, NULL) < 0) {
		db_rollback(db);
		goto out;
	}
	rc = db_commit(db);
out:
	free(origin);
	return rc;
}

int pkgindex_repos(struct db *db, struct pkg_repo **out, size_t *n)
{
	struct db_stmt *st;
	struct pkg_repo *v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT r.name, r.hpkr_sha256, r.packages, r.imported,"
				" (SELECT count(*) FROM pkg_index WHERE origin = 'repo:' || r.name)"
				" FROM pkg_repos r ORDER BY r.name") < 0)
		return -1;
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len].name = xstrdup(db_col_text(st, 0));
		v[len].hpkr_sha256 = xstrdup(db_col_text(st, 1));
		v[len].packages = xstrdup(db_col_text(st, 2));
		v[len].imported = db_col_int(st, 3);
		v[len].npackages = db_col_int(st, 4);
		len++;
	}
	db_finalize(st);
	if (rc < 0) {
		for (size_t i = 0; i < len; i++)
			pkg_repo_free(&v[i]);
		free(v);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

int pkgindex_remove_repo(struct db *db, const char *name)
{
	char *origin = xasprintf("repo:%s", name);
	int rc = -1;

	if (db_begin(db) < 0)
		goto out;
	if (db_execf(db, "DELETE FROM pkg_repos WHERE name = ?", "t", name) < 0)
		goto fail;
	if (db_changes(db) == 0) {
		mf_error(MF_E_USAGE, "unknown repository '%s' (see 'vmctl repo list')", name);
		goto fail;
	}
	if (db_execf(db, "DELETE FROM pkg_index WHERE origin = ?", "t", origin) < 0)
		goto fail;
	rc = db_commit(db);
	goto out;
fail:
	db_rollback(db);
out:
	free(origin);
	return rc;
}

int pkgindex_has_file(struct pkgindex *ix, const char *file)
{
	int rc;

	db_reset(ix->has);
	db_bind_text(ix->has, 1, file);
	rc = db_step(ix->has);
	db_reset(ix->has);
	return rc;
}
