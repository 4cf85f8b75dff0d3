/*
 * test_mirror.c - ports/mirror.c on real git repositories made with the
 * git command in a temporary directory: fetches (branches, pull request
 * refs, pruning, failures that change nothing), revisions, tree walks and
 * the changes between two commits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "ports/mirror.h"

struct fx {
	char dir[64];
	char *src, *mirror;
	struct mirror *m;
};

static void sh(const char *fmt, ...) MF_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* A source repository with two commits on master and a pull request ref. */
static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/mayfly-mirror-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->src = xasprintf("%s/src", f->dir);
	f->mirror = xasprintf("%s/mirror.git", f->dir);
	sh("set -e; git init -q -b master %s; cd %s; git config user.email t@t; git config user.name t;"
	   "mkdir -p sys-libs/zlib/patches dev-lang/tool;"
	   "printf 'REVISION=\"1\"\\n' > sys-libs/zlib/zlib-1.3.recipe;"
	   "printf 'patch\\n' > sys-libs/zlib/patches/zlib-1.3.patchset;"
	   "printf '#!/bin/sh\\necho hi\\n' > dev-lang/tool/run.sh; chmod 755 dev-lang/tool/run.sh;"
	   "ln -s run.sh dev-lang/tool/link; printf 'x\\n' > README.md;"
	   "git add -A; git commit -q -m one;"
	   "git mv sys-libs/zlib/patches/zlib-1.3.patchset sys-libs/zlib/patches/zlib-1.3.1.patchset;"
	   "printf 'REVISION=\"2\"\\n' > sys-libs/zlib/zlib-1.3.recipe; git rm -q README.md;"
	   "git commit -q -a -m two;"
	   "git checkout -q -b pr HEAD~1; printf 'pr\\n' > pr.txt; git add pr.txt;"
	   "git commit -q -m pr; git update-ref refs/pull/7/head HEAD; git checkout -q master",
	   f->src, f->src);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mirror_close(f->m);
	mf_rm_rf(f->dir);
	free(f->src);
	free(f->mirror);
	free(f);
	return 0;
}

static char *git_out(const char *repo, const char *args)
{
	char cmd[1024], buf[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "git -C %s %s", repo, args);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = '\0';
	pclose(p);
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

static void test_fetch_and_resolve(void **state)
{
	struct fx *f = *state;
	char head[MIRROR_ID_LEN], id[MIRROR_ID_LEN];
	char *want = git_out(f->src, "rev-parse master"), *pr = git_out(f->src, "rev-parse pr");

	assert_int_equal(mirror_open(&f->m, f->mirror), 0);
	if (mirror_fetch(f->m, f->src, "master", NULL, head) < 0)
		fail_msg("fetch: %s", mf_error_msg());
	assert_string_equal(head, want);
	assert_int_equal(mirror_resolve(f->m, "master", id), 0);
	assert_string_equal(id, want);
	assert_int_equal(mirror_resolve(f->m, "HEAD", id), 0);
	assert_string_equal(id, want);
	/* Pull request refs come along; a merge ref would not. */
	assert_int_equal(mirror_resolve(f->m, "refs/pull/7/head", id), 0);
	assert_string_equal(id, pr);
	char abbrev[9];
	snprintf(abbrev, sizeof(abbrev), "%.8s", want);
	assert_int_equal(mirror_resolve(f->m, abbrev, id), 0);
	assert_string_equal(id, want);
	assert_int_equal(mirror_has_commit(f->m, want), 1);
	assert_int_equal(mirror_has_commit(f->m, "0123456789012345678901234567890123456789"), 0);

	/* Unknown revisions and refused syntax are bad input. */
	mf_error_clear();
	assert_int_equal(mirror_resolve(f->m, "nosuch", id), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "unknown commit 'nosuch'"));
	assert_int_equal(mirror_resolve(f->m, "master@{1}", id), -1);
	assert_int_equal(mirror_resolve(f->m, ":/one", id), -1);
	assert_int_equal(mirror_resolve(f->m, "--all", id), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	free(want);
	free(pr);
}

struct collected {
	struct strbuf s;
};

static int collect(void *arg, const struct mirror_entry *e)
{
	struct collected *c = arg;

	strbuf_addf(&c->s, "%s %o %.7s\n", e->path, (unsigned)e->mode, e->blob);
	return 0;
}

static void test_walk_and_read(void **state)
{
	struct fx *f = *state;
	struct collected c = { STRBUF_INIT };
	char head[MIRROR_ID_LEN], blob[MIRROR_ID_LEN], *data = NULL;
	size_t len = 0;

	assert_int_equal(mirror_open(&f->m, f->mirror), 0);
	assert_int_equal(mirror_fetch(f->m, f->src, "master", NULL, head), 0);
	assert_int_equal(mirror_walk(f->m, head, "", collect, &c), 0);
	/* Files, executables and symlinks with their modes; no README (deleted). */
	assert_non_null(strstr(c.s.buf, "dev-lang/tool/run.sh 100755"));
	assert_non_null(strstr(c.s.buf, "dev-lang/tool/link 120000"));
	assert_non_null(strstr(c.s.buf, "sys-libs/zlib/zlib-1.3.recipe 100644"));
	assert_null(strstr(c.s.buf, "README"));
	strbuf_reset(&c.s);
	assert_int_equal(mirror_walk(f->m, head, "sys-libs", collect, &c), 0);
	assert_non_null(strstr(c.s.buf, "sys-libs/zlib/patches/zlib-1.3.1.patchset"));
	assert_null(strstr(c.s.buf, "dev-lang"));
	strbuf_reset(&c.s);
	assert_int_equal(mirror_walk(f->m, head, "no/such/dir", collect, &c), 0);
	assert_int_equal(c.s.len, 0);
	strbuf_release(&c.s);

	assert_int_equal(mirror_read_path(f->m, head, "sys-libs/zlib/zlib-1.3.recipe", &data, &len,
					  blob), 1);
	assert_string_equal(data, "REVISION=\"2\"\n");
	free(data);
	assert_int_equal(mirror_read_blob(f->m, blob, &data, &len), 0);
	assert_int_equal(len, 13);
	free(data);
	/* A symlink's content is its target. */
	assert_int_equal(mirror_read_path(f->m, head, "dev-lang/tool/link", &data, &len, NULL), 1);
	assert_string_equal(data, "run.sh");
	free(data);
	assert_int_equal(mirror_read_path(f->m, head, "nope", &data, &len, NULL), 0);
	assert_null(data);
}

static void test_diff(void **state)
{
	struct fx *f = *state;
	struct mirror_change *v = NULL;
	char head[MIRROR_ID_LEN], prev[MIRROR_ID_LEN], base[MIRROR_ID_LEN], pr[MIRROR_ID_LEN];
	size_t n = 0;
	int saw_r = 0, saw_m = 0, saw_d = 0;

	assert_int_equal(mirror_open(&f->m, f->mirror), 0);
	assert_int_equal(mirror_fetch(f->m, f->src, "master", NULL, head), 0);
	assert_int_equal(mirror_resolve(f->m, "master~1", prev), 0);
	assert_int_equal(mirror_diff(f->m, prev, head, &v, &n), 0);
	for (size_t i = 0; i < n; i++) {
		if (v[i].status == 'R') {
			saw_r = 1;
			assert_string_equal(v[i].old_path, "sys-libs/zlib/patches/zlib-1.3.patchset");
			assert_string_equal(v[i].path, "sys-libs/zlib/patches/zlib-1.3.1.patchset");
		} else if (v[i].status == 'M') {
			saw_m = 1;
			assert_string_equal(v[i].path, "sys-libs/zlib/zlib-1.3.recipe");
		} else if (v[i].status == 'D') {
			saw_d = 1;
			assert_string_equal(v[i].old_path, "README.md");
			assert_null(v[i].path);
		}
	}
	assert_int_equal(n, 3);
	assert_true(saw_r && saw_m && saw_d);
	mirror_changes_free(v, n);

	/* A pull request's changes are counted from where it left master. */
	assert_int_equal(mirror_resolve(f->m, "refs/pull/7/head", pr), 0);
	assert_int_equal(mirror_merge_base(f->m, head, pr, base), 0);
	assert_string_equal(base, prev);
}

static void test_failed_fetch_changes_nothing(void **state)
{
	struct fx *f = *state;
	char head[MIRROR_ID_LEN], again[MIRROR_ID_LEN], id[MIRROR_ID_LEN];

	assert_int_equal(mirror_open(&f->m, f->mirror), 0);
	assert_int_equal(mirror_fetch(f->m, f->src, "master", NULL, head), 0);
	/* An unknown branch is the user's mistake, named with what exists. */
	mf_error_clear();
	assert_int_equal(mirror_fetch(f->m, f->src, "main", NULL, again), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "no branch 'main' (it has: master, pr)"));
	/* A remote that is gone: an infrastructure error; the mirror keeps its refs. */
	sh("mv %s %s.gone", f->src, f->src);
	mf_error_clear();
	assert_int_equal(mirror_fetch(f->m, f->src, "master", NULL, again), -1);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	assert_non_null(strstr(mf_error_msg(), f->src));
	assert_int_equal(mirror_resolve(f->m, "master", id), 0);
	assert_string_equal(id, head);
	assert_int_equal(mirror_resolve(f->m, "refs/pull/7/head", id), 0);
	/* A remote emptied of branches is refused, not pruned to. */
	sh("mkdir %s && git init -q --bare %s", f->src, f->src);
	mf_error_clear();
	assert_int_equal(mirror_fetch(f->m, f->src, "master", NULL, again), -1);
	assert_non_null(strstr(mf_error_msg(), "no branch at all"));
	assert_int_equal(mirror_resolve(f->m, "master", id), 0);
	assert_string_equal(id, head);
	/* Branches that vanish are pruned on the next good fetch. */
	sh("rm -rf %s && mv %s.gone %s && git -C %s branch -q -D pr && git -C %s update-ref -d "
	   "refs/pull/7/head", f->src, f->src, f->src, f->src, f->src);
	assert_int_equal(mirror_fetch(f->m, f->src, "master", NULL, again), 0);
	assert_int_equal(mirror_resolve(f->m, "refs/pull/7/head", id), -1);
	assert_int_equal(mirror_resolve(f->m, "pr", id), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fetch_and_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_and_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_fetch_changes_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
