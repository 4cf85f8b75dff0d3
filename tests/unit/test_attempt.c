/*
 * test_attempt.c - the decisions after one attempt of a queued build
 * (daemon/attempt.c): finished, retried, retried uncounted, cancelled,
 * with a real SQLite state directory and the pipeline stubbed at its
 * boundary (pipeline_run() below returns what each test asks for).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build/pipeline.h"
#include "common/error.h"
#include "common/util.h"
#include "daemon/attempt.h"
#include "store/builds.h"
#include "store/db.h"
#include "store/queue.h"
#include "store/state.h"

#include "state_fixture.h"

/* --- the pipeline, stubbed at its boundary */

static struct {
	int fail;			/* pipeline_run returns -1 with cls and msg */
	enum mf_errclass cls;
	const char *msg;
	enum build_status status;	/* otherwise the outcome */
	const char *error;
	void (*during)(void);		/* runs "while the build runs" */
	int runs, results;
	int64_t seen_id;
	int seen_attempt;
	enum build_status written;	/* what result.json got */
} stub;

int pipeline_run(const struct build_env *env, const struct build_request *req,
		 const struct build_events *ev, struct build_result *out)
{
	memset(out, 0, sizeof(*out));
	stub.runs++;
	stub.seen_id = req->build_id;
	stub.seen_attempt = req->attempt;
	assert_true(req->defer_finish);
	if (stub.during)
		stub.during();
	if (stub.fail)
		return mf_error(stub.cls, "%s", stub.msg);
	out->id = req->build_id;
	out->image = xstrdup(req->image);
	out->status = stub.status;
	out->exit_code = stub.status == BUILD_SUCCEEDED ? 0 : stub.status == BUILD_FAILED ? 1 : -1;
	out->error = xstrdup_or_null(stub.error);
	return 0;
}

void pipeline_write_result(struct mf_state *st, const struct build_result *r)
{
	stub.results++;
	stub.written = r->status;
}

/* --- helpers */

static struct fixture *fx(void **state)
{
	return *state;
}

static int setup(void **state)
{
	if (state_fixture_setup(state) < 0)
		return -1;
	fixture_add_image(fdb(state), "tg");
	memset(&stub, 0, sizeof(stub));
	return 0;
}

static int64_t enqueue(struct db *db)
{
	static char r0[] = "hello";
	static char *const recipes[] = { r0 };
	struct queue_request r = { .image = "tg", .recipes = recipes, .nrecipes = 1 };
	int64_t id = 0;

	assert_int_equal(queue_submit(db, &r, 100, &id), 0);
	assert_int_equal(queue_commit(db, id, NULL), 0);
	return id;
}

static atomic_int cancel_flag, stopping_flag;

/* Claims the next build (it must be want) and runs its attempt as a worker would. */
static int run_next(void **state, int64_t want, int want_attempt, int max_attempts)
{
	struct db *db = fdb(state);
	struct build_env env = { .state = fx(state)->st };
	int64_t id = 0;
	int n = 0;

	assert_int_equal(queue_claim(db, &id, &n), 1);
	assert_int_equal(id, want);
	assert_int_equal(n, want_attempt);
	struct attempt a = {
		.env = &env, .id = id, .n = n, .max_attempts = max_attempts,
		.cancel = &cancel_flag, .stopping = &stopping_flag, .worker = 1,
	};
	return attempt_run(&a);
}

static void assert_status(struct db *db, int64_t id, const char *want)
{
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", id, want);
}

static void assert_no_claim(struct db *db)
{
	int64_t id = 0;
	int n = 0;

	assert_int_equal(queue_claim(db, &id, &n), 0);
}

/* --- tests */

static void test_success_and_failure_finish(void **state)
{
	struct db *db = fdb(state);
	int64_t a = enqueue(db), b = enqueue(db);

	stub.status = BUILD_SUCCEEDED;
	assert_int_equal(run_next(state, a, 1, 3), 0);
	assert_status(db, a, "succeeded");
	assert_int_equal(stub.written, BUILD_SUCCEEDED);

	/* The build command's own failure is never retried. */
	stub.status = BUILD_FAILED;
	stub.error = "the build command exited with status 1";
	assert_int_equal(run_next(state, b, 1, 3), 0);
	assert_status(db, b, "failed");
	assert_query_text(db, "SELECT exit_code FROM builds WHERE id = ?", b, "1");
	assert_int_equal(stub.results, 2);
	assert_no_claim(db);
}

static void test_infra_retried_until_out_of_attempts(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db);

	stub.status = BUILD_INFRA_ERROR;
	stub.error = "ready: the guest did not answer SSH";
	assert_int_equal(run_next(state, id, 1, 2), 0);
	assert_status(db, id, "queued");
	assert_int_equal(stub.results, 0); /* not over: no result.json yet */
	assert_int_equal(run_next(state, id, 2, 2), 0);
	assert_status(db, id, "infra_error");
	assert_int_equal(query_int(db, "SELECT count(*) FROM attempts WHERE build_id = ?", id), 2);
	assert_int_equal(stub.written, BUILD_INFRA_ERROR);
	assert_no_claim(db);
}

/* The user cancels while the attempt runs, on another connection (the API). */
static struct db *api_db;
static int64_t cancel_id;

static void cancel_from_api(void)
{
	char *st = NULL;

	assert_int_equal(queue_cancel(api_db, cancel_id, &st), 0);
	assert_string_equal(st, "cancelling");
	free(st);
}

/* The defect: an accepted cancel was lost when the attempt was retried. */
static void test_cancel_during_attempt_is_never_retried(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db);

	assert_int_equal(db_open(&api_db, db_path(db)), 0);
	cancel_id = id;
	stub.during = cancel_from_api;
	/* The attempt ends by itself, in an infrastructure failure, retries left. */
	stub.status = BUILD_INFRA_ERROR;
	stub.error = "boot: QEMU died";
	assert_int_equal(run_next(state, id, 1, 3), 0);
	assert_status(db, id, "cancelled");
	assert_int_equal(stub.written, BUILD_CANCELLED);
	assert_int_equal(stub.runs, 1);
	assert_no_claim(db);
	db_close(api_db);
}

static void test_daemon_stop_requeues_uncounted(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db);

	stopping_flag = 1; /* mayflyd's SIGTERM interrupted the build */
	stub.status = BUILD_CANCELLED;
	stub.error = "interrupted";
	assert_int_equal(run_next(state, id, 1, 3), 0);
	stopping_flag = 0;
	assert_status(db, id, "queued");
	assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", id), 0);
	/* Next start: the same attempt number again. */
	stub.status = BUILD_SUCCEEDED;
	stub.error = NULL;
	assert_int_equal(run_next(state, id, 1, 3), 0);
	assert_status(db, id, "succeeded");
}

static void test_user_cancel_finishes_cancelled(void **state)
{
	struct db *db = fdb(state);
	int64_t id = enqueue(db);

	stub.status = BUILD_CANCELLED; /* the user's cancel, mayflyd runs on */
	stub.error = "interrupted";
	assert_int_equal(run_next(state, id, 1, 3), 0);
	assert_status(db, id, "cancelled");
	assert_no_claim(db);
}

/* The defect: every pipeline_run error but CONFLICT was recorded 'failed', never retried. */
static void test_not_started_by_error_class(void **state)
{
	struct db *db = fdb(state);
	int64_t usage = enqueue(db), infra = enqueue(db), conflict = enqueue(db);

	stub.fail = 1;
	stub.cls = MF_E_USAGE;
	stub.msg = "unknown image 'tg2' (registered: tg)";
	assert_int_equal(run_next(state, usage, 1, 3), 0);
	assert_status(db, usage, "failed");
	assert_query_text(db, "SELECT error FROM builds WHERE id = ?", usage, stub.msg);

	stub.cls = MF_E_INFRA;
	stub.msg = "cannot create build log '/x/build.log': No space left on device";
	assert_int_equal(run_next(state, infra, 1, 2), 0);
	assert_status(db, infra, "queued");
	assert_query_text(db, "SELECT status FROM attempts WHERE build_id = ? AND n = 1", infra,
			  "infra_error");
	/* It comes back (FIFO) as attempt 2 and, failing again, ends. */
	assert_int_equal(run_next(state, infra, 2, 2), 0);
	assert_status(db, infra, "infra_error");

	/* Quarantined meanwhile: queued again, uncounted, until 'vmctl image clear'. */
	stub.cls = MF_E_CONFLICT;
	stub.msg = "image 'tg' is quarantined";
	assert_int_equal(run_next(state, conflict, 1, 3), 0);
	assert_status(db, conflict, "queued");
	assert_int_equal(query_int(db, "SELECT attempts FROM builds WHERE id = ?", conflict), 0);
}

/* A lock held by another connection for a while, then released. */
struct locker {
	struct db *db;
	int hold_ms;
};

static void *hold_lock(void *arg)
{
	struct locker *l = arg;
	struct timespec ts = { l->hold_ms / 1000, (long)(l->hold_ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	db_rollback(l->db);
	return NULL;
}

/* The defect: a failure to record left the build 'running' under a live mayflyd. */
static void test_record_retried_until_it_succeeds(void **state)
{
	struct db *db = fdb(state);
	struct locker l = { .hold_ms = 700 };
	pthread_t t;
	int64_t id = enqueue(db);

	assert_int_equal(db_open(&l.db, db_path(db)), 0);
	db_set_busy_timeout(db, 20);
	stub.status = BUILD_SUCCEEDED;
	/* Locked just as the build ends: the first tries to record fail. */
	stub.during = NULL;
	{
		int64_t cid = 0;
		int n = 0;
		struct build_env env = { .state = fx(state)->st };
		assert_int_equal(queue_claim(db, &cid, &n), 1);
		assert_int_equal(db_begin(l.db), 0);
		assert_int_equal(pthread_create(&t, NULL, hold_lock, &l), 0);
		struct attempt a = {
			.env = &env, .id = cid, .n = n, .max_attempts = 3,
			.cancel = &cancel_flag, .stopping = &stopping_flag, .worker = 1,
		};
		assert_int_equal(attempt_run(&a), 0);
	}
	pthread_join(t, NULL);
	assert_status(db, id, "succeeded");
	assert_false(db_in_transaction(db));
	db_close(l.db);
}

static void test_record_left_for_recovery_when_stopping(void **state)
{
	struct db *db = fdb(state);
	struct db *lock = NULL;
	struct build_env env = { .state = fx(state)->st };
	int64_t id = enqueue(db), cid = 0;
	int n = 0;

	assert_int_equal(db_open(&lock, db_path(db)), 0);
	db_set_busy_timeout(db, 20);
	assert_int_equal(queue_claim(db, &cid, &n), 1);
	assert_int_equal(db_begin(lock), 0);
	stopping_flag = 1;
	stub.status = BUILD_SUCCEEDED;
	struct attempt a = {
		.env = &env, .id = cid, .n = n, .max_attempts = 3,
		.cancel = &cancel_flag, .stopping = &stopping_flag, .worker = 1,
	};
	/* mayflyd stops: the attempt gives up recording instead of hanging the stop... */
	assert_int_equal(attempt_run(&a), -1);
	stopping_flag = 0;
	db_rollback(lock);
	db_close(lock);
	/* ... and the build is left running under this (soon dead) owner for queue_recover(). */
	assert_status(db, id, "running");
	db_execf(db, "UPDATE builds SET owner = '" DEAD_OWNER "' WHERE id = ?", "i", id);
	assert_int_equal(queue_recover(db, 3), 1);
	assert_status(db, id, "queued");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, state_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_success_and_failure_finish),
		T(test_infra_retried_until_out_of_attempts),
		T(test_cancel_during_attempt_is_never_retried),
		T(test_daemon_stop_requeues_uncounted),
		T(test_user_cancel_finishes_cancelled),
		T(test_not_started_by_error_class),
		T(test_record_retried_until_it_succeeds),
		T(test_record_left_for_recovery_when_stopping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
