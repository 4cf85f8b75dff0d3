/* tree.c - see tree.h. */
#include "ports/tree.h"

#include <pthread.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "store/db.h"
#include "store/images.h"
#include "store/state.h"

static char *mirror_dir(const struct mf_state *st, const char *name)
{
	return xasprintf("%s/%s.git", st->trees_dir, name);
}

static int url_check(const char *url)
{
	static const char *const schemes[] = { "https://", "http://", "ssh://", "git://",
					       "file://", NULL };
	struct stat sb;

	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return mf_error(MF_E_USAGE, "the tree's URL must not contain spaces or "
					"control characters");
	if (url[0] == '/') {
		if (stat(url, &sb) < 0)
			return mf_error_errno(MF_E_USAGE, "local repository '%s'", url);
		if (!S_ISDIR(sb.st_mode))
			return mf_error(MF_E_USAGE, "local repository '%s' is not a directory", url);
		char *git = xasprintf("%s/.git", url), *head = xasprintf("%s/HEAD", url);
		int repo = access(git, F_OK) == 0 || access(head, F_OK) == 0;
		free(git);
		free(head);
		if (!repo)
			return mf_error(MF_E_USAGE, "'%s' is not a git repository (no .git, no HEAD)",
					url);
		return 0;
	}
	for (const char *const *s = schemes; *s; s++)
		if (!strncmp(url, *s, strlen(*s)) && url[strlen(*s)])
			return 0;
	/* scp-like: user@host:path */
	if (strchr(url, '@') && strchr(url, ':') && strchr(url, '@') < strchr(url, ':'))
		return 0;
	return mf_error(MF_E_USAGE, "'%s' is not a repository URL (https://, ssh://, git://, "
			"user@host:path) or an absolute path", url);
}

static int readable_file(const char *what, const char *path)
{
	struct stat sb;

	if (path[0] != '/')
		return mf_error(MF_E_USAGE, "%s must be an absolute path, not '%s'", what, path);
	if (stat(path, &sb) < 0 || access(path, R_OK) < 0)
		return mf_error_errno(MF_E_USAGE, "%s '%s'", what, path);
	if (!S_ISREG(sb.st_mode))
		return mf_error(MF_E_USAGE, "%s '%s' is not a regular file", what, path);
	if (sb.st_mode & 077)
		log_warnx("%s %s can be read by other users (mode %03o); chmod 600 it", what, path,
			  (unsigned)(sb.st_mode & 0777));
	return 0;
}

/* HaikuPorter wants "Name <email>" and sources builder.conf with bash. */
static int packager_check(const char *p)
{
	const char *lt = strchr(p, '<'), *gt = strrchr(p, '>');

	for (const char *c = p; *c; c++)
		if (strchr("\"$`\\\n", *c) || (unsigned char)*c < ' ')
			return mf_error(MF_E_USAGE, "--packager must not contain quotes, '$', '`' "
					"or backslashes");
	if (!lt || !gt || gt < lt || lt == p || gt[1] || !memchr(lt, '@', (size_t)(gt - lt)))
		return mf_error(MF_E_USAGE, "--packager must look like 'Name <email@host>', not "
				"'%s'", p);
	return 0;
}

int tree_add_check(struct mf_state *st, const struct tree_add_opts *o)
{
	struct tree *t = NULL;

	if (name_check_tree(o->name) < 0 || url_check(o->url) < 0)
		return -1;
	if (o->branch && (!*o->branch || strpbrk(o->branch, " ~^:?*[\\") ||
			  o->branch[0] == '-' || strstr(o->branch, "..")))
		return mf_error(MF_E_USAGE, "'%s' is not a branch name", o->branch);
	if (o->ssh_key && o->token_file)
		return mf_error(MF_E_USAGE, "give --ssh-key or --token-file, not both");
	if ((o->ssh_key && readable_file("--ssh-key", o->ssh_key) < 0) ||
	    (o->token_file && readable_file("--token-file", o->token_file) < 0))
		return -1;
	if (o->packager && packager_check(o->packager) < 0)
		return -1;
	if (o->update_image) {
		struct image *img = NULL;
		if (images_get(st->db, o->update_image, &img) < 0)
			return mf_error_wrap("--update-image");
		image_free(img);
	}
	if (trees_get(st->db, o->name, &t) == 0) {
		tree_free(t);
		return mf_error(MF_E_USAGE, "tree '%s' already exists (remove it first with "
				"'vmctl tree rm %s')", o->name, o->name);
	}
	if (mf_error_class() != MF_E_USAGE)
		return -1;
	mf_error_clear();
	return 0;
}

int tree_mirror(struct mf_state *st, const struct tree *t, struct mirror **out)
{
	char *dir = mirror_dir(st, t->name);
	int ret = mirror_open(out, dir);

	free(dir);
	return ret;
}

static void auth_of(const struct tree *t, struct mirror_auth *a)
{
	memset(a, 0, sizeof(*a));
	if (t->credentials && !strncmp(t->credentials, "ssh-key:", 8))
		a->ssh_key = t->credentials + 8;
	else if (t->credentials && !strncmp(t->credentials, "token-file:", 11))
		a->token_file = t->credentials + 11;
}

/*
 * One fetch of a tree at a time, across processes (vmctl, mayflyd's
 * poller, an API request): libgit2 does not expect two in one repository.
 */
static int lock_tree(struct mf_state *st, const char *name)
{
	char *path = xasprintf("%s/%s.lock", st->trees_dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot lock %s", path);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	free(path);
	return fd;
}

/* Fetches into the mirror; records the outcome either way. */
static int fetch(struct mf_state *st, const struct tree *t, char head[MIRROR_ID_LEN])
{
	struct mirror *m = NULL;
	struct mirror_auth auth;
	int ret, lock;

	auth_of(t, &auth);
	if ((lock = lock_tree(st, t->name)) < 0)
		return -1;
	ret = tree_mirror(st, t, &m);
	if (ret == 0)
		ret = mirror_fetch(m, t->url, t->branch, &auth, head);
	mirror_close(m);
	close(lock);
	if (ret < 0) {
		struct mf_error_saved e;
		mf_error_wrap("fetching tree '%s'", t->name);
		mf_error_save(&e);
		if (trees_fetched(st->db, t->name, NULL, e.msg) < 0)
			log_warnx("%s", mf_error_msg());
		return mf_error_restore(&e);
	}
	return trees_fetched(st->db, t->name, head, NULL);
}

int tree_add(struct mf_state *st, const struct tree_add_opts *o, struct tree **out)
{
	struct tree t = {
		.name = (char *)o->name,
		.url = (char *)o->url,
		.branch = (char *)(o->branch ? o->branch : TREE_DEFAULT_BRANCH),
		.packager = (char *)(o->packager ? o->packager : TREE_DEFAULT_PACKAGER),
		.allow_untested = o->allow_untested,
		.allow_unsafe_sources = o->allow_unsafe_sources,
		.create_source_packages = o->create_source_packages,
		.update_image = (char *)o->update_image,
		.created = mf_wall_seconds(),
	};
	char head[MIRROR_ID_LEN], *dir = NULL;
	int ret = -1;

	*out = NULL;
	if (tree_add_check(st, o) < 0)
		return -1;
	if (o->ssh_key)
		t.credentials = xasprintf("ssh-key:%s", o->ssh_key);
	else if (o->token_file)
		t.credentials = xasprintf("token-file:%s", o->token_file);
	dir = mirror_dir(st, t.name);
	/* A mirror left by an earlier, interrupted add is started afresh. */
	if (mf_rm_rf(dir) < 0 || trees_insert(st->db, &t) < 0)
		goto out;
	if (fetch(st, &t, head) < 0) {
		struct mf_error_saved e;
		mf_error_save(&e);
		trees_delete(st->db, t.name);
		mf_rm_rf(dir);
		mf_error_restore(&e);
		goto out;
	}
	ret = trees_get(st->db, t.name, out);
out:
	free(t.credentials);
	free(dir);
	return ret;
}

static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

int tree_sync(struct mf_state *st, const char *name, struct tree **out)
{
	struct tree *t = NULL;
	char head[MIRROR_ID_LEN];
	int ret;

	if (out)
		*out = NULL;
	if (trees_get(st->db, name, &t) < 0)
		return -1;
	/* One fetch at a time in a process: mayflyd's poller and webhook threads
	 * may sync one tree at once, and a mirror takes one writer. */
	pthread_mutex_lock(&sync_lock);
	ret = fetch(st, t, head);
	pthread_mutex_unlock(&sync_lock);
	tree_free(t);
	if (ret == 0 && out)
		ret = trees_get(st->db, name, out);
	return ret;
}

int tree_set_update_image(struct mf_state *st, const char *name, const char *image)
{
	struct tree *t = NULL;
	struct image *img = NULL;

	if (trees_get(st->db, name, &t) < 0)
		return -1;
	tree_free(t);
	if (image && images_get(st->db, image, &img) < 0)
		return -1;
	image_free(img);
	return trees_set_update_image(st->db, name, image);
}

int tree_resolve(struct mf_state *st, const char *name, const char *rev, int sync,
		 char out[MIRROR_ID_LEN])
{
	struct tree *t = NULL;
	struct mirror *m = NULL;
	int ret = -1;

	if (trees_get(st->db, name, &t) < 0)
		return -1;
	if (!rev && sync && tree_sync(st, name, NULL) < 0)
		goto out;
	if (tree_mirror(st, t, &m) < 0)
		goto out;
	ret = mirror_resolve(m, rev ? rev : "HEAD", out);
	if (ret < 0 && rev && mf_error_class() == MF_E_USAGE) {
		/* Not (yet) in the mirror: fetch once, then it must be there. */
		struct mf_error_saved e;
		mf_error_save(&e);
		mirror_close(m);
		m = NULL;
		if (tree_sync(st, name, NULL) < 0) {
			mf_error_wrap("tree '%s' has no commit '%s' yet, and fetching it failed",
				      name, rev);
			free(e.msg);
			goto out;
		}
		mf_error_restore(&e);
		if (tree_mirror(st, t, &m) < 0)
			goto out;
		ret = mirror_resolve(m, rev, out);
	}
	if (ret < 0)
		mf_error_wrap("tree '%s'", name);
out:
	mirror_close(m);
	tree_free(t);
	return ret;
}

int tree_remove(struct mf_state *st, const char *name)
{
	struct tree *t = NULL;
	struct db_stmt *s = NULL;
	struct strbuf busy = STRBUF_INIT;
	char *dir = NULL;
	int rc, ret = -1;

	if (trees_get(st->db, name, &t) < 0)
		return -1;
	if (db_begin(st->db) < 0)
		goto out;
	if (db_prepare(st->db, &s, "SELECT id FROM builds WHERE tree = ? AND status IN "
				   "('accepted', 'queued', 'running') ORDER BY id") < 0)
		goto rollback;
	db_bind_text(s, 1, name);
	while ((rc = db_step(s)) == 1)
		strbuf_addf(&busy, "%s%lld", busy.len ? ", " : "", (long long)db_col_int(s, 0));
	db_finalize(s);
	if (rc < 0)
		goto rollback;
	if (busy.len) {
		mf_error(MF_E_USAGE, "tree '%s' has builds that run or wait (%s); cancel them or "
			 "let them finish first", name, busy.buf);
		goto rollback;
	}
	if (trees_delete(st->db, name) < 0 || db_commit(st->db) < 0)
		goto rollback;
	dir = mirror_dir(st, name);
	if (mf_rm_rf(dir) < 0)
		log_warnx("%s", mf_error_msg());
	free(dir);
	dir = xasprintf("%s/%s.lock", st->trees_dir, name);
	unlink(dir);
	ret = 0;
	goto out;
rollback:
	db_rollback(st->db);
out:
	strbuf_release(&busy);
	free(dir);
	tree_free(t);
	return ret;
}
