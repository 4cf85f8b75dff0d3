/*
 * test_hpkg.c - the reader of Haiku package and repository files, on real
 * files made by Haiku's own tools (tests/data/haiku/, see its README), and
 * on truncated, corrupted and hostile ones.
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
#include "pkg/hpkg_write.h"

#define DATA MAYFLY_TESTDATA "/haiku/"

static void load(const char *name, unsigned char **buf, size_t *len)
{
	char *path = xasprintf(DATA "%s", name), *s;

	assert_int_equal(mf_read_file(path, 1 << 20, &s, len), 0);
	*buf = (unsigned char *)s;
	free(path);
}

static const struct hpkg_provide *provide(const struct hpkg_info *p, const char *name)
{
	for (size_t i = 0; i < p->n_provides; i++)
		if (!strcmp(p->provides[i].name, name))
			return &p->provides[i];
	fail_msg("%s provides no %s", p->name, name);
	return NULL;
}

/* A real HaikuPorts package, zlib: only the chunk with the attributes is read. */
static void test_tipster(void **state)
{
	struct hpkg_file f;
	(void)state;

	assert_int_equal(hpkg_read_file(DATA "tipster-1.1.1-1-x86_64.hpkg", &f), 0);
	assert_int_equal(f.kind, HPKG_PACKAGE);
	assert_int_equal(f.n_pkgs, 1);
	const struct hpkg_info *p = &f.pkgs[0];
	assert_string_equal(p->name, "tipster");
	assert_string_equal(p->version, "1.1.1-1");
	assert_string_equal(p->arch, "x86_64");
	assert_string_equal(p->summary, "An application to display Haiku usage tips");
	assert_non_null(strstr(p->description, "set interval.\n\nClicking on the category icon"));
	assert_string_equal(p->vendor, "Haiku Project");
	assert_null(p->checksum);
	assert_int_equal(p->n_provides, 2);
	assert_string_equal(provide(p, "tipster")->version, "1.1.1");
	assert_string_equal(provide(p, "app:tipster")->version, "1.1.1");
	assert_null(provide(p, "tipster")->compat);
	assert_int_equal(p->n_requires, 1);
	assert_string_equal(p->requires[0].name, "haiku");
	assert_int_equal(p->requires[0].op, HPKG_OP_GE);
	assert_string_equal(p->requires[0].version, "r1~beta1_hrev52295_129-1");
	char *name = hpkg_file_name(p);
	assert_string_equal(name, "tipster-1.1.1-1-x86_64.hpkg");
	free(name);
	/* 191,680 bytes of heap in 3 chunks; the attributes are in the last. */
	assert_int_equal(f.heap_size, 191680);
	assert_true(f.heap_read < 65536);
	hpkg_file_release(&f);
}

/* A hand-made package whose heap is compressed with zstd. */
static void test_artificial_zstd(void **state)
{
	struct hpkg_file f;
	(void)state;

	assert_int_equal(hpkg_read_file(DATA "artificial-1.0.0-any.hpkg", &f), 0);
	const struct hpkg_info *p = &f.pkgs[0];
	assert_string_equal(p->name, "example");
	assert_string_equal(p->version, "42.17-12");
	assert_string_equal(p->arch, "x86_gcc2");
	assert_string_equal(provide(p, "example")->version, "42.17-12");
	hpkg_file_release(&f);
}

/* A real repository file: 235 packages with their checksums. */
static void test_repo(void **state)
{
	struct hpkg_file f;
	const struct hpkg_info *apr = NULL;
	(void)state;

	assert_int_equal(hpkg_read_file(DATA "repo.hpkr", &f), 0);
	assert_int_equal(f.kind, HPKG_REPOSITORY);
	assert_int_equal(f.n_pkgs, 235);
	assert_int_equal(f.repo_info_len, 461);
	for (size_t i = 0; i < f.n_pkgs; i++) {
		assert_non_null(f.pkgs[i].checksum);
		assert_int_equal(strlen(f.pkgs[i].checksum), 64);
		if (!strcmp(f.pkgs[i].name, "apr"))
			apr = &f.pkgs[i];
	}
	assert_non_null(apr);
	assert_string_equal(apr->version, "1.4.6-7");
	assert_string_equal(apr->arch, "x86");
	const struct hpkg_provide *lib = provide(apr, "lib:libapr_1");
	assert_string_equal(lib->version, "0.4.6");
	assert_string_equal(lib->compat, "0");
	hpkg_file_release(&f);
}

static void expect_error(const unsigned char *buf, size_t len, const char *needle)
{
	struct hpkg_file f;

	mf_error_clear();
	if (hpkg_read_buffer(buf, len, "bad.hpkg", &f) == 0)
		fail_msg("a bad file was read (expected: %s)", needle);
	if (!strstr(mf_error_msg(), needle))
		fail_msg("error '%s' does not say '%s'", mf_error_msg(), needle);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "bad.hpkg"));
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* Every truncation of every file fails, and says so. */
static void test_truncated(void **state)
{
	static const char *const names[] = { "tipster-1.1.1-1-x86_64.hpkg",
					     "artificial-1.0.0-any.hpkg", "repo.hpkr" };
	(void)state;

	for (size_t k = 0; k < 3; k++) {
		unsigned char *buf;
		size_t len;
		load(names[k], &buf, &len);
		for (size_t cut = 0; cut < len; cut += (cut < 200 ? 1 : 97)) {
			struct hpkg_file f;
			if (hpkg_read_buffer(buf, cut, "cut.hpkg", &f) == 0)
				fail_msg("%s cut at %zu was read", names[k], cut);
			assert_non_null(strstr(mf_error_msg(), "cut.hpkg"));
		}
		free(buf);
	}
}

/* Hostile headers: lengths and counts that would make a naive reader read
 * outside the file or allocate without bound. */
static void test_hostile_headers(void **state)
{
	unsigned char *orig, *buf;
	size_t len;
	(void)state;

	load("tipster-1.1.1-1-x86_64.hpkg", &orig, &len);
	buf = xmalloc(len);

	memcpy(buf, orig, len);
	memcpy(buf, "hpkx", 4);
	expect_error(buf, len, "no 'hpkg' or 'hpkr' magic");

	memcpy(buf, orig, len);
	buf[7] = 3;
	expect_error(buf, len, "format version 3");

	memcpy(buf, orig, len);
	put32(buf + 20, 0x40000000); /* chunk size 1 GiB */
	expect_error(buf, len, "heap chunk size");

	memcpy(buf, orig, len);
	put64(buf + 24, (uint64_t)1 << 62); /* compressed heap larger than the file */
	expect_error(buf, len, "a heap of");

	memcpy(buf, orig, len);
	put64(buf + 32, (uint64_t)1 << 40); /* a 1 TiB heap: millions of chunks */
	expect_error(buf, len, "chunks cannot fit");

	memcpy(buf, orig, len);
	put32(buf + 40, 0xffffffff); /* attributes longer than the heap */
	expect_error(buf, len, "larger than the heap");

	memcpy(buf, orig, len);
	put32(buf + 48, 0x7fffffff); /* two billion strings */
	expect_error(buf, len, "more strings than the string table can hold");

	memcpy(buf, orig, len);
	buf[19] = 7;
	expect_error(buf, len, "unknown heap compression 7");

	/* The last chunk's data corrupted: zlib says so. */
	memcpy(buf, orig, len);
	for (size_t i = len - 200; i < len - 100; i++)
		buf[i] ^= 0x5a;
	expect_error(buf, len, "heap chunk 2");

	free(buf);
	free(orig);
}

/* Every single-bit flip of a small file: read or refused, never a crash
 * (run under ASan in scripts/test.sh), and a refusal always has a message. */
static void test_bit_flips(void **state)
{
	unsigned char *buf;
	size_t len, ok = 0, refused = 0;
	(void)state;

	load("artificial-1.0.0-any.hpkg", &buf, &len);
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			struct hpkg_file f;
			buf[i] ^= (unsigned char)(1 << bit);
			mf_error_clear();
			if (hpkg_read_buffer(buf, len, "flip.hpkg", &f) == 0) {
				ok++;
				hpkg_file_release(&f);
			} else {
				assert_true(*mf_error_msg());
				refused++;
			}
			buf[i] ^= (unsigned char)(1 << bit);
		}
	assert_int_equal(ok + refused, len * 8);
	assert_true(refused > len); /* most flips are caught */
	free(buf);
}

static void assert_same_package(const struct hpkg_info *a, const struct hpkg_info *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->version, b->version);
	assert_string_equal(a->arch, b->arch);
	assert_string_equal(a->summary, b->summary);
	assert_string_equal(a->description, b->description);
	assert_string_equal(a->vendor, b->vendor);
	assert_string_equal(a->packager, b->packager);
	assert_int_equal(a->n_provides, b->n_provides);
	for (size_t i = 0; i < a->n_provides; i++) {
		assert_string_equal(a->provides[i].name, b->provides[i].name);
		assert_true((a->provides[i].version == NULL) == (b->provides[i].version == NULL));
		if (a->provides[i].version)
			assert_string_equal(a->provides[i].version, b->provides[i].version);
		assert_true((a->provides[i].compat == NULL) == (b->provides[i].compat == NULL));
		if (a->provides[i].compat)
			assert_string_equal(a->provides[i].compat, b->provides[i].compat);
	}
	assert_int_equal(a->n_requires, b->n_requires);
	for (size_t i = 0; i < a->n_requires; i++) {
		assert_string_equal(a->requires[i].name, b->requires[i].name);
		assert_int_equal(a->requires[i].op, b->requires[i].op);
		if (a->requires[i].version)
			assert_string_equal(a->requires[i].version, b->requires[i].version);
	}
}

/* What the writer writes, the reader reads back the same: Haiku's real
 * packages re-encoded (all 235 of the repository and tipster). */
static void test_write_roundtrip(void **state)
{
	static const char *const names[] = { "tipster-1.1.1-1-x86_64.hpkg", "repo.hpkr" };
	size_t count = 0;
	(void)state;

	for (size_t k = 0; k < 2; k++) {
		struct hpkg_file f;
		char *path = xasprintf(DATA "%s", names[k]);
		assert_int_equal(hpkg_read_file(path, &f), 0);
		free(path);
		for (size_t i = 0; i < f.n_pkgs; i++) {
			unsigned char *buf;
			size_t len;
			struct hpkg_file g;
			assert_int_equal(hpkg_write_package(&f.pkgs[i], &buf, &len), 0);
			/* The header is Haiku's: 80 bytes, version 2, zlib, 64 KiB chunks. */
			assert_memory_equal(buf, "hpkg\0\x50\0\x02", 8);
			assert_int_equal(buf[19], 1);
			if (hpkg_read_buffer(buf, len, "written.hpkg", &g) < 0)
				fail_msg("%s: %s", f.pkgs[i].name, mf_error_msg());
			assert_int_equal(g.kind, HPKG_PACKAGE);
			assert_same_package(&f.pkgs[i], &g.pkgs[0]);
			hpkg_file_release(&g);
			free(buf);
			count++;
		}
		hpkg_file_release(&f);
	}
	assert_int_equal(count, 236);
}

/* Versions are split into Haiku's parts and put together again. */
static void test_write_versions(void **state)
{
	static const char *const versions[] = { "1", "1.2", "1.2.3", "1.2.3.4", "1.0~beta2",
						"r1~beta1_hrev52295_129-1", "42.17-12", "2.0-3" };
	(void)state;

	for (size_t i = 0; i < sizeof(versions) / sizeof(*versions); i++) {
		struct hpkg_provide prov = { "foo", (char *)versions[i], NULL };
		struct hpkg_info p = { .name = "foo", .version = (char *)versions[i],
				       .arch = "any", .summary = "s", .vendor = "", .packager = "",
				       .provides = &prov, .n_provides = 1 };
		unsigned char *buf;
		size_t len;
		struct hpkg_file g;
		assert_int_equal(hpkg_write_package(&p, &buf, &len), 0);
		assert_int_equal(hpkg_read_buffer(buf, len, "v.hpkg", &g), 0);
		assert_string_equal(g.pkgs[0].version, versions[i]);
		assert_string_equal(g.pkgs[0].provides[0].version, versions[i]);
		hpkg_file_release(&g);
		free(buf);
	}
	struct hpkg_info bad = { .name = "foo", .version = "1.0-x", .arch = "any" };
	unsigned char *buf;
	size_t len;
	assert_int_equal(hpkg_write_package(&bad, &buf, &len), -1);
	assert_non_null(strstr(mf_error_msg(), "the revision is not a number"));
	bad.version = "1.0";
	bad.arch = "vax";
	assert_int_equal(hpkg_write_package(&bad, &buf, &len), -1);
	assert_non_null(strstr(mf_error_msg(), "unknown architecture 'vax'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tipster),
		cmocka_unit_test(test_artificial_zstd),
		cmocka_unit_test(test_repo),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_write_roundtrip),
		cmocka_unit_test(test_write_versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
