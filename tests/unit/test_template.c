/* test_template.c - names, shell quoting and the build command template. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/names.h"
#include "common/template.h"
#include "store/images.h"

/* Asserts that the last error is MF_E_USAGE and its message holds needle. */
static void assert_usage_error(const char *needle)
{
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	if (!strstr(mf_error_msg(), needle))
		fail_msg("error message '%s' does not contain '%s'", mf_error_msg(), needle);
}

static void test_recipe_name_valid(void **state)
{
	static const char *const ok[] = {
		"zlib", "gcc_x86", "libsigc++", "python3.10", "qt6-base-1.2.3", "7zip", "A",
		"Z9._+-",
	};
	char longest[RECIPE_NAME_MAX + 1];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		mf_error_clear();
		if (recipe_name_check(ok[i]) != 0)
			fail_msg("'%s' rejected: %s", ok[i], mf_error_msg());
	}
	memset(longest, 'a', RECIPE_NAME_MAX);
	longest[RECIPE_NAME_MAX] = '\0';
	assert_int_equal(recipe_name_check(longest), 0);
}

static void test_recipe_name_bad_start(void **state)
{
	static const char *const bad[] = { "-rf", ".hidden", "_private", "+x", "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mf_error_clear();
		if (recipe_name_check(bad[i]) != -1)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(mf_error_class(), MF_E_USAGE);
	}
	mf_error_clear();
	assert_int_equal(recipe_name_check(""), -1);
	assert_usage_error("empty");
	assert_int_equal(recipe_name_check("-rf"), -1);
	assert_usage_error("must start with a letter or digit");
}

static void test_recipe_name_bad_chars(void **state)
{
	static const struct {
		const char *name;
		const char *needle; /* the character and its 1-based position */
	} bad[] = {
		{ "zlib;reboot", "character ';' at position 5" },
		{ "a$HOME", "character '$' at position 2" },
		{ "ab`id`", "character '`' at position 3" },
		{ "two words", "character ' ' at position 4" },
		{ "dir/name", "character '/' at position 4" },
		{ "it's", "character ''' at position 3" },
		{ "say\"hi\"", "character '\"' at position 4" },
		{ "a|b", "character '|' at position 2" },
		{ "a*", "character '*' at position 2" },
		{ "line\nbreak", "byte 0x0a at position 5" },
		{ "tab\tx", "byte 0x09 at position 4" },
		{ "caf\xc3\xa9", "byte 0xc3 at position 4" },
		{ "x\x7f", "byte 0x7f at position 2" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mf_error_clear();
		if (recipe_name_check(bad[i].name) != -1)
			fail_msg("'%s' accepted", bad[i].name);
		assert_usage_error(bad[i].needle);
	}
}

static void test_recipe_name_too_long(void **state)
{
	char name[RECIPE_NAME_MAX + 2];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	mf_error_clear();
	assert_int_equal(recipe_name_check(name), -1);
	assert_usage_error("longer than 128 characters");
}

static void test_image_name(void **state)
{
	char name[IMAGE_NAME_MAX + 2];

	assert_int_equal(image_name_check("haiku-r1beta5"), 0);
	assert_int_equal(image_name_check("haiku_x86_64.nightly"), 0);
	assert_int_equal(image_name_check("9front"), 0);

	mf_error_clear();
	assert_int_equal(image_name_check("haiku+gcc2"), -1);
	assert_usage_error("character '+' at position 6");
	assert_int_equal(image_name_check(""), -1);
	assert_usage_error("empty");
	assert_int_equal(image_name_check("-haiku"), -1);
	assert_usage_error("must start with a letter or digit");
	assert_int_equal(image_name_check("a b"), -1);
	assert_usage_error("character ' ' at position 2");
	assert_int_equal(image_name_check("a/../b"), -1);
	assert_usage_error("character '/' at position 2");

	memset(name, 'i', IMAGE_NAME_MAX);
	name[IMAGE_NAME_MAX] = '\0';
	assert_int_equal(image_name_check(name), 0);
	name[IMAGE_NAME_MAX] = 'i';
	name[IMAGE_NAME_MAX + 1] = '\0';
	assert_int_equal(image_name_check(name), -1);
	assert_usage_error("longer than 64 characters");
}

static void assert_quoted(const char *in, const char *want)
{
	struct strbuf sb = STRBUF_INIT;

	shell_quote(&sb, in);
	assert_string_equal(strbuf_str(&sb), want);
	strbuf_release(&sb);
}

static void test_shell_quote_simple(void **state)
{
	assert_quoted("zlib", "'zlib'");
	assert_quoted("", "''");
	assert_quoted("a'b", "'a'\\''b'");
	assert_quoted("'", "''\\'''");
	assert_quoted("$HOME", "'$HOME'");
}

static void test_shell_quote_appends(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "echo ");
	shell_quote(&sb, "x y");
	assert_string_equal(strbuf_str(&sb), "echo 'x y'");
	strbuf_release(&sb);
}

/* Runs printf %s QUOTED through /bin/sh and returns what it printed. */
static char *sh_roundtrip(const char *s)
{
	struct strbuf cmd = STRBUF_INIT, got = STRBUF_INIT;
	char buf[256];
	size_t n;
	FILE *p;
	int status;

	strbuf_addstr(&cmd, "printf %s ");
	shell_quote(&cmd, s);
	p = popen(strbuf_str(&cmd), "r");
	assert_non_null(p);
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		strbuf_add(&got, buf, n);
	status = pclose(p);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	strbuf_release(&cmd);
	return strbuf_detach(&got);
}

static void test_shell_quote_roundtrip(void **state)
{
	static const char *const nasty[] = {
		"plain",
		"",
		"'",
		"''",
		"a'b'c",
		"'; rm -rf /tmp/mayfly-never-exists; '",
		"$(echo pwned)",
		"`echo pwned`",
		"${HOME}",
		"$HOME $1 $@ $*",
		"line one\nline two\n",
		"\n",
		"semi;colon && and || or",
		"* ? [a-z] ~ ~root",
		"\"double\" \\back\\slash\\",
		"\\'",
		"'\\''",
		"%s %d %%",
		"-n",
		"--",
		"tab\there",
		"<in >out 2>&1 | pipe &",
		"!bang !! #hash",
		"caf\xc3\xa9 \x01\x7f",
		"{a,b} (sub) {recipes}",
	};

	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		char *got = sh_roundtrip(nasty[i]);
		if (strcmp(got, nasty[i]) != 0)
			fail_msg("shell_quote roundtrip of '%s' gave '%s'", nasty[i], got);
		free(got);
	}
}

static void test_template_check_default(void **state)
{
	mf_error_clear();
	assert_int_equal(template_check(
		"haikuporter --ignore-messages --no-package-obsoletion -y {recipes}"), 0);
	assert_int_equal(template_check("cd {packages_dir} && make {recipes}"), 0);
	assert_int_equal(template_check("echo ${HOME} {recipes}"), 0);
	assert_int_equal(template_check("awk '{{print}}' {recipes}"), 0);
}

static void test_template_check_errors(void **state)
{
	mf_error_clear();
	assert_int_equal(template_check("haikuporter -y"), -1);
	assert_usage_error("no {recipes} placeholder");

	assert_int_equal(template_check(""), -1);
	assert_usage_error("empty");
	assert_int_equal(template_check(NULL), -1);
	assert_usage_error("empty");

	/* "{recipe}" starts at column 13 (1-based). */
	assert_int_equal(template_check("haikuporter {recipe}"), -1);
	assert_usage_error("unknown placeholder '{recipe}' at column 13");

	assert_int_equal(template_check("make {recipes} {pkgdir}"), -1);
	assert_usage_error("unknown placeholder '{pkgdir}' at column 16");

	/* Literal braces do not count as the placeholder. */
	assert_int_equal(template_check("echo {{recipes}}"), -1);
	assert_usage_error("no {recipes} placeholder");
}

static void expand_ok(const char *tmpl, char *const *recipes, size_t n, const char *pkgdir,
		      const char *want)
{
	struct strbuf out = STRBUF_INIT;
	struct template_vars vars = { recipes, n, pkgdir };

	mf_error_clear();
	if (template_expand(&out, tmpl, &vars) != 0)
		fail_msg("expanding '%s' failed: %s", tmpl, mf_error_msg());
	assert_string_equal(strbuf_str(&out), want);
	strbuf_release(&out);
}

static void test_template_expand(void **state)
{
	char *one[] = { "zlib" };
	char *three[] = { "zlib", "libsigc++", "qt6-base-1.2.3" };

	expand_ok("haikuporter --ignore-messages --no-package-obsoletion -y {recipes}", one, 1,
		  NULL, "haikuporter --ignore-messages --no-package-obsoletion -y 'zlib'");
	expand_ok("hp {recipes}", three, 3, NULL, "hp 'zlib' 'libsigc++' 'qt6-base-1.2.3'");
	expand_ok("cd {packages_dir} && hp {recipes}", one, 1, "/boot/home/my packages",
		  "cd '/boot/home/my packages' && hp 'zlib'");
	expand_ok("ls {packages_dir}; hp {recipes}", one, 1, "/tmp/it's",
		  "ls '/tmp/it'\\''s'; hp 'zlib'");
	expand_ok("awk '{{print}}' {recipes}", one, 1, NULL, "awk '{print}' 'zlib'");
	expand_ok("echo ${HOME} $HOME {recipes}", one, 1, NULL, "echo ${HOME} $HOME 'zlib'");
	expand_ok("{recipes} then {recipes}", one, 1, NULL, "'zlib' then 'zlib'");
}

static void test_template_expand_refuses(void **state)
{
	struct strbuf out = STRBUF_INIT;
	char *bad[] = { "zlib", "x;reboot" };
	char *one[] = { "zlib" };
	struct template_vars vars = { bad, 2, NULL };

	mf_error_clear();
	assert_int_equal(template_expand(&out, "hp {recipes}", &vars), -1);
	assert_usage_error("character ';' at position 2");

	strbuf_reset(&out);
	vars.recipes = one;
	vars.nrecipes = 0;
	assert_int_equal(template_expand(&out, "hp {recipes}", &vars), -1);
	assert_usage_error("no recipe");

	strbuf_reset(&out);
	vars.nrecipes = 1;
	assert_int_equal(template_expand(&out, "hp {recipe}", &vars), -1);
	assert_usage_error("unknown placeholder '{recipe}'");
	strbuf_release(&out);
}

static void test_restore_template(void **state)
{
	struct strbuf out = STRBUF_INIT;
	const char *seed = "00ff";

	assert_int_equal(restore_template_check(IMAGE_DEFAULT_RESTORE_COMMAND), 0);
	assert_int_equal(restore_template_expand(&out, "date -u -s @{epoch} && echo {seed} "
						 ">/dev/urandom; echo {{x}} ${HOME}", 1700000000,
						 seed), 0);
	assert_string_equal(out.buf, "date -u -s @'1700000000' && echo '00ff' >/dev/urandom; "
			    "echo {x} ${HOME}");
	/* No placeholder is needed: "true" turns the clock setting off. */
	assert_int_equal(restore_template_check("true"), 0);
	mf_error_clear();
	assert_int_equal(restore_template_check("date -s {recipes}"), -1);
	assert_usage_error("unknown placeholder '{recipes}' at column 9 of the restore command "
			   "(known: {epoch}, {seed}");
	assert_int_equal(restore_template_check(""), -1);
	assert_usage_error("the restore command is empty");
	/* And a build command knows nothing of {epoch}. */
	assert_int_equal(template_check("hp {recipes} {epoch}"), -1);
	assert_usage_error("unknown placeholder '{epoch}' at column 14 of the build command");
	strbuf_release(&out);
}

static void test_input_name(void **state)
{
	static const char *const ok[] = {
		"dep-1.0-1-x86_64.hpkg", "a", "A.b+c_d", "9", "zlib_devel-1.3-1-x86_64.hpkg",
	};
	char name[258];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (input_name_check(ok[i]) != 0)
			fail_msg("input name '%s' refused: %s", ok[i], mf_error_msg());

	mf_error_clear();
	assert_int_equal(input_name_check(""), -1);
	assert_usage_error("invalid input name: empty");
	assert_int_equal(input_name_check(".hidden"), -1);
	assert_usage_error("must start with a letter or digit");
	assert_int_equal(input_name_check("a/b"), -1);
	assert_usage_error("character '/' at position 2");
	assert_int_equal(input_name_check("../x"), -1);
	assert_usage_error("invalid input name");
	assert_int_equal(input_name_check("a b"), -1);
	assert_usage_error("character ' ' at position 2");
	assert_int_equal(input_name_check("x\ny"), -1);
	assert_usage_error("byte 0x0a at position 2");
	assert_int_equal(input_name_check("-x"), -1);
	assert_usage_error("must start with a letter or digit");
	assert_int_equal(input_name_check("a'b"), -1);
	assert_usage_error("character ''' at position 2");
	assert_int_equal(input_name_check("a\\b"), -1);
	assert_int_equal(input_name_check("a%2fb"), -1);
	assert_int_equal(input_name_check("caf\xc3\xa9"), -1);

	/* 255 characters at most. */
	memset(name, 'n', 255);
	name[255] = '\0';
	assert_int_equal(input_name_check(name), 0);
	name[255] = 'n';
	name[256] = '\0';
	assert_int_equal(input_name_check(name), -1);
	assert_usage_error("longer than 255 characters");
}

static void test_api_path_check(void **state)
{
	static const char *const good[] = {
		"/healthz", "/api/v1/builds", "/api/v1/builds/7/packages/zlib-1.3-1-x86_64.hpkg",
		"/api/v1/builds?status=queued,running&limit=5", "/api/v1/builds/12/log?follow=1",
	};
	static const char *const bad[] = {
		"", "/", "/api/v2/builds", "api/v1/builds", "@evil.example/api/v1/x",
		"/api/v1/../../etc/passwd", "/api/v1//evil.example", "/api/v1/a b",
		"/api/v1/x\r\nHost: evil", "/api/v1/x#frag", "/api/v1/x@evil", "/api/v1/\\evil",
		"/healthzz", "/api/v1/x:80",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (api_path_check(good[i]) < 0)
			fail_msg("refused '%s': %s", good[i], mf_error_msg());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mf_error_clear();
		if (api_path_check(bad[i]) == 0)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(mf_error_class(), MF_E_INFRA);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_path_check),
		cmocka_unit_test(test_recipe_name_valid),
		cmocka_unit_test(test_recipe_name_bad_start),
		cmocka_unit_test(test_recipe_name_bad_chars),
		cmocka_unit_test(test_recipe_name_too_long),
		cmocka_unit_test(test_image_name),
		cmocka_unit_test(test_shell_quote_simple),
		cmocka_unit_test(test_shell_quote_appends),
		cmocka_unit_test(test_shell_quote_roundtrip),
		cmocka_unit_test(test_template_check_default),
		cmocka_unit_test(test_template_check_errors),
		cmocka_unit_test(test_template_expand),
		cmocka_unit_test(test_template_expand_refuses),
		cmocka_unit_test(test_restore_template),
		cmocka_unit_test(test_input_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
