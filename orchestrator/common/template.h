/*
 * template.h - the build command template and shell quoting. Every value
 * put into a command is checked (names.h) and single-quoted.
 *
 * A template is a shell command with placeholders:
 *	{recipes}	the recipe names, each shell-quoted, space-separated
 *	{packages_dir}	the image's packages directory, shell-quoted
 * "{{" and "}}" stand for literal braces; "${...}" is left to the shell.
 * Any other "{word}" is an error, so a typo never reaches the guest.
 */
#ifndef MAYFLY_TEMPLATE_H
#define MAYFLY_TEMPLATE_H

#include <stddef.h>

#include "common/strbuf.h"

/* Appends s to sb as one single-quoted shell word. */
void shell_quote(struct strbuf *sb, const char *s);

/* Checks a template's syntax and placeholders (MF_E_USAGE on error). */
int template_check(const char *tmpl);

struct template_vars {
	char *const *recipes;
	size_t nrecipes;
	const char *packages_dir;
};

/* Expands a template; every recipe is checked and quoted. */
int template_expand(struct strbuf *out, const char *tmpl, const struct template_vars *vars);

/*
 * The command run after a restore from a booted snapshot:
 *	{epoch}	the host's time, seconds since the epoch
 *	{seed}	64 hex digits of fresh host randomness
 * Both expand to single-quoted words. No placeholder is required.
 */
int restore_template_check(const char *tmpl);
int restore_template_expand(struct strbuf *out, const char *tmpl, long long epoch,
			    const char *seed);

#endif
