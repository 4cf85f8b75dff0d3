/* httpc.c - see httpc.h. */
#include "net/httpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"

struct httpc {
	CURL *curl;
};

/* What one transfer needs in libcurl's callbacks. */
struct transfer {
	const struct httpc_request *r;
	CURL *curl;
	long status;
	int failed;	/* on_body returned -1 */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int httpc_open(struct httpc **out)
{
	struct httpc *c;

	*out = NULL;
	pthread_once(&init_once, init_curl);
	c = xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return mf_error(MF_E_INFRA, "cannot start libcurl");
	}
	*out = c;
	return 0;
}

void httpc_close(struct httpc *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * n;

	if (!t->status)
		curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
	if (t->r->on_body && t->r->on_body(t->r->arg, t->status, data, len) < 0) {
		t->failed = 1;
		return 0; /* libcurl stops with CURLE_WRITE_ERROR */
	}
	return len;
}

/* libcurl calls this often, also while it waits: the way out on a cancel. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct transfer *t = arg;

	return t->r->cancel && *t->r->cancel;
}

char *httpc_origin(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	if (!p)
		return xstrdup(url);
	p += 3;
	n = strcspn(p, "/?#");
	/* Leave out any user:password@. */
	const char *at = memchr(p, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	return xasprintf("%.*s%.*s", (int)(strstr(url, "://") + 3 - url), url, (int)n, p);
}

int httpc_perform(struct httpc *c, const struct httpc_request *r, long *status)
{
	struct transfer t = { .r = r, .curl = c->curl };
	struct curl_slist *headers = NULL;
	const char *method = r->method ? r->method : "GET";
	CURLcode rc;
	int ret = 0;

	*status = 0;
	for (const char *const *h = r->headers; h && *h; h++)
		headers = curl_slist_append(headers, *h);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, r->url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, r->max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(c->curl, CURLOPT_MAXREDIRS, (long)r->max_redirects);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT,
			 (long)(r->connect_timeout_s ? r->connect_timeout_s : 10));
	if (r->stall_timeout_s > 0) {
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, (long)r->stall_timeout_s);
	}
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, &t);
	if (r->body) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
	}
	rc = curl_easy_perform(c->curl);
	if (t.failed) {
		ret = -1; /* on_body's error stands */
	} else if (rc == CURLE_ABORTED_BY_CALLBACK) {
		ret = mf_error(MF_E_INTERRUPTED, "interrupted");
	} else if (rc != CURLE_OK) {
		char *origin = httpc_origin(r->url);
		ret = mf_error(MF_E_INFRA, "cannot reach %s: %s", origin, curl_easy_strerror(rc));
		free(origin);
	} else {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	}
	curl_slist_free_all(headers);
	return ret;
}
