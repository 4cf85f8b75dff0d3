/* resolvable.c - see resolvable.h. */
#include "pkg/resolvable.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "pkg/version.h"

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* A run of characters up to white space or one of stop. */
static char *word(const char **s, const char *stop)
{
	const char *p = *s;
	size_t n = 0;

	while (p[n] && p[n] != ' ' && p[n] != '\t' && !strchr(stop, p[n]))
		n++;
	*s = p + n;
	return n ? xstrndup(p, n) : NULL;
}

int provide_parse(const char *text, struct hpkg_provide *out)
{
	const char *s = skip_space(text);

	memset(out, 0, sizeof(*out));
	out->name = word(&s, "=<>!");
	if (!out->name)
		return mf_error(MF_E_USAGE, "provides '%s': no name", text);
	s = skip_space(s);
	if (*s == '=') {
		s = skip_space(s + 1);
		out->version = word(&s, "");
		if (!out->version)
			goto bad;
		s = skip_space(s);
		int paren = *s == '(';
		if (paren)
			s++;
		if (!strncmp(s, "compatible", 10))
			s += 10;
		else if (!strncmp(s, "compat", 6))
			s += 6;
		else if (paren)
			goto bad;
		else
			goto end;
		s = skip_space(s);
		if (strncmp(s, ">=", 2))
			goto bad;
		s = skip_space(s + 2);
		out->compat = word(&s, ")");
		if (!out->compat || (paren && *s++ != ')'))
			goto bad;
	}
end:
	if (*skip_space(s))
		goto bad;
	return 0;
bad:
	provide_release(out);
	return mf_error(MF_E_USAGE, "provides '%s': expected 'name [= version [compat >= "
			"version]]'", text);
}

enum hpkg_op resolvable_op(const char *s)
{
	static const char *const ops[] = { "<", "<=", "==", "!=", ">=", ">" };
	for (int i = 0; i < 6; i++)
		if (!strcmp(s, ops[i]))
			return (enum hpkg_op)i;
	return HPKG_OP_NONE;
}

int requirement_parse(const char *text, struct requirement *out)
{
	const char *s = skip_space(text);

	memset(out, 0, sizeof(*out));
	out->op = HPKG_OP_NONE;
	out->name = word(&s, "=<>!");
	if (!out->name)
		return mf_error(MF_E_USAGE, "requires '%s': no name", text);
	s = skip_space(s);
	if (*s && strchr("=<>!", *s)) {
		size_t n = strspn(s, "=<>!");
		char *op = xstrndup(s, n);
		out->op = resolvable_op(op);
		/* Recipes write "=" for "==". */
		if (!strcmp(op, "="))
			out->op = HPKG_OP_EQ;
		free(op);
		if (out->op == HPKG_OP_NONE)
			goto bad;
		s = skip_space(s + n);
		out->version = word(&s, "");
		if (!out->version)
			goto bad;
		s = skip_space(s);
	}
	if (!strncmp(s, "base", 4) && !*skip_space(s + 4)) {
		out->base = 1;
		s += 4;
	}
	if (*skip_space(s))
		goto bad;
	return 0;
bad:
	requirement_release(out);
	return mf_error(MF_E_USAGE, "requires '%s': expected 'name [op version] [base]'", text);
}

void provide_release(struct hpkg_provide *p)
{
	free(p->name);
	free(p->version);
	free(p->compat);
	memset(p, 0, sizeof(*p));
}

void requirement_release(struct requirement *r)
{
	free(r->name);
	free(r->version);
	memset(r, 0, sizeof(*r));
	r->op = HPKG_OP_NONE;
}

int requirement_met_by(const struct requirement *r, const struct hpkg_provide *p)
{
	if (r->op == HPKG_OP_NONE)
		return 1;
	if (!p->version)
		return 0;
	int c = version_compare(p->version, r->version);
	int ok;
	switch (r->op) {
	case HPKG_OP_LT: ok = c < 0; break;
	case HPKG_OP_LE: ok = c <= 0; break;
	case HPKG_OP_EQ: ok = c == 0; break;
	case HPKG_OP_NE: ok = c != 0; break;
	case HPKG_OP_GE: ok = c >= 0; break;
	case HPKG_OP_GT: ok = c > 0; break;
	default: ok = 0;
	}
	if (ok && p->compat && version_compare(p->compat, r->version) > 0)
		ok = 0;
	return ok;
}

char *requirement_string(const struct requirement *r)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, r->name);
	if (r->op != HPKG_OP_NONE)
		strbuf_addf(&sb, " %s %s", hpkg_op_name(r->op), r->version);
	if (r->base)
		strbuf_addstr(&sb, " base");
	return strbuf_detach(&sb);
}
