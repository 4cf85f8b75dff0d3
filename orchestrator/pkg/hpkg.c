/*
 * hpkg.c - the reader of Haiku package and repository files (see hpkg.h).
 *
 * Three layers, bottom up: a source (a file read with pread, or memory),
 * the heap (chunks located through the chunk-size table and decompressed
 * one at a time, only those a section needs), and a section (its string
 * table, then attribute lists walked recursively, unknown ids skipped).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "pkg/hpkg.h"

#define MAX_DEPTH 16

/* Attribute ids (PackageAttributes.h) used here. */
enum {
	A_NAME = 15,
	A_SUMMARY = 16,
	A_DESCRIPTION = 17,
	A_VENDOR = 18,
	A_PACKAGER = 19,
	A_ARCH = 21,
	A_VERSION_MAJOR = 22,
	A_VERSION_MINOR = 23,
	A_VERSION_MICRO = 24,
	A_VERSION_REVISION = 25,
	A_PROVIDES = 28,
	A_REQUIRES = 29,
	A_OPERATOR = 34,
	A_CHECKSUM = 35,
	A_VERSION_PRE = 36,
	A_COMPATIBLE = 37,
	A_BASE_PACKAGE = 41,
	A_PACKAGE = 54,
};

enum { T_INVALID, T_INT, T_UINT, T_STRING, T_RAW };
enum { COMP_NONE, COMP_ZLIB, COMP_ZSTD };

/* ---- source ---- */

struct src {
	const char *name;
	int fd;			  /* -1: memory or read_at */
	const unsigned char *mem; /* when fd < 0 and no read_at */
	int (*read_at)(void *ctx, uint64_t off, void *buf, size_t len);
	void *ctx;
	uint64_t size;
};

static int src_read(struct src *s, uint64_t off, void *buf, size_t len, const char *what)
{
	if (off > s->size || len > s->size - off)
		return mf_error(MF_E_USAGE, "%s: %s (%zu bytes at offset %" PRIu64
			       ") lies past the end of the file (%" PRIu64 " bytes)",
			       s->name, what, len, off, s->size);
	if (s->read_at)
		return s->read_at(s->ctx, off, buf, len) < 0 ?
			       mf_error_wrap("%s: reading %s", s->name, what) : 0;
	if (s->fd < 0) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mf_error_errno(MF_E_USAGE, "%s: reading %s", s->name, what);
		if (n == 0)
			return mf_error(MF_E_USAGE, "%s: the file shrank while %s was read",
					s->name, what);
		done += (size_t)n;
	}
	return 0;
}

static uint16_t be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t be64(const unsigned char *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* ---- heap ---- */

struct heap {
	struct src *src;
	uint64_t base;	 /* file offset of the heap */
	uint64_t csize;	 /* compressed size, with the chunk table */
	uint64_t usize;	 /* uncompressed size */
	uint32_t chunk;	 /* uncompressed chunk size */
	int comp;
	uint64_t nchunks;
	uint64_t *coff;	 /* compressed offsets of the chunks, nchunks + 1 */
	uint64_t read;	 /* uncompressed bytes produced so far */
	unsigned char *cbuf, *ubuf;
	uint64_t cached; /* chunk in ubuf, or UINT64_MAX */
};

static int heap_open(struct heap *h)
{
	struct src *s = h->src;

	h->cached = UINT64_MAX;
	if (h->comp == COMP_NONE) {
		if (h->usize != h->csize)
			return mf_error(MF_E_USAGE, "%s: an uncompressed heap of %" PRIu64
				       " bytes stored in %" PRIu64, s->name, h->usize, h->csize);
		return 0;
	}
	if (h->chunk == 0 || h->chunk > HPKG_MAX_CHUNK)
		return mf_error(MF_E_USAGE, "%s: heap chunk size %" PRIu32 " (at most %u)",
				s->name, h->chunk, HPKG_MAX_CHUNK);
	h->nchunks = h->usize / h->chunk + (h->usize % h->chunk != 0);
	if (h->nchunks == 0)
		return 0;
	/* The table holds a u16 for every chunk but the last. */
	uint64_t tsize = 2 * (h->nchunks - 1);
	if (h->nchunks - 1 > h->csize / 2 || tsize >= h->csize)
		return mf_error(MF_E_USAGE, "%s: a heap of %" PRIu64 " chunks cannot fit in %"
			       PRIu64 " compressed bytes", s->name, h->nchunks, h->csize);
	unsigned char *table = xmalloc(tsize ? tsize : 1);
	if (src_read(s, h->base + h->csize - tsize, table, tsize, "the chunk table") < 0) {
		free(table);
		return -1;
	}
	h->coff = xcalloc(h->nchunks + 1, sizeof(*h->coff));
	for (uint64_t i = 0; i + 1 < h->nchunks; i++)
		h->coff[i + 1] = h->coff[i] + (uint64_t)be16(table + 2 * i) + 1;
	free(table);
	uint64_t data_end = h->csize - tsize;
	if (h->coff[h->nchunks - 1] >= data_end)
		return mf_error(MF_E_USAGE, "%s: the chunk table adds up to more than the heap"
			       " (%" PRIu64 " of %" PRIu64 " bytes)", s->name,
			       h->coff[h->nchunks - 1], data_end);
	h->coff[h->nchunks] = data_end;
	h->cbuf = xmalloc(h->chunk);
	h->ubuf = xmalloc(h->chunk);
	return 0;
}

static void heap_close(struct heap *h)
{
	free(h->coff);
	free(h->cbuf);
	free(h->ubuf);
}

static int heap_chunk(struct heap *h, uint64_t i)
{
	struct src *s = h->src;
	uint64_t usz = i + 1 < h->nchunks ? h->chunk : h->usize - i * h->chunk;
	uint64_t csz = h->coff[i + 1] - h->coff[i];

	if (h->cached == i)
		return 0;
	h->cached = UINT64_MAX;
	if (csz > usz)
		return mf_error(MF_E_USAGE, "%s: heap chunk %" PRIu64 " is %" PRIu64
			       " bytes compressed, more than its %" PRIu64 " bytes", s->name, i,
			       csz, usz);
	if (csz == usz) /* stored as it is */
		return src_read(s, h->base + h->coff[i], h->ubuf, usz, "a heap chunk");
	if (src_read(s, h->base + h->coff[i], h->cbuf, csz, "a heap chunk") < 0)
		return -1;
	if (h->comp == COMP_ZLIB) {
		z_stream z;
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK)
			return mf_error(MF_E_INFRA, "zlib: cannot start inflating");
		z.next_in = h->cbuf;
		z.avail_in = (uInt)csz;
		z.next_out = h->ubuf;
		z.avail_out = (uInt)usz;
		int rc = inflate(&z, Z_FINISH);
		uint64_t out = z.total_out;
		inflateEnd(&z);
		if (rc != Z_STREAM_END || out != usz)
			return mf_error(MF_E_USAGE, "%s: heap chunk %" PRIu64 " does not inflate"
				       " to its %" PRIu64 " bytes (zlib: %s)", s->name, i, usz,
				       rc == Z_STREAM_END ? "wrong size" : "corrupt data");
	} else {
		size_t n = ZSTD_decompress(h->ubuf, usz, h->cbuf, csz);
		if (ZSTD_isError(n) || n != usz)
			return mf_error(MF_E_USAGE, "%s: heap chunk %" PRIu64 " does not decompress"
				       " to its %" PRIu64 " bytes (zstd: %s)", s->name, i, usz,
				       ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size");
	}
	h->read += usz;
	h->cached = i;
	return 0;
}

/* Copies [off, off + len) of the uncompressed heap into a new buffer. */
static int heap_range(struct heap *h, uint64_t off, uint64_t len, const char *what,
		      unsigned char **out)
{
	struct src *s = h->src;

	*out = NULL;
	if (off > h->usize || len > h->usize - off)
		return mf_error(MF_E_USAGE, "%s: %s (%" PRIu64 " bytes at %" PRIu64
			       ") lies outside the heap (%" PRIu64 " bytes)", s->name, what, len,
			       off, h->usize);
	if (len > HPKG_MAX_SECTION)
		return mf_error(MF_E_USAGE, "%s: %s is %" PRIu64 " bytes (at most %u)",
				s->name, what, len, HPKG_MAX_SECTION);
	unsigned char *buf = xmalloc(len ? len : 1);
	if (h->comp == COMP_NONE) {
		if (src_read(s, h->base + off, buf, len, what) < 0)
			goto fail;
		h->read += len;
		*out = buf;
		return 0;
	}
	uint64_t done = 0;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t i = pos / h->chunk, in = pos % h->chunk;
		if (heap_chunk(h, i) < 0)
			goto fail;
		uint64_t usz = i + 1 < h->nchunks ? h->chunk : h->usize - i * h->chunk;
		uint64_t n = usz - in < len - done ? usz - in : len - done;
		memcpy(buf + done, h->ubuf + in, n);
		done += n;
	}
	*out = buf;
	return 0;
fail:
	free(buf);
	return -1;
}

/* ---- sections and attributes ---- */

struct section {
	const char *file, *what;
	const unsigned char *p;
	size_t len, pos;
	uint32_t *strings; /* offsets into p */
	size_t nstrings;
};

struct attr {
	unsigned id, type, enc;
	int children;
	uint64_t u;	/* ints; raw data: its size */
	const char *s;	/* strings (NUL-terminated inside the section); raw data inline */
	uint64_t off;	/* raw data in the heap: its offset */
};

static int sect_error(struct section *c, const char *fmt, const char *detail)
{
	return mf_error(MF_E_USAGE, "%s: %s section, byte %zu: %s%s", c->file, c->what, c->pos,
			fmt, detail ? detail : "");
}

static int sect_strings(struct section *c, uint64_t length, uint64_t count)
{
	if (length > c->len)
		return sect_error(c, "the string table is longer than the section", NULL);
	if (count > length / 2)
		return sect_error(c, "more strings than the string table can hold", NULL);
	c->strings = xcalloc(count ? count : 1, sizeof(*c->strings));
	for (c->nstrings = 0; c->nstrings < count; c->nstrings++) {
		const unsigned char *end = memchr(c->p + c->pos, 0, length - c->pos);
		if (!end)
			return sect_error(c, "a string of the string table is not terminated", NULL);
		if (end == c->p + c->pos)
			return sect_error(c, "the string table ends before its count of strings",
					  NULL);
		c->strings[c->nstrings] = (uint32_t)c->pos;
		c->pos = (size_t)(end - c->p) + 1;
	}
	if (c->pos >= length || c->p[c->pos] != 0)
		return sect_error(c, "the string table does not end with an empty string", NULL);
	c->pos = (size_t)length; /* the attributes follow the table */
	return 0;
}

static int uleb(struct section *c, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned shift = 0;; shift += 7) {
		if (c->pos >= c->len)
			return sect_error(c, "a number runs past the end", NULL);
		unsigned char b = c->p[c->pos++];
		if (shift == 63 && (b & 0x7e))
			return sect_error(c, "a number is larger than 64 bits", NULL);
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		if (shift >= 63)
			return sect_error(c, "a number is larger than 64 bits", NULL);
	}
	*v = r;
	return 0;
}

/* Reads the next entry of a list: 1 with *a filled, 0 at the list's end. */
static int attr_next(struct section *c, struct attr *a)
{
	uint64_t tag;

	if (uleb(c, &tag) < 0)
		return -1;
	if (tag == 0)
		return 0;
	tag--;
	if (tag >> 13)
		return sect_error(c, "an attribute tag out of range", NULL);
	memset(a, 0, sizeof(*a));
	a->id = tag & 0x7f;
	a->type = (tag >> 7) & 7;
	a->children = (tag >> 10) & 1;
	a->enc = (tag >> 11) & 3;
	switch (a->type) {
	case T_INT:
	case T_UINT: {
		size_t n = (size_t)1 << a->enc;
		if (c->len - c->pos < n)
			return sect_error(c, "a number runs past the end", NULL);
		for (size_t i = 0; i < n; i++)
			a->u = a->u << 8 | c->p[c->pos++];
		return 1;
	}
	case T_STRING:
		if (a->enc == 0) {
			const unsigned char *end = memchr(c->p + c->pos, 0, c->len - c->pos);
			if (!end)
				return sect_error(c, "a string is not terminated", NULL);
			a->s = (const char *)c->p + c->pos;
			c->pos = (size_t)(end - c->p) + 1;
			return 1;
		}
		if (a->enc == 1) {
			uint64_t i;
			if (uleb(c, &i) < 0)
				return -1;
			if (i >= c->nstrings)
				return sect_error(c, "a string index past the string table", NULL);
			a->s = (const char *)c->p + c->strings[i];
			return 1;
		}
		return sect_error(c, "an unknown string encoding", NULL);
	case T_RAW: {
		if (uleb(c, &a->u) < 0)
			return -1;
		if (a->enc == 0) {
			if (a->u > c->len - c->pos)
				return sect_error(c, "raw data runs past the end", NULL);
			a->s = (const char *)c->p + c->pos;
			c->pos += (size_t)a->u;
			return 1;
		}
		if (a->enc == 1)
			return uleb(c, &a->off) < 0 ? -1 : 1;
		return sect_error(c, "an unknown raw data encoding", NULL);
	}
	default:
		return sect_error(c, "an attribute of an unknown type", NULL);
	}
}

/* Skips an attribute's children (and theirs). */
static int skip_children(struct section *c, int depth)
{
	struct attr a;
	int rc;

	if (depth > MAX_DEPTH)
		return sect_error(c, "attributes nested too deep", NULL);
	while ((rc = attr_next(c, &a)) > 0)
		if (a.children && skip_children(c, depth + 1) < 0)
			return -1;
	return rc;
}

static int want(struct section *c, const struct attr *a, unsigned type, const char *name)
{
	if (a->type == type)
		return 0;
	return mf_error(MF_E_USAGE, "%s: %s section, byte %zu: attribute '%s' has the wrong type",
			c->file, c->what, c->pos, name);
}

static int text_nl(struct section *c, const struct attr *a, const char *name, char **out,
		   int keep_newlines);

/* A string the rest of Mayfly may print: valid UTF-8, no control characters. */
static int text(struct section *c, const struct attr *a, const char *name, char **out)
{
	return text_nl(c, a, name, out, 0);
}

static int text_nl(struct section *c, const struct attr *a, const char *name, char **out,
		   int keep_newlines)
{
	if (want(c, a, T_STRING, name) < 0)
		return -1;
	const unsigned char *s = (const unsigned char *)a->s;
	for (size_t i = 0; s[i];) {
		unsigned char b = s[i];
		size_t n = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3
			 : (b & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || (n == 2 && b < 0xc2))
			goto bad;
		for (size_t k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
		i += n;
	}
	free(*out);
	*out = xstrdup(a->s);
	mf_scrub_controls(*out, keep_newlines);
	return 0;
bad:
	return mf_error(MF_E_USAGE, "%s: %s section, byte %zu: attribute '%s' is not UTF-8",
			c->file, c->what, c->pos, name);
}

/* A version: major as the value, the rest as children. */
static int version(struct section *c, const struct attr *top, int depth, char **out)
{
	char *minor = NULL, *micro = NULL, *pre = NULL, *major = NULL;
	uint64_t rev = 0;
	struct attr a;
	int rc = -1;

	if (text(c, top, "version", &major) < 0)
		return -1;
	if (top->children) {
		if (depth > MAX_DEPTH) {
			sect_error(c, "attributes nested too deep", NULL);
			goto out;
		}
		while ((rc = attr_next(c, &a)) > 0) {
			int r = 0;
			switch (a.id) {
			case A_VERSION_MINOR: r = text(c, &a, "version minor", &minor); break;
			case A_VERSION_MICRO: r = text(c, &a, "version micro", &micro); break;
			case A_VERSION_PRE: r = text(c, &a, "version pre-release", &pre); break;
			case A_VERSION_REVISION:
				r = want(c, &a, T_UINT, "version revision");
				rev = a.u;
				break;
			}
			if (r == 0 && a.children)
				r = skip_children(c, depth + 1);
			if (r < 0) {
				rc = -1;
				goto out;
			}
		}
		if (rc < 0)
			goto out;
	}
	if (!*major) {
		rc = sect_error(c, "a version without a major part", NULL);
		goto out;
	}
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, major);
	if (minor && *minor) {
		strbuf_addf(&sb, ".%s", minor);
		if (micro && *micro)
			strbuf_addf(&sb, ".%s", micro);
	}
	if (pre && *pre)
		strbuf_addf(&sb, "~%s", pre);
	if (rev)
		strbuf_addf(&sb, "-%" PRIu64, rev);
	free(*out);
	*out = strbuf_detach(&sb);
	rc = 0;
out:
	free(major);
	free(minor);
	free(micro);
	free(pre);
	return rc;
}

static int provide(struct section *c, const struct attr *top, int depth, struct hpkg_info *p)
{
	struct hpkg_provide pr = { 0 };
	struct attr a;
	int rc = 0;

	if (text(c, top, "provides", &pr.name) < 0)
		return -1;
	if (top->children) {
		while (rc == 0 && (rc = attr_next(c, &a)) > 0) {
			if (a.id == A_VERSION_MAJOR)
				rc = version(c, &a, depth + 1, &pr.version);
			else if (a.id == A_COMPATIBLE)
				rc = version(c, &a, depth + 1, &pr.compat);
			else if (a.children)
				rc = skip_children(c, depth + 1);
			else
				rc = 0;
		}
	}
	if (rc < 0) {
		free(pr.name);
		free(pr.version);
		free(pr.compat);
		return -1;
	}
	p->provides = xrealloc(p->provides, (p->n_provides + 1) * sizeof(*p->provides));
	p->provides[p->n_provides++] = pr;
	return 0;
}

static int require(struct section *c, const struct attr *top, int depth, struct hpkg_info *p)
{
	struct hpkg_require rq = { .op = HPKG_OP_NONE };
	uint64_t op = UINT64_MAX;
	struct attr a;
	int rc = 0;

	if (text(c, top, "requires", &rq.name) < 0)
		return -1;
	if (top->children) {
		while (rc == 0 && (rc = attr_next(c, &a)) > 0) {
			if (a.id == A_VERSION_MAJOR)
				rc = version(c, &a, depth + 1, &rq.version);
			else if (a.id == A_OPERATOR) {
				rc = want(c, &a, T_UINT, "requires operator");
				op = a.u;
				if (rc == 0 && a.children)
					rc = skip_children(c, depth + 1);
			} else if (a.children)
				rc = skip_children(c, depth + 1);
			else
				rc = 0;
		}
	}
	if (rc == 0 && (op != UINT64_MAX) != (rq.version != NULL))
		rc = sect_error(c, "a requirement with an operator but no version, or the reverse",
				NULL);
	if (rc == 0 && op != UINT64_MAX && op > HPKG_OP_GT)
		rc = sect_error(c, "a requirement with an unknown operator", NULL);
	if (rc < 0) {
		free(rq.name);
		free(rq.version);
		return -1;
	}
	if (op != UINT64_MAX)
		rq.op = (enum hpkg_op)op;
	p->requires = xrealloc(p->requires, (p->n_requires + 1) * sizeof(*p->requires));
	p->requires[p->n_requires++] = rq;
	return 0;
}

/* The attributes of one package, up to the end of their list. */
static int package(struct section *c, int depth, struct hpkg_info *p)
{
	struct attr a;
	int rc;

	if (depth > MAX_DEPTH)
		return sect_error(c, "attributes nested too deep", NULL);
	while ((rc = attr_next(c, &a)) > 0) {
		int r = 0, kids = a.children;
		switch (a.id) {
		case A_NAME: r = text(c, &a, "name", &p->name); break;
		case A_SUMMARY: r = text(c, &a, "summary", &p->summary); break;
		case A_DESCRIPTION: r = text_nl(c, &a, "description", &p->description, 1); break;
		case A_VENDOR: r = text(c, &a, "vendor", &p->vendor); break;
		case A_PACKAGER: r = text(c, &a, "packager", &p->packager); break;
		case A_CHECKSUM: r = text(c, &a, "checksum", &p->checksum); break;
		case A_BASE_PACKAGE: r = text(c, &a, "base package", &p->base_package); break;
		case A_ARCH:
			r = want(c, &a, T_UINT, "architecture");
			if (r == 0 && !hpkg_arch_name(a.u))
				r = sect_error(c, "an unknown architecture", NULL);
			if (r == 0) {
				free(p->arch);
				p->arch = xstrdup(hpkg_arch_name(a.u));
			}
			break;
		case A_VERSION_MAJOR:
			r = version(c, &a, depth + 1, &p->version);
			kids = 0;
			break;
		case A_PROVIDES:
			r = provide(c, &a, depth + 1, p);
			kids = 0;
			break;
		case A_REQUIRES:
			r = require(c, &a, depth + 1, p);
			kids = 0;
			break;
		}
		if (r == 0 && kids)
			r = skip_children(c, depth + 1);
		if (r < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!p->name || !*p->name)
		return sect_error(c, "a package without a name", NULL);
	if (!p->version)
		return mf_error(MF_E_USAGE, "%s: package '%s' has no version", c->file, p->name);
	if (!p->arch)
		return mf_error(MF_E_USAGE, "%s: package '%s' has no architecture", c->file,
				p->name);
	if (!p->summary)
		p->summary = xstrdup("");
	if (!p->description)
		p->description = xstrdup("");
	if (!p->vendor)
		p->vendor = xstrdup("");
	if (!p->packager)
		p->packager = xstrdup("");
	return 0;
}

/* ---- attribute trees ---- */

/* The list of attributes at c's position, as a tree, up to the list's end;
 * *budget bounds the attributes of the whole section. On error *out holds
 * what was read (n_kids counts only complete entries), for the caller to free. */
static int tree_list(struct section *c, int depth, size_t *budget, struct hpkg_attr **out,
		     size_t *n)
{
	struct attr a;
	size_t alloc = 0;
	int rc;

	if (depth > MAX_DEPTH)
		return sect_error(c, "attributes nested too deep", NULL);
	while ((rc = attr_next(c, &a)) > 0) {
		if (*budget == 0)
			return sect_error(c, "more attributes than Mayfly reads in one section",
					  NULL);
		(*budget)--;
		if (*n == alloc) {
			alloc = alloc ? 2 * alloc : 8;
			*out = xrealloc(*out, alloc * sizeof(**out));
		}
		struct hpkg_attr *t = &(*out)[(*n)++];
		memset(t, 0, sizeof(*t));
		t->id = a.id;
		t->type = a.type;
		t->u = a.u;
		if (a.type == T_STRING) {
			t->s = xstrdup(a.s);
		} else if (a.type == T_RAW && a.enc == 1) {
			t->raw_heap = 1;
			t->raw_len = (size_t)a.u;
			t->u = a.off;
		} else if (a.type == T_RAW) {
			t->raw_len = (size_t)a.u;
			t->s = xmalloc(t->raw_len + 1);
			memcpy(t->s, a.s, t->raw_len);
			t->s[t->raw_len] = '\0';
			t->u = 0;
		}
		if (a.children && tree_list(c, depth + 1, budget, &t->kids, &t->n_kids) < 0)
			return -1;
	}
	return rc;
}

void hpkg_attrs_free(struct hpkg_attr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].s);
		hpkg_attrs_free(a[i].kids, a[i].n_kids);
	}
	free(a);
}

void hpkg_tree_release(struct hpkg_tree *t)
{
	hpkg_attrs_free(t->attrs, t->n_attrs);
	for (size_t i = 0; i < t->n_strings; i++)
		free(t->strings[i]);
	free(t->strings);
	free(t->repo_info);
	memset(t, 0, sizeof(*t));
}

/* ---- files ---- */

/* A section as infos (f) or as a tree (t, set when f is NULL). */
static int parse_section(struct heap *h, struct src *s, const char *what, uint64_t off,
			 uint64_t len, uint64_t slen, uint64_t scount, int repo,
			 struct hpkg_file *f, struct hpkg_tree *t)
{
	struct section c = { .file = s->name, .what = what };
	unsigned char *buf;
	int rc = -1;

	if (heap_range(h, off, len, what, &buf) < 0)
		return -1;
	c.p = buf;
	c.len = (size_t)len;
	if (sect_strings(&c, slen, scount) < 0)
		goto out;
	if (!f) {
		size_t budget = HPKG_MAX_ATTRS;
		t->strings = xcalloc(c.nstrings ? c.nstrings : 1, sizeof(*t->strings));
		for (; t->n_strings < c.nstrings; t->n_strings++)
			t->strings[t->n_strings] = xstrdup((const char *)c.p +
							   c.strings[t->n_strings]);
		rc = tree_list(&c, 0, &budget, &t->attrs, &t->n_attrs);
		if (rc == 0 && c.pos != c.len)
			rc = sect_error(&c, "data after the end of the attributes", NULL);
		goto out;
	}
	if (!repo) {
		f->pkgs = xcalloc(1, sizeof(*f->pkgs));
		f->n_pkgs = 1;
		rc = package(&c, 0, &f->pkgs[0]);
		goto out;
	}
	struct attr a;
	size_t alloc = 0;
	while ((rc = attr_next(&c, &a)) > 0) {
		if (a.id != A_PACKAGE || !a.children) {
			if (a.children && skip_children(&c, 1) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (f->n_pkgs == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			f->pkgs = xrealloc(f->pkgs, alloc * sizeof(*f->pkgs));
		}
		struct hpkg_info *p = &f->pkgs[f->n_pkgs++];
		memset(p, 0, sizeof(*p));
		if (a.type == T_STRING)
			p->name = xstrdup(a.s);
		if (package(&c, 1, p) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && c.pos != c.len)
		rc = sect_error(&c, "data after the end of the attributes", NULL);
out:
	free(c.strings);
	free(buf);
	return rc;
}

/* Reads the file as infos (f) or, when f is NULL, as a tree (t). */
static int read_src(struct src *s, struct hpkg_file *f, struct hpkg_tree *t)
{
	unsigned char hd[80];
	struct heap h = { .src = s };
	int repo, rc = -1;

	if (f)
		memset(f, 0, sizeof(*f));
	else
		memset(t, 0, sizeof(*t));
	if (s->size < 72)
		return mf_error(MF_E_USAGE, "%s: too short for a Haiku package (%" PRIu64
			       " bytes)", s->name, s->size);
	if (src_read(s, 0, hd, s->size < 80 ? 72 : 80, "the header") < 0)
		return -1;
	if (!memcmp(hd, "hpkg", 4))
		repo = 0;
	else if (!memcmp(hd, "hpkr", 4))
		repo = 1;
	else
		return mf_error(MF_E_USAGE, "%s: not a Haiku package or repository file"
			       " (no 'hpkg' or 'hpkr' magic)", s->name);
	uint16_t hsize = be16(hd + 4), ver = be16(hd + 6);
	uint64_t total = be64(hd + 8);
	if (ver != 2)
		return mf_error(MF_E_USAGE, "%s: format version %u (Mayfly reads version 2)",
				s->name, ver);
	if (hsize < (repo ? 72 : 80) || hsize > s->size)
		return mf_error(MF_E_USAGE, "%s: a header size of %u bytes", s->name, hsize);
	if (total != s->size)
		return mf_error(MF_E_USAGE, "%s: the header says %" PRIu64 " bytes, the file has %"
			       PRIu64 " (truncated?)", s->name, total, s->size);
	h.comp = be16(hd + 18);
	h.chunk = be32(hd + 20);
	h.csize = be64(hd + 24);
	h.usize = be64(hd + 32);
	h.base = hsize;
	if (h.comp > COMP_ZSTD)
		return mf_error(MF_E_USAGE, "%s: unknown heap compression %d", s->name, h.comp);
	if (h.csize > s->size - hsize)
		return mf_error(MF_E_USAGE, "%s: a heap of %" PRIu64 " bytes in a file of %"
			       PRIu64, s->name, h.csize, s->size);
	if (f) {
		f->kind = repo ? HPKG_REPOSITORY : HPKG_PACKAGE;
		f->heap_size = h.usize;
	} else {
		t->kind = repo ? HPKG_REPOSITORY : HPKG_PACKAGE;
	}
	if (heap_open(&h) < 0)
		goto out;
	if (!repo) {
		uint64_t alen = be32(hd + 40), slen = be32(hd + 44), scount = be32(hd + 48);
		uint64_t toc = be64(hd + 56);
		if (alen > h.usize || toc > h.usize - alen) {
			mf_error(MF_E_USAGE, "%s: the TOC and attributes (%" PRIu64 " + %" PRIu64
				 " bytes) are larger than the heap (%" PRIu64 ")", s->name, toc,
				 alen, h.usize);
			goto out;
		}
		rc = parse_section(&h, s, "package attributes", h.usize - alen, alen, slen,
				   scount, 0, f, t);
	} else {
		uint64_t ilen = be32(hd + 40);
		uint64_t plen = be64(hd + 48), slen = be64(hd + 56), scount = be64(hd + 64);
		if (ilen > h.usize || plen > h.usize - ilen) {
			mf_error(MF_E_USAGE, "%s: the repository info and packages (%" PRIu64 " + %"
				 PRIu64 " bytes) are larger than the heap (%" PRIu64 ")", s->name,
				 ilen, plen, h.usize);
			goto out;
		}
		if (heap_range(&h, 0, ilen, "repository info", f ? &f->repo_info : &t->repo_info) < 0)
			goto out;
		*(f ? &f->repo_info_len : &t->repo_info_len) = (size_t)ilen;
		rc = parse_section(&h, s, "packages", h.usize - plen, plen, slen, scount, 1, f,
				   t);
	}
out:
	if (f)
		f->heap_read = h.read;
	heap_close(&h);
	if (rc < 0) {
		struct mf_error_saved e;
		mf_error_save(&e);
		if (f)
			hpkg_file_release(f);
		else
			hpkg_tree_release(t);
		mf_error_restore(&e);
	}
	return rc;
}

int hpkg_read_buffer(const void *data, size_t len, const char *name, struct hpkg_file *out)
{
	struct src s = { .name = name, .fd = -1, .mem = data, .size = len };
	return read_src(&s, out, NULL);
}

int hpkg_read_tree_buffer(const void *data, size_t len, const char *name, struct hpkg_tree *out)
{
	struct src s = { .name = name, .fd = -1, .mem = data, .size = len };
	return read_src(&s, NULL, out);
}

int hpkg_read_with(int (*read_at)(void *ctx, uint64_t off, void *buf, size_t len), void *ctx,
		   uint64_t size, const char *name, struct hpkg_file *out)
{
	struct src s = { .name = name, .fd = -1, .read_at = read_at, .ctx = ctx, .size = size };
	return read_src(&s, out, NULL);
}

/* A file as infos (f) or as a tree (t, when f is NULL). */
static int read_path(const char *path, struct hpkg_file *f, struct hpkg_tree *t)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (f)
		memset(f, 0, sizeof(*f));
	else
		memset(t, 0, sizeof(*t));
	if (fd < 0)
		return mf_error_errno(MF_E_USAGE, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mf_error(MF_E_USAGE, "'%s' is not a regular file", path);
	}
	struct src s = { .name = path, .fd = fd, .size = (uint64_t)st.st_size };
	int rc = read_src(&s, f, t);
	close(fd);
	return rc;
}

int hpkg_read_file(const char *path, struct hpkg_file *out)
{
	return read_path(path, out, NULL);
}

int hpkg_read_tree_file(const char *path, struct hpkg_tree *out)
{
	return read_path(path, NULL, out);
}

void hpkg_info_release(struct hpkg_info *p)
{
	free(p->name);
	free(p->version);
	free(p->arch);
	free(p->summary);
	free(p->description);
	free(p->vendor);
	free(p->packager);
	free(p->base_package);
	free(p->checksum);
	for (size_t i = 0; i < p->n_provides; i++) {
		free(p->provides[i].name);
		free(p->provides[i].version);
		free(p->provides[i].compat);
	}
	free(p->provides);
	for (size_t i = 0; i < p->n_requires; i++) {
		free(p->requires[i].name);
		free(p->requires[i].version);
	}
	free(p->requires);
	memset(p, 0, sizeof(*p));
}

void hpkg_file_release(struct hpkg_file *f)
{
	for (size_t i = 0; i < f->n_pkgs; i++)
		hpkg_info_release(&f->pkgs[i]);
	free(f->pkgs);
	free(f->repo_info);
	memset(f, 0, sizeof(*f));
}

const char *hpkg_arch_name(uint64_t arch)
{
	static const char *const names[] = { "any", "x86", "x86_gcc2", "source", "x86_64",
					     "ppc", "arm", "m68k", "sparc", "arm64", "riscv64" };
	return arch < sizeof(names) / sizeof(names[0]) ? names[arch] : NULL;
}

const char *hpkg_op_name(enum hpkg_op op)
{
	static const char *const names[] = { "<", "<=", "==", "!=", ">=", ">" };
	return op >= HPKG_OP_LT && op <= HPKG_OP_GT ? names[op] : "";
}

char *hpkg_file_name(const struct hpkg_info *p)
{
	return xasprintf("%s-%s-%s.hpkg", p->name, p->version, p->arch);
}
