/*
 * test_tokens.c - the API's bearer tokens (daemon/tokens.c): the file's
 * format, the header's form, and a caller's name that never shows the
 * token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/util.h"
#include "daemon/tokens.h"

static char *write_tokens(const char *text)
{
	char *path = xstrdup("/tmp/mayfly-tokens-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, 0600);
	close(fd);
	return path;
}

static void test_tokens_file(void **state)
{
	char *path = write_tokens("# CI\nsecret-one\n\n  secret-two\r\n#secret-three\n");
	struct tokens *t = NULL;
	char *who = NULL;

	assert_int_equal(tokens_load(&t, path), 0);
	assert_int_equal(tokens_count(t), 2);
	assert_int_equal(tokens_check(t, "Bearer secret-one", &who), 1);
	/* sha256("secret-one") starts with these 8 hex digits; the token never shows. */
	assert_string_equal(who, "token:ea77193c");
	free(who);
	assert_int_equal(tokens_check(t, "bearer   secret-two", &who), 1);
	free(who);
	who = (char *)"untouched";
	assert_int_equal(tokens_check(t, "Bearer #secret-three", &who), 0);
	assert_null(who);
	assert_int_equal(tokens_check(t, "Bearer secret-on", &who), 0);
	assert_int_equal(tokens_check(t, "Bearer secret-one2", &who), 0);
	assert_int_equal(tokens_check(t, "Basic secret-one", &who), 0);
	assert_int_equal(tokens_check(t, "secret-one", &who), 0);
	assert_int_equal(tokens_check(t, "Bearer ", &who), 0);
	assert_int_equal(tokens_check(t, NULL, &who), 0);
	tokens_free(t);
	unlink(path);
	free(path);
}

static void test_no_tokens(void **state)
{
	struct tokens *t = NULL;
	char *who = NULL;

	assert_int_equal(tokens_load(&t, NULL), 0);
	assert_int_equal(tokens_count(t), 0);
	assert_int_equal(tokens_check(t, "Bearer anything", &who), 0);
	assert_int_equal(tokens_check(t, "Bearer ", &who), 0);
	tokens_free(t);
	mf_error_clear();
	assert_int_equal(tokens_load(&t, "/nonexistent/tokens"), -1);
	assert_non_null(strstr(mf_error_msg(), "token_file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_file),
		cmocka_unit_test(test_no_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
