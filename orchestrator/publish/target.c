/* target.c - see target.h. */
#include "publish/target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "net/s3.h"

struct target {
	enum mf_repo_type type;
	char *root;		/* local: the directory */
	char *where;
	struct s3 *s3;
	uint64_t bytes_out;
};

int target_open(const struct mf_repository *r, struct target **out)
{
	struct target *t = xcalloc(1, sizeof(*t));

	*out = NULL;
	t->type = r->type;
	if (r->type == MF_REPO_LOCAL) {
		t->root = xstrdup(r->path);
		t->where = xstrdup(r->path);
		if (mf_mkdir_p(r->path, 0755) < 0) {
			target_close(t);
			return mf_error_wrap("repository '%s'", r->id);
		}
	} else {
		struct s3_config c = {
			.endpoint = r->endpoint, .region = r->region, .bucket = r->bucket,
			.prefix = r->prefix ? r->prefix : "",
		};
		char *ak = NULL, *sk = NULL;
		t->where = xasprintf("s3://%s/%s at %s", r->bucket, r->prefix ? r->prefix : "",
				     r->endpoint);
		if (s3_credentials_read(r->credentials_file, &ak, &sk) < 0) {
			target_close(t);
			return mf_error_wrap("repository '%s'", r->id);
		}
		c.access_key = ak;
		c.secret_key = sk;
		int rc = s3_open(&t->s3, &c);
		explicit_bzero(sk, strlen(sk));
		free(ak);
		free(sk);
		if (rc < 0) {
			target_close(t);
			return mf_error_wrap("repository '%s'", r->id);
		}
	}
	*out = t;
	return 0;
}

void target_close(struct target *t)
{
	if (!t)
		return;
	if (t->s3)
		s3_close(t->s3);
	free(t->root);
	free(t->where);
	free(t);
}

const char *target_where(const struct target *t)
{
	return t->where;
}

uint64_t target_bytes_out(const struct target *t)
{
	return t->bytes_out;
}

static char *local_path(const struct target *t, const char *key)
{
	return xasprintf("%s/%s", t->root, key);
}

/* A hidden temporary name beside path, unique to this process. */
static char *temp_beside(const char *path)
{
	const char *slash = strrchr(path, '/');
	return xasprintf("%.*s/.%s.tmp-%ld", (int)(slash - path), path, slash + 1, (long)getpid());
}

static int fsync_dir_of(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd;

	*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	free(dir);
	if (fd < 0)
		return -1;
	fsync(fd);
	close(fd);
	return 0;
}

static int ensure_parent(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int rc;

	*slash = '\0';
	rc = mf_mkdir_p(dir, 0755);
	free(dir);
	return rc;
}

/* Places tmp at path durably: fsync the file, rename, fsync the directory. */
static int local_commit(const char *tmp, const char *path)
{
	int fd = open(tmp, O_RDONLY);

	if (fd < 0 || fsync(fd) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = e;
		return mf_error_errno(MF_E_INFRA, "cannot sync '%s'", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return mf_error_errno(MF_E_INFRA, "cannot rename '%s' to '%s'", tmp, path);
	}
	/* rename(2) does nothing when both are links to one file (a put repeated
	 * after a crash): the temporary name must not stay. */
	unlink(tmp);
	fsync_dir_of(path);
	return 0;
}

/* Removes the hidden temporary files a killed process left in dir. */
static void remove_temporaries(const char *dir)
{
	char **files = NULL;
	size_t n = 0;

	if (mf_list_files(dir, &files, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(files[i], '/');
		base = base ? base + 1 : files[i];
		if (base[0] == '.' && strstr(base, ".tmp-")) {
			char *p = xasprintf("%s/%s", dir, files[i]);
			unlink(p);
			free(p);
		}
		free(files[i]);
	}
	free(files);
}

int target_tidy(struct target *t)
{
	if (!t->s3) {
		remove_temporaries(t->root);
		return 0;
	}
	struct s3_upload *v = NULL;
	size_t n = 0;
	if (s3_list_uploads(t->s3, &v, &n) < 0) {
		if (s3_last_status(t->s3) != 501)
			return -1;
		/* A store without the call (s3rver) cannot have them listed: the uploads
		 * Mayfly aborts as they fail are all it can tidy. */
		log_debug("%s: %s", t->where, mf_error_msg());
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (s3_abort_upload(t->s3, v[i].key, v[i].upload_id) < 0) {
			s3_uploads_free(v, n);
			return -1;
		}
	}
	s3_uploads_free(v, n);
	return 0;
}

int target_put_file(struct target *t, const char *key, const char *path, const char *sha256,
		    int may_link)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return mf_error_errno(MF_E_INFRA, "cannot read '%s'", path);
	if (t->s3) {
		if (s3_put_file(t->s3, key, path, sha256) < 0)
			return -1;
		t->bytes_out += (uint64_t)sb.st_size;
		return 0;
	}
	char *dst = local_path(t, key), *tmp = temp_beside(dst);
	int rc = ensure_parent(dst);
	unlink(tmp);
	/* A hard link costs no space when the file is on the same file system
	 * (only for files nothing else writes: a build's harvest). */
	if (rc == 0 && (!may_link || link(path, tmp) < 0) && mf_copy_file(path, tmp, 0644) < 0)
		rc = -1;
	if (rc == 0)
		rc = local_commit(tmp, dst);
	if (rc == 0)
		t->bytes_out += (uint64_t)sb.st_size;
	free(dst);
	free(tmp);
	return rc;
}

int target_put_data(struct target *t, const char *key, const void *data, size_t len)
{
	if (t->s3) {
		if (s3_put_buffer(t->s3, key, data, len) < 0)
			return -1;
		t->bytes_out += len;
		return 0;
	}
	char *dst = local_path(t, key), *tmp = temp_beside(dst);
	int fd, rc = ensure_parent(dst);

	if (rc == 0) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || mf_write_all(fd, data, len) < 0) {
			rc = mf_error_errno(MF_E_INFRA, "cannot write '%s'", tmp);
			if (fd >= 0)
				close(fd);
			unlink(tmp);
		} else {
			close(fd);
			rc = local_commit(tmp, dst);
		}
	}
	if (rc == 0)
		t->bytes_out += len;
	free(dst);
	free(tmp);
	return rc;
}

/* A temporary file beside key's path holding data, synced; caller frees *tmp. */
static int stage(struct target *t, const char *key, const void *data, size_t len, char **dst,
		 char **tmp)
{
	int fd;

	*dst = local_path(t, key);
	*tmp = temp_beside(*dst);
	if (ensure_parent(*dst) < 0)
		return -1;
	fd = open(*tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || mf_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot write '%s'", *tmp);
		if (fd >= 0)
			close(fd);
		unlink(*tmp);
		return -1;
	}
	close(fd);
	return 0;
}

int target_put_files(struct target *t, size_t n, const char *const *keys,
		     const void *const *datas, const size_t *lens)
{
	char **dst = xcalloc(n + 1, sizeof(*dst)), **tmp = xcalloc(n + 1, sizeof(*tmp));
	int rc = -1;

	if (t->s3) {
		for (size_t i = 0; i < n; i++)
			if (target_put_data(t, keys[i], datas[i], lens[i]) < 0)
				goto out;
		rc = 0;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (stage(t, keys[i], datas[i], lens[i], &dst[i], &tmp[i]) < 0)
			goto out;
	/* All are written and synced: the renames follow each other at once. */
	for (size_t i = 0; i < n; i++)
		if (rename(tmp[i], dst[i]) < 0) {
			mf_error_errno(MF_E_INFRA, "cannot rename '%s' to '%s'", tmp[i], dst[i]);
			goto out;
		}
	for (size_t i = 0; i < n; i++) {
		fsync_dir_of(dst[i]);
		t->bytes_out += lens[i];
	}
	rc = 0;
out:
	for (size_t i = 0; i < n; i++) {
		if (tmp[i])
			unlink(tmp[i]);
		free(dst[i]);
		free(tmp[i]);
	}
	free(dst);
	free(tmp);
	return rc;
}

int target_stat(struct target *t, const char *key, int *exists, int64_t *size)
{
	if (t->s3) {
		uint64_t sz = 0;
		if (s3_head(t->s3, key, exists, &sz) < 0)
			return -1;
		*size = (int64_t)sz;
		return 0;
	}
	char *p = local_path(t, key);
	struct stat sb;
	int rc = stat(p, &sb);

	*exists = rc == 0;
	*size = rc == 0 ? (int64_t)sb.st_size : -1;
	if (rc < 0 && errno != ENOENT) {
		rc = mf_error_errno(MF_E_INFRA, "cannot stat '%s'", p);
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

int target_move(struct target *t, const char *from, const char *to)
{
	int src, dst;
	int64_t sz;

	if (target_stat(t, from, &src, &sz) < 0 || target_stat(t, to, &dst, &sz) < 0)
		return -1;
	if (!src)
		return dst ? 0 : mf_error(MF_E_INFRA, "cannot move '%s' in %s: it is not there",
					  from, t->where);
	if (t->s3)
		return s3_copy(t->s3, from, to) < 0 ? -1 : s3_delete(t->s3, from);
	char *a = local_path(t, from), *b = local_path(t, to);
	int rc = ensure_parent(b);
	if (rc == 0 && rename(a, b) < 0)
		rc = mf_error_errno(MF_E_INFRA, "cannot move '%s' to '%s'", a, b);
	if (rc == 0)
		fsync_dir_of(b);
	free(a);
	free(b);
	return rc;
}

int target_delete(struct target *t, const char *key)
{
	if (t->s3)
		return s3_delete(t->s3, key);
	char *p = local_path(t, key);
	int rc = unlink(p) < 0 && errno != ENOENT ?
		mf_error_errno(MF_E_INFRA, "cannot remove '%s'", p) : 0;
	free(p);
	return rc;
}

int target_get_file(struct target *t, const char *key, const char *path)
{
	char *tmp = temp_beside(path);
	int rc;

	unlink(tmp);
	if (t->s3) {
		rc = s3_get_file(t->s3, key, tmp, NULL);
	} else {
		char *src = local_path(t, key);
		if (access(src, F_OK) < 0)
			rc = mf_error(MF_E_USAGE, "'%s' is not in %s", key, t->where);
		else
			rc = mf_copy_file(src, tmp, 0644);
		free(src);
	}
	if (rc == 0 && rename(tmp, path) < 0)
		rc = mf_error_errno(MF_E_INFRA, "cannot rename '%s' to '%s'", tmp, path);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}
