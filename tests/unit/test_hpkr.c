/*
 * test_hpkr.c - repository files written natively: the repo.info text, the
 * archived BRepositoryInfo (against the one in the real repo.hpkr Haiku's
 * package_repo wrote, tests/data/haiku/), and whole repository files read
 * back by both readers and compared, section by section, with Haiku's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/hpkr.h"

#define DATA MAYFLY_TESTDATA "/haiku/"
#define REPO DATA "repo.hpkr"

static const char repo_info_text[] =
	"# the HaikuPorts repository\n"
	"name HaikuPorts\n"
	"vendor \"Haiku Project\"\n"
	"summary \"The HaikuPorts repository\"\n"
	"priority 1\n"
	"baseurl https://eu.hpkg.haiku-os.org/haikuports/master/x86_64/current\n"
	"identifier tag:haikuports.org,2013:repositories/haikuports/master/x86_64\n"
	"architecture x86_64\n";

static void assert_same_info(const struct repo_info *a, const struct repo_info *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->vendor, b->vendor);
	assert_string_equal(a->summary, b->summary);
	assert_string_equal(a->identifier, b->identifier);
	assert_string_equal(a->arch, b->arch);
	assert_int_equal(a->priority, b->priority);
	if (a->base_url || b->base_url)
		assert_string_equal(a->base_url ? a->base_url : "(null)",
				    b->base_url ? b->base_url : "(null)");
}

static void test_text_roundtrip(void **state)
{
	struct repo_info ri, again;
	(void)state;

	assert_int_equal(repoinfo_parse(repo_info_text, "repo.info", &ri), 0);
	assert_string_equal(ri.name, "HaikuPorts");
	assert_string_equal(ri.vendor, "Haiku Project");
	assert_string_equal(ri.summary, "The HaikuPorts repository");
	assert_string_equal(ri.base_url,
			    "https://eu.hpkg.haiku-os.org/haikuports/master/x86_64/current");
	assert_string_equal(ri.identifier,
			    "tag:haikuports.org,2013:repositories/haikuports/master/x86_64");
	assert_string_equal(ri.arch, "x86_64");
	assert_int_equal(ri.priority, 1);

	char *text = repoinfo_format(&ri);
	assert_non_null(strstr(text, "vendor \"Haiku Project\"\n"));
	assert_non_null(strstr(text, "name HaikuPorts\n"));
	assert_int_equal(repoinfo_parse(text, "formatted", &again), 0);
	assert_same_info(&ri, &again);
	free(text);
	repoinfo_release(&again);

	/* Quotes, backslashes and newlines survive. */
	free(ri.summary);
	ri.summary = xstrdup("say \"hi\"\\ \tand\nbye # not a comment");
	free(ri.base_url);
	ri.base_url = NULL;
	text = repoinfo_format(&ri);
	assert_int_equal(repoinfo_parse(text, "formatted", &again), 0);
	assert_same_info(&ri, &again);
	assert_null(again.base_url);
	free(text);
	repoinfo_release(&again);
	repoinfo_release(&ri);

	/* "url" is the old name of "identifier"; single quotes, CRLF. */
	assert_int_equal(repoinfo_parse("name r\r\nvendor 'V V'\r\nsummary s\r\npriority 0\r\n"
					"url http://x/y\r\narchitecture x86_gcc2\r\n", "old", &ri), 0);
	assert_string_equal(ri.identifier, "http://x/y");
	assert_string_equal(ri.vendor, "V V");
	assert_string_equal(ri.arch, "x86_gcc2");
	assert_int_equal(ri.priority, 0);
	repoinfo_release(&ri);
}

static void expect_text_error(const char *text, const char *needle)
{
	struct repo_info ri;

	if (repoinfo_parse(text, "repo.info", &ri) == 0)
		fail_msg("parsed, expected an error with '%s':\n%s", needle, text);
	if (!strstr(mf_error_msg(), needle))
		fail_msg("error '%s' does not say '%s'", mf_error_msg(), needle);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
}

/* The text without the line that starts with key, or with it replaced. */
static char *edit(const char *key, const char *replacement)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = repo_info_text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p) + 1;
		if (!strncmp(p, key, strlen(key)) && p[strlen(key)] == ' ')
			strbuf_addstr(&sb, replacement);
		else
			strbuf_add(&sb, p, n);
		p += n;
	}
	return strbuf_detach(&sb);
}

static void test_text_errors(void **state)
{
	static const char *const required[] = { "name", "identifier", "vendor", "summary",
						"priority", "architecture" };
	(void)state;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		char *text = edit(required[i], ""), *needle = xasprintf("'%s' is missing",
									  required[i]);
		expect_text_error(text, needle);
		free(text);
		free(needle);
	}
	static const struct {
		const char *key, *line, *needle;
	} bad[] = {
		{ "priority", "priority high\n", "line 5: priority 'high' is not a number" },
		{ "priority", "priority 256\n", "priority '256'" },
		{ "priority", "priority -1\n", "priority '-1'" },
		{ "priority", "priority \"\"\n", "line 5: 'priority' is empty" },
		{ "architecture", "architecture any\n", "line 8: architecture 'any' is not allowed" },
		{ "architecture", "architecture vax\n", "architecture 'vax' is not one Haiku knows" },
		{ "summary", "summary The HaikuPorts repository\n", "line 4: 'summary' has more" },
		{ "summary", "summary\n", "line 4: 'summary' has no value" },
		{ "summary", "summary \"open\n", "line 4: a quote (\") is not closed" },
		{ "name", "name a\nname b\n", "line 3: 'name' is given twice (first on line 2)" },
		{ "name", "name { x }\n", "blocks have no place" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *text = edit(bad[i].key, bad[i].line);
		expect_text_error(text, bad[i].needle);
		free(text);
	}
}

/* The repository info section of the real repo.hpkr, raw. */
static void real_info(unsigned char **buf, size_t *len)
{
	struct hpkg_file f;

	assert_int_equal(hpkg_read_file(REPO, &f), 0);
	*buf = f.repo_info;
	*len = f.repo_info_len;
	f.repo_info = NULL;
	hpkg_file_release(&f);
}

static void test_message_real(void **state)
{
	unsigned char *raw, *enc;
	size_t len, elen;
	struct repo_info ri, again;
	(void)state;

	real_info(&raw, &len);
	assert_int_equal(len, 461);
	assert_int_equal(repoinfo_decode(raw, len, "repo.hpkr", &ri), 0);
	assert_string_equal(ri.name, "HaikuPorts");
	assert_string_equal(ri.vendor, "Haiku Project");
	assert_string_equal(ri.summary, "The HaikuPorts repository");
	assert_string_equal(ri.identifier, "http://haiku-files.org/files/repo/"
					   "9818164862edcbf69404a90267090b9d595908a11941951e904dfc6244c3d566");
	assert_string_equal(ri.arch, "x86");
	assert_int_equal(ri.priority, 1);
	assert_null(ri.base_url);
	assert_int_equal(ri.n_licenses, 0);
	/* 2013: the identifier only as "url", and the class name empty (the
	 * host-built package_repo cannot demangle it). */
	assert_true(ri.legacy_url);
	assert_string_equal(ri.class_name, "");

	/* Encoded again: byte for byte Haiku's. */
	assert_int_equal(repoinfo_encode(&ri, &enc, &elen), 0);
	assert_int_equal(elen, len);
	assert_memory_equal(enc, raw, len);
	free(enc);

	/* As Haiku writes it now: an "identifier" field too, one field header
	 * (24 bytes) and "identifier\0" + size + value more. */
	ri.legacy_url = 0;
	assert_int_equal(repoinfo_encode(&ri, &enc, &elen), 0);
	assert_int_equal(elen, len + 24 + 11 + 4 + strlen(ri.identifier) + 1);
	assert_int_equal(repoinfo_decode(enc, elen, "current", &again), 0);
	assert_same_info(&ri, &again);
	assert_false(again.legacy_url);
	repoinfo_release(&again);
	free(enc);

	/* Every field: base URL, licenses, a class name. */
	ri.base_url = xstrdup("https://example.org/repo");
	ri.class_name = (free(ri.class_name), xstrdup("BPackageKit::BRepositoryInfo"));
	ri.n_licenses = 2;
	ri.licenses = xcalloc(2, sizeof(char *));
	ri.license_texts = xcalloc(2, sizeof(char *));
	ri.licenses[0] = xstrdup("MIT");
	ri.licenses[1] = xstrdup("Some EULA");
	ri.license_texts[0] = xstrdup("Permission is hereby granted...");
	ri.license_texts[1] = xstrdup("");
	assert_int_equal(repoinfo_encode(&ri, &enc, &elen), 0);
	assert_int_equal(repoinfo_decode(enc, elen, "full", &again), 0);
	assert_same_info(&ri, &again);
	assert_string_equal(again.class_name, "BPackageKit::BRepositoryInfo");
	assert_int_equal(again.n_licenses, 2);
	assert_string_equal(again.licenses[1], "Some EULA");
	assert_string_equal(again.license_texts[0], "Permission is hereby granted...");
	assert_string_equal(again.license_texts[1], "");
	unsigned char *enc2;
	size_t elen2;
	assert_int_equal(repoinfo_encode(&again, &enc2, &elen2), 0);
	assert_int_equal(elen2, elen);
	assert_memory_equal(enc2, enc, elen);
	free(enc2);
	repoinfo_release(&again);
	free(enc);

	/* An "any" repository is refused both ways. */
	free(ri.arch);
	ri.arch = xstrdup("any");
	assert_int_equal(repoinfo_encode(&ri, &enc, &elen), -1);
	assert_non_null(strstr(mf_error_msg(), "'any' is not allowed"));
	raw[len - 1] = 0;
	assert_int_equal(repoinfo_decode(raw, len, "any", &again), -1);
	assert_non_null(strstr(mf_error_msg(), "(any) is not allowed"));
	repoinfo_release(&ri);
	free(raw);
}

static void test_message_hostile(void **state)
{
	unsigned char *raw, *buf;
	size_t len;
	struct repo_info ri;
	(void)state;

	real_info(&raw, &len);
	buf = xmalloc(len);
	for (size_t n = 0; n < len; n++) {
		memcpy(buf, raw, n);
		assert_int_equal(repoinfo_decode(buf, n, "cut", &ri), -1);
	}
	int ok = 0;
	for (size_t bit = 0; bit < 8 * len; bit++) {
		memcpy(buf, raw, len);
		buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (repoinfo_decode(buf, len, "flipped", &ri) == 0) {
			ok++;
			repoinfo_release(&ri);
		}
	}
	/* Flips in the hash table, the reply fields and the strings' text are
	 * harmless; the rest is caught. */
	assert_true(ok > 0 && ok < (int)(8 * len));
	memcpy(buf, raw, len);
	buf[40] = 200; /* field count */
	assert_int_equal(repoinfo_decode(buf, len, "count", &ri), -1);
	assert_non_null(strstr(mf_error_msg(), "do not make up"));
	memcpy(buf, "FOB2", 4);
	assert_int_equal(repoinfo_decode(buf, len, "r5", &ri), -1);
	assert_non_null(strstr(mf_error_msg(), "not a flattened message"));
	free(buf);
	free(raw);
}

/* ---- whole repository files ---- */

static uint64_t be_get(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* The uncompressed heap of a repository file (zlib), and its sections. */
struct sections {
	unsigned char *heap;
	size_t info, packages, strings, heap_len;
};

static void inflate_heap(const unsigned char *f, size_t len, struct sections *s)
{
	size_t hs = be_get(f + 4, 2), chunk = be_get(f + 20, 4);
	size_t csize = be_get(f + 24, 8), usize = be_get(f + 32, 8);
	size_t nchunks = (usize + chunk - 1) / chunk, off = hs;
	const unsigned char *table = f + hs + csize - 2 * (nchunks - 1);

	assert_true(hs + csize == len);
	assert_int_equal(be_get(f + 18, 2), 1);
	s->heap = xmalloc(usize);
	s->heap_len = usize;
	s->info = be_get(f + 40, 4);
	s->packages = be_get(f + 48, 8);
	s->strings = be_get(f + 56, 8);
	for (size_t i = 0; i < nchunks; i++) {
		size_t u = i + 1 < nchunks ? chunk : usize - i * chunk;
		size_t c = i + 1 < nchunks ? be_get(table + 2 * i, 2) + 1 :
					     (size_t)(table - f) - off;
		if (c == u) {
			memcpy(s->heap + i * chunk, f + off, u);
		} else {
			uLongf n = u;
			assert_int_equal(uncompress(s->heap + i * chunk, &n, f + off, c), Z_OK);
			assert_int_equal(n, u);
		}
		off += c;
	}
}

static void assert_same_info_pkg(const struct hpkg_info *a, const struct hpkg_info *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->version, b->version);
	assert_string_equal(a->arch, b->arch);
	assert_string_equal(a->summary, b->summary);
	assert_string_equal(a->description, b->description);
	assert_string_equal(a->vendor, b->vendor);
	assert_string_equal(a->packager, b->packager);
	assert_true(!a->base_package == !b->base_package);
	if (a->base_package)
		assert_string_equal(a->base_package, b->base_package);
	assert_true(!a->checksum == !b->checksum);
	if (a->checksum)
		assert_string_equal(a->checksum, b->checksum);
	assert_int_equal(a->n_provides, b->n_provides);
	for (size_t i = 0; i < a->n_provides; i++) {
		const struct hpkg_provide *x = &a->provides[i], *y = &b->provides[i];
		assert_string_equal(x->name, y->name);
		assert_true(!x->version == !y->version && !x->compat == !y->compat);
		if (x->version)
			assert_string_equal(x->version, y->version);
		if (x->compat)
			assert_string_equal(x->compat, y->compat);
	}
	assert_int_equal(a->n_requires, b->n_requires);
	for (size_t i = 0; i < a->n_requires; i++) {
		const struct hpkg_require *x = &a->requires[i], *y = &b->requires[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->op, y->op);
		assert_true(!x->version == !y->version);
		if (x->version)
			assert_string_equal(x->version, y->version);
	}
}

/* Writes the real repository's packages again; with_order: ranking the
 * strings as the real file's table does. */
static void rewrite_real(int with_order, unsigned char **out, size_t *len, struct hpkr_repo *r)
{
	struct hpkr_write_opts opts = { 0 };

	assert_int_equal(hpkr_read_file(REPO, r), 0);
	if (with_order) {
		opts.string_order = (const char *const *)r->strings;
		opts.n_string_order = r->n_strings;
	}
	if (hpkr_write_with(&r->info, r->pkgs, r->n_pkgs, &opts, out, len) < 0)
		fail_msg("%s", mf_error_msg());
}

static void test_repo_reencode(void **state)
{
	struct hpkr_repo r, back;
	struct hpkg_file orig, again;
	unsigned char *buf, *real;
	size_t len, real_len;
	(void)state;

	rewrite_real(1, &buf, &len, &r);
	assert_int_equal(r.n_pkgs, 235);
	assert_int_equal(r.n_strings, 766);

	/* The generic reader: every attribute of every package. */
	assert_int_equal(hpkr_read_buffer(buf, len, "rewritten.hpkr", &back), 0);
	assert_int_equal(back.n_pkgs, r.n_pkgs);
	for (size_t i = 0; i < r.n_pkgs; i++) {
		assert_true(hpkg_attrs_equal(r.pkgs[i].attrs, r.pkgs[i].n_attrs, back.pkgs[i].attrs,
					     back.pkgs[i].n_attrs));
		assert_string_equal(r.pkgs[i].checksum, back.pkgs[i].checksum);
	}
	assert_same_info(&r.info, &back.info);
	hpkr_repo_release(&back);

	/* The package reader: every struct hpkg_info, checksums included. */
	assert_int_equal(hpkg_read_file(REPO, &orig), 0);
	assert_int_equal(hpkg_read_buffer(buf, len, "rewritten.hpkr", &again), 0);
	assert_int_equal(again.n_pkgs, orig.n_pkgs);
	for (size_t i = 0; i < orig.n_pkgs; i++) {
		assert_non_null(orig.pkgs[i].checksum);
		assert_same_info_pkg(&orig.pkgs[i], &again.pkgs[i]);
	}
	assert_int_equal(again.repo_info_len, orig.repo_info_len);
	assert_memory_equal(again.repo_info, orig.repo_info, orig.repo_info_len);
	hpkg_file_release(&orig);
	hpkg_file_release(&again);

	/* The sections, uncompressed: the repository info and the packages
	 * (string table and attributes) byte for byte Haiku's. */
	struct sections a, b;
	assert_int_equal(mf_read_file(REPO, 1 << 20, (char **)&real, &real_len), 0);
	inflate_heap(real, real_len, &a);
	inflate_heap(buf, len, &b);
	assert_int_equal(b.info, a.info);
	assert_int_equal(b.strings, a.strings);
	assert_int_equal(b.packages, a.packages);
	assert_int_equal(b.heap_len, a.heap_len);
	assert_memory_equal(b.heap, a.heap, a.heap_len);
	/* The header's fields but the minor version (0 in 2013, 1 now) and
	 * the compressed sizes (another zlib). */
	assert_memory_equal(buf, real, 8);
	assert_int_equal(be_get(buf + 16, 2), 1);
	assert_memory_equal(buf + 18, real + 18, 6);
	assert_memory_equal(buf + 32, real + 32, 40);
	free(a.heap);
	free(b.heap);
	free(buf);
	hpkr_repo_release(&r);

	/* Without the real table's order: the same strings and lengths; only
	 * strings used equally often may stand in another order. */
	rewrite_real(0, &buf, &len, &r);
	inflate_heap(real, real_len, &a);
	inflate_heap(buf, len, &b);
	assert_int_equal(b.packages, a.packages);
	assert_int_equal(b.strings, a.strings);
	assert_int_equal(hpkr_read_buffer(buf, len, "unordered.hpkr", &back), 0);
	assert_int_equal(back.n_strings, r.n_strings);
	size_t moved = 0;
	for (size_t i = 0; i < r.n_strings; i++) {
		size_t k = 0;
		while (k < back.n_strings && strcmp(back.strings[k], r.strings[i]))
			k++;
		assert_true(k < back.n_strings);
		moved += k != i;
	}
	for (size_t i = 0; i < r.n_pkgs; i++)
		assert_true(hpkg_attrs_equal(r.pkgs[i].attrs, r.pkgs[i].n_attrs, back.pkgs[i].attrs,
					     back.pkgs[i].n_attrs));
	print_message("without the order hint: %zu of %zu table strings in other places (equally"
		      " used ones), the packages section %s\n", moved, r.n_strings,
		      memcmp(a.heap, b.heap, a.heap_len) ? "differs" : "is the same");
	hpkr_repo_release(&back);
	free(a.heap);
	free(b.heap);
	free(buf);
	free(real);
	hpkr_repo_release(&r);
}

static void test_repo_from_hpkgs(void **state)
{
	static const char *const files[] = { DATA "tipster-1.1.1-1-x86_64.hpkg",
					     DATA "artificial-1.0.0-any.hpkg" };
	struct hpkr_package pkgs[2];
	struct repo_info ri;
	struct hpkr_repo back;
	struct hpkg_file f;
	unsigned char *buf;
	size_t len;
	(void)state;

	assert_int_equal(repoinfo_parse(repo_info_text, "repo.info", &ri), 0);
	for (size_t i = 0; i < 2; i++) {
		char hex[SHA256_HEX_LEN];
		uint64_t size;
		assert_int_equal(hpkr_package_from_hpkg(files[i], &pkgs[i]), 0);
		assert_int_equal(sha256_file(files[i], hex, &size), 0);
		assert_string_equal(pkgs[i].checksum, hex);
	}
	if (hpkr_write(&ri, pkgs, 2, &buf, &len) < 0)
		fail_msg("%s", mf_error_msg());

	assert_int_equal(hpkr_read_buffer(buf, len, "two.hpkr", &back), 0);
	assert_same_info(&ri, &back.info);
	assert_false(back.info.legacy_url);
	assert_int_equal(back.n_pkgs, 2);
	for (size_t i = 0; i < 2; i++) {
		struct hpkr_package *p = &back.pkgs[i];
		assert_string_equal(p->checksum, pkgs[i].checksum);
		/* The package's own attributes, the checksum added last (neither
		 * has an install path). */
		assert_int_equal(p->n_attrs, pkgs[i].n_attrs + 1);
		assert_int_equal(p->attrs[p->n_attrs - 1].id, HPKG_ATTR_CHECKSUM);
		assert_true(hpkg_attrs_equal(p->attrs, p->n_attrs - 1, pkgs[i].attrs,
					     pkgs[i].n_attrs));
	}
	hpkr_repo_release(&back);

	/* The package reader sees the packages as in their own files. */
	assert_int_equal(hpkg_read_buffer(buf, len, "two.hpkr", &f), 0);
	assert_int_equal(f.n_pkgs, 2);
	for (size_t i = 0; i < 2; i++) {
		struct hpkg_file own;
		assert_int_equal(hpkg_read_file(files[i], &own), 0);
		assert_string_equal(f.pkgs[i].checksum, pkgs[i].checksum);
		free(f.pkgs[i].checksum);
		f.pkgs[i].checksum = NULL;
		assert_same_info_pkg(&own.pkgs[0], &f.pkgs[i]);
		hpkg_file_release(&own);
	}
	hpkg_file_release(&f);
	free(buf);

	/* A package twice, or one without a name, is refused. */
	struct hpkr_package dup[2] = { pkgs[0], pkgs[0] };
	assert_int_equal(hpkr_write(&ri, dup, 2, &buf, &len), -1);
	assert_non_null(strstr(mf_error_msg(), "'tipster' is in the repository twice"));
	struct hpkr_package nameless = { .attrs = pkgs[0].attrs + 1,
					 .n_attrs = pkgs[0].n_attrs - 1 };
	assert_int_equal(pkgs[0].attrs[0].id, HPKG_ATTR_NAME);
	assert_int_equal(hpkr_write(&ri, &nameless, 1, &buf, &len), -1);
	assert_non_null(strstr(mf_error_msg(), "package 1 of the repository has no name"));

	/* A repository read as a package, and the reverse, are errors. */
	struct hpkr_package p;
	assert_int_equal(hpkr_package_from_hpkg(REPO, &p), -1);
	assert_int_equal(hpkr_read_file(files[0], &back), -1);
	for (size_t i = 0; i < 2; i++)
		hpkr_package_release(&pkgs[i]);
	repoinfo_release(&ri);
}

/* The generic reader on a package: every attribute, unknown ones too. */
static void test_tree_package(void **state)
{
	struct hpkg_tree t;
	(void)state;

	assert_int_equal(hpkg_read_tree_file(DATA "tipster-1.1.1-1-x86_64.hpkg", &t), 0);
	assert_int_equal(t.kind, HPKG_PACKAGE);
	assert_null(t.repo_info);
	int names = 0, licenses = 0, urls = 0, flags = 0;
	for (size_t i = 0; i < t.n_attrs; i++) {
		const struct hpkg_attr *a = &t.attrs[i];
		names += a->id == HPKG_ATTR_NAME && !strcmp(a->s, "tipster");
		licenses += a->id == 27 && a->type == HPKG_TYPE_STRING;
		urls += a->id == 38;
		flags += a->id == 20 && a->type == HPKG_TYPE_UINT;
	}
	assert_int_equal(names, 1);
	assert_true(licenses >= 1);
	assert_int_equal(urls, 1);
	assert_int_equal(flags, 1);
	hpkg_tree_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_roundtrip),
		cmocka_unit_test(test_text_errors),
		cmocka_unit_test(test_message_real),
		cmocka_unit_test(test_message_hostile),
		cmocka_unit_test(test_tree_package),
		cmocka_unit_test(test_repo_reencode),
		cmocka_unit_test(test_repo_from_hpkgs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
