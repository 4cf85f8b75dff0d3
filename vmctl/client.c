/* client.c - see client.h. */
#include "vmctl/client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "json/wire.h"
#include "net/httpc.h"

struct client {
	struct httpc *http;
	char *url;
	char *auth;		/* "Authorization: Bearer ...", or NULL */
	atomic_int *cancel;
};

void client_set_cancel(struct client *c, atomic_int *flag)
{
	c->cancel = flag;
}

int client_open(struct client **out, const char *url, const char *token)
{
	struct client *c;
	size_t len = strlen(url);

	*out = NULL;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return mf_error(MF_E_USAGE, "the mayflyd URL must start with http:// or https://, "
				"not '%s'", url);
	c = xcalloc(1, sizeof(*c));
	if (httpc_open(&c->http) < 0) {
		free(c);
		return -1;
	}
	/* No trailing slash: paths start with one. */
	while (len > 0 && url[len - 1] == '/')
		len--;
	c->url = xasprintf("%.*s", (int)len, url);
	if (token)
		c->auth = xasprintf("Authorization: Bearer %s", token);
	*out = c;
	return 0;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	httpc_close(c->http);
	free(c->url);
	if (c->auth)
		explicit_bzero(c->auth, strlen(c->auth));
	free(c->auth);
	free(c);
}

/* Where an answer goes: collected, streamed to fn, or written to fp. */
struct sink {
	struct strbuf buf;
	void (*fn)(void *arg, const char *data, size_t len);
	void *arg;
	FILE *fp;
};

static int on_body(void *arg, long status, const char *data, size_t len)
{
	struct sink *s = arg;

	/* Error bodies are collected for their message, whatever the mode. */
	if (status >= 300 || (!s->fn && !s->fp))
		strbuf_add(&s->buf, data, len);
	else if (s->fn)
		s->fn(s->arg, data, len);
	else if (fwrite(data, 1, len, s->fp) != len)
		return mf_error_errno(MF_E_INFRA, "cannot write the download");
	return 0;
}

/* Turns a non-2xx answer into an error. */
static int status_error(long status, const char *body)
{
	char *msg = body ? wire_error_text(body) : NULL;
	const char *what = msg ? msg : "no details";
	enum mf_errclass cls;
	int ret;

	switch (status) {
	case 400:
	case 404:
	case 413:
		cls = MF_E_USAGE;
		break;
	case 401:
		ret = mf_error(MF_E_USAGE, "mayflyd refused the token (set MAYFLY_TOKEN to one of "
			       "the tokens in its token_file): %s", what);
		free(msg);
		return ret;
	case 409:
		cls = MF_E_CONFLICT;
		break;
	default:
		cls = MF_E_INFRA;
		break;
	}
	ret = mf_error(cls, "%s", what);
	free(msg);
	return ret;
}

static int perform(struct client *c, const char *method, const char *path, const char *body,
		   struct sink *s)
{
	const char *headers[] = { "Content-Type: application/json", c->auth, NULL };
	long status = 0;
	int ret;

	/* The token goes with every request: only ever to mayflyd's API. */
	if (api_path_check(path) < 0)
		return -1;
	char *url = xasprintf("%s%s", c->url, path);
	struct httpc_request r = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.on_body = on_body,
		.arg = s,
		.cancel = c->cancel,
	};
	ret = httpc_perform(c->http, &r, &status);
	if (ret < 0 && mf_error_class() == MF_E_INFRA)
		mf_error_wrap("mayflyd");
	else if (ret == 0 && (status < 200 || status >= 300))
		ret = status_error(status, strbuf_str(&s->buf));
	free(url);
	return ret;
}

int client_call(struct client *c, const char *method, const char *path, const char *body,
		char **answer)
{
	struct sink s = { STRBUF_INIT, NULL, NULL, NULL };
	int ret = perform(c, method, path, body, &s);

	if (ret == 0 && answer)
		*answer = strbuf_detach(&s.buf);
	strbuf_release(&s.buf);
	return ret;
}

int client_stream(struct client *c, const char *path,
		  void (*sink)(void *arg, const char *data, size_t len), void *arg)
{
	struct sink s = { STRBUF_INIT, sink, arg, NULL };
	int ret = perform(c, "GET", path, NULL, &s);

	strbuf_release(&s.buf);
	return ret;
}

int client_download(struct client *c, const char *path, const char *dest)
{
	char *part = xasprintf("%s.part", dest);
	struct sink s = { STRBUF_INIT, NULL, NULL, NULL };
	int ret = -1;

	s.fp = fopen(part, "we");
	if (!s.fp) {
		mf_error_errno(MF_E_USAGE, "cannot create '%s'", part);
		goto out;
	}
	ret = perform(c, "GET", path, NULL, &s);
	if (fclose(s.fp) != 0 && ret == 0)
		ret = mf_error_errno(MF_E_INFRA, "cannot write '%s'", part);
	if (ret == 0 && rename(part, dest) < 0)
		ret = mf_error_errno(MF_E_INFRA, "cannot rename '%s'", part);
	if (ret < 0)
		unlink(part);
out:
	strbuf_release(&s.buf);
	free(part);
	return ret;
}
