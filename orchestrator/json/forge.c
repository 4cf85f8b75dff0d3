/* forge.c - see forge.h. */
#include "json/forge.h"
#include "json/doc.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

#define ZERO_SHA "0000000000000000000000000000000000000000"

static const char *const forge_names[] = {
	[FORGE_GITHUB] = "github",
	[FORGE_GITLAB] = "gitlab",
};

const char *forge_name(enum forge f)
{
	return (unsigned)f < sizeof(forge_names) / sizeof(forge_names[0]) ? forge_names[f] : "?";
}


void forge_event_release(struct forge_event *e)
{
	free(e->ignored);
	free(e->repo);
	free(e->branch);
	free(e->after);
	free(e->head_sha);
	free(e->base_ref);
	free(e->author);
	free(e->head_repo);
	memset(e, 0, sizeof(*e));
}

/* Sets the error "FIELD: ..." (MF_E_USAGE); returns -1. */
static int bad(const char *field, const char *fmt, ...) MF_PRINTF(2, 3);
static int bad(const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mf_error(MF_E_USAGE, "%s: %s", field, msg);
}

/*
 * A value from outside, fit for a message or a log: at most 60 bytes of
 * it, each byte that is not printable ASCII (or is a quote) as '?'.
 */
static char *shown(const char *s)
{
	char *q = xstrndup(s, 60);

	for (unsigned char *p = (unsigned char *)q; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '\'')
			*p = '?';
	return q;
}

/* Sets the error "FIELD: 'VALUE' is not WHAT" (MF_E_USAGE); returns -1. */
static int bad_value(const char *field, const char *value, const char *what)
{
	char *q = shown(value);

	bad(field, "'%s' is not %s", q, what);
	free(q);
	return -1;
}

/* Sets e as ignored for the reason what, followed by value (shown) unless NULL. */
static int ignore(struct forge_event *e, const char *what, const char *value)
{
	e->kind = FE_IGNORED;
	if (!value) {
		e->ignored = xstrdup(what);
		return 0;
	}
	char *q = shown(value);
	e->ignored = xasprintf("%s '%s'", what, q);
	free(q);
	return 0;
}

int forge_parse_name(const char *s, enum forge *out)
{
	for (size_t i = 0; i < sizeof(forge_names) / sizeof(forge_names[0]); i++)
		if (s && !strcmp(s, forge_names[i])) {
			*out = (enum forge)i;
			return 0;
		}
	return bad_value("forge", s ? s : "", "a forge (github, gitlab)");
}

/*
 * The value at a dotted path ("pull_request.head.sha") in *out. Missing or
 * null (it or an object on the way) is an error unless optional (then
 * *out is NULL); so is a value on the way that is not an object.
 */
static int at(json_t *doc, const char *path, int optional, json_t **out)
{
	char part[64];
	const char *p = path;

	*out = NULL;
	for (;;) {
		size_t n = strcspn(p, ".");
		snprintf(part, sizeof(part), "%.*s", (int)n, p);
		doc = json_object_get(doc, part);
		if (!doc || json_is_null(doc))
			return optional ? 0 : bad(path, "missing");
		if (!p[n]) {
			*out = doc;
			return 0;
		}
		if (!json_is_object(doc))
			return bad(path, "'%.*s' is not an object", (int)(p - path + n), path);
		p += n + 1;
	}
}

/* A string at path (see at()), borrowed from doc. */
static int str_at(json_t *doc, const char *path, int optional, const char **out)
{
	json_t *v;

	*out = NULL;
	if (at(doc, path, optional, &v) < 0)
		return -1;
	if (v && !json_is_string(v))
		return bad(path, "not a string");
	if (v)
		*out = json_string_value(v);
	return 0;
}

static int int_at(json_t *doc, const char *path, int64_t min, int64_t max, int64_t *out)
{
	json_t *v;

	if (at(doc, path, 0, &v) < 0)
		return -1;
	if (!json_is_integer(v))
		return bad(path, "not a whole number");
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return bad(path, "%lld is not from %lld to %lld", (long long)json_integer_value(v),
			   (long long)min, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

static int is_sha(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 40 && !s[n];
}

static int branch_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= FORGE_BRANCH_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./+-") == n &&
	       !strchr("-./", s[0]) && !strchr("./", s[n - 1]) && !strstr(s, "..") &&
	       !strstr(s, "//") && !(n >= 5 && !strcmp(s + n - 5, ".lock"));
}

/* The first n bytes of s: letters, digits and "_.-", not starting with '.' or '-'. */
static int word_ok(const char *s, size_t n)
{
	return n > 0 && s[0] != '.' && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") >= n;
}

static int user_ok(const char *s)
{
	size_t n = strlen(s);

	if (n > FORGE_USER_MAX)
		return 0;
	if (n > 5 && !strcmp(s + n - 5, "[bot]"))
		n -= 5;
	return word_ok(s, n);
}

static int repo_ok(const char *s)
{
	if (strlen(s) > FORGE_REPO_MAX || !strchr(s, '/'))
		return 0;
	for (const char *p = s;; p++) {
		size_t n = strcspn(p, "/");
		/* word_ok refuses a leading '.', so "." and ".." too */
		if (!word_ok(p, n))
			return 0;
		p += n;
		if (!*p)
			return 1;
	}
}

/* The checks of take(), with what they say of a value they refuse. */
#define COMMIT_ID is_sha, "a commit id (40 lowercase hex digits)"
#define BRANCH_WHAT "a branch name Mayfly accepts (letters, digits and \"_./+-\")"
#define BRANCH branch_ok, BRANCH_WHAT
#define USER user_ok, "a user name (letters, digits and \"_.-\")"
#define REPO repo_ok, "a repository (OWNER/NAME of letters, digits and \"_.-\")"

/*
 * A copy of the string at path that ok accepts, else the error "PATH:
 * 'VALUE' is not WHAT"; optional ones may be missing (*out stays NULL).
 */
static int take(json_t *doc, const char *path, int optional, int (*ok)(const char *),
		const char *what, char **out)
{
	const char *s;

	if (str_at(doc, path, optional, &s) < 0)
		return -1;
	if (!s)
		return 0;
	if (!ok(s))
		return bad_value(path, s, what);
	*out = xstrdup(s);
	return 0;
}

/*
 * A push's ref, after and deletion: 1 with e->branch and e->after set for
 * a push to a branch, 0 when e is ignored, -1 on error.
 */
static int push_ref(json_t *doc, struct forge_event *e)
{
	const char *ref, *after;
	json_t *deleted = json_object_get(doc, "deleted");

	if (str_at(doc, "ref", 0, &ref) < 0 || str_at(doc, "after", 0, &after) < 0)
		return -1;
	if (deleted && !json_is_boolean(deleted))
		return bad("deleted", "not true or false");
	if (!strncmp(ref, "refs/tags/", 10))
		return ignore(e, "push of a tag", NULL);
	if (json_is_true(deleted) || !strcmp(after, ZERO_SHA))
		return ignore(e, "push deleting a branch", NULL);
	if (strncmp(ref, "refs/heads/", 11))
		return ignore(e, "push of the ref", ref);
	if (!branch_ok(ref + 11))
		return bad_value("ref", ref + 11, BRANCH_WHAT);
	if (take(doc, "after", 0, COMMIT_ID, &e->after) < 0)
		return -1;
	e->branch = xstrdup(ref + 11);
	e->kind = FE_PUSH;
	return 1;
}

static int github_event(const char *event, json_t *doc, struct forge_event *e)
{
	const char *action;
	int r;

	if (!strcmp(event, "ping")) {
		e->kind = FE_PING;
		return take(doc, "repository.full_name", 1, REPO, &e->repo);
	}
	if (!strcmp(event, "push")) {
		if ((r = push_ref(doc, e)) <= 0)
			return r;
		if (take(doc, "repository.full_name", 0, REPO, &e->repo) < 0 ||
		    take(doc, "pusher.name", 0, USER, &e->author) < 0)
			return -1;
		return 0;
	}
	/* pull_request */
	if (str_at(doc, "action", 0, &action) < 0)
		return -1;
	if (!strcmp(action, "opened") || !strcmp(action, "reopened"))
		e->kind = FE_PR_OPEN;
	else if (!strcmp(action, "synchronize"))
		e->kind = FE_PR_UPDATE;
	else if (!strcmp(action, "closed"))
		e->kind = FE_PR_CLOSE;
	else
		return ignore(e, "pull_request action", action);
	if (int_at(doc, "number", 1, INT32_MAX, &e->number) < 0 ||
	    take(doc, "repository.full_name", 0, REPO, &e->repo) < 0 ||
	    take(doc, "pull_request.head.sha", 0, COMMIT_ID, &e->head_sha) < 0 ||
	    take(doc, "pull_request.base.ref", 0, BRANCH, &e->base_ref) < 0 ||
	    take(doc, "pull_request.user.login", 0, USER, &e->author) < 0 ||
	    take(doc, "pull_request.head.repo.full_name", 1, REPO, &e->head_repo) < 0)
		return -1;
	return 0;
}

static int gitlab_event(const char *event, json_t *doc, struct forge_event *e)
{
	const char *action, *oldrev;
	int r;

	if (!strcmp(event, "Push Hook")) {
		if ((r = push_ref(doc, e)) <= 0)
			return r;
		if (take(doc, "project.path_with_namespace", 0, REPO, &e->repo) < 0 ||
		    int_at(doc, "project.id", 1, INT64_MAX, &e->project_id) < 0 ||
		    take(doc, "user_username", 0, USER, &e->author) < 0)
			return -1;
		return 0;
	}
	/* Merge Request Hook */
	if (str_at(doc, "object_attributes.action", 0, &action) < 0)
		return -1;
	if (!strcmp(action, "open") || !strcmp(action, "reopen")) {
		e->kind = FE_PR_OPEN;
	} else if (!strcmp(action, "update")) {
		/* oldrev is there only when the update brought commits */
		if (str_at(doc, "object_attributes.oldrev", 1, &oldrev) < 0)
			return -1;
		if (!oldrev)
			return ignore(e, "merge request update without new commits", NULL);
		e->kind = FE_PR_UPDATE;
	} else if (!strcmp(action, "close") || !strcmp(action, "merge")) {
		e->kind = FE_PR_CLOSE;
	} else {
		return ignore(e, "merge request action", action);
	}
	if (int_at(doc, "object_attributes.iid", 1, INT32_MAX, &e->number) < 0 ||
	    take(doc, "project.path_with_namespace", 0, REPO, &e->repo) < 0 ||
	    int_at(doc, "project.id", 1, INT64_MAX, &e->project_id) < 0 ||
	    take(doc, "object_attributes.last_commit.id", 0, COMMIT_ID, &e->head_sha) < 0 ||
	    take(doc, "object_attributes.target_branch", 0, BRANCH, &e->base_ref) < 0 ||
	    take(doc, "user.username", 0, USER, &e->author) < 0 ||
	    take(doc, "object_attributes.source.path_with_namespace", 1, REPO, &e->head_repo) < 0)
		return -1;
	return 0;
}

int forge_parse_event(enum forge f, const char *event, const char *body, size_t len,
		      struct forge_event *out)
{
	json_error_t jerr;
	json_t *doc;
	int ret;

	memset(out, 0, sizeof(*out));
	if (f != FORGE_GITHUB && f != FORGE_GITLAB)
		return mf_error(MF_E_USAGE, "forge %d: not a forge", (int)f);
	if (!event || !*event)
		return bad("event", "missing (the %s header)",
			   f == FORGE_GITHUB ? "X-GitHub-Event" : "X-Gitlab-Event");
	if (f == FORGE_GITHUB ? strcmp(event, "ping") && strcmp(event, "push") &&
				    strcmp(event, "pull_request")
			      : strcmp(event, "Push Hook") && strcmp(event, "Merge Request Hook"))
		return ignore(out, "event", event); /* its body is never read */
	if (len > FORGE_BODY_MAX)
		return bad("body", "%zu bytes, more than the %u a forge sends", len, FORGE_BODY_MAX);
	/* jansson limits the nesting (JSON_PARSER_MAX_DEPTH) and refuses NUL in strings */
	doc = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		mf_scrub_controls(jerr.text, 0); /* it may quote the body */
		return mf_error(MF_E_USAGE, "not JSON: %s at line %d column %d", jerr.text,
				jerr.line, jerr.column);
	}
	if (!json_is_object(doc))
		ret = mf_error(MF_E_USAGE, "not a JSON object");
	else if (f == FORGE_GITHUB)
		ret = github_event(event, doc, out);
	else
		ret = gitlab_event(event, doc, out);
	json_decref(doc);
	if (ret < 0)
		forge_event_release(out);
	return ret;
}

static int is_state(const char *s)
{
	static const char *const states[] = { "error", "failure", "pending", "success" };

	for (size_t i = 0; s && i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(s, states[i]))
			return 1;
	return 0;
}

/* s cut to max characters (UTF-8; not UTF-8: its bytes >= 0x80 become '?'). */
static char *cut_chars(const char *s, size_t max)
{
	json_t *probe = json_string(s);
	char *copy = xstrdup(s);
	size_t i, n = 0;

	if (probe)
		json_decref(probe);
	else
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	for (i = 0; copy[i]; i++)
		if (((unsigned char)copy[i] & 0xc0) != 0x80 && n++ == max)
			break;
	copy[i] = '\0';
	return copy;
}

char *forge_status_json_github(const char *state, const char *target_url,
			       const char *description, const char *context)
{
	json_t *doc;

	if (!is_state(state)) {
		mf_error(MF_E_USAGE, "'%.20s' is not a commit status (error, failure, pending, "
			 "success)", state ? state : "");
		return NULL;
	}
	doc = json_object();
	json_object_set_new(doc, "state", json_string(state));
	if (target_url)
		json_object_set_new(doc, "target_url", doc_str(target_url));
	if (description) {
		char *d = cut_chars(description, FORGE_DESCRIPTION_MAX);
		json_object_set_new(doc, "description", doc_str(d));
		free(d);
	}
	if (context)
		json_object_set_new(doc, "context", doc_str(context));
	return doc_dump(doc, 0);
}
