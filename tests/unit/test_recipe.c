/*
 * test_recipe.c - recipes evaluated as HaikuPorter evaluates them, in the
 * sandbox (real bubblewrap, real bash), from a git repository the test
 * makes; and the parts that need no sandbox: versions, architectures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "ports/mirror.h"
#include "ports/recipe.h"
#include "ports/sandbox.h"
#include "pkg/version.h"
#include "store/db.h"
#include "store/state.h"

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

/* No process of this test's sandbox users remains (their namespaces go within moments). */
static void nothing_left(void)
{
	unsigned lo = (unsigned)sandbox_uid(0), hi = (unsigned)sandbox_uid(63);

	sh("for i in $(seq 50); do ps -eo uid= | awk '$1 >= %u && $1 <= %u { f = 1 } END { "
	   "exit !f }' || exit 0; sleep 0.1; done; ps -eo uid=,pid=,stat=,args= | "
	   "awk '$1 >= %u && $1 <= %u'; exit 1", lo, hi, lo, hi);
}

static void test_version_compare(void **state)
{
	static const char *const ordered[] = {
		"0.9", "1", "1.0", "1.0.0", "1.0.1", "1.1~alpha", "1.1~beta1", "1.1~beta2",
		"1.1~beta10", "1.1", "1.2a", "1.2b", "1.10", "2~rc1", "2", "10",
	};
	size_t n = sizeof(ordered) / sizeof(ordered[0]);

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int want = i < j ? -1 : i > j ? 1 : 0;
			if (version_compare(ordered[i], ordered[j]) != want)
				fail_msg("version_compare(%s, %s) != %d", ordered[i], ordered[j],
					 want);
		}
	assert_int_equal(version_compare("1.01", "1.1"), 0);
	assert_int_equal(version_compare("1.A", "1.a"), 0);
	assert_int_equal(natural_compare("r1~beta4", "r1~beta10"), -1);
	assert_int_equal(natural_compare("a", "a1"), -1);
	assert_int_equal(natural_compare("", ""), 0);
}

static void test_arch_status(void **state)
{
	assert_int_equal(recipe_arch_status("all !x86_gcc2", "x86_64"), ARCH_STABLE);
	assert_int_equal(recipe_arch_status("all !x86_gcc2", "x86_gcc2"), ARCH_BROKEN);
	assert_int_equal(recipe_arch_status("all !x86_gcc2 ?x86", "x86"), ARCH_UNTESTED);
	assert_int_equal(recipe_arch_status("x86_gcc2 ?x86", "x86_64"), ARCH_UNSUPPORTED);
	assert_int_equal(recipe_arch_status("any", "riscv64"), ARCH_STABLE);
	assert_int_equal(recipe_arch_status("riscv64 X86_64 ?arm64", "x86_64"), ARCH_STABLE);
	assert_int_equal(recipe_arch_status(NULL, "x86_64"), ARCH_UNSUPPORTED);
	assert_true(recipe_arch_any("any"));
	assert_false(recipe_arch_any("all !x86_gcc2"));
}

/* Recipes in HaikuPorts layout, as real ones are written. */
static const char zlib_recipe[] =
	"SUMMARY=\"A compression library\"\n"
	"HOMEPAGE=\"https://zlib.net\"\n"
	"SOURCE_URI=\"https://zlib.net/zlib-$portVersion.tar.xz\n"
	"\thttps://mirror.example/zlib-$portVersion.tar.xz\"\n"
	"CHECKSUM_SHA256=\"38ef96b8dfe510d42707d9c781877914792541133e1870841463bfa73f883e32\"\n"
	"SOURCE_URI_2=\"https://example.org/extra-2.tar.gz#noarchive\"\n"
	"SOURCE_FILENAME_2=\"extra.tar.gz\"\n"
	"REVISION=\"3\"\n"
	"LICENSE=\"Zlib\"\n"
	"PATCHES=\"zlib-$portVersion.patchset\"\n"
	"ADDITIONAL_FILES=\"zlib.rdef.in\n\tdocs\"\n"
	"ARCHITECTURES=\"all !x86_gcc2 ?riscv64\"\n"
	"SECONDARY_ARCHITECTURES=\"x86\"\n"
	"libVersion=\"$portVersion\"\n"
	"libVersionCompat=\"$libVersion compat >= ${libVersion%%.*}\"\n"
	"PROVIDES=\"\n"
	"\tzlib$secondaryArchSuffix = $libVersionCompat\n"
	"\tlib:libz$secondaryArchSuffix = $libVersionCompat  # the library\n"
	"\t\"\n"
	"REQUIRES=\"\n\thaiku$secondaryArchSuffix\n\t\"\n"
	"if [ \"$effectiveTargetArchitecture\" != x86_gcc2 ]; then\n"
	"REQUIRES=\"$REQUIRES\n\tlib:liblzma$secondaryArchSuffix\n\t\"\n"
	"fi\n"
	"PROVIDES_devel=\"\n\tzlib${secondaryArchSuffix}_devel = $portVersion\n"
	"\tdevel:libz$secondaryArchSuffix = $libVersionCompat\n\t\"\n"
	"REQUIRES_devel=\"\n\tzlib$secondaryArchSuffix == $portVersion base\n\t\"\n"
	"ARCHITECTURES_doc=\"any\"\n"
	"PROVIDES_doc=\"zlib_doc = $portVersion\"\n"
	"BUILD_REQUIRES=\"\n\thaiku${secondaryArchSuffix}_devel\n\t\"\n"
	"BUILD_PREREQUIRES=\"\n\tcmd:gcc$secondaryArchSuffix\n\tcmd:make\n\t\"\n"
	"linksDir=\"$portPackageLinksDir\"\n"
	"defineDebugInfoPackage zlib$secondaryArchSuffix \"$libDir\"/libz.so.1\n"
	"BUILD()\n{\n\tmake -j$jobs\n}\n"
	"INSTALL()\n{\n\tmake install\n}\n";

struct fx {
	struct fixture state;	/* must be first: fdb() reads it */
	char *repo, *mirror_dir;
	struct mirror *m;
	char head[MIRROR_ID_LEN];
};

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	void *inner = NULL;

	if (state_fixture_setup(&inner) < 0)
		return -1;
	f->state = *(struct fixture *)inner;
	free(inner);
	f->repo = xasprintf("%s/repo", f->state.dir);
	f->mirror_dir = xasprintf("%s/mirror.git", f->state.dir);
	sh("set -e; git init -q -b master %s; cd %s; git config user.email t@t;"
	   "git config user.name t; mkdir -p sys-libs/zlib/patches sys-libs/zlib/additional-files/docs"
	   " dev-util/broken dev-util/hang dev-util/bomb dev-util/chatty dev-util/probe",
	   f->repo, f->repo);
	char *path = xasprintf("%s/sys-libs/zlib/zlib-1.3.2.recipe", f->repo);
	assert_int_equal(mf_write_file_atomic(path, zlib_recipe, strlen(zlib_recipe), 0644), 0);
	free(path);
	sh("cd %s; echo p > sys-libs/zlib/patches/zlib-1.3.2.patchset;"
	   "echo r > sys-libs/zlib/additional-files/zlib.rdef.in;"
	   "printf 'REVISION=\"1\"\\nPROVIDES=\"broken = 1\"\\nif [ ; then\\n' > "
	   "dev-util/broken/broken-1.recipe;"
	   "printf 'REVISION=\"1\"\\nARCHITECTURES=\"all\"\\nPROVIDES=\"hang = 1\"\\n"
	   "while :; do :; done\\n' > dev-util/hang/hang-1.recipe;"
	   "printf 'REVISION=\"1\"\\nARCHITECTURES=\"all\"\\nPROVIDES=\"bomb = 1\"\\n"
	   "b() { b | b & }; b\\n' > dev-util/bomb/bomb-1.recipe;"
	   "printf 'REVISION=\"1\"\\nARCHITECTURES=\"all\"\\n"
	   "p=x; for i in $(seq 26); do p=$p$p; done\\nPROVIDES=\"chatty = 1$p\"\\n' > "
	   "dev-util/chatty/chatty-1.recipe;"
	   /* What a recipe can reach from inside: nothing of the host, no network. */
	   "printf 'REVISION=\"1\"\\nARCHITECTURES=\"all\"\\n"
	   "PROVIDES=\"probe = 1\"\\n"
	   "SUMMARY=\"$(id -u) $(ls / | tr \"\\\\\\\\n\" ,) "
	   "$(touch %s/escaped 2>/dev/null && echo wrote || echo ro) "
	   "$( (exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && echo net || echo nonet) "
	   "$(cat /proc/1/cmdline | tr \"\\\\\\\\0\" \" \")\"\\n' > dev-util/probe/probe-1.recipe;"
	   "git add -A; git commit -q -m ports", f->repo, f->state.dir);
	assert_int_equal(mirror_open(&f->m, f->mirror_dir), 0);
	if (mirror_fetch(f->m, f->repo, "master", NULL, f->head) < 0)
		fail_msg("fetch: %s", mf_error_msg());
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
	free(f->mirror_dir);
	free(f);
	return 0;
}

static const struct recipe_env env64 = {
	.target_arch = "x86_64",
	.tree_path = "/boot/home/haikuports",
	.packager = "Mayfly Test <test@localhost>",
	.timeout_s = 5,
};

static int has(char **v, const char *s)
{
	for (; v && *v; v++)
		if (!strcmp(*v, s))
			return 1;
	return 0;
}

static void test_evaluate_zlib(void **state)
{
	struct fx *f = *state;
	struct recipe_job jobs[] = {
		{ "sys-libs/zlib", "zlib-1.3.2.recipe", "zlib", "1.3.2", NULL },
		{ "sys-libs/zlib", "zlib-1.3.2.recipe", "zlib", "1.3.2", "x86" },
	};
	struct recipe *r[2] = { NULL, NULL };

	if (recipe_evaluate(fdb(state), f->m, f->head, &env64, jobs, 2, r) < 0)
		fail_msg("evaluate: %s", mf_error_msg());
	for (int i = 0; i < 2; i++)
		if (r[i]->error)
			fail_msg("recipe %d: %s", i, r[i]->error);
	struct recipe *z = r[0];
	assert_int_equal(z->revision, 3);
	/* Packages with a PROVIDES, base first: "", debuginfo, devel, doc. */
	assert_int_equal(z->npackages, 4);
	assert_string_equal(z->packages[0].ext, "");
	assert_string_equal(z->packages[1].ext, "debuginfo");
	assert_string_equal(z->packages[2].ext, "devel");
	assert_string_equal(z->packages[3].ext, "doc");
	/* Lists: lines, lowercased, comments and blanks gone, conditionals applied. */
	assert_true(has(z->packages[0].provides, "zlib = 1.3.2 compat >= 1"));
	assert_true(has(z->packages[0].provides, "lib:libz = 1.3.2 compat >= 1"));
	assert_true(has(z->packages[0].requires, "haiku"));
	assert_true(has(z->packages[0].requires, "lib:liblzma"));
	assert_true(has(z->packages[2].requires, "zlib == 1.3.2 base"));
	assert_true(has(z->packages[1].provides, "zlib_debuginfo = 1.3.2"));
	assert_true(has(z->packages[1].provides,
			"\"debuginfo:libz.so.1(zlib)\" = 1.3.2"));
	assert_true(has(z->build_requires, "haiku_devel"));
	assert_true(has(z->build_prerequires, "cmd:gcc"));
	/* ARCHITECTURES is inherited; _doc has its own. */
	assert_string_equal(z->packages[2].architectures, "all !x86_gcc2 ?riscv64");
	assert_string_equal(z->packages[3].architectures, "any");
	/* Sources: mirrors in order, indexes, file names. */
	assert_int_equal(z->nsources, 2);
	struct recipe_source *s1 = z->sources[0].index == 1 ? &z->sources[0] : &z->sources[1];
	struct recipe_source *s2 = s1 == &z->sources[0] ? &z->sources[1] : &z->sources[0];
	assert_string_equal(s1->uris[0], "https://zlib.net/zlib-1.3.2.tar.xz");
	assert_string_equal(s1->uris[1], "https://mirror.example/zlib-1.3.2.tar.xz");
	assert_string_equal(s1->checksum,
			    "38ef96b8dfe510d42707d9c781877914792541133e1870841463bfa73f883e32");
	assert_string_equal(s1->dir, "zlib-1.3.2");
	assert_int_equal(s2->index, 2);
	assert_string_equal(s2->filename, "extra.tar.gz");
	assert_true(has(z->patches, "zlib-1.3.2.patchset"));
	assert_true(has(z->additional_files, "docs"));
	assert_true(has(z->licenses, "Zlib"));

	/* The secondary architecture variant: suffixes, and its own conditional. */
	struct recipe *x = r[1];
	assert_string_equal(x->name, "zlib_x86");
	assert_true(has(x->packages[0].provides, "zlib_x86 = 1.3.2 compat >= 1"));
	assert_true(has(x->packages[0].requires, "lib:liblzma_x86"));
	assert_true(has(x->build_prerequires, "cmd:gcc_x86"));
	recipe_free(r[0]);
	recipe_free(r[1]);
}

static void test_untrusted_recipes(void **state)
{
	struct fx *f = *state;
	struct recipe_job jobs[] = {
		{ "dev-util/broken", "broken-1.recipe", "broken", "1", NULL },
		{ "dev-util/hang", "hang-1.recipe", "hang", "1", NULL },
		{ "dev-util/bomb", "bomb-1.recipe", "bomb", "1", NULL },
		{ "dev-util/chatty", "chatty-1.recipe", "chatty", "1", NULL },
		{ "dev-util/probe", "probe-1.recipe", "probe", "1", NULL },
		{ "sys-libs/zlib", "zlib-1.3.2.recipe", "zlib", "1.3.2", NULL },
	};
	struct recipe *r[6] = { NULL };
	char escaped[256];

	if (recipe_evaluate(fdb(state), f->m, f->head, &env64, jobs, 6, r) < 0)
		fail_msg("evaluate: %s", mf_error_msg());
	assert_non_null(r[0]->error);
	assert_non_null(strstr(r[0]->error, "bash could not evaluate it"));
	assert_non_null(r[1]->error);
	assert_non_null(strstr(r[1]->error, "cut off"));
	assert_non_null(r[2]->error);
	assert_non_null(strstr(r[2]->error, "cut off"));
	assert_non_null(r[3]->error);
	if (!strstr(r[3]->error, "cut off"))
		fail_msg("chatty: %s", r[3]->error);
	/* The probe ran as nobody, saw only /usr and Mayfly's binds, no network. */
	if (r[4]->error)
		fail_msg("probe: %s", r[4]->error);
	const char *said = r[4]->summary;
	assert_non_null(said);
	if (strncmp(said, "65534 ", 6) || !strstr(said, " ro ") || !strstr(said, " nonet ") ||
	    strstr(said, "work") || strstr(said, "root,") || strstr(said, "var,"))
		fail_msg("the sandbox let a recipe see or do too much: %s", said);
	/* The good recipe after all of them still evaluated. */
	assert_null(r[5]->error);
	snprintf(escaped, sizeof(escaped), "%s/escaped", ((struct fx *)*state)->state.dir);
	assert_int_equal(access(escaped, F_OK), -1);
	for (int i = 0; i < 6; i++)
		recipe_free(r[i]);
	/* Nothing of the sandboxes is left running. */
	nothing_left();
}

static void test_cache(void **state)
{
	struct fx *f = *state;
	struct recipe_job job = { "sys-libs/zlib", "zlib-1.3.2.recipe", "zlib", "1.3.2", NULL };
	struct recipe *r = NULL;
	char head2[MIRROR_ID_LEN];
	int64_t t0, cold, warm;

	t0 = mf_now_ms();
	assert_int_equal(recipe_evaluate(fdb(state), f->m, f->head, &env64, &job, 1, &r), 0);
	cold = mf_now_ms() - t0;
	assert_null(r->error);
	recipe_free(r);
	assert_int_equal(query_int(fdb(state), "SELECT count(*) FROM recipe_cache WHERE ?1 = ?1",
				   0), 1);
	/* The same files and settings: no sandbox at all (the cache answers). */
	t0 = mf_now_ms();
	assert_int_equal(recipe_evaluate(fdb(state), f->m, f->head, &env64, &job, 1, &r), 0);
	warm = mf_now_ms() - t0;
	assert_int_equal(r->revision, 3);
	recipe_free(r);
	assert_int_equal(query_int(fdb(state), "SELECT count(*) FROM recipe_cache WHERE ?1 = ?1",
				   0), 1);
	print_message("zlib: evaluated in %lld ms, from the cache in %lld ms\n",
		      (long long)cold, (long long)warm);
	/* A changed patch in the port directory evaluates it again. */
	sh("cd %s && echo q >> sys-libs/zlib/patches/zlib-1.3.2.patchset && git commit -qam patch",
	   f->repo);
	assert_int_equal(mirror_fetch(f->m, f->repo, "master", NULL, head2), 0);
	assert_int_equal(recipe_evaluate(fdb(state), f->m, head2, &env64, &job, 1, &r), 0);
	recipe_free(r);
	assert_int_equal(query_int(fdb(state), "SELECT count(*) FROM recipe_cache WHERE ?1 = ?1",
				   0), 2);
	/* So does another target architecture. */
	struct recipe_env gcc2 = env64;
	gcc2.target_arch = "x86_gcc2";
	assert_int_equal(recipe_evaluate(fdb(state), f->m, head2, &gcc2, &job, 1, &r), 0);
	assert_false(has(r->packages[0].requires, "lib:liblzma"));
	recipe_free(r);
}

/* The sandbox's own limits, without bash in between. */
static void test_sandbox_limits(void **state)
{
	const char *flood[] = { "/bin/sh", "-c", "yes mayfly | head -c 100000000", NULL };
	const char *slow[] = { "/bin/sh", "-c", "echo started; sleep 30 & sleep 30", NULL };
	const char *net[] = { "/bin/sh", "-c",
			      "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '", NULL };
	struct sandbox_opts o = {
		.argv = flood, .timeout_ms = 20000, .max_output = 1 << 20, .max_procs = 64,
		.cpu_seconds = 10, .memory_mb = 512, .tmp_mb = 16,
	};
	struct sandbox_result r;
	int64_t t0;

	assert_int_equal(sandbox_run(&o, &r), 0);
	assert_true(r.output_full);
	assert_true(r.out_len <= 1 << 20);
	assert_int_equal(r.status, -1);
	sandbox_result_release(&r);
	o.argv = slow;
	o.timeout_ms = 1500;
	t0 = mf_now_ms();
	assert_int_equal(sandbox_run(&o, &r), 0);
	assert_true(r.timed_out);
	assert_string_equal(r.out, "started\n");
	assert_true(mf_now_ms() - t0 < 10000);
	sandbox_result_release(&r);
	/* Only a loopback device of its own. */
	o.argv = net;
	o.timeout_ms = 20000;
	assert_int_equal(sandbox_run(&o, &r), 0);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "lo\n");
	sandbox_result_release(&r);
	nothing_left();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_compare),
		cmocka_unit_test(test_arch_status),
		cmocka_unit_test(test_sandbox_limits),
		cmocka_unit_test_setup_teardown(test_evaluate_zlib, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_recipes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
