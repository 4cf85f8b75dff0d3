/*
 * test_queue.c - mayflyd's persistent build queue: submission, claims in
 * order, retries, cancels and recovery after a crash, each test in a fresh
 * mkdtemp state directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/builds.h"
#include "store/db.h"
#include "common/error.h"
#include "store/ledger.h"
#include "store/queue.h"
#include "store/state.h"
#include "common/util.h"

#include "state_fixture.h"

#define QMAX 100

static int setup(void **state)
{
	if (state_fixture_setup(state) < 0)
		return -1;
	fixture_add_image(fdb(state), "tg");
	fixture_add_image(fdb(state), "other");
	return 0;
}

static void assert_query_has(struct db *db, const char *sql, int64_t arg, const char *needle)
{
	char *got = query_text(db, sql, arg);

	if (!got || !strstr(got, needle))
		fail_msg("%s gave '%s', expected it to contain '%s'", sql, got ? got : "NULL",
			 needle);
	free(got);
}

static void assert_status(struct db *db, int64_t id, const char *want)
{
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", id, want);
}

static void exec_id(struct db *db, const char *sql, int64_t id)
{
	struct db_stmt *st;

	assert_int_equal(db_prepare(db, &st, sql), 0);
	db_bind_int(st, 1, id);
	assert_int_equal(db_step(st), 0);
	db_finalize(st);
}

static void set_owner_dead(struct db *db, int64_t id)
{
	exec_id(db, "UPDATE builds SET owner = '" DEAD_OWNER "' WHERE id = ?", id);
}

/* Submits a build (still 'accepted'); returns its id. */
static int64_t submit_as(struct db *db, const char *image, int priority)
{
	static char r0[] = "hello", r1[] = "big-2";
	static char *const recipes[] = { r0, r1 };
	struct queue_request r = {
		.image = image, .recipes = recipes, .nrecipes = 2, .priority = priority,
		.timeout = 0, .requested_by = "tester",
	};
	int64_t id = 0;

	if (queue_submit(db, &r, QMAX, &id) != 0)
		fail_msg("queue_submit: %s", mf_error_msg());
	assert_true(id > 0);
	return id;
}

/* Submits and commits a build: queued, claimable. */
static int64_t enqueue(struct db *db, int priority)
{
	int64_t id = submit_as(db, "tg", priority);

	assert_int_equal(queue_commit(db, id, NULL), 0);
	return id;
}

/* Claims the next build, which must be want, at attempt want_attempt. */
static void claim_expect(struct db *db, int64_t want, int want_attempt)
{
	int64_t id = 0;
	int attempt = 0;

	assert_int_equal(queue_claim(db, &id, &attempt), 1);
	if (id != want)
		fail_msg("claimed build %lld, expected %lld", (long long)id, (long long)want);
	assert_int_equal(attempt, want_attempt);
}

static void claim_none(struct db *db)
{
	int64_t id = -7;
	int attempt = -7;

	assert_int_equal(queue_claim(db, &id, &attempt), 0);
}

static void test_submit_commit(void **state)
{
	struct db *db = fdb(state);
	static char r0[] = "zlib";
	static char *const recipes[] = { r0 };
	struct queue_request r = {
		.image = "tg", .recipes = recipes, .nrecipes = 1, .priority = 4, .timeout = 900,
		.requested_by = "alice",
	};
	int64_t id = 0;

	assert_int_equal(queue_submit(db, &r, QMAX, &id), 0);
	assert_true(id > 0);
	assert_status(db, id, "accepted");
	assert_query_text(db, "SELECT source FROM builds WHERE id = ?", id, "api");
	assert_query_text(db, "SELECT image FROM builds WHERE id = ?", id, "tg");
	assert_query_text(db, "SELECT recipes FROM builds WHERE id = ?", id, "zlib");
	assert_query_text(db, "SELECT requested_by FROM builds WHERE id = ?", id, "alice");
	assert_int_equal(query_int(db, "SELECT priority FROM builds WHERE id = ?", id), 4);
	assert_int_equal(query_int(db, "SELECT timeout FROM builds WHERE id = ?", id), 900);
	assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", id), 0);
	assert_true(query_int(db, "SELECT created FROM builds WHERE id = ?", id) > 0);
	assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", id, NULL);
	assert_query_text(db, "SELECT finished FROM builds WHERE id = ?", id, NULL);
	/* Accepted is not claimable. */
	claim_none(db);

	assert_int_equal(queue_commit(db, id, "dep.hpkg other.hpkg"), 0);
	assert_status(db, id, "queued");
	assert_query_text(db, "SELECT inputs FROM builds WHERE id = ?", id, "dep.hpkg other.hpkg");
	claim_expect(db, id, 1);
	claim_none(db);
}

static void test_submit_defaults(void **state)
{
	struct db *db = fdb(state);
	int64_t id = submit_as(db, "tg", 0), id2;

	/* Timeout 0 stores no timeout; recipes are space-separated. */
	assert_query_text(db, "SELECT timeout FROM builds WHERE id = ?", id, NULL);
	assert_query_text(db, "SELECT recipes FROM builds WHERE id = ?", id, "hello big-2");
	assert_int_equal(queue_commit(db, id, NULL), 0);
	assert_status(db, id, "queued");
	claim_expect(db, id, 1);
	/* Committing a build that is no longer accepted changes nothing. */
	assert_int_equal(queue_commit(db, id, "x"), 0);
	assert_status(db, id, "running");
	/* Ids grow. */
	id2 = submit_as(db, "tg", 0);
	assert_true(id2 > id);
}

static void test_queue_max(void **state)
{
	struct db *db = fdb(state);
	static char r0[] = "zlib";
	static char *const recipes[] = { r0 };
	struct queue_request r = { .image = "tg", .recipes = recipes, .nrecipes = 1 };
	int64_t a = 0, b = 0, c = -5;

	assert_int_equal(queue_submit(db, &r, 2, &a), 0);
	assert_int_equal(queue_commit(db, a, NULL), 0);	/* queued */
	assert_int_equal(queue_submit(db, &r, 2, &b), 0);	/* accepted */
	assert_int_not_equal(a, b);
	/* Accepted and queued builds both count. */
	assert_int_equal(queue_submit(db, &r, 2, &c), 1);
	assert_int_equal(c, -5);
	assert_int_equal(query_int(db, "SELECT count(*) FROM builds WHERE ? = 0", 0), 2);

	/* A running build no longer waits: there is room again. */
	claim_expect(db, a, 1);
	assert_int_equal(queue_submit(db, &r, 2, &c), 0);
	assert_true(c > b);
	assert_int_equal(queue_submit(db, &r, 2, &c), 1);
}

static void test_claim_order(void **state)
{
	struct db *db = fdb(state);
	int64_t a = enqueue(db, 0), b = enqueue(db, 0), c = enqueue(db, 5);
	int64_t low = enqueue(db, -3), d;

	claim_expect(db, c, 1);
	claim_expect(db, a, 1);
	/* A later submission of higher priority goes before the rest. */
	d = enqueue(db, 1);
	claim_expect(db, d, 1);
	claim_expect(db, b, 1);
	claim_expect(db, low, 1);
	claim_none(db);

	int64_t ids[] = { a, b, c, d, low };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_status(db, ids[i], "running");
		assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", ids[i], ledger_self());
		assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", ids[i]), 1);
		assert_true(query_int(db, "SELECT started FROM builds WHERE id = ?", ids[i]) > 0);
		assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1",
				  ids[i], "running");
		assert_true(query_int(db, "SELECT started FROM attempts WHERE build_id = ? AND n = 1",
				      ids[i]) > 0);
		assert_query_text(db, "SELECT finished FROM attempts WHERE build_id = ? AND n = 1",
				  ids[i], NULL);
		assert_int_equal(query_int(db, "SELECT count(*) FROM attempts WHERE build_id = ?",
					   ids[i]), 1);
	}
}

/* Pull requests' builds take at most max_pr_running machines; the branch's go first then. */
static void test_claim_fair(void **state)
{
	struct db *db = fdb(state);
	int64_t p1 = enqueue(db, 0), p2 = enqueue(db, 0), main1 = enqueue(db, 0), id = 0;
	int attempt = 0;

	exec_id(db, "UPDATE builds SET source = 'pull-request' WHERE id <= ?", p2);
	assert_int_equal(queue_claim_fair(db, 1, &id, &attempt), 1);
	assert_int_equal(id, p1);
	/* One pull request build runs: the next one waits, the branch's goes. */
	assert_int_equal(queue_claim_fair(db, 1, &id, &attempt), 1);
	assert_int_equal(id, main1);
	assert_int_equal(queue_claim_fair(db, 1, &id, &attempt), 0);
	assert_status(db, p2, "queued");
	/* When it ends, the other may run. */
	exec_id(db, "UPDATE builds SET status = 'succeeded' WHERE id = ?", p1);
	assert_int_equal(queue_claim_fair(db, 1, &id, &attempt), 1);
	assert_int_equal(id, p2);
	/* 0: no machine for pull requests at all; -1: no limit. */
	int64_t p3 = enqueue(db, 0);
	exec_id(db, "UPDATE builds SET source = 'pull-request' WHERE id = ?", p3);
	exec_id(db, "UPDATE builds SET status = 'succeeded' WHERE id = ?", p2);
	assert_int_equal(queue_claim_fair(db, 0, &id, &attempt), 0);
	assert_int_equal(queue_claim_fair(db, -1, &id, &attempt), 1);
	assert_int_equal(id, p3);
}

static void test_claim_skips_quarantined(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db, 0), other;

	exec_id(db, "UPDATE images SET quarantined = 'x' WHERE name = "
		    "(SELECT image FROM builds WHERE id = ?)", id);
	claim_none(db);
	assert_status(db, id, "queued");

	/* Builds of other images still run, even of lower priority. */
	other = submit_as(db, "other", -10);
	assert_int_equal(queue_commit(db, other, NULL), 0);
	claim_expect(db, other, 1);
	claim_none(db);

	exec_id(db, "UPDATE images SET quarantined = NULL WHERE ? = 0", 0);
	claim_expect(db, id, 1);
}

static void test_claim_unknown_image(void **state)
{
	struct db *db = fdb(state);
	int64_t id = submit_as(db, "gone", 0);

	/*
	 * A build whose image is no longer registered is claimed (its attempt
	 * then fails it with the reason) instead of waiting forever and
	 * counting against queue_max.
	 */
	assert_int_equal(queue_commit(db, id, NULL), 0);
	claim_expect(db, id, 1);
	assert_status(db, id, "running");
}

/* The defect: a cancel accepted while an attempt ran was lost when the attempt was retried. */
static void test_requeue_honours_cancel(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db, 0), other = enqueue(db, 0);
	char *st = NULL;

	claim_expect(db, id, 1);
	assert_int_equal(queue_cancel(db, id, &st), 0);
	assert_string_equal(st, "cancelling");
	free(st);
	/* The attempt ends in an infrastructure failure with retries left... */
	assert_int_equal(queue_attempt_end(db, id, 1, "infra_error", "boot failed"), 0);
	assert_int_equal(queue_requeue(db, id, 0), 0);
	/* ... and the build ends cancelled instead of running again. */
	assert_status(db, id, "cancelled");
	assert_query_text(db, "SELECT error FROM builds WHERE id = ?", id, "cancelled on request");
	assert_true(query_int(db, "SELECT finished FROM builds WHERE id = ?", id) > 0);
	claim_expect(db, other, 1);
	claim_none(db);

	/* Uncounted requeues (mayflyd's stop) honour it too. */
	int64_t third = enqueue(db, 0);
	claim_expect(db, third, 1);
	assert_int_equal(queue_cancel(db, third, &st), 0);
	free(st);
	assert_int_equal(queue_requeue(db, third, 1), 0);
	assert_status(db, third, "cancelled");
	claim_none(db);
}

/* A claim never clears a requested cancel (it did, and so lost it). */
static void test_claim_keeps_cancel(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db, 0);

	exec_id(db, "UPDATE builds SET cancel_requested = 1 WHERE id = ?", id);
	/* A queued build with a pending cancel (from an older Mayfly) is not claimed. */
	claim_none(db);
	assert_int_equal(query_int(db, "SELECT cancel_requested FROM builds WHERE id = ?", id), 1);
}

static struct build_result outcome(int64_t id, enum build_status s, int exit_code,
				   const char *error)
{
	struct build_result r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.status = s;
	r.exit_code = exit_code;
	r.error = (char *)error;
	return r;
}

static void done_expect(struct db *db, int64_t id, int n, struct build_result r,
			enum queue_next next, const char *want_now)
{
	char *now = NULL;

	if (queue_attempt_done(db, id, n, &r, next, &now) < 0)
		fail_msg("queue_attempt_done: %s", mf_error_msg());
	assert_non_null(now);
	assert_string_equal(now, want_now);
	free(now);
	assert_false(db_in_transaction(db));
}

static void test_attempt_done(void **state)
{
	struct db *db = fdb(state);
	int64_t a = enqueue(db, 0), b = enqueue(db, 0), c = enqueue(db, 0);
	char *st = NULL;

	/* Finish: the build gets the outcome, the attempt too, in one go. */
	claim_expect(db, a, 1);
	done_expect(db, a, 1, outcome(a, BUILD_FAILED, 2, "the build command exited with status 2"),
		    QUEUE_FINISH, "failed");
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", a,
			  "failed");
	assert_int_equal(query_int(db, "SELECT exit_code FROM builds WHERE id = ?", a), 2);

	/* Retry: queued again, counted; the next claim is attempt 2. */
	claim_expect(db, b, 1);
	done_expect(db, b, 1, outcome(b, BUILD_INFRA_ERROR, -1, "boot failed"), QUEUE_RETRY,
		    "queued");
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", b,
			  "infra_error");
	claim_expect(db, b, 2); /* FIFO: it was submitted before c */
	claim_expect(db, c, 1);
	/* Uncounted: attempt 2 again next time. */
	done_expect(db, b, 2, outcome(b, BUILD_CANCELLED, -1, "mayflyd stopped"),
		    QUEUE_RETRY_UNCOUNTED, "queued");
	claim_expect(db, b, 2);
	/* A cancel accepted meanwhile wins over the retry. */
	assert_int_equal(queue_cancel(db, b, &st), 0);
	free(st);
	done_expect(db, b, 2, outcome(b, BUILD_INFRA_ERROR, -1, "ssh failed"), QUEUE_RETRY,
		    "cancelled");
	/* The same with a finished outcome keeps the outcome: the work was done. */
	assert_int_equal(queue_cancel(db, c, &st), 0);
	free(st);
	done_expect(db, c, 1, outcome(c, BUILD_SUCCEEDED, 0, NULL), QUEUE_FINISH, "succeeded");
	claim_none(db);
}

static void test_attempt_end_requeue(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db, 0);
	int64_t started;

	claim_expect(db, id, 1);
	started = query_int(db, "SELECT started FROM builds WHERE id = ?", id);
	assert_int_equal(queue_attempt_end(db, id, 1, "infra_error", "boot failed"), 0);
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", id,
			  "infra_error");
	assert_query_text(db, "SELECT error FROM attempts WHERE build_id = ? AND n = 1", id,
			  "boot failed");
	assert_true(query_int(db, "SELECT finished FROM attempts WHERE build_id = ? AND n = 1",
			      id) > 0);
	/* The build itself still runs until the worker decides. */
	assert_status(db, id, "running");

	/* Retried: queued again, the attempt counted. */
	assert_int_equal(queue_requeue(db, id, 0), 0);
	assert_status(db, id, "queued");
	assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", id, NULL);
	assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", id), 1);
	claim_expect(db, id, 2);
	/* The first start stays the build's start. */
	assert_int_equal(query_int(db, "SELECT started FROM builds WHERE id = ?", id), started);
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", id,
			  "infra_error");
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 2", id,
			  "running");

	/* Put back without counting (mayflyd stopped): the same attempt again. */
	assert_int_equal(queue_attempt_end(db, id, 2, "cancelled", "mayflyd stopped"), 0);
	assert_int_equal(queue_requeue(db, id, 1), 0);
	assert_status(db, id, "queued");
	assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", id), 1);
	claim_expect(db, id, 2);
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 2", id,
			  "running");
	assert_query_text(db, "SELECT finished FROM attempts WHERE build_id = ? AND n = 2", id,
			  NULL);
	assert_int_equal(query_int(db, "SELECT count(*) FROM attempts WHERE build_id = ?", id), 2);

	/* Only running builds are put back. */
	assert_int_equal(builds_finish(db, id, BUILD_SUCCEEDED, 0, NULL), 0);
	assert_int_equal(queue_requeue(db, id, 0), 0);
	assert_status(db, id, "succeeded");
	claim_none(db);
}

static void cancel_expect(struct db *db, int64_t id, int want_rc, const char *want_state)
{
	char *st = (char *)"untouched";

	mf_error_clear();
	assert_int_equal(queue_cancel(db, id, &st), want_rc);
	if (!st)
		fail_msg("queue_cancel(%lld) gave no state", (long long)id);
	assert_string_equal(st, want_state);
	free(st);
}

static void test_cancel(void **state)
{
	struct db *db = fdb(state);
	int64_t running = enqueue(db, 0), done = enqueue(db, 0), queued, accepted;
	char *st = (char *)"untouched";

	claim_expect(db, running, 1);
	claim_expect(db, done, 1);
	assert_int_equal(builds_finish(db, done, BUILD_FAILED, 1, "recipe failed"), 0);
	queued = enqueue(db, 0);
	accepted = submit_as(db, "tg", 0);

	cancel_expect(db, queued, 0, "cancelled");
	assert_status(db, queued, "cancelled");
	assert_true(query_int(db, "SELECT finished FROM builds WHERE id = ?", queued) > 0);
	assert_query_has(db, "SELECT error FROM builds WHERE id = ?", queued, "cancelled");
	cancel_expect(db, accepted, 0, "cancelled");
	assert_status(db, accepted, "cancelled");
	/* Neither is claimable any more. */
	claim_none(db);

	assert_int_equal(queue_cancel_requested(db, running), 0);
	cancel_expect(db, running, 0, "cancelling");
	assert_status(db, running, "running");
	assert_int_equal(query_int(db, "SELECT cancel_requested FROM builds WHERE id = ?",
				   running), 1);
	assert_int_equal(queue_cancel_requested(db, running), 1);
	/* Asking again answers the same. */
	cancel_expect(db, running, 0, "cancelling");

	/* Finished builds keep their outcome. */
	cancel_expect(db, done, 1, "failed");
	assert_status(db, done, "failed");
	cancel_expect(db, queued, 1, "cancelled");

	mf_error_clear();
	assert_int_equal(queue_cancel(db, 9999, &st), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "9999"));
	assert_null(st);
	assert_int_equal(queue_cancel_requested(db, 9999), 0);

	/* The database is not left inside a transaction. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_commit(db), 0);
}

static void test_recover_retries(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db, 0);

	claim_expect(db, id, 1);
	set_owner_dead(db, id);
	assert_int_equal(queue_recover(db, 3), 1);
	assert_status(db, id, "queued");
	assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", id, NULL);
	assert_query_text(db, "SELECT finished FROM builds WHERE id = ?", id, NULL);
	assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", id), 1);
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", id,
			  "infra_error");
	assert_query_has(db, "SELECT error FROM attempts WHERE build_id = ? AND n = 1", id,
			 "mayflyd stopped");
	assert_true(query_int(db, "SELECT finished FROM attempts WHERE build_id = ? AND n = 1",
			      id) > 0);
	/* Nothing more to recover. */
	assert_int_equal(queue_recover(db, 3), 0);
	claim_expect(db, id, 2);
}

static void test_recover_out_of_attempts(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db, 0);

	for (int n = 1; n <= 3; n++) {
		claim_expect(db, id, n);
		if (n < 3) {
			assert_int_equal(queue_attempt_end(db, id, n, "infra_error", "boot failed"), 0);
			assert_int_equal(queue_requeue(db, id, 0), 0);
		}
	}
	set_owner_dead(db, id);
	assert_int_equal(queue_recover(db, 3), 1);
	assert_status(db, id, "infra_error");
	assert_true(query_int(db, "SELECT finished FROM builds WHERE id = ?", id) > 0);
	assert_query_has(db, "SELECT error FROM builds WHERE id = ?", id, "mayflyd stopped");
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 3", id,
			  "infra_error");
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", id,
			  "infra_error");
	claim_none(db);
	assert_int_equal(queue_recover(db, 3), 0);
}

static void test_recover_accepted(void **state)
{
	struct db *db = fdb(state);
	int64_t id = submit_as(db, "tg", 0), queued = enqueue(db, 0);

	/* Accepted builds have no owner: the API never finished writing them. */
	assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", id, NULL);
	/* (The count covers builds retried or ended; dropped submissions may or may not count.) */
	assert_true(queue_recover(db, 3) >= 0);
	assert_status(db, id, "failed");
	assert_query_text(db, "SELECT error FROM builds WHERE id = ?", id,
			  "the submission did not complete");
	assert_true(query_int(db, "SELECT finished FROM builds WHERE id = ?", id) > 0);
	/* Queued builds wait on. */
	assert_status(db, queued, "queued");
	claim_expect(db, queued, 1);
	claim_none(db);
}

static void test_recover_leaves_live_and_vmctl(void **state)
{
	struct db *db = fdb(state);
	int64_t mine = enqueue(db, 0), vm_dead = 0, vm_live = 0;

	claim_expect(db, mine, 1);
	/* vmctl's own builds are builds_fail_orphans()'s business. */
	assert_int_equal(builds_create(db, "tg", "zlib", &vm_dead), 0);
	assert_int_equal(builds_create(db, "tg", "zlib", &vm_live), 0);
	set_owner_dead(db, vm_dead);

	assert_int_equal(queue_recover(db, 3), 0);
	assert_status(db, mine, "running");
	assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", mine, ledger_self());
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", mine,
			  "running");
	assert_status(db, vm_dead, "running");
	assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", vm_dead, DEAD_OWNER);
	assert_status(db, vm_live, "running");
	assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", vm_dead), 0);
}

/*
 * Regression: queue_recover() once queued again a build whose cancel was
 * requested before mayflyd died, and it ran as if never cancelled.
 */
static void test_recover_honours_cancel(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db, 0);

	claim_expect(db, id, 1);
	cancel_expect(db, id, 0, "cancelling");
	set_owner_dead(db, id);
	assert_true(queue_recover(db, 3) >= 0);
	assert_status(db, id, "cancelled");
	claim_none(db);
}

static void test_counts(void **state)
{
	struct db *db = fdb(state);
	int queued = -1, running = -1;
	int64_t a, b, done;

	assert_int_equal(queue_counts(db, &queued, &running), 0);
	assert_int_equal(queued, 0);
	assert_int_equal(running, 0);

	submit_as(db, "tg", 0);		/* accepted */
	a = enqueue(db, 0);
	b = enqueue(db, 0);
	done = enqueue(db, 0);
	claim_expect(db, a, 1);
	claim_expect(db, b, 1);
	claim_expect(db, done, 1);
	assert_int_equal(builds_finish(db, done, BUILD_SUCCEEDED, 0, NULL), 0);
	assert_int_equal(queue_counts(db, &queued, &running), 0);
	assert_int_equal(queued, 1);	/* the accepted one */
	assert_int_equal(running, 2);

	enqueue(db, 0);
	assert_int_equal(queue_counts(db, &queued, &running), 0);
	assert_int_equal(queued, 2);
	assert_int_equal(running, 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, state_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_submit_commit),
		T(test_submit_defaults),
		T(test_queue_max),
		T(test_claim_order),
		T(test_claim_fair),
		T(test_claim_skips_quarantined),
		T(test_claim_unknown_image),
		T(test_requeue_honours_cancel),
		T(test_claim_keeps_cancel),
		T(test_attempt_done),
		T(test_attempt_end_requeue),
		T(test_cancel),
		T(test_recover_retries),
		T(test_recover_out_of_attempts),
		T(test_recover_accepted),
		T(test_recover_leaves_live_and_vmctl),
		T(test_recover_honours_cancel),
		T(test_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
