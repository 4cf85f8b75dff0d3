/* db.c - see db.h. */
#include "store/db.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/util.h"

struct db {
	sqlite3 *h;
	char *path;
};

struct db_stmt {
	struct db *db;
	sqlite3_stmt *st;
};

static int db_fail(struct db *db, const char *what)
{
	int code = sqlite3_extended_errcode(db->h);
	enum mf_errclass cls = MF_E_INFRA;

	if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
		cls = MF_E_CONFLICT;
	return mf_error(cls, "state database '%s': %s: %s", db->path, what,
			sqlite3_errmsg(db->h));
}

int db_open(struct db **out, const char *path)
{
	struct db *db = xcalloc(1, sizeof(*db));

	*out = NULL;
	db->path = xstrdup(path);
	if (sqlite3_open_v2(path, &db->h,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		db_fail(db, "cannot open");
		db_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db->h, 10000);
	sqlite3_extended_result_codes(db->h, 1);
	if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			"PRAGMA foreign_keys=ON;") < 0) {
		db_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->h);
	free(db->path);
	free(db);
}

const char *db_path(const struct db *db)
{
	return db->path;
}

int db_exec(struct db *db, const char *sql)
{
	if (sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(db, "query failed");
	return 0;
}

int db_execf(struct db *db, const char *sql, const char *types, ...)
{
	struct db_stmt *st;
	va_list ap;
	int rc;

	if (db_prepare(db, &st, sql) < 0)
		return -1;
	va_start(ap, types);
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't') {
			db_bind_text(st, i + 1, va_arg(ap, const char *));
		} else {
			int64_t v = va_arg(ap, int64_t);
			if (types[i] == 'n' && v < 0)
				sqlite3_bind_null(st->st, i + 1);
			else
				db_bind_int(st, i + 1, v);
		}
	}
	va_end(ap);
	rc = db_step(st);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int db_begin(struct db *db)
{
	return db_exec(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db)
{
	if (db_exec(db, "COMMIT") == 0)
		return 0;
	/*
	 * A failed COMMIT (busy, disk full, a deferred constraint) can leave
	 * the transaction open, and every later BEGIN of this connection would
	 * fail: end it, keeping the COMMIT's error.
	 */
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int db_in_transaction(struct db *db)
{
	return !sqlite3_get_autocommit(db->h);
}

void db_set_busy_timeout(struct db *db, int ms)
{
	sqlite3_busy_timeout(db->h, ms);
}

void db_rollback(struct db *db)
{
	sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

int db_prepare(struct db *db, struct db_stmt **out, const char *sql)
{
	struct db_stmt *st = xcalloc(1, sizeof(*st));

	*out = NULL;
	st->db = db;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st->st, NULL) != SQLITE_OK) {
		free(st);
		return db_fail(db, "cannot prepare a query");
	}
	*out = st;
	return 0;
}

void db_bind_text(struct db_stmt *st, int idx, const char *value)
{
	if (value)
		sqlite3_bind_text(st->st, idx, value, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st->st, idx);
}

void db_bind_int(struct db_stmt *st, int idx, int64_t value)
{
	sqlite3_bind_int64(st->st, idx, value);
}

int db_step(struct db_stmt *st)
{
	int rc = sqlite3_step(st->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st->db, "query failed");
}

const char *db_col_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->st, col);
}

int64_t db_col_int(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(st->st, col);
}

int db_col_is_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(st->st, col) == SQLITE_NULL;
}

void db_reset(struct db_stmt *st)
{
	sqlite3_reset(st->st);
	sqlite3_clear_bindings(st->st);
}

void db_finalize(struct db_stmt *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->st);
	free(st);
}

int64_t db_last_insert_id(struct db *db)
{
	return sqlite3_last_insert_rowid(db->h);
}

int db_changes(struct db *db)
{
	return sqlite3_changes(db->h);
}

int db_get_row(struct db *db, const char *sql, int64_t id, void *(*from_row)(struct db_stmt *st),
	       void **out)
{
	struct db_stmt *st;
	int rc;

	*out = NULL;
	if (db_prepare(db, &st, sql) < 0)
		return -1;
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == 1)
		*out = from_row(st);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}
