/* names.c - see names.h. */
#include "common/names.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

static int name_check(const char *what, const char *name, size_t max, const char *extra)
{
	size_t len = strlen(name);

	if (len == 0)
		return mf_error(MF_E_USAGE, "invalid %s name: empty", what);
	/* Check every byte first, so a message never echoes a control character. */
	for (size_t i = 0; i < len; i++)
		if (!isprint((unsigned char)name[i]))
			return mf_error(MF_E_USAGE,
					"invalid %s name: byte 0x%02x at position %zu is not "
					"allowed (use letters, digits and %s)", what,
					(unsigned char)name[i], i + 1, extra);
	if (len > max)
		return mf_error(MF_E_USAGE, "invalid %s name '%.40s...': longer than %zu characters",
				what, name, max);
	if (!isalnum((unsigned char)name[0]))
		return mf_error(MF_E_USAGE,
				"invalid %s name '%s': must start with a letter or digit", what, name);
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (isalnum(c) || strchr(extra, c))
			continue;
		return mf_error(MF_E_USAGE,
				"invalid %s name '%s': character '%c' at position %zu is not "
				"allowed (use letters, digits and %s)", what, name, c, i + 1, extra);
	}
	return 0;
}

int recipe_name_check(const char *name)
{
	/* isalnum() follows the C locale here: ASCII letters and digits only. */
	return name_check("recipe", name, RECIPE_NAME_MAX, "_.+-");
}

int image_name_check(const char *name)
{
	return name_check("image", name, IMAGE_NAME_MAX, "_.-");
}

int name_check_tree(const char *name)
{
	return name_check("tree", name, IMAGE_NAME_MAX, "_.-");
}

int name_check_repo(const char *name)
{
	return name_check("repository", name, IMAGE_NAME_MAX, "_.-");
}

int package_file_check(const char *file)
{
	size_t n = strlen(file);
	int ok = n > 5 && n <= 255 && file[0] != '.' && file[0] != '-' &&
		 !strcmp(file + n - 5, ".hpkg");

	for (const char *p = file; ok && *p; p++)
		ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.+~-",
			    *p) != NULL;
	if (!ok)
		return mf_error(MF_E_USAGE, "'%s' is not a package file name Mayfly accepts"
				" (letters, digits, '_.+~-', ending in .hpkg)", file);
	return 0;
}

int rev_check(const char *rev)
{
	int ok = *rev && strlen(rev) <= 200 && rev[0] != '-' && !strstr(rev, "..");

	for (const char *p = rev; ok && *p; p++)
		ok = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./~^-",
			    *p) != NULL;
	if (!ok)
		return mf_error(MF_E_USAGE, "'%.60s' is not a revision (a branch, a tag, a "
				"commit id, or one with ~N or ^)", rev);
	return 0;
}

int input_name_check(const char *name)
{
	/* Like a recipe name, so it is safe in paths, URLs and lists alike. */
	return name_check("input", name, 255, "_.+-");
}

int api_path_check(const char *path)
{
	if (strcmp(path, "/healthz") && strncmp(path, "/api/v1/", 8))
		return mf_error(MF_E_INFRA, "refusing to request '%.80s': not a path of mayflyd's "
				"API (/api/v1/...)", path);
	for (const char *p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!isalnum(c) && !strchr("/._~+%-?=&,", c))
			return mf_error(MF_E_INFRA, "refusing to request an API path with the byte "
					"0x%02x at position %zu", c, (size_t)(p - path) + 1);
	}
	if (strstr(path, "..") || strstr(path, "//"))
		return mf_error(MF_E_INFRA, "refusing to request '%.80s': it leaves the API", path);
	return 0;
}

const char *const haiku_arches[] = {
	"arm", "arm64", "m68k", "ppc", "ppc64", "riscv64", "sparc", "x86", "x86_64", "x86_gcc2",
	NULL,
};

static int chars_check(const char *what, const char *s, const char *extra)
{
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || strchr(extra, c))
			continue;
		if (isprint(c))
			return mf_error(MF_E_USAGE, "%s '%s': the character '%c' is not allowed (use "
					"letters, digits and %s)", what, s, c, extra);
		return mf_error(MF_E_USAGE, "%s: the byte 0x%02x is not allowed (use letters, "
				"digits and %s)", what, c, extra);
	}
	return 0;
}

int guest_path_check(const char *what, const char *path)
{
	if (!*path)
		return mf_error(MF_E_USAGE, "%s: empty", what);
	return chars_check(what, path, "_./+@-");
}

int shell_words_check(const char *what, const char *words)
{
	return chars_check(what, words, " _=.,/:+@-");
}

int arch_check(const char *what, const char *value, int several)
{
	char word[32];
	int n = 0;

	for (const char *p = value; *p;) {
		size_t len = strcspn(p, " ");
		if (len) {
			int known = 0;
			snprintf(word, sizeof(word), "%.*s", (int)(len < 31 ? len : 31), p);
			for (const char *const *a = haiku_arches; *a; a++)
				known |= len < 32 && !strcmp(word, *a);
			if (!known)
				return mf_error(MF_E_USAGE, "%s: unknown architecture '%.40s' (known: "
						"arm, arm64, m68k, ppc, ppc64, riscv64, sparc, x86, "
						"x86_64, x86_gcc2)", what, word);
			n++;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	if (!several && n != 1)
		return mf_error(MF_E_USAGE, "%s: one architecture, not '%s'", what, value);
	return 0;
}
