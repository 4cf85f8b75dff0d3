/* builds.c - see builds.h. */
#include "orchestrator/builds.h"

#include <stdlib.h>

#include "orchestrator/db.h"
#include "orchestrator/ledger.h"
#include "orchestrator/util.h"

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

int builds_set_paths(struct db *db, int64_t id, const char *log_path, const char *out_dir)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "UPDATE builds SET log_path = ?, out_dir = ? WHERE id = ?") < 0)
		return -1;
	db_bind_text(st, 1, log_path);
	db_bind_text(st, 2, out_dir);
	db_bind_int(st, 3, id);
	rc = db_step(st);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int builds_add_phase(struct db *db, int64_t id, int seq, const struct build_phase *p)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "INSERT OR REPLACE INTO phases (build_id, seq, name, duration_ms) "
				"VALUES (?, ?, ?, ?)") < 0)
		return -1;
	db_bind_int(st, 1, id);
	db_bind_int(st, 2, seq);
	db_bind_text(st, 3, p->name);
	db_bind_int(st, 4, p->duration_ms);
	rc = db_step(st);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int builds_add_package(struct db *db, int64_t id, const struct build_package *p)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "INSERT OR REPLACE INTO packages (build_id, name, size, sha256, "
				"path) VALUES (?, ?, ?, ?, ?)") < 0)
		return -1;
	db_bind_int(st, 1, id);
	db_bind_text(st, 2, p->name);
	db_bind_int(st, 3, (int64_t)p->size);
	db_bind_text(st, 4, p->sha256);
	db_bind_text(st, 5, p->path);
	rc = db_step(st);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int builds_finish(struct db *db, int64_t id, enum build_status status, int exit_code,
		  const char *error)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "UPDATE builds SET status = ?, exit_code = ?, error = ?, "
				"finished = ? WHERE id = ? AND status = 'running'") < 0)
		return -1;
	db_bind_text(st, 1, build_status_name(status));
	if (exit_code >= 0)
		db_bind_int(st, 2, exit_code);
	db_bind_text(st, 3, error);
	db_bind_int(st, 4, mf_wall_seconds());
	db_bind_int(st, 5, id);
	rc = db_step(st);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int builds_fail_orphans(struct db *db)
{
	struct db_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0;
	int rc, ret = 0;

	/* Collect first: rows are not updated under a running SELECT. */
	if (db_prepare(db, &st, "SELECT id, owner FROM builds WHERE status = 'running'") < 0)
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
