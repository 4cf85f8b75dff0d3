/*
 * bench_hpkr.c - how long writing a large repository file takes: 10,000
 * synthetic packages (or argv[1]) with the attributes HaikuPorts packages
 * have (summary, description, vendor, packager, licenses, copyrights, url,
 * source url, provides with versions and compat versions, requires with
 * operators), written with hpkr_write, then read back once.
 *
 *	bench_hpkr [packages] [out.hpkr]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/util.h"
#include "pkg/hpkr.h"

struct tree {
	struct hpkg_attr *a;
	size_t n, alloc;
};

static struct hpkg_attr *add(struct tree *t, unsigned id, unsigned type, const char *s,
			     uint64_t u)
{
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 16;
		t->a = xrealloc(t->a, t->alloc * sizeof(*t->a));
	}
	struct hpkg_attr *a = &t->a[t->n++];
	memset(a, 0, sizeof(*a));
	a->id = id;
	a->type = type;
	a->s = s ? xstrdup(s) : NULL;
	a->u = u;
	return a;
}

/* "major.minor.micro-revision" as Haiku's version attributes. */
static void version(struct tree *t, unsigned id, unsigned major, unsigned minor,
		    unsigned micro, unsigned rev)
{
	char b[16];
	struct tree kids = { 0 };

	snprintf(b, sizeof(b), "%u", minor);
	add(&kids, 23, HPKG_TYPE_STRING, b, 0);
	snprintf(b, sizeof(b), "%u", micro);
	add(&kids, 24, HPKG_TYPE_STRING, b, 0);
	if (rev)
		add(&kids, 25, HPKG_TYPE_UINT, NULL, rev);
	snprintf(b, sizeof(b), "%u", major);
	struct hpkg_attr *v = add(t, id, HPKG_TYPE_STRING, b, 0);
	v->kids = kids.a;
	v->n_kids = kids.n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	static const char *const licenses[] = { "MIT", "GNU GPL v2", "GNU LGPL v2.1", "BSD (3-clause)",
						"Apache v2" };
	struct hpkr_package *pkgs = xcalloc(n ? n : 1, sizeof(*pkgs));
	struct repo_info ri;
	unsigned char *out;
	size_t len;
	char b[256];

	if (repoinfo_parse("name HaikuPorts\nvendor \"Haiku Project\"\n"
			   "summary \"The HaikuPorts repository\"\npriority 1\n"
			   "identifier tag:haikuports.org,2013:repositories/haikuports/master/x86_64\n"
			   "architecture x86_64\n", "bench", &ri) < 0) {
		fprintf(stderr, "%s\n", mf_error_msg());
		return 1;
	}
	srand(42);
	for (size_t i = 0; i < n; i++) {
		struct tree t = { 0 };
		unsigned ma = (unsigned)(i % 7), mi = (unsigned)(i % 13), mc = (unsigned)(i % 5);
		snprintf(b, sizeof(b), "pkg%zu", i);
		add(&t, 15, HPKG_TYPE_STRING, b, 0);
		snprintf(b, sizeof(b), "The %zu-th synthetic package, for benchmarks", i);
		add(&t, 16, HPKG_TYPE_STRING, b, 0);
		snprintf(b, sizeof(b), "Package %zu does what packages do: it provides a library,"
			 " a command and its documentation.\nIt is built from port %zu.", i,
			 i / 3);
		add(&t, 17, HPKG_TYPE_STRING, b, 0);
		add(&t, 18, HPKG_TYPE_STRING, "Haiku Project", 0);
		add(&t, 19, HPKG_TYPE_STRING, "Mayfly <build@mayfly>", 0);
		add(&t, 20, HPKG_TYPE_UINT, NULL, 0);
		add(&t, 21, HPKG_TYPE_UINT, NULL, 4);
		version(&t, 22, ma, mi, mc, 1 + (unsigned)(i % 3));
		snprintf(b, sizeof(b), "2010-2024 The authors of pkg%zu", i);
		add(&t, 26, HPKG_TYPE_STRING, b, 0);
		add(&t, 27, HPKG_TYPE_STRING, licenses[i % 5], 0);
		snprintf(b, sizeof(b), "https://example.org/pkg%zu", i);
		add(&t, 38, HPKG_TYPE_STRING, b, 0);
		snprintf(b, sizeof(b), "https://example.org/pkg%zu/pkg%zu-%u.%u.%u.tar.gz", i, i,
			 ma, mi, mc);
		add(&t, 39, HPKG_TYPE_STRING, b, 0);
		for (int k = 0; k < 4; k++) {
			static const char *const kinds[] = { "", "cmd:", "lib:lib", "devel:lib" };
			snprintf(b, sizeof(b), "%spkg%zu", kinds[k], i);
			struct hpkg_attr *p = add(&t, 28, HPKG_TYPE_STRING, b, 0);
			struct tree kids = { 0 };
			version(&kids, 22, ma, mi, mc, k == 0 ? 1 : 0);
			if (k >= 2)
				version(&kids, 37, ma, 0, 0, 0);
			p->kids = kids.a;
			p->n_kids = kids.n;
		}
		for (int k = 0; k < 5; k++) {
			size_t dep = (size_t)rand() % n;
			snprintf(b, sizeof(b), k == 0 ? "haiku" : "lib:libpkg%zu", dep);
			struct hpkg_attr *r = add(&t, 29, HPKG_TYPE_STRING, b, 0);
			struct tree kids = { 0 };
			add(&kids, 34, HPKG_TYPE_UINT, NULL, 4);
			version(&kids, 22, k == 0 ? 1 : (unsigned)(dep % 7), 0, 0, 0);
			r->kids = kids.a;
			r->n_kids = kids.n;
		}
		pkgs[i].attrs = t.a;
		pkgs[i].n_attrs = t.n;
		snprintf(b, sizeof(b), "%064zx", i * 2654435761u);
		pkgs[i].checksum = xstrdup(b);
	}

	double t0 = now();
	if (hpkr_write(&ri, pkgs, n, &out, &len) < 0) {
		fprintf(stderr, "%s\n", mf_error_msg());
		return 1;
	}
	double t1 = now();
	struct hpkr_repo back;
	if (hpkr_read_buffer(out, len, "bench.hpkr", &back) < 0 || back.n_pkgs != n) {
		fprintf(stderr, "read back: %s\n", mf_error_msg());
		return 1;
	}
	double t2 = now();
	printf("%zu packages: written in %.3f s, %zu bytes (%.1f KiB); read back in %.3f s\n", n,
	       t1 - t0, len, (double)len / 1024, t2 - t1);
	if (argc > 2) {
		FILE *f = fopen(argv[2], "wb");
		if (!f || fwrite(out, 1, len, f) != len || fclose(f) != 0) {
			perror(argv[2]);
			return 1;
		}
	}
	hpkr_repo_release(&back);
	free(out);
	for (size_t i = 0; i < n; i++)
		hpkr_package_release(&pkgs[i]);
	free(pkgs);
	repoinfo_release(&ri);
	return 0;
}
