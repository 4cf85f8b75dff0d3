/*
 * test_publish.c - publishing to a repository directory: the files a
 * Haiku client reads, obsoletion, refusals, a kill -9 at every step of a
 * publish followed by a resume (exactly once, nothing lost), and a reader
 * polling the repository while publishes run. Real files, a real SQLite
 * state database, real child processes killed with SIGKILL.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "s3rver_fixture.h"
#include "state_fixture.h"

#include "common/config.h"
#include "common/crypto.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/hpkg_write.h"
#include "pkg/hpkr.h"
#include "net/s3.h"
#include "publish/publish.h"
#include "store/publishes.h"

struct env {
	struct fixture *f;
	struct mf_config cfg;
	char repo[128];		/* the local repository */
	char pkgs[128];		/* where the test's packages are made */
	int which;		/* the repository published to: 0 local, 1 s3 */
	char view[128];		/* the repository as a client sees it (s3: a mirror) */
};

/* One s3rver for the whole file; each test its own prefix. */
static struct s3rver server;
static char server_dir[64];
static int test_no;

static int group_setup(void **state)
{
	(void)state;
	snprintf(server_dir, sizeof(server_dir), "/tmp/mayfly-publish-XXXXXX");
	if (!mkdtemp(server_dir))
		return -1;
	if (s3rver_start(&server, server_dir, "hpkg") < 0)
		fprintf(stderr, "test_publish: %s: its S3 tests are skipped\n", server.why);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	s3rver_stop(&server);
	mf_rm_rf(server_dir);
	return 0;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char *text;

	if (state_fixture_setup(state) < 0)
		return -1;
	e->f = *state;
	snprintf(e->repo, sizeof(e->repo), "%s/repo", e->f->dir);
	snprintf(e->pkgs, sizeof(e->pkgs), "%s/built", e->f->dir);
	mkdir(e->pkgs, 0755);
	config_init(&e->cfg);
	text = xasprintf("[daemon]\nstate_dir = %s\n"
			 "[repository r]\ntype = local\npath = %s\nname = Test\n"
			 "vendor = \"Mayfly tests\"\nsummary = \"A test repository\"\n"
			 "priority = 1\narchitecture = x86_64\nidentifier = tag:test\n"
			 "baseurl = http://127.0.0.1:1/repo\n"
			 "[repository s3]\ntype = s3\nendpoint = http://127.0.0.1:%d\n"
			 "region = eu-1\nbucket = hpkg\nprefix = t%d/x86_64/current/\n"
			 "credentials_file = %s/s3.credentials\nname = Test\n"
			 "vendor = \"Mayfly tests\"\nsummary = \"A test repository\"\n"
			 "priority = 1\narchitecture = x86_64\nidentifier = tag:test\n"
			 "[limits]\npackage_cache_mb = 1\n",
			 e->f->dir, e->repo, server.port, ++test_no, e->f->dir);
	assert_int_equal(config_parse(&e->cfg, "test.conf", text), 0);
	free(text);
	char *cred = xasprintf("%s/s3.credentials", e->f->dir);
	assert_int_equal(mf_write_file_atomic(cred, "access_key_id = S3RVER\n"
					      "secret_access_key = S3RVER\n", 50, 0600), 0);
	free(cred);
	snprintf(e->view, sizeof(e->view), "%s", e->repo);
	*state = e;
	return 0;
}

/* The same, publishing to s3rver (skipped without it, unless the suite requires it). */
static int setup_s3(void **state)
{
	if (setup(state) < 0)
		return -1;
	struct env *e = *state;
	e->which = 1;
	snprintf(e->view, sizeof(e->view), "%s/mirror", e->f->dir);
	return 0;
}

static struct s3 *s3_client(struct env *e)
{
	const struct mf_repository *r = &e->cfg.repos[1];
	struct s3_config c = { .endpoint = r->endpoint, .region = r->region, .bucket = r->bucket,
			       .prefix = r->prefix, .access_key = "S3RVER", .secret_key = "S3RVER" };
	struct s3 *s = NULL;

	assert_int_equal(s3_open(&s, &c), 0);
	return s;
}

/* The S3 repository copied into e->view, every object as a file; the
 * keys joined by '\n'. A local repository is its own view. */
static char *refresh_view(struct env *e)
{
	struct strbuf keys = STRBUF_INIT;

	if (e->which == 0)
		return xstrdup("");
	struct s3 *s = s3_client(e);
	struct s3_object *v = NULL;
	size_t n = 0;
	mf_rm_rf(e->view);
	assert_int_equal(s3_list(s, NULL, &v, &n), 0);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", e->view, v[i].key);
		char *dir = xstrdup(path);
		*strrchr(dir, '/') = '\0';
		mf_mkdir_p(dir, 0755);
		if (s3_get_file(s, v[i].key, path, NULL) < 0)
			fail_msg("%s", mf_error_msg());
		strbuf_addf(&keys, "%s%s", i ? "\n" : "", v[i].key);
		free(path);
		free(dir);
	}
	s3_objects_free(v, n);
	s3_close(s);
	return strbuf_detach(&keys) ?: xstrdup("");
}

static void need_server(void)
{
	if (server.pid)
		return;
	if (getenv("MAYFLY_TEST_REQUIRE_ALL"))
		fail_msg("%s (MAYFLY_TEST_REQUIRE_ALL is set)", server.why);
	print_message("skipped: %s\n", server.why);
	skip();
}

static int teardown(void **state)
{
	struct env *e = *state;
	void *f = e->f;

	config_release(&e->cfg);
	free(e);
	return state_fixture_teardown(&f);
}

/* Writes a package "name-version-arch.hpkg" into the build directory; returns its path. */
static char *make_pkg(struct env *e, const char *name, const char *version, const char *arch,
		      const char *summary)
{
	struct hpkg_provide prov = { .name = (char *)name, .version = NULL };
	struct hpkg_info p = { .name = (char *)name, .version = (char *)version,
			       .arch = (char *)arch, .summary = (char *)summary,
			       .vendor = "Mayfly tests", .packager = "test",
			       .provides = &prov, .n_provides = 1 };
	unsigned char *data;
	size_t len;
	char *path = xasprintf("%s/%s-%s-%s.hpkg", e->pkgs, name, version, arch);

	assert_int_equal(hpkg_write_package(&p, &data, &len), 0);
	assert_int_equal(mf_write_file_atomic(path, data, len, 0644), 0);
	free(data);
	return path;
}

/* A package of about size bytes: a description of pseudo-random letters. */
static char *make_big_pkg(struct env *e, const char *name, const char *version, size_t size)
{
	char *text = xmalloc(size + 1);
	unsigned x = 12345;

	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		text[i] = (char)(33 + (x >> 16) % 94);
	}
	text[size] = '\0';
	struct hpkg_info p = { .name = (char *)name, .version = (char *)version, .arch = "any",
			       .summary = "big", .description = text, .vendor = "Mayfly tests",
			       .packager = "test" };
	unsigned char *data;
	size_t len;
	char *path = xasprintf("%s/%s-%s-any.hpkg", e->pkgs, name, version);
	assert_int_equal(hpkg_write_package(&p, &data, &len), 0);
	assert_int_equal(mf_write_file_atomic(path, data, len, 0644), 0);
	free(data);
	free(text);
	return path;
}

/* Plans and runs a publish of the given files; the publish id (0: nothing new). */
static int64_t publish_files(struct env *e, char **files, size_t n)
{
	struct publish_request req = { .files = files, .nfiles = n, .requested_by = "test" };
	struct publish_result res;
	int64_t id;

	if (publish_plan(e->f->st, &e->cfg, &e->cfg.repos[e->which], &req, &id) < 0)
		fail_msg("publish_plan: %s", mf_error_msg());
	if (id && publish_execute(e->f->st, &e->cfg, id, &res) < 0)
		fail_msg("publish_execute: %s", mf_error_msg());
	return id;
}

static char *read_text(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name), *text = NULL;

	if (mf_read_file(path, 1 << 24, &text, NULL) < 0)
		text = NULL;
	free(path);
	return text;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The non-hidden entries of dir, sorted, joined by '\n'. */
static char *listing(const char *dir)
{
	char **files = NULL, *out;
	size_t n = 0, m = 0;
	struct strbuf sb = STRBUF_INIT;

	if (mf_list_files(dir, &files, &n) < 0)
		return xstrdup("");
	for (size_t i = 0; i < n; i++)
		if (!strchr(files[i], '/') && files[i][0] != '.')
			files[m++] = files[i];
		else
			free(files[i]);
	qsort(files, m, sizeof(*files), cmp_str);
	for (size_t i = 0; i < m; i++) {
		strbuf_addf(&sb, "%s%s", i ? "\n" : "", files[i]);
		free(files[i]);
	}
	free(files);
	out = strbuf_detach(&sb);
	return out ? out : xstrdup("");
}

/* No temporary file anywhere under the repository. */
static void assert_no_temporaries(const char *dir)
{
	char **files = NULL;
	size_t n = 0;

	assert_int_equal(mf_list_files(dir, &files, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (strstr(files[i], ".tmp-"))
			fail_msg("a temporary file was left: %s/%s", dir, files[i]);
		free(files[i]);
	}
	free(files);
}

/*
 * The repository as a client sees it, complete: repo.sha256 is repo's
 * digest, repo names exactly live (joined by '\n', sorted) with the
 * checksums of the files in packages/, package.list says the same,
 * packages/ holds exactly those and packages/.obsolete exactly obsolete.
 */
static void assert_repo(struct env *e, const char *live, const char *obsolete)
{
	free(refresh_view(e));
	char *sha = read_text(e->view, "repo.sha256"), *list = read_text(e->view, "package.list");
	char *repo = xasprintf("%s/repo", e->view), *pkgdir = xasprintf("%s/packages", e->view);
	char *obsdir = xasprintf("%s/packages/.obsolete", e->view), *have, digest[SHA256_HEX_LEN];
	struct hpkg_file f;
	struct strbuf names = STRBUF_INIT;

	assert_non_null(sha);
	assert_int_equal(strlen(sha), 64); /* bare hex, no newline */
	assert_int_equal(sha256_file(repo, digest, NULL), 0);
	assert_string_equal(sha, digest);
	assert_int_equal(hpkg_read_file(repo, &f), 0);
	for (size_t i = 0; i < f.n_pkgs; i++) {
		char *file = hpkg_file_name(&f.pkgs[i]), *path = xasprintf("%s/%s", pkgdir, file);
		assert_int_equal(sha256_file(path, digest, NULL), 0);
		assert_string_equal(f.pkgs[i].checksum, digest);
		strbuf_addf(&names, "%s%s", i ? "\n" : "", file);
		free(file);
		free(path);
	}
	assert_string_equal(strbuf_str(&names), live);
	assert_string_equal(list, live);
	have = listing(pkgdir);
	assert_string_equal(have, live);
	free(have);
	have = listing(obsdir);
	assert_string_equal(have, obsolete);
	free(have);
	assert_no_temporaries(e->view);
	hpkg_file_release(&f);
	strbuf_release(&names);
	free(sha);
	free(list);
	free(repo);
	free(pkgdir);
	free(obsdir);
}

static void test_publish_and_obsolete(void **state)
{
	struct env *e = *state;
	char *foo1 = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	char *bar = make_pkg(e, "bar", "2.0-1", "any", "Bar");
	char *files[] = { foo1, bar };
	struct repo_info ri;
	char *text;

	assert_true(publish_files(e, files, 2) > 0);
	assert_repo(e, "bar-2.0-1-any.hpkg\nfoo-1.0-1-x86_64.hpkg", "");
	text = read_text(e->repo, "repo.info");
	assert_int_equal(repoinfo_parse(text, "repo.info", &ri), 0);
	assert_string_equal(ri.name, "Test");
	assert_string_equal(ri.vendor, "Mayfly tests");
	assert_string_equal(ri.base_url, "http://127.0.0.1:1/repo");
	repoinfo_release(&ri);
	free(text);

	/* The same packages again: nothing new, no publish recorded. */
	assert_int_equal(publish_files(e, files, 2), 0);
	assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM publishes WHERE ?1 = ?1", 0),
			 1);

	/* A newer foo: the old one moves to packages/.obsolete/ and leaves repo. */
	char *foo2 = make_pkg(e, "foo", "1.0-2", "x86_64", "Foo, again");
	char *again[] = { foo2 };
	assert_true(publish_files(e, again, 1) > 0);
	assert_repo(e, "bar-2.0-1-any.hpkg\nfoo-1.0-2-x86_64.hpkg", "foo-1.0-1-x86_64.hpkg");
	/* The package index sees the live ones, at the repository's files. */
	assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM pkg_index WHERE origin = "
					       "'repo:r' AND ?1 = ?1", 0), 2);
	char *loc = query_text(e->f->st->db, "SELECT location FROM pkg_index WHERE name = 'foo'"
					   " AND ?1 = ?1", 0);
	char *want = xasprintf("%s/packages/foo-1.0-2-x86_64.hpkg", e->repo);
	assert_string_equal(loc, want);
	free(loc);
	free(want);
	/* The builds' copies stay (a local repository links them). */
	assert_int_equal(access(foo2, F_OK), 0);
	char *path = NULL;
	assert_int_equal(publish_cache_get(e->f->st, &e->cfg, "r", "foo-1.0-2-x86_64.hpkg", NULL,
					   &path), 0);
	assert_int_equal(access(path, R_OK), 0);
	free(path);
	free(foo1);
	free(foo2);
	free(bar);
}

static void plan_fails(struct env *e, char *file, const char *needle)
{
	struct publish_request req = { .files = &file, .nfiles = 1 };
	int64_t id = -1;

	mf_error_clear();
	assert_int_equal(publish_plan(e->f->st, &e->cfg, &e->cfg.repos[0], &req, &id), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	if (!strstr(mf_error_msg(), needle))
		fail_msg("'%s' does not say '%s'", mf_error_msg(), needle);
	assert_int_equal(id, 0);
}

static void test_refusals(void **state)
{
	struct env *e = *state;
	char *foo2 = make_pkg(e, "foo", "1.0-2", "x86_64", "Foo");
	char *files[] = { foo2 };

	assert_true(publish_files(e, files, 1) > 0);
	char *foo1 = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	plan_fails(e, foo1, "is not newer than foo-1.0-2-x86_64.hpkg");
	/* Same name and version, other contents. */
	char *other = make_pkg(e, "foo", "1.0-2", "x86_64", "Foo, rebuilt");
	plan_fails(e, other, "already published in repository 'r' with other contents");
	char *x86 = make_pkg(e, "baz", "1-1", "x86_gcc2", "Baz");
	plan_fails(e, x86, "baz-1-1-x86_gcc2.hpkg is for x86_gcc2");
	char *missing = xasprintf("%s/nope.hpkg", e->pkgs);
	plan_fails(e, missing, "nope.hpkg");
	/* Nothing of it reached the repository or the journal. */
	assert_repo(e, "foo-1.0-2-x86_64.hpkg", "");
	assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM publishes WHERE ?1 = ?1", 0),
			 1);
	free(foo1);
	free(foo2);
	free(other);
	free(x86);
	free(missing);
}

/*
 * A kill -9 at each point of a publish, then a resume: the result is the
 * same as an uninterrupted publish, recorded once. While the publisher is
 * dead, the repository a client sees is consistent (the old or the new).
 */
static const char *const points[] = { "package", "packages", "list", "repo", "sha256",
				      "index", "obsolete", "finish" };

static void test_kill_at_each_step(void **state)
{
	struct env *e = *state;

	if (e->which)
		need_server();
	char *foo1 = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	char *bar = make_pkg(e, "bar", "2.0-1", "any", "Bar");
	char *first[] = { foo1, bar };

	assert_true(publish_files(e, first, 2) > 0);
	for (size_t k = 0; k < sizeof(points) / sizeof(points[0]); k++) {
		char version[16], prev[16];
		snprintf(version, sizeof(version), "1.0-%zu", k + 2);
		snprintf(prev, sizeof(prev), "1.0-%zu", k + 1);
		char *foo = make_pkg(e, "foo", version, "x86_64", "Foo");
		char *name = xasprintf("qux%zu", k);
		char *qux = make_pkg(e, name, "1-1", "x86_64", "Qux");
		char *files[] = { foo, qux };
		int64_t before = query_int(e->f->st->db, "SELECT count(*) FROM publishes WHERE ?1=?1", 0);

		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct mf_state *st = NULL;
			struct publish_request req = { .files = files, .nfiles = 2 };
			struct publish_result res;
			int64_t id;
			char *v = xasprintf("publish:%s", points[k]);
			setenv("MAYFLY_TEST_KILL_AT", v, 1);
			if (state_open(&st, e->f->dir) < 0 ||
			    publish_plan(st, &e->cfg, &e->cfg.repos[e->which], &req, &id) < 0 ||
			    publish_execute(st, &e->cfg, id, &res) < 0)
				_exit(3);
			_exit(0); /* it should never get here */
		}
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		/* "repo" is between repo and repo.sha256 in S3; a directory renames both at
		 * once, so there the publish runs to its end. */
		int unkillable = !e->which && !strcmp(points[k], "repo");
		if (unkillable) {
			assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		} else if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			fail_msg("the publish was not killed at %s (status %#x)", points[k], status);
		} else {
			/* Planned once, not finished. */
			assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM publishes"
							       " WHERE ?1=?1", 0), before + 1);
			assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM publishes"
							       " WHERE state NOT IN ('done', 'failed')"
							       " AND ?1=?1", 0), 1);
		}
		/* Meanwhile every package repo names can be fetched. */
		free(refresh_view(e));
		char *repo = xasprintf("%s/repo", e->view);
		struct hpkg_file f;
		assert_int_equal(hpkg_read_file(repo, &f), 0);
		for (size_t i = 0; i < f.n_pkgs; i++) {
			char *file = hpkg_file_name(&f.pkgs[i]);
			char *path = xasprintf("%s/packages/%s", e->view, file);
			if (access(path, R_OK) < 0)
				fail_msg("killed at %s: repo names %s, which is not there", points[k],
					 file);
			free(file);
			free(path);
		}
		hpkg_file_release(&f);
		free(repo);

		/* The restart. */
		assert_int_equal(publish_resume_all(e->f->st, &e->cfg), 0);
		char *live = xasprintf("bar-2.0-1-any.hpkg\nfoo-%s-x86_64.hpkg", version);
		struct strbuf obs = STRBUF_INIT;
		for (size_t j = 0; j <= k; j++)
			strbuf_addf(&obs, "%sfoo-1.0-%zu-x86_64.hpkg", j ? "\n" : "", j + 1);
		/* the quxes published so far, in name order, among the live ones */
		struct strbuf all = STRBUF_INIT;
		strbuf_addf(&all, "%s", live);
		for (size_t j = 0; j <= k; j++)
			strbuf_addf(&all, "\nqux%zu-1-1-x86_64.hpkg", j);
		assert_repo(e, strbuf_str(&all), strbuf_str(&obs));
		assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM publishes WHERE state"
						       " = 'done' AND ?1=?1", 0), before + 1);
		/* Exactly once: one row per package, the new foo added by one publish. */
		assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM published WHERE live = 1"
						       " AND ?1=?1", 0), 3 + (int64_t)k);
		/* A second resume has nothing to do. */
		assert_int_equal(publish_resume_all(e->f->st, &e->cfg), 0);
		strbuf_release(&obs);
		strbuf_release(&all);
		free(live);
		free(foo);
		free(qux);
		free(name);
		(void)prev;
	}
	free(foo1);
	free(bar);
}

/*
 * A reader polls the repository while twenty publishes run, as a client
 * would: repo.sha256, then package.list and repo, then repo.sha256 again.
 *  - While repo.sha256 did not change, every package repo and package.list
 *    name is there (older versions leave only after a new repo.sha256).
 *  - repo.sha256 never runs ahead of repo: when the repo it read is not
 *    the one repo.sha256 names, it is the next one (a publish between its
 *    repo and its repo.sha256), never an older one. Checked against the
 *    order of the publishes in the state database once they are done.
 */
struct observation {
	char sha[65], repo[65];
};

static int digest_index(char **v, size_t n, const char *d)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], d))
			return (int)i;
	return -1;
}

static void reader_main(struct env *e, const char *stop)
{
	size_t cap = 1 << 16, nobs = 0, ahead = 0;
	struct observation *obs = xcalloc(cap, sizeof(*obs));
	long checks = 0;

	while (access(stop, F_OK) < 0) {
		char *sha1 = read_text(e->repo, "repo.sha256");
		char *list = read_text(e->repo, "package.list");
		char *repo = xasprintf("%s/repo", e->repo), digest[SHA256_HEX_LEN];
		unsigned char *data = NULL;
		size_t len = 0;
		struct hpkg_file f;
		int missing = 0, ok = mf_read_file(repo, 1 << 26, (char **)&data, &len) == 0 &&
				      hpkg_read_buffer(data, len, "repo", &f) == 0;
		if (ok) {
			struct sha256 *h = sha256_new();
			sha256_update(h, data, len);
			sha256_finish(h, digest);
		}
		for (char *p = list; p && *p;) {
			size_t n = strcspn(p, "\n");
			char *path = xasprintf("%s/packages/%.*s", e->repo, (int)n, p);
			missing |= access(path, F_OK) < 0;
			free(path);
			p += n + (p[n] == '\n');
		}
		for (size_t i = 0; ok && i < f.n_pkgs; i++) {
			char *file = hpkg_file_name(&f.pkgs[i]);
			char *path = xasprintf("%s/packages/%s", e->repo, file);
			missing |= access(path, F_OK) < 0;
			free(file);
			free(path);
		}
		char *sha2 = read_text(e->repo, "repo.sha256");
		int steady = sha1 && sha2 && !strcmp(sha1, sha2);
		if (!ok || !list || (steady && missing)) {
			fprintf(stderr, "reader: a broken or inconsistent repository (read %d, "
					"package.list %d, a named package missing %d)\n",
				ok, list != NULL, missing);
			_exit(1);
		}
		if (steady && nobs < cap) {
			snprintf(obs[nobs].sha, 65, "%s", sha1);
			snprintf(obs[nobs++].repo, 65, "%s", digest);
		}
		hpkg_file_release(&f);
		checks++;
		free(data);
		free(sha1);
		free(sha2);
		free(list);
		free(repo);
	}
	/* The repo of each publish, in order. */
	struct mf_state *st = NULL;
	struct db_stmt *q;
	char **order = NULL;
	size_t n = 0;
	if (state_open(&st, e->f->dir) < 0 ||
	    db_prepare(st->db, &q, "SELECT repo_sha256 FROM publishes ORDER BY id") < 0)
		_exit(3);
	while (db_step(q) == 1) {
		order = xrealloc(order, (n + 1) * sizeof(*order));
		order[n++] = xstrdup(db_col_text(q, 0));
	}
	db_finalize(q);
	for (size_t i = 0; i < nobs; i++) {
		int s = digest_index(order, n, obs[i].sha), r = digest_index(order, n, obs[i].repo);
		if (s < 0 || r < 0 || (r != s && r != s + 1)) {
			fprintf(stderr, "reader: repo.sha256 names publish %d while repo is publish "
					"%d\n", s, r);
			_exit(1);
		}
		ahead += r == s + 1;
	}
	fprintf(stderr, "reader: %ld reads, every one consistent; %zu saw repo one publish "
			"ahead of repo.sha256 (between the two writes)\n", checks, ahead);
	_exit(checks > 0 ? 0 : 2);
}

static void test_reader_never_sees_half(void **state)
{
	struct env *e = *state;
	char stop[160];
	pid_t reader;
	int status;

	snprintf(stop, sizeof(stop), "%s/stop", e->f->dir);
	char *seed = make_pkg(e, "seed", "1-1", "any", "Seed");
	assert_true(publish_files(e, &seed, 1) > 0);
	reader = fork();
	assert_true(reader >= 0);
	if (reader == 0)
		reader_main(e, stop);
	for (int i = 2; i <= 21; i++) {
		char version[16];
		snprintf(version, sizeof(version), "1.0-%d", i);
		char *a = make_pkg(e, "alpha", version, "x86_64", "Alpha");
		char *b = make_pkg(e, "beta", version, "any", "Beta");
		char *files[] = { a, b };
		assert_true(publish_files(e, files, 2) > 0);
		free(a);
		free(b);
	}
	assert_int_equal(mf_write_file_atomic(stop, "", 0, 0644), 0);
	assert_int_equal(waitpid(reader, &status, 0), reader);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Every older alpha and beta is obsolete, none deleted. */
	char *obs[38];
	struct strbuf want = STRBUF_INIT;
	for (int i = 0; i < 19; i++) {
		obs[2 * i] = xasprintf("alpha-1.0-%d-x86_64.hpkg", i + 2);
		obs[2 * i + 1] = xasprintf("beta-1.0-%d-any.hpkg", i + 2);
	}
	qsort(obs, 38, sizeof(*obs), cmp_str);
	for (int i = 0; i < 38; i++) {
		strbuf_addf(&want, "%s%s", i ? "\n" : "", obs[i]);
		free(obs[i]);
	}
	assert_repo(e, "alpha-1.0-21-x86_64.hpkg\nbeta-1.0-21-any.hpkg\nseed-1-1-any.hpkg",
		    strbuf_str(&want));
	strbuf_release(&want);
	free(seed);
}


/*
 * S3: once published, a build's copies are deleted (no local package
 * store); a build that needs a package later gets it through the cache,
 * verified, least recently used dropped first (package_cache_mb = 0 here:
 * only the latest stays), and a damaged object is refused.
 */
static void test_s3_no_local_store(void **state)
{
	struct env *e = *state;

	need_server();
	snprintf(e->pkgs, sizeof(e->pkgs), "%s/1/packages", e->f->st->builds_dir);
	assert_int_equal(mf_mkdir_p(e->pkgs, 0755), 0);
	char *foo = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	char *bar = make_pkg(e, "bar", "2.0-1", "any", "Bar");
	char *files[] = { foo, bar };
	char sha_foo[SHA256_HEX_LEN], sha_bar[SHA256_HEX_LEN];
	assert_int_equal(sha256_file(foo, sha_foo, NULL), 0);
	assert_int_equal(sha256_file(bar, sha_bar, NULL), 0);

	assert_true(publish_files(e, files, 2) > 0);
	assert_repo(e, "bar-2.0-1-any.hpkg\nfoo-1.0-1-x86_64.hpkg", "");
	assert_int_equal(access(foo, F_OK), -1);
	assert_int_equal(access(bar, F_OK), -1);
	char *loc = query_text(e->f->st->db, "SELECT location FROM pkg_index WHERE name = 'foo'"
					     " AND ?1 = ?1", 0);
	assert_string_equal(loc, "repository:s3/foo-1.0-1-x86_64.hpkg");
	free(loc);

	char *p1 = NULL, *p2 = NULL, got[SHA256_HEX_LEN];
	assert_int_equal(publish_cache_get(e->f->st, &e->cfg, "s3", "foo-1.0-1-x86_64.hpkg",
					   sha_foo, &p1), 0);
	assert_int_equal(sha256_file(p1, got, NULL), 0);
	assert_string_equal(got, sha_foo);
	assert_non_null(strstr(p1, sha_foo)); /* named by content */
	/* Used an hour ago, and the cache (1 MiB) overflows: foo goes, the new one stays. */
	struct timespec old[2] = { { .tv_sec = time(NULL) - 3600 }, { .tv_sec = time(NULL) - 3600 } };
	assert_int_equal(utimensat(AT_FDCWD, p1, old, 0), 0);
	char *big = make_big_pkg(e, "big", "1-1", 1600 * 1024);
	char *bigs[] = { big };
	char sha_big[SHA256_HEX_LEN];
	assert_int_equal(sha256_file(big, sha_big, NULL), 0);
	assert_true(publish_files(e, bigs, 1) > 0);
	assert_int_equal(publish_cache_get(e->f->st, &e->cfg, "s3", "big-1-1-any.hpkg", sha_big,
					   &p2), 0);
	assert_int_equal(access(p1, F_OK), -1);
	assert_int_equal(access(p2, R_OK), 0);
	free(p2);
	/* One used just now is never dropped, whatever the cap. */
	assert_int_equal(publish_cache_get(e->f->st, &e->cfg, "s3", "bar-2.0-1-any.hpkg", sha_bar,
					   &p2), 0);
	char *p4 = NULL;
	assert_int_equal(publish_cache_get(e->f->st, &e->cfg, "s3", "big-1-1-any.hpkg", sha_big,
					   &p4), 0);
	assert_int_equal(access(p2, R_OK), 0);
	assert_int_equal(access(p4, R_OK), 0);
	free(p4);
	free(big);

	/* A damaged object in the repository is refused, and nothing is kept. */
	struct s3 *s = s3_client(e);
	assert_int_equal(s3_put_buffer(s, "packages/foo-1.0-1-x86_64.hpkg", "damaged", 7), 0);
	s3_close(s);
	mf_error_clear();
	char *p3 = NULL;
	assert_int_equal(publish_cache_get(e->f->st, &e->cfg, "s3", "foo-1.0-1-x86_64.hpkg",
					   sha_foo, &p3), -1);
	assert_non_null(strstr(mf_error_msg(), "the repository is damaged"));
	assert_null(p3);
	char *damaged = xasprintf("%s/packages/%s-foo-1.0-1-x86_64.hpkg", e->f->dir, sha_foo);
	assert_int_equal(access(damaged, F_OK), -1);
	free(damaged);
	/* Names that are not package files never reach a path or a key. */
	assert_int_equal(publish_cache_get(e->f->st, &e->cfg, "s3", "../etc/passwd", NULL, &p3),
			 -1);
	free(p1);
	free(p2);
	free(foo);
	free(bar);
}

static int run_cmd(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	rc = system(cmd);
	free(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Replaces the settings' first repository's key with a signing key (and password file). */
static void use_signing_key(struct env *e, const char *key, const char *password_file)
{
	struct mf_repository *r = &e->cfg.repos[0];
	free(r->signing_key);
	free(r->signing_password_file);
	r->signing_key = xstrdup(key);
	r->signing_password_file = password_file ? xstrdup(password_file) : NULL;
}

/*
 * A signing key: repo.minisig verifies with minisign against the public
 * key. A wrong password fails the publish with minisign's reason, the
 * repository clients see stays the old one, and the publish is resumed
 * once the password is right.
 */
static void test_signed(void **state)
{
	struct env *e = *state;
	char *dir = e->f->dir;

	if (run_cmd("command -v minisign >/dev/null") != 0) {
		if (getenv("MAYFLY_TEST_REQUIRE_ALL"))
			fail_msg("minisign is not installed (MAYFLY_TEST_REQUIRE_ALL is set)");
		skip();
	}
	assert_int_equal(run_cmd("printf 'pw\\npw\\n' | minisign -G -p %s/k.pub -s %s/k.key "
				 ">/dev/null 2>&1", dir, dir), 0);
	char *key = xasprintf("%s/k.key", dir), *pw = xasprintf("%s/pw", dir);
	assert_int_equal(mf_write_file_atomic(pw, "pw\n", 3, 0600), 0);
	use_signing_key(e, key, pw);
	char *foo = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	assert_true(publish_files(e, &foo, 1) > 0);
	assert_repo(e, "foo-1.0-1-x86_64.hpkg", "");
	assert_int_equal(run_cmd("minisign -V -q -p %s/k.pub -m %s/repo -x %s/repo.minisig",
				 dir, e->repo, e->repo), 0);

	/* The wrong password: the publish stops at its index, nothing half-done shows. */
	assert_int_equal(mf_write_file_atomic(pw, "wrong\n", 6, 0600), 0);
	char *bar = make_pkg(e, "bar", "1-1", "any", "Bar");
	struct publish_request req = { .files = &bar, .nfiles = 1 };
	struct publish_result res;
	int64_t id;
	mf_error_clear();
	assert_int_equal(publish_run(e->f->st, &e->cfg, &e->cfg.repos[0], &req, &id, &res, NULL),
			 -1);
	assert_true(id > 0);
	if (!strstr(mf_error_msg(), "Wrong password"))
		fail_msg("'%s' does not give minisign's reason", mf_error_msg());
	assert_null(strstr(mf_error_msg(), "wrong\n"));
	assert_int_equal(run_cmd("minisign -V -q -p %s/k.pub -m %s/repo -x %s/repo.minisig",
				 dir, e->repo, e->repo), 0);
	char *list = read_text(e->repo, "package.list");
	assert_string_equal(list, "bar-1-1-any.hpkg\nfoo-1.0-1-x86_64.hpkg"); /* both fetchable */
	free(list);
	assert_int_equal(mf_write_file_atomic(pw, "pw\n", 3, 0600), 0);
	assert_int_equal(publish_resume_all(e->f->st, &e->cfg), 0);
	assert_repo(e, "bar-1-1-any.hpkg\nfoo-1.0-1-x86_64.hpkg", "");
	assert_int_equal(run_cmd("minisign -V -q -p %s/k.pub -m %s/repo -x %s/repo.minisig",
				 dir, e->repo, e->repo), 0);
	free(foo);
	free(bar);
	free(key);
	free(pw);
}

/*
 * Two processes publish to one repository at once, foo 1.0-2 and foo
 * 1.0-3 over foo 1.0-1: one plans after the other's publish ended, so
 * exactly one foo is live, and the repository is whole.
 */
static void test_two_publishers(void **state)
{
	struct env *e = *state;
	char *foo1 = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	assert_true(publish_files(e, &foo1, 1) > 0);
	char *files[2] = { make_pkg(e, "foo", "1.0-2", "x86_64", "Foo"),
			   make_pkg(e, "foo", "1.0-3", "x86_64", "Foo") };
	pid_t pids[2];
	int status[2];

	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct mf_state *st = NULL;
			struct publish_request req = { .files = &files[i], .nfiles = 1 };
			struct publish_result res;
			int64_t id;
			if (state_open(&st, e->f->dir) < 0)
				_exit(3);
			int rc = publish_run(st, &e->cfg, &e->cfg.repos[0], &req, &id, &res, NULL);
			if (rc < 0 && !strstr(mf_error_msg(), "is not newer than"))
				fprintf(stderr, "publisher %d: %s\n", i, mf_error_msg());
			_exit(rc == 0 ? 0 : strstr(mf_error_msg(), "is not newer than") ? 1 : 2);
		}
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pids[i], &status[i], 0), pids[i]);
		assert_true(WIFEXITED(status[i]));
		assert_true(WEXITSTATUS(status[i]) <= 1);
	}
	assert_int_equal(query_int(e->f->st->db, "SELECT count(*) FROM published WHERE name ="
						 " 'foo' AND live = 1 AND ?1 = ?1", 0), 1);
	if (WEXITSTATUS(status[0]) == 0 && WEXITSTATUS(status[1]) == 0)
		assert_repo(e, "foo-1.0-3-x86_64.hpkg",
			    "foo-1.0-1-x86_64.hpkg\nfoo-1.0-2-x86_64.hpkg");
	else
		assert_repo(e, "foo-1.0-3-x86_64.hpkg", "foo-1.0-1-x86_64.hpkg");
	free(foo1);
	free(files[0]);
	free(files[1]);
}

/*
 * A publish killed while uploading its packages can be abandoned: what it
 * uploaded goes, later publishes go on; one past its packages cannot be.
 */
static void test_abandon(void **state)
{
	struct env *e = *state;
	char *foo = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	char *bar = make_pkg(e, "bar", "1-1", "any", "Bar");
	char *files[] = { bar, foo };

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mf_state *st = NULL;
		struct publish_request req = { .files = files, .nfiles = 2 };
		struct publish_result res;
		int64_t id;
		setenv("MAYFLY_TEST_KILL_AT", "publish:package", 1);
		if (state_open(&st, e->f->dir) == 0)
			publish_run(st, &e->cfg, &e->cfg.repos[0], &req, &id, &res, NULL);
		_exit(3);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	char *up = xasprintf("%s/packages/bar-1-1-any.hpkg", e->repo);
	assert_int_equal(access(up, F_OK), 0); /* the first one was up */
	assert_int_equal(publish_abandon(e->f->st, &e->cfg, 1), 0);
	assert_int_equal(access(up, F_OK), -1);
	assert_query_text(e->f->st->db, "SELECT state FROM publishes WHERE id = ?1", 1, "failed");
	assert_int_equal(publish_resume_all(e->f->st, &e->cfg), 0); /* nothing to resume */
	assert_true(publish_files(e, &foo, 1) > 0);
	assert_repo(e, "foo-1.0-1-x86_64.hpkg", "");
	mf_error_clear();
	assert_int_equal(publish_abandon(e->f->st, &e->cfg, 2), -1);
	assert_non_null(strstr(mf_error_msg(), "publish 2 is done"));
	free(up);
	free(foo);
	free(bar);
}

/*
 * A new state directory publishing to an S3 prefix that already holds a
 * repository (another Mayfly's, or buildmaster's) adopts it: its packages
 * stay in the repo file, none is overwritten.
 */
static void test_adopt(void **state)
{
	struct env *e = *state;

	need_server();
	char *foo = make_pkg(e, "foo", "1.0-1", "x86_64", "Foo");
	char *bar = make_pkg(e, "bar", "1-1", "any", "Bar");
	char *first[] = { foo, bar };
	assert_true(publish_files(e, first, 2) > 0);

	char other[] = "/tmp/mayfly-adopt-XXXXXX";
	assert_non_null(mkdtemp(other));
	struct mf_state *st2 = NULL;
	assert_int_equal(state_open(&st2, other), 0);
	struct mf_state *mine = e->f->st;
	e->f->st = st2;
	char *foo2 = make_pkg(e, "foo", "1.0-2", "x86_64", "Foo");
	char *baz = make_pkg(e, "baz", "1-1", "any", "Baz");
	char *second[] = { foo2, baz };
	assert_true(publish_files(e, second, 2) > 0);
	assert_repo(e, "bar-1-1-any.hpkg\nbaz-1-1-any.hpkg\nfoo-1.0-2-x86_64.hpkg",
		    "foo-1.0-1-x86_64.hpkg");
	e->f->st = mine;
	state_free(st2);
	mf_rm_rf(other);
	free(foo);
	free(bar);
	free(foo2);
	free(baz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_and_obsolete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_at_each_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_at_each_step, setup_s3, teardown),
		cmocka_unit_test_setup_teardown(test_s3_no_local_store, setup_s3, teardown),
		cmocka_unit_test_setup_teardown(test_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_publishers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt, setup_s3, teardown),
		cmocka_unit_test_setup_teardown(test_reader_never_sees_half, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
