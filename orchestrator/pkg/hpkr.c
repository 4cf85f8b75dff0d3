/*
 * hpkr.c - repository files and their repository info (see hpkr.h).
 *
 * The repository info section is a flattened BMessage in Haiku's own
 * format ("HMF1", MessagePrivate.h), in the writer's byte order (little-
 * endian on x86, where Haiku's files are made):
 *
 *	header, 68 bytes: format 'HMF1', what, flags (1: valid), target,
 *	  current_specifier, message_area, reply_port, reply_target,
 *	  reply_team (all -1 in an archive), data_size, field_count,
 *	  hash_table_size (5), hash_table[5] (first field of each bucket)
 *	field_count field headers, 24 bytes each: flags u16 (1 valid, 2 fixed
 *	  size), name_length u16 (with its NUL), type u32 ('CSTR', 'UBYT'),
 *	  count u32, data_size u32 (values only), offset u32 (of the name in
 *	  the data), next_field i32 (the next field of the same bucket)
 *	data: per field its name, then its values: a fixed-size value as it
 *	  is, any other value as a u32 size and its bytes (strings with NUL)
 *
 * A field's bucket is BMessage::_HashName(name) % 5, and a new field is
 * appended to the end of its bucket's chain.
 */
#include "pkg/hpkr.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"

#define CHUNK (64 * 1024)
#define MAX_WRITE_DEPTH 64

/* ---- repo.info text ---- */

/* Reads the next parameter (its words, up to an unquoted line end) into
 * words; returns 1, 0 at the end of the text, or -1. */
static int next_param(const char **pp, int *line, int *first_line, char ***words, size_t *n,
		      const char *where)
{
	const char *p = *pp;
	struct strbuf w = STRBUF_INIT;

	*words = NULL;
	*n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#') { /* a comment, to the end of the line */
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (*p == '\n' || *p == '\r') {
			if (*p++ == '\n')
				++*line;
			if (*n > 0)
				break;
			continue;
		}
		if (*n == 0)
			*first_line = *line;
		char quote = 0;
		while (*p && (quote || !strchr(" \t\r\n", *p))) {
			char ch = *p++;
			if (ch == '\\') {
				if (!*p)
					goto bad_escape;
				ch = *p++;
			} else if (!quote && (ch == '"' || ch == '\'')) {
				quote = ch;
				continue;
			} else if (quote && ch == quote) {
				quote = 0;
				continue;
			} else if (!quote && (ch == '{' || ch == '}')) {
				strbuf_release(&w);
				mf_error(MF_E_USAGE, "%s, line %d: '%c': blocks have no place in a"
					 " repository info", where, *line, ch);
				goto fail;
			}
			if (ch == '\n')
				++*line;
			strbuf_addch(&w, ch);
		}
		if (quote) {
			strbuf_release(&w);
			mf_error(MF_E_USAGE, "%s, line %d: a quote (%c) is not closed", where,
				 *first_line, quote);
			goto fail;
		}
		*words = xrealloc(*words, (*n + 1) * sizeof(**words));
		(*words)[(*n)++] = strbuf_detach(&w);
	}
	strbuf_release(&w);
	*pp = p;
	return *n > 0;
bad_escape:
	strbuf_release(&w);
	mf_error(MF_E_USAGE, "%s, line %d: a backslash at the end of the text", where, *line);
fail:
	for (size_t i = 0; i < *n; i++)
		free((*words)[i]);
	free(*words);
	*words = NULL;
	*n = 0;
	return -1;
}

static const char *const text_keys[] = { "name", "vendor", "summary", "priority", "baseurl",
					 "identifier", "url", "architecture" };
enum { K_NAME, K_VENDOR, K_SUMMARY, K_PRIORITY, K_BASEURL, K_IDENTIFIER, K_URL, K_ARCH, K_N };

static int arch_number(const char *name)
{
	for (unsigned i = 0; hpkg_arch_name(i); i++)
		if (!strcasecmp(hpkg_arch_name(i), name))
			return (int)i;
	return -1;
}

int repoinfo_parse(const char *text, const char *where, struct repo_info *out)
{
	char *val[K_N] = { 0 };
	int at[K_N] = { 0 }, line = 1, first = 1, rc = -1;
	const char *p = text;
	char **words;
	size_t n;

	memset(out, 0, sizeof(*out));
	while ((rc = next_param(&p, &line, &first, &words, &n, where)) > 0) {
		int k = 0;
		while (k < K_N && strcmp(words[0], text_keys[k]))
			k++;
		if (k < K_N && n != 2)
			rc = mf_error(MF_E_USAGE, "%s, line %d: '%s' %s", where, first, words[0],
				      n < 2 ? "has no value" :
					      "has more than one value (quote a value with spaces)");
		else if (k < K_N && val[k])
			rc = mf_error(MF_E_USAGE, "%s, line %d: '%s' is given twice (first on"
				      " line %d)", where, first, words[0], at[k]);
		else if (k < K_N) {
			val[k] = words[1];
			words[1] = NULL;
			at[k] = first;
		}
		/* Other keys: Haiku ignores them, so does Mayfly. */
		for (size_t i = 0; i < n; i++)
			free(words[i]);
		free(words);
		if (rc < 0)
			goto out;
	}
	if (rc < 0)
		goto out;
	rc = -1;
	if (!val[K_IDENTIFIER] || !*val[K_IDENTIFIER]) {
		free(val[K_IDENTIFIER]);
		val[K_IDENTIFIER] = val[K_URL];
		at[K_IDENTIFIER] = at[K_URL];
		val[K_URL] = NULL;
	}
	static const int required[] = { K_NAME, K_IDENTIFIER, K_VENDOR, K_SUMMARY, K_PRIORITY,
					K_ARCH };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		int k = required[i];
		if (!val[k]) {
			mf_error(MF_E_USAGE, "%s: '%s' is missing (required)%s", where, text_keys[k],
				 k == K_IDENTIFIER ? " (or its older name 'url')" : "");
			goto out;
		}
		if (!*val[k]) {
			mf_error(MF_E_USAGE, "%s, line %d: '%s' is empty", where, at[k],
				 text_keys[k]);
			goto out;
		}
	}
	const char *pr = val[K_PRIORITY];
	unsigned long prio = strspn(pr, "0123456789") == strlen(pr) && strlen(pr) <= 3 ?
				     strtoul(pr, NULL, 10) : 256;
	if (prio > 255) {
		mf_error(MF_E_USAGE, "%s, line %d: priority '%s' is not a number from 0 to 255",
			 where, at[K_PRIORITY], pr);
		goto out;
	}
	int arch = arch_number(val[K_ARCH]);
	if (arch <= 0) {
		mf_error(MF_E_USAGE, "%s, line %d: architecture '%s' %s", where, at[K_ARCH],
			 val[K_ARCH], arch == 0 ? "is not allowed for a repository" :
						  "is not one Haiku knows");
		goto out;
	}
	out->name = val[K_NAME];
	out->vendor = val[K_VENDOR];
	out->summary = val[K_SUMMARY];
	out->identifier = val[K_IDENTIFIER];
	val[K_NAME] = val[K_VENDOR] = val[K_SUMMARY] = val[K_IDENTIFIER] = NULL;
	if (val[K_BASEURL] && *val[K_BASEURL]) {
		out->base_url = val[K_BASEURL];
		val[K_BASEURL] = NULL;
	}
	out->arch = xstrdup(hpkg_arch_name((unsigned)arch));
	out->priority = (unsigned)prio;
	rc = 0;
out:
	for (int k = 0; k < K_N; k++)
		free(val[k]);
	return rc;
}

/* A value as a driver-settings word. */
static void add_word(struct strbuf *sb, const char *s)
{
	if (*s && !s[strcspn(s, " \t\r\n\"'\\#{}=;")]) {
		strbuf_addstr(sb, s);
		return;
	}
	strbuf_addch(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_addch(sb, '\\');
		strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '"');
}

char *repoinfo_format(const struct repo_info *ri)
{
	struct strbuf sb = STRBUF_INIT;
	const char *keys[] = { "name", "vendor", "summary", "baseurl", "identifier",
			       "architecture" };
	const char *vals[] = { ri->name, ri->vendor, ri->summary, ri->base_url, ri->identifier,
			       ri->arch };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (i == 3)
			strbuf_addf(&sb, "priority %u\n", ri->priority);
		if (!vals[i])
			continue;
		strbuf_addf(&sb, "%s ", keys[i]);
		add_word(&sb, vals[i]);
		strbuf_addch(&sb, '\n');
	}
	return strbuf_detach(&sb);
}

void repoinfo_release(struct repo_info *ri)
{
	free(ri->name);
	free(ri->vendor);
	free(ri->summary);
	free(ri->identifier);
	free(ri->base_url);
	free(ri->arch);
	for (size_t i = 0; i < ri->n_licenses; i++) {
		free(ri->licenses[i]);
		free(ri->license_texts[i]);
	}
	free(ri->licenses);
	free(ri->license_texts);
	free(ri->class_name);
	memset(ri, 0, sizeof(*ri));
}

/* ---- the archived BMessage ---- */

#define MSG_FORMAT 0x31464d48u /* 'HMF1' */
#define MSG_FORMAT_SWAPPED 0x484d4631u
#define T_CSTR 0x43535452u /* 'CSTR', B_STRING_TYPE */
#define T_UBYT 0x55425954u /* 'UBYT', B_UINT8_TYPE */
#define MSG_HEADER 68
#define FIELD_HEADER 24
#define HASH_SIZE 5

static void le32(struct strbuf *sb, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		strbuf_addch(sb, (char)(v >> (8 * i)));
}

/* BMessage::_HashName, with its signed char. */
static uint32_t msg_hash(const char *name)
{
	uint32_t r = 0;
	for (; *name; name++) {
		r = (r << 7) ^ (r >> 24);
		r ^= (uint32_t)(int32_t)(signed char)*name;
	}
	return r ^ (r << 12);
}

struct msg_field {
	const char *name;
	uint32_t type, count;
	struct strbuf data; /* the values */
	int32_t next;
};

static void msg_add(struct msg_field *f, size_t *n, const char *name, uint32_t type,
		    const void *v, size_t len)
{
	struct msg_field *m = &f[*n];

	if (*n == 0 || strcmp(f[*n - 1].name, name)) {
		memset(m, 0, sizeof(*m));
		m->name = name;
		m->type = type;
		m->next = -1;
		++*n;
	} else {
		m = &f[*n - 1];
	}
	if (type != T_UBYT)
		le32(&m->data, (uint32_t)len);
	strbuf_add(&m->data, v, len);
	m->count++;
}

static void msg_add_str(struct msg_field *f, size_t *n, const char *name, const char *s)
{
	msg_add(f, n, name, T_CSTR, s, strlen(s) + 1);
}

int repoinfo_encode(const struct repo_info *ri, unsigned char **out, size_t *len)
{
	struct msg_field f[12];
	struct strbuf sb = STRBUF_INIT;
	size_t n = 0, i;
	int32_t table[HASH_SIZE];
	int arch = ri->arch ? arch_number(ri->arch) : -1;

	*out = NULL;
	*len = 0;
	if (!ri->name || !ri->identifier || !ri->vendor || !ri->summary)
		return mf_error(MF_E_USAGE, "repository info: name, identifier, vendor and"
			       " summary are required");
	if (arch <= 0)
		return mf_error(MF_E_USAGE, "repository info: architecture '%s' %s",
				ri->arch ? ri->arch : "(none)",
				arch == 0 ? "is not allowed" : "is not one Haiku knows");
	if (ri->priority > 255)
		return mf_error(MF_E_USAGE, "repository info: priority %u is more than 255",
				ri->priority);
	/* BRepositoryInfo::Archive's order. */
	msg_add_str(f, &n, "class", ri->class_name ? ri->class_name : "");
	if (ri->base_url && *ri->base_url)
		msg_add_str(f, &n, "baseUrl", ri->base_url);
	msg_add_str(f, &n, "name", ri->name);
	if (!ri->legacy_url)
		msg_add_str(f, &n, "identifier", ri->identifier);
	msg_add_str(f, &n, "url", ri->identifier);
	msg_add_str(f, &n, "vendor", ri->vendor);
	msg_add_str(f, &n, "summary", ri->summary);
	uint8_t b = (uint8_t)ri->priority;
	msg_add(f, &n, "priority", T_UBYT, &b, 1);
	b = (uint8_t)arch;
	msg_add(f, &n, "architecture", T_UBYT, &b, 1);
	for (i = 0; i < ri->n_licenses; i++)
		msg_add_str(f, &n, "licenseName", ri->licenses[i]);
	for (i = 0; i < ri->n_licenses; i++)
		msg_add_str(f, &n, "licenseText", ri->license_texts[i]);

	/* The hash chains, each field appended to its bucket's. */
	for (i = 0; i < HASH_SIZE; i++)
		table[i] = -1;
	size_t data = 0;
	for (i = 0; i < n; i++) {
		int32_t *next = &table[msg_hash(f[i].name) % HASH_SIZE];
		while (*next >= 0)
			next = &f[*next].next;
		*next = (int32_t)i;
		data += strlen(f[i].name) + 1 + f[i].data.len;
	}
	le32(&sb, MSG_FORMAT);
	le32(&sb, 0); /* what */
	le32(&sb, 1); /* flags: valid */
	for (i = 0; i < 6; i++)
		le32(&sb, UINT32_MAX); /* no target, specifier, area, reply port/target/team */
	le32(&sb, (uint32_t)data);
	le32(&sb, (uint32_t)n);
	le32(&sb, HASH_SIZE);
	for (i = 0; i < HASH_SIZE; i++)
		le32(&sb, (uint32_t)table[i]);
	uint32_t off = 0;
	for (i = 0; i < n; i++) {
		uint32_t nl = (uint32_t)strlen(f[i].name) + 1;
		le32(&sb, (f[i].type == T_UBYT ? 3u : 1u) | nl << 16);
		le32(&sb, f[i].type);
		le32(&sb, f[i].count);
		le32(&sb, (uint32_t)f[i].data.len);
		le32(&sb, off);
		le32(&sb, (uint32_t)f[i].next);
		off += nl + (uint32_t)f[i].data.len;
	}
	for (i = 0; i < n; i++) {
		strbuf_add(&sb, f[i].name, strlen(f[i].name) + 1);
		strbuf_add(&sb, f[i].data.buf, f[i].data.len);
		strbuf_release(&f[i].data);
	}
	*len = sb.len;
	*out = (unsigned char *)strbuf_detach(&sb);
	return 0;
}

struct msg_in {
	const char *name;	  /* for messages */
	const unsigned char *p;	  /* the data area */
	size_t len;
	int swap;
	struct {
		const char *name;
		uint32_t type, count, flags;
		const unsigned char *data;
		size_t size;
	} f[64];
	size_t n;
};

static uint32_t rd32(const struct msg_in *m, const unsigned char *p)
{
	if (m->swap)
		return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static int msg_find(const struct msg_in *m, const char *name, uint32_t type, int required)
{
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->f[i].name, name))
			continue;
		if (m->f[i].type != type)
			return mf_error(MF_E_USAGE, "%s: field '%s' has the wrong type", m->name,
					name);
		return (int)i;
	}
	if (required)
		return mf_error(MF_E_USAGE, "%s: no field '%s'", m->name, name);
	return -2;
}

/* String value k of field i, copied. */
static int msg_string(const struct msg_in *m, int i, uint32_t k, char **out)
{
	const unsigned char *p = m->f[i].data, *end = p + m->f[i].size;

	for (uint32_t j = 0;; j++) {
		if (end - p < 4)
			return mf_error(MF_E_USAGE, "%s: field '%s' ends in the middle of a value",
					m->name, m->f[i].name);
		uint32_t n = rd32(m, p);
		p += 4;
		if (n == 0 || n > (size_t)(end - p) || !memchr(p, 0, n))
			return mf_error(MF_E_USAGE, "%s: field '%s' holds a broken string",
					m->name, m->f[i].name);
		if (j == k) {
			*out = xstrdup((const char *)p);
			return 0;
		}
		p += n;
	}
}

static int msg_parse(struct msg_in *m, const unsigned char *b, size_t len)
{
	if (len < MSG_HEADER)
		return mf_error(MF_E_USAGE, "%s: %zu bytes, too short for a message", m->name, len);
	uint32_t format = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
			  (uint32_t)b[3] << 24;
	if (format != MSG_FORMAT && format != MSG_FORMAT_SWAPPED)
		return mf_error(MF_E_USAGE, "%s: not a flattened message in Haiku's format"
			       " (format %08" PRIx32 ")", m->name, format);
	m->swap = format == MSG_FORMAT_SWAPPED;
	uint32_t data_size = rd32(m, b + 36), count = rd32(m, b + 40);
	if (count > sizeof(m->f) / sizeof(m->f[0]) ||
	    (uint64_t)count * FIELD_HEADER + data_size != len - MSG_HEADER)
		return mf_error(MF_E_USAGE, "%s: %" PRIu32 " fields and %" PRIu32 " bytes of data"
			       " do not make up its %zu bytes", m->name, count, data_size, len);
	m->p = b + MSG_HEADER + (size_t)count * FIELD_HEADER;
	m->len = data_size;
	for (m->n = 0; m->n < count; m->n++) {
		const unsigned char *h = b + MSG_HEADER + m->n * FIELD_HEADER;
		uint32_t fl = rd32(m, h), nl = m->swap ? fl & 0xffff : fl >> 16;
		uint32_t size = rd32(m, h + 12), off = rd32(m, h + 16);
		fl = m->swap ? fl >> 16 : fl & 0xffff;
		m->f[m->n].flags = fl;
		m->f[m->n].type = rd32(m, h + 4);
		m->f[m->n].count = rd32(m, h + 8);
		if (!(fl & 1) || nl == 0 || off > data_size || nl > data_size - off ||
		    size > data_size - off - nl || m->p[off + nl - 1] != 0 ||
		    m->f[m->n].count == 0)
			return mf_error(MF_E_USAGE, "%s: field %zu is broken", m->name, m->n);
		m->f[m->n].name = (const char *)m->p + off;
		m->f[m->n].data = m->p + off + nl;
		m->f[m->n].size = size;
	}
	return 0;
}

static int msg_uint8(const struct msg_in *m, const char *name, uint8_t *v)
{
	int i = msg_find(m, name, T_UBYT, 1);
	if (i < 0)
		return -1;
	if (!(m->f[i].flags & 2) || m->f[i].size != m->f[i].count)
		return mf_error(MF_E_USAGE, "%s: field '%s' is not a list of bytes", m->name, name);
	*v = m->f[i].data[0];
	return 0;
}

int repoinfo_decode(const void *buf, size_t len, const char *name, struct repo_info *out)
{
	struct msg_in *m = xcalloc(1, sizeof(*m));
	static const char *const strs[] = { "name", "vendor", "summary" };
	char **slots[] = { &out->name, &out->vendor, &out->summary };
	int i, rc = -1;
	uint8_t prio, arch;

	memset(out, 0, sizeof(*out));
	m->name = name;
	if (msg_parse(m, buf, len) < 0)
		goto out;
	for (size_t k = 0; k < 3; k++)
		if ((i = msg_find(m, strs[k], T_CSTR, 1)) < 0 || msg_string(m, i, 0, slots[k]) < 0)
			goto out;
	i = msg_find(m, "identifier", T_CSTR, 0);
	if (i == -1)
		goto out;
	out->legacy_url = i < 0;
	if (i < 0 && (i = msg_find(m, "url", T_CSTR, 1)) < 0)
		goto out;
	if (msg_string(m, i, 0, &out->identifier) < 0)
		goto out;
	if (msg_uint8(m, "priority", &prio) < 0 || msg_uint8(m, "architecture", &arch) < 0)
		goto out;
	if (arch == 0 || !hpkg_arch_name(arch)) {
		mf_error(MF_E_USAGE, "%s: architecture %u %s", name, arch,
			 arch == 0 ? "(any) is not allowed for a repository" :
				     "is not one Haiku knows");
		goto out;
	}
	out->priority = prio;
	out->arch = xstrdup(hpkg_arch_name(arch));
	if ((i = msg_find(m, "baseUrl", T_CSTR, 0)) == -1 ||
	    (i >= 0 && msg_string(m, i, 0, &out->base_url) < 0))
		goto out;
	if ((i = msg_find(m, "class", T_CSTR, 0)) == -1 ||
	    (i >= 0 && msg_string(m, i, 0, &out->class_name) < 0))
		goto out;
	int ln = msg_find(m, "licenseName", T_CSTR, 0), lt = msg_find(m, "licenseText", T_CSTR, 0);
	if (ln == -1 || lt == -1)
		goto out;
	if (ln >= 0 && lt >= 0) {
		/* Pairs, as many as both fields have (BRepositoryInfo::_SetTo). */
		size_t n = m->f[ln].count < m->f[lt].count ? m->f[ln].count : m->f[lt].count;
		out->licenses = xcalloc(n, sizeof(*out->licenses));
		out->license_texts = xcalloc(n, sizeof(*out->license_texts));
		for (; out->n_licenses < n; out->n_licenses++) {
			size_t k = out->n_licenses;
			if (msg_string(m, ln, (uint32_t)k, &out->licenses[k]) < 0 ||
			    msg_string(m, lt, (uint32_t)k, &out->license_texts[k]) < 0) {
				out->n_licenses++;
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(m);
	if (rc < 0) {
		struct mf_error_saved e;
		mf_error_save(&e);
		repoinfo_release(out);
		mf_error_restore(&e);
	}
	return rc;
}

/* ---- reading repositories ---- */

static const struct hpkg_attr *find_attr(const struct hpkg_attr *a, size_t n, unsigned id,
					 unsigned type)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].id == id && a[i].type == type)
			return &a[i];
	return NULL;
}

static int repo_from_tree(struct hpkg_tree *t, const char *name, struct hpkr_repo *out)
{
	memset(out, 0, sizeof(*out));
	if (t->kind != HPKG_REPOSITORY)
		return mf_error(MF_E_USAGE, "%s: a package, not a repository", name);
	if (repoinfo_decode(t->repo_info, t->repo_info_len, name, &out->info) < 0)
		return -1;
	out->pkgs = xcalloc(t->n_attrs ? t->n_attrs : 1, sizeof(*out->pkgs));
	for (size_t i = 0; i < t->n_attrs; i++) {
		struct hpkg_attr *a = &t->attrs[i];
		if (a->id != HPKG_ATTR_PACKAGE || a->type != HPKG_TYPE_STRING)
			continue;
		struct hpkr_package *p = &out->pkgs[out->n_pkgs++];
		p->attrs = a->kids;
		p->n_attrs = a->n_kids;
		a->kids = NULL;
		a->n_kids = 0;
		const struct hpkg_attr *c = find_attr(p->attrs, p->n_attrs, HPKG_ATTR_CHECKSUM,
						      HPKG_TYPE_STRING);
		p->checksum = c ? xstrdup(c->s) : NULL;
	}
	out->strings = t->strings;
	out->n_strings = t->n_strings;
	t->strings = NULL;
	t->n_strings = 0;
	return 0;
}

static int repo_read(struct hpkg_tree *t, int rc, const char *name, struct hpkr_repo *out)
{
	if (rc == 0)
		rc = repo_from_tree(t, name, out);
	hpkg_tree_release(t);
	if (rc < 0) {
		struct mf_error_saved e;
		mf_error_save(&e);
		hpkr_repo_release(out);
		mf_error_restore(&e);
	}
	return rc;
}

int hpkr_read_file(const char *path, struct hpkr_repo *out)
{
	struct hpkg_tree t;
	memset(out, 0, sizeof(*out));
	return repo_read(&t, hpkg_read_tree_file(path, &t), path, out);
}

int hpkr_read_buffer(const void *data, size_t len, const char *name, struct hpkr_repo *out)
{
	struct hpkg_tree t;
	memset(out, 0, sizeof(*out));
	return repo_read(&t, hpkg_read_tree_buffer(data, len, name, &t), name, out);
}

void hpkr_package_release(struct hpkr_package *p)
{
	hpkg_attrs_free(p->attrs, p->n_attrs);
	free(p->checksum);
	memset(p, 0, sizeof(*p));
}

void hpkr_repo_release(struct hpkr_repo *r)
{
	repoinfo_release(&r->info);
	for (size_t i = 0; i < r->n_pkgs; i++)
		hpkr_package_release(&r->pkgs[i]);
	free(r->pkgs);
	for (size_t i = 0; i < r->n_strings; i++)
		free(r->strings[i]);
	free(r->strings);
	memset(r, 0, sizeof(*r));
}

int hpkr_package_from_hpkg(const char *path, struct hpkr_package *out)
{
	struct hpkg_tree t;
	char hex[SHA256_HEX_LEN];
	uint64_t size;

	memset(out, 0, sizeof(*out));
	if (hpkg_read_tree_file(path, &t) < 0)
		return -1;
	if (t.kind != HPKG_PACKAGE) {
		hpkg_tree_release(&t);
		return mf_error(MF_E_USAGE, "%s: a repository, not a package", path);
	}
	if (sha256_file(path, hex, &size) < 0) {
		hpkg_tree_release(&t);
		return mf_error_wrap("checksum of '%s'", path);
	}
	out->attrs = t.attrs;
	out->n_attrs = t.n_attrs;
	out->checksum = xstrdup(hex);
	t.attrs = NULL;
	t.n_attrs = 0;
	hpkg_tree_release(&t);
	return 0;
}

int hpkg_attrs_equal(const struct hpkg_attr *a, size_t na, const struct hpkg_attr *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		const struct hpkg_attr *x = &a[i], *y = &b[i];
		if (x->id != y->id || x->type != y->type || x->u != y->u ||
		    x->raw_len != y->raw_len || x->raw_heap != y->raw_heap || !x->s != !y->s)
			return 0;
		if (x->s && (x->type == HPKG_TYPE_RAW ? memcmp(x->s, y->s, x->raw_len) :
							strcmp(x->s, y->s)))
			return 0;
		if (!hpkg_attrs_equal(x->kids, x->n_kids, y->kids, y->n_kids))
			return 0;
	}
	return 1;
}

/* ---- writing ---- */

/* The section's strings: how often each is used, and its table index. */
struct str_entry {
	const char *s;
	uint32_t hash, count, first, rank;
	int32_t index; /* in the table, or -1: inline */
	int is_name;
};

struct writer {
	int emit; /* 0: count the strings; 1: write the section */
	struct str_entry *e;
	size_t n, alloc;
	uint32_t *slots; /* entry + 1, 0: free */
	size_t nslots;
	struct strbuf *out;
};

static uint32_t str_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The entry of s; a new one when add, else NULL if s is unknown. */
static struct str_entry *str_get(struct writer *w, const char *s, int add)
{
	uint32_t h = str_hash(s);

	if (add && (w->n + 1) * 2 > w->nslots) {
		size_t ns = w->nslots ? 2 * w->nslots : 1024;
		uint32_t *slots = xcalloc(ns, sizeof(*slots));
		for (size_t i = 0; i < w->n; i++) {
			size_t j = w->e[i].hash & (ns - 1);
			while (slots[j])
				j = (j + 1) & (ns - 1);
			slots[j] = (uint32_t)i + 1;
		}
		free(w->slots);
		w->slots = slots;
		w->nslots = ns;
	}
	if (!w->nslots)
		return NULL;
	for (size_t j = h & (w->nslots - 1);; j = (j + 1) & (w->nslots - 1)) {
		uint32_t k = w->slots[j];
		if (!k)
			break;
		if (w->e[k - 1].hash == h && !strcmp(w->e[k - 1].s, s))
			return &w->e[k - 1];
	}
	if (!add)
		return NULL;
	if (w->n == w->alloc) {
		w->alloc = w->alloc ? 2 * w->alloc : 1024;
		w->e = xrealloc(w->e, w->alloc * sizeof(*w->e));
	}
	struct str_entry *e = &w->e[w->n];
	*e = (struct str_entry){ .s = s, .hash = h, .first = (uint32_t)w->n, .rank = UINT32_MAX,
				 .index = -1 };
	for (size_t j = h & (w->nslots - 1);; j = (j + 1) & (w->nslots - 1))
		if (!w->slots[j]) {
			w->slots[j] = (uint32_t)++w->n;
			break;
		}
	return e;
}

static void put_uleb(struct strbuf *sb, uint64_t v)
{
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		strbuf_addch(sb, (char)(b | (v ? 0x80 : 0)));
	} while (v);
}

static void put_tag(struct strbuf *sb, unsigned id, unsigned type, unsigned enc, int kids)
{
	put_uleb(sb, ((uint64_t)enc << 11 | (uint64_t)(kids != 0) << 10 | (uint64_t)type << 7 |
		      id) + 1);
}

/* A string attribute: counted, or written from the table or inline. */
static struct str_entry *put_string(struct writer *w, unsigned id, const char *s, int kids)
{
	struct str_entry *e = str_get(w, s, !w->emit);
	if (!w->emit) {
		e->count++;
		return e;
	}
	if (e && e->index >= 0) {
		put_tag(w->out, id, HPKG_TYPE_STRING, 1, kids);
		put_uleb(w->out, (uint64_t)e->index);
	} else {
		put_tag(w->out, id, HPKG_TYPE_STRING, 0, kids);
		strbuf_add(w->out, s, strlen(s) + 1);
	}
	return e;
}

/* Integers in the fewest bytes, as WriterImplBase picks them. */
static void put_int(struct strbuf *sb, const struct hpkg_attr *a)
{
	uint64_t v = a->u, mag = v;
	if (a->type == HPKG_TYPE_INT)
		mag = (int64_t)v >= 0 ? v << 1 : (uint64_t)(-((int64_t)v + 1)) << 1;
	unsigned enc = mag <= 0xff ? 0 : mag <= 0xffff ? 1 : mag <= 0xffffffff ? 2 : 3;
	put_tag(sb, a->id, a->type, enc, a->n_kids > 0);
	for (size_t i = (size_t)1 << enc; i-- > 0;)
		strbuf_addch(sb, (char)(v >> (8 * i)));
}

static int put_list(struct writer *w, const struct hpkg_attr *a, size_t n,
		    const char *checksum, int depth);

static int put_attr(struct writer *w, const struct hpkg_attr *a, const char *s, int depth)
{
	if (a->id > 127)
		return mf_error(MF_E_USAGE, "attribute id %u (at most 127)", a->id);
	switch (a->type) {
	case HPKG_TYPE_INT:
	case HPKG_TYPE_UINT:
		if (w->emit)
			put_int(w->out, a);
		break;
	case HPKG_TYPE_STRING:
		if (!s)
			return mf_error(MF_E_USAGE, "string attribute %u without a string", a->id);
		put_string(w, a->id, s, a->n_kids > 0);
		break;
	case HPKG_TYPE_RAW:
		if (a->raw_heap || (a->raw_len && !a->s))
			return mf_error(MF_E_USAGE, "attribute %u: raw data not held inline cannot"
				       " go into a repository", a->id);
		if (w->emit) {
			put_tag(w->out, a->id, HPKG_TYPE_RAW, 0, a->n_kids > 0);
			put_uleb(w->out, a->raw_len);
			strbuf_add(w->out, a->s, a->raw_len);
		}
		break;
	default:
		return mf_error(MF_E_USAGE, "attribute %u has unknown type %u", a->id, a->type);
	}
	return a->n_kids ? put_list(w, a->kids, a->n_kids, NULL, depth + 1) : 0;
}

/* A list and its end; checksum (top level only) replaces the checksum
 * attribute, or goes before install-path, or last, as Haiku places it. */
static int put_list(struct writer *w, const struct hpkg_attr *a, size_t n,
		    const char *checksum, int depth)
{
	static const struct hpkg_attr sum = { .id = HPKG_ATTR_CHECKSUM, .type = HPKG_TYPE_STRING };
	int done = !checksum;

	if (depth > MAX_WRITE_DEPTH)
		return mf_error(MF_E_USAGE, "attributes nested more than %d deep",
				MAX_WRITE_DEPTH);
	for (size_t i = 0; i < n; i++) {
		const char *s = a[i].s;
		if (!done && a[i].id == HPKG_ATTR_CHECKSUM && a[i].type == HPKG_TYPE_STRING) {
			s = checksum;
			done = 1;
		} else if (!done && a[i].id == HPKG_ATTR_INSTALL_PATH) {
			if (put_attr(w, &sum, checksum, depth) < 0)
				return -1;
			done = 1;
		}
		if (put_attr(w, &a[i], s, depth) < 0)
			return -1;
	}
	if (!done && put_attr(w, &sum, checksum, depth) < 0)
		return -1;
	if (w->emit)
		strbuf_addch(w->out, 0);
	return 0;
}

static int put_package(struct writer *w, const struct hpkr_package *p, size_t i)
{
	const struct hpkg_attr *name = find_attr(p->attrs, p->n_attrs, HPKG_ATTR_NAME,
						 HPKG_TYPE_STRING);
	if (!name || !name->s || !*name->s)
		return mf_error(MF_E_USAGE, "package %zu of the repository has no name", i + 1);
	struct str_entry *e = put_string(w, HPKG_ATTR_PACKAGE, name->s, 1);
	if (!w->emit) {
		if (e->is_name)
			return mf_error(MF_E_USAGE, "package '%s' is in the repository twice",
					name->s);
		e->is_name = 1;
	}
	if (put_list(w, p->attrs, p->n_attrs, p->checksum, 1) < 0)
		return mf_error_wrap("package '%s'", name->s);
	return 0;
}

static int by_use(const void *pa, const void *pb)
{
	const struct str_entry *a = *(const struct str_entry *const *)pa,
			       *b = *(const struct str_entry *const *)pb;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->first < b->first ? -1 : a->first > b->first;
}

/* The string table: strings used twice or more, most used first; returns
 * how many. */
static size_t string_table(struct writer *w, const struct hpkr_write_opts *opts)
{
	struct str_entry **t = xcalloc(w->n ? w->n : 1, sizeof(*t));
	size_t n = 0;

	for (size_t i = 0; opts && i < opts->n_string_order; i++) {
		struct str_entry *e = str_get(w, opts->string_order[i], 0);
		if (e && e->rank == UINT32_MAX)
			e->rank = (uint32_t)i;
	}
	for (size_t i = 0; i < w->n; i++)
		if (w->e[i].count >= 2 && w->e[i].s[0])
			t[n++] = &w->e[i];
	qsort(t, n, sizeof(*t), by_use);
	for (size_t i = 0; i < n; i++) {
		t[i]->index = (int32_t)i;
		strbuf_add(w->out, t[i]->s, strlen(t[i]->s) + 1);
	}
	strbuf_addch(w->out, 0);
	free(t);
	return n;
}

static void be(struct strbuf *sb, uint64_t v, int bytes)
{
	for (int i = bytes; i-- > 0;)
		strbuf_addch(sb, (char)(v >> (8 * i)));
}

/* Compresses the heap in chunks into file, with the table of their sizes. */
static int compress_heap(const struct strbuf *heap, struct strbuf *file)
{
	size_t nchunks = (heap->len + CHUNK - 1) / CHUNK;
	uLongf bound = compressBound(CHUNK);
	unsigned char *c = xmalloc(bound);
	uint16_t *sizes = xcalloc(nchunks ? nchunks : 1, sizeof(*sizes));

	for (size_t i = 0; i < nchunks; i++) {
		size_t off = i * CHUNK, n = heap->len - off < CHUNK ? heap->len - off : CHUNK;
		uLongf clen = bound;
		if (compress2(c, &clen, (const Bytef *)heap->buf + off, (uLong)n, 9) != Z_OK) {
			free(c);
			free(sizes);
			return mf_error(MF_E_INFRA, "zlib: cannot compress");
		}
		if (clen < n)
			strbuf_add(file, c, clen);
		else
			strbuf_add(file, heap->buf + off, n), clen = n;
		sizes[i] = (uint16_t)(clen - 1);
	}
	for (size_t i = 0; i + 1 < nchunks; i++)
		be(file, sizes[i], 2);
	free(c);
	free(sizes);
	return 0;
}

int hpkr_write_with(const struct repo_info *ri, const struct hpkr_package *pkgs, size_t n,
		    const struct hpkr_write_opts *opts, unsigned char **out, size_t *len)
{
	struct strbuf heap = STRBUF_INIT, file = STRBUF_INIT;
	struct writer w = { .out = &heap };
	unsigned char *info = NULL;
	size_t info_len, i, nstrings;
	int rc = -1;

	*out = NULL;
	*len = 0;
	if (repoinfo_encode(ri, &info, &info_len) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (put_package(&w, &pkgs[i], i) < 0)
			goto out;
	strbuf_add(&heap, info, info_len);
	size_t start = heap.len;
	nstrings = string_table(&w, opts);
	size_t strings_len = heap.len - start;
	w.emit = 1;
	for (i = 0; i < n; i++)
		if (put_package(&w, &pkgs[i], i) < 0)
			goto out;
	strbuf_addch(&heap, 0);
	size_t packages_len = heap.len - start;

	strbuf_grow(&file, heap.len / 3 + 128);
	strbuf_add(&file, "hpkr", 4);
	be(&file, 72, 2);	/* header size */
	be(&file, 2, 2);	/* version */
	be(&file, 0, 8);	/* total size, below */
	be(&file, 1, 2);	/* minor version */
	be(&file, 1, 2);	/* zlib */
	be(&file, CHUNK, 4);
	be(&file, 0, 8);	/* compressed heap size, below */
	be(&file, heap.len, 8);
	be(&file, info_len, 4);
	be(&file, 0, 4);	/* reserved */
	be(&file, packages_len, 8);
	be(&file, strings_len, 8);
	be(&file, nstrings, 8);
	if (compress_heap(&heap, &file) < 0)
		goto out;
	for (int k = 0; k < 8; k++) {
		file.buf[8 + k] = (char)((uint64_t)file.len >> (8 * (7 - k)));
		file.buf[24 + k] = (char)((uint64_t)(file.len - 72) >> (8 * (7 - k)));
	}
	*len = file.len;
	*out = (unsigned char *)strbuf_detach(&file);
	rc = 0;
out:
	free(info);
	free(w.e);
	free(w.slots);
	strbuf_release(&heap);
	strbuf_release(&file);
	return rc;
}

int hpkr_write(const struct repo_info *ri, const struct hpkr_package *pkgs, size_t n,
	       unsigned char **out, size_t *len)
{
	return hpkr_write_with(ri, pkgs, n, NULL, out, len);
}
