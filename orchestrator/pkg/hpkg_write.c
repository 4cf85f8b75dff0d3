/* hpkg_write.c - see hpkg_write.h. */
#include "pkg/hpkg_write.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"

#define CHUNK (64 * 1024)

enum { T_UINT = 2, T_STRING = 3 };

static void put_uleb(struct strbuf *sb, uint64_t v)
{
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		if (v)
			b |= 0x80;
		strbuf_addch(sb, (char)b);
	} while (v);
}

static void tag(struct strbuf *sb, unsigned id, unsigned type, unsigned enc, int children)
{
	put_uleb(sb, ((uint64_t)enc << 11 | (uint64_t)(children != 0) << 10 |
		      (uint64_t)type << 7 | id) + 1);
}

/* A string attribute, inline. */
static void str_attr(struct strbuf *sb, unsigned id, const char *s, int children)
{
	tag(sb, id, T_STRING, 0, children);
	strbuf_add(sb, s, strlen(s) + 1);
}

static void uint_attr(struct strbuf *sb, unsigned id, uint64_t v)
{
	unsigned enc = v <= 0xff ? 0 : v <= 0xffff ? 1 : v <= 0xffffffff ? 2 : 3;
	size_t n = (size_t)1 << enc;
	tag(sb, id, T_UINT, enc, 0);
	for (size_t i = n; i-- > 0;)
		strbuf_addch(sb, (char)(v >> (8 * i)));
}

static int arch_number(const char *arch)
{
	for (int i = 0; hpkg_arch_name((uint64_t)i); i++)
		if (!strcmp(hpkg_arch_name((uint64_t)i), arch))
			return i;
	return -1;
}

/* "major[.minor[.micro]][~pre][-revision]" as a version attribute. */
static int version_attr(struct strbuf *sb, unsigned id, const char *version)
{
	char *v = xstrdup(version), *pre, *rev, *minor = NULL, *micro = NULL;
	unsigned long revision = 0;

	rev = strrchr(v, '-');
	if (rev) {
		char *end;
		*rev++ = '\0';
		revision = strtoul(rev, &end, 10);
		if (!*rev || *end) {
			free(v);
			return mf_error(MF_E_USAGE, "version '%s': the revision is not a number",
					version);
		}
	}
	pre = strchr(v, '~');
	if (pre)
		*pre++ = '\0';
	minor = strchr(v, '.');
	if (minor) {
		*minor++ = '\0';
		micro = strchr(minor, '.');
		if (micro)
			*micro++ = '\0';
	}
	if (!*v) {
		free(v);
		return mf_error(MF_E_USAGE, "version '%s' has no major part", version);
	}
	str_attr(sb, id, v, 1);
	if (minor)
		str_attr(sb, 23, minor, 0);
	if (micro)
		str_attr(sb, 24, micro, 0);
	if (pre)
		str_attr(sb, 36, pre, 0);
	if (revision)
		uint_attr(sb, 25, revision);
	strbuf_addch(sb, 0);
	free(v);
	return 0;
}

static int attributes(const struct hpkg_info *p, struct strbuf *sb)
{
	int arch = arch_number(p->arch);

	if (arch < 0)
		return mf_error(MF_E_USAGE, "unknown architecture '%s'", p->arch);
	strbuf_addch(sb, 0); /* no shared strings */
	str_attr(sb, 15, p->name, 0);
	if (p->summary && *p->summary)
		str_attr(sb, 16, p->summary, 0);
	if (p->description && *p->description)
		str_attr(sb, 17, p->description, 0);
	if (p->vendor && *p->vendor)
		str_attr(sb, 18, p->vendor, 0);
	if (p->packager && *p->packager)
		str_attr(sb, 19, p->packager, 0);
	uint_attr(sb, 21, (uint64_t)arch);
	if (version_attr(sb, 22, p->version) < 0)
		return -1;
	for (size_t i = 0; i < p->n_provides; i++) {
		const struct hpkg_provide *v = &p->provides[i];
		int kids = v->version || v->compat;
		str_attr(sb, 28, v->name, kids);
		if (v->version && version_attr(sb, 22, v->version) < 0)
			return -1;
		if (v->compat && version_attr(sb, 37, v->compat) < 0)
			return -1;
		if (kids)
			strbuf_addch(sb, 0);
	}
	for (size_t i = 0; i < p->n_requires; i++) {
		const struct hpkg_require *r = &p->requires[i];
		int kids = r->op != HPKG_OP_NONE;
		str_attr(sb, 29, r->name, kids);
		if (kids) {
			uint_attr(sb, 34, (uint64_t)r->op);
			if (version_attr(sb, 22, r->version) < 0)
				return -1;
			strbuf_addch(sb, 0);
		}
	}
	strbuf_addch(sb, 0);
	return 0;
}

static void be(struct strbuf *sb, uint64_t v, int bytes)
{
	for (int i = bytes; i-- > 0;)
		strbuf_addch(sb, (char)(v >> (8 * i)));
}

int hpkg_write_package(const struct hpkg_info *p, unsigned char **out, size_t *len)
{
	struct strbuf heap = STRBUF_INIT, attrs = STRBUF_INIT, comp = STRBUF_INIT,
		      file = STRBUF_INIT;
	uint16_t *sizes = NULL;
	size_t nchunks;

	*out = NULL;
	if (attributes(p, &attrs) < 0) {
		strbuf_release(&attrs);
		return -1;
	}
	/* The heap: an empty TOC (no strings, no entries), then the attributes. */
	strbuf_addch(&heap, 0);
	strbuf_addch(&heap, 0);
	size_t toc_len = heap.len;
	strbuf_add(&heap, attrs.buf, attrs.len);
	nchunks = (heap.len + CHUNK - 1) / CHUNK;
	sizes = xcalloc(nchunks, sizeof(*sizes));
	for (size_t i = 0; i < nchunks; i++) {
		size_t off = i * CHUNK, n = heap.len - off < CHUNK ? heap.len - off : CHUNK;
		uLongf clen = compressBound((uLong)n);
		unsigned char *c = xmalloc(clen);
		if (compress2(c, &clen, (const Bytef *)heap.buf + off, (uLong)n, 9) != Z_OK) {
			free(c);
			free(sizes);
			strbuf_release(&heap);
			strbuf_release(&attrs);
			strbuf_release(&comp);
			return mf_error(MF_E_INFRA, "zlib: cannot compress");
		}
		if (clen < n)
			strbuf_add(&comp, c, clen);
		else
			strbuf_add(&comp, heap.buf + off, n), clen = n;
		sizes[i] = (uint16_t)(clen - 1);
		free(c);
	}
	for (size_t i = 0; i + 1 < nchunks; i++)
		be(&comp, sizes[i], 2);

	size_t total = 80 + comp.len;
	strbuf_add(&file, "hpkg", 4);
	be(&file, 80, 2);		/* header size */
	be(&file, 2, 2);		/* version */
	be(&file, total, 8);
	be(&file, 1, 2);		/* minor version */
	be(&file, 1, 2);		/* zlib */
	be(&file, CHUNK, 4);
	be(&file, comp.len, 8);
	be(&file, heap.len, 8);
	be(&file, attrs.len, 4);
	be(&file, 1, 4);		/* attributes' strings: just the terminator */
	be(&file, 0, 4);
	be(&file, 0, 4);		/* reserved */
	be(&file, toc_len, 8);
	be(&file, 1, 8);
	be(&file, 0, 8);
	strbuf_add(&file, comp.buf, comp.len);
	free(sizes);
	strbuf_release(&heap);
	strbuf_release(&attrs);
	strbuf_release(&comp);
	*len = file.len;
	*out = (unsigned char *)strbuf_detach(&file);
	return 0;
}
