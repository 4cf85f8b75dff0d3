/*
 * test_error.c - the per-thread error (common/error.h) and process log
 * lines (common/log.h): classes change without re-formatting, saved
 * errors survive cleanup, and text from outside never carries control
 * characters into a message or a log line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

static void test_reclass_keeps_message(void **state)
{
	mf_error(MF_E_CONFLICT, "port %d was taken", 4242);
	assert_int_equal(mf_error_reclass(MF_E_INFRA), -1);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	assert_string_equal(mf_error_msg(), "port 4242 was taken");
}

static void test_wrap_and_save(void **state)
{
	struct mf_error_saved e;

	mf_error(MF_E_TIMEOUT, "too slow");
	mf_error_wrap("run");
	assert_string_equal(mf_error_msg(), "run: too slow");
	assert_int_equal(mf_error_class(), MF_E_TIMEOUT);
	mf_error_save(&e);
	mf_error(MF_E_INFRA, "cleanup failed too");
	assert_int_equal(mf_error_restore(&e), -1);
	assert_string_equal(mf_error_msg(), "run: too slow");
	assert_int_equal(mf_error_class(), MF_E_TIMEOUT);
	assert_null(e.msg);
}

static void test_messages_scrubbed(void **state)
{
	/* A guest's file name with a terminal escape and a carriage return. */
	const char *evil = "pkg\033[2J\r\aname";

	mf_error(MF_E_BUILD, "cannot harvest '%s'", evil);
	assert_string_equal(mf_error_msg(), "cannot harvest 'pkg?[2J??name'");
	/* Newlines stay (config errors are one per line); DEL does not. */
	mf_error(MF_E_USAGE, "a.conf:1: x\na.conf:2: y\x7f");
	assert_string_equal(mf_error_msg(), "a.conf:1: x\na.conf:2: y?");
	mf_error(MF_E_USAGE, "ok");
	mf_error_wrap("prefix \033]0;title\a");
	assert_string_equal(mf_error_msg(), "prefix ?]0;title?: ok");
}

/* Captures what log_* writes to stderr. */
static char *capture_log(void (*emit)(const char *), const char *arg)
{
	char path[] = "/tmp/mayfly-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *text = NULL;
	size_t len = 0;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	emit(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(mf_read_file(path, 1 << 16, &text, &len), 0);
	unlink(path);
	return text;
}

static void emit_warnx(const char *s)
{
	log_warnx("guest said: %s", s);
}

static void test_log_lines_scrubbed(void **state)
{
	char *out;

	log_init("mayflyd", 0);
	/* A forged second line and an escape: one entry, indented, no escape. */
	out = capture_log(emit_warnx, "boom\nmayflyd: build 7 succeeded\033[0m");
	assert_string_equal(out, "mayflyd: warning: guest said: boom\n"
				 "    mayflyd: build 7 succeeded?[0m\n");
	free(out);
}

static void test_buildlog_limit(void **state)
{
	char path[] = "/tmp/mayfly-buildlog-XXXXXX";
	struct buildlog *bl = NULL;
	char *text = NULL;
	size_t len = 0;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(buildlog_open(&bl, path, 0), 0);
	buildlog_limit(bl, 10);
	assert_int_equal(buildlog_output(bl, "12345", 5), 0);
	assert_int_equal(buildlog_output(bl, "67890abc\n", 9), -1);
	assert_int_equal(buildlog_output(bl, "more", 4), -1);
	buildlog_close(bl);
	assert_int_equal(mf_read_file(path, 1 << 16, &text, &len), 0);
	/* The first 10 bytes, then one line that says the rest was dropped. */
	assert_memory_equal(text, "1234567890\n[mayfly ", 19);
	assert_non_null(strstr(text, "reached its limit of 10 bytes"));
	assert_null(strstr(text, "abc"));
	assert_null(strstr(text, "more"));
	free(text);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reclass_keeps_message),
		cmocka_unit_test(test_wrap_and_save),
		cmocka_unit_test(test_messages_scrubbed),
		cmocka_unit_test(test_log_lines_scrubbed),
		cmocka_unit_test(test_buildlog_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
