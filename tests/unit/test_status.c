/*
 * test_status.c - commit statuses queued in the state database
 * (store/statuses.c) and posted to a forge stand-in (forge_standin.py,
 * python3 on 127.0.0.1) by forge/status.c: the requests' exact shapes for
 * GitHub and GitLab, superseded statuses, retries with growing waits, a
 * forge that is down, a restart in between, and the token kept out of
 * every error. Time is advanced by the test (no sleeping).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "forge/status.h"
#include "store/statuses.h"

#include "s3rver_fixture.h"
#include "state_fixture.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define SHA2 "89abcdef0123456789abcdef0123456789abcdef"
#define TOKEN "ghp_s3cretT0ken"
#define NOW 1700000000

struct fx {
	struct fixture state;
	pid_t standin;		/* 0: down */
	int port;
	char *portfile, *log, *control, *token_file;
	char *api;		/* http://127.0.0.1:PORT */
};

/* Starts the stand-in on port (0: a free one); 0 if it listens. */
static int standin_start(struct fx *f, int port)
{
	char *script = xasprintf("%s/forge_standin.py", MAYFLY_TESTDIR);
	char portarg[16];

	unlink(f->portfile);
	snprintf(portarg, sizeof(portarg), "%d", port);
	f->standin = fork();
	if (f->standin == 0) {
		execlp("python3", "python3", script, f->portfile, f->log, f->control, portarg,
		       (char *)NULL);
		_exit(127);
	}
	free(script);
	char *text = test_wait_for(f->portfile, "\n", 30);
	if (!text)
		return -1;
	f->port = atoi(text);
	free(text);
	return 0;
}

static void standin_stop(struct fx *f)
{
	if (f->standin > 0) {
		kill(f->standin, SIGTERM);
		waitpid(f->standin, NULL, 0);
	}
	f->standin = 0;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	void *inner = NULL;

	if (state_fixture_setup(&inner) < 0)
		return -1;
	f->state = *(struct fixture *)inner;
	free(inner);
	f->portfile = xasprintf("%s/standin.port", f->state.dir);
	f->log = xasprintf("%s/standin.log", f->state.dir);
	f->control = xasprintf("%s/standin.control", f->state.dir);
	f->token_file = xasprintf("%s/token", f->state.dir);
	if (mf_write_file_atomic(f->token_file, TOKEN "\n", strlen(TOKEN) + 1, 0600) < 0 ||
	    standin_start(f, 0) < 0)
		return -1;
	f->api = xasprintf("http://127.0.0.1:%d", f->port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	void *inner = xcalloc(1, sizeof(struct fixture));

	standin_stop(f);
	*(struct fixture *)inner = f->state;
	state_fixture_teardown(&inner);
	free(f->portfile);
	free(f->log);
	free(f->control);
	free(f->token_file);
	free(f->api);
	free(f);
	return 0;
}

/* The next n requests answer status with body ("{auth}": the request's token header). */
static void standin_fail(struct fx *f, int n, int status, const char *body)
{
	json_t *c = json_pack("{s:i, s:i, s:s}", "fail", n, "status", status, "body", body);
	char *text = json_dumps(c, 0);

	assert_int_equal(mf_write_file_atomic(f->control, text, strlen(text), 0644), 0);
	free(text);
	json_decref(c);
}

/* Every request the stand-in recorded, in order (an array; caller decrefs). */
static json_t *requests(struct fx *f)
{
	json_t *all = json_array();
	char *text = NULL;

	if (mf_read_file(f->log, 1 << 20, &text, NULL) < 0)
		return all;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		json_error_t e;
		json_t *r = json_loads(line, 0, &e);
		if (!r)
			fail_msg("stand-in log: %s: %s", e.text, line);
		json_array_append_new(all, r);
	}
	free(text);
	return all;
}

static size_t nrequests(struct fx *f)
{
	json_t *all = requests(f);
	size_t n = json_array_size(all);

	json_decref(all);
	return n;
}

static const char *field(json_t *req, const char *name)
{
	return json_string_value(json_object_get(req, name));
}

/* The value of header name (any case) in req; NULL if it has none. */
static const char *header(json_t *req, const char *name)
{
	size_t i;
	json_t *h;

	json_array_foreach(json_object_get(req, "headers"), i, h)
		if (!strcasecmp(json_string_value(json_array_get(h, 0)), name))
			return json_string_value(json_array_get(h, 1));
	return NULL;
}

static void assert_header(json_t *req, const char *name, const char *want)
{
	const char *got = header(req, name);

	if (!got)
		fail_msg("no header %s", name);
	assert_string_equal(got, want);
}

static int64_t enqueue(struct fx *f, const char *forge, const char *api, const char *repo,
		       const char *sha, const char *context, const char *state,
		       const char *description)
{
	struct forge_status s = {
		.forge = (char *)forge, .api_url = (char *)api, .repo = (char *)repo,
		.token_file = f->token_file, .sha = (char *)sha, .context = (char *)context,
		.state = (char *)state, .description = (char *)description,
		.target_url = "https://mayfly.example.org/buildruns/7", .created = NOW,
	};
	int64_t id = 0;

	if (statuses_enqueue(f->state.st->db, &s, &id) < 0)
		fail_msg("statuses_enqueue: %s", mf_error_msg());
	assert_true(id > 0);
	return id;
}

static struct forge_send_stats round_at(struct fx *f, int64_t now)
{
	struct forge_send_stats stats;

	if (forge_status_send_due(f->state.st, now, &stats) < 0)
		fail_msg("forge_status_send_due: %s", mf_error_msg());
	return stats;
}

/* The row of id as the store lists it (caller releases). */
static struct forge_status row(struct fx *f, int64_t id)
{
	struct forge_status *v = NULL, s = { 0 };
	size_t n = 0;

	assert_int_equal(statuses_list(f->state.st->db, NULL, &v, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (v[i].id == id) {
			s = v[i];
			memset(&v[i], 0, sizeof(v[i]));
		}
	}
	forge_statuses_free(v, n);
	if (!s.id)
		fail_msg("no status %lld", (long long)id);
	return s;
}

static void assert_sent(struct fx *f, int64_t id, int64_t when, int64_t attempts)
{
	struct forge_status s = row(f, id);

	assert_int_equal(s.sent, when);
	assert_string_equal(s.outcome, "sent");
	assert_int_equal(s.attempts, attempts);
	forge_status_release(&s);
}

/* Bad input is refused with what is wrong; a good status is stored (sha in lower case). */
static void test_enqueue_validates(void **state)
{
	struct fx *f = *state;
	struct db *db = f->state.st->db;
	struct forge_status s = {
		.forge = "github", .api_url = "https://api.github.com", .repo = "o/n",
		.sha = SHA, .context = "mayfly/x86_64", .state = "running", .description = "x",
	};

	assert_int_equal(statuses_enqueue(db, &s, NULL), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "state 'running'"));
	s.state = "success";
	s.sha = "0123456789abcdef";
	assert_int_equal(statuses_enqueue(db, &s, NULL), -1);
	assert_non_null(strstr(mf_error_msg(), "40 hex digits"));
	s.sha = "0123456789abcdef0123456789abcdef0123456g";
	assert_int_equal(statuses_enqueue(db, &s, NULL), -1);
	s.sha = SHA;
	s.forge = "gitea";
	assert_int_equal(statuses_enqueue(db, &s, NULL), -1);
	assert_non_null(strstr(mf_error_msg(), "forge 'gitea'"));
	s.forge = "github";
	s.api_url = "ftp://x";
	assert_int_equal(statuses_enqueue(db, &s, NULL), -1);
	s.api_url = "https://api.github.com";
	s.context = "";
	assert_int_equal(statuses_enqueue(db, &s, NULL), -1);
	s.context = "mayfly/x86_64";
	s.sha = "0123456789ABCDEF0123456789ABCDEF01234567";
	int64_t id = 0;
	assert_int_equal(statuses_enqueue(db, &s, &id), 0);
	struct forge_status *v = NULL;
	size_t n = 0;
	assert_int_equal(statuses_list(db, SHA, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, id);
	assert_string_equal(v[0].sha, SHA);
	assert_null(v[0].token_file);
	assert_null(v[0].target_url);
	assert_null(v[0].outcome);
	assert_int_equal(v[0].sent, 0);
	assert_int_equal(v[0].next_try, 0);
	forge_statuses_free(v, n);
	assert_int_equal(statuses_list(db, SHA2, &v, &n), 0);
	assert_int_equal(n, 0);
	forge_statuses_free(v, n);
}

/* A GitHub status: POST /repos/O/N/statuses/SHA, its four headers, its JSON body; sent. */
static void test_github_request(void **state)
{
	struct fx *f = *state;
	int64_t id = enqueue(f, "github", f->api, "owner/name", SHA, "mayfly/x86_64", "failure",
			     "3 ports built, 1 failed: foo");
	struct forge_send_stats stats = round_at(f, NOW);

	assert_int_equal(stats.due, 1);
	assert_int_equal(stats.sent, 1);
	assert_int_equal(stats.failed, 0);
	json_t *all = requests(f), *r = json_array_get(all, 0);
	assert_int_equal(json_array_size(all), 1);
	assert_string_equal(field(r, "method"), "POST");
	assert_string_equal(field(r, "path"), "/repos/owner/name/statuses/" SHA);
	assert_string_equal(field(r, "query"), "");
	assert_header(r, "Accept", "application/vnd.github+json");
	assert_header(r, "Authorization", "Bearer " TOKEN);
	assert_header(r, "User-Agent", "mayfly");
	assert_header(r, "Content-Type", "application/json");
	assert_null(header(r, "PRIVATE-TOKEN"));
	json_t *body = json_loads(field(r, "body"), 0, NULL);
	assert_non_null(body);
	assert_int_equal(json_object_size(body), 4);
	assert_string_equal(field(body, "state"), "failure");
	assert_string_equal(field(body, "target_url"), "https://mayfly.example.org/buildruns/7");
	assert_string_equal(field(body, "description"), "3 ports built, 1 failed: foo");
	assert_string_equal(field(body, "context"), "mayfly/x86_64");
	json_decref(body);
	json_decref(all);
	assert_sent(f, id, NOW, 1);
	/* Nothing is due any more. */
	stats = round_at(f, NOW + 3600);
	assert_int_equal(stats.due, 0);
	assert_int_equal(nrequests(f), 1);
}

/* A GitLab status: POST /projects/ID/statuses/SHA under the API's path, a form body with
 * GitLab's state names, PRIVATE-TOKEN. */
static void test_gitlab_request(void **state)
{
	struct fx *f = *state;
	char *api = xasprintf("%s/api/v4/", f->api);
	int64_t a = enqueue(f, "gitlab", api, "group%2Fproject", SHA, "mayfly/x86_64", "error",
			    "3 ports built, 1 failed: foo & bär");
	int64_t b = enqueue(f, "gitlab", api, "42", SHA, "mayfly/arm64", "pending", "queued");
	struct forge_send_stats stats = round_at(f, NOW);

	assert_int_equal(stats.sent, 2);
	json_t *all = requests(f), *r = json_array_get(all, 0);
	assert_int_equal(json_array_size(all), 2);
	assert_string_equal(field(r, "method"), "POST");
	assert_string_equal(field(r, "path"), "/api/v4/projects/group%2Fproject/statuses/" SHA);
	assert_string_equal(field(r, "query"), "");
	assert_header(r, "PRIVATE-TOKEN", TOKEN);
	assert_header(r, "User-Agent", "mayfly");
	assert_header(r, "Content-Type", "application/x-www-form-urlencoded");
	assert_null(header(r, "Authorization"));
	assert_string_equal(field(r, "body"),
			    "state=failed&name=mayfly%2Fx86_64"
			    "&target_url=https%3A%2F%2Fmayfly.example.org%2Fbuildruns%2F7"
			    "&description=3%20ports%20built%2C%201%20failed%3A%20foo%20%26%20b%C3%A4r");
	r = json_array_get(all, 1);
	assert_string_equal(field(r, "path"), "/api/v4/projects/42/statuses/" SHA);
	assert_string_equal(field(r, "body"),
			    "state=pending&name=mayfly%2Farm64"
			    "&target_url=https%3A%2F%2Fmayfly.example.org%2Fbuildruns%2F7"
			    "&description=queued");
	json_decref(all);
	assert_sent(f, a, NOW, 1);
	assert_sent(f, b, NOW, 1);
	free(api);
}

/* Pending then success for one commit and context, both unsent: only success is sent, the
 * pending one is superseded; another context and another commit are not. */
static void test_superseded(void **state)
{
	struct fx *f = *state;
	int64_t pending = enqueue(f, "github", f->api, "o/n", SHA, "mayfly/x86_64", "pending", "queued");
	int64_t other = enqueue(f, "github", f->api, "o/n", SHA, "mayfly/arm64", "pending", "queued");
	int64_t commit2 = enqueue(f, "github", f->api, "o/n", SHA2, "mayfly/x86_64", "pending", "q");
	int64_t success = enqueue(f, "github", f->api, "o/n", SHA, "mayfly/x86_64", "success",
				  "3 ports built");
	struct forge_send_stats stats = round_at(f, NOW);

	assert_int_equal(stats.due, 3);
	assert_int_equal(stats.sent, 3);
	json_t *all = requests(f);
	size_t i;
	json_t *r;
	int x86_on_sha = 0;
	assert_int_equal(json_array_size(all), 3);
	json_array_foreach(all, i, r) {
		json_t *body = json_loads(field(r, "body"), 0, NULL);
		if (!strcmp(field(r, "path"), "/repos/o/n/statuses/" SHA) &&
		    !strcmp(field(body, "context"), "mayfly/x86_64")) {
			assert_string_equal(field(body, "state"), "success");
			x86_on_sha++;
		}
		json_decref(body);
	}
	assert_int_equal(x86_on_sha, 1);
	json_decref(all);
	struct forge_status s = row(f, pending);
	assert_string_equal(s.outcome, "superseded");
	assert_int_equal(s.sent, 0);
	assert_int_equal(s.attempts, 0);
	forge_status_release(&s);
	assert_sent(f, success, NOW, 1);
	assert_sent(f, other, NOW, 1);
	assert_sent(f, commit2, NOW, 1);
}

/* A newer status supersedes an older one that is waiting for its retry. */
static void test_superseded_while_waiting(void **state)
{
	struct fx *f = *state;
	int64_t pending = enqueue(f, "github", f->api, "o/n", SHA, "ctx", "pending", "queued");

	standin_fail(f, 1, 502, "bad gateway");
	assert_int_equal(round_at(f, NOW).failed, 1);
	int64_t success = enqueue(f, "github", f->api, "o/n", SHA, "ctx", "success", "done");
	struct forge_send_stats stats = round_at(f, NOW + 1);
	assert_int_equal(stats.due, 1);
	assert_int_equal(stats.sent, 1);
	struct forge_status s = row(f, pending);
	assert_string_equal(s.outcome, "superseded");
	forge_status_release(&s);
	assert_sent(f, success, NOW + 1, 1);
	/* The pending one is never sent, however long we wait. */
	assert_int_equal(round_at(f, NOW + 100000).due, 0);
	assert_int_equal(nrequests(f), 2);
}

/* 502 twice: tried again with a growing wait, delivered on the third round. */
static void test_retry_502(void **state)
{
	struct fx *f = *state;
	int64_t id = enqueue(f, "github", f->api, "o/n", SHA, "ctx", "success", "ok");
	struct forge_status s;

	standin_fail(f, 2, 502, "<html>bad\r\n\tgateway\x01</html>");
	struct forge_send_stats stats = round_at(f, NOW);
	assert_int_equal(stats.failed, 1);
	assert_int_equal(stats.sent, 0);
	s = row(f, id);
	assert_string_equal(s.last_error, "HTTP 502: <html>badgateway</html>");
	assert_int_equal(s.attempts, 1);
	assert_null(s.outcome);
	int64_t wait1 = s.next_try - NOW;
	assert_in_range(wait1, 4, 5);
	forge_status_release(&s);

	/* Not due before its time. */
	assert_int_equal(round_at(f, NOW + wait1 - 1).due, 0);
	assert_int_equal(nrequests(f), 1);

	int64_t now2 = NOW + wait1;
	assert_int_equal(round_at(f, now2).failed, 1);
	s = row(f, id);
	assert_int_equal(s.attempts, 2);
	int64_t wait2 = s.next_try - now2;
	assert_in_range(wait2, 8, 10);
	assert_true(wait2 > wait1);
	forge_status_release(&s);

	int64_t now3 = now2 + wait2;
	stats = round_at(f, now3);
	assert_int_equal(stats.sent, 1);
	assert_sent(f, id, now3, 3);
	assert_int_equal(nrequests(f), 3);
}

/* Nothing listening: the error is recorded (once per forge and round, for every status of
 * it), nothing is lost; delivered once the forge is up again. */
static void test_forge_down(void **state)
{
	struct fx *f = *state;
	int port = f->port;
	int64_t a = enqueue(f, "github", f->api, "o/n", SHA, "x86", "success", "ok");
	int64_t b = enqueue(f, "github", f->api, "o/n", SHA, "arm", "failure", "no");
	char *want = xasprintf("cannot reach http://127.0.0.1:%d", port);

	standin_stop(f);
	struct forge_send_stats stats = round_at(f, NOW);
	assert_int_equal(stats.due, 2);
	assert_int_equal(stats.failed, 2);
	for (int64_t id = a; id <= b; id++) {
		struct forge_status s = row(f, id);
		assert_non_null(strstr(s.last_error, want));
		assert_null(s.outcome);
		assert_int_equal(s.attempts, 1);
		assert_in_range(s.next_try - NOW, 4, 5);
		forge_status_release(&s);
	}
	assert_int_equal(standin_start(f, port), 0);
	assert_int_equal(f->port, port);
	stats = round_at(f, NOW + 5);
	assert_int_equal(stats.sent, 2);
	assert_sent(f, a, NOW + 5, 2);
	assert_sent(f, b, NOW + 5, 2);
	assert_int_equal(nrequests(f), 2);
	free(want);
}

/* Undelivered statuses survive closing and opening the state directory again. */
static void test_restart_keeps(void **state)
{
	struct fx *f = *state;
	int64_t failed = enqueue(f, "github", f->api, "o/n", SHA, "x86", "success", "ok");

	standin_fail(f, 1, 503, "later");
	assert_int_equal(round_at(f, NOW).failed, 1);
	int64_t fresh = enqueue(f, "gitlab", f->api, "7", SHA, "x86", "pending", "queued");

	state_free(f->state.st);
	f->state.st = NULL;
	assert_int_equal(state_open(&f->state.st, f->state.dir), 0);

	struct forge_status s = row(f, failed);
	assert_null(s.outcome);
	assert_int_equal(s.attempts, 1);
	assert_string_equal(s.last_error, "HTTP 503: later");
	int64_t next = s.next_try;
	forge_status_release(&s);
	s = row(f, fresh);
	assert_null(s.outcome);
	assert_string_equal(s.description, "queued");
	forge_status_release(&s);

	assert_int_equal(round_at(f, next).sent, 2);
	assert_sent(f, failed, next, 2);
	assert_sent(f, fresh, next, 1);
}

/* A forge that echoes the token in its error: the token is not in last_error. A 401 waits
 * the capped time; the token is read again at each attempt, so a fixed one delivers. */
static void test_token_not_in_error(void **state)
{
	struct fx *f = *state;
	int64_t id = enqueue(f, "github", f->api, "o/n", SHA, "x86", "success", "ok");
	struct forge_status s;

	standin_fail(f, 1, 401, "{\"message\": \"Bad credentials: {auth}\"}");
	assert_int_equal(round_at(f, NOW).failed, 1);
	s = row(f, id);
	assert_null(strstr(s.last_error, TOKEN));
	assert_string_equal(s.last_error, "HTTP 401: {\"message\": \"Bad credentials: Bearer [token]\"}");
	assert_in_range(s.next_try - NOW, 480, 600);
	int64_t next = s.next_try;
	forge_status_release(&s);

	/* A token file gone: its error names the file, no request is made. */
	char *moved = xasprintf("%s.moved", f->token_file);
	assert_int_equal(rename(f->token_file, moved), 0);
	assert_int_equal(round_at(f, next).failed, 1);
	s = row(f, id);
	assert_non_null(strstr(s.last_error, f->token_file));
	next = s.next_try;
	forge_status_release(&s);
	assert_int_equal(nrequests(f), 1);

	/* A new token in the file is used at the next attempt. */
	assert_int_equal(mf_write_file_atomic(f->token_file, "ghp_new\r\n", 9, 0600), 0);
	assert_int_equal(round_at(f, next).sent, 1);
	json_t *all = requests(f);
	assert_header(json_array_get(all, 1), "Authorization", "Bearer ghp_new");
	json_decref(all);

	/* Nothing the store holds has the old token. */
	struct forge_status *v = NULL;
	size_t n = 0;
	assert_int_equal(statuses_list(f->state.st->db, NULL, &v, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_null(v[i].last_error ? strstr(v[i].last_error, TOKEN) : NULL);
	forge_statuses_free(v, n);
	free(moved);
}

/* 300 bytes of UTF-8 are cut to at most 140 at a character boundary, and sent so. */
static void test_description_cut(void **state)
{
	struct fx *f = *state;
	struct strbuf sb = STRBUF_INIT;

	strbuf_addch(&sb, 'a');
	while (sb.len < 300)
		strbuf_addstr(&sb, "\xe2\x82\xac");	/* € */
	int64_t id = enqueue(f, "github", f->api, "o/n", SHA, "x86", "success", sb.buf);
	struct forge_status s = row(f, id);
	/* 'a' + 46 × 3 bytes = 139: a 47th € would end at byte 142. */
	assert_int_equal(strlen(s.description), 139);
	assert_memory_equal(s.description, sb.buf, 139);
	forge_status_release(&s);

	assert_int_equal(round_at(f, NOW).sent, 1);
	json_t *all = requests(f);
	json_t *body = json_loads(field(json_array_get(all, 0), "body"), 0, NULL);
	assert_int_equal(strlen(field(body, "description")), 139);
	json_decref(body);
	json_decref(all);

	/* Exactly 140 bytes stay whole; a cut inside a 2-byte character backs over it. */
	assert_int_equal(statuses_utf8_cut("abc", 140), 3);
	assert_int_equal(statuses_utf8_cut("ab\xc3\xa4", 3), 2);
	assert_int_equal(statuses_utf8_cut("ab\xc3\xa4", 4), 4);
	strbuf_release(&sb);
}

/* Waits double from 5 s to the 10-minute cap, less up to a fifth; 401/403/404/422 start at
 * the cap. */
static void test_backoff(void **state)
{
	int64_t prev = 0;

	for (int64_t a = 0; a < 7; a++) {
		int64_t w = forge_status_backoff(a, 502);
		int64_t full = 5LL << a;
		assert_in_range(w, full - full / 5, full);
		assert_true(w > prev);
		prev = w;
	}
	for (int i = 0; i < 50; i++) {
		assert_in_range(forge_status_backoff(30, 0), 480, 600);
		assert_in_range(forge_status_backoff(1000000, 0), 480, 600);
	}
	static const long capped[] = { 401, 403, 404, 422 };
	for (size_t i = 0; i < 4; i++)
		assert_in_range(forge_status_backoff(0, capped[i]), 480, 600);
	assert_in_range(forge_status_backoff(0, 500), 4, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enqueue_validates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_github_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gitlab_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_superseded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_superseded_while_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_502, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forge_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_not_in_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_description_cut, setup, teardown),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
