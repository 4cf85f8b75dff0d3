/*
 * names.h - the names Mayfly accepts from users and guests: recipes,
 * images and files. Each is checked before it reaches a shell, a path,
 * a URL or a message; errors (MF_E_USAGE) never echo a control character.
 */
#ifndef MAYFLY_NAMES_H
#define MAYFLY_NAMES_H

#define RECIPE_NAME_MAX 128
#define IMAGE_NAME_MAX 64

/* Recipe names: a letter or digit, then letters, digits, '_', '.', '+', '-'. */
int recipe_name_check(const char *name);
/* Image names: a letter or digit, then letters, digits, '_', '.', '-'. */
int image_name_check(const char *name);
/* Tree names: like image names. */
int name_check_tree(const char *name);
/* Repository names (vmctl repo): like image names. */
int name_check_repo(const char *name);
/*
 * A package file name from a package or repository file, before it is
 * used in a path or URL: letters, digits, '_', '.', '+', '~', '-', not
 * starting with '.' or '-', ending in ".hpkg".
 */
int package_file_check(const char *file);
/*
 * Revisions of a tree: branch and tag names, commit ids, with ~N or ^;
 * no reflog (@{...}), no message search (:/...), no option-like '-'.
 */
int rev_check(const char *rev);

/*
 * Names of input files as they will appear in the guest's packages dir:
 * a letter or digit, then letters, digits, '_', '.', '+', '-'.
 */
int input_name_check(const char *name);

/*
 * A path on a guest that Mayfly writes into commands and into HaikuPorter's
 * builder.conf (which HaikuPorter sources with bash): letters, digits and
 * "_./+@-" only. what names the setting in the message.
 */
int guest_path_check(const char *what, const char *path);
/* Space-separated words of letters, digits and "_=.,/:+@-" (extra arguments). */
int shell_words_check(const char *what, const char *words);
/* Haiku architecture names: one (or, with several, space-separated ones). */
int arch_check(const char *what, const char *value, int several);
/* Haiku's machine architectures, NULL-terminated. */
extern const char *const haiku_arches[];

/*
 * Paths of mayflyd's API that vmctl requests with its token: "/healthz" or
 * under "/api/v1/", made of letters, digits and "/._~+%-?=&,", without
 * "..", "//" or anything that could make a URL name another host (a path
 * that came from a server is checked before the token goes with it).
 */
int api_path_check(const char *path);

#endif
