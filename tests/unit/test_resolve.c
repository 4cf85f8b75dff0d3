/*
 * test_resolve.c - provides and requires as HaikuPorter parses and matches
 * them, the package index in a real SQLite state, and a port's needs
 * resolved against it: the real repo.hpkr (235 packages), an image's
 * system packages and the ports of a tree.
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
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/resolvable.h"
#include "ports/resolve.h"
#include "store/pkgindex.h"

#include "state_fixture.h"

#define DATA MAYFLY_TESTDATA "/haiku/"

static void test_parse(void **state)
{
	struct hpkg_provide p;
	struct requirement r;
	(void)state;

	assert_int_equal(provide_parse("lib:libfoo = 1.2.3 compat >= 1", &p), 0);
	assert_string_equal(p.name, "lib:libfoo");
	assert_string_equal(p.version, "1.2.3");
	assert_string_equal(p.compat, "1");
	provide_release(&p);
	assert_int_equal(provide_parse("foo = 2 (compatible >= 1.5)", &p), 0);
	assert_string_equal(p.compat, "1.5");
	provide_release(&p);
	assert_int_equal(provide_parse("  cmd:foo  ", &p), 0);
	assert_string_equal(p.name, "cmd:foo");
	assert_null(p.version);
	provide_release(&p);
	assert_int_equal(provide_parse("foo = ", &p), -1);
	assert_non_null(strstr(mf_error_msg(), "provides 'foo = '"));
	assert_int_equal(provide_parse("foo = 1 compat 2", &p), -1);

	assert_int_equal(requirement_parse("haiku >= r1~beta4", &r), 0);
	assert_string_equal(r.name, "haiku");
	assert_int_equal(r.op, HPKG_OP_GE);
	assert_string_equal(r.version, "r1~beta4");
	assert_false(r.base);
	requirement_release(&r);
	assert_int_equal(requirement_parse("devel:libz>=1.2 base", &r), 0);
	assert_string_equal(r.name, "devel:libz");
	assert_int_equal(r.op, HPKG_OP_GE);
	assert_true(r.base);
	char *s = requirement_string(&r);
	assert_string_equal(s, "devel:libz >= 1.2 base");
	free(s);
	requirement_release(&r);
	assert_int_equal(requirement_parse("foo = 1", &r), 0);
	assert_int_equal(r.op, HPKG_OP_EQ);
	requirement_release(&r);
	assert_int_equal(requirement_parse("foo ~= 1", &r), -1);
	assert_non_null(strstr(mf_error_msg(), "requires 'foo ~= 1'"));
	assert_int_equal(requirement_parse("foo >=", &r), -1);
	assert_int_equal(requirement_parse("foo >= 1 extra", &r), -1);
}

static int met(const char *req, const char *prov)
{
	struct hpkg_provide p;
	struct requirement r;

	assert_int_equal(requirement_parse(req, &r), 0);
	assert_int_equal(provide_parse(prov, &p), 0);
	int m = requirement_met_by(&r, &p);
	requirement_release(&r);
	provide_release(&p);
	return m;
}

static void test_match(void **state)
{
	(void)state;
	assert_true(met("foo", "foo"));
	assert_true(met("foo", "foo = 1"));
	assert_false(met("foo >= 1", "foo"));	 /* an operator needs a version */
	assert_true(met("foo >= 1.2", "foo = 1.10"));
	assert_false(met("foo >= 1.10", "foo = 1.9"));
	assert_true(met("foo < 2", "foo = 1.99"));
	assert_true(met("foo != 2", "foo = 3"));
	assert_true(met("foo == 1.2", "foo = 1.2"));
	assert_true(met("foo <= 1.2", "foo = 1.2"));
	assert_true(met("foo > 1.2", "foo = 1.2.1"));   /* more parts sort higher */
	/* A pre-release sorts below its release. */
	assert_false(met("foo >= 1.0", "foo = 1.0~beta2"));
	assert_true(met("foo >= 1.0~beta1", "foo = 1.0~beta2"));
	assert_true(met("foo >= r1~beta1_hrev52295_129-1", "foo = r1~beta4_hrev56578_59-1"));
	/* compat >= : a provider too new for what is asked does not meet it. */
	assert_false(met("lib:libfoo >= 1.5", "lib:libfoo = 2.1 compat >= 2"));
	assert_true(met("lib:libfoo >= 2.0", "lib:libfoo = 2.1 compat >= 2"));
	assert_true(met("lib:libfoo", "lib:libfoo = 2.1 compat >= 2"));
}

/* An in-memory package: name-version, arch, provides and requires as text. */
struct fake {
	struct hpkg_info info;
};

static void fake_pkg(struct hpkg_info *p, const char *name, const char *version,
		     const char *arch, const char *const *provides, const char *const *requires)
{
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->version = xstrdup(version);
	p->arch = xstrdup(arch);
	p->summary = xstrdup("");
	p->vendor = xstrdup("");
	p->packager = xstrdup("");
	for (; provides && *provides; provides++) {
		p->provides = xrealloc(p->provides, (p->n_provides + 1) * sizeof(*p->provides));
		assert_int_equal(provide_parse(*provides, &p->provides[p->n_provides++]), 0);
	}
	for (; requires && *requires; requires++) {
		struct requirement r;
		assert_int_equal(requirement_parse(*requires, &r), 0);
		p->requires = xrealloc(p->requires, (p->n_requires + 1) * sizeof(*p->requires));
		p->requires[p->n_requires++] =
			(struct hpkg_require){ .name = r.name, .op = r.op, .version = r.version };
	}
}

static void add_fake(struct db *db, const char *origin, const char *name, const char *version,
		     const char *arch, const char *const *provides, const char *const *requires)
{
	struct hpkg_info p;

	fake_pkg(&p, name, version, arch, provides, requires);
	char *loc = xasprintf("/srv/%s.hpkg", name);
	assert_int_equal(pkgindex_add(db, origin, &p, loc, 10, NULL), 0);
	free(loc);
	hpkg_info_release(&p);
}

static void import_repo(struct db *db)
{
	struct hpkg_file f;
	char **locs;

	assert_int_equal(hpkg_read_file(DATA "repo.hpkr", &f), 0);
	locs = xcalloc(f.n_pkgs + 1, sizeof(*locs));
	for (size_t i = 0; i < f.n_pkgs; i++) {
		char *name = hpkg_file_name(&f.pkgs[i]);
		locs[i] = xasprintf("https://example.invalid/packages/%s", name);
		free(name);
	}
	struct pkg_repo r = { .name = "old", .hpkr_sha256 = "00", .packages =
			      "https://example.invalid/packages" };
	assert_int_equal(pkgindex_import_repo(db, &r, f.pkgs, f.n_pkgs, locs), 0);
	mf_strv_free(locs);
	hpkg_file_release(&f);
}

static char *file_of(struct pkgindex *ix, int64_t id)
{
	struct pkg_entry e;
	assert_int_equal(pkgindex_get(ix, id, &e), 0);
	char *s = xstrdup(e.file_name);
	pkg_entry_free(&e);
	return s;
}

/* The files of a resolution, comma-joined. */
static char *files(struct pkgindex *ix, const struct resolution *r)
{
	char *out = xstrdup("");
	for (size_t i = 0; i < r->npkgs; i++) {
		char *f = file_of(ix, r->pkgs[i]), *n = xasprintf("%s%s%s", out, i ? "," : "", f);
		free(f);
		free(out);
		out = n;
	}
	return out;
}

static void test_index_repo(void **state)
{
	struct db *db = fdb(state);
	struct pkgindex *ix;
	struct pkg_provider *v;
	size_t n;
	int64_t count;

	import_repo(db);
	assert_int_equal(pkgindex_count(db, "repo:old", &count), 0);
	assert_int_equal(count, 235);
	assert_int_equal(pkgindex_open(db, &ix), 0);
	assert_int_equal(pkgindex_providers(ix, "lib:libapr_1", "x86", NULL, NULL, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].provide.version, "0.4.6");
	assert_string_equal(v[0].provide.compat, "0");
	assert_false(v[0].system);
	pkg_providers_free(v, n);
	/* Another architecture sees nothing of an x86 repository. */
	assert_int_equal(pkgindex_providers(ix, "lib:libapr_1", "x86_64", NULL, NULL, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	pkgindex_close(ix);
	/* A re-import replaces, never duplicates. */
	import_repo(db);
	assert_int_equal(pkgindex_count(db, NULL, &count), 0);
	assert_int_equal(count, 235);
	assert_int_equal(pkgindex_remove_repo(db, "old"), 0);
	assert_int_equal(pkgindex_count(db, NULL, &count), 0);
	assert_int_equal(count, 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM pkg_provides WHERE ?1 = ?1", 0), 0);
	assert_int_equal(pkgindex_remove_repo(db, "old"), -1);
	assert_non_null(strstr(mf_error_msg(), "unknown repository 'old'"));
}

/* Against the real repository, with haiku itself from the image. */
static void test_resolve_repo(void **state)
{
	struct db *db = fdb(state);
	struct pkgindex *ix;
	struct resolution r;
	static const char *const haiku[] = { "haiku = r1~alpha4_pm_hrev46690-1", NULL };
	char *reqs[] = { "devel:libapr_1", NULL };

	import_repo(db);
	add_fake(db, "system:img", "haiku", "r1~alpha4_pm_hrev46690-1", "x86", haiku, NULL);
	assert_int_equal(pkgindex_open(db, &ix), 0);
	struct resolve_env env = { .ix = ix, .arch = "x86", .image = "img" };
	assert_int_equal(resolve_port(&env, "aprutil-1.5.2", reqs, NULL, &r), 0);
	assert_null(r.error);
	char *s = files(ix, &r);
	/* apr_devel, then what it requires (apr == 1.4.6), then what that needs. */
	assert_string_equal(s, "apr_devel-1.4.6-7-x86.hpkg,apr-1.4.6-7-x86.hpkg,"
			       "haiku-r1~alpha4_pm_hrev46690-1-x86.hpkg");
	free(s);
	assert_int_equal(r.nports, 0);
	resolution_release(&r);

	/* Another image's system packages are not seen: haiku is missing. */
	env.image = "other";
	assert_int_equal(resolve_port(&env, "aprutil-1.5.2", reqs, NULL, &r), 0);
	assert_non_null(r.error);
	assert_string_equal(r.error, "requires \"haiku >= r1~alpha4_pm-1\" of package "
				     "\"apr-1.4.6-7-x86.hpkg\" could not be resolved");
	resolution_release(&r);
	pkgindex_close(ix);
}

/* The six ports of the integration test, and the order of providers. */
static void test_resolve_tree(void **state)
{
	struct db *db = fdb(state);
	struct pkgindex *ix;
	struct resolution r;
	static const char *const sys[] = { "haiku = r1~beta5-1", "cmd:bash = 5.2",
					   "coreutils = 9.1", NULL };
	add_fake(db, "system:img", "haiku", "r1~beta5-1", "x86_64", sys, NULL);
	static const char *const old[] = { "devel:libold = 1.0", NULL };
	add_fake(db, "repo:main", "libold", "1.0-1", "x86_64", old, NULL);

	struct hpkg_provide pa[] = { { "libalpha", "1.0", NULL }, { "devel:libalpha", "1.0", NULL } };
	struct hpkg_provide pb[] = { { "beta", "2.0", NULL }, { "cmd:beta", "2.0", NULL } };
	struct hpkg_provide pd[] = { { "delta", "1.0", NULL }, { "devel:libdelta", "1.0", NULL } };
	/* A tree port that provides what an existing package provides too. */
	struct hpkg_provide po[] = { { "devel:libold", "2.0", NULL } };
	struct requirement rb[] = { { "libalpha", HPKG_OP_GE, "1.0", 0 } };
	struct tree_package tree[] = {
		{ "libalpha-1.0", "libalpha-1.0", pa, 2, NULL, 0 },
		{ "beta-2.0", "beta-2.0", pb, 2, rb, 1 },
		{ "delta-1.0", "delta-1.0", pd, 2, NULL, 0 },
		{ "newold-2.0", "newold-2.0", po, 1, NULL, 0 },
	};
	struct tree_provides *tp = tree_provides_new(tree, 4);
	assert_int_equal(pkgindex_open(db, &ix), 0);
	char *always[] = { "coreutils", "cmd:bash", NULL };
	struct resolve_env env = { .ix = ix, .arch = "x86_64", .image = "img", .tree = tp,
				   .always = always };

	char *beta[] = { "devel:libalpha", NULL };
	assert_int_equal(resolve_port(&env, "beta-2.0", beta, NULL, &r), 0);
	assert_null(r.error);
	assert_int_equal(r.nports, 1);
	assert_string_equal(r.ports[0], "libalpha-1.0");
	assert_int_equal(r.nmissing, 1);
	assert_string_equal(r.missing[0], "libalpha-1.0");
	char *s = files(ix, &r); /* the scriptlet prerequisites, from the image */
	assert_string_equal(s, "haiku-r1~beta5-1-x86_64.hpkg");
	free(s);
	resolution_release(&r);

	/* gamma needs cmd:beta, and beta at run time needs libalpha: both built first. */
	char *gamma[] = { "cmd:beta >= 2", NULL };
	assert_int_equal(resolve_port(&env, "gamma-1.0", gamma, NULL, &r), 0);
	assert_null(r.error);
	assert_int_equal(r.nports, 2);
	assert_string_equal(r.missing[0], "beta-2.0");
	assert_string_equal(r.missing[1], "libalpha-1.0");
	resolution_release(&r);

	/* The index comes before the tree; "base" skips existing packages. */
	char *o1[] = { "devel:libold", NULL };
	assert_int_equal(resolve_port(&env, "x-1", o1, NULL, &r), 0);
	assert_int_equal(r.nports, 0);
	s = files(ix, &r);
	assert_non_null(strstr(s, "libold-1.0-1-x86_64.hpkg"));
	free(s);
	resolution_release(&r);
	char *o2[] = { "devel:libold base", NULL };
	assert_int_equal(resolve_port(&env, "x-1", NULL, o2, &r), 0);
	assert_int_equal(r.nports, 1);
	assert_string_equal(r.ports[0], "newold-2.0");
	resolution_release(&r);
	/* A version only the tree has. */
	char *o3[] = { "devel:libold >= 2", NULL };
	assert_int_equal(resolve_port(&env, "x-1", o3, NULL, &r), 0);
	assert_int_equal(r.nports, 1);
	resolution_release(&r);

	/* Nothing provides it: the port is lost, the requirement named. */
	char *eps[] = { "devel:libepsilon_dep >= 3", NULL };
	assert_int_equal(resolve_port(&env, "epsilon-1.0", eps, NULL, &r), 0);
	assert_string_equal(r.error, "build-requires \"devel:libepsilon_dep >= 3\" of port "
				     "\"epsilon-1.0\" could not be resolved");
	resolution_release(&r);

	/* A port that needs what only it makes. */
	char *self[] = { "devel:libdelta", NULL };
	assert_int_equal(resolve_port(&env, "delta-1.0", self, NULL, &r), 0);
	assert_non_null(strstr(r.error, "met only by the port itself"));
	resolution_release(&r);

	/* A malformed requirement is reported, not guessed at. */
	char *bad[] = { "foo >=", NULL };
	assert_int_equal(resolve_port(&env, "z-1", bad, NULL, &r), 0);
	assert_non_null(strstr(r.error, "build-requires of port \"z-1\": requires 'foo >='"));
	resolution_release(&r);

	/* Without the image's packages, the scriptlet prerequisites are unmet. */
	env.image = NULL;
	assert_int_equal(resolve_port(&env, "beta-2.0", beta, NULL, &r), 0);
	assert_string_equal(r.error, "build-prerequires \"coreutils\" of port \"beta-2.0\" could "
				     "not be resolved");
	resolution_release(&r);
	pkgindex_close(ix);
	tree_provides_free(tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_match),
		cmocka_unit_test_setup_teardown(test_index_repo, state_fixture_setup,
						state_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_repo, state_fixture_setup,
						state_fixture_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_tree, state_fixture_setup,
						state_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
