/*
 * gen-hpkg.c - synthetic .hpkg files of realistic sizes for
 * bench-publish.sh. Not part of Mayfly's product: a benchmark fixture.
 *
 *   gen-hpkg OUTDIR PREFIX FIRST COUNT VERSION MINBYTES MAXBYTES SEED
 *
 * Writes COUNT packages, named PREFIX followed by FIRST, FIRST+1, ...
 * (four digits), at VERSION for x86_64, as OUTDIR/NAME-VERSION-x86_64.hpkg,
 * and prints their total size in bytes. Each holds what Mayfly's writer
 * (pkg/hpkg_write.h) puts in a package (name, version, summary, a short
 * description, packager, provides, requires) and an empty table of
 * contents, with pseudo-random bytes in front of them in the heap, where a
 * real package's file data is: nothing references them, they are stored
 * uncompressed (as incompressible chunks are), and readers skip them.
 * Sizes are log-uniform in [MINBYTES, MAXBYTES], drawn from SEED and the
 * package's number only, so a newer version of a package is as large as
 * the older; the padding's bytes also depend on VERSION.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <zlib.h>

#include "common/error.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/hpkg_write.h"
#include "pkg/resolvable.h"

#define CHUNK (64 * 1024)

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t be_get(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static void be_put(unsigned char *p, uint64_t v, int n)
{
	for (int i = n; i-- > 0; v >>= 8)
		p[i] = (unsigned char)v;
}

static void die(const char *what)
{
	fprintf(stderr, "gen-hpkg: %s\n", what);
	exit(2);
}

/* One package of about `size` bytes at out. Returns its size. */
static size_t make(const char *out, const char *name, const char *version, int number,
		   size_t size, uint64_t seed)
{
	char summary[128], desc[256], prov[320], lib[320], req[64];
	struct hpkg_provide provides[2];
	struct hpkg_require requires[1] = { { .name = req, .op = HPKG_OP_NONE } };
	struct hpkg_info p = { .name = (char *)name, .version = (char *)version, .arch = "x86_64",
			       .summary = summary, .description = desc, .vendor = "",
			       .packager = "Mayfly bench-publish", .provides = provides,
			       .n_provides = 2, .requires = requires, .n_requires = 1 };
	unsigned char *pkg;
	size_t len;

	snprintf(summary, sizeof(summary), "Synthetic package %d for bench-publish", number);
	snprintf(desc, sizeof(desc), "A synthetic package made by tests/bench/gen-hpkg.c: its "
		 "size is pseudo-random padding in the heap, not files.");
	snprintf(prov, sizeof(prov), "%s = %s", name, version);
	snprintf(lib, sizeof(lib), "lib:lib%s = %s compat >= 1", name, version);
	snprintf(req, sizeof(req), "haiku");
	if (provide_parse(prov, &provides[0]) < 0 || provide_parse(lib, &provides[1]) < 0 ||
	    hpkg_write_package(&p, &pkg, &len) < 0)
		die(mf_error_msg());
	provide_release(&provides[0]);
	provide_release(&provides[1]);

	/* The writer's heap: one chunk (an empty TOC and the attributes). */
	uint64_t csize = be_get(pkg + 24, 8), usize = be_get(pkg + 32, 8);
	if (usize > CHUNK || 80 + csize != len)
		die("unexpected package layout from hpkg_write_package");
	unsigned char *tail = xmalloc(usize);
	if (csize == usize) {
		memcpy(tail, pkg + 80, usize);
	} else {
		uLongf ul = (uLongf)usize;
		if (uncompress(tail, &ul, pkg + 80, (uLong)csize) != Z_OK || ul != usize)
			die("cannot decompress the writer's heap");
	}

	/* The new heap: padding, then the TOC and attributes. */
	size_t pad = size > len + 2 * (size / CHUNK) + 64 ? size - len - 2 * (size / CHUNK) - 64 : 0;
	size_t hlen = pad + usize, nchunks = (hlen + CHUNK - 1) / CHUNK;
	unsigned char *heap = xmalloc(hlen);
	uint64_t s = mix(seed ^ mix((uint64_t)number)) ^ mix(crc32(0, (const Bytef *)version,
								  (uInt)strlen(version)));
	for (size_t i = 0; i + 8 <= pad; i += 8) {
		s = mix(s);
		memcpy(heap + i, &s, 8);
	}
	for (size_t i = pad & ~(size_t)7; i < pad; i++)
		heap[i] = (unsigned char)(s = mix(s));
	memcpy(heap + pad, tail, usize);

	unsigned char *comp = xmalloc(hlen + 2 * nchunks + 64), *c = xmalloc(compressBound(CHUNK));
	size_t clen_total = 0;
	uint16_t *sizes = xcalloc(nchunks, sizeof(*sizes));
	for (size_t i = 0; i < nchunks; i++) {
		size_t off = i * CHUNK, n = hlen - off < CHUNK ? hlen - off : CHUNK;
		uLongf cl = compressBound(CHUNK);
		/* Chunks wholly of padding are incompressible: stored as they are. */
		if (off + n <= pad || compress2(c, &cl, heap + off, (uLong)n, 9) != Z_OK || cl >= n) {
			memcpy(comp + clen_total, heap + off, n);
			cl = n;
		} else {
			memcpy(comp + clen_total, c, cl);
		}
		clen_total += cl;
		sizes[i] = (uint16_t)(cl - 1);
	}
	for (size_t i = 0; i + 1 < nchunks; i++, clen_total += 2)
		be_put(comp + clen_total, sizes[i], 2);

	size_t total = 80 + clen_total;
	unsigned char hd[80];
	memcpy(hd, pkg, 80);
	be_put(hd + 8, total, 8);
	be_put(hd + 24, clen_total, 8);
	be_put(hd + 32, hlen, 8);
	FILE *fp = fopen(out, "wb");
	if (!fp || fwrite(hd, 1, 80, fp) != 80 || fwrite(comp, 1, clen_total, fp) != clen_total ||
	    fclose(fp) != 0) {
		perror(out);
		exit(2);
	}
	free(sizes);
	free(c);
	free(comp);
	free(heap);
	free(tail);
	free(pkg);
	return total;
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: gen-hpkg OUTDIR PREFIX FIRST COUNT VERSION MINBYTES "
				"MAXBYTES SEED\n");
		return 2;
	}
	const char *dir = argv[1], *prefix = argv[2], *version = argv[5];
	int first = atoi(argv[3]), count = atoi(argv[4]);
	double lo = atof(argv[6]), hi = atof(argv[7]);
	uint64_t seed = strtoull(argv[8], NULL, 10);
	unsigned long long sum = 0;

	if (lo < 1 || hi < lo)
		die("MINBYTES must be at least 1 and at most MAXBYTES");
	for (int i = first; i < first + count; i++) {
		char name[128];
		snprintf(name, sizeof(name), "%s%04d", prefix, i);
		double u = (double)(mix(seed * 1000003 + (uint64_t)i) >> 11) / 9007199254740992.0;
		size_t size = (size_t)exp(log(lo) + u * (log(hi) - log(lo)));
		char *out = xasprintf("%s/%s-%s-x86_64.hpkg", dir, name, version);
		sum += make(out, name, version, i, size, seed);
		free(out);
	}
	printf("%llu\n", sum);
	return 0;
}
