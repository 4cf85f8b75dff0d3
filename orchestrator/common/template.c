/* template.c - see template.h. */
#include "common/template.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/names.h"

void shell_quote(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(sb, "'\\''");
		else
			strbuf_addch(sb, *s);
	}
	strbuf_addch(sb, '\'');
}

/*
 * The two kinds of template: a build command, and the command run after a
 * restore from a booted snapshot. A kind names its placeholders; the first
 * one must appear (NULL: none must).
 */
struct kind {
	const char *what;
	const char *const *names;
	const char *required;
};

static const char *const build_names[] = { "recipes", "packages_dir", NULL };
static const char *const restore_names[] = { "epoch", "seed", NULL };
static const struct kind build_kind = { "build command", build_names, "recipes" };
static const struct kind restore_kind = { "restore command", restore_names, NULL };

/*
 * Walks a template. For each placeholder calls back with its name; literal
 * text is appended to out (when out != NULL).
 */
static int walk(const struct kind *k, const char *tmpl, struct strbuf *out,
		int (*cb)(const char *, void *), void *arg)
{
	int saw_required = 0;

	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '$' && p[1] == '{') {
			if (out)
				strbuf_addstr(out, "${");
			p++;
			continue;
		}
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			if (out)
				strbuf_addch(out, p[0]);
			p++;
			continue;
		}
		if (p[0] == '{') {
			size_t n = 0;
			while (p[1 + n] == '_' || (p[1 + n] >= 'a' && p[1 + n] <= 'z'))
				n++;
			if (n > 0 && p[1 + n] == '}') {
				const char *name = NULL;
				for (const char *const *q = k->names; *q; q++)
					if (strlen(*q) == n && !strncmp(p + 1, *q, n))
						name = *q;
				if (!name) {
					struct strbuf known = STRBUF_INIT;
					for (const char *const *q = k->names; *q; q++)
						strbuf_addf(&known, "%s{%s}", q == k->names ? "" : ", ",
							    *q);
					mf_error(MF_E_USAGE, "unknown placeholder '{%.*s}' at column "
						 "%zu of the %s (known: %s; write {{ for a literal "
						 "brace)", (int)n, p + 1, (size_t)(p - tmpl) + 1,
						 k->what, known.buf);
					strbuf_release(&known);
					return -1;
				}
				if (k->required && !strcmp(name, k->required))
					saw_required = 1;
				if (cb && cb(name, arg) < 0)
					return -1;
				p += n + 1;
				continue;
			}
		}
		if (out)
			strbuf_addch(out, *p);
	}
	if (k->required && !saw_required)
		return mf_error(MF_E_USAGE,
				"the %s '%s' has no {%s} placeholder, so no %s would reach it",
				k->what, tmpl, k->required,
				!strcmp(k->required, "recipes") ? "recipe" : k->required);
	return 0;
}

int template_check(const char *tmpl)
{
	if (!tmpl || !*tmpl)
		return mf_error(MF_E_USAGE, "the build command is empty");
	return walk(&build_kind, tmpl, NULL, NULL, NULL);
}

struct expand_ctx {
	struct strbuf *out;
	const struct template_vars *vars;
};

static int expand_one(const char *name, void *arg)
{
	struct expand_ctx *ctx = arg;

	if (!strcmp(name, "recipes")) {
		for (size_t i = 0; i < ctx->vars->nrecipes; i++) {
			if (recipe_name_check(ctx->vars->recipes[i]) < 0)
				return -1;
			if (i)
				strbuf_addch(ctx->out, ' ');
			shell_quote(ctx->out, ctx->vars->recipes[i]);
		}
	} else if (!strcmp(name, "packages_dir")) {
		shell_quote(ctx->out, ctx->vars->packages_dir ? ctx->vars->packages_dir : "");
	}
	return 0;
}

int template_expand(struct strbuf *out, const char *tmpl, const struct template_vars *vars)
{
	struct expand_ctx ctx = { out, vars };

	if (vars->nrecipes == 0)
		return mf_error(MF_E_USAGE, "no recipe given");
	if (template_check(tmpl) < 0)
		return -1;
	return walk(&build_kind, tmpl, out, expand_one, &ctx);
}

int restore_template_check(const char *tmpl)
{
	if (!tmpl || !*tmpl)
		return mf_error(MF_E_USAGE, "the restore command is empty");
	return walk(&restore_kind, tmpl, NULL, NULL, NULL);
}

struct restore_ctx {
	struct strbuf *out;
	long long epoch;
	const char *seed;
};

static int restore_one(const char *name, void *arg)
{
	struct restore_ctx *ctx = arg;

	/* Digits and hex digits only: nothing to quote, but quoted all the same. */
	if (!strcmp(name, "epoch")) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", ctx->epoch);
		shell_quote(ctx->out, buf);
	} else {
		shell_quote(ctx->out, ctx->seed);
	}
	return 0;
}

int restore_template_expand(struct strbuf *out, const char *tmpl, long long epoch,
			    const char *seed)
{
	struct restore_ctx ctx = { out, epoch, seed };

	return walk(&restore_kind, tmpl, out, restore_one, &ctx);
}
