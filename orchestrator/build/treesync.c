/* treesync.c - see treesync.h. */
#include "build/treesync.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/template.h"
#include "common/util.h"
#include "machine/guest.h"
#include "ports/mirror.h"

/* --- writing a tar file */

struct tar {
	struct archive *a;
	struct archive_entry *e;
	int fd;
	time_t now;
	size_t files;
	struct mirror *m;
};

static la_ssize_t on_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct tar *t = arg;

	if (mf_write_all(t->fd, buf, n) < 0) {
		archive_set_error(a, errno, "cannot write the tar file");
		return -1;
	}
	return (la_ssize_t)n;
}

static pthread_once_t locale_once = PTHREAD_ONCE_INIT;

static void utf8_locale(void)
{
	/* libarchive converts names through the locale: without UTF-8 it fails on them. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
}

static int tar_open(struct tar *t, const char *path)
{
	memset(t, 0, sizeof(*t));
	pthread_once(&locale_once, utf8_locale);
	t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0)
		return mf_error_errno(MF_E_INFRA, "cannot create '%s'", path);
	t->a = archive_write_new();
	t->e = archive_entry_new();
	t->now = time(NULL);
	archive_write_set_format_pax_restricted(t->a);
	if (archive_write_open2(t->a, t, NULL, on_write, NULL, NULL) != ARCHIVE_OK)
		return mf_error(MF_E_INFRA, "cannot start a tar stream: %s",
				archive_error_string(t->a));
	return 0;
}

static int tar_fail(struct tar *t, const char *path)
{
	return mf_error(MF_E_INFRA, "cannot add '%s' to the tar stream: %s", path,
			archive_error_string(t->a) ? archive_error_string(t->a) : "unknown error");
}

/* One entry: a file from memory (or from fd when data is NULL), or a symlink. */
static int tar_add(struct tar *t, const char *path, int mode, const char *data, size_t len,
		   int fd)
{
	archive_entry_clear(t->e);
	archive_entry_set_pathname_utf8(t->e, path);
	archive_entry_set_mtime(t->e, t->now, 0);
	archive_entry_set_uid(t->e, 0);
	archive_entry_set_gid(t->e, 0);
	if (mode == 0120000) {
		archive_entry_set_filetype(t->e, AE_IFLNK);
		archive_entry_set_perm(t->e, 0777);
		archive_entry_set_symlink_utf8(t->e, data);
		archive_entry_set_size(t->e, 0);
	} else {
		archive_entry_set_filetype(t->e, AE_IFREG);
		archive_entry_set_perm(t->e, mode == 0100755 || mode == 0755 ? 0755 : 0644);
		archive_entry_set_size(t->e, (la_int64_t)len);
	}
	if (archive_write_header(t->a, t->e) != ARCHIVE_OK)
		return tar_fail(t, path);
	if (mode != 0120000) {
		if (data) {
			if (len && archive_write_data(t->a, data, len) != (la_ssize_t)len)
				return tar_fail(t, path);
		} else {
			char buf[65536];
			size_t left = len;
			while (left > 0) {
				ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
				if (n <= 0)
					return mf_error_errno(MF_E_INFRA, "cannot read '%s'", path);
				if (archive_write_data(t->a, buf, (size_t)n) != n)
					return tar_fail(t, path);
				left -= (size_t)n;
			}
		}
	}
	t->files++;
	return 0;
}

static int tar_add_blob(struct tar *t, const char *path, int mode, const char *blob)
{
	char *data = NULL;
	size_t len = 0;
	int ret;

	if (mirror_read_blob(t->m, blob, &data, &len) < 0)
		return -1;
	ret = tar_add(t, path, mode, data, len, -1);
	free(data);
	return ret;
}

static int tar_close(struct tar *t, uint64_t *bytes)
{
	int ret = 0;
	struct stat st;

	if (t->a && archive_write_close(t->a) != ARCHIVE_OK)
		ret = mf_error(MF_E_INFRA, "cannot finish the tar stream: %s",
			       archive_error_string(t->a));
	if (t->a)
		archive_write_free(t->a);
	if (t->e)
		archive_entry_free(t->e);
	if (t->fd >= 0) {
		if (ret == 0 && bytes && fstat(t->fd, &st) == 0)
			*bytes = (uint64_t)st.st_size;
		close(t->fd);
	}
	t->a = NULL;
	t->e = NULL;
	t->fd = -1;
	return ret;
}

static int add_entry(void *arg, const struct mirror_entry *e)
{
	return tar_add_blob(arg, e->path, e->mode, e->blob);
}

static int add_extra(struct tar *t, const struct treesync_file *f)
{
	if (f->data)
		return tar_add(t, f->path, f->mode, f->data, f->len, -1);
	int fd = open(f->local, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int ret;

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return mf_error_errno(MF_E_INFRA, "cannot read '%s'", f->local);
	}
	ret = tar_add(t, f->path, f->mode, NULL, (size_t)st.st_size, fd);
	close(fd);
	return ret;
}

int treesync_write_tar(struct mirror *m, const char *commit, const char *path, uint64_t *bytes,
		       size_t *files)
{
	struct tar t;
	int ret;

	if (tar_open(&t, path) < 0) {
		tar_close(&t, NULL);
		return -1;
	}
	t.m = m;
	ret = mirror_walk(m, commit, "", add_entry, &t);
	if (tar_close(&t, bytes) < 0)
		ret = -1;
	if (files)
		*files = t.files;
	return ret;
}

/* --- sending */

struct feed {
	int fd;			/* a file to send, or -1 */
	const char *data;	/* or memory */
	size_t len, off;
	const struct treesync_opts *o;
};

static ssize_t feed_input(void *payload, char *buf, size_t max)
{
	struct feed *f = payload;

	if (f->o->tick && f->o->tick(f->o->payload) < 0)
		return -1;
	if (f->fd < 0) {
		size_t n = f->len - f->off < max ? f->len - f->off : max;
		memcpy(buf, f->data + f->off, n);
		f->off += n;
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t n = read(f->fd, buf, max);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return mf_error_errno(MF_E_INFRA, "cannot read the tar file");
	}
}

static int feed_tick(void *payload)
{
	struct feed *f = payload;

	return f->o->tick ? f->o->tick(f->o->payload) : 0;
}

static void feed_output(void *payload, int stream, const char *data, size_t len)
{
	struct feed *f = payload;

	/* What tar or rm say goes to the build log (it is short). */
	buildlog_output(f->o->log, data, len);
}

/* Runs cmd on the guest with stdin from f; its failure is an infrastructure error. */
static int run_fed(const struct treesync_opts *o, const char *cmd, struct feed *f,
		   const char *what)
{
	struct guest_exec_hooks hooks = {
		.output = feed_output, .input = feed_input, .tick = feed_tick, .payload = f,
	};
	int status = -1;

	if (guest_exec(o->guest, cmd, &hooks, &status) < 0)
		return -1;
	if (status != 0)
		return mf_error(MF_E_INFRA, "%s on the guest failed (status %d; see the build log)",
				what, status);
	return 0;
}

/*
 * The shell commands that clear the tree: HaikuPorter's state always; with
 * full, everything but the packages directory.
 */
static char *clear_command(const struct treesync_opts *o, int full)
{
	struct strbuf sb = STRBUF_INIT;
	size_t tl = strlen(o->tree_path);
	const char *keep = NULL;

	/* The packages directory, when it is right inside the tree. */
	if (o->packages_dir && !strncmp(o->packages_dir, o->tree_path, tl) &&
	    o->packages_dir[tl] == '/' && o->packages_dir[tl + 1] &&
	    !strchr(o->packages_dir + tl + 1, '/'))
		keep = o->packages_dir + tl + 1;
	strbuf_addstr(&sb, "set -e; mkdir -p ");
	shell_quote(&sb, o->tree_path);
	strbuf_addstr(&sb, "; cd ");
	shell_quote(&sb, o->tree_path);
	if (full) {
		strbuf_addstr(&sb, "; find . -mindepth 1 -maxdepth 1");
		if (keep) {
			strbuf_addstr(&sb, " ! -name ");
			shell_quote(&sb, keep);
		}
		strbuf_addstr(&sb, " -exec rm -rf {} +");
	} else {
		strbuf_addstr(&sb, "; rm -rf repository; find . -mindepth 3 -maxdepth 3 -type d "
				   "\\( -name 'work-*' -o -name download \\) -exec rm -rf {} +");
	}
	return strbuf_detach(&sb);
}

int treesync_push(const struct treesync_opts *o, struct treesync_stats *st)
{
	struct mirror_change *d = NULL;
	struct strbuf del = STRBUF_INIT;
	struct tar t = { .fd = -1 };
	char *tarpath = xasprintf("%s/tree.tar", o->work_dir), *cmd = NULL;
	size_t nd = 0;
	int ret = -1;

	memset(st, 0, sizeof(*st));
	st->full = !o->base || !mirror_has_commit(o->m, o->base);
	if (!st->full && mirror_diff(o->m, o->base, o->commit, &d, &nd) < 0)
		goto out;
	if (tar_open(&t, tarpath) < 0)
		goto out;
	t.m = o->m;
	if (st->full) {
		if (mirror_walk(o->m, o->commit, "", add_entry, &t) < 0)
			goto out;
	} else {
		for (size_t i = 0; i < nd; i++) {
			/* Gone, renamed away, or changed in type: delete, then (re)write. */
			if (d[i].status == 'D' || d[i].status == 'R' || d[i].status == 'T') {
				strbuf_add(&del, d[i].old_path, strlen(d[i].old_path) + 1);
				st->deleted++;
			}
			if (d[i].path && tar_add_blob(&t, d[i].path, d[i].mode, d[i].blob) < 0)
				goto out;
		}
	}
	for (size_t i = 0; i < o->nextra; i++)
		if (add_extra(&t, &o->extra[i]) < 0)
			goto out;
	st->files = t.files;
	if (tar_close(&t, &st->bytes) < 0)
		goto out;

	/* 1. Clear (and delete what the commit removed), 2. extract. */
	cmd = clear_command(o, st->full);
	if (del.len) {
		struct strbuf c2 = STRBUF_INIT;
		strbuf_addf(&c2, "%s; xargs -0 rm -rf --", cmd);
		free(cmd);
		cmd = strbuf_detach(&c2);
	} else {
		struct strbuf c2 = STRBUF_INIT;
		strbuf_addf(&c2, "%s; cat >/dev/null", cmd);
		free(cmd);
		cmd = strbuf_detach(&c2);
	}
	struct feed fdel = { .fd = -1, .data = del.buf ? del.buf : "", .len = del.len, .o = o };
	if (run_fed(o, cmd, &fdel, "clearing the ports tree") < 0)
		goto out;
	free(cmd);
	struct strbuf x = STRBUF_INIT;
	strbuf_addstr(&x, "cd ");
	shell_quote(&x, o->tree_path);
	strbuf_addstr(&x, " && tar xf -");
	cmd = strbuf_detach(&x);
	struct feed ftar = { .fd = open(tarpath, O_RDONLY | O_CLOEXEC), .o = o };
	if (ftar.fd < 0) {
		mf_error_errno(MF_E_INFRA, "cannot open '%s'", tarpath);
		goto out;
	}
	ret = run_fed(o, cmd, &ftar, "extracting the ports tree");
	close(ftar.fd);
	if (ret == 0)
		buildlog_event(o->log, "ports tree at %.12s: %s, %zu file%s sent, %zu deleted, "
			       "%llu bytes", o->commit, st->full ? "sent whole" :
			       "sent as the difference to the image's",
			       st->files, st->files == 1 ? "" : "s", st->deleted,
			       (unsigned long long)st->bytes);
out:
	tar_close(&t, NULL);
	unlink(tarpath);
	free(tarpath);
	free(cmd);
	strbuf_release(&del);
	mirror_changes_free(d, nd);
	return ret;
}
