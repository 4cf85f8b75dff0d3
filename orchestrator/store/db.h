/*
 * db.h - the SQLite boundary. A thin statement interface so that the rest
 * of Mayfly writes SQL but never includes sqlite3.h; every SQLite error
 * becomes a Mayfly error naming the database file.
 *
 * The database runs in WAL mode with a busy timeout, so vmctl and mayflyd
 * can share one state directory.
 */
#ifndef MAYFLY_DB_H
#define MAYFLY_DB_H

#include <stdint.h>

struct db;
struct db_stmt;

/* Opens (creating) the database file; the caller owns *out. */
int db_open(struct db **out, const char *path);
void db_close(struct db *db);
const char *db_path(const struct db *db);

/* Runs SQL without results (may hold several statements). */
int db_exec(struct db *db, const char *sql);

/*
 * Runs one statement with its values bound in order, as types says:
 * 'i' an int64_t, 't' a string (NULL binds SQL NULL), 'n' an int64_t that
 * binds SQL NULL when negative. Returns 0 or -1 (MF_E_CONFLICT on a
 * violated unique key).
 */
int db_execf(struct db *db, const char *sql, const char *types, ...);

/* "BEGIN IMMEDIATE", so writers queue on the busy timeout, not fail later. */
int db_begin(struct db *db);
/* On failure the transaction is rolled back: the connection is usable again. */
int db_commit(struct db *db);
void db_rollback(struct db *db);
/* 1 while a transaction is open on this connection. */
int db_in_transaction(struct db *db);
/* How long a statement waits for another connection's lock (default 10 s). */
void db_set_busy_timeout(struct db *db, int ms);

int db_prepare(struct db *db, struct db_stmt **out, const char *sql);
/* Binding indexes start at 1. A NULL text binds SQL NULL. */
void db_bind_text(struct db_stmt *st, int idx, const char *value);
void db_bind_int(struct db_stmt *st, int idx, int64_t value);
/* 1 when a row is ready, 0 when done, -1 on error (MF_E_CONFLICT on a
 * violated UNIQUE or PRIMARY KEY constraint). */
int db_step(struct db_stmt *st);
/* Column indexes start at 0. Text is valid until the next step. */
const char *db_col_text(struct db_stmt *st, int col);
int64_t db_col_int(struct db_stmt *st, int col);
int db_col_is_null(struct db_stmt *st, int col);
void db_reset(struct db_stmt *st);
void db_finalize(struct db_stmt *st);

/*
 * The row of a query whose ?1 is id, made into an object by from_row: 0
 * with *out set, 0 with *out NULL when there is no such row, -1 on error.
 */
int db_get_row(struct db *db, const char *sql, int64_t id, void *(*from_row)(struct db_stmt *st),
	       void **out);

int64_t db_last_insert_id(struct db *db);
int db_changes(struct db *db);

#endif
