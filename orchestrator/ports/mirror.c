/* mirror.c - see mirror.h. */
#include "ports/mirror.h"

#include <git2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"

struct mirror {
	git_repository *repo;
	git_odb *odb;		/* opened on first use */
	char *dir;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_git(void)
{
	git_libgit2_init();
	/* Mirrors are Mayfly's own: no safe.directory dance for another owner. */
	git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
}

/* libgit2's last error as a Mayfly error, with what was being done. */
static int git_fail(enum mf_errclass cls, const char *what)
{
	const git_error *e = git_error_last();

	return mf_error(cls, "%s: %s", what, e && e->message ? e->message : "unknown git error");
}

int mirror_open(struct mirror **out, const char *dir)
{
	struct mirror *m;

	*out = NULL;
	pthread_once(&init_once, init_git);
	m = xcalloc(1, sizeof(*m));
	m->dir = xstrdup(dir);
	if (git_repository_open_bare(&m->repo, dir) < 0 &&
	    git_repository_init(&m->repo, dir, 1) < 0) {
		git_fail(MF_E_INFRA, "cannot open or create the mirror");
		mirror_close(m);
		return mf_error_wrap("'%s'", dir);
	}
	*out = m;
	return 0;
}

void mirror_close(struct mirror *m)
{
	if (!m)
		return;
	git_odb_free(m->odb);
	git_repository_free(m->repo);
	free(m->dir);
	free(m);
}

/* --- fetching */

struct fetch {
	const struct mirror_auth *auth;
	int tries;
	struct strbuf remote_said;	/* the remote's own messages (sideband) */
};

static int on_credentials(git_credential **out, const char *url, const char *user,
			  unsigned int allowed, void *payload)
{
	struct fetch *f = payload;

	if (++f->tries > 3) {
		git_error_set_str(GIT_ERROR_NET, "the remote refused the credentials");
		return GIT_EAUTH;
	}
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user ? user : "git");
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && f->auth && f->auth->ssh_key)
		return git_credential_ssh_key_new(out, user ? user : "git", NULL, f->auth->ssh_key,
						  NULL);
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && f->auth && f->auth->token_file) {
		char *token = NULL;
		int rc;
		if (mf_read_file(f->auth->token_file, 64 << 10, &token, NULL) < 0) {
			git_error_set_str(GIT_ERROR_NET, mf_error_msg());
			return GIT_EAUTH;
		}
		token[strcspn(token, "\r\n")] = '\0';
		rc = git_credential_userpass_plaintext_new(out, "x-access-token", token);
		explicit_bzero(token, strlen(token));
		free(token);
		return rc;
	}
	git_error_set_str(GIT_ERROR_NET, "the remote asks for credentials and the tree has none "
			  "(vmctl tree add --ssh-key or --token-file)");
	return GIT_EAUTH;
}

static int on_sideband(const char *text, int len, void *payload)
{
	struct fetch *f = payload;

	if (f->remote_said.len < 4096)
		strbuf_add(&f->remote_said, text, (size_t)len);
	return 0;
}

/* An absolute path is a local repository: libgit2 says more about file:// URLs. */
static char *remote_url(const char *url)
{
	return url[0] == '/' ? xasprintf("file://%s", url) : xstrdup(url);
}

/* The remote's branches: 1 if `want` is among them; *any the number of branches. */
static int remote_branches(git_remote *r, const char *want, size_t *count, struct strbuf *names)
{
	const git_remote_head **heads;
	size_t n;
	int found = 0;

	*count = 0;
	if (git_remote_ls(&heads, &n, r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(heads[i]->name, "refs/heads/", 11))
			continue;
		(*count)++;
		if (names->len < 200)
			strbuf_addf(names, "%s%s", names->len ? ", " : "", heads[i]->name + 11);
		found |= !strcmp(heads[i]->name + 11, want);
	}
	return found;
}

/*
 * A remote of no name for url. url.*.insteadOf rewriting is skipped: in
 * libgit2 1.5 it leaks pcre2 match data (tens of kB) for every config
 * entry it tries, on every fetch of a long-running mayflyd.
 */
static int anonymous_remote(git_remote **out, git_repository *repo, const char *url)
{
	git_remote_create_options o;

	git_remote_create_options_init(&o, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	o.repository = repo;
	o.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF;
	return git_remote_create_with_opts(out, url, &o);
}

int mirror_fetch(struct mirror *m, const char *url, const char *branch,
		 const struct mirror_auth *auth, char head[MIRROR_ID_LEN])
{
	static char *specs[] = {
		"+refs/heads/*:refs/heads/*",
		"+refs/pull/*/head:refs/pull/*/head",
		"+refs/merge-requests/*/head:refs/merge-requests/*/head",
	};
	git_strarray refspecs = { specs, 3 };
	struct fetch f = { .auth = auth, .remote_said = STRBUF_INIT };
	git_remote_callbacks cb;
	git_fetch_options fo;
	struct strbuf names = STRBUF_INIT;
	git_remote *r = NULL;
	char *u = remote_url(url), *ref = NULL;
	size_t count;
	int found, ret = -1;

	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	cb.credentials = on_credentials;
	cb.sideband_progress = on_sideband;
	cb.payload = &f;
	fo.callbacks = cb;
	fo.prune = GIT_FETCH_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	/*
	 * Connect and look first, then download, update and prune: a remote
	 * that shows no branch at all (emptied by mistake) would otherwise
	 * prune the mirror to nothing.
	 */
	if (anonymous_remote(&r, m->repo, u) < 0 ||
	    git_remote_connect(r, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0) {
		git_fail(MF_E_INFRA, "cannot connect");
		goto out;
	}
	found = remote_branches(r, branch, &count, &names);
	if (found < 0) {
		git_fail(MF_E_INFRA, "cannot list the remote's refs");
		goto out;
	}
	if (count == 0) {
		mf_error(MF_E_INFRA, "the remote has no branch at all; the mirror keeps what it had");
		goto out;
	}
	if (!found) {
		mf_error(MF_E_USAGE, "the remote has no branch '%s' (it has: %s)", branch, names.buf);
		goto out;
	}
	if (git_remote_download(r, &refspecs, &fo) < 0 ||
	    git_remote_update_tips(r, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, "mayfly: fetch") < 0 ||
	    git_remote_prune(r, &cb) < 0) {
		git_fail(MF_E_INFRA, "cannot fetch");
		goto out;
	}
	ref = xasprintf("refs/heads/%s", branch);
	if (git_repository_set_head(m->repo, ref) < 0) {
		git_fail(MF_E_INFRA, "cannot point HEAD at the branch");
		goto out;
	}
	ret = mirror_resolve(m, ref, head);
out:
	if (ret < 0) {
		/* The remote's own words say most ("fatal: ... is corrupt"). */
		if (f.remote_said.len) {
			char *said = strbuf_detach(&f.remote_said);
			said[strcspn(said, "\r\n")] = '\0';
			mf_error_wrap("%s (the remote said: %.200s)", url, said);
			free(said);
		} else {
			mf_error_wrap("%s", url);
		}
	}
	if (r) {
		git_remote_disconnect(r);
		git_remote_free(r);
	}
	strbuf_release(&f.remote_said);
	strbuf_release(&names);
	free(ref);
	free(u);
	return ret;
}

int mirror_fetch_all(struct mirror *m, const char *url)
{
	static char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	git_strarray refspecs = { specs, 2 };
	struct fetch f = { .auth = NULL, .remote_said = STRBUF_INIT };
	git_remote_callbacks cb;
	git_fetch_options fo;
	git_remote *r = NULL;
	git_buf def = { 0 };
	int ret = -1;

	git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	cb.credentials = on_credentials;
	cb.sideband_progress = on_sideband;
	cb.payload = &f;
	fo.callbacks = cb;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	fo.update_fetchhead = 0;
	if (anonymous_remote(&r, m->repo, url) < 0 ||
	    git_remote_connect(r, GIT_DIRECTION_FETCH, &cb, NULL, NULL) < 0) {
		git_fail(MF_E_INFRA, "cannot connect");
		goto out;
	}
	if (git_remote_download(r, &refspecs, &fo) < 0 ||
	    git_remote_update_tips(r, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_ALL, "mayfly: fetch") < 0) {
		git_fail(MF_E_INFRA, "cannot fetch");
		goto out;
	}
	/* HEAD as the remote has it: what a URI without "#rev" means. */
	if (git_remote_default_branch(&def, r) == 0)
		git_repository_set_head(m->repo, def.ptr);
	ret = 0;
out:
	if (ret < 0) {
		if (f.remote_said.len) {
			char *said = strbuf_detach(&f.remote_said);
			said[strcspn(said, "\r\n")] = '\0';
			mf_error_wrap("%s (the remote said: %.200s)", url, said);
			free(said);
		} else {
			mf_error_wrap("%s", url);
		}
	}
	git_buf_dispose(&def);
	if (r) {
		git_remote_disconnect(r);
		git_remote_free(r);
	}
	strbuf_release(&f.remote_said);
	return ret;
}

/* Writes "text" into dir/name (creating its directory). */
static int put_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name), *parent = xstrdup(path);
	int ret;

	*strrchr(parent, '/') = '\0';
	ret = mf_mkdir_p(parent, 0755);
	if (ret == 0)
		ret = mf_write_file_atomic(path, text, strlen(text), 0644);
	free(parent);
	free(path);
	return ret;
}

int mirror_export(struct mirror *m, const char *commit, const char *ref, const char *dir)
{
	git_repository *out = NULL;
	git_packbuilder *pb = NULL;
	git_object *obj = NULL;
	git_oid oid, target;
	char *packdir = xasprintf("%s/objects/pack", dir), id[MIRROR_ID_LEN];
	int ret = -1;

	if (git_oid_fromstr(&oid, commit) < 0) {
		mf_error(MF_E_INFRA, "'%.40s' is not a commit id", commit);
		goto out;
	}
	target = oid;
	if (git_repository_init(&out, dir, 1) < 0 || git_packbuilder_new(&pb, m->repo) < 0 ||
	    git_packbuilder_insert_commit(pb, &oid) < 0) {
		git_fail(MF_E_INFRA, "cannot pack the commit");
		goto out;
	}
	/* An annotated tag travels with its commit. */
	if (ref && !strncmp(ref, "refs/tags/", 10) &&
	    git_revparse_single(&obj, m->repo, ref) == 0 &&
	    git_object_type(obj) == GIT_OBJECT_TAG) {
		target = *git_object_id(obj);
		if (git_packbuilder_insert(pb, &target, ref) < 0) {
			git_fail(MF_E_INFRA, "cannot pack the tag");
			goto out;
		}
	}
	if (git_packbuilder_write(pb, packdir, 0, NULL, NULL) < 0) {
		git_fail(MF_E_INFRA, "cannot write the pack");
		goto out;
	}
	/* Only this commit's objects: the repository says it is shallow there. */
	git_oid_tostr(id, sizeof(id), &oid);
	char *line = xasprintf("%s\n", id);
	ret = put_file(dir, "shallow", line) < 0 || put_file(dir, "HEAD", line) < 0 ? -1 : 0;
	free(line);
	if (ret == 0 && ref) {
		git_oid_tostr(id, sizeof(id), &target);
		line = xasprintf("%s\n", id);
		ret = put_file(dir, ref, line);
		free(line);
	}
	if (ret == 0)
		ret = put_file(dir, "info/attributes", "* -export-subst -export-ignore\n");
out:
	if (ret < 0)
		mf_error_wrap("exporting %.12s into '%s'", commit, dir);
	git_object_free(obj);
	git_packbuilder_free(pb);
	git_repository_free(out);
	free(packdir);
	return ret;
}

/* --- reading */

int mirror_resolve(struct mirror *m, const char *rev, char out[MIRROR_ID_LEN])
{
	git_object *obj = NULL, *commit = NULL;
	int ret = -1;

	if (rev_check(rev) < 0)
		return -1;
	if (git_revparse_single(&obj, m->repo, rev) < 0) {
		const git_error *e = git_error_last();
		mf_error(MF_E_USAGE, "unknown commit '%s'%s%s", rev,
			 e && e->message && strstr(e->message, "ambiguous") ? ": " : "",
			 e && e->message && strstr(e->message, "ambiguous") ? e->message : "");
		goto out;
	}
	if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
		mf_error(MF_E_USAGE, "'%s' is not a commit", rev);
		goto out;
	}
	git_oid_tostr(out, MIRROR_ID_LEN, git_object_id(commit));
	ret = 0;
out:
	git_object_free(commit);
	git_object_free(obj);
	return ret;
}

int mirror_has_commit(struct mirror *m, const char *id)
{
	git_oid oid;
	git_commit *c = NULL;
	int yes;

	if (strlen(id) != 40 || git_oid_fromstr(&oid, id) < 0)
		return 0;
	yes = git_commit_lookup(&c, m->repo, &oid) == 0;
	git_commit_free(c);
	return yes;
}

static int commit_tree(struct mirror *m, const char *commit, git_tree **out)
{
	git_oid oid;
	git_commit *c = NULL;
	int rc;

	*out = NULL;
	if (git_oid_fromstr(&oid, commit) < 0 || git_commit_lookup(&c, m->repo, &oid) < 0)
		return mf_error(MF_E_USAGE, "commit %.40s is not in the mirror", commit);
	rc = git_commit_tree(out, c);
	git_commit_free(c);
	return rc < 0 ? git_fail(MF_E_INFRA, "cannot read a commit's tree") : 0;
}

struct walk {
	const char *prefix;
	int (*fn)(void *arg, const struct mirror_entry *e);
	void *arg;
	struct strbuf path;
	int failed;
};

static int walk_one(const char *root, const git_tree_entry *te, void *payload)
{
	struct walk *w = payload;
	git_filemode_t mode = git_tree_entry_filemode(te);
	char blob[MIRROR_ID_LEN];

	if (mode == GIT_FILEMODE_TREE || mode == GIT_FILEMODE_COMMIT)
		return 0; /* directories are walked into; submodules have no files here */
	strbuf_reset(&w->path);
	strbuf_addf(&w->path, "%s%s%s%s", w->prefix, *w->prefix ? "/" : "", root,
		    git_tree_entry_name(te));
	git_oid_tostr(blob, sizeof(blob), git_tree_entry_id(te));
	struct mirror_entry e = {
		.path = w->path.buf,
		.mode = mode == GIT_FILEMODE_LINK ? 0120000 :
			mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0100755 : 0100644,
		.blob = blob,
	};
	if (w->fn(w->arg, &e) < 0) {
		w->failed = 1;
		return -1;
	}
	return 0;
}

int mirror_walk(struct mirror *m, const char *commit, const char *prefix,
		int (*fn)(void *arg, const struct mirror_entry *e), void *arg)
{
	struct walk w = { .prefix = prefix ? prefix : "", .fn = fn, .arg = arg,
			  .path = STRBUF_INIT };
	git_tree *tree = NULL, *sub = NULL;
	git_tree_entry *te = NULL;
	int ret = -1;

	if (commit_tree(m, commit, &tree) < 0)
		return -1;
	if (*w.prefix) {
		if (git_tree_entry_bypath(&te, tree, w.prefix) < 0 ||
		    git_tree_entry_type(te) != GIT_OBJECT_TREE) {
			ret = 0; /* nothing there */
			goto out;
		}
		if (git_tree_lookup(&sub, m->repo, git_tree_entry_id(te)) < 0) {
			git_fail(MF_E_INFRA, "cannot read a tree");
			goto out;
		}
	}
	if (git_tree_walk(sub ? sub : tree, GIT_TREEWALK_PRE, walk_one, &w) < 0) {
		if (!w.failed)
			git_fail(MF_E_INFRA, "cannot walk a tree");
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&w.path);
	git_tree_entry_free(te);
	git_tree_free(sub);
	git_tree_free(tree);
	return ret;
}

static int read_oid(struct mirror *m, const git_oid *oid, char **data, size_t *len)
{
	git_blob *b = NULL;
	size_t n;

	if (git_blob_lookup(&b, m->repo, oid) < 0)
		return git_fail(MF_E_INFRA, "cannot read a file of the tree");
	n = (size_t)git_blob_rawsize(b);
	*data = xmalloc(n + 1);
	memcpy(*data, git_blob_rawcontent(b), n);
	(*data)[n] = '\0';
	if (len)
		*len = n;
	git_blob_free(b);
	return 0;
}

int mirror_read_blob(struct mirror *m, const char *blob, char **data, size_t *len)
{
	git_oid oid;

	*data = NULL;
	if (git_oid_fromstr(&oid, blob) < 0)
		return mf_error(MF_E_INFRA, "'%.40s' is not a blob id", blob);
	return read_oid(m, &oid, data, len);
}

int mirror_blob_size(struct mirror *m, const char *blob, uint64_t *size)
{
	git_object_t type;
	git_oid oid;
	size_t n;

	if (git_oid_fromstr(&oid, blob) < 0)
		return mf_error(MF_E_INFRA, "'%.40s' is not a blob id", blob);
	if (!m->odb && git_repository_odb(&m->odb, m->repo) < 0)
		return git_fail(MF_E_INFRA, "cannot open the object database");
	if (git_odb_read_header(&n, &type, m->odb, &oid) < 0)
		return git_fail(MF_E_INFRA, "cannot read a blob");
	*size = n;
	return 0;
}

int mirror_read_path(struct mirror *m, const char *commit, const char *path, char **data,
		     size_t *len, char blob[MIRROR_ID_LEN])
{
	git_tree *tree = NULL;
	git_tree_entry *te = NULL;
	int ret = -1;

	*data = NULL;
	if (commit_tree(m, commit, &tree) < 0)
		return -1;
	if (git_tree_entry_bypath(&te, tree, path) < 0 ||
	    git_tree_entry_type(te) != GIT_OBJECT_BLOB) {
		ret = 0;
		goto out;
	}
	if (blob)
		git_oid_tostr(blob, MIRROR_ID_LEN, git_tree_entry_id(te));
	ret = read_oid(m, git_tree_entry_id(te), data, len) < 0 ? -1 : 1;
out:
	git_tree_entry_free(te);
	git_tree_free(tree);
	return ret;
}

static char status_char(git_delta_t s)
{
	switch (s) {
	case GIT_DELTA_ADDED: return 'A';
	case GIT_DELTA_DELETED: return 'D';
	case GIT_DELTA_RENAMED: return 'R';
	case GIT_DELTA_COPIED: return 'C';
	case GIT_DELTA_TYPECHANGE: return 'T';
	case GIT_DELTA_MODIFIED: return 'M';
	default: return 0;
	}
}

int mirror_diff(struct mirror *m, const char *from, const char *to,
		struct mirror_change **out, size_t *n)
{
	git_tree *a = NULL, *b = NULL;
	git_diff *d = NULL;
	git_diff_options o;
	git_diff_find_options fo;
	struct mirror_change *v = NULL;
	size_t len = 0;
	int ret = -1;

	*out = NULL;
	*n = 0;
	if (commit_tree(m, from, &a) < 0 || commit_tree(m, to, &b) < 0)
		goto out;
	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	git_diff_find_options_init(&fo, GIT_DIFF_FIND_OPTIONS_VERSION);
	/* Without TYPECHANGE a symlink that became a file is a delete and an add. */
	o.flags = GIT_DIFF_INCLUDE_TYPECHANGE;
	fo.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_COPIES;
	if (git_diff_tree_to_tree(&d, m->repo, a, b, &o) < 0 || git_diff_find_similar(d, &fo) < 0) {
		git_fail(MF_E_INFRA, "cannot compare two commits");
		goto out;
	}
	for (size_t i = 0; i < git_diff_num_deltas(d); i++) {
		const git_diff_delta *dl = git_diff_get_delta(d, i);
		char s = status_char(dl->status);
		if (!s || dl->new_file.mode == GIT_FILEMODE_COMMIT ||
		    dl->old_file.mode == GIT_FILEMODE_COMMIT)
			continue;
		v = xrealloc(v, (len + 1) * sizeof(*v));
		struct mirror_change *c = &v[len++];
		memset(c, 0, sizeof(*c));
		c->status = s;
		c->old_path = s == 'A' ? NULL : xstrdup(dl->old_file.path);
		c->path = s == 'D' ? NULL : xstrdup(dl->new_file.path);
		c->mode = dl->new_file.mode == GIT_FILEMODE_LINK ? 0120000 :
			  dl->new_file.mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0100755 : 0100644;
		git_oid_tostr(c->blob, sizeof(c->blob), &dl->new_file.id);
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
	ret = 0;
out:
	mirror_changes_free(v, len);
	git_diff_free(d);
	git_tree_free(a);
	git_tree_free(b);
	return ret;
}

void mirror_changes_free(struct mirror_change *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].old_path);
		free(v[i].path);
	}
	free(v);
}

int mirror_merge_base(struct mirror *m, const char *a, const char *b, char out[MIRROR_ID_LEN])
{
	git_oid oa, ob, base;

	if (git_oid_fromstr(&oa, a) < 0 || git_oid_fromstr(&ob, b) < 0)
		return mf_error(MF_E_INFRA, "not commit ids: '%.40s', '%.40s'", a, b);
	if (git_merge_base(&base, m->repo, &oa, &ob) < 0)
		return git_fail(MF_E_USAGE, "the commits have no common ancestor");
	git_oid_tostr(out, MIRROR_ID_LEN, &base);
	return 0;
}
