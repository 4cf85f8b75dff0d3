/*
 * test_plan.c - build runs planned (buildrun/plan.c, compiled in without
 * the runner): a tree made with git, recipes evaluated in the real
 * sandbox, a package index with an image's system packages and an
 * imported repository. Which ports join the run, and each one's state:
 * scheduled, blocked (waiting for what), lost (why), skipped (why).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildrun/buildrun.h"
#include "common/error.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/resolvable.h"
#include "ports/mirror.h"
#include "ports/tree.h"
#include "store/pkgindex.h"

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

static void put(const char *repo, const char *dir, const char *name, const char *body)
{
	char *d = xasprintf("%s/%s", repo, dir);
	char *path = xasprintf("%s/%s-1.0.recipe", d, name);
	char *text = xasprintf("SUMMARY=\"%s\"\nREVISION=\"1\"\nLICENSE=\"MIT\"\n"
			       "ARCHITECTURES=\"all\"\n%s\n", name, body);
	assert_int_equal(mf_mkdir_p(d, 0755), 0);
	assert_int_equal(mf_write_file_atomic(path, text, strlen(text), 0644), 0);
	free(d);
	free(path);
	free(text);
}

static void add_pkg(struct db *db, const char *origin, const char *name, const char *version,
		    const char *const *provides)
{
	struct hpkg_info p = { .name = (char *)name, .version = (char *)version,
			       .arch = "x86_64", .summary = "", .vendor = "", .packager = "" };
	struct hpkg_provide prov[16];
	size_t n = 0;

	for (; provides[n]; n++)
		assert_int_equal(provide_parse(provides[n], &prov[n]), 0);
	p.provides = prov;
	p.n_provides = n;
	assert_int_equal(pkgindex_add(db, origin, &p, "/srv/x.hpkg", 1, NULL), 0);
	for (size_t i = 0; i < n; i++)
		provide_release(&prov[i]);
}

static const struct br_port *find(const struct buildrun *r, const char *port)
{
	for (size_t i = 0; i < r->nports; i++)
		if (!strcmp(r->ports[i].port, port))
			return &r->ports[i];
	fail_msg("%s is not in the run", port);
	return NULL;
}

static void test_plan(void **state)
{
	struct fixture *fx = *state;
	struct db *db = fdb(state);
	char *repo = xasprintf("%s/repo", fx->dir);
	struct buildrun *r = NULL;
	struct tree *t = NULL;

	sh("git init -q -b master %s && git -C %s config user.email t@t && "
	   "git -C %s config user.name t", repo, repo, repo);
	put(repo, "dev-libs/libalpha", "libalpha",
	    "PROVIDES=\"libalpha = $portVersion\"\n"
	    "PROVIDES_devel=\"libalpha_devel = $portVersion\n devel:libalpha = $portVersion\"\n"
	    "REQUIRES_devel=\"libalpha == $portVersion base\"");
	put(repo, "app-misc/beta", "beta",
	    "PROVIDES=\"beta = $portVersion\n cmd:beta\"\nREQUIRES=\"libalpha\"\n"
	    "BUILD_REQUIRES=\"devel:libalpha >= 1\"");
	put(repo, "app-misc/gamma", "gamma",
	    "PROVIDES=\"gamma = $portVersion\"\nBUILD_REQUIRES=\"cmd:beta\"");
	put(repo, "app-misc/zeta", "zeta", "PROVIDES=\"zeta = $portVersion\"");
	put(repo, "app-misc/epsilon", "epsilon",
	    "PROVIDES=\"epsilon = $portVersion\"\nBUILD_REQUIRES=\"devel:nothing >= 2\"");
	put(repo, "app-misc/eta", "eta", "PROVIDES=\"eta = $portVersion\n cmd:eta\"\n"
	    "BUILD_REQUIRES=\"cmd:theta\"");
	put(repo, "app-misc/theta", "theta", "PROVIDES=\"theta = $portVersion\n cmd:theta\"\n"
	    "BUILD_REQUIRES=\"cmd:eta\"");
	put(repo, "app-misc/iota", "iota", "PROVIDES=\"iota = $portVersion\"\n"
	    "BUILD_REQUIRES=\"cmd:eta\"");
	sh("git -C %s add -A && git -C %s commit -q -m ports", repo, repo);

	fixture_add_image(db, "img");
	static const char *const sys[] = { "haiku = r1~beta5", "coreutils = 9", "cmd:bash",
					   "cmd:find", "cmd:grep", "cmd:objcopy", "cmd:readelf",
					   "cmd:sed", "cmd:strip", "cmd:xres", NULL };
	add_pkg(db, "system:img", "haiku", "r1~beta5-1", sys);
	/* zeta's package exists already: a revision bump is required. */
	static const char *const z[] = { "zeta = 1.0", NULL };
	add_pkg(db, "repo:old", "zeta", "1.0-1", z);

	struct tree_add_opts to = { .name = "t", .url = repo };
	assert_int_equal(tree_add(fx->st, &to, &t), 0);
	char *ports[] = { "gamma", "zeta", "epsilon", "iota", NULL };
	struct plan_opts po = { .tree = "t", .commit = t->head, .image = "img", .ports = ports,
				.kind = "build", .slots = 2 };
	if (buildrun_plan(fx->st, &po, &r) < 0)
		fail_msg("%s", mf_error_msg());

	/* gamma pulls in beta (cmd:beta) and libalpha (beta's own needs). */
	assert_int_equal(r->nports, 8);
	assert_int_equal(find(r, "gamma-1.0")->state, BR_BLOCKED);
	assert_string_equal(find(r, "gamma-1.0")->missing[0], "beta-1.0");
	assert_int_equal(find(r, "beta-1.0")->state, BR_BLOCKED);
	/* devel:libalpha, and what libalpha_devel requires (libalpha, base). */
	assert_string_equal(find(r, "beta-1.0")->missing[0], "libalpha-1.0");
	assert_string_equal(find(r, "beta-1.0")->missing[1], "libalpha_devel-1.0");
	assert_null(find(r, "beta-1.0")->missing[2]);
	assert_int_equal(find(r, "libalpha-1.0")->state, BR_SCHEDULED);
	assert_string_equal(find(r, "libalpha-1.0")->required[0], "haiku-r1~beta5-1-x86_64.hpkg");
	assert_int_equal(find(r, "zeta-1.0")->state, BR_SKIPPED);
	assert_non_null(strstr(find(r, "zeta-1.0")->reason, "revision bump required"));
	assert_int_equal(find(r, "epsilon-1.0")->state, BR_LOST);
	assert_non_null(strstr(find(r, "epsilon-1.0")->reason,
			       "build-requires \"devel:nothing >= 2\" of port \"epsilon-1.0\" "
			       "could not be resolved"));
	/* eta and theta need each other; iota needs eta. */
	assert_int_equal(find(r, "eta-1.0")->state, BR_LOST);
	assert_int_equal(find(r, "theta-1.0")->state, BR_LOST);
	assert_non_null(strstr(find(r, "eta-1.0")->reason, "dependency cycle: "));
	assert_non_null(strstr(find(r, "eta-1.0")->reason, "theta-1.0"));
	assert_int_equal(find(r, "iota-1.0")->state, BR_LOST);
	assert_non_null(strstr(find(r, "iota-1.0")->reason, "dependency eta-1.0 lost"));
	/* Recorded as planned. */
	struct buildrun *g;
	assert_int_equal(buildruns_get(db, r->id, &g), 0);
	assert_int_equal(g->nports, 8);
	assert_int_equal(find(g, "gamma-1.0")->state, BR_BLOCKED);
	buildrun_free(g);

	/* A failure makes what waits for it lost, transitively. */
	((struct br_port *)find(r, "libalpha-1.0"))->state = BR_FAILED;
	buildrun_lose_dependents(r);
	assert_int_equal(find(r, "beta-1.0")->state, BR_LOST);
	assert_int_equal(find(r, "gamma-1.0")->state, BR_LOST);
	assert_non_null(strstr(find(r, "gamma-1.0")->reason, "dependency libalpha-1.0 failed"));

	/* Bad input: a port that does not exist, or given twice. */
	char *bad[] = { "nosuch", NULL };
	po.ports = bad;
	struct buildrun *b = NULL;
	assert_int_equal(buildrun_plan(fx->st, &po, &b), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "no port 'nosuch'"));
	char *twice[] = { "zeta", "zeta-1.0", NULL };
	po.ports = twice;
	assert_int_equal(buildrun_plan(fx->st, &po, &b), -1);
	assert_non_null(strstr(mf_error_msg(), "given twice"));

	buildrun_free(r);
	tree_free(t);
	free(repo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan, state_fixture_setup,
						state_fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
