/* sources.c - see sources.h. */
#include "ports/sources.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "net/httpc.h"
#include "ports/mirror.h"
#include "ports/recipe.h"
#include "ports/sandbox.h"
#include "store/db.h"

#define SOURCE_MAX ((uint64_t)8 << 30)	/* one source file */
#define STALL_SECONDS 60

void source_files_free(struct source_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].is_dir && v[i].path && mf_rm_rf(v[i].path) < 0)
			log_warnx("%s", mf_error_msg());
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

/* --- git sources */

static int is_git(const char *uri)
{
	return !strncasecmp(uri, "git", 3);
}

/* "git+https://h/r.git#tag=v1" -> "https://h/r.git"; NULL if not a protocol Mayfly fetches. */
static char *git_url(const char *uri)
{
	const char *u = !strncasecmp(uri, "git+", 4) ? uri + 4 : uri;
	size_t len = strcspn(u, "#");

	if (strncasecmp(u, "https://", 8) && strncasecmp(u, "http://", 7) &&
	    strncasecmp(u, "git://", 6))
		return NULL;
	return xstrndup(u, len);
}

/* The SHA-256 HaikuPorter checks: of `git archive --format tar COMMIT`, in the sandbox. */
static int git_archive_sha(const char *repo, const char *commit, char out[SHA256_HEX_LEN])
{
	struct sandbox_bind binds[] = { { repo, "/mayfly/repo" } };
	const char *argv[] = {
		"/bin/sh", "-c",
		"cd /mayfly/repo && GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_SYSTEM=/dev/null "
		"git -c core.abbrev=no -c safe.directory='*' archive --format tar \"$0\" "
		"| sha256sum",
		commit, NULL,
	};
	struct sandbox_opts o = {
		.binds = binds, .nbinds = 1, .argv = argv, .timeout_ms = 600 * 1000,
		.max_output = 4096, .max_procs = 16, .cpu_seconds = 600, .memory_mb = 4096,
		.tmp_mb = 16,
	};
	struct sandbox_result r;
	int ret = 0;

	if (sandbox_run(&o, &r) < 0)
		return -1;
	if (r.status != 0 || r.out_len < 64 || strspn(r.out, "0123456789abcdef") != 64 ||
	    (r.err && *r.err))
		ret = mf_error(MF_E_INFRA, "git archive of %.12s failed%s%s", commit,
			       r.err && *r.err ? ": " : "", r.err ? r.err : "");
	else
		snprintf(out, SHA256_HEX_LEN, "%.64s", r.out);
	sandbox_result_release(&r);
	return ret;
}

static int lock_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		if (fd >= 0)
			close(fd);
		return mf_error_errno(MF_E_INFRA, "cannot lock '%s'", path);
	}
	return fd;
}

static uint64_t dir_size(const char *dir)
{
	uint64_t total = 0;
	struct strbuf sb = STRBUF_INIT;

	/* Only the pack is big: the sum of what objects/pack holds. */
	strbuf_addf(&sb, "%s/objects/pack", dir);
	DIR *d = opendir(sb.buf);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		struct stat st;
		char *p = xasprintf("%s/%s", sb.buf, e->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
		free(p);
	}
	if (d)
		closedir(d);
	strbuf_release(&sb);
	return total;
}

/*
 * A git source: fetched (when the revision is not already there),
 * verified, exported as a bare repository of its one commit.
 */
static int fetch_git(const struct sources_opts *o, const struct recipe_source *s,
		     struct source_file *f)
{
	const char *uri = s->uris[0], *hash = strchr(uri, '#');
	const char *rev = hash ? hash + 1 : "HEAD";
	const char *want = s->checksum && *s->checksum ? s->checksum : NULL;
	char *url = git_url(uri), *dir = NULL, *lock = NULL, *ref = NULL, *name = NULL;
	char commit[MIRROR_ID_LEN], sha[SHA256_HEX_LEN] = "", key[SHA256_HEX_LEN];
	struct mirror *m = NULL;
	int validated = 0, lockfd = -1, ret = -1;

	if (!strncmp(rev, "tag=", 4) || !strncmp(rev, "commit=", 7)) {
		validated = 1;
		name = xstrdup(strchr(rev, '=') + 1);
	} else {
		name = xstrdup(rev);
	}
	if (!url) {
		mf_error(MF_E_BUILD, "source %d (%s): Mayfly fetches git sources over https, http "
			 "and git:// only", s->index, uri);
		goto out;
	}
	if (rev_check(name) < 0) {
		mf_error_wrap("source %d (%s)", s->index, uri);
		mf_error_reclass(MF_E_BUILD);
		goto out;
	}
	if ((!validated || !want) && !o->allow_unsafe) {
		mf_error(MF_E_BUILD, "source %d (%s) %s: Mayfly does not put unverified sources in "
			 "a guest (unless the tree allows unsafe sources)", s->index, uri,
			 validated ? "has no CHECKSUM_SHA256" : "names no tag= or commit=");
		goto out;
	}
	struct sha256 *h = sha256_new();
	sha256_update(h, url, strlen(url));
	sha256_finish(h, key);
	dir = xasprintf("%s/git/%s.git", o->cache_dir, key);
	lock = xasprintf("%s/git/%s.lock", o->cache_dir, key);
	char *gitdir = xasprintf("%s/git", o->cache_dir);
	int made = mf_mkdir_p(gitdir, 0755);
	free(gitdir);
	if (made < 0 || (lockfd = lock_file(lock)) < 0 || mirror_open(&m, dir) < 0)
		goto out;
	/* As HaikuPorter sets it in its clone: attributes cannot change what is archived. */
	char *info = xasprintf("%s/info", dir), *attrs = xasprintf("%s/info/attributes", dir);
	static const char no_export[] = "* -export-subst -export-ignore\n";
	made = mf_mkdir_p(info, 0755) == 0 &&
	       mf_write_file_atomic(attrs, no_export, strlen(no_export), 0644) == 0;
	free(info);
	free(attrs);
	if (!made)
		goto out;
	if (!strncmp(rev, "tag=", 4))
		ref = xasprintf("refs/tags/%s", name);
	else if (!validated && strcmp(name, "HEAD"))
		ref = xasprintf("refs/heads/%s", name);
	/* A commit or tag already here is not fetched again; a branch always is. */
	int64_t t = mf_now_ms();
	if (!validated || mirror_resolve(m, ref ? ref : name, commit) < 0) {
		mf_error_clear();
		if (mirror_fetch_all(m, url) < 0) {
			mf_error_wrap("source %d", s->index);
			goto out;
		}
		if (mirror_resolve(m, ref ? ref : name, commit) < 0) {
			mf_error(MF_E_BUILD, "source %d (%s): the repository has no %s '%s'",
				 s->index, uri, ref ? (validated ? "tag" : "branch") : "commit", name);
			goto out;
		}
		buildlog_event(o->log, "source %d: fetched %s (%lld ms)", s->index, url,
			       (long long)(mf_now_ms() - t));
	}
	if (validated && want) {
		if (git_archive_sha(dir, commit, sha) < 0)
			goto out;
		if (strcmp(sha, want)) {
			mf_error(MF_E_BUILD, "source %d could not be fetched:\n  %s: the SHA-256 of "
				 "git archive of %.12s is %s, the recipe expects %s", s->index, uri,
				 commit, sha, want);
			goto out;
		}
	}
	free(dir);
	dir = xasprintf("%s/exports/XXXXXX", o->cache_dir);
	char *parent = xasprintf("%s/exports", o->cache_dir);
	int rc = mf_mkdir_p(parent, 0755);
	free(parent);
	if (rc < 0 || !mkdtemp(dir)) {
		mf_error_errno(MF_E_INFRA, "cannot create '%s'", dir);
		goto out;
	}
	chmod(dir, 0755);
	if (mirror_export(m, commit, ref, dir) < 0) {
		mf_rm_rf(dir);
		goto out;
	}
	f->path = dir;
	dir = NULL;
	f->is_dir = 1;
	f->uri = xstrdup(uri);
	f->size = dir_size(f->path);
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha);
	buildlog_event(o->log, "source %s: git %.12s%s, %llu bytes for the guest", f->name, commit,
		       *sha ? " (git archive's sha256 verified)" :
			      ", unverified: the recipe names no checksum or no tag/commit",
		       (unsigned long long)f->size);
	ret = 0;
out:
	mirror_close(m);
	if (lockfd >= 0)
		close(lockfd);
	free(lock);
	free(ref);
	free(name);
	free(dir);
	free(url);
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
	if (is_git(s->uris[0]))
		return fetch_git(o, s, f);
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

int sources_fetch_uri(const struct sources_opts *o, const char *uri, const char *sha256,
		      const char *name, struct source_file *out)
{
	char *uris[] = { (char *)uri, NULL };
	/* Package file names may hold '~', which no source name may: a fixed one. */
	struct recipe_source s = { .index = 1, .uris = uris, .checksum = (char *)sha256,
				   .filename = "package.hpkg" };
	struct httpc *http = NULL;

	memset(out, 0, sizeof(*out));
	int rc = fetch_one(o, &http, &s, out);
	httpc_close(http);
	if (rc < 0) {
		free(out->path);
		free(out->name);
		free(out->uri);
		memset(out, 0, sizeof(*out));
		mf_error_wrap("package %s", name);
	}
	return rc;
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
	if (r->nsources)
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
