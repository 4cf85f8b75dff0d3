/*
 * s3.c - see s3.h.
 *
 * How libcurl 7.88 signs (lib/http_aws_sigv4.c), and what follows here:
 *  - the payload hash is the value of an x-amz-content-sha256 header the
 *    caller sets; without one, libcurl hashes CURLOPT_POSTFIELDS, or ""
 *    for a body from a read callback (wrong), and sends no such header
 *    (which S3 and s3rver require). So every request sets the header
 *    itself, with the body's real SHA-256, computed beforehand by
 *    streaming the file; the body then streams through a read callback.
 *  - the canonical URI and query are the URL's path and query exactly as
 *    sent: libcurl neither encodes nor sorts them. So paths are built
 *    already in SigV4's canonical form (every byte but A-Z a-z 0-9 - . _ ~
 *    and '/' as %XX), CURLOPT_PATH_AS_IS keeps libcurl from removing
 *    "./" and "../" segments, and query parameters are added sorted by
 *    name, valueless ones as "name=".
 *  - every header in CURLOPT_HTTPHEADER is signed, with host and
 *    x-amz-date; headers libcurl adds itself (Accept, Content-Length,
 *    Expect) are not. So no empty "Expect:" is passed: it would be signed
 *    yet never sent.
 */
#include "net/s3.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "net/httpc.h"

#define MIB ((size_t)1 << 20)
#define MIN_PART (5 * MIB)
#define MAX_PARTS 10000
#define UPLOAD_BUFFER (64 * 1024)
#define MAX_ANSWER (16 * MIB)	/* answers kept in memory (XML) */
#define BACKOFF_MS 250
#define BACKOFF_MAX_MS 8000
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	CURL *curl;
	char *endpoint, *origin, *bucket, *prefix;
	char *access_key, *secret_key;
	char *sigv4;	/* "aws:amz:REGION:s3" */
	size_t threshold, part_size;
	int max_attempts, timeout_s, list_page;
	const atomic_int *cancel;
	unsigned int seed;
	struct s3_stats stats;
	long last_status;	/* of the last request that failed; 0: no HTTP answer */
};

/* One request and its answer, across its attempts. */
struct req {
	const char *what;		/* "PUT packages/x.hpkg", for messages */
	const char *method;
	const char *url;
	const char *const *headers;	/* more, NULL-terminated, or NULL */
	const char *sha256;		/* the body's; NULL: empty body */
	int has_body;			/* send a body (empty too: Content-Length: 0) */
	const char *buf;		/* the body from memory, or */
	int fd;				/* from this file (when buf is NULL) */
	uint64_t off, len;
	int out_fd;			/* >= 0: a 2xx answer's body goes here */
	int ok404;			/* a 404 is an answer, not an error */
	int error_in_200;		/* a 200 may carry <Error> (copy, complete) */
	int ignore_cancel;		/* clean-up that must run after a cancel */
	/* the answer of the last attempt */
	struct s3 *s;
	long status;
	struct strbuf body;
	char etag[128];
	uint64_t pos, got;
	int local_failed;		/* a file could not be read or written: error set */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_curl(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* SigV4's URI encoding: all but unreserved characters as %XX (and '/' kept when keep_slash). */
static void uri_encode(struct strbuf *sb, const char *s, int keep_slash)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/'))
			strbuf_addch(sb, (char)*p);
		else
			strbuf_addf(sb, "%%%02X", *p);
	}
}

/* Adds "name=value" (value encoded) to a query; callers add names in sorted order. */
static void query_add(struct strbuf *q, const char *name, const char *value)
{
	if (q->len)
		strbuf_addch(q, '&');
	strbuf_addstr(q, name);
	strbuf_addch(q, '=');
	if (value)
		uri_encode(q, value, 0);
}

/* ENDPOINT/BUCKET[/KEY][?QUERY]; key is the whole key (prefix included). */
static char *make_url(const struct s3 *s, const char *key, const struct strbuf *query)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, s->endpoint);
	strbuf_addch(&sb, '/');
	uri_encode(&sb, s->bucket, 0);
	if (key) {
		strbuf_addch(&sb, '/');
		uri_encode(&sb, key, 1);
	}
	if (query && query->len) {
		strbuf_addch(&sb, '?');
		strbuf_addstr(&sb, query->buf);
	}
	return strbuf_detach(&sb);
}

/* ---- a minimal XML reader for S3's answers: elements without namespaces' prefixes ---- */

/*
 * Finds the next element <tag> in [p, end): its content in [*in, *in_end)
 * and *after just past its end tag. Returns 0 when there is none.
 */
static int xml_find(const char *p, const char *end, const char *tag, const char **in,
		    const char **in_end, const char **after)
{
	size_t n = strlen(tag);

	while (p < end && (p = memchr(p, '<', (size_t)(end - p)))) {
		p++;
		if ((size_t)(end - p) <= n || memcmp(p, tag, n) ||
		    !(p[n] == '>' || p[n] == '/' || isspace((unsigned char)p[n])))
			continue;
		const char *gt = memchr(p + n, '>', (size_t)(end - p - n));
		if (!gt)
			return 0;
		if (gt[-1] == '/') { /* <tag/> */
			*in = *in_end = *after = gt + 1;
			return 1;
		}
		*in = gt + 1;
		for (const char *q = *in; q < end && (q = memchr(q, '<', (size_t)(end - q))); q++) {
			if ((size_t)(end - q) > n + 2 && q[1] == '/' && !memcmp(q + 2, tag, n) &&
			    q[n + 2] == '>') {
				*in_end = q;
				*after = q + n + 3;
				return 1;
			}
		}
		return 0;
	}
	return 0;
}

static void utf8_add(struct strbuf *sb, unsigned long cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		strbuf_addch(sb, '?');
	} else if (cp < 0x80) {
		strbuf_addch(sb, (char)cp);
	} else if (cp < 0x800) {
		strbuf_addch(sb, (char)(0xC0 | (cp >> 6)));
		strbuf_addch(sb, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		strbuf_addch(sb, (char)(0xE0 | (cp >> 12)));
		strbuf_addch(sb, (char)(0x80 | ((cp >> 6) & 0x3F)));
		strbuf_addch(sb, (char)(0x80 | (cp & 0x3F)));
	} else {
		strbuf_addch(sb, (char)(0xF0 | (cp >> 18)));
		strbuf_addch(sb, (char)(0x80 | ((cp >> 12) & 0x3F)));
		strbuf_addch(sb, (char)(0x80 | ((cp >> 6) & 0x3F)));
		strbuf_addch(sb, (char)(0x80 | (cp & 0x3F)));
	}
}

/* Text with the five predefined entities and character references decoded. */
static char *xml_text(const char *p, const char *end)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "lt", '<' }, { "gt", '>' }, { "amp", '&' }, { "quot", '"' }, { "apos", '\'' },
	};
	struct strbuf sb = STRBUF_INIT;

	strbuf_grow(&sb, (size_t)(end - p));
	while (p < end) {
		const char *semi = *p == '&' ? memchr(p, ';', (size_t)(end - p)) : NULL;
		if (!semi || semi - p > 10) {
			strbuf_addch(&sb, *p++);
			continue;
		}
		size_t n = (size_t)(semi - p - 1);
		size_t i;
		for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
			if (strlen(ents[i].name) == n && !memcmp(p + 1, ents[i].name, n))
				break;
		if (i < sizeof(ents) / sizeof(ents[0])) {
			strbuf_addch(&sb, ents[i].c);
		} else if (n >= 2 && p[1] == '#') {
			char num[12];
			char *e;
			int hex = p[2] == 'x' || p[2] == 'X';
			snprintf(num, sizeof(num), "%.*s", (int)(n - 1 - hex), p + 2 + hex);
			unsigned long cp = strtoul(num, &e, hex ? 16 : 10);
			utf8_add(&sb, *num && !*e && isxdigit((unsigned char)*num) ? cp : 0);
		} else {
			strbuf_add(&sb, p, (size_t)(semi + 1 - p)); /* not ours: as it is */
		}
		p = semi + 1;
	}
	return strbuf_detach(&sb);
}

/* The decoded text of the first <tag> in [p, end), or NULL. */
static char *xml_get(const char *p, const char *end, const char *tag)
{
	const char *in, *in_end, *after;

	if (!xml_find(p, end, tag, &in, &in_end, &after))
		return NULL;
	return xml_text(in, in_end);
}

/* ---- transfers ---- */

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t want = size * n;
	ssize_t got;

	if (want > r->len - r->pos)
		want = (size_t)(r->len - r->pos);
	if (!want)
		return 0;
	if (r->buf) {
		memcpy(buf, r->buf + r->pos, want);
		got = (ssize_t)want;
	} else {
		do
			got = pread(r->fd, buf, want, (off_t)(r->off + r->pos));
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			if (got == 0)
				errno = EIO; /* the file shrank */
			mf_error_errno(MF_E_USAGE, "S3 %s: cannot read the file", r->what);
			r->local_failed = 1;
			return CURL_READFUNC_ABORT;
		}
		r->s->stats.file_bytes_sent += (uint64_t)got;
	}
	r->s->stats.read_calls++;
	if ((size_t)got > r->s->stats.max_read)
		r->s->stats.max_read = (size_t)got;
	r->pos += (uint64_t)got;
	return (size_t)got;
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;

	if (!r->status)
		curl_easy_getinfo(r->s->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->out_fd >= 0 && r->status >= 200 && r->status < 300) {
		if (mf_write_all(r->out_fd, data, len) < 0) {
			mf_error_errno(MF_E_USAGE, "S3 %s: cannot write the file", r->what);
			r->local_failed = 1;
			return 0;
		}
	} else if (r->body.len + len > MAX_ANSWER) {
		mf_error(MF_E_INFRA, "S3 %s at %s: answer over %zu bytes", r->what,
			 r->s->origin, (size_t)MAX_ANSWER);
		r->local_failed = 1;
		return 0;
	} else {
		strbuf_add(&r->body, data, len);
	}
	r->got += len;
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;

	if (len > 5 && !strncasecmp(data, "etag:", 5)) {
		const char *v = data + 5;
		size_t vl = len - 5;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && isspace((unsigned char)v[vl - 1]))
			vl--;
		if (vl < sizeof(r->etag))
			snprintf(r->etag, sizeof(r->etag), "%.*s", (int)vl, v);
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct req *r = arg;

	return !r->ignore_cancel && r->s->cancel && *r->s->cancel;
}

static CURLcode perform_once(struct s3 *s, struct req *r)
{
	CURL *c = s->curl;
	struct curl_slist *h = NULL;
	char line[128];
	long timeout = s->timeout_s;
	CURLcode rc;

	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", r->sha256 ? r->sha256 : EMPTY_SHA256);
	h = curl_slist_append(h, line);
	for (const char *const *p = r->headers; p && *p; p++)
		h = curl_slist_append(h, *p);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(c, CURLOPT_USERNAME, s->access_key);
	curl_easy_setopt(c, CURLOPT_PASSWORD, s->secret_key);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	if (r->has_body) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, r);
		curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, (long)UPLOAD_BUFFER);
		if (strcmp(r->method, "PUT"))
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	return rc;
}

/* Failures worth another attempt: the network, time-outs, a cut answer. */
static int transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* Sleeps before attempt+1: exponential, capped, with jitter; 0, or -1 on a cancel. */
static int backoff(struct s3 *s, struct req *r, int attempt)
{
	int64_t ms = BACKOFF_MS;

	for (int i = 1; i < attempt && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	ms = ms / 2 + rand_r(&s->seed) % (ms / 2 + 1);
	for (int64_t end = mf_now_ms() + ms; mf_now_ms() < end;) {
		if (!r->ignore_cancel && s->cancel && *s->cancel)
			return mf_error(MF_E_INTERRUPTED, "S3 %s: interrupted", r->what);
		usleep(20000);
	}
	return 0;
}

/* The final error of a request: "S3 WHAT at ORIGIN: STATUS Code: Message (after N attempts)". */
static int request_error(struct s3 *s, struct req *r, CURLcode rc, int attempts)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "S3 %s at %s: ", r->what, s->origin);
	if (rc != CURLE_OK) {
		strbuf_addstr(&sb, curl_easy_strerror(rc));
	} else {
		const char *end = r->body.buf + r->body.len;
		char *code = r->body.len ? xml_get(r->body.buf, end, "Code") : NULL;
		char *msg = r->body.len ? xml_get(r->body.buf, end, "Message") : NULL;
		strbuf_addf(&sb, "%ld", r->status);
		if (code)
			strbuf_addf(&sb, " %.100s", code);
		if (msg)
			strbuf_addf(&sb, "%s %.300s", code ? ":" : "", msg);
		free(code);
		free(msg);
	}
	if (attempts > 1)
		strbuf_addf(&sb, " (after %d attempts)", attempts);
	mf_error(MF_E_INFRA, "%s", sb.buf);
	strbuf_release(&sb);
	return -1;
}

/*
 * Performs a request, retried as s3.h says. 0 with r->status (2xx, or 404
 * when r->ok404) and the answer in r->body (or r->out_fd); the caller
 * releases r->body either way.
 */
static int request(struct s3 *s, struct req *r)
{
	r->s = s;
	for (int attempt = 1;; attempt++) {
		CURLcode rc;
		int retry;

		r->status = 0;
		r->pos = r->got = 0;
		r->etag[0] = '\0';
		r->local_failed = 0;
		strbuf_reset(&r->body);
		strbuf_grow(&r->body, 0); /* never NULL: the XML reader does pointer arithmetic */
		if (r->out_fd >= 0 && (ftruncate(r->out_fd, 0) < 0 || lseek(r->out_fd, 0, SEEK_SET) < 0))
			return mf_error_errno(MF_E_USAGE, "S3 %s: cannot write the file", r->what);
		s->stats.requests++;
		rc = perform_once(s, r);
		if (r->local_failed)
			return -1;
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			return mf_error(MF_E_INTERRUPTED, "S3 %s: interrupted", r->what);
		if (rc != CURLE_OK) {
			retry = transient(rc);
		} else if (r->status >= 200 && r->status < 300) {
			const char *in, *in_end, *after;
			if (!r->error_in_200 ||
			    !xml_find(r->body.buf, r->body.buf + r->body.len, "Error", &in, &in_end, &after))
				return 0;
			retry = 1; /* S3 can fail a copy or a completion after its 200 */
		} else if (r->status == 404 && r->ok404) {
			return 0;
		} else {
			/* 501 and 505: what this store does not do, now or later. */
			retry = (r->status >= 500 && r->status != 501 && r->status != 505) ||
				r->status == 429;
		}
		if (!retry || attempt >= s->max_attempts) {
			s->last_status = rc == CURLE_OK ? r->status : 0;
			return request_error(s, r, rc, attempt);
		}
		log_debug("S3 %s: attempt %d failed (%s %ld), retrying", r->what, attempt,
			  rc == CURLE_OK ? "HTTP" : curl_easy_strerror(rc), r->status);
		s->stats.retries++;
		if (backoff(s, r, attempt) < 0)
			return -1;
	}
}

/* ---- the API ---- */

long s3_last_status(const struct s3 *s)
{
	return s->last_status;
}

int s3_open(struct s3 **out, const struct s3_config *cfg)
{
	struct s3 *s;
	size_t n;

	*out = NULL;
	if (!cfg->endpoint || (strncmp(cfg->endpoint, "http://", 7) &&
			       strncmp(cfg->endpoint, "https://", 8)))
		return mf_error(MF_E_USAGE, "S3: endpoint must be an http:// or https:// URL");
	if (!cfg->bucket || !*cfg->bucket)
		return mf_error(MF_E_USAGE, "S3: no bucket");
	if (!cfg->region || !*cfg->region || strlen(cfg->region) > 64 || strchr(cfg->region, ':'))
		return mf_error(MF_E_USAGE, "S3: region must be a name like 'us-east-1'");
	if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key)
		return mf_error(MF_E_USAGE, "S3: no credentials");
	if (cfg->part_size && cfg->part_size < MIN_PART)
		return mf_error(MF_E_USAGE, "S3: part size under 5 MiB");
	pthread_once(&init_once, init_curl);
	s = xcalloc(1, sizeof(*s));
	s->curl = curl_easy_init();
	if (!s->curl) {
		free(s);
		return mf_error(MF_E_INFRA, "cannot start libcurl");
	}
	s->endpoint = xstrdup(cfg->endpoint);
	n = strlen(s->endpoint);
	while (n > 0 && s->endpoint[n - 1] == '/')
		s->endpoint[--n] = '\0';
	s->origin = httpc_origin(s->endpoint);
	s->bucket = xstrdup(cfg->bucket);
	s->prefix = xstrdup(cfg->prefix ? cfg->prefix : "");
	s->access_key = xstrdup(cfg->access_key);
	s->secret_key = xstrdup(cfg->secret_key);
	s->sigv4 = xasprintf("aws:amz:%s:s3", cfg->region);
	s->threshold = cfg->multipart_threshold ? cfg->multipart_threshold : 64 * MIB;
	s->part_size = cfg->part_size ? cfg->part_size : 16 * MIB;
	s->max_attempts = cfg->max_attempts > 0 ? cfg->max_attempts : 5;
	s->timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 60;
	s->seed = (unsigned int)mf_now_ms() ^ (unsigned int)getpid() ^ (unsigned int)(uintptr_t)s;
	*out = s;
	return 0;
}

void s3_close(struct s3 *s)
{
	if (!s)
		return;
	curl_easy_cleanup(s->curl);
	explicit_bzero(s->secret_key, strlen(s->secret_key));
	free(s->secret_key);
	free(s->access_key);
	free(s->sigv4);
	free(s->endpoint);
	free(s->origin);
	free(s->bucket);
	free(s->prefix);
	free(s);
}

void s3_set_cancel(struct s3 *s, const atomic_int *cancel)
{
	s->cancel = cancel;
}

void s3_set_list_page(struct s3 *s, int max_keys)
{
	s->list_page = max_keys > 0 ? max_keys : 0;
}

void s3_get_stats(const struct s3 *s, struct s3_stats *out)
{
	*out = s->stats;
}

/* One "name = value" line of a credentials file into *dst. */
static int credentials_line(const char *path, int lineno, char *line, char **access_key,
			    char **secret_key)
{
	char *eq = strchr(line, '='), *name = line, *value, *e;
	char **dst;

	if (!eq)
		return mf_error(MF_E_USAGE, "%s:%d: expected 'name = value'", path, lineno);
	*eq = '\0';
	value = eq + 1;
	for (e = eq; e > name && isspace((unsigned char)e[-1]);)
		*--e = '\0';
	while (isspace((unsigned char)*value))
		value++;
	for (e = value + strlen(value); e > value && isspace((unsigned char)e[-1]);)
		*--e = '\0';
	if (!strcmp(name, "access_key_id"))
		dst = access_key;
	else if (!strcmp(name, "secret_access_key"))
		dst = secret_key;
	else
		return mf_error(MF_E_USAGE, "%s:%d: unknown name '%.40s' (access_key_id or "
				"secret_access_key)", path, lineno, name);
	if (*dst)
		return mf_error(MF_E_USAGE, "%s:%d: %s given twice", path, lineno, name);
	if (!*value)
		return mf_error(MF_E_USAGE, "%s:%d: %s is empty", path, lineno, name);
	for (e = value; *e; e++)
		if ((unsigned char)*e < 0x21 || *e == 0x7f)
			return mf_error(MF_E_USAGE, "%s:%d: %s has a space or control character",
					path, lineno, name);
	*dst = xstrdup(value);
	return 0;
}

int s3_credentials_read(const char *path, char **access_key, char **secret_key)
{
	struct strbuf text = STRBUF_INIT;
	struct stat st;
	char buf[4096];
	ssize_t got;
	int fd, ret = -1, lineno = 0;

	*access_key = *secret_key = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return mf_error_errno(MF_E_USAGE, "cannot open S3 credentials '%s'", path);
	if (fstat(fd, &st) < 0) {
		mf_error_errno(MF_E_USAGE, "cannot read S3 credentials '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		mf_error(MF_E_USAGE, "S3 credentials '%s' is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		mf_error(MF_E_USAGE, "S3 credentials '%s' can be read by others (mode %04o): "
			 "chmod 600 it", path, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	while ((got = read(fd, buf, sizeof(buf))) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			mf_error_errno(MF_E_USAGE, "cannot read S3 credentials '%s'", path);
			goto out;
		}
		if (text.len + (size_t)got > 64 * 1024) {
			mf_error(MF_E_USAGE, "S3 credentials '%s' is over 64 KiB", path);
			goto out;
		}
		strbuf_add(&text, buf, (size_t)got);
	}
	for (char *line = text.buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		line[strcspn(line, "\r")] = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (!*line || *line == '#')
			continue;
		if (credentials_line(path, lineno, line, access_key, secret_key) < 0)
			goto out;
	}
	if (!*access_key || !*secret_key) {
		mf_error(MF_E_USAGE, "S3 credentials '%s': no %s", path,
			 !*access_key ? "access_key_id" : "secret_access_key");
		goto out;
	}
	ret = 0;
out:
	if (ret < 0) {
		mf_freep(access_key);
		if (*secret_key)
			explicit_bzero(*secret_key, strlen(*secret_key));
		mf_freep(secret_key);
	}
	if (text.buf)
		explicit_bzero(text.buf, text.len);
	explicit_bzero(buf, sizeof(buf));
	strbuf_release(&text);
	close(fd);
	return ret;
}

static char *full_key(const struct s3 *s, const char *key)
{
	return xasprintf("%s%s", s->prefix, key);
}

static int check_key(const struct s3 *s, const char *key)
{
	if (!key || !*key)
		return mf_error(MF_E_USAGE, "S3: empty key");
	if (strlen(s->prefix) + strlen(key) > 1024)
		return mf_error(MF_E_USAGE, "S3: key '%.60s...' over 1024 bytes", key);
	return 0;
}

static void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
	struct sha256 *h = sha256_new();

	sha256_update(h, data, len);
	sha256_finish(h, out);
}

/* SHA-256 of a range of a file, read in blocks. */
static int hash_range(int fd, const char *path, uint64_t off, uint64_t len,
		      char out[SHA256_HEX_LEN])
{
	unsigned char buf[UPLOAD_BUFFER];
	struct sha256 *h = sha256_new();

	while (len > 0) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		ssize_t got = pread(fd, buf, want, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			sha256_finish(h, out);
			return mf_error_errno(MF_E_USAGE, "cannot read '%s'", path);
		}
		sha256_update(h, buf, (size_t)got);
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	sha256_finish(h, out);
	return 0;
}

int s3_abort_upload(struct s3 *s, const char *key, const char *upload_id)
{
	struct strbuf q = STRBUF_INIT;
	char *full, *what;
	int ret;

	if (check_key(s, key) < 0)
		return -1;
	full = full_key(s, key);
	query_add(&q, "uploadId", upload_id);
	what = xasprintf("abort multipart upload of %s", full);
	char *url = make_url(s, full, &q);
	struct req r = { .what = what, .method = "DELETE", .url = url, .out_fd = -1,
			 .ok404 = 1, .ignore_cancel = 1 };
	ret = request(s, &r);
	strbuf_release(&r.body);
	strbuf_release(&q);
	free(url);
	free(what);
	free(full);
	return ret;
}

/* A multipart upload; on any failure aborted, so that no parts stay behind. */
static int put_multipart(struct s3 *s, const char *key, const char *full, const char *path,
			 int fd, uint64_t size)
{
	uint64_t part = s->part_size;
	struct strbuf q = STRBUF_INIT, xml = STRBUF_INIT;
	char **etags = NULL;
	char *url = NULL, *what = NULL, *upload_id = NULL;
	unsigned int nparts, i = 0;
	char sha[SHA256_HEX_LEN];
	int ret = -1;

	if ((size + part - 1) / part > MAX_PARTS)
		part = (size + MAX_PARTS - 1) / MAX_PARTS;
	nparts = (unsigned int)((size + part - 1) / part);

	query_add(&q, "uploads", NULL);
	url = make_url(s, full, &q);
	what = xasprintf("start multipart upload of %s", full);
	struct req r = { .what = what, .method = "POST", .url = url, .has_body = 1, .buf = "",
			 .out_fd = -1 };
	if (request(s, &r) < 0)
		goto out;
	upload_id = xml_get(r.body.buf, r.body.buf + r.body.len, "UploadId");
	if (!upload_id || !*upload_id) {
		mf_error(MF_E_INFRA, "S3 %s at %s: no UploadId in the answer", what, s->origin);
		goto out;
	}

	etags = xcalloc(nparts, sizeof(*etags));
	for (i = 0; i < nparts; i++) {
		uint64_t off = (uint64_t)i * part;
		uint64_t len = size - off < part ? size - off : part;
		char num[16];

		if (hash_range(fd, path, off, len, sha) < 0)
			goto out;
		snprintf(num, sizeof(num), "%u", i + 1);
		strbuf_reset(&q);
		query_add(&q, "partNumber", num);
		query_add(&q, "uploadId", upload_id);
		free(url);
		free(what);
		url = make_url(s, full, &q);
		what = xasprintf("PUT %s (part %u of %u)", full, i + 1, nparts);
		strbuf_release(&r.body);
		r = (struct req){ .what = what, .method = "PUT", .url = url, .sha256 = sha,
				  .has_body = 1, .fd = fd, .off = off, .len = len, .out_fd = -1 };
		if (request(s, &r) < 0)
			goto out;
		if (!r.etag[0]) {
			mf_error(MF_E_INFRA, "S3 %s at %s: no ETag in the answer", what, s->origin);
			goto out;
		}
		etags[i] = xstrdup(r.etag);
	}

	strbuf_addstr(&xml, "<CompleteMultipartUpload>");
	for (i = 0; i < nparts; i++) {
		strbuf_addf(&xml, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
		strbuf_add_xml(&xml, etags[i]);
		strbuf_addstr(&xml, "</ETag></Part>");
	}
	strbuf_addstr(&xml, "</CompleteMultipartUpload>");
	sha256_hex(xml.buf, xml.len, sha);
	strbuf_reset(&q);
	query_add(&q, "uploadId", upload_id);
	free(url);
	free(what);
	url = make_url(s, full, &q);
	what = xasprintf("complete multipart upload of %s", full);
	static const char *const xml_type[] = { "Content-Type: application/xml", NULL };
	strbuf_release(&r.body);
	r = (struct req){ .what = what, .method = "POST", .url = url, .headers = xml_type,
			  .sha256 = sha, .has_body = 1, .buf = xml.buf, .len = xml.len,
			  .out_fd = -1, .error_in_200 = 1 };
	ret = request(s, &r);
out:
	if (ret < 0 && upload_id && *upload_id) {
		struct mf_error_saved saved;
		mf_error_save(&saved);
		if (s3_abort_upload(s, key, upload_id) < 0)
			log_warnx("%s (multipart upload %s of %s left behind)", mf_error_msg(),
				  upload_id, full);
		mf_error_restore(&saved);
	}
	for (i = 0; etags && i < nparts; i++)
		free(etags[i]);
	free(etags);
	strbuf_release(&r.body);
	strbuf_release(&q);
	strbuf_release(&xml);
	free(upload_id);
	free(url);
	free(what);
	return ret;
}

static int is_sha256_hex(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]) || isupper((unsigned char)s[n]))
			return 0;
	return n == 64;
}

int s3_put_file(struct s3 *s, const char *key, const char *path, const char *sha256)
{
	char sha[SHA256_HEX_LEN];
	struct stat st;
	char *full, *url = NULL, *what = NULL;
	int fd, ret = -1;

	if (check_key(s, key) < 0)
		return -1;
	if (sha256 && !is_sha256_hex(sha256))
		return mf_error(MF_E_USAGE, "S3 PUT: '%.80s' is not a SHA-256 in lowercase hex",
				sha256);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mf_error_errno(MF_E_USAGE, "cannot open '%s'", path);
	full = full_key(s, key);
	if (fstat(fd, &st) < 0) {
		mf_error_errno(MF_E_USAGE, "cannot read '%s'", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		mf_error(MF_E_USAGE, "cannot upload '%s': not a regular file", path);
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((uint64_t)st.st_size > s->threshold) {
		ret = put_multipart(s, key, full, path, fd, (uint64_t)st.st_size);
		goto out;
	}
	if (!sha256) {
		if (hash_range(fd, path, 0, (uint64_t)st.st_size, sha) < 0)
			goto out;
		sha256 = sha;
	}
	url = make_url(s, full, NULL);
	what = xasprintf("PUT %s", full);
	struct req r = { .what = what, .method = "PUT", .url = url, .sha256 = sha256,
			 .has_body = 1, .fd = fd, .len = (uint64_t)st.st_size, .out_fd = -1 };
	ret = request(s, &r);
	strbuf_release(&r.body);
out:
	close(fd);
	free(full);
	free(url);
	free(what);
	return ret;
}

/* One request on an object without a body to send; the answer's body stays in r->body. */
static int object_request(struct s3 *s, struct req *r, const char *method, const char *op,
			  const char *key)
{
	char *full = full_key(s, key);
	char *url = make_url(s, full, NULL);
	char *what = xasprintf("%s %s", op, full);
	int ret;

	r->method = method;
	r->url = url;
	r->what = what;
	ret = request(s, r);
	r->url = r->what = NULL;
	free(full);
	free(url);
	free(what);
	return ret;
}

int s3_put_buffer(struct s3 *s, const char *key, const void *data, size_t len)
{
	char sha[SHA256_HEX_LEN];
	struct req r = { .sha256 = sha, .has_body = 1, .buf = len ? data : "", .len = len,
			 .out_fd = -1 };
	int ret;

	if (check_key(s, key) < 0)
		return -1;
	sha256_hex(r.buf, len, sha);
	ret = object_request(s, &r, "PUT", "PUT", key);
	strbuf_release(&r.body);
	return ret;
}

int s3_get_file(struct s3 *s, const char *key, const char *path, uint64_t *size)
{
	char *tmp;
	int fd, ret;

	if (check_key(s, key) < 0)
		return -1;
	tmp = xasprintf("%s.s3-%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = mf_error_errno(MF_E_USAGE, "cannot create '%s'", tmp);
		free(tmp);
		return ret;
	}
	struct req r = { .out_fd = fd };
	ret = object_request(s, &r, "GET", "GET", key);
	strbuf_release(&r.body);
	if (ret == 0 && fsync(fd) < 0)
		ret = mf_error_errno(MF_E_USAGE, "cannot write '%s'", tmp);
	if (close(fd) < 0 && ret == 0)
		ret = mf_error_errno(MF_E_USAGE, "cannot write '%s'", tmp);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = mf_error_errno(MF_E_USAGE, "cannot rename '%s' to '%s'", tmp, path);
	if (ret < 0)
		unlink(tmp);
	else if (size)
		*size = r.got;
	free(tmp);
	return ret;
}

int s3_head(struct s3 *s, const char *key, int *exists, uint64_t *size)
{
	struct req r = { .out_fd = -1, .ok404 = 1 };
	curl_off_t len = -1;
	int ret;

	*exists = 0;
	if (size)
		*size = 0;
	if (check_key(s, key) < 0)
		return -1;
	ret = object_request(s, &r, "HEAD", "HEAD", key);
	strbuf_release(&r.body);
	if (ret < 0 || r.status == 404)
		return ret;
	*exists = 1;
	curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	if (size && len >= 0)
		*size = (uint64_t)len;
	return 0;
}

int s3_copy(struct s3 *s, const char *src_key, const char *dst_key)
{
	struct strbuf src = STRBUF_INIT;
	char *full;
	int ret;

	if (check_key(s, src_key) < 0 || check_key(s, dst_key) < 0)
		return -1;
	full = full_key(s, src_key);
	strbuf_addstr(&src, "x-amz-copy-source: /");
	uri_encode(&src, s->bucket, 0);
	strbuf_addch(&src, '/');
	uri_encode(&src, full, 1);
	const char *headers[] = { src.buf, NULL };
	struct req r = { .headers = headers, .has_body = 1, .buf = "", .out_fd = -1,
			 .error_in_200 = 1 };
	char *op = xasprintf("COPY %s to", full);
	ret = object_request(s, &r, "PUT", op, dst_key);
	strbuf_release(&r.body);
	strbuf_release(&src);
	free(op);
	free(full);
	return ret;
}

int s3_delete(struct s3 *s, const char *key)
{
	struct req r = { .out_fd = -1, .ok404 = 1 };
	int ret;

	if (check_key(s, key) < 0)
		return -1;
	ret = object_request(s, &r, "DELETE", "DELETE", key);
	strbuf_release(&r.body);
	return ret;
}

/*
 * Builds the query of a page of a listing: marks are the "next" markers
 * of the page before (NULL for the first page). libcurl signs the query
 * as it is, so parameters go in the order of their names.
 */
typedef void (*page_query_fn)(const struct s3 *s, struct strbuf *q, const char *prefix,
			      char *const marks[2]);

/* A listing of <item>s, each with a <Key> and another element, <value>. */
struct listing {
	const char *what;		/* "LIST ...", for messages */
	const char *prefix;		/* the whole prefix listed */
	page_query_fn query;
	const char *item, *value;
	const char *next[2];		/* elements of the next page's markers (next[1] optional) */
	size_t size;			/* of an entry of the result */
	/* Fills an entry from the key (relative to the prefix) and value; takes both. */
	void (*store)(void *entry, char *key, char *value);
	void (*free_all)(void *v, size_t n);
};

/* Adds a page's entries to *v; returns 1 when another page follows (marks set), 0, or -1. */
static int list_page(struct s3 *s, const struct listing *l, const struct req *r,
		     char **v, size_t *n, size_t *alloc, char *marks[2])
{
	const char *p = r->body.buf, *end = r->body.buf + r->body.len, *in, *in_end;
	size_t plen = strlen(s->prefix);
	char *truncated;
	int more;

	while (xml_find(p, end, l->item, &in, &in_end, &p)) {
		char *key = xml_get(in, in_end, "Key");
		char *value = xml_get(in, in_end, l->value);
		if (key && value && !strncmp(key, s->prefix, plen) && key[plen]) {
			if (*n == *alloc) {
				*alloc = *alloc ? 2 * *alloc : 64;
				*v = xrealloc(*v, *alloc * l->size);
			}
			l->store(*v + *n * l->size, xstrdup(key + plen), value);
			(*n)++;
			value = NULL;
		}
		free(key);
		free(value);
	}
	truncated = xml_get(r->body.buf, end, "IsTruncated");
	more = truncated && !strcmp(truncated, "true");
	free(truncated);
	for (int i = 0; i < 2; i++) {
		free(marks[i]);
		marks[i] = more && l->next[i] ? xml_get(r->body.buf, end, l->next[i]) : NULL;
	}
	if (more && (!marks[0] || !*marks[0]))
		return mf_error(MF_E_INFRA, "S3 %s at %s: truncated listing without %s", l->what,
				s->origin, l->next[0]);
	return more;
}

/* All pages of a listing of the bucket, into an array of l->size entries. */
static int list_all(struct s3 *s, const struct listing *l, void **out, size_t *n)
{
	struct strbuf q = STRBUF_INIT;
	char *v = NULL;
	size_t nv = 0, alloc = 0;
	char *marks[2] = { NULL, NULL };
	int more;

	*out = NULL;
	*n = 0;
	do {
		struct req r = { .what = l->what, .method = "GET", .out_fd = -1 };
		char *url;

		strbuf_reset(&q);
		l->query(s, &q, l->prefix, marks);
		url = make_url(s, NULL, &q);
		r.url = url;
		more = request(s, &r);
		if (more == 0)
			more = list_page(s, l, &r, &v, &nv, &alloc, marks);
		strbuf_release(&r.body);
		free(url);
	} while (more > 0);
	strbuf_release(&q);
	free(marks[0]);
	free(marks[1]);
	if (more < 0) {
		l->free_all(v, nv);
		return -1;
	}
	*out = v;
	*n = nv;
	return 0;
}

static void objects_query(const struct s3 *s, struct strbuf *q, const char *prefix,
			  char *const marks[2])
{
	char page[16];

	if (marks[0])
		query_add(q, "continuation-token", marks[0]);
	query_add(q, "list-type", "2");
	if (s->list_page) {
		snprintf(page, sizeof(page), "%d", s->list_page);
		query_add(q, "max-keys", page);
	}
	if (*prefix)
		query_add(q, "prefix", prefix);
}

static void object_store(void *entry, char *key, char *value)
{
	struct s3_object *o = entry;

	o->key = key;
	o->size = strtoull(value, NULL, 10);
	free(value);
}

void s3_objects_free(struct s3_object *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].key);
	free(v);
}

static void objects_free(void *v, size_t n)
{
	s3_objects_free(v, n);
}

int s3_list(struct s3 *s, const char *prefix, struct s3_object **out, size_t *n)
{
	char *full = full_key(s, prefix ? prefix : "");
	char *what = xasprintf("LIST %s*", full);
	struct listing l = { .what = what, .prefix = full, .query = objects_query,
			     .item = "Contents", .value = "Size",
			     .next = { "NextContinuationToken", NULL },
			     .size = sizeof(**out), .store = object_store,
			     .free_all = objects_free };
	void *v;
	int ret = list_all(s, &l, &v, n);

	*out = v;
	free(full);
	free(what);
	return ret;
}

static void uploads_query(const struct s3 *s, struct strbuf *q, const char *prefix,
			  char *const marks[2])
{
	if (marks[0])
		query_add(q, "key-marker", marks[0]);
	if (*prefix)
		query_add(q, "prefix", prefix);
	if (marks[1])
		query_add(q, "upload-id-marker", marks[1]);
	query_add(q, "uploads", NULL);
}

static void upload_store(void *entry, char *key, char *value)
{
	struct s3_upload *u = entry;

	u->key = key;
	u->upload_id = value;
}

void s3_uploads_free(struct s3_upload *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].key);
		free(v[i].upload_id);
	}
	free(v);
}

static void uploads_free(void *v, size_t n)
{
	s3_uploads_free(v, n);
}

int s3_list_uploads(struct s3 *s, struct s3_upload **out, size_t *n)
{
	char *what = xasprintf("LIST multipart uploads %s*", s->prefix);
	struct listing l = { .what = what, .prefix = s->prefix, .query = uploads_query,
			     .item = "Upload", .value = "UploadId",
			     .next = { "NextKeyMarker", "NextUploadIdMarker" },
			     .size = sizeof(**out), .store = upload_store,
			     .free_all = uploads_free };
	void *v;
	int ret = list_all(s, &l, &v, n);

	*out = v;

	free(what);
	return ret;
}
