/*
 * bench_resolve.c - how long resolving one port's needs takes against the
 * package index: the real 235-package repo.hpkr (plus a haiku system
 * package), and a synthetic index of 10,000 packages, most of which
 * require a few of the 1 % that are common libraries (as in HaikuPorts),
 * these requiring a few more of them. Prints figures; asserts nothing.
 *
 * Usage: bench_resolve [DATA_DIR] [PACKAGES]   (default: tests/data, 10000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/resolvable.h"
#include "ports/resolve.h"
#include "store/pkgindex.h"
#include "store/state.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void die(void)
{
	fprintf(stderr, "bench_resolve: %s\n", mf_error_msg());
	exit(1);
}

static void report(const char *what, double *t, size_t n, size_t pushed, size_t errors)
{
	qsort(t, n, sizeof(*t), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += t[i];
	printf("%-34s %6zu ports: median %.3f ms, p95 %.3f ms, max %.3f ms, mean %.3f ms;"
	       " %.1f packages per port, %zu unresolved\n",
	       what, n, t[n / 2], t[n * 95 / 100], t[n - 1], sum / n, (double)pushed / n, errors);
}

static void add_pkg(struct hpkg_info *p, const char *name, const char *version, const char *arch)
{
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->version = xstrdup(version);
	p->arch = xstrdup(arch);
	p->summary = xstrdup("");
	p->vendor = xstrdup("");
	p->packager = xstrdup("");
}

static void provide(struct hpkg_info *p, const char *text)
{
	p->provides = xrealloc(p->provides, (p->n_provides + 1) * sizeof(*p->provides));
	if (provide_parse(text, &p->provides[p->n_provides++]) < 0)
		die();
}

static void require(struct hpkg_info *p, const char *text)
{
	struct requirement r;
	if (requirement_parse(text, &r) < 0)
		die();
	p->requires = xrealloc(p->requires, (p->n_requires + 1) * sizeof(*p->requires));
	p->requires[p->n_requires++] = (struct hpkg_require){ r.name, r.op, r.version };
}

int main(int argc, char **argv)
{
	const char *data = argc > 1 ? argv[1] : "tests/data";
	size_t synth = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
	char dir[] = "/tmp/bench-resolve.XXXXXX";
	struct mf_state *st;
	struct pkgindex *ix;
	struct hpkg_file f;

	if (!mkdtemp(dir))
		return 1;
	char *state = xasprintf("%s/state", dir), *hpkr = xasprintf("%s/haiku/repo.hpkr", data);
	if (state_open(&st, state) < 0 || hpkg_read_file(hpkr, &f) < 0)
		die();

	/* 1. The real repository. */
	char **locs = xcalloc(f.n_pkgs + 1, sizeof(*locs));
	for (size_t i = 0; i < f.n_pkgs; i++)
		locs[i] = xasprintf("/srv/%zu.hpkg", i);
	struct pkg_repo repo = { .name = "real", .hpkr_sha256 = "-", .packages = "/srv" };
	double t0 = now_ms();
	if (pkgindex_import_repo(st->db, &repo, f.pkgs, f.n_pkgs, locs) < 0)
		die();
	printf("index of repo.hpkr: %zu packages imported in %.1f ms\n", f.n_pkgs, now_ms() - t0);
	struct hpkg_info haiku;
	add_pkg(&haiku, "haiku", "r1~alpha4_pm_hrev46690-1", "x86");
	provide(&haiku, "haiku = r1~alpha4_pm_hrev46690-1");
	if (pkgindex_add(st->db, "system:img", &haiku, "/boot/system/packages/haiku.hpkg", -1,
			 NULL) < 0 || pkgindex_open(st->db, &ix) < 0)
		die();
	hpkg_info_release(&haiku);
	double *t = xcalloc(f.n_pkgs, sizeof(*t));
	size_t pushed = 0, errors = 0;
	struct resolve_env env = { .ix = ix, .arch = "x86", .image = "img" };
	for (size_t i = 0; i < f.n_pkgs; i++) {
		/* A port that build-requires everything package i provides. */
		char **req = xcalloc(f.pkgs[i].n_provides + 1, sizeof(*req));
		for (size_t k = 0; k < f.pkgs[i].n_provides; k++)
			req[k] = xstrdup(f.pkgs[i].provides[k].name);
		struct resolution r;
		double a = now_ms();
		if (resolve_port(&env, "bench-1", req, NULL, &r) < 0)
			die();
		t[i] = now_ms() - a;
		pushed += r.npkgs;
		errors += r.error != NULL;
		resolution_release(&r);
		mf_strv_free(req);
	}
	report("against repo.hpkr (235 packages)", t, f.n_pkgs, pushed, errors);
	free(t);
	pkgindex_close(ix);
	mf_strv_free(locs);
	hpkg_file_release(&f);

	/* 2. A synthetic index: package i provides libi, lib:libi, devel:libi. */
	struct hpkg_info *pk = xcalloc(synth, sizeof(*pk));
	char **sl = xcalloc(synth + 1, sizeof(*sl));
	srand(42);
	for (size_t i = 0; i < synth; i++) {
		char name[32], text[96];
		snprintf(name, sizeof(name), "lib%zu", i);
		add_pkg(&pk[i], name, "1.0-1", "x86_64");
		snprintf(text, sizeof(text), "%s = 1.0 compat >= 1", name);
		provide(&pk[i], text);
		snprintf(text, sizeof(text), "lib:%s = 1.0", name);
		provide(&pk[i], text);
		snprintf(text, sizeof(text), "devel:%s = 1.0", name);
		provide(&pk[i], text);
		require(&pk[i], "haiku >= r1~beta4");
		/* As in HaikuPorts: most packages need a few of the common
		 * libraries (the first 1 %), which need a few more of those. */
		size_t core = synth / 100 ? synth / 100 : 1;
		int nreq = i < core ? rand() % 3 : rand() % 4;
		for (int k = 0; k < nreq && i > 0; k++) {
			size_t below = i < core ? i : core;
			snprintf(text, sizeof(text), "lib:lib%zu >= 1.0", (size_t)rand() % below);
			require(&pk[i], text);
		}
		sl[i] = xasprintf("/srv/synth/%zu.hpkg", i);
	}
	t0 = now_ms();
	if (pkgindex_set_origin(st->db, "repo:synth", pk, synth, sl, NULL, NULL) < 0)
		die();
	printf("synthetic index: %zu packages stored in %.1f ms\n", synth, now_ms() - t0);
	add_pkg(&haiku, "haiku", "r1~beta5-1", "x86_64");
	provide(&haiku, "haiku = r1~beta5-1");
	provide(&haiku, "coreutils = 9");
	for (char *const *s = resolve_scriptlet_prerequires; *s; s++)
		if (strncmp(*s, "coreutils", 9))
			provide(&haiku, *s);
	if (pkgindex_add(st->db, "system:img", &haiku, "/boot/system/packages/haiku.hpkg", -1,
			 NULL) < 0 || pkgindex_open(st->db, &ix) < 0)
		die();
	hpkg_info_release(&haiku);
	size_t nports = 1000;
	t = xcalloc(nports, sizeof(*t));
	pushed = errors = 0;
	env = (struct resolve_env){ .ix = ix, .arch = "x86_64", .image = "img",
				    .always = resolve_scriptlet_prerequires };
	for (size_t i = 0; i < nports; i++) {
		char *req[6];
		for (int k = 0; k < 5; k++)
			req[k] = xasprintf("devel:lib%d >= 1", rand() % (int)synth);
		req[5] = NULL;
		struct resolution r;
		double a = now_ms();
		if (resolve_port(&env, "bench-1", req, NULL, &r) < 0)
			die();
		t[i] = now_ms() - a;
		pushed += r.npkgs;
		errors += r.error != NULL;
		resolution_release(&r);
		for (int k = 0; k < 5; k++)
			free(req[k]);
	}
	char what[64];
	snprintf(what, sizeof(what), "against %zu synthetic packages", synth);
	report(what, t, nports, pushed, errors);
	pkgindex_close(ix);
	for (size_t i = 0; i < synth; i++)
		hpkg_info_release(&pk[i]);
	free(pk);
	mf_strv_free(sl);
	free(t);
	state_free(st);
	mf_rm_rf(dir);
	free(state);
	free(hpkr);
	return 0;
}
