/* client.c - see client.h. */
#include "vmctl/client.h"

#include <stdatomic.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "json/wire.h"

struct client {
	CURL *curl;
	char *url;
	struct curl_slist *headers;
	atomic_int *cancel;
};

void client_set_cancel(struct client *c, atomic_int *flag)
{
	c->cancel = flag;
}

/* libcurl calls this often, also while waiting: a way out on Ctrl-C. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct client *c = arg;

	return c->cancel && *c->cancel;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int client_open(struct client **out, const char *url, const char *token)
{
	struct client *c;
	size_t len = strlen(url);

	*out = NULL;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return mf_error(MF_E_USAGE, "the mayflyd URL must start with http:// or https://, "
				"not '%s'", url);
	pthread_once(&init_once, init_curl);
	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return mf_error(MF_E_INFRA, "cannot start libcurl");
	}
	/* No trailing slash: paths start with one. */
	while (len > 0 && url[len - 1] == '/')
		len--;
	c->url = xasprintf("%.*s", (int)len, url);
	if (token) {
		char *h = xasprintf("Authorization: Bearer %s", token);
		c->headers = curl_slist_append(c->headers, h);
		free(h);
	}
	c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
	*out = c;
	return 0;
}

void client_close(struct client *c)
{
	if (!c)
		return;
	curl_slist_free_all(c->headers);
	curl_easy_cleanup(c->curl);
	free(c->url);
	free(c);
}

struct sink {
	struct strbuf buf;	/* the body, when collected */
	void (*fn)(void *arg, const char *data, size_t len);
	void *arg;
	FILE *fp;		/* a download */
	long status;		/* known once headers are in */
	CURL *curl;
};

static size_t on_data(char *data, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;
	size_t len = size * n;

	if (!s->status)
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
	/* Error bodies are collected for their message, whatever the mode. */
	if (s->status >= 300 || (!s->fn && !s->fp)) {
		strbuf_add(&s->buf, data, len);
	} else if (s->fn) {
		s->fn(s->arg, data, len);
	} else if (fwrite(data, 1, len, s->fp) != len) {
		return 0;
	}
	return len;
}

/* Turns a non-2xx answer into an error. */
static int status_error(struct client *c, const char *path, long status, const char *body)
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
	char *url;
	CURLcode rc;
	int ret = 0;

	/* The token goes with every request: only ever to mayflyd's API. */
	if (api_path_check(path) < 0)
		return -1;
	url = xasprintf("%s%s", c->url, path);
	s->curl = c->curl;
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	if (body) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
	}
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		ret = mf_error(MF_E_INTERRUPTED, "interrupted");
		goto out;
	}
	if (rc != CURLE_OK) {
		ret = mf_error(MF_E_INFRA, "cannot reach mayflyd at %s: %s", c->url,
			       curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status < 200 || s->status >= 300)
		ret = status_error(c, path, s->status, strbuf_str(&s->buf));
out:
	free(url);
	return ret;
}

int client_call(struct client *c, const char *method, const char *path, const char *body,
		char **answer)
{
	struct sink s = { STRBUF_INIT, NULL, NULL, NULL, 0, NULL };
	int ret = perform(c, method, path, body, &s);

	if (ret == 0 && answer)
		*answer = strbuf_detach(&s.buf);
	strbuf_release(&s.buf);
	return ret;
}

int client_stream(struct client *c, const char *path,
		  void (*sink)(void *arg, const char *data, size_t len), void *arg)
{
	struct sink s = { STRBUF_INIT, sink, arg, NULL, 0, NULL };
	int ret = perform(c, "GET", path, NULL, &s);

	strbuf_release(&s.buf);
	return ret;
}

int client_download(struct client *c, const char *path, const char *dest)
{
	char *part = xasprintf("%s.part", dest);
	struct sink s = { STRBUF_INIT, NULL, NULL, NULL, 0, NULL };
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
