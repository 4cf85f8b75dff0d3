/* queue.c - see queue.h. */
#include "store/queue.h"

#include <stdlib.h>
#include <string.h>

#include "store/builds.h"
#include "store/db.h"
#include "common/error.h"
#include "store/ledger.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"

/* Runs one statement binding an id (?1) and optionally text (?2). */
static int exec_id(struct db *db, const char *sql, int64_t id, const char *text)
{
	return text ? db_execf(db, sql, "it", id, text) : db_execf(db, sql, "i", id);
}

static int count_where(struct db *db, const char *sql, int *out)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, sql) < 0)
		return -1;
	rc = db_step(st);
	*out = rc == 1 ? (int)db_col_int(st, 0) : 0;
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

/* One accepted build of the request (inside the caller's transaction). */
static int insert(struct db *db, const struct queue_request *r, const char *recipes, int64_t *id)
{
	struct db_stmt *st = NULL;

	if (db_prepare(db, &st, "INSERT INTO builds (image, recipes, tree, commit_id, status, "
				"source, priority, timeout, requested_by, created, buildrun) "
				"VALUES (?, ?, ?, ?, 'accepted', ?, ?, ?, ?, ?, ?) RETURNING id") < 0)
		return -1;
	db_bind_text(st, 1, r->image);
	db_bind_text(st, 2, recipes);
	if (r->tree) {
		db_bind_text(st, 3, r->tree);
		db_bind_text(st, 4, r->commit);
	}
	db_bind_text(st, 5, r->source ? r->source : "api");
	db_bind_int(st, 6, r->priority);
	if (r->timeout > 0)
		db_bind_int(st, 7, r->timeout);
	db_bind_text(st, 8, r->requested_by);
	db_bind_int(st, 9, mf_wall_seconds());
	if (r->buildrun > 0)
		db_bind_int(st, 10, r->buildrun);
	if (db_step(st) != 1) {
		db_finalize(st);
		return -1;
	}
	*id = db_col_int(st, 0);
	db_finalize(st);
	return 0;
}

int queue_submit(struct db *db, const struct queue_request *r, int queue_max, int64_t *ids)
{
	struct strbuf recipes = STRBUF_INIT;
	size_t n = r->tree ? r->nports : 1;
	int waiting, ret = -1;

	for (size_t i = 0; i < r->nrecipes; i++)
		strbuf_addf(&recipes, "%s%s", i ? " " : "", r->recipes[i]);
	if (db_begin(db) < 0)
		goto out;
	if (count_where(db, "SELECT count(*) FROM builds WHERE status IN ('accepted', 'queued')",
			&waiting) < 0)
		goto rollback;
	if ((size_t)waiting + n > (size_t)queue_max) {
		ret = 1;
		goto rollback;
	}
	for (size_t i = 0; i < n; i++)
		if (insert(db, r, r->tree ? r->ports[i] : recipes.buf, &ids[i]) < 0)
			goto rollback;
	if (db_commit(db) < 0)
		goto out;
	ret = 0;
	goto out;
rollback:
	db_rollback(db);
out:
	strbuf_release(&recipes);
	return ret;
}

int queue_waiting(struct db *db, int64_t *n)
{
	int v = 0;
	int rc = count_where(db, "SELECT count(*) FROM builds WHERE status IN ('accepted', 'queued')",
			     &v);
	*n = v;
	return rc;
}

int queue_commit(struct db *db, int64_t id, const char *inputs)
{
	return exec_id(db, "UPDATE builds SET status = 'queued', inputs = ?2 "
			   "WHERE id = ?1 AND status = 'accepted'", id, inputs ? inputs : "");
}

int queue_claim(struct db *db, int64_t *id, int *attempt)
{
	return queue_claim_fair(db, -1, id, attempt);
}

/* The builds a worker may claim now; ?3 caps pull requests' running builds (-1: any). */
#define CLAIMABLE \
	"FROM builds b LEFT JOIN images i ON i.name = b.image " \
	"WHERE b.status = 'queued' AND b.cancel_requested = 0 AND i.quarantined IS NULL " \
	"AND (b.source != 'pull-request' OR ?3 < 0 OR " \
	"     (SELECT count(*) FROM builds r WHERE r.status = 'running' " \
	"      AND r.source = 'pull-request') < ?3) "

int queue_claimable(struct db *db, int max_pr_running, int *n)
{
	struct db_stmt *st;
	int rc;

	*n = 0;
	if (db_prepare(db, &st, "SELECT count(*) " CLAIMABLE) < 0)
		return -1;
	db_bind_int(st, 3, max_pr_running);
	rc = db_step(st);
	if (rc == 1)
		*n = (int)db_col_int(st, 0);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int queue_claim_fair(struct db *db, int max_pr_running, int64_t *id, int *attempt)
{
	struct db_stmt *st = NULL;
	int rc, ret = -1;

	if (db_begin(db) < 0)
		return -1;
	if (db_prepare(db, &st,
		       /*
			* A build whose image is gone is claimed too: its attempt
			* fails it with the reason, instead of it waiting forever.
			* A cancelled build is never queued (queue_requeue), and the
			* claim does not touch cancel_requested.
			*/
		       "UPDATE builds SET status = 'running', owner = ?1, attempts = attempts + 1, "
		       "started = coalesce(started, ?2) "
		       "WHERE id = (SELECT b.id " CLAIMABLE
		       "            ORDER BY b.priority DESC, b.id LIMIT 1) "
		       "RETURNING id, attempts") < 0)
		goto fail;
	db_bind_text(st, 1, ledger_self());
	db_bind_int(st, 2, mf_wall_seconds());
	db_bind_int(st, 3, max_pr_running);
	rc = db_step(st);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		db_finalize(st);
		db_rollback(db);
		return 0;
	}
	*id = db_col_int(st, 0);
	*attempt = (int)db_col_int(st, 1);
	db_finalize(st);
	st = NULL;
	if (db_prepare(db, &st, "INSERT OR REPLACE INTO attempts (build_id, n, status, started) "
				"VALUES (?, ?, 'running', ?)") < 0)
		goto fail;
	db_bind_int(st, 1, *id);
	db_bind_int(st, 2, *attempt);
	db_bind_int(st, 3, mf_wall_seconds());
	if (db_step(st) < 0)
		goto fail;
	db_finalize(st);
	st = NULL;
	if (db_commit(db) < 0)
		return -1;
	ret = 1;
	return ret;
fail:
	db_finalize(st);
	db_rollback(db);
	return -1;
}

int queue_attempt_end(struct db *db, int64_t id, int attempt, const char *status,
		      const char *error)
{
	return db_execf(db, "UPDATE attempts SET status = ?, error = ?, finished = ? "
			    "WHERE build_id = ? AND n = ?", "ttiii", status, error,
			mf_wall_seconds(), id, (int64_t)attempt);
}

int queue_requeue(struct db *db, int64_t id, int forget_attempt)
{
	/* A build whose cancel was accepted ends here instead: it never runs again. */
	return db_execf(db, "UPDATE builds SET owner = NULL, "
			    "status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, "
			    "error = CASE WHEN cancel_requested THEN 'cancelled on request' "
			    "        ELSE error END, "
			    "finished = CASE WHEN cancel_requested THEN ?3 ELSE finished END, "
			    "attempts = CASE WHEN ?2 THEN max(attempts - 1, 0) ELSE attempts END "
			    "WHERE id = ?1 AND status = 'running'", "iii", id,
			(int64_t)(forget_attempt != 0), mf_wall_seconds());
}

static int status_of(struct db *db, int64_t id, char **out)
{
	struct db_stmt *st;
	int rc;

	*out = NULL;
	if (db_prepare(db, &st, "SELECT status FROM builds WHERE id = ?") < 0)
		return -1;
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == 1)
		*out = xstrdup(db_col_text(st, 0));
	db_finalize(st);
	if (rc == 0)
		return mf_error(MF_E_USAGE, "no build %lld", (long long)id);
	return rc < 0 ? -1 : 0;
}

int queue_attempt_done(struct db *db, int64_t id, int n, const struct build_result *res,
		       enum queue_next next, char **now)
{
	const char *status = build_status_name(res->status);

	*now = NULL;
	if (db_begin(db) < 0)
		return -1;
	if (queue_attempt_end(db, id, n, status, res->error) < 0)
		goto fail;
	if (next == QUEUE_FINISH) {
		if (builds_finish(db, id, res->status, res->exit_code, res->error) < 0)
			goto fail;
	} else if (queue_requeue(db, id, next == QUEUE_RETRY_UNCOUNTED) < 0) {
		goto fail;
	}
	if (status_of(db, id, now) < 0)
		goto fail;
	if (db_commit(db) < 0) {
		free(*now);
		*now = NULL;
		return -1;
	}
	return 0;
fail:
	db_rollback(db);
	return -1;
}

int queue_cancel(struct db *db, int64_t id, char **state)
{
	*state = NULL;
	if (db_begin(db) < 0)
		return -1;
	if (exec_id(db, "UPDATE builds SET status = 'cancelled', error = 'cancelled before "
			"it started', finished = strftime('%s', 'now') "
			"WHERE id = ?1 AND status IN ('accepted', 'queued')", id, NULL) < 0)
		goto fail;
	if (db_changes(db) == 1) {
		*state = xstrdup("cancelled");
		goto commit;
	}
	if (exec_id(db, "UPDATE builds SET cancel_requested = 1 "
			"WHERE id = ?1 AND status = 'running'", id, NULL) < 0)
		goto fail;
	if (db_changes(db) == 1) {
		*state = xstrdup("cancelling");
		goto commit;
	}
	if (status_of(db, id, state) < 0)
		goto fail;
	if (db_commit(db) < 0)
		goto out;
	return 1;
commit:
	if (db_commit(db) == 0)
		return 0;
	goto out;
fail:
	db_rollback(db);
out:
	free(*state);
	*state = NULL;
	return -1;
}

int queue_cancel_requested(struct db *db, int64_t id)
{
	struct db_stmt *st;
	int rc, yes = 0;

	if (db_prepare(db, &st, "SELECT cancel_requested FROM builds WHERE id = ?") < 0)
		return -1;
	db_bind_int(st, 1, id);
	rc = db_step(st);
	if (rc == 1)
		yes = db_col_int(st, 0) != 0;
	db_finalize(st);
	return rc < 0 ? -1 : yes;
}

int queue_recover(struct db *db, int max_attempts)
{
	struct db_stmt *st;
	struct { int64_t id; int attempts; int cancelled; } *v = NULL;
	size_t n = 0;
	int rc, recovered = 0;

	if (db_prepare(db, &st, "SELECT id, owner, attempts, cancel_requested FROM builds "
				"WHERE source = 'api' AND status IN ('running', 'accepted')") < 0)
		return -1;
	while ((rc = db_step(st)) == 1) {
		const char *owner = db_col_text(st, 1);
		if (owner && mf_process_alive(owner))
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		v[n].id = db_col_int(st, 0);
		v[n].attempts = (int)db_col_int(st, 2);
		v[n].cancelled = db_col_int(st, 3) != 0;
		n++;
	}
	db_finalize(st);
	if (rc < 0) {
		free(v);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *why = "mayflyd stopped during this attempt (crash or kill)";
		int64_t id = v[i].id;

		/* An accepted build never had its inputs written: the client got no id. */
		if (exec_id(db, "UPDATE builds SET status = 'failed', error = 'the submission "
				"did not complete', finished = strftime('%s', 'now') "
				"WHERE id = ?1 AND status = 'accepted'", id, NULL) < 0)
			goto fail;
		if (db_changes(db) == 1)
			continue;
		if (v[i].cancelled) {
			/* Its cancel was asked for before the crash: honour it. */
			if (queue_attempt_end(db, id, v[i].attempts, "cancelled", why) < 0 ||
			    exec_id(db, "UPDATE builds SET status = 'cancelled', error = 'cancelled "
				    "(mayflyd stopped while cancelling it)', finished = "
				    "strftime('%s', 'now') WHERE id = ?1", id, NULL) < 0)
				goto fail;
			log_info("build %lld: cancelled (mayflyd stopped while cancelling it)",
				 (long long)id);
			recovered++;
			continue;
		}
		if (queue_attempt_end(db, id, v[i].attempts, "infra_error", why) < 0)
			goto fail;
		if (v[i].attempts < max_attempts) {
			if (queue_requeue(db, id, 0) < 0)
				goto fail;
			log_info("build %lld: %s; queued again (attempt %d of %d next)",
				 (long long)id, why, v[i].attempts + 1, max_attempts);
		} else {
			if (exec_id(db, "UPDATE builds SET status = 'infra_error', error = ?2, "
					"finished = strftime('%s', 'now') WHERE id = ?1", id,
				    why) < 0)
				goto fail;
			log_info("build %lld: %s; no attempts left", (long long)id, why);
		}
		recovered++;
	}
	free(v);
	return recovered;
fail:
	free(v);
	return -1;
}

int queue_counts(struct db *db, int *queued, int *running)
{
	if (count_where(db, "SELECT count(*) FROM builds WHERE status IN ('accepted', 'queued')",
			queued) < 0)
		return -1;
	return count_where(db, "SELECT count(*) FROM builds WHERE status = 'running'", running);
}
