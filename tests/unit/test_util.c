/* test_util.c - files, clocks, processes, strbuf, SHA-256 and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/crypto.h"
#include "common/strbuf.h"
#include "common/util.h"

#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* FIPS 180-2 test vector: one million 'a'. */
#define SHA_MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

/* Each test that touches files gets a fresh directory, removed afterwards. */
static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/mayfly-test-util-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	mf_error_clear();
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	char *dir = *state;

	/* Make everything removable again, whatever a test changed. */
	chmod(dir, 0700);
	if (mf_rm_rf(dir) < 0)
		fprintf(stderr, "cannot clean up: %s\n", mf_error_msg());
	free(dir);
	return 0;
}

static char *path_in(void **state, const char *name)
{
	return xasprintf("%s/%s", (const char *)*state, name);
}

static void assert_msg_has(const char *needle)
{
	if (!strstr(mf_error_msg(), needle))
		fail_msg("error message '%s' does not contain '%s'", mf_error_msg(), needle);
}

static int is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_mkdir_p(void **state)
{
	char *deep = path_in(state, "a/b/c/d");
	char *trail = path_in(state, "x/y/");
	char *file = path_in(state, "file");
	char *under = path_in(state, "file/sub");
	struct stat sb;

	assert_int_equal(mf_mkdir_p(deep, 0750), 0);
	assert_true(is_dir(deep));
	assert_int_equal(stat(deep, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0750 & ~(mode_t)022);
	/* Existing directories are fine. */
	assert_int_equal(mf_mkdir_p(deep, 0750), 0);
	assert_int_equal(mf_mkdir_p(trail, 0755), 0);
	assert_true(is_dir(trail));

	write_text(file, "x");
	mf_error_clear();
	assert_int_equal(mf_mkdir_p(file, 0755), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_msg_has(file);
	assert_int_equal(mf_mkdir_p(under, 0755), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_int_equal(mf_mkdir_p("", 0755), -1);
	free(deep);
	free(trail);
	free(file);
	free(under);
}

static void test_write_read_roundtrip(void **state)
{
	static const char data[] = "line 1\n\0binary\xff\x01 tail";
	char *path = path_in(state, "data.bin");
	char *out = NULL;
	size_t len = 0;
	struct stat sb;

	assert_int_equal(mf_write_file_atomic(path, data, sizeof(data), 0640), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640 & ~(mode_t)022);
	assert_int_equal(sb.st_size, sizeof(data));
	/* No temporary file is left next to it. */
	assert_int_equal(dir_entries(*state), 1);

	assert_int_equal(mf_read_file(path, 1024, &out, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(out, data, sizeof(data));
	assert_int_equal(out[len], '\0');
	free(out);

	/* Overwriting replaces the whole content. */
	assert_int_equal(mf_write_file_atomic(path, "short", 5, 0600), 0);
	assert_int_equal(mf_read_file(path, 1024, &out, NULL), 0);
	assert_string_equal(out, "short");
	free(out);
	assert_int_equal(dir_entries(*state), 1);

	/* An empty file reads as "". */
	assert_int_equal(mf_write_file_atomic(path, "", 0, 0600), 0);
	assert_int_equal(mf_read_file(path, 0, &out, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
	free(path);
}

static void test_read_large_and_max(void **state)
{
	char *path = path_in(state, "big");
	size_t n = 100000, len = 0;
	char *data = xmalloc(n), *out = NULL;

	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	assert_int_equal(mf_write_file_atomic(path, data, n, 0600), 0);

	/* Exactly max bytes is fine, one byte more is not. */
	assert_int_equal(mf_read_file(path, n, &out, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(out, data, n);
	free(out);

	mf_error_clear();
	out = (char *)1;
	assert_int_equal(mf_read_file(path, n - 1, &out, &len), -1);
	assert_null(out);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_msg_has("larger than 99999 bytes");
	assert_msg_has(path);
	free(data);
	free(path);
}

static void test_read_missing(void **state)
{
	char *path = path_in(state, "missing");
	char *out = NULL;

	mf_error_clear();
	assert_int_equal(mf_read_file(path, 100, &out, NULL), -1);
	assert_null(out);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_msg_has(path);
	assert_msg_has(strerror(ENOENT));
	free(path);
}

static void test_copy_and_rm_rf(void **state)
{
	char *src = path_in(state, "src");
	char *dst = path_in(state, "tree/dst");
	char *tree = path_in(state, "tree");
	char *sub = path_in(state, "tree/a/b");
	char *out = NULL;
	struct stat sb;

	write_text(src, "key material\n");
	assert_int_equal(mf_mkdir_p(sub, 0755), 0);
	assert_int_equal(mf_copy_file(src, dst, 0600), 0);
	assert_int_equal(mf_read_file(dst, 100, &out, NULL), 0);
	assert_string_equal(out, "key material\n");
	free(out);
	assert_int_equal(stat(dst, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(mf_rm_rf(tree), 0);
	assert_int_equal(stat(tree, &sb), -1);
	assert_int_equal(errno, ENOENT);
	/* Missing is fine; a plain file is removed too. */
	assert_int_equal(mf_rm_rf(tree), 0);
	assert_int_equal(mf_rm_rf(src), 0);
	assert_int_equal(dir_entries(*state), 0);
	free(src);
	free(dst);
	free(tree);
	free(sub);
}

static void check_duration(int64_t ms, const char *want)
{
	char out[32];

	mf_format_duration(ms, out);
	if (strcmp(out, want) != 0)
		fail_msg("duration %lld ms formatted as '%s', expected '%s'", (long long)ms, out,
			 want);
}

static void test_format_duration(void **state)
{
	check_duration(0, "0 ms");
	check_duration(38, "38 ms");
	check_duration(999, "999 ms");
	check_duration(1000, "1.0 s");
	check_duration(1200, "1.2 s");
	check_duration(1500, "1.5 s");
	check_duration(59000, "59.0 s");
	check_duration(60000, "1m00s");
	check_duration(61000, "1m01s");
	check_duration(61999, "1m02s"); /* rounded to the nearest second */
	check_duration(59999, "1m00s"); /* not "60.0 s" */
	check_duration(59949, "59.9 s");
	check_duration(3599000, "59m59s");
	check_duration(3661000, "61m01s");
}

static void check_size(uint64_t bytes, const char *want)
{
	char out[32];

	mf_format_size(bytes, out);
	if (strcmp(out, want) != 0)
		fail_msg("size %llu formatted as '%s', expected '%s'", (unsigned long long)bytes,
			 out, want);
}

static void test_format_size(void **state)
{
	check_size(0, "0 B");
	check_size(41, "41 B");
	check_size(1023, "1023 B");
	check_size(1024, "1.0 KiB");
	check_size(1536, "1.5 KiB");
	check_size(2 * 1024 * 1024, "2.0 MiB");
	check_size(1024ULL * 1024 * 1024 * 3, "3.00 GiB");
	check_size(1024ULL * 1024 * 1024 * 1536, "1536.00 GiB");
}

static void test_time(void **state)
{
	char out[32];
	int64_t a, b;

	mf_rfc3339(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	mf_rfc3339(1700000000, out);
	assert_string_equal(out, "2023-11-14T22:13:20Z");
	a = mf_now_ms();
	usleep(20000);
	b = mf_now_ms();
	assert_true(b - a >= 19);
	assert_true(mf_wall_seconds() > 1700000000);
}

static void test_process_identity_self(void **state)
{
	char *me = mf_process_identity(getpid());
	char prefix[32], *other;
	unsigned long long start;

	snprintf(prefix, sizeof(prefix), "%ld:", (long)getpid());
	assert_true(strncmp(me, prefix, strlen(prefix)) == 0);
	assert_int_equal(sscanf(me + strlen(prefix), "%llu", &start), 1);
	assert_true(start > 0);
	assert_true(mf_process_alive(me));

	/* The same pid with another start time is a different (dead) process. */
	other = xasprintf("%ld:%llu", (long)getpid(), start + 1);
	assert_false(mf_process_alive(other));
	free(other);

	assert_false(mf_process_alive(""));
	assert_false(mf_process_alive("garbage"));
	assert_false(mf_process_alive("0:5"));
	assert_false(mf_process_alive("-1:5"));
	free(me);
}

static void test_process_identity_child(void **state)
{
	int fds[2], status;
	pid_t pid;
	char *id, c;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Wait for the parent to close its end, then exit. */
		close(fds[1]);
		while (read(fds[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	id = mf_process_identity(pid);
	assert_true(mf_process_alive(id));
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_false(mf_process_alive(id));
	free(id);
}

static void test_check_reachable(void **state)
{
	char *base = mf_realpath(*state);
	char *open_sub = xasprintf("%s/open/sub", base);
	char *closed = xasprintf("%s/closed", base);
	char *closed_sub = xasprintf("%s/closed/sub", base);

	assert_non_null(base);
	assert_int_equal(mf_mkdir_p(open_sub, 0755), 0);
	assert_int_equal(mf_mkdir_p(closed_sub, 0755), 0);
	/* mkdtemp made the base 0700: open it up, and close one branch. */
	assert_int_equal(chmod(base, 0755), 0);
	assert_int_equal(chmod(closed, 0700), 0);

	mf_error_clear();
	if (mf_check_reachable(open_sub) != 0)
		fail_msg("a 0755 tree is not reachable: %s", mf_error_msg());
	assert_int_equal(mf_check_reachable(base), 0);

	assert_int_equal(mf_check_reachable(closed_sub), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	{
		char *want = xasprintf("'%s' is not searchable by other users (mode 700)", closed);
		assert_msg_has(want);
		free(want);
		want = xasprintf("chmod o+x '%s'", closed);
		assert_msg_has(want);
		free(want);
	}
	assert_msg_has(closed_sub);
	/* The closed directory itself cannot be reached either. */
	assert_int_equal(mf_check_reachable(closed), -1);

	mf_error_clear();
	assert_int_equal(mf_check_reachable("/nonexistent-mayfly-dir/x"), -1);
	assert_msg_has("/nonexistent-mayfly-dir/x");

	free(base);
	free(open_sub);
	free(closed);
	free(closed_sub);
}

static void test_strbuf_growth(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char *big = xmalloc(10001), *s;
	size_t total = 0;

	assert_string_equal(strbuf_str(&sb), "");
	memset(big, 'x', 10000);
	big[10000] = '\0';
	for (int i = 0; i < 5; i++) {
		strbuf_addf(&sb, "[%d:%s]", i, big);
		total += strlen("[0:]") + 10000;
		assert_int_equal(sb.len, total);
		assert_int_equal(strlen(sb.buf), total);
		assert_true(sb.alloc > sb.len);
	}
	for (int i = 0; i < 5; i++) {
		const char *chunk = sb.buf + (size_t)i * (10000 + 4);
		assert_int_equal(chunk[0], '[');
		assert_int_equal(chunk[1], '0' + i);
		assert_int_equal(chunk[2], ':');
		assert_memory_equal(chunk + 3, big, 10000);
		assert_int_equal(chunk[10003], ']');
	}
	strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(strbuf_str(&sb), "");
	strbuf_addf(&sb, "%s-%05d-%c", "v", 42, 'z');
	strbuf_addch(&sb, '!');
	strbuf_add(&sb, "abc", 2);
	assert_string_equal(strbuf_str(&sb), "v-00042-z!ab");
	s = strbuf_detach(&sb);
	assert_string_equal(s, "v-00042-z!ab");
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	free(s);
	/* Detaching an empty strbuf still gives a string. */
	s = strbuf_detach(&sb);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	free(big);
}

static void test_strbuf_xml(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "<a b='");
	strbuf_add_xml(&sb, "x & y < z > w 'q' \"d\" &amp;");
	strbuf_addstr(&sb, "'/>");
	assert_string_equal(strbuf_str(&sb),
			    "<a b='x &amp; y &lt; z &gt; w &apos;q&apos; &quot;d&quot; &amp;amp;'/>");
	strbuf_reset(&sb);
	strbuf_add_xml(&sb, "");
	strbuf_add_xml(&sb, "plain/path_1.qcow2 caf\xc3\xa9");
	assert_string_equal(strbuf_str(&sb), "plain/path_1.qcow2 caf\xc3\xa9");
	strbuf_release(&sb);
	assert_null(sb.buf);
}

static void test_sha256_strings(void **state)
{
	char out[SHA256_HEX_LEN];
	struct sha256 *h;

	h = sha256_new();
	sha256_update(h, "abc", 3);
	sha256_finish(h, out);
	assert_string_equal(out, SHA_ABC);

	h = sha256_new();
	sha256_finish(h, out);
	assert_string_equal(out, SHA_EMPTY);

	/* Updates in pieces give the same digest. */
	h = sha256_new();
	sha256_update(h, "a", 1);
	sha256_update(h, "", 0);
	sha256_update(h, "bc", 2);
	sha256_finish(h, out);
	assert_string_equal(out, SHA_ABC);
	assert_int_equal(strlen(out), SHA256_HEX_LEN - 1);
}

static void test_sha256_file(void **state)
{
	char *small = path_in(state, "abc.txt");
	char *big = path_in(state, "million");
	char *empty = path_in(state, "empty");
	char *missing = path_in(state, "missing");
	char out[SHA256_HEX_LEN];
	uint64_t size = 0;
	char *data = xmalloc(1000000);

	write_text(small, "abc");
	assert_int_equal(sha256_file(small, out, &size), 0);
	assert_string_equal(out, SHA_ABC);
	assert_int_equal(size, 3);

	/* Larger than the read buffer: several reads. */
	memset(data, 'a', 1000000);
	assert_int_equal(mf_write_file_atomic(big, data, 1000000, 0600), 0);
	assert_int_equal(sha256_file(big, out, &size), 0);
	assert_string_equal(out, SHA_MILLION_A);
	assert_int_equal(size, 1000000);
	assert_int_equal(sha256_file(big, out, NULL), 0);
	assert_string_equal(out, SHA_MILLION_A);

	write_text(empty, "");
	assert_int_equal(sha256_file(empty, out, &size), 0);
	assert_string_equal(out, SHA_EMPTY);
	assert_int_equal(size, 0);

	mf_error_clear();
	assert_int_equal(sha256_file(missing, out, &size), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_msg_has(missing);
	free(data);
	free(small);
	free(big);
	free(empty);
	free(missing);
}

static void test_error_basics(void **state)
{
	mf_error_clear();
	assert_int_equal(mf_error_class(), MF_E_NONE);
	assert_string_equal(mf_error_msg(), "unknown error");

	assert_int_equal(mf_error(MF_E_TIMEOUT, "took %d s", 5), -1);
	assert_int_equal(mf_error_class(), MF_E_TIMEOUT);
	assert_string_equal(mf_error_msg(), "took 5 s");

	errno = ENOENT;
	assert_int_equal(mf_error_errno(MF_E_USAGE, "cannot open '%s'", "x"), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	{
		char *want = xasprintf("cannot open 'x': %s", strerror(ENOENT));
		assert_string_equal(mf_error_msg(), want);
		free(want);
	}
	mf_error_clear();
	assert_int_equal(mf_error_class(), MF_E_NONE);
	assert_string_equal(mf_error_msg(), "unknown error");
}

static void test_error_wrap(void **state)
{
	mf_error(MF_E_USAGE, "bad name");
	assert_int_equal(mf_error_wrap("image '%s'", "x"), -1);
	assert_string_equal(mf_error_msg(), "image 'x': bad name");
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	mf_error_wrap("adding");
	assert_string_equal(mf_error_msg(), "adding: image 'x': bad name");
	assert_int_equal(mf_error_class(), MF_E_USAGE);

	mf_error(MF_E_INTERRUPTED, "stopped");
	mf_error_wrap("build 4");
	assert_int_equal(mf_error_class(), MF_E_INTERRUPTED);

	/* Wrapping nothing still gives an error of some class. */
	mf_error_clear();
	mf_error_wrap("context");
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	assert_true(strncmp(mf_error_msg(), "context: ", 9) == 0);
}

static void test_error_truncation(void **state)
{
	char *huge = xmalloc(5001), *prefix = xmalloc(1001);
	const char *msg;
	size_t len;

	memset(huge, 'm', 5000);
	huge[5000] = '\0';
	memset(prefix, 'p', 1000);
	prefix[1000] = '\0';

	mf_error(MF_E_BUILD, "%s", huge);
	len = strlen(mf_error_msg());
	assert_true(len > 1000 && len < 5000);
	assert_int_equal(mf_error_class(), MF_E_BUILD);

	errno = EACCES;
	mf_error_errno(MF_E_USAGE, "%s", huge);
	assert_int_equal(strlen(mf_error_msg()), len);

	/* A long context over a full message: the start of both survives. */
	mf_error_wrap("%s", prefix);
	msg = mf_error_msg();
	assert_true(strlen(msg) <= len);
	assert_true(strlen(msg) > 1000);
	assert_int_equal(msg[0], 'p');
	assert_non_null(strstr(msg, "p: m"));
	assert_int_equal(msg[strlen(msg) - 1], 'm');
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	for (int i = 0; i < 20; i++)
		mf_error_wrap("%s", prefix);
	assert_true(strlen(mf_error_msg()) <= len);
	assert_int_equal(mf_error_msg()[0], 'p');
	free(huge);
	free(prefix);
}

static void test_error_exit_codes(void **state)
{
	assert_int_equal(mf_error_exit_code(MF_E_NONE), 0);
	assert_int_equal(mf_error_exit_code(MF_E_BUILD), 1);
	assert_int_equal(mf_error_exit_code(MF_E_USAGE), 2);
	assert_int_equal(mf_error_exit_code(MF_E_INFRA), 3);
	assert_int_equal(mf_error_exit_code(MF_E_TIMEOUT), 4);
	assert_int_equal(mf_error_exit_code(MF_E_INTERRUPTED), 130);
	assert_int_equal(mf_error_exit_code(MF_E_CONFLICT), 2);
}

static void test_alloc_helpers(void **state)
{
	char **v = xcalloc(4, sizeof(*v));
	char *s;

	assert_null(xstrdup_or_null(NULL));
	s = xstrdup_or_null("x");
	assert_string_equal(s, "x");
	mf_freep(&s);
	assert_null(s);
	s = xasprintf("%s-%d", "vm", 7);
	assert_string_equal(s, "vm-7");
	free(s);

	v[0] = xstrdup("a");
	v[1] = xstrdup("b");
	v[2] = xstrdup("c");
	assert_int_equal(mf_strv_len(v), 3);
	assert_int_equal(mf_strv_len(NULL), 0);
	mf_strv_free(v);
	mf_strv_free(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_mkdir_p),
		T(test_write_read_roundtrip),
		T(test_read_large_and_max),
		T(test_read_missing),
		T(test_copy_and_rm_rf),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_process_identity_self),
		cmocka_unit_test(test_process_identity_child),
		T(test_check_reachable),
		cmocka_unit_test(test_strbuf_growth),
		cmocka_unit_test(test_strbuf_xml),
		cmocka_unit_test(test_sha256_strings),
		T(test_sha256_file),
		cmocka_unit_test(test_error_basics),
		cmocka_unit_test(test_error_wrap),
		cmocka_unit_test(test_error_truncation),
		cmocka_unit_test(test_error_exit_codes),
		cmocka_unit_test(test_alloc_helpers),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
