/* status.c - see status.h. */
#include "forge/status.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "json/forge.h"
#include "net/httpc.h"
#include "store/state.h"
#include "store/statuses.h"

#define CONNECT_TIMEOUT_S 10
#define STALL_TIMEOUT_S 30
#define BACKOFF_FIRST_S 5
#define BACKOFF_MAX_S 600
#define ERROR_BODY_MAX 200
#define TOKEN_FILE_MAX 4096

int64_t forge_status_backoff(int64_t attempts, long http_status)
{
	static atomic_uint calls;
	int64_t s = BACKOFF_FIRST_S;
	unsigned int seed;

	if (http_status == 401 || http_status == 403 || http_status == 404 ||
	    http_status == 422)
		s = BACKOFF_MAX_S;
	for (int64_t i = 0; i < attempts && s < BACKOFF_MAX_S; i++)
		s *= 2;
	if (s > BACKOFF_MAX_S)
		s = BACKOFF_MAX_S;
	seed = (unsigned int)mf_now_ms() ^ (atomic_fetch_add(&calls, 1) * 2654435761u);
	return s - rand_r(&seed) % (s / 5 + 1);
}

/* The token in path, its trailing newline (and blanks) stripped; one line of printable
 * ASCII, so that it cannot add a header of its own. */
static int read_token(const char *path, char **out)
{
	char *text = NULL;
	size_t len = 0;

	*out = NULL;
	if (mf_read_file(path, TOKEN_FILE_MAX, &text, &len) < 0)
		return mf_error_wrap("forge token");
	while (len > 0 && strchr("\r\n\t ", text[len - 1]))
		text[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (text[i] <= ' ' || text[i] == 0x7f) {
			explicit_bzero(text, len);
			free(text);
			return mf_error(MF_E_USAGE, "forge token file '%s' holds more than one word",
					path);
		}
	}
	if (!len) {
		free(text);
		return mf_error(MF_E_USAGE, "forge token file '%s' is empty", path);
	}
	*out = text;
	return 0;
}

static void free_token(char *token)
{
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
}

/* Appends s percent-encoded (all but RFC 3986's unreserved characters). */
static void add_urlencoded(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			strbuf_addch(sb, (char)c);
		else
			strbuf_addf(sb, "%%%02X", c);
	}
}

static const char *gitlab_state(const char *state)
{
	if (!strcmp(state, "failure") || !strcmp(state, "error"))
		return "failed";
	return state;	/* pending, success */
}

static char *gitlab_form(const struct forge_status *s)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "state=");
	add_urlencoded(&sb, gitlab_state(s->state));
	strbuf_addstr(&sb, "&name=");
	add_urlencoded(&sb, s->context);
	if (s->target_url) {
		strbuf_addstr(&sb, "&target_url=");
		add_urlencoded(&sb, s->target_url);
	}
	strbuf_addstr(&sb, "&description=");
	add_urlencoded(&sb, s->description);
	return strbuf_detach(&sb);
}

/* The start of an answer's body, for the error. */
struct answer {
	struct strbuf head;
};

static int on_body(void *arg, long status, const char *data, size_t len)
{
	struct answer *a = arg;

	if (a->head.len < ERROR_BODY_MAX)
		strbuf_add(&a->head, data,
			   len < ERROR_BODY_MAX - a->head.len ? len : ERROR_BODY_MAX - a->head.len);
	return 0;
}

/* "HTTP 502: body", the body's control characters removed, cut at a character. */
static char *http_error(long status, const char *body)
{
	struct strbuf sb = STRBUF_INIT;
	size_t start;

	strbuf_addf(&sb, "HTTP %ld", status);
	if (*body)
		strbuf_addstr(&sb, ": ");
	start = sb.len;
	for (const char *p = body; *p; p++)
		if ((unsigned char)*p >= ' ' && *p != 0x7f)
			strbuf_addch(&sb, *p);
	sb.len = start + statuses_utf8_cut(sb.buf + start, ERROR_BODY_MAX);
	sb.buf[sb.len] = '\0';
	return strbuf_detach(&sb);
}

/* error with every occurrence of token replaced; error is consumed. */
static char *redact(char *error, const char *token)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = error, *hit;

	if (!token || !*token || !strstr(error, token))
		return error;
	while ((hit = strstr(p, token))) {
		strbuf_add(&sb, p, (size_t)(hit - p));
		strbuf_addstr(&sb, "[token]");
		p = hit + strlen(token);
	}
	strbuf_addstr(&sb, p);
	free(error);
	return strbuf_detach(&sb);
}

struct round {
	struct mf_state *st;
	struct httpc *http;
	int64_t now;
	struct forge_send_stats stats;
	char *down_url;		/* an API that gave no answer this round */
	char *down_error;	/* what it gave instead */
};

/*
 * One request for s with token (NULL: none): 0 with *status for any answer
 * (*error set unless 2xx), -1 with *error when there was none. The token
 * goes into the request's headers only.
 */
static int post(struct round *r, const struct forge_status *s, const char *token, long *status,
		char **error)
{
	int github = !strcmp(s->forge, "github");
	size_t base = strlen(s->api_url);
	struct answer a = { STRBUF_INIT };
	char *auth = NULL, *url, *body;
	const char *headers[6];
	size_t nh = 0;
	int rc;

	*status = 0;
	*error = NULL;
	while (base > 0 && s->api_url[base - 1] == '/')
		base--;
	url = xasprintf("%.*s/%s/%s/statuses/%s", (int)base, s->api_url,
			github ? "repos" : "projects", s->repo, s->sha);
	if (github) {
		body = forge_status_json_github(s->state, s->target_url, s->description,
						s->context);
		if (!body) {
			/* Not the forge's failure: nothing was sent. */
			*error = xstrdup(mf_error_msg());
			free(url);
			return 0;
		}
		headers[nh++] = "Accept: application/vnd.github+json";
		if (token)
			auth = xasprintf("Authorization: Bearer %s", token);
		headers[nh++] = "Content-Type: application/json";
	} else {
		body = gitlab_form(s);
		if (token)
			auth = xasprintf("PRIVATE-TOKEN: %s", token);
		headers[nh++] = "Content-Type: application/x-www-form-urlencoded";
	}
	headers[nh++] = "User-Agent: mayfly";
	if (auth)
		headers[nh++] = auth;
	headers[nh] = NULL;

	struct httpc_request req = {
		.method = "POST",
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = strlen(body),
		.on_body = on_body,
		.arg = &a,
		.connect_timeout_s = CONNECT_TIMEOUT_S,
		.stall_timeout_s = STALL_TIMEOUT_S,
	};
	rc = httpc_perform(r->http, &req, status);
	if (rc < 0)
		*error = xstrdup(mf_error_msg());
	else if (*status < 200 || *status >= 300)
		*error = http_error(*status, strbuf_str(&a.head));
	if (*error)
		*error = redact(*error, token);
	if (auth)
		explicit_bzero(auth, strlen(auth));
	free(auth);
	free(url);
	free(body);
	strbuf_release(&a.head);
	return rc;
}

static int send_one(struct round *r, const struct forge_status *s)
{
	struct db *db = r->st->db;
	char *error = NULL, *token = NULL;
	long status = 0;
	int64_t wait;
	int rc;

	if (r->down_url && !strcmp(r->down_url, s->api_url)) {
		error = xstrdup(r->down_error);
	} else if (s->token_file && read_token(s->token_file, &token) < 0) {
		error = xstrdup(mf_error_msg());
	} else if (post(r, s, token, &status, &error) < 0) {
		free(r->down_url);
		free(r->down_error);
		r->down_url = xstrdup(s->api_url);
		r->down_error = xstrdup(error);
	}
	free_token(token);
	if (!error) {
		log_debug("commit status %lld (%s of %s at %s) sent", (long long)s->id, s->context,
			  s->repo, s->api_url);
		r->stats.sent++;
		return statuses_sent(db, s->id, r->now);
	}
	wait = forge_status_backoff(s->attempts, status);
	log_warnx("commit status %lld (%s of %s at %s): %s; next try in %lld s",
		  (long long)s->id, s->context, s->repo, s->api_url, error, (long long)wait);
	r->stats.failed++;
	rc = statuses_failed(db, s->id, r->now, r->now + wait, error);
	free(error);
	return rc;
}

int forge_status_send_due(struct mf_state *st, int64_t now, struct forge_send_stats *out)
{
	struct round r = { .st = st, .now = now };
	struct forge_status *due = NULL;
	size_t n = 0;
	int ret = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (statuses_due(st->db, now, 0, &due, &n) < 0)
		return -1;
	if (n == 0)
		return 0;
	if (httpc_open(&r.http) < 0) {
		forge_statuses_free(due, n);
		return mf_error_wrap("sending commit statuses");
	}
	r.stats.due = n;
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = send_one(&r, &due[i]);
	httpc_close(r.http);
	forge_statuses_free(due, n);
	free(r.down_url);
	free(r.down_error);
	if (out)
		*out = r.stats;
	return ret;
}
