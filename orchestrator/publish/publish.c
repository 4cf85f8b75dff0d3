/* publish.c - see publish.h. */
#include "publish/publish.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/hpkr.h"
#include "pkg/version.h"
#include "publish/target.h"
#include "store/buildruns.h"
#include "store/builds.h"
#include "store/pkgindex.h"
#include "store/publishes.h"
#include "store/state.h"

/*
 * Crash points, for the tests that prove a publish resumes exactly once:
 * MAYFLY_TEST_KILL_AT=publish:POINT kills this process with SIGKILL when
 * it passes POINT (names in the calls below).
 */
static void crash_point(const char *point)
{
	const char *v = getenv("MAYFLY_TEST_KILL_AT");

	if (v && !strncmp(v, "publish:", 8) && !strcmp(v + 8, point)) {
		log_warnx("MAYFLY_TEST_KILL_AT: killed at publish:%s", point);
		raise(SIGKILL);
	}
}

static char *repo_dir(const struct mf_state *st, const char *id)
{
	return xasprintf("%s/repos/%s", st->dir, id);
}

/* ---- planning ---- */

static int lock_repo(struct mf_state *st, const char *id, int *fd);
static int execute_locked(struct mf_state *st, const struct mf_config *cfg,
			  const struct mf_repository *r, int64_t id, struct publish_result *res);

struct candidate {
	char *path, *file, *sha256;
	int64_t size;
	struct hpkg_info info;
};

static int add_candidate(struct candidate **v, size_t *n, const char *path, const char *sha256)
{
	struct candidate c = { 0 };
	struct hpkg_file f;
	char sha[SHA256_HEX_LEN];
	uint64_t size;

	if (sha256_file(path, sha, &size) < 0)
		return mf_error_wrap("package '%s'", path);
	if (sha256 && strcmp(sha, sha256))
		return mf_error(MF_E_USAGE, "package '%s' changed since it was harvested (its "
					    "SHA-256 is %s, not %s)", path, sha, sha256);
	if (hpkg_read_file(path, &f) < 0)
		return -1;
	if (f.kind != HPKG_PACKAGE) {
		hpkg_file_release(&f);
		return mf_error(MF_E_USAGE, "'%s' is a repository file, not a package", path);
	}
	c.info = f.pkgs[0];
	f.n_pkgs = 0; /* moved */
	hpkg_file_release(&f);
	c.file = hpkg_file_name(&c.info);
	/* The name comes from the package: it becomes a path and a key. */
	if (package_file_check(c.file) < 0) {
		free(c.file);
		hpkg_info_release(&c.info);
		return mf_error_wrap("package '%s'", path);
	}
	c.path = xstrdup(path);
	c.sha256 = xstrdup(sha);
	c.size = (int64_t)size;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = c;
	return 0;
}

static void candidates_free(struct candidate *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].file);
		free(v[i].sha256);
		hpkg_info_release(&v[i].info);
	}
	free(v);
}

/* The packages of a run's complete ports. */
static int run_candidates(struct mf_state *st, const struct mf_config *cfg, int64_t run,
			  struct candidate **v, size_t *n)
{
	struct buildrun *r = NULL;
	int ret = 0;

	if (buildruns_get(st->db, run, &r) < 0)
		return -1;
	if (r->end <= 0) {
		buildrun_free(r);
		return mf_error(MF_E_USAGE, "build run %lld has not ended (%s): publish it when it "
					    "has", (long long)run, r->status);
	}
	if (!strcmp(r->source, "pull-request")) {
		buildrun_free(r);
		return mf_error(MF_E_USAGE, "build run %lld built a pull request: its packages are "
					    "never published", (long long)run);
	}
	for (size_t i = 0; i < r->nports && ret == 0; i++) {
		struct build_record *rec = NULL;
		if (r->ports[i].state != BR_COMPLETE || !r->ports[i].build_id)
			continue;
		if (builds_get(st->db, r->ports[i].build_id, &rec) < 0) {
			ret = -1;
			break;
		}
		for (size_t k = 0; k < rec->npackages && ret == 0; k++) {
			const struct build_package *p = &rec->packages[k];
			char *where = NULL, *cached = NULL;
			if (access(p->path, F_OK) < 0 &&
			    published_locate(st->db, p->name, p->sha256, &where) == 0 && where) {
				/* Dropped once it was in S3: fetched back from there. */
				int rc = publish_cache_get(st, cfg, where, p->name, p->sha256, &cached);
				free(where);
				if (rc < 0) {
					ret = -1;
					break;
				}
				ret = add_candidate(v, n, cached, p->sha256);
				free(cached);
				continue;
			}
			if (access(p->path, F_OK) < 0) {
				/* Gone, and in no repository: published_find decides. */
				struct candidate c = { .path = xstrdup(p->path),
						       .sha256 = xstrdup(p->sha256),
						       .file = xstrdup(p->name),
						       .size = (int64_t)p->size };
				*v = xrealloc(*v, (*n + 1) * sizeof(**v));
				(*v)[(*n)++] = c;
				continue;
			}
			ret = add_candidate(v, n, p->path, p->sha256);
		}
		build_record_free(rec);
	}
	buildrun_free(r);
	if (ret == 0 && *n == 0)
		return mf_error(MF_E_USAGE, "build run %lld made no packages to publish",
				(long long)run);
	return ret;
}

static int arch_fits(const char *arch, const struct mf_repository *r)
{
	return !strcmp(arch, r->architecture) || !strcmp(arch, "any") || !strcmp(arch, "source");
}

/*
 * A repository this state directory never published to, whose target
 * already holds a repo file (one buildmaster made, or another Mayfly):
 * its packages are taken as live, so nothing it holds drops out of the
 * next repo file.
 */
static int adopt(struct mf_state *st, const struct mf_repository *r, struct target *t)
{
	char *dir = repo_dir(st, r->id), *path = xasprintf("%s/repo", dir);
	struct hpkg_file f = { 0 };
	int64_t n = -1;
	int exists = 0, ret = -1;
	int64_t size;

	if (published_count(st->db, r->id, &n) < 0 || n > 0)
		goto done;
	if (target_stat(t, "repo", &exists, &size) < 0)
		goto out;
	if (!exists)
		goto done;
	if (target_get_file(t, "repo", path) < 0 || hpkg_read_file(path, &f) < 0)
		goto out;
	if (f.kind != HPKG_REPOSITORY) {
		mf_error(MF_E_USAGE, "repository '%s': the repo file in %s is not a repository file",
			 r->id, target_where(t));
		goto out;
	}
	if (published_adopt(st->db, r->id, f.pkgs, f.n_pkgs) < 0)
		goto out;
	log_info("repository '%s': adopted the %zu packages of the repo file in %s", r->id,
		 f.n_pkgs, target_where(t));
done:
	ret = 0;
out:
	if (ret < 0)
		unlink(path);
	hpkg_file_release(&f);
	free(dir);
	free(path);
	return ret;
}

/* *refused: the packages cannot be published (a usage error about them), as
 * against the repository failing to answer. */
static int plan_locked(struct mf_state *st, const struct mf_config *cfg,
		       const struct mf_repository *r, const struct publish_request *req,
		       int64_t *id, int *refused)
{
	struct candidate *c = NULL;
	size_t nc = 0;
	struct published_pkg *live = NULL;
	size_t nlive = 0;
	struct publish p = { .repository = r->id, .buildrun = req->buildrun,
			     .requested_by = (char *)req->requested_by };
	struct target *t = NULL;
	int ret = -1;

	*id = 0;
	*refused = 0;
	if (target_open(r, &t) < 0 || adopt(st, r, t) < 0) {
		target_close(t);
		return -1;
	}
	*refused = 1; /* from here on, usage errors are about the packages */
	if (req->buildrun > 0 ? run_candidates(st, cfg, req->buildrun, &c, &nc) < 0 : 0)
		goto out;
	for (size_t i = 0; i < req->nfiles; i++)
		if (add_candidate(&c, &nc, req->files[i], NULL) < 0)
			goto out;
	if (published_live(st->db, r->id, &live, &nlive) < 0)
		goto out;
	for (size_t i = 0; i < nc; i++) {
		struct published_pkg old;
		int found, is_live;
		if (published_find(st->db, r->id, c[i].file, &old, &found, &is_live) < 0)
			goto out;
		if (found) {
			int same = !strcmp(old.sha256, c[i].sha256);
			published_pkg_release(&old);
			if (same && is_live)
				continue; /* already there */
			mf_error(MF_E_USAGE, "%s is %s in repository '%s'%s: bump the port's "
					     "revision to publish a new build", c[i].file,
				 is_live ? "already published" : "obsolete", r->id,
				 same ? "" : " with other contents");
			goto out;
		}
		if (!c[i].info.name) {
			mf_error(MF_E_USAGE, "package '%s' is no longer on this host and was never "
					     "published to repository '%s'", c[i].path, r->id);
			goto out;
		}
		if (!arch_fits(c[i].info.arch, r)) {
			mf_error(MF_E_USAGE, "%s is for %s: repository '%s' takes %s, any and source "
					     "packages", c[i].file, c[i].info.arch, r->id,
				 r->architecture);
			goto out;
		}
		for (size_t k = 0; k < p.nitems; k++)
			if (!strcmp(p.items[k].name, c[i].info.name) &&
			    !strcmp(p.items[k].arch, c[i].info.arch)) {
				mf_error(MF_E_USAGE, "two versions of %s (%s) in one publish: %s and "
						     "%s", c[i].info.name, c[i].info.arch,
					 p.items[k].file_name, c[i].file);
				goto out;
			}
		for (size_t k = 0; k < nlive; k++) {
			if (strcmp(live[k].name, c[i].info.name) || strcmp(live[k].arch, c[i].info.arch))
				continue;
			if (version_compare(live[k].version, c[i].info.version) >= 0) {
				mf_error(MF_E_USAGE, "%s is not newer than %s, published in repository "
						     "'%s'", c[i].file, live[k].file_name, r->id);
				goto out;
			}
			p.items = xrealloc(p.items, (p.nitems + 1) * sizeof(*p.items));
			p.items[p.nitems++] = (struct publish_item){
				.action = PUBLISH_OBSOLETE, .file_name = live[k].file_name,
				.name = live[k].name, .version = live[k].version,
				.arch = live[k].arch, .sha256 = live[k].sha256,
				.size = live[k].size,
			};
		}
		p.items = xrealloc(p.items, (p.nitems + 1) * sizeof(*p.items));
		p.items[p.nitems++] = (struct publish_item){
			.action = PUBLISH_ADD, .file_name = c[i].file, .name = c[i].info.name,
			.version = c[i].info.version, .arch = c[i].info.arch, .path = c[i].path,
			.sha256 = c[i].sha256, .size = c[i].size,
		};
	}
	ret = 0;
	if (p.nitems && publishes_insert(st->db, &p) < 0)
		ret = -1;
	else if (p.nitems) {
		*id = p.id;
		free(p.state);
	}
out:
	if (ret < 0 && mf_error_class() != MF_E_USAGE)
		*refused = 0;
	free(p.items); /* its strings belong to c and live */
	candidates_free(c, nc);
	published_pkgs_free(live, nlive);
	target_close(t);
	return ret;
}

/* ---- executing ---- */

/* One process publishes to a repository at a time (vmctl or mayflyd). */
static int lock_repo(struct mf_state *st, const char *id, int *fd)
{
	char *dir = repo_dir(st, id), *path = xasprintf("%s/lock", dir);
	int rc = mf_mkdir_p(dir, 0755);

	*fd = rc < 0 ? -1 : open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (rc == 0 && *fd < 0)
		rc = mf_error_errno(MF_E_INFRA, "cannot open '%s'", path);
	while (rc == 0 && flock(*fd, LOCK_EX) < 0)
		if (errno != EINTR)
			rc = mf_error_errno(MF_E_INFRA, "cannot lock '%s'", path);
	free(dir);
	free(path);
	return rc;
}

static void repo_info_of(const struct mf_repository *r, struct repo_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->name = r->name;
	ri->vendor = r->vendor;
	ri->summary = r->summary;
	ri->identifier = r->identifier;
	ri->base_url = r->baseurl;
	ri->arch = r->architecture;
	ri->priority = (unsigned)r->priority;
}

static int cmp_pkg_name(const void *a, const void *b)
{
	return strcmp(((const struct hpkr_package *)a)->checksum,
		      ((const struct hpkr_package *)b)->checksum);
}

/*
 * The repository's metadata copy (STATE/repos/ID/repo), holding the
 * attributes of every package it had: fetched from the target when this
 * host has none (a new state directory, a repository published before).
 */
static int read_metadata(struct mf_state *st, struct target *t, const char *id, size_t nlive,
			 struct hpkr_repo *old, struct hpkg_file *infos)
{
	char *dir = repo_dir(st, id), *path = xasprintf("%s/repo", dir);
	int exists;
	int64_t size;
	int rc = 0;

	memset(old, 0, sizeof(*old));
	memset(infos, 0, sizeof(*infos));
	if (access(path, F_OK) < 0 && nlive > 0) {
		if (target_stat(t, "repo", &exists, &size) < 0 || !exists ||
		    target_get_file(t, "repo", path) < 0)
			rc = mf_error(MF_E_INFRA, "repository '%s' has %zu packages but no repo file "
						  "here or in %s", id, nlive, target_where(t));
	}
	if (rc == 0 && access(path, F_OK) == 0 &&
	    (hpkr_read_file(path, old) < 0 || hpkg_read_file(path, infos) < 0 ||
	     infos->n_pkgs != old->n_pkgs))
		rc = mf_error_wrap("the metadata of repository '%s'", id);
	free(dir);
	free(path);
	return rc;
}

/* Runs minisign to sign repo; the password (if any) on its standard input. */
static int sign_repo(const struct mf_repository *r, const char *repo, const char *sig)
{
	char *password = NULL, *errpath = xasprintf("%s.err", sig), *errtext = NULL;
	int in[2], status = -1;
	pid_t pid;

	if (r->signing_password_file &&
	    mf_read_file(r->signing_password_file, 4096, &password, NULL) < 0) {
		free(errpath);
		return mf_error_wrap("repository '%s': signing_password_file", r->id);
	}
	if (pipe(in) < 0) {
		free(password);
		free(errpath);
		return mf_error_errno(MF_E_INFRA, "pipe");
	}
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(in[0], 0);
		dup2(devnull, 1);
		dup2(err >= 0 ? err : devnull, 2);
		close(in[0]);
		close(in[1]);
		if (r->signing_password_file)
			execlp("minisign", "minisign", "-S", "-s", r->signing_key, "-m", repo,
			       "-x", sig, (char *)NULL);
		else
			execlp("minisign", "minisign", "-S", "-W", "-s", r->signing_key, "-m",
			       repo, "-x", sig, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	if (pid > 0 && password) {
		size_t n = strcspn(password, "\n");
		(void)!write(in[1], password, n);
		(void)!write(in[1], "\n", 1);
	}
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	close(in[1]);
	if (pid < 0) {
		free(errpath);
		return mf_error_errno(MF_E_INFRA, "cannot start minisign");
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	mf_read_file(errpath, 4096, &errtext, NULL);
	unlink(errpath);
	free(errpath);
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		free(errtext);
		return 0;
	}
	/* Its last line says why ("Wrong password for that key"). */
	char *why = errtext;
	if (errtext) {
		size_t n = strlen(errtext);
		while (n && isspace((unsigned char)errtext[n - 1]))
			errtext[--n] = '\0';
		char *nl = strrchr(errtext, '\n');
		why = nl ? nl + 1 : errtext;
	}
	mf_error(MF_E_INFRA, "minisign could not sign repository '%s' with '%s' (exit %d): %s",
		 r->id, r->signing_key, status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		 status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
			 "is minisign installed?" : why && *why ? why : "no reason given");
	free(errtext);
	return -1;
}

struct meta_name {
	char *name;
	size_t index;
};

static int cmp_meta_name(const void *a, const void *b)
{
	return strcmp(((const struct meta_name *)a)->name, ((const struct meta_name *)b)->name);
}

/* The index step: the new repo and its companions, written in order. */
static int step_index(struct mf_state *st, const struct mf_repository *r, struct target *t,
		      struct publish *p, struct publish_result *res)
{
	struct published_pkg *live = NULL;
	size_t nlive = 0, n = 0;
	struct hpkr_repo old = { 0 };
	struct hpkg_file oldinfo = { 0 };
	struct meta_name *names = NULL;
	struct hpkr_package *pkgs = NULL;
	struct hpkr_package *fresh = NULL;
	struct repo_info ri;
	struct strbuf list = STRBUF_INIT;
	unsigned char *repo = NULL;
	size_t repo_len = 0;
	char *dir = repo_dir(st, r->id), *path = NULL, *text = NULL, *sigdata = NULL;
	size_t siglen = 0;
	char sha[SHA256_HEX_LEN];
	int ret = -1;

	if (published_live(st->db, r->id, &live, &nlive) < 0 ||
	    read_metadata(st, t, r->id, nlive, &old, &oldinfo) < 0)
		goto out;
	fresh = xcalloc(p->nitems ? p->nitems : 1, sizeof(*fresh));
	pkgs = xcalloc(nlive + p->nitems + 1, sizeof(*pkgs));
	/* The metadata's file names, each made and checked once, sorted to be
	 * looked up (a repository holds thousands). */
	names = xcalloc(oldinfo.n_pkgs + 1, sizeof(*names));
	for (size_t j = 0; j < oldinfo.n_pkgs; j++) {
		names[j].name = hpkg_file_name(&oldinfo.pkgs[j]);
		names[j].index = j;
		if (package_file_check(names[j].name) < 0) {
			mf_error_wrap("the metadata of repository '%s'", r->id);
			goto out;
		}
	}
	qsort(names, oldinfo.n_pkgs, sizeof(*names), cmp_meta_name);
	/* Live packages that stay, from the metadata copy; checksum holds the file name
	 * while sorting. */
	for (size_t i = 0; i < nlive; i++) {
		int gone = 0;
		for (size_t k = 0; k < p->nitems; k++)
			gone |= p->items[k].action == PUBLISH_OBSOLETE &&
				!strcmp(p->items[k].file_name, live[i].file_name);
		for (size_t k = 0; k < p->nitems; k++)
			gone |= p->items[k].action == PUBLISH_ADD &&
				!strcmp(p->items[k].file_name, live[i].file_name);
		if (gone)
			continue;
		struct meta_name key = { .name = live[i].file_name };
		struct meta_name *m = bsearch(&key, names, oldinfo.n_pkgs, sizeof(*names),
					      cmp_meta_name);
		if (!m) {
			mf_error(MF_E_INFRA, "repository '%s': %s is published but missing from its "
					     "metadata (%s/repo)", r->id, live[i].file_name, dir);
			goto out;
		}
		size_t j = m->index;
		pkgs[n].attrs = old.pkgs[j].attrs;
		pkgs[n].n_attrs = old.pkgs[j].n_attrs;
		pkgs[n++].checksum = live[i].file_name;
	}
	for (size_t k = 0; k < p->nitems; k++) {
		const struct publish_item *it = &p->items[k];
		if (it->action != PUBLISH_ADD)
			continue;
		if (hpkr_package_from_hpkg(it->path, &fresh[k]) < 0)
			goto out;
		if (strcmp(fresh[k].checksum, it->sha256)) {
			mf_error(MF_E_USAGE, "package '%s' changed since the publish was planned",
				 it->path);
			goto out;
		}
		pkgs[n].attrs = fresh[k].attrs;
		pkgs[n].n_attrs = fresh[k].n_attrs;
		pkgs[n++].checksum = it->file_name;
	}
	qsort(pkgs, n, sizeof(*pkgs), cmp_pkg_name);
	for (size_t i = 0; i < n; i++) {
		strbuf_addf(&list, "%s%s", i ? "\n" : "", pkgs[i].checksum);
		pkgs[i].checksum = NULL; /* as the attributes say */
	}
	/* New packages' checksums are in their attributes only after this: */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < p->nitems; k++)
			if (fresh[k].attrs == pkgs[i].attrs)
				pkgs[i].checksum = fresh[k].checksum;
	repo_info_of(r, &ri);
	if (hpkr_write(&ri, pkgs, n, &repo, &repo_len) < 0)
		goto out;
	struct sha256 *h = sha256_new();
	sha256_update(h, repo, repo_len);
	sha256_finish(h, sha);
	/* The metadata copy first: a resume after this reads what it needs from it. */
	path = xasprintf("%s/repo", dir);
	if (mf_write_file_atomic(path, repo, repo_len, 0644) < 0)
		goto out;
	/*
	 * package.list and repo.info first (every package they name is up
	 * already), then repo and its signature, then repo.sha256 at once: the
	 * time a client can find repo newer than repo.sha256 is kept short.
	 */
	text = repoinfo_format(&ri);
	if (target_put_data(t, "package.list", list.buf ? list.buf : "", list.len) < 0 ||
	    target_put_data(t, "repo.info", text, strlen(text)) < 0)
		goto out;
	if (r->signing_key) {
		char *sig = xasprintf("%s/repo.minisig", dir);
		int rc = sign_repo(r, path, sig);
		if (rc == 0)
			rc = mf_read_file(sig, 1 << 16, &sigdata, &siglen);
		free(sig);
		if (rc < 0)
			goto out;
	}
	crash_point("list");
	if (r->type == MF_REPO_S3) {
		if (target_put_data(t, "repo", repo, repo_len) < 0)
			goto out;
		crash_point("repo");
		if ((sigdata && target_put_data(t, "repo.minisig", sigdata, siglen) < 0) ||
		    target_put_data(t, "repo.sha256", sha, strlen(sha)) < 0)
			goto out;
	} else {
		const char *keys[] = { "repo", "repo.minisig", "repo.sha256" };
		const void *datas[] = { repo, sigdata, sha };
		size_t lens[] = { repo_len, siglen, strlen(sha) };
		if (!sigdata) {
			keys[1] = keys[2];
			datas[1] = datas[2];
			lens[1] = lens[2];
		}
		if (target_put_files(t, sigdata ? 3 : 2, keys, datas, lens) < 0)
			goto out;
	}
	crash_point("sha256");
	if (publishes_commit_index(st->db, p, sha) < 0)
		goto out;
	snprintf(res->repo_sha256, sizeof(res->repo_sha256), "%s", sha);
	res->live = n;
	ret = 0;
out:
	for (size_t k = 0; k < p->nitems; k++)
		if (fresh)
			hpkr_package_release(&fresh[k]);
	free(fresh);
	free(pkgs);
	for (size_t j = 0; names && j < oldinfo.n_pkgs; j++)
		free(names[j].name);
	free(names);
	hpkr_repo_release(&old);
	hpkg_file_release(&oldinfo);
	published_pkgs_free(live, nlive);
	strbuf_release(&list);
	free(repo);
	free(text);
	free(sigdata);
	free(path);
	free(dir);
	return ret;
}

/* The package index learns the repository's live packages, where a build finds them. */
static int index_repository(struct mf_state *st, const struct mf_repository *r, const char *sha)
{
	char *dir = repo_dir(st, r->id), *path = xasprintf("%s/repo", dir);
	struct hpkg_file f;
	char **locations = NULL;
	int rc;

	if (hpkg_read_file(path, &f) < 0) {
		free(dir);
		free(path);
		return -1;
	}
	locations = xcalloc(f.n_pkgs + 1, sizeof(*locations));
	for (size_t i = 0; i < f.n_pkgs; i++) {
		char *file = hpkg_file_name(&f.pkgs[i]);
		locations[i] = r->type == MF_REPO_LOCAL ?
			xasprintf("%s/packages/%s", r->path, file) :
			xasprintf("repository:%s/%s", r->id, file);
		free(file);
	}
	struct pkg_repo pr = {
		.name = r->id, .hpkr_sha256 = (char *)sha,
		.packages = r->type == MF_REPO_LOCAL ? xasprintf("%s/packages", r->path) :
						       xasprintf("repository:%s", r->id),
	};
	rc = pkgindex_import_repo(st->db, &pr, f.pkgs, f.n_pkgs, locations);
	for (size_t i = 0; i < f.n_pkgs; i++)
		free(locations[i]);
	free(locations);
	free(pr.packages);
	hpkg_file_release(&f);
	free(dir);
	free(path);
	return rc;
}

/* Deletes a build's copy of a package published to S3 (never a file outside STATE). */
static void drop_local_copy(struct mf_state *st, const char *path)
{
	size_t n = strlen(st->builds_dir);

	if (path && !strncmp(path, st->builds_dir, n) && path[n] == '/' && !strstr(path, "/../"))
		unlink(path);
}

static int run_steps(struct mf_state *st, const struct mf_repository *r, struct publish *p,
		     struct publish_result *res)
{
	struct target *t = NULL;
	int ret = -1;

	if (target_open(r, &t) < 0 || target_tidy(t) < 0) {
		target_close(t);
		return -1;
	}
	if (!strcmp(p->state, "packages")) {
		for (size_t i = 0; i < p->nitems; i++) {
			struct publish_item *it = &p->items[i];
			if (it->action != PUBLISH_ADD || it->done)
				continue;
			char *key = xasprintf("packages/%s", it->file_name);
			size_t nb = strlen(st->builds_dir);
			int mine = !strncmp(it->path, st->builds_dir, nb) && it->path[nb] == '/';
			int rc = target_put_file(t, key, it->path, it->sha256, mine);
			free(key);
			if (rc < 0)
				goto out;
			crash_point("package");
			if (publishes_item_done(st->db, p->id, PUBLISH_ADD, it->file_name) < 0)
				goto out;
			it->done = 1;
		}
		crash_point("packages");
		if (publishes_set_state(st->db, p->id, "index", NULL) < 0)
			goto out;
		free(p->state);
		p->state = xstrdup("index");
	}
	if (!strcmp(p->state, "index")) {
		if (step_index(st, r, t, p, res) < 0)
			goto out;
		crash_point("index");
		free(p->state);
		p->state = xstrdup("obsolete");
	}
	if (!strcmp(p->state, "obsolete")) {
		for (size_t i = 0; i < p->nitems; i++) {
			struct publish_item *it = &p->items[i];
			if (it->action != PUBLISH_OBSOLETE || it->done)
				continue;
			char *from = xasprintf("packages/%s", it->file_name);
			char *to = xasprintf("packages/.obsolete/%s", it->file_name);
			int rc = target_move(t, from, to);
			free(from);
			free(to);
			if (rc < 0)
				goto out;
			crash_point("obsolete");
			if (publishes_item_done(st->db, p->id, PUBLISH_OBSOLETE, it->file_name) < 0)
				goto out;
			it->done = 1;
		}
		if (publishes_set_state(st->db, p->id, "finish", NULL) < 0)
			goto out;
		free(p->state);
		p->state = xstrdup("finish");
	}
	if (!strcmp(p->state, "finish")) {
		struct publish *now = NULL;
		if (publishes_get(st->db, p->id, &now) < 0)
			goto out;
		int rc = index_repository(st, r, now->repo_sha256);
		if (rc == 0) {
			snprintf(res->repo_sha256, sizeof(res->repo_sha256), "%s", now->repo_sha256);
			if (r->type == MF_REPO_S3)
				for (size_t i = 0; i < p->nitems; i++)
					if (p->items[i].action == PUBLISH_ADD)
						drop_local_copy(st, p->items[i].path);
		}
		publish_free(now);
		if (rc < 0)
			goto out;
		crash_point("finish");
		if (publishes_set_state(st->db, p->id, "done", NULL) < 0)
			goto out;
		free(p->state);
		p->state = xstrdup("done");
	}
	ret = 0;
out:
	if (t)
		res->bytes += target_bytes_out(t);
	target_close(t);
	return ret;
}

static int execute_locked(struct mf_state *st, const struct mf_config *cfg,
			  const struct mf_repository *r, int64_t id, struct publish_result *res)
{
	struct publish *p = NULL;
	int64_t t0 = mf_now_ms();
	int ret = -1;

	(void)cfg;
	memset(res, 0, sizeof(*res));
	if (publishes_get(st->db, id, &p) < 0)
		return -1;
	if (!strcmp(p->state, "done")) {
		ret = 0;
	} else if (!strcmp(p->state, "failed")) {
		mf_error(MF_E_USAGE, "publish %lld was abandoned: %s", (long long)id,
			 p->error ? p->error : "");
	} else {
		/* A publish that fails stays where it stopped, to be resumed: nothing
		 * it did is undone, nothing it planned is lost (vmctl publish --abandon
		 * drops one that never got past its packages). */
		ret = run_steps(st, r, p, res);
	}
	/* Figures for the whole publish, whichever process did which step. */
	res->added = res->obsoleted = 0;
	for (size_t i = 0; i < p->nitems; i++)
		*(p->items[i].action == PUBLISH_ADD ? &res->added : &res->obsoleted) += 1;
	res->seconds = (double)(mf_now_ms() - t0) / 1000.0;
	publish_free(p);
	return ret;
}

/* Every unfinished publish of r, oldest first; stops at the first that fails. */
static int resume_repo_locked(struct mf_state *st, const struct mf_config *cfg,
			      const struct mf_repository *r)
{
	int64_t *ids = NULL;
	size_t n = 0;
	int ret = 0;

	if (publishes_unfinished(st->db, r->id, &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		struct publish_result res;
		log_info("publish %lld to '%s': resuming", (long long)ids[i], r->id);
		ret = execute_locked(st, cfg, r, ids[i], &res);
		if (ret < 0)
			mf_error_wrap("publish %lld to '%s' (unfinished) stopped", (long long)ids[i],
				      r->id);
		else
			log_info("publish %lld: done, repo %s", (long long)ids[i], res.repo_sha256);
	}
	free(ids);
	return ret;
}

int publish_plan(struct mf_state *st, const struct mf_config *cfg,
		 const struct mf_repository *r, const struct publish_request *req, int64_t *id)
{
	int fd = -1, ret, refused = 0;

	*id = 0;
	if (lock_repo(st, r->id, &fd) < 0)
		return -1;
	/* A plan is made against what the repository holds: earlier publishes end first. */
	ret = resume_repo_locked(st, cfg, r);
	if (ret == 0)
		ret = plan_locked(st, cfg, r, req, id, &refused);
	close(fd);
	return ret;
}

int publish_run(struct mf_state *st, const struct mf_config *cfg, const struct mf_repository *r,
		const struct publish_request *req, int64_t *id, struct publish_result *res,
		int *refused)
{
	int fd = -1, ret, no;

	*id = 0;
	if (!refused)
		refused = &no;
	*refused = 0;
	memset(res, 0, sizeof(*res));
	if (lock_repo(st, r->id, &fd) < 0)
		return -1;
	ret = resume_repo_locked(st, cfg, r);
	if (ret == 0)
		ret = plan_locked(st, cfg, r, req, id, refused);
	if (ret == 0 && *id)
		ret = execute_locked(st, cfg, r, *id, res);
	close(fd);
	return ret;
}

int publish_execute(struct mf_state *st, const struct mf_config *cfg, int64_t id,
		    struct publish_result *res)
{
	struct publish *p = NULL;
	const struct mf_repository *r;
	int fd = -1, ret;

	memset(res, 0, sizeof(*res));
	if (publishes_get(st->db, id, &p) < 0)
		return -1;
	r = config_repository(cfg, p->repository);
	publish_free(p);
	if (!r)
		return mf_error_wrap("publish %lld", (long long)id);
	if (lock_repo(st, r->id, &fd) < 0)
		return -1;
	ret = execute_locked(st, cfg, r, id, res);
	close(fd);
	return ret;
}

int publish_abandon(struct mf_state *st, const struct mf_config *cfg, int64_t id)
{
	struct publish *p = NULL;
	const struct mf_repository *r;
	int fd = -1, ret = -1;

	if (publishes_get(st->db, id, &p) < 0)
		return -1;
	r = config_repository(cfg, p->repository);
	if (!r) {
		publish_free(p);
		return -1;
	}
	if (lock_repo(st, r->id, &fd) < 0) {
		publish_free(p);
		return -1;
	}
	publish_free(p);
	if (publishes_get(st->db, id, &p) < 0)
		goto out;
	if (strcmp(p->state, "packages")) {
		mf_error(MF_E_USAGE, "publish %lld is %s: only a publish still uploading its "
				     "packages can be abandoned (clients see nothing of it yet)",
			 (long long)id, !strcmp(p->state, "done") || !strcmp(p->state, "failed") ?
						p->state : "past its packages; resume it instead");
		goto out;
	}
	/* What it uploaded is named by no repo file: removed, unless it is live. */
	struct target *t = NULL;
	int err = 0;
	if (target_open(r, &t) < 0)
		goto out;
	for (size_t i = 0; i < p->nitems && !err; i++) {
		struct published_pkg pp;
		int found = 0, live = 0;
		/* Done or not: a kill may come between an upload and its mark. */
		if (p->items[i].action != PUBLISH_ADD)
			continue;
		if (published_find(st->db, r->id, p->items[i].file_name, &pp, &found, &live) < 0) {
			err = 1;
			break;
		}
		published_pkg_release(&pp);
		char *key = xasprintf("packages/%s", p->items[i].file_name);
		err = !found && target_delete(t, key) < 0;
		free(key);
	}
	target_close(t);
	if (!err)
		ret = publishes_set_state(st->db, id, "failed", "abandoned by the operator");
out:
	publish_free(p);
	close(fd);
	return ret;
}

int publish_resume_all(struct mf_state *st, const struct mf_config *cfg)
{
	int64_t *ids = NULL;
	size_t n = 0;
	int ret = 0;
	char *first = NULL;

	if (publishes_unfinished(st->db, NULL, &ids, &n) < 0)
		return -1;
	/* One repository that fails does not hold up the others. */
	for (size_t i = 0; i < n; i++) {
		struct publish_result res;
		log_info("publish %lld: resuming", (long long)ids[i]);
		if (publish_execute(st, cfg, ids[i], &res) < 0) {
			log_warnx("publish %lld: %s", (long long)ids[i], mf_error_msg());
			if (!first)
				first = xasprintf("publish %lld: %s", (long long)ids[i],
						  mf_error_msg());
			ret = -1;
		} else {
			log_info("publish %lld: done, repo %s", (long long)ids[i], res.repo_sha256);
		}
	}
	free(ids);
	if (first) {
		mf_error(MF_E_INFRA, "%s", first);
		free(first);
	}
	return ret;
}

int publish_auto(struct mf_state *st, const struct mf_config *cfg, int64_t run)
{
	struct buildrun *br = NULL;
	int ret = 0;

	if (buildruns_get(st->db, run, &br) < 0)
		return -1;
	for (size_t i = 0; i < cfg->nrepos && !strcmp(br->kind, "update"); i++) {
		const struct mf_repository *r = &cfg->repos[i];
		struct publish_request req = { .buildrun = run, .requested_by = "update" };
		struct publish_result res;
		int64_t id;
		int refused;
		if (!config_repository_publishes_tree(r, br->tree))
			continue;
		if (publish_run(st, cfg, r, &req, &id, &res, &refused) < 0) {
			if (refused) {
				/* Nothing to publish, or what cannot be: said once, not retried. */
				log_warnx("build run %lld, repository '%s': not published: %s",
					  (long long)run, r->id, mf_error_msg());
				continue;
			}
			/* Tried again later; the other repositories go on. */
			log_warnx("build run %lld, repository '%s': %s", (long long)run, r->id,
				  mf_error_msg());
			ret = -1;
			continue;
		}
		if (id)
			log_info("build run %lld published to '%s' (publish %lld): %zu added, %zu "
				 "obsolete, %zu live, %.2f s", (long long)run, r->id, (long long)id,
				 res.added, res.obsoleted, res.live, res.seconds);
	}
	buildrun_free(br);
	if (ret == 0 && publishes_run_handled(st->db, run) < 0)
		ret = -1;
	if (ret < 0)
		mf_error(MF_E_INFRA, "build run %lld is not published everywhere yet", (long long)run);
	return ret;
}

int publish_auto_pending(struct mf_state *st, const struct mf_config *cfg)
{
	int64_t *ids = NULL;
	size_t n = 0;
	int ret = publish_resume_all(st, cfg);

	if (publishes_runs_pending(st->db, &ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (publish_auto(st, cfg, ids[i]) < 0)
			ret = -1;
	free(ids);
	return ret;
}

/* ---- the package cache ---- */

/*
 * STATE/packages holds packages fetched back from S3 repositories, each
 * named by its SHA-256 and file name (two repositories' files of one name
 * never meet), written whole after its digest was checked. Above
 * package_cache_mb (0: no limit) the least recently used go first, but
 * never one used in the last CACHE_PIN_S seconds: a build that was just
 * given it may not have uploaded it yet (the cap may be exceeded by that
 * much). Temporary files a killed process left are removed after an hour.
 */
#define CACHE_PIN_S 600

struct cached {
	char *path;
	int64_t size;
	struct timespec used;
};

static int cmp_used(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;
	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

static void cache_trim(const char *dir, uint64_t cap)
{
	char **files = NULL;
	size_t n = 0, m = 0;
	struct cached *v;
	uint64_t total = 0;
	time_t now = time(NULL);

	if (mf_list_files(dir, &files, &n) < 0)
		return;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		char *p = xasprintf("%s/%s", dir, files[i]);
		if (strchr(files[i], '/') || stat(p, &sb) < 0) {
			free(p);
			continue;
		}
		if (files[i][0] == '.') {
			if (strstr(files[i], ".tmp-") && sb.st_mtime < now - 3600)
				unlink(p);
			free(p);
			continue;
		}
		v[m++] = (struct cached){ .path = p, .size = sb.st_size, .used = sb.st_mtim };
		total += (uint64_t)sb.st_size;
	}
	qsort(v, m, sizeof(*v), cmp_used);
	for (size_t i = 0; i < m && cap && total > cap; i++)
		if (v[i].used.tv_sec < now - CACHE_PIN_S && unlink(v[i].path) == 0)
			total -= (uint64_t)v[i].size;
	for (size_t i = 0; i < m; i++)
		free(v[i].path);
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	free(v);
}

int publish_cache_get(struct mf_state *st, const struct mf_config *cfg, const char *repository,
		      const char *file, const char *sha256, char **path)
{
	const struct mf_repository *r = config_repository(cfg, repository);
	char *dir = NULL, *dst = NULL, *key = NULL, *lockp = NULL;
	char got[SHA256_HEX_LEN];
	struct target *t = NULL;
	int fd = -1, ret = -1;

	*path = NULL;
	if (!r)
		return -1;
	if (package_file_check(file) < 0)
		return -1;
	if (sha256 && (strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64))
		return mf_error(MF_E_USAGE, "%s: '%s' is not a SHA-256", file, sha256);
	if (r->type == MF_REPO_LOCAL) {
		*path = xasprintf("%s/packages/%s", r->path, file);
		if (access(*path, R_OK) == 0)
			return 0;
		free(*path);
		*path = NULL;
		return mf_error_errno(MF_E_INFRA, "%s is not in repository '%s' (%s/packages)",
				      file, r->id, r->path);
	}
	dir = xasprintf("%s/packages", st->dir);
	dst = sha256 ? xasprintf("%s/%s-%s", dir, sha256, file) : xasprintf("%s/%s", dir, file);
	lockp = xasprintf("%s/.lock", dir);
	if (mf_mkdir_p(dir, 0755) < 0)
		goto out;
	fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot lock '%s'", lockp);
		goto out;
	}
	if (access(dst, F_OK) == 0) {
		utimensat(AT_FDCWD, dst, NULL, 0); /* used now */
	} else {
		key = xasprintf("packages/%s", file);
		if (target_open(r, &t) < 0 || target_get_file(t, key, dst) < 0)
			goto out;
		if (sha256_file(dst, got, NULL) < 0)
			goto out;
		if (sha256 && strcmp(got, sha256)) {
			unlink(dst);
			mf_error(MF_E_INFRA, "%s from repository '%s' has SHA-256 %s, not %s: the "
					     "repository is damaged", file, r->id, got, sha256);
			goto out;
		}
		cache_trim(dir, (uint64_t)cfg->package_cache_mb << 20);
	}
	*path = dst;
	dst = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	target_close(t);
	free(dir);
	free(dst);
	free(key);
	free(lockp);
	return ret;
}
