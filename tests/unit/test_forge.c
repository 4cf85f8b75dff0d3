/*
 * test_forge.c - forges' webhooks read and checked (the sample deliveries
 * in tests/data/forge, trimmed from GitHub's and GitLab's documented
 * payloads), and the commit status written back. jansson is used here
 * only to make broken variants of the samples and to read back what
 * forge_status_json_github() writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "json/forge.h"

#define SHA_A "6dcb09b5b57875f334f61aebed695e2e4193db5e"
#define SHA_C "c4f7e1a2b3d4e5f60718293a4b5c6d7e8f901234"
#define SHA_D "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"

/* The samples most tests change (forge, event, file). */
#define GH_PR FORGE_GITHUB, "pull_request", "github-pull_request-opened.json"
#define GH_PUSH FORGE_GITHUB, "push", "github-push.json"
#define GL_MR FORGE_GITLAB, "Merge Request Hook", "gitlab-merge_request-open.json"
#define GL_PUSH FORGE_GITLAB, "Push Hook", "gitlab-push.json"

static char *sample(const char *name, size_t *len)
{
	char *path = xasprintf("%s/forge/%s", MAYFLY_TESTDATA, name), *body = NULL;
	size_t n = 0;

	if (mf_read_file(path, 1 << 20, &body, &n) < 0)
		fail_msg("%s", mf_error_msg());
	free(path);
	if (len)
		*len = n;
	return body;
}

static void parse_ok(enum forge f, const char *event, const char *body, struct forge_event *e)
{
	mf_error_clear();
	if (forge_parse_event(f, event, body, strlen(body), e) != 0)
		fail_msg("%s '%s' refused: %s", forge_name(f), event, mf_error_msg());
}

static void parse_sample(enum forge f, const char *event, const char *name,
			 struct forge_event *e)
{
	char *body = sample(name, NULL);

	parse_ok(f, event, body, e);
	free(body);
}

/* body (len bytes) is refused as MF_E_USAGE with a message starting with want. */
static void refused_len(enum forge f, const char *event, const char *body, size_t len,
			const char *want)
{
	struct forge_event e;

	memset(&e, 0x5a, sizeof(e));
	mf_error_clear();
	if (forge_parse_event(f, event, body, len, &e) != -1)
		fail_msg("accepted (kind %d), expected '%s...': %.300s", e.kind, want, body);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	if (strncmp(mf_error_msg(), want, strlen(want)))
		fail_msg("error '%s', expected it to start with '%s'", mf_error_msg(), want);
	/* Nothing is left to release. */
	assert_null(e.ignored);
	assert_null(e.repo);
	assert_null(e.branch);
	assert_null(e.head_sha);
	assert_null(e.author);
	forge_event_release(&e);
}

static void refused(enum forge f, const char *event, const char *body, const char *want)
{
	refused_len(f, event, body, strlen(body), want);
}

static void ignored(enum forge f, const char *event, const char *body, const char *why)
{
	struct forge_event e;

	parse_ok(f, event, body, &e);
	assert_int_equal(e.kind, FE_IGNORED);
	assert_string_equal(e.ignored, why);
	assert_null(e.repo);
	assert_null(e.head_sha);
	forge_event_release(&e);
}

/*
 * The sample with the value at a dotted path replaced by value (stolen;
 * NULL: the key removed); caller frees.
 */
static char *variant(const char *name, const char *path, json_t *value)
{
	char *body = sample(name, NULL), *out, *dup = xstrdup(path), *dot, *key = dup;
	json_error_t jerr;
	json_t *doc = json_loads(body, 0, &jerr), *o;

	if (!doc)
		fail_msg("%s: %s", name, jerr.text);
	o = doc;
	while ((dot = strchr(key, '.'))) {
		*dot = '\0';
		o = json_object_get(o, key);
		if (!json_is_object(o))
			fail_msg("%s: no object %s in %s", name, key, path);
		key = dot + 1;
	}
	if (value)
		json_object_set_new(o, key, value);
	else if (json_object_del(o, key) < 0)
		fail_msg("%s: no %s", name, path);
	out = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	free(body);
	free(dup);
	return out;
}

/* Parses the sample as variant() changes it, which must be accepted. */
static void parse_variant(enum forge f, const char *event, const char *name, const char *path,
			  json_t *value, struct forge_event *e)
{
	char *body = variant(name, path, value);

	parse_ok(f, event, body, e);
	free(body);
}

static void refused_variant(enum forge f, const char *event, const char *name, const char *path,
			    json_t *value, const char *want)
{
	char *body = variant(name, path, value);

	refused(f, event, body, want);
	free(body);
}

static void test_forge_names(void **state)
{
	enum forge f = FORGE_GITLAB;

	assert_string_equal(forge_name(FORGE_GITHUB), "github");
	assert_string_equal(forge_name(FORGE_GITLAB), "gitlab");
	assert_int_equal(forge_parse_name("github", &f), 0);
	assert_int_equal(f, FORGE_GITHUB);
	assert_int_equal(forge_parse_name("gitlab", &f), 0);
	assert_int_equal(f, FORGE_GITLAB);
	mf_error_clear();
	assert_int_equal(forge_parse_name("GitHub", &f), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_int_equal(forge_parse_name("", &f), -1);
	assert_int_equal(forge_parse_name(NULL, &f), -1);
	assert_int_equal(forge_parse_name("gitea", &f), -1);
}

static void test_github_ping(void **state)
{
	struct forge_event e;

	parse_sample(FORGE_GITHUB, "ping", "github-ping.json", &e);
	assert_int_equal(e.kind, FE_PING);
	assert_string_equal(e.repo, "haikuports/haikuports");
	assert_null(e.ignored);
	forge_event_release(&e);
	/* An organisation's hook names no repository. */
	parse_ok(FORGE_GITHUB, "ping", "{\"zen\": \"Keep it logically awesome.\", \"hook_id\": 1}", &e);
	assert_int_equal(e.kind, FE_PING);
	assert_null(e.repo);
	forge_event_release(&e);
}

static void test_github_push(void **state)
{
	struct forge_event e;

	parse_sample(FORGE_GITHUB, "push", "github-push.json", &e);
	assert_int_equal(e.kind, FE_PUSH);
	assert_null(e.ignored);
	assert_string_equal(e.repo, "haikuports/haikuports");
	assert_int_equal(e.project_id, 0);
	assert_string_equal(e.branch, "master");
	assert_string_equal(e.after, SHA_A);
	assert_string_equal(e.author, "octocat");
	assert_null(e.head_sha);
	assert_null(e.base_ref);
	assert_null(e.head_repo);
	assert_int_equal(e.number, 0);
	forge_event_release(&e);
	/* Branch names with slashes; a bot pushing. */
	parse_variant(GH_PUSH, "ref", json_string("refs/heads/feature/zlib-1.3"), &e);
	assert_string_equal(e.branch, "feature/zlib-1.3");
	forge_event_release(&e);
	parse_variant(GH_PUSH, "pusher.name", json_string("github-actions[bot]"), &e);
	assert_string_equal(e.author, "github-actions[bot]");
	forge_event_release(&e);
}

static void test_github_push_ignored(void **state)
{
	char *body = sample("github-push-tag.json", NULL);

	ignored(FORGE_GITHUB, "push", body, "push of a tag");
	free(body);
	body = sample("github-push-delete.json", NULL);
	ignored(FORGE_GITHUB, "push", body, "push deleting a branch");
	free(body);
	/* deleted missing, but after all zeros */
	body = variant("github-push-delete.json", "deleted", NULL);
	ignored(FORGE_GITHUB, "push", body, "push deleting a branch");
	free(body);
	body = variant("github-push.json", "ref", json_string("refs/notes/commits"));
	ignored(FORGE_GITHUB, "push", body, "push of the ref 'refs/notes/commits'");
	free(body);
	body = variant("github-push.json", "ref", json_string("refs/pull/1/head\n'x"));
	ignored(FORGE_GITHUB, "push", body, "push of the ref 'refs/pull/1/head??x'");
	free(body);
}

/* What the samples of pull (merge) requests say besides their kind and head. */
struct want_pr {
	enum forge forge;
	const char *event, *repo;
	int64_t project_id, number;
	const char *author, *head_repo;
};

static const struct want_pr github_pr = { FORGE_GITHUB, "pull_request", "haikuports/haikuports",
					  0, 10742, "octocat", "octocat/haikuports" };
static const struct want_pr gitlab_mr = { FORGE_GITLAB, "Merge Request Hook", "haiku/haikuports",
					  15, 42, "jsmith", "jsmith/haikuports" };

static void check_pr(const struct want_pr *w, const char *name, enum forge_kind kind,
		     const char *sha)
{
	struct forge_event e;

	parse_sample(w->forge, w->event, name, &e);
	assert_int_equal(e.kind, kind);
	assert_null(e.ignored);
	assert_string_equal(e.repo, w->repo);
	assert_int_equal(e.project_id, w->project_id);
	assert_int_equal(e.number, w->number);
	assert_string_equal(e.head_sha, sha);
	assert_string_equal(e.base_ref, "master");
	assert_string_equal(e.author, w->author);
	assert_string_equal(e.head_repo, w->head_repo);
	assert_null(e.branch);
	assert_null(e.after);
	forge_event_release(&e);
}

static void test_github_pull_request(void **state)
{
	struct forge_event e;

	check_pr(&github_pr, "github-pull_request-opened.json", FE_PR_OPEN, SHA_A);
	check_pr(&github_pr, "github-pull_request-synchronize.json", FE_PR_UPDATE, SHA_C);
	check_pr(&github_pr, "github-pull_request-closed.json", FE_PR_CLOSE, SHA_C);
	parse_variant(GH_PR, "action", json_string("reopened"), &e);
	assert_int_equal(e.kind, FE_PR_OPEN);
	forge_event_release(&e);
	/* A pull request from a fork deleted since: no head repository. */
	parse_variant(FORGE_GITHUB, "pull_request", "github-pull_request-closed.json",
		      "pull_request.head.repo", json_null(), &e);
	assert_int_equal(e.kind, FE_PR_CLOSE);
	assert_null(e.head_repo);
	forge_event_release(&e);
}

static void test_github_ignored(void **state)
{
	char *body = sample("github-pull_request-labeled.json", NULL);

	ignored(FORGE_GITHUB, "pull_request", body, "pull_request action 'labeled'");
	/* Other events, whatever their body. */
	ignored(FORGE_GITHUB, "issues", body, "event 'issues'");
	ignored(FORGE_GITHUB, "pull_request_review", "not json", "event 'pull_request_review'");
	ignored(FORGE_GITHUB, "Push Hook", "{", "event 'Push Hook'");
	ignored(FORGE_GITHUB, "check_run\x1b[31m'", "", "event 'check_run?[31m?'");
	free(body);
	body = variant("github-pull_request-opened.json", "action", json_string("edited"));
	ignored(FORGE_GITHUB, "pull_request", body, "pull_request action 'edited'");
	free(body);
	body = variant("github-pull_request-opened.json", "action",
		       json_string("a very long action name that goes on and on and on and on "
				   "and on"));
	ignored(FORGE_GITHUB, "pull_request", body,
		"pull_request action 'a very long action name that goes on and on and on and on an'");
	free(body);
	/* Ignored actions need nothing else. */
	ignored(FORGE_GITHUB, "pull_request", "{\"action\": \"assigned\"}",
		"pull_request action 'assigned'");
}

static void test_gitlab_push(void **state)
{
	struct forge_event e;
	char *body;

	parse_sample(FORGE_GITLAB, "Push Hook", "gitlab-push.json", &e);
	assert_int_equal(e.kind, FE_PUSH);
	assert_string_equal(e.repo, "haiku/haikuports");
	assert_int_equal(e.project_id, 15);
	assert_string_equal(e.branch, "master");
	assert_string_equal(e.after, SHA_D);
	assert_string_equal(e.author, "jsmith");
	forge_event_release(&e);
	/* Subgroups. */
	parse_variant(GL_PUSH, "project.path_with_namespace", json_string("haiku/ports/haikuports"),
		      &e);
	assert_string_equal(e.repo, "haiku/ports/haikuports");
	forge_event_release(&e);
	body = sample("gitlab-push-delete.json", NULL);
	ignored(FORGE_GITLAB, "Push Hook", body, "push deleting a branch");
	free(body);
	body = variant("gitlab-push.json", "ref", json_string("refs/tags/v1.0"));
	ignored(FORGE_GITLAB, "Push Hook", body, "push of a tag");
	free(body);
}

static void test_gitlab_merge_request(void **state)
{
	struct forge_event e;
	char *body;

	check_pr(&gitlab_mr, "gitlab-merge_request-open.json", FE_PR_OPEN, SHA_D);
	check_pr(&gitlab_mr, "gitlab-merge_request-update.json", FE_PR_UPDATE, SHA_C);
	check_pr(&gitlab_mr, "gitlab-merge_request-merge.json", FE_PR_CLOSE, SHA_C);
	body = sample("gitlab-merge_request-update-title.json", NULL);
	ignored(FORGE_GITLAB, "Merge Request Hook", body,
		"merge request update without new commits");
	free(body);
	body = variant("gitlab-merge_request-update.json", "object_attributes.oldrev", json_null());
	ignored(FORGE_GITLAB, "Merge Request Hook", body,
		"merge request update without new commits");
	free(body);
	body = sample("gitlab-merge_request-approved.json", NULL);
	ignored(FORGE_GITLAB, "Merge Request Hook", body, "merge request action 'approved'");
	ignored(FORGE_GITLAB, "Note Hook", body, "event 'Note Hook'");
	ignored(FORGE_GITLAB, "Tag Push Hook", body, "event 'Tag Push Hook'");
	ignored(FORGE_GITLAB, "push", body, "event 'push'");
	free(body);
	parse_variant(GL_MR, "object_attributes.action", json_string("close"), &e);
	assert_int_equal(e.kind, FE_PR_CLOSE);
	forge_event_release(&e);
	/* A merge request within the project: source is the project itself. */
	parse_variant(GL_MR, "object_attributes.source.path_with_namespace",
		      json_string("haiku/haikuports"), &e);
	assert_string_equal(e.head_repo, "haiku/haikuports");
	forge_event_release(&e);
}

/* Each required field, missing and of the wrong type, is named. */
struct required {
	enum forge forge;
	const char *event, *sample, *path;
	int integer; /* 1: a number (wrong type: a string), else a string */
};

static const struct required required_fields[] = {
	{ GH_PUSH, "ref", 0 },
	{ GH_PUSH, "after", 0 },
	{ GH_PUSH, "repository.full_name", 0 },
	{ GH_PUSH, "pusher.name", 0 },
	{ GH_PR, "action", 0 },
	{ GH_PR, "number", 1 },
	{ GH_PR, "repository.full_name", 0 },
	{ GH_PR, "pull_request.head.sha", 0 },
	{ GH_PR, "pull_request.base.ref", 0 },
	{ GH_PR, "pull_request.user.login", 0 },
	{ GL_PUSH, "ref", 0 },
	{ GL_PUSH, "after", 0 },
	{ GL_PUSH, "project.path_with_namespace", 0 },
	{ GL_PUSH, "project.id", 1 },
	{ GL_PUSH, "user_username", 0 },
	{ GL_MR, "object_attributes.action", 0 },
	{ GL_MR, "object_attributes.iid", 1 },
	{ GL_MR, "project.path_with_namespace", 0 },
	{ GL_MR, "project.id", 1 },
	{ GL_MR, "object_attributes.last_commit.id", 0 },
	{ GL_MR, "object_attributes.target_branch", 0 },
	{ GL_MR, "user.username", 0 },
};

static void test_required_fields(void **state)
{
	for (size_t i = 0; i < sizeof(required_fields) / sizeof(required_fields[0]); i++) {
		const struct required *r = &required_fields[i];
		char *want = xasprintf("%s: missing", r->path);
		char *wrong = xasprintf("%s: not a %s", r->path,
					r->integer ? "whole number" : "string");

		refused_variant(r->forge, r->event, r->sample, r->path, NULL, want);
		refused_variant(r->forge, r->event, r->sample, r->path, json_null(), want);
		refused_variant(r->forge, r->event, r->sample, r->path,
				r->integer ? json_string("42") : json_integer(42), wrong);
		refused_variant(r->forge, r->event, r->sample, r->path, json_array(), wrong);
		refused_variant(r->forge, r->event, r->sample, r->path, json_true(), wrong);
		if (r->integer)
			refused_variant(r->forge, r->event, r->sample, r->path, json_real(42.5),
					wrong);
		free(want);
		free(wrong);
	}
	/* An object on the way that is not one. */
	refused_variant(FORGE_GITHUB, "pull_request", "github-pull_request-opened.json",
			"pull_request.head", json_string("x"),
			"pull_request.head.sha: 'pull_request.head' is not an object");
	refused_variant(FORGE_GITHUB, "pull_request", "github-pull_request-opened.json",
			"pull_request", json_integer(3), "pull_request.head.sha: 'pull_request' is");
	refused_variant(FORGE_GITLAB, "Merge Request Hook", "gitlab-merge_request-open.json",
			"object_attributes", json_array(), "object_attributes.action: ");
	refused_variant(FORGE_GITHUB, "push", "github-push.json", "deleted", json_string("no"),
			"deleted: not true or false");
	/* Optional ones, when there, have their type checked too. */
	refused_variant(FORGE_GITHUB, "pull_request", "github-pull_request-opened.json",
			"pull_request.head.repo.full_name", json_integer(7),
			"pull_request.head.repo.full_name: not a string");
	refused_variant(FORGE_GITLAB, "Merge Request Hook", "gitlab-merge_request-update.json",
			"object_attributes.oldrev", json_false(),
			"object_attributes.oldrev: not a string");
	refused_variant(FORGE_GITHUB, "ping", "github-ping.json", "repository.full_name",
			json_integer(1), "repository.full_name: not a string");
}

struct hostile {
	enum forge forge;
	const char *event, *sample, *path;
	json_t *(*make)(const char *);
	const char *value;
};

static json_t *str(const char *s)
{
	return json_string(s);
}

static json_t *num(const char *s)
{
	return json_integer(strtoll(s, NULL, 10));
}

static const struct hostile hostile_values[] = {
	{ GH_PUSH, "ref", str, "refs/heads/master;reboot" },
	{ GH_PUSH, "ref", str, "refs/heads/$(reboot)" },
	{ GH_PUSH, "ref", str, "refs/heads/`id`" },
	{ GH_PUSH, "ref", str, "refs/heads/a|b" },
	{ GH_PUSH, "ref", str, "refs/heads/a&b" },
	{ GH_PUSH, "ref", str, "refs/heads/a b" },
	{ GH_PUSH, "ref", str, "refs/heads/a\nb" },
	{ GH_PUSH, "ref", str, "refs/heads/-rf" },
	{ GH_PUSH, "ref", str, "refs/heads/../../etc" },
	{ GH_PUSH, "ref", str, "refs/heads/a..b" },
	{ GH_PUSH, "ref", str, "refs/heads/" },
	{ GH_PUSH, "ref", str, "refs/heads//x" },
	{ GH_PUSH, "ref", str, "refs/heads/x/" },
	{ GH_PUSH, "ref", str, "refs/heads/x.lock" },
	{ GH_PUSH, "ref", str, "refs/heads/x@{1}" },
	{ GH_PUSH, "ref", str, "refs/heads/x~1" },
	{ GH_PUSH, "after", str, "6dcb09b5b57875f334f61aebed695e2e4193db5" },
	{ GH_PUSH, "after", str, "6dcb09b5b57875f334f61aebed695e2e4193db5e0" },
	{ GH_PUSH, "after", str, "6DCB09B5B57875F334F61AEBED695E2E4193DB5E" },
	{ GH_PUSH, "after", str, "6dcb09b5b57875f334f61aebed695e2e4193db5g" },
	{ GH_PUSH, "after", str, "" },
	{ GH_PUSH, "pusher.name", str, "octo\ncat" },
	{ GH_PUSH, "pusher.name", str, "octo cat" },
	{ GH_PUSH, "pusher.name", str, "-octocat" },
	{ GH_PUSH, "pusher.name", str, "octo/cat" },
	{ GH_PUSH, "pusher.name", str, "[bot]" },
	{ GH_PUSH, "pusher.name", str, "" },
	{ GH_PUSH, "repository.full_name", str, "haikuports" },
	{ GH_PUSH, "repository.full_name", str, "../etc" },
	{ GH_PUSH, "repository.full_name", str, "owner/.." },
	{ GH_PUSH, "repository.full_name", str, "owner/./x" },
	{ GH_PUSH, "repository.full_name", str, "/owner/name" },
	{ GH_PUSH, "repository.full_name", str, "owner//name" },
	{ GH_PUSH, "repository.full_name", str, "owner/name;ls" },
	{ GH_PUSH, "repository.full_name", str, "owner/na me" },
	{ GH_PR, "number", num, "-1" },
	{ GH_PR, "number", num, "0" },
	{ GH_PR, "number", num, "2147483648" },
	{ GH_PR, "number", num, "9223372036854775807" },
	{ GH_PR, "pull_request.head.sha", str, "6dcb09b5b57875f334f61aebed695e2e4193db5" },
	{ GH_PR, "pull_request.base.ref", str, "master;reboot" },
	{ GH_PR, "pull_request.base.ref", str, "refs/heads/../x" },
	{ GH_PR, "pull_request.user.login", str, "octocat\n" },
	{ GH_PR, "pull_request.user.login", str, "octocat\r" },
	{ GH_PR, "pull_request.head.repo.full_name", str, "evil/../../x" },
	{ GL_PUSH, "ref", str, "refs/heads/master;reboot" },
	{ GL_PUSH, "project.id", num, "0" },
	{ GL_PUSH, "project.id", num, "-15" },
	{ GL_PUSH, "user_username", str, "j smith" },
	{ GL_MR, "object_attributes.iid", num, "-1" },
	{ GL_MR, "object_attributes.iid", num, "0" },
	{ GL_MR, "object_attributes.last_commit.id", str, "da1560886d4f094c3e6c9ef40349f7d38b5d27d" },
	{ GL_MR, "object_attributes.target_branch", str, "master;reboot" },
	{ GL_MR, "object_attributes.target_branch", str, "master\n" },
	{ GL_MR, "user.username", str, "jsmith\n" },
	{ GL_MR, "project.path_with_namespace", str, "haiku/haikuports'" },
	{ GL_MR, "object_attributes.source.path_with_namespace", str, "a/b c" },
};

static void test_hostile_values(void **state)
{
	char longname[FORGE_USER_MAX + 2], longbranch[FORGE_BRANCH_MAX + 13];

	for (size_t i = 0; i < sizeof(hostile_values) / sizeof(hostile_values[0]); i++) {
		const struct hostile *h = &hostile_values[i];
		char *want = xasprintf("%s: ", h->path);

		refused_variant(h->forge, h->event, h->sample, h->path, h->make(h->value), want);
		/* The message never carries a control character. */
		for (const char *p = mf_error_msg(); *p; p++)
			assert_false((unsigned char)*p < 0x20);
		free(want);
	}
	/* A branch with shell metacharacters, named as such. */
	refused_variant(GH_PUSH, "ref", json_string("refs/heads/master;reboot"),
			"ref: 'master;reboot' is not a branch name");
	/* Lengths: at the limit and past it. */
	memset(longname, 'a', sizeof(longname));
	longname[FORGE_USER_MAX] = '\0';
	struct forge_event e;
	parse_variant(GH_PUSH, "pusher.name", json_string(longname), &e);
	forge_event_release(&e);
	longname[FORGE_USER_MAX] = 'a';
	longname[FORGE_USER_MAX + 1] = '\0';
	refused_variant(GH_PUSH, "pusher.name", json_string(longname), "pusher.name: ");
	memcpy(longbranch, "refs/heads/", 11);
	memset(longbranch + 11, 'b', FORGE_BRANCH_MAX);
	longbranch[11 + FORGE_BRANCH_MAX] = '\0';
	parse_variant(GH_PUSH, "ref", json_string(longbranch), &e);
	forge_event_release(&e);
	longbranch[11 + FORGE_BRANCH_MAX] = 'b';
	longbranch[12 + FORGE_BRANCH_MAX] = '\0';
	refused_variant(GH_PUSH, "ref", json_string(longbranch), "ref: ");
	/* The largest number there is. */
	parse_variant(GH_PR, "number", json_integer(2147483647), &e);
	assert_int_equal(e.number, 2147483647);
	forge_event_release(&e);
}

static void test_not_json(void **state)
{
	size_t len;
	char *body = sample("github-pull_request-opened.json", &len), *big;

	refused_len(FORGE_GITHUB, "pull_request", body, len / 2, "not JSON: ");
	refused_len(FORGE_GITHUB, "pull_request", body, 1, "not JSON: ");
	refused_len(FORGE_GITHUB, "pull_request", body, 0, "not JSON: ");
	refused_len(FORGE_GITHUB, "pull_request", NULL, 0, "not JSON: ");
	refused(FORGE_GITHUB, "push", "{\"ref\": tru", "not JSON: ");
	refused(FORGE_GITHUB, "push", "{\"ref\": 1} x", "not JSON: ");
	refused(FORGE_GITLAB, "Push Hook", "\xff\xfe{}", "not JSON: ");
	refused(FORGE_GITLAB, "Push Hook", "{\"ref\": \"\xc0\xaf\"}", "not JSON: ");
	refused(FORGE_GITLAB, "Push Hook", "{\"ref\": \"a\\u0000b\"}", "not JSON: ");
	refused(FORGE_GITLAB, "Push Hook", "{\"ref\": \"a\", \"ref\": \"b\"}", "not JSON: ");
	refused(FORGE_GITHUB, "ping", "[]", "not a JSON object");
	refused(FORGE_GITHUB, "ping", "\"ping\"", "not JSON: ");
	refused(FORGE_GITHUB, "ping", "null", "not JSON: ");
	refused_len(FORGE_GITHUB, "push", "{}\0{}", 5, "not JSON: ");
	free(body);

	/* The line and column are told. */
	refused(FORGE_GITHUB, "push", "{\"a\"::", "not JSON: ");
	if (!strstr(mf_error_msg(), "at line 1 column"))
		fail_msg("no position in '%s'", mf_error_msg());

	/* Deep nesting is refused, not recursed into. */
	big = xmalloc(200001);
	memset(big, '[', 100000);
	memset(big + 100000, ']', 100000);
	big[200000] = '\0';
	refused(FORGE_GITHUB, "push", big, "not JSON: ");
	free(big);

	/* More than a forge sends. */
	big = xmalloc(FORGE_BODY_MAX + 1);
	memset(big, ' ', FORGE_BODY_MAX + 1);
	big[0] = '{';
	big[FORGE_BODY_MAX] = '}';
	refused_len(FORGE_GITHUB, "push", big, FORGE_BODY_MAX + 1, "body: ");
	free(big);

	/* No event header. */
	refused(FORGE_GITHUB, NULL, "{}", "event: missing");
	refused(FORGE_GITLAB, "", "{}", "event: missing");
	refused(99, "push", "{}", "forge 99");
}

/* What forge_status_json_github writes, read back. */
static json_t *status_doc(const char *state, const char *url, const char *desc, const char *ctx,
			  char **text)
{
	json_error_t jerr;
	json_t *doc;

	*text = forge_status_json_github(state, url, desc, ctx);
	assert_non_null(*text);
	doc = json_loads(*text, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		fail_msg("not JSON (%s): %s", jerr.text, *text);
	return doc;
}

static const char *get(json_t *doc, const char *key)
{
	return json_string_value(json_object_get(doc, key));
}

static void test_status_json(void **state)
{
	char desc[400], *text;
	json_t *doc;

	doc = status_doc("success", "https://mayfly.example.org/builds/7", "Built in 4 min",
			 "mayfly/x86_64", &text);
	assert_string_equal(get(doc, "state"), "success");
	assert_string_equal(get(doc, "target_url"), "https://mayfly.example.org/builds/7");
	assert_string_equal(get(doc, "description"), "Built in 4 min");
	assert_string_equal(get(doc, "context"), "mayfly/x86_64");
	assert_int_equal(json_object_size(doc), 4);
	json_decref(doc);
	free(text);

	/* No target_url; quotes, backslashes, newlines and control characters escaped. */
	doc = status_doc("failure", NULL, "zlib \"1.3\"\nfailed\t\\ \x01", "mayfly", &text);
	assert_null(json_object_get(doc, "target_url"));
	assert_string_equal(get(doc, "description"), "zlib \"1.3\"\nfailed\t\\ \x01");
	assert_non_null(strstr(text, "\\\"1.3\\\"\\nfailed\\t\\\\ \\u0001"));
	assert_null(strchr(text, '\t'));
	json_decref(doc);
	free(text);

	/* Unicode passes through. */
	doc = status_doc("pending", NULL, "Bau läuft – 🐞", "mayfly/ä", &text);
	assert_string_equal(get(doc, "description"), "Bau läuft – 🐞");
	assert_string_equal(get(doc, "context"), "mayfly/ä");
	json_decref(doc);
	free(text);

	/* 140 characters, not bytes: cut before the 141st, never inside one. */
	memset(desc, 'x', 139);
	strcpy(desc + 139, "€€€");
	doc = status_doc("error", NULL, desc, "c", &text);
	assert_int_equal(strlen(get(doc, "description")), 139 + 3);
	assert_string_equal(get(doc, "description") + 139, "€");
	json_decref(doc);
	free(text);
	for (size_t i = 0; i < 140; i++)
		memcpy(desc + 2 * i, "é", 2);
	strcpy(desc + 280, "tail");
	doc = status_doc("error", NULL, desc, "c", &text);
	assert_int_equal(strlen(get(doc, "description")), 280);
	json_decref(doc);
	free(text);
	memset(desc, 'y', 140);
	desc[140] = '\0';
	doc = status_doc("error", NULL, desc, "c", &text);
	assert_string_equal(get(doc, "description"), desc);
	json_decref(doc);
	free(text);
	strcpy(desc + 140, "z");
	doc = status_doc("error", NULL, desc, "c", &text);
	assert_int_equal(strlen(get(doc, "description")), 140);
	json_decref(doc);
	free(text);

	/* Bytes that are not UTF-8 become '?', and still count. */
	doc = status_doc("error", "http://h/\xff", "bad \xc3\x28 \xe2\x82", "c\xc0", &text);
	assert_string_equal(get(doc, "description"), "bad ?( ??");
	assert_string_equal(get(doc, "target_url"), "http://h/?");
	assert_string_equal(get(doc, "context"), "c?");
	json_decref(doc);
	free(text);
	memset(desc, 0xff, 200);
	desc[200] = '\0';
	doc = status_doc("error", NULL, desc, "c", &text);
	assert_int_equal(strlen(get(doc, "description")), 140);
	json_decref(doc);
	free(text);

	/* Everything but the state may be left out; the state must be GitHub's. */
	doc = status_doc("pending", NULL, NULL, NULL, &text);
	assert_int_equal(json_object_size(doc), 1);
	json_decref(doc);
	free(text);
	mf_error_clear();
	assert_null(forge_status_json_github("ok", NULL, "d", "c"));
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_null(forge_status_json_github(NULL, NULL, "d", "c"));
	assert_null(forge_status_json_github("Success", NULL, "d", "c"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forge_names),
		cmocka_unit_test(test_github_ping),
		cmocka_unit_test(test_github_push),
		cmocka_unit_test(test_github_push_ignored),
		cmocka_unit_test(test_github_pull_request),
		cmocka_unit_test(test_github_ignored),
		cmocka_unit_test(test_gitlab_push),
		cmocka_unit_test(test_gitlab_merge_request),
		cmocka_unit_test(test_required_fields),
		cmocka_unit_test(test_hostile_values),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_status_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
