/* template.c - see template.h. */
#include "common/template.h"

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

enum placeholder { PH_NONE, PH_RECIPES, PH_PACKAGES_DIR };

/*
 * Walks a template. For each placeholder calls back with its kind; literal
 * text is appended to out (when out != NULL).
 */
static int walk(const char *tmpl, struct strbuf *out,
		int (*cb)(enum placeholder, void *), void *arg)
{
	int saw_recipes = 0;

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
				enum placeholder ph = PH_NONE;
				if (n == 7 && !strncmp(p + 1, "recipes", n))
					ph = PH_RECIPES;
				else if (n == 12 && !strncmp(p + 1, "packages_dir", n))
					ph = PH_PACKAGES_DIR;
				if (ph == PH_NONE)
					return mf_error(MF_E_USAGE,
							"unknown placeholder '{%.*s}' at column %zu of the "
							"build command (known: {recipes}, {packages_dir}; "
							"write {{ for a literal brace)",
							(int)n, p + 1, (size_t)(p - tmpl) + 1);
				if (ph == PH_RECIPES)
					saw_recipes = 1;
				if (cb && cb(ph, arg) < 0)
					return -1;
				p += n + 1;
				continue;
			}
		}
		if (out)
			strbuf_addch(out, *p);
	}
	if (!saw_recipes)
		return mf_error(MF_E_USAGE,
				"the build command '%s' has no {recipes} placeholder, so no "
				"recipe would reach it", tmpl);
	return 0;
}

int template_check(const char *tmpl)
{
	if (!tmpl || !*tmpl)
		return mf_error(MF_E_USAGE, "the build command is empty");
	return walk(tmpl, NULL, NULL, NULL);
}

struct expand_ctx {
	struct strbuf *out;
	const struct template_vars *vars;
};

static int expand_one(enum placeholder ph, void *arg)
{
	struct expand_ctx *ctx = arg;

	switch (ph) {
	case PH_RECIPES:
		for (size_t i = 0; i < ctx->vars->nrecipes; i++) {
			if (recipe_name_check(ctx->vars->recipes[i]) < 0)
				return -1;
			if (i)
				strbuf_addch(ctx->out, ' ');
			shell_quote(ctx->out, ctx->vars->recipes[i]);
		}
		break;
	case PH_PACKAGES_DIR:
		shell_quote(ctx->out, ctx->vars->packages_dir ? ctx->vars->packages_dir : "");
		break;
	case PH_NONE:
		break;
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
	return walk(tmpl, out, expand_one, &ctx);
}
