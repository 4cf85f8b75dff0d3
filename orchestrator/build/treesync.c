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
	struct strbuf *capture;	/* stdout goes here instead of the log, when set */
	int overflow;
};

#define LISTING_MAX ((size_t)256 << 20)

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

	if (f->capture && stream == 1) {
		if (f->capture->len + len > LISTING_MAX)
			f->overflow = 1;
		else
			strbuf_add(f->capture, data, len);
		return;
	}
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

/* The packages directory's name, when it is right inside the tree (it is kept). */
static const char *kept_dir(const struct treesync_opts *o)
{
	size_t tl = strlen(o->tree_path);

	if (o->packages_dir && !strncmp(o->packages_dir, o->tree_path, tl) &&
	    o->packages_dir[tl] == '/' && o->packages_dir[tl + 1] &&
	    !strchr(o->packages_dir + tl + 1, '/'))
		return o->packages_dir + tl + 1;
	return NULL;
}

/*
 * The first command: clear HaikuPorter's state from the tree (with full,
 * everything but the packages directory); then delete the NUL-separated
 * paths on stdin; then (with list) list what is left, "f|l SIZE MODE
 * ./PATH" a line, without .git and the packages directory.
 */
static char *clear_command(const struct treesync_opts *o, int full, int list)
{
	struct strbuf sb = STRBUF_INIT;
	const char *keep = kept_dir(o);

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
	strbuf_addstr(&sb, "; xargs -0 rm -rf --");
	if (list) {
		struct strbuf prune = STRBUF_INIT;
		strbuf_addstr(&prune, "\\( -path ./.git");
		if (keep) {
			strbuf_addstr(&prune, " -o -path ");
			struct strbuf k = STRBUF_INIT;
			strbuf_addf(&k, "./%s", keep);
			shell_quote(&prune, k.buf);
			strbuf_release(&k);
		}
		strbuf_addstr(&prune, " \\) -prune -o");
		strbuf_addf(&sb, "; find . %s -type f -exec stat -c 'f %%s %%a %%n' {} +"
				 "; find . %s -type l -exec stat -c 'l %%s %%a %%n' {} +",
			    prune.buf, prune.buf);
		strbuf_release(&prune);
	}
	return strbuf_detach(&sb);
}

/* --- checking the image's tree against its commit */

struct tfile {
	char *path;
	char type;		/* 'f' or 'l' */
	int exec;
	uint64_t size;
	char blob[MIRROR_ID_LEN];
	int mode;
	int sent;		/* already in the tar stream */
};

struct tfiles {
	struct tfile *v;
	size_t n, alloc;
	struct mirror *m;
};

static struct tfile *tfiles_add(struct tfiles *t)
{
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 1024;
		t->v = xrealloc(t->v, t->alloc * sizeof(*t->v));
	}
	memset(&t->v[t->n], 0, sizeof(t->v[0]));
	return &t->v[t->n++];
}

static void tfiles_free(struct tfiles *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].path);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct tfile *)a)->path, ((const struct tfile *)b)->path);
}

static int want_one(void *arg, const struct mirror_entry *e)
{
	struct tfiles *t = arg;
	struct tfile *f = tfiles_add(t);

	f->path = xstrdup(e->path);
	f->type = e->mode == 0120000 ? 'l' : 'f';
	f->exec = e->mode == 0100755;
	f->mode = e->mode;
	snprintf(f->blob, sizeof(f->blob), "%s", e->blob);
	return mirror_blob_size(t->m, e->blob, &f->size);
}

/* "f 123 755 ./a/b" lines into entries; 0 or -1 (MF_E_INFRA) on a line it cannot read. */
static int parse_listing(char *text, struct tfiles *have)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char type, *end;
		unsigned long long size;
		unsigned long mode;
		if ((line[0] != 'f' && line[0] != 'l') || line[1] != ' ')
			goto bad;
		type = line[0];
		size = strtoull(line + 2, &end, 10);
		if (*end != ' ')
			goto bad;
		mode = strtoul(end + 1, &end, 8);
		if (strncmp(end, " ./", 3))
			goto bad;
		struct tfile *f = tfiles_add(have);
		f->path = xstrdup(end + 3);
		f->type = type;
		f->exec = (mode & 0100) != 0;
		f->size = size;
		continue;
bad:
		return mf_error(MF_E_INFRA, "cannot read the guest's listing of its ports tree "
				"('%.80s')", line);
	}
	return 0;
}

/*
 * What the image's tree must lose and gain beyond the commits' difference
 * to be exactly the commit: paths it has that the commit does not (into
 * del, NUL-separated), files missing or not the same in type, size or
 * executable bit (added to the tar stream).
 */
static int repair(const struct treesync_opts *o, struct tar *t, char *listing,
		  const struct mirror_change *d, size_t nd, struct strbuf *del,
		  size_t *extra, size_t *missing)
{
	struct tfiles want = { .m = o->m }, have = { 0 };
	int ret = -1;

	if (mirror_walk(o->m, o->commit, "", want_one, &want) < 0 ||
	    parse_listing(listing, &have) < 0)
		goto out;
	if (want.n)
		qsort(want.v, want.n, sizeof(*want.v), by_path);
	if (have.n)
		qsort(have.v, have.n, sizeof(*have.v), by_path);
	/* What the difference already sends needs no second look. */
	for (size_t i = 0; i < nd; i++) {
		struct tfile key = { .path = d[i].path };
		struct tfile *w = d[i].path ? bsearch(&key, want.v, want.n, sizeof(*want.v),
						      by_path) : NULL;
		if (w)
			w->sent = 1;
	}
	size_t i = 0, j = 0;
	while (i < want.n || j < have.n) {
		int c = i == want.n ? 1 : j == have.n ? -1 : strcmp(want.v[i].path, have.v[j].path);
		if (c > 0) {
			/* Not in the commit: stale. */
			strbuf_add(del, have.v[j].path, strlen(have.v[j].path) + 1);
			(*extra)++;
			j++;
			continue;
		}
		struct tfile *w = &want.v[i];
		int same = c == 0 && w->type == have.v[j].type && w->size == have.v[j].size &&
			   (w->type == 'l' || w->exec == have.v[j].exec);
		if (!same && !w->sent) {
			if (c == 0 && w->type != have.v[j].type)
				strbuf_add(del, w->path, strlen(w->path) + 1);
			if (tar_add_blob(t, w->path, w->mode, w->blob) < 0)
				goto out;
			(*missing)++;
		}
		i++;
		if (c == 0)
			j++;
	}
	ret = 0;
out:
	tfiles_free(&want);
	tfiles_free(&have);
	return ret;
}

int treesync_push(const struct treesync_opts *o, struct treesync_stats *st)
{
	struct mirror_change *d = NULL;
	struct strbuf del = STRBUF_INIT, listing = STRBUF_INIT, stale = STRBUF_INIT;
	struct tar t = { .fd = -1 };
	char *tarpath = xasprintf("%s/tree.tar", o->work_dir), *cmd = NULL;
	size_t nd = 0, extra = 0, missing = 0;
	int ret = -1;

	memset(st, 0, sizeof(*st));
	st->full = !o->base || !mirror_has_commit(o->m, o->base);
	if (!st->full && mirror_diff(o->m, o->base, o->commit, &d, &nd) < 0)
		goto out;
	for (size_t i = 0; i < nd; i++) {
		/* Gone, renamed away, or changed in type: delete (then write anew). */
		if (d[i].status == 'D' || d[i].status == 'R' || d[i].status == 'T') {
			strbuf_add(&del, d[i].old_path, strlen(d[i].old_path) + 1);
			st->deleted++;
		}
	}

	/* 1. Clear (and delete what the commits' difference removed; list what is left). */
	cmd = clear_command(o, st->full, !st->full);
	struct feed fdel = { .fd = -1, .data = del.buf ? del.buf : "", .len = del.len, .o = o,
			     .capture = st->full ? NULL : &listing };
	if (run_fed(o, cmd, &fdel, "clearing the ports tree") < 0)
		goto out;
	if (fdel.overflow) {
		mf_error(MF_E_INFRA, "the guest's ports tree lists more than %zu MiB of files",
			 LISTING_MAX >> 20);
		goto out;
	}

	/* 2. The tar stream: the whole commit, or the difference and any repairs. */
	if (tar_open(&t, tarpath) < 0)
		goto out;
	t.m = o->m;
	if (st->full) {
		if (mirror_walk(o->m, o->commit, "", add_entry, &t) < 0)
			goto out;
	} else {
		for (size_t i = 0; i < nd; i++)
			if (d[i].path && tar_add_blob(&t, d[i].path, d[i].mode, d[i].blob) < 0)
				goto out;
		char empty[1] = "";
		if (repair(o, &t, listing.buf ? listing.buf : empty, d, nd, &stale, &extra,
			   &missing) < 0)
			goto out;
	}
	for (size_t i = 0; i < o->nextra; i++)
		if (add_extra(&t, &o->extra[i]) < 0)
			goto out;
	st->files = t.files;
	if (tar_close(&t, &st->bytes) < 0)
		goto out;

	/* 3. What the image's tree had beyond its commit goes. */
	if (stale.len) {
		free(cmd);
		struct strbuf c = STRBUF_INIT;
		strbuf_addstr(&c, "cd ");
		shell_quote(&c, o->tree_path);
		strbuf_addstr(&c, " && xargs -0 rm -rf --");
		cmd = strbuf_detach(&c);
		struct feed fst = { .fd = -1, .data = stale.buf, .len = stale.len, .o = o };
		if (run_fed(o, cmd, &fst, "removing stale files from the ports tree") < 0)
			goto out;
	}
	if (extra || missing)
		buildlog_event(o->log, "the image's ports tree was not exactly its commit %.12s: "
			       "%zu file%s not in it removed, %zu missing or different file%s "
			       "sent", o->base, extra, extra == 1 ? "" : "s", missing,
			       missing == 1 ? "" : "s");
	st->deleted += extra;

	/* 4. Extract. */
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
	strbuf_release(&listing);
	strbuf_release(&stale);
	mirror_changes_free(d, nd);
	return ret;
}
