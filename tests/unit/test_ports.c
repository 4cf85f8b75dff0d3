/*
 * test_ports.c - ports of a tree at a commit (ports/port.c) and update
 * mode's changed ports (ports/changes.c), on a repository in HaikuPorts
 * layout made with git, recipes evaluated in the real sandbox.
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
#include "ports/changes.h"
#include "ports/mirror.h"
#include "ports/port.h"

#include "state_fixture.h"

static void sh(const char *fmt, ...) MF_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

struct fx {
	struct fixture state; /* first: fdb() reads it */
	char *repo;
	struct mirror *m;
	char c1[MIRROR_ID_LEN];
};

static void put(const char *repo, const char *path, const char *text)
{
	char *full = xasprintf("%s/%s", repo, path), *dir = xstrdup(full);

	*strrchr(dir, '/') = '\0';
	assert_int_equal(mf_mkdir_p(dir, 0755), 0);
	assert_int_equal(mf_write_file_atomic(full, text, strlen(text), 0644), 0);
	free(full);
	free(dir);
}

#define RECIPE(arches, provides, extra) \
	"SUMMARY=\"A port\"\nREVISION=\"2\"\nLICENSE=\"MIT\"\n" \
	"ARCHITECTURES=\"" arches "\"\nSECONDARY_ARCHITECTURES=\"x86\"\n" \
	"PROVIDES=\"" provides "\"\n" extra

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	void *inner = NULL;
	char head[MIRROR_ID_LEN];

	if (state_fixture_setup(&inner) < 0)
		return -1;
	f->state = *(struct fixture *)inner;
	free(inner);
	f->repo = xasprintf("%s/repo", f->state.dir);
	sh("git init -q -b master %s && git -C %s config user.email t@t && "
	   "git -C %s config user.name t", f->repo, f->repo, f->repo);
	put(f->repo, "sys-libs/zlib/zlib-1.3.2.recipe",
	    RECIPE("all !x86_gcc2", "zlib$secondaryArchSuffix = $portVersion",
		   "PATCHES=\"zlib-$portVersion.patchset\"\nADDITIONAL_FILES=\"docs\"\n"
		   "PROVIDES_devel=\"zlib${secondaryArchSuffix}_devel = $portVersion\"\n"
		   "ARCHITECTURES_doc=\"any\"\nPROVIDES_doc=\"zlib_doc = $portVersion\"\n"));
	put(f->repo, "sys-libs/zlib/zlib-1.2.recipe",
	    RECIPE("all", "zlib$secondaryArchSuffix = $portVersion", ""));
	put(f->repo, "sys-libs/zlib/zlib-1.4.recipe",
	    RECIPE("!x86_64 x86_gcc2", "zlib = $portVersion",
		   "SECONDARY_ARCHITECTURES=\"!x86\"\n"));
	put(f->repo, "sys-libs/zlib/patches/zlib-1.3.2.patchset", "p\n");
	put(f->repo, "sys-libs/zlib/patches/zlib-1.2.patchset", "old\n");
	put(f->repo, "sys-libs/zlib/additional-files/docs/a.txt", "a\n");
	put(f->repo, "sys-libs/zlib/licenses/MIT", "mit\n");
	put(f->repo, "dev-util/tool/tool-2.recipe", RECIPE("any", "tool = 2", ""));
	put(f->repo, "dev-util/dup/dup-1.recipe", RECIPE("all", "dup = 1", ""));
	put(f->repo, "app-misc/dup/dup-1.recipe", RECIPE("all", "dup = 1", ""));
	put(f->repo, "dev-util/bad/bad-1.recipe", "REVISION=\"1\"\nif [\n");
	put(f->repo, "meta-ports/meta_x/meta_x-1.recipe", RECIPE("any", "meta_x = 1", ""));
	put(f->repo, "nodash/foo/foo-1.recipe", RECIPE("all", "foo = 1", ""));
	put(f->repo, "dev-util/tool/not-a-recipe-1.recipe", "x\n");
	put(f->repo, "README.md", "readme\n");
	sh("cd %s && git add -A && git commit -q -m c1", f->repo);
	char *mdir = xasprintf("%s/mirror.git", f->state.dir);
	assert_int_equal(mirror_open(&f->m, mdir), 0);
	free(mdir);
	assert_int_equal(mirror_fetch(f->m, f->repo, "master", NULL, head), 0);
	memcpy(f->c1, head, sizeof(head));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	void *inner = xcalloc(1, sizeof(struct fixture));

	mirror_close(f->m);
	*(struct fixture *)inner = f->state;
	state_fixture_teardown(&inner);
	free(f->repo);
	free(f);
	return 0;
}

static const struct recipe_env env64 = {
	.target_arch = "x86_64",
	.tree_path = "/boot/home/haikuports",
	.packager = "Mayfly Test <test@localhost>",
	.timeout_s = 10,
};

static void test_index_and_resolve(void **state)
{
	struct fx *f = *state;
	struct port_index *idx = NULL;
	struct port *p = NULL;
	size_t first, n;

	assert_int_equal(port_index_build(f->m, f->c1, &idx), 0);
	port_index_find(idx, "zlib", &first, &n);
	assert_int_equal(n, 3);
	assert_string_equal(idx->v[first].version, "1.4"); /* highest first */
	port_index_find(idx, "foo", &first, &n);
	assert_int_equal(n, 0); /* "nodash" is no category */
	port_index_find(idx, "not", &first, &n);
	assert_int_equal(n, 0); /* two dashes: no recipe */

	struct port_ctx c = { fdb(state), f->m, f->c1, idx, &env64, "x86", 0 };
	/* 1.4 is broken on x86_64: the active version is 1.3.2. */
	if (port_resolve(&c, "zlib", &p) < 0)
		fail_msg("%s", mf_error_msg());
	assert_string_equal(p->versioned_name, "zlib-1.3.2");
	assert_string_equal(p->dir, "sys-libs/zlib");
	assert_int_equal(p->npackages, 3);
	assert_string_equal(p->packages[0].file, "zlib-1.3.2-2-x86_64.hpkg");
	assert_string_equal(p->packages[1].file, "zlib_devel-1.3.2-2-x86_64.hpkg");
	assert_string_equal(p->packages[2].file, "zlib_doc-1.3.2-2-any.hpkg");
	port_free(p);
	/* An explicit version, even an older one. */
	assert_int_equal(port_resolve(&c, "zlib-1.2", &p), 0);
	assert_string_equal(p->versioned_name, "zlib-1.2");
	port_free(p);
	/* A secondary-architecture port of the builder. */
	assert_int_equal(port_resolve(&c, "zlib_x86", &p), 0);
	assert_string_equal(p->versioned_name, "zlib_x86-1.3.2");
	assert_string_equal(p->packages[0].file, "zlib_x86-1.3.2-2-x86_64.hpkg");
	assert_string_equal(p->packages[1].file, "zlib_x86_devel-1.3.2-2-x86_64.hpkg");
	assert_string_equal(p->packages[2].file, "zlib_doc-1.3.2-2-any.hpkg");
	port_free(p);
	/* Source packages when the tree asks for them. */
	c.create_source_packages = 1;
	assert_int_equal(port_resolve(&c, "tool", &p), 0);
	assert_string_equal(p->packages[0].file, "tool-2-2-any.hpkg");
	assert_string_equal(p->packages[1].file, "tool_source-2-2-source.hpkg");
	port_free(p);
	c.create_source_packages = 0;

	/* Bad input, each named. */
	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{ "nope", "no port 'nope'" },
		{ "zlib-9", "has no version 9" },
		{ "dup", "two ports are named 'dup'" },
		{ "bad-1", "does not evaluate" },
		{ "bad", "no version buildable" },
		{ "tool_x86", "for any architecture: no secondary port" },
		{ "zlib;reboot", "invalid recipe name" },
		{ "a-b-c-d", "is not a port" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mf_error_clear();
		if (port_resolve(&c, bad[i].spec, &p) == 0)
			fail_msg("'%s' resolved", bad[i].spec);
		assert_int_equal(mf_error_class(), MF_E_USAGE);
		if (!strstr(mf_error_msg(), bad[i].msg))
			fail_msg("'%s': %s", bad[i].spec, mf_error_msg());
	}
	port_index_free(idx);
}

/* Commits one change in the repository and returns the ports update mode builds for it. */
static char *changed_by(void **state, const char *what)
{
	struct fx *f = *state;
	struct port_index *idx = NULL;
	struct change *v = NULL;
	char before[MIRROR_ID_LEN], head[MIRROR_ID_LEN];
	size_t n = 0;
	struct strbuf out = STRBUF_INIT;

	assert_int_equal(mirror_resolve(f->m, "master", before), 0);
	sh("cd %s && %s && git add -A && git commit -q -m change", f->repo, what);
	assert_int_equal(mirror_fetch(f->m, f->repo, "master", NULL, head), 0);
	assert_int_equal(port_index_build(f->m, head, &idx), 0);
	struct port_ctx c = { fdb(state), f->m, head, idx, &env64, "x86", 0 };
	if (changes_ports(&c, before, &v, &n, NULL) < 0)
		fail_msg("%s", mf_error_msg());
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&out, "%s%s<%s", i ? " " : "", v[i].port, v[i].file);
	changes_free(v, n);
	port_index_free(idx);
	return strbuf_detach(&out);
}

static void expect_changed(void **state, const char *what, const char *want)
{
	char *got = changed_by(state, what);

	if (strcmp(got, want))
		fail_msg("after '%s': got '%s', expected '%s'", what, got, want);
	free(got);
}

static void test_changes(void **state)
{
	/* The active recipe: the port and its secondary-architecture port. */
	expect_changed(state, "echo '#' >> sys-libs/zlib/zlib-1.3.2.recipe",
		       "zlib-1.3.2<sys-libs/zlib/zlib-1.3.2.recipe "
		       "zlib_x86-1.3.2<sys-libs/zlib/zlib-1.3.2.recipe");
	/* An older version's recipe, an unlisted patch, a file outside ports: nothing. */
	expect_changed(state, "echo '#' >> sys-libs/zlib/zlib-1.2.recipe", "");
	expect_changed(state, "echo x >> sys-libs/zlib/patches/zlib-1.2.patchset", "");
	expect_changed(state, "echo x >> README.md", "");
	/* A listed patch, a file under a listed directory, the port's license. */
	expect_changed(state, "echo x >> sys-libs/zlib/patches/zlib-1.3.2.patchset",
		       "zlib-1.3.2<sys-libs/zlib/patches/zlib-1.3.2.patchset "
		       "zlib_x86-1.3.2<sys-libs/zlib/patches/zlib-1.3.2.patchset");
	expect_changed(state, "echo y > sys-libs/zlib/additional-files/docs/b.txt",
		       "zlib-1.3.2<sys-libs/zlib/additional-files/docs/b.txt "
		       "zlib_x86-1.3.2<sys-libs/zlib/additional-files/docs/b.txt");
	expect_changed(state, "echo y >> sys-libs/zlib/licenses/MIT",
		       "zlib-1.3.2<sys-libs/zlib/licenses/MIT "
		       "zlib_x86-1.3.2<sys-libs/zlib/licenses/MIT");
	/* A deletion triggers nothing; a port with no buildable version is left out. */
	expect_changed(state, "git rm -q sys-libs/zlib/additional-files/docs/a.txt", "");
	expect_changed(state, "echo '#' >> dev-util/bad/bad-1.recipe", "");
	/* A rename counts as its new path; an any port has no secondary port. */
	expect_changed(state, "git mv dev-util/tool/tool-2.recipe dev-util/tool/tool-3.recipe",
		       "tool-3<dev-util/tool/tool-3.recipe");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_index_and_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
