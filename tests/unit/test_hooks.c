/*
 * test_hooks.c - the receiving side of forge webhooks (daemon/hooks.c
 * compiled in), with a real SQLite state directory: signatures and tokens,
 * limits, replays, what is recorded and what is refused. What happens
 * after (fetches, build runs) is t0800's; the scheduler, the poller and
 * the build run planner are stubbed here and must not be reached.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "state_fixture.h"

#include "buildrun/buildrun.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/util.h"
#include "daemon/hooks.h"
#include "daemon/poller.h"
#include "daemon/scheduler.h"
#include "store/trees.h"

/* Stubs: receiving a webhook never builds, fetches or schedules. */
void scheduler_wake(struct scheduler *s)
{
	(void)s;
	fail_msg("hooks_receive woke the scheduler");
}

void scheduler_cancel(struct scheduler *s, int64_t id)
{
	(void)s;
	(void)id;
	fail_msg("hooks_receive cancelled a build");
}

void poller_update_tree(struct mf_state *st, const struct mf_config *cfg,
			struct scheduler *sched, const char *tree)
{
	(void)st, (void)cfg, (void)sched, (void)tree;
	fail_msg("hooks_receive updated a tree");
}

int buildrun_plan(struct mf_state *st, const struct plan_opts *o, struct buildrun **out)
{
	(void)st, (void)o, (void)out;
	fail_msg("hooks_receive planned a build run");
	return -1;
}

int buildrun_advance(struct mf_state *st, int64_t run, int *queued)
{
	(void)st, (void)run, (void)queued;
	fail_msg("hooks_receive advanced a build run");
	return -1;
}

int buildrun_cancel(struct mf_state *st, int64_t id, const char *why, int64_t **c, size_t *n)
{
	(void)st, (void)id, (void)why, (void)c, (void)n;
	fail_msg("hooks_receive cancelled a build run");
	return -1;
}

#define SECRET "It's a Secret to Everybody"
#define HEAD "0123456789abcdef0123456789abcdef01234567"
#define HEAD2 "89abcdef0123456789abcdef0123456789abcdef"

struct env {
	struct fixture *f;
	struct mf_config cfg;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	if (state_fixture_setup(state) < 0)
		return -1;
	e->f = *state;
	config_init(&e->cfg);
	e->cfg.pr_max_pending = 2;
	e->cfg.pr_max_per_author = 1;
	e->cfg.max_webhook_kb = 8;
	char *secret = xasprintf("%s/secret", e->f->dir);
	assert_int_equal(mf_write_file_atomic(secret, SECRET "\n", strlen(SECRET) + 1, 0600), 0);
	struct db *db = e->f->st->db;
	const char *names[] = { "gh", "gl", "plain" };
	for (size_t i = 0; i < 3; i++) {
		struct tree t = { .name = (char *)names[i], .url = "/nowhere", .branch = "master",
				  .packager = "T <t@t.invalid>" };
		assert_int_equal(trees_insert(db, &t), 0);
	}
	struct tree_forge gh = { .forge = "github", .webhook_secret_file = secret,
				 .api_url = "http://127.0.0.1:1", .repo = "haiku/ports" };
	struct tree_forge gl = { .forge = "gitlab", .webhook_secret_file = secret,
				 .api_url = "http://127.0.0.1:1", .repo = "haiku/ports" };
	assert_int_equal(trees_set_forge(db, "gh", &gh), 0);
	assert_int_equal(trees_set_forge(db, "gl", &gl), 0);
	free(secret);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	void *f = e->f;

	config_release(&e->cfg);
	free(e);
	return state_fixture_teardown(&f);
}

/* Headers: "Name: value" strings, NULL-terminated. */
static const char *header(void *ctx, const char *name)
{
	for (const char *const *h = ctx; *h; h++) {
		size_t n = strlen(name);
		if (!strncasecmp(*h, name, n) && (*h)[n] == ':')
			return *h + n + 2;
	}
	return NULL;
}

static char answer[4096];

/* Delivers body as event to /hooks/FORGE/TREE with a signature (NULL:
 * the right one, "": none); returns the HTTP status, the body in answer. */
static int deliver(struct env *e, const char *forge, const char *tree, const char *event,
		   const char *delivery, const char *body, const char *sig)
{
	char hex[SHA256_HEX_LEN], sigh[128], evh[128], dh[128];
	const char *hs[5] = { NULL };
	size_t n = 0;
	char *json = NULL;

	hmac_sha256_hex(SECRET, strlen(SECRET), body, strlen(body), hex);
	if (!strcmp(forge, "github")) {
		if (!sig)
			snprintf(sigh, sizeof(sigh), "X-Hub-Signature-256: sha256=%s", hex);
		else
			snprintf(sigh, sizeof(sigh), "X-Hub-Signature-256: %s", sig);
		snprintf(evh, sizeof(evh), "X-GitHub-Event: %s", event);
		snprintf(dh, sizeof(dh), "X-GitHub-Delivery: %s", delivery);
	} else {
		snprintf(sigh, sizeof(sigh), "X-Gitlab-Token: %s", sig ? sig : SECRET);
		snprintf(evh, sizeof(evh), "X-Gitlab-Event: %s", event);
		snprintf(dh, sizeof(dh), "X-Gitlab-Event-UUID: %s", delivery);
	}
	if (!sig || *sig)
		hs[n++] = sigh;
	hs[n++] = evh;
	hs[n++] = dh;
	struct hook_request req = { .body = body, .len = strlen(body), .header = header,
				    .ctx = (void *)hs };
	int status = hooks_receive(e->f->st, &e->cfg, forge, tree, &req, &json);
	snprintf(answer, sizeof(answer), "%s", json ? json : "");
	free(json);
	return status;
}

static void answer_has(const char *needle)
{
	if (!strstr(answer, needle))
		fail_msg("the answer '%s' lacks '%s'", answer, needle);
}

static char *pr(const char *action, int number, const char *head, const char *author,
		const char *base)
{
	return xasprintf("{\"action\":\"%s\",\"number\":%d,\"pull_request\":{\"number\":%d,"
			 "\"head\":{\"sha\":\"%s\",\"ref\":\"f\",\"repo\":{\"full_name\":"
			 "\"haiku/ports\"}},\"base\":{\"ref\":\"%s\",\"repo\":{\"full_name\":"
			 "\"haiku/ports\"}},\"user\":{\"login\":\"%s\"}},\"repository\":"
			 "{\"full_name\":\"haiku/ports\"}}",
			 action, number, number, head, base, author);
}

static int64_t events(struct env *e)
{
	return query_int(e->f->st->db, "SELECT count(*) FROM webhook_events WHERE ?1 = ?1", 0);
}

static int64_t deliveries(struct env *e)
{
	return query_int(e->f->st->db, "SELECT count(*) FROM webhook_deliveries WHERE ?1 = ?1", 0);
}

static void test_signatures(void **state)
{
	struct env *e = *state;
	char *body = pr("opened", 1, HEAD, "alice", "master");

	/* GitHub's documented test vector, end to end (an event ignored unread). */
	assert_int_equal(deliver(e, "github", "gh", "issues", "v-1", "Hello, World!",
				 "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
			 202);
	answer_has("ignored");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "d-1", body, ""), 401);
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "d-1", body,
				 "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
			 401);
	answer_has("X-Hub-Signature-256");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "d-1", body, "sha256=zz"),
			 401);
	/* GitLab: the token, not a signature. */
	assert_int_equal(deliver(e, "gitlab", "gl", "Push Hook", "d-2", "{}", "wrong"), 401);
	assert_int_equal(deliver(e, "gitlab", "gl", "Push Hook", "d-2", "{}", SECRET "x"), 401);
	assert_int_equal(deliver(e, "gitlab", "gl", "Push Hook", "d-2", "{}", ""), 401);
	answer_has("X-Gitlab-Token");
	/* Nothing of the refused ones was kept. */
	assert_int_equal(events(e), 0);
	assert_int_equal(deliveries(e), 1);
	free(body);
}

static void test_routes_and_limits(void **state)
{
	struct env *e = *state;
	char *body = pr("opened", 1, HEAD, "alice", "master");

	/* Unknown trees and trees without webhooks look the same from outside. */
	assert_int_equal(deliver(e, "github", "nope", "ping", "x", "{}", NULL), 404);
	answer_has("no webhook at this address");
	assert_int_equal(deliver(e, "github", "plain", "ping", "x", "{}", NULL), 404);
	answer_has("no webhook at this address");
	assert_int_equal(deliver(e, "gitlab", "gh", "ping", "x", "{}", NULL), 404);
	assert_int_equal(deliver(e, "bitbucket", "gh", "ping", "x", "{}", NULL), 404);
	assert_int_equal(deliver(e, "github", "a;b", "ping", "x", "{}", NULL), 404);
	char *big = xmalloc(9000);
	memset(big, ' ', 8999);
	big[0] = '{', big[8997] = '}', big[8998] = '\0';
	assert_int_equal(deliver(e, "github", "gh", "ping", "x", big, NULL), 413);
	/* Malformed: 400 naming what, nothing recorded. */
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "m-1", "{\"action\":", NULL),
			 400);
	char *evil = pr("opened", 1, HEAD, "alice", "master;reboot");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "m-2", evil, NULL), 400);
	answer_has("base.ref");
	char *bad = pr("opened", 1, "1234", "alice", "master");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "m-3", bad, NULL), 400);
	answer_has("head.sha");
	assert_int_equal(events(e), 0);
	assert_int_equal(deliveries(e), 0);
	/* Another repository's event: 403. Into another branch: ignored. */
	char *other = xasprintf("%s", body);
	char *at = strstr(other, "\"repository\":{\"full_name\":\"haiku/ports\"");
	memcpy(at + 27, "haiku/xxxxx", 11);
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "r-1", other, NULL), 403);
	char *side = pr("opened", 1, HEAD, "alice", "r1beta5");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "r-2", side, NULL), 202);
	answer_has("ignored: a pull request into r1beta5");
	assert_int_equal(events(e), 0);
	free(body);
	free(big);
	free(evil);
	free(bad);
	free(other);
	free(side);
}

static void test_recorded_once_and_limited(void **state)
{
	struct env *e = *state;
	char *open1 = pr("opened", 1, HEAD, "alice", "master");
	char *sync1 = pr("synchronize", 1, HEAD2, "alice", "master");
	char *open2 = pr("opened", 2, HEAD, "alice", "master");
	char *close1 = pr("closed", 1, HEAD2, "alice", "master");

	assert_int_equal(deliver(e, "github", "gh", "ping", "p-1", "{\"zen\":\"z\"}", NULL), 200);
	answer_has("pong");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "e-1", open1, NULL), 202);
	answer_has("pull request #1");
	assert_query_text(e->f->st->db, "SELECT kind || ' ' || number || ' ' || sha || ' ' || author"
			  " FROM webhook_events WHERE id = ?1", 1, "pr-open 1 " HEAD " alice");
	/* A replay: 200, nothing again. */
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "e-1", open1, NULL), 200);
	answer_has("received before");
	assert_int_equal(events(e), 1);
	/* Per pull request: pr_max_pending (2) events waiting. */
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "e-2", sync1, NULL), 202);
	char *sync1b = pr("synchronize", 1, HEAD, "alice", "master");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "e-3", sync1b, NULL), 429);
	free(sync1b);
	answer_has("pull request #1 already has 2 events waiting");
	/* Per author: pr_max_per_author (1) pull requests; another one of hers waits. */
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "e-4", open2, NULL), 429);
	answer_has("alice already has");
	char *bob = pr("opened", 2, HEAD, "bob", "master");
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "e-5", bob, NULL), 202);
	/* Closing is never limited. */
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "e-6", close1, NULL), 202);
	assert_int_equal(events(e), 4);
	/* The 429s are not taken as delivered: the forge may send them again. */
	assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM webhook_deliveries WHERE"
						 " delivery IN ('e-3', 'e-4') AND ?1 = ?1", 0), 0);
	/* Pushes: the tree's branch is recorded, another branch ignored. */
	char *push = xasprintf("{\"ref\":\"refs/heads/master\",\"after\":\"%s\",\"repository\":"
			       "{\"full_name\":\"haiku/ports\"},\"pusher\":{\"name\":\"alice\"}}", HEAD);
	assert_int_equal(deliver(e, "github", "gh", "push", "e-7", push, NULL), 202);
	answer_has("the tree is updated");
	char *side = xasprintf("{\"ref\":\"refs/heads/dev\",\"after\":\"%s\",\"repository\":"
			       "{\"full_name\":\"haiku/ports\"},\"pusher\":{\"name\":\"alice\"}}", HEAD);
	assert_int_equal(deliver(e, "github", "gh", "push", "e-8", side, NULL), 202);
	answer_has("ignored: a push to dev");
	assert_int_equal(events(e), 5);
	/* A body seen before is a replay, under any delivery id (the signature
	 * covers the body only); without an id too. */
	assert_int_equal(deliver(e, "github", "gh", "push", "e-9", push, NULL), 200);
	answer_has("received before");
	char *push2 = xasprintf("{\"ref\":\"refs/heads/master\",\"after\":\"%s\",\"repository\":"
				"{\"full_name\":\"haiku/ports\"},\"pusher\":{\"name\":\"bob\"}}", HEAD2);
	assert_int_equal(deliver(e, "github", "gh", "push", "", push2, NULL), 202);
	assert_int_equal(deliver(e, "github", "gh", "push", "", push2, NULL), 200);
	assert_int_equal(events(e), 6);
	free(push2);
	free(open1);
	free(sync1);
	free(open2);
	free(close1);
	free(bob);
	free(push);
	free(side);
}

/* A short secret (an empty one would sign anything) is never used. */
static void test_short_secret(void **state)
{
	struct env *e = *state;
	char *path = xasprintf("%s/secret", e->f->dir);

	assert_int_equal(mf_write_file_atomic(path, "\n", 1, 0600), 0);
	char *body = pr("opened", 1, HEAD, "alice", "master");
	char hex[SHA256_HEX_LEN], sig[80];
	hmac_sha256_hex("", 0, body, strlen(body), hex);
	snprintf(sig, sizeof(sig), "sha256=%s", hex);
	assert_int_equal(deliver(e, "github", "gh", "pull_request", "s-1", body, sig), 500);
	assert_int_equal(deliver(e, "gitlab", "gl", "Push Hook", "s-2", "{}", ""), 500);
	assert_int_equal(events(e), 0);
	assert_int_equal(deliveries(e), 0);
	free(body);
	free(path);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_signatures),
		T(test_routes_and_limits),
		T(test_recorded_once_and_limited),
		T(test_short_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
