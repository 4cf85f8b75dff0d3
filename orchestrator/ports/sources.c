/* sources.c - see sources.h. */
#include "ports/sources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "net/httpc.h"
#include "ports/recipe.h"
#include "store/db.h"

#define SOURCE_MAX ((uint64_t)8 << 30)	/* one source file */
#define STALL_SECONDS 60

void source_files_free(struct source_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].name);
		free(v[i].uri);
	}
	free(v);
}

char *sources_target_name(const char *uri, const char *filename)
{
	if (filename && *filename)
		return xstrdup(filename);
	size_t len = strcspn(uri, "#");
	const char *end = uri + len, *slash = end;
	while (slash > uri && slash[-1] != '/')
		slash--;
	/* "https://host/path/file.tar.gz?x=1": the query is not part of the name. */
	size_t n = (size_t)(end - slash);
	const char *q = memchr(slash, '?', n);
	return xstrndup(slash, q ? (size_t)(q - slash) : n);
}

/* The URL to fetch: the URI without its "#..." (#noarchive says how to unpack). */
static char *fetch_url(const char *uri)
{
	return xstrndup(uri, strcspn(uri, "#"));
}

static int is_http(const char *uri)
{
	return !strncasecmp(uri, "http://", 7) || !strncasecmp(uri, "https://", 8);
}

/* --- the cache */

static char *cache_path(const struct sources_opts *o, const char *sha)
{
	return xasprintf("%s/%s", o->cache_dir, sha);
}

static int cache_has(const struct sources_opts *o, const char *sha, uint64_t *size)
{
	char *path = cache_path(o, sha);
	struct stat st;
	int yes = stat(path, &st) == 0 && S_ISREG(st.st_mode);

	free(path);
	if (yes) {
		*size = (uint64_t)st.st_size;
		db_execf(o->db, "UPDATE sources SET used = ? WHERE sha256 = ?", "it",
			 mf_wall_seconds(), sha);
	}
	return yes;
}

/* Keeps the cache under its limit: the least recently used files go. */
static void cache_trim(const struct sources_opts *o, const char *keep)
{
	struct db_stmt *st;
	uint64_t total = 0;
	int rc;

	if (!o->cache_max || db_prepare(o->db, &st, "SELECT sum(size) FROM sources") < 0)
		return;
	if (db_step(st) == 1)
		total = (uint64_t)db_col_int(st, 0);
	db_finalize(st);
	while (total > o->cache_max) {
		char sha[SHA256_HEX_LEN] = "";
		uint64_t size = 0;
		if (db_prepare(o->db, &st, "SELECT sha256, size FROM sources WHERE sha256 != ? "
					   "ORDER BY used LIMIT 1") < 0)
			return;
		db_bind_text(st, 1, keep);
		rc = db_step(st);
		if (rc == 1) {
			snprintf(sha, sizeof(sha), "%s", db_col_text(st, 0));
			size = (uint64_t)db_col_int(st, 1);
		}
		db_finalize(st);
		if (rc != 1)
			return;
		char *path = cache_path(o, sha);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("cannot remove %s", path);
		free(path);
		db_execf(o->db, "DELETE FROM sources WHERE sha256 = ?", "t", sha);
		buildlog_event(o->log, "source cache: removed %s (%llu bytes, least recently used)",
			       sha, (unsigned long long)size);
		total -= size < total ? size : total;
	}
}

/* --- downloading */

struct download {
	int fd;
	struct sha256 *h;
	uint64_t size;
	long status;
	int local;	/* the failure is this host's (disk), not the URL's */
};

static int on_body(void *arg, long status, const char *data, size_t len)
{
	struct download *d = arg;

	d->status = status;
	if (status != 200)
		return 0; /* an error page: not kept, the status says it */
	if (d->size + len > SOURCE_MAX)
		return mf_error(MF_E_BUILD, "larger than %llu bytes",
				(unsigned long long)SOURCE_MAX);
	if (mf_write_all(d->fd, data, len) < 0) {
		d->local = 1;
		return mf_error_errno(MF_E_INFRA, "cannot write to the source cache");
	}
	sha256_update(d->h, data, len);
	d->size += len;
	return 0;
}

/* Fetches url into a temporary file of the cache: 0 with its digest, or -1. */
static int download(const struct sources_opts *o, struct httpc *http, const char *url,
		    char **tmp, char sha[SHA256_HEX_LEN], uint64_t *size, int *local)
{
	struct download d = { .fd = -1 };
	long status = 0;
	int ret = -1;

	*local = 0;
	*tmp = xasprintf("%s/.fetch-XXXXXX", o->cache_dir);
	d.fd = mkstemp(*tmp);
	if (d.fd < 0) {
		*local = 1;
		mf_error_errno(MF_E_INFRA, "cannot create a file in %s", o->cache_dir);
		free(*tmp);
		*tmp = NULL;
		return -1;
	}
	d.h = sha256_new();
	struct httpc_request r = {
		.url = url,
		.on_body = on_body,
		.arg = &d,
		.cancel = o->cancel,
		.stall_timeout_s = STALL_SECONDS,
		.max_redirects = 5,
	};
	if (httpc_perform(http, &r, &status) == 0) {
		if (status != 200)
			mf_error(MF_E_BUILD, "HTTP status %ld", status);
		else if (fsync(d.fd) < 0)
			d.local = 1;
		else
			ret = 0;
		if (d.local && status == 200)
			mf_error_errno(MF_E_INFRA, "cannot write to the source cache");
	}
	*local = d.local;
	sha256_finish(d.h, sha);
	close(d.fd);
	*size = d.size;
	if (ret < 0) {
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
	}
	return ret;
}

/* One source: from the cache, or from the first of its URIs that delivers it. */
static int fetch_one(const struct sources_opts *o, struct httpc **http,
		     const struct recipe_source *s, struct source_file *f)
{
	struct strbuf tried = STRBUF_INIT;
	const char *want = s->checksum && *s->checksum ? s->checksum : NULL;
	int ret = -1, local = 0;

	f->name = sources_target_name(s->uris[0], s->filename);
	if (input_name_check(f->name) < 0) {
		mf_error_wrap("source %d (%s)", s->index, s->uris[0]);
		return mf_error_reclass(MF_E_BUILD);
	}
	if (want && (strlen(want) != 64 || strspn(want, "0123456789abcdef") != 64))
		return mf_error(MF_E_BUILD, "source %d: CHECKSUM_SHA256 '%.80s' is not a SHA-256 "
				"digest", s->index, want);
	if (!want && !o->allow_unsafe)
		return mf_error(MF_E_BUILD, "source %d (%s) has no CHECKSUM_SHA256: Mayfly does not "
				"put unverified sources in a guest (unless the tree allows unsafe "
				"sources)", s->index, s->uris[0]);
	if (want && cache_has(o, want, &f->size)) {
		f->path = cache_path(o, want);
		f->uri = xstrdup(s->uris[0]);
		snprintf(f->sha256, sizeof(f->sha256), "%s", want);
		buildlog_event(o->log, "source %s: in the cache (sha256 %.12s...)", f->name, want);
		return 0;
	}
	for (char **u = s->uris; *u && ret < 0; u++) {
		char *url = NULL, *tmp = NULL, sha[SHA256_HEX_LEN];
		uint64_t size = 0;
		if (!is_http(*u)) {
			strbuf_addf(&tried, "\n  %s: not fetched (Mayfly fetches http and https "
				    "sources only)", *u);
			continue;
		}
		if (!*http && httpc_open(http) < 0) {
			strbuf_release(&tried);
			return -1;
		}
		url = fetch_url(*u);
		int64_t t = mf_now_ms();
		if (download(o, *http, url, &tmp, sha, &size, &local) < 0) {
			if (mf_error_class() == MF_E_INTERRUPTED || local) {
				free(url);
				strbuf_release(&tried);
				return -1;
			}
			strbuf_addf(&tried, "\n  %s: %s", *u, mf_error_msg());
		} else if (want && strcmp(sha, want)) {
			strbuf_addf(&tried, "\n  %s: its SHA-256 is %s, the recipe expects %s", *u,
				    sha, want);
			unlink(tmp);
		} else {
			char *path = cache_path(o, sha);
			if (rename(tmp, path) < 0) {
				mf_error_errno(MF_E_INFRA, "cannot keep %s in the source cache", url);
				unlink(tmp);
				free(path);
				free(tmp);
				free(url);
				strbuf_release(&tried);
				return -1;
			}
			chmod(path, 0644);
			db_execf(o->db, "INSERT OR REPLACE INTO sources (sha256, size, uri, used) "
					"VALUES (?, ?, ?, ?)", "titi", sha, (int64_t)size, *u,
				 mf_wall_seconds());
			f->path = path;
			f->uri = xstrdup(*u);
			f->size = size;
			snprintf(f->sha256, sizeof(f->sha256), "%s", sha);
			buildlog_event(o->log, "source %s: fetched %s (%llu bytes, sha256 %.12s..., "
				       "%lld ms)%s", f->name, url, (unsigned long long)size, sha,
				       (long long)(mf_now_ms() - t),
				       want ? "" : ", unverified: the recipe has no checksum");
			cache_trim(o, sha);
			ret = 0;
		}
		free(tmp);
		free(url);
	}
	/* No URI delivered it: the recipe's problem, a failed build. */
	if (ret < 0)
		mf_error(MF_E_BUILD, "source %d could not be fetched:%s", s->index,
			 tried.len ? tried.buf : " no URI");
	strbuf_release(&tried);
	return ret;
}

static int by_index(const void *a, const void *b)
{
	return ((const struct recipe_source *)a)->index - ((const struct recipe_source *)b)->index;
}

int sources_fetch(const struct sources_opts *o, const struct recipe *r, struct source_file **out,
		  size_t *n)
{
	struct recipe_source *sorted = xcalloc(r->nsources + 1, sizeof(*sorted));
	struct source_file *v = xcalloc(r->nsources + 1, sizeof(*v));
	struct httpc *http = NULL;
	int ret = 0;

	*out = NULL;
	*n = 0;
	memcpy(sorted, r->sources, r->nsources * sizeof(*sorted));
	qsort(sorted, r->nsources, sizeof(*sorted), by_index);
	for (size_t i = 0; i < r->nsources && ret == 0; i++)
		ret = fetch_one(o, &http, &sorted[i], &v[i]);
	httpc_close(http);
	free(sorted);
	if (ret < 0) {
		source_files_free(v, r->nsources);
		return -1;
	}
	*out = v;
	*n = r->nsources;
	return 0;
}
