/*
 * test_s3.c - the S3 client (net/s3.c) against a real S3 implementation,
 * s3rver (npm), and against s3_faults.py, a python3 stand-in that fails on
 * purpose and records every request; the signatures it recorded are then
 * checked with botocore (s3_sigcheck.py), an independent SigV4.
 *
 * s3rver is found through $MAYFLY_S3RVER (its bin script) or at
 * BUILD/s3rver/node_modules/.bin/s3rver (scripts/common.sh install_s3rver);
 * its tests skip when it is missing, the botocore check when botocore is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/util.h"
#include "net/s3.h"

#include "s3rver_fixture.h"

#define BUCKET "mayfly"
#define REGION "eu-central-1"
#define MIB (1024 * 1024)
/* For the stand-in; s3rver knows only its own pair. */
#define ACCESS "AKIDMAYFLYTEST"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYsEcReTkEy"

struct fx {
	char *dir;
	pid_t faults;
	int faults_port;
	char *faults_log;
	struct s3rver s3rver;
};

static const char *python(void)
{
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

static void start_faults(struct fx *f)
{
	char *script = xasprintf("%s/s3_faults.py", MAYFLY_TESTDIR);
	char *portfile = xasprintf("%s/faults.port", f->dir);

	f->faults_log = xasprintf("%s/faults.log", f->dir);
	f->faults = fork();
	if (f->faults == 0) {
		execl(python(), python(), script, portfile, f->faults_log, (char *)NULL);
		_exit(127);
	}
	char *text = test_wait_for(portfile, "", 10);
	f->faults_port = text ? atoi(text) : 0;
	free(text);
	free(portfile);
	free(script);
}

static int group_setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/mayfly-s3-XXXXXX";

	if (!mkdtemp(tmpl))
		return -1;
	f->dir = xstrdup(tmpl);
	start_faults(f);
	s3rver_start(&f->s3rver, f->dir, BUCKET);
	if (!f->faults_port)
		return -1;
	if (f->s3rver.why)
		fprintf(stderr, "test_s3: %s; its tests are skipped\n", f->s3rver.why);
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;

	kill(f->faults, SIGTERM);
	waitpid(f->faults, NULL, 0);
	s3rver_stop(&f->s3rver);
	mf_rm_rf(f->dir);
	free(f->dir);
	free(f->faults_log);
	free(f);
	return 0;
}

struct opts {
	const char *prefix;
	size_t threshold, part;
	int attempts, timeout;
};

static struct s3 *client(int port, const char *access, const char *secret, const struct opts *o)
{
	char *endpoint = xasprintf("http://127.0.0.1:%d/", port);
	struct s3_config cfg = {
		.endpoint = endpoint, .region = REGION, .bucket = BUCKET,
		.prefix = o ? o->prefix : NULL, .access_key = access, .secret_key = secret,
		.multipart_threshold = o ? o->threshold : 0, .part_size = o ? o->part : 0,
		.max_attempts = o ? o->attempts : 0, .timeout_s = o ? o->timeout : 0,
	};
	struct s3 *s = NULL;

	if (s3_open(&s, &cfg) < 0)
		fail_msg("%s", mf_error_msg());
	free(endpoint);
	return s;
}

static struct s3 *s3rver_client(void **state, const struct opts *o)
{
	struct fx *f = *state;

	if (!f->s3rver.pid) {
		/* The whole suite (scripts/test.sh) installs s3rver: there it must run. */
		if (getenv("MAYFLY_TEST_REQUIRE_ALL"))
			fail_msg("%s (MAYFLY_TEST_REQUIRE_ALL is set)", f->s3rver.why);
		print_message("skipped: %s\n", f->s3rver.why);
		return NULL;
	}
	return client(f->s3rver.port, "S3RVER", "S3RVER", o);
}

static struct s3 *faults_client(void **state, const struct opts *o)
{
	struct fx *f = *state;

	return client(f->faults_port, ACCESS, SECRET, o);
}

/* A file of size bytes of pseudo-random content; returns its path. */
static char *make_file(struct fx *f, const char *name, size_t size)
{
	char *path = xasprintf("%s/%s", f->dir, name);
	unsigned char *buf = xmalloc(size);
	uint32_t x = (uint32_t)size * 2654435761u + 1;

	for (size_t i = 0; i < size; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	assert_int_equal(mf_write_file_atomic(path, buf, size, 0644), 0);
	free(buf);
	return path;
}

static void assert_same_file(const char *a, const char *b)
{
	char ha[SHA256_HEX_LEN], hb[SHA256_HEX_LEN];
	uint64_t sa, sb;

	assert_int_equal(sha256_file(a, ha, &sa), 0);
	assert_int_equal(sha256_file(b, hb, &sb), 0);
	assert_int_equal(sa, sb);
	assert_string_equal(ha, hb);
}

#define OK(call) do { if ((call) < 0) fail_msg("%s: %s", #call, mf_error_msg()); } while (0)

/* How many lines of the stand-in's log contain all of the given strings. */
static int logged(struct fx *f, const char *a, const char *b)
{
	char *text = NULL;
	int n = 0;

	if (mf_read_file(f->faults_log, 64 << 20, &text, NULL) < 0)
		return 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, a) && (!b || strstr(line, b)))
			n++;
	free(text);
	return n;
}

static void write_mode(const char *path, const char *text, mode_t mode)
{
	assert_int_equal(mf_write_file_atomic(path, text, strlen(text), mode), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* The credentials file: its format, its mode, errors that name file and line, never the secret. */
static void test_credentials(void **state)
{
	struct fx *f = *state;
	char *path = xasprintf("%s/creds", f->dir);
	char *ak = NULL, *sk = NULL;

	write_mode(path, "# the publisher\n\n  access_key_id = AKIDEXAMPLE  \r\n"
		   "secret_access_key=" SECRET "\n", 0600);
	OK(s3_credentials_read(path, &ak, &sk));
	assert_string_equal(ak, "AKIDEXAMPLE");
	assert_string_equal(sk, SECRET);
	free(ak);
	free(sk);

	write_mode(path, "access_key_id = AKIDEXAMPLE\nsecret_access_key = " SECRET "\n", 0640);
	assert_int_equal(s3_credentials_read(path, &ak, &sk), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), path));
	assert_non_null(strstr(mf_error_msg(), "chmod 600"));
	assert_null(ak);
	assert_null(sk);

	write_mode(path, "secret_access_key = " SECRET "\naccess_key_id " SECRET "\n", 0600);
	assert_int_equal(s3_credentials_read(path, &ak, &sk), -1);
	char *where = xasprintf("%s:2:", path);
	assert_non_null(strstr(mf_error_msg(), where));
	assert_null(strstr(mf_error_msg(), SECRET));
	assert_null(strstr(mf_error_msg(), "wJalr"));
	free(where);

	write_mode(path, "access_key_id = A\nsecret = " SECRET "\n", 0600);
	assert_int_equal(s3_credentials_read(path, &ak, &sk), -1);
	assert_non_null(strstr(mf_error_msg(), ":2: unknown name 'secret'"));
	assert_null(strstr(mf_error_msg(), "wJalr"));

	write_mode(path, "access_key_id = A\n", 0600);
	assert_int_equal(s3_credentials_read(path, &ak, &sk), -1);
	assert_non_null(strstr(mf_error_msg(), "no secret_access_key"));
	free(path);
}

/* put/head/get/list/copy/delete on s3rver, under a prefix. */
static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	struct opts o = { .prefix = "haikuports/master/x86_64/current/" };
	struct s3 *s = s3rver_client(state, &o);
	struct s3_object *v = NULL;
	size_t n = 0;
	uint64_t size = 0;
	int exists = -1;

	if (!s)
		skip();
	char *src = make_file(f, "foo-1.0-1-x86_64.hpkg", 100000);
	char *back = xasprintf("%s/back", f->dir);
	OK(s3_put_file(s, "packages/foo-1.0-1-x86_64.hpkg", src, NULL));
	OK(s3_put_buffer(s, "repo.sha256", "0123abcd", 8));
	OK(s3_put_buffer(s, "package.list", "", 0));

	OK(s3_head(s, "packages/foo-1.0-1-x86_64.hpkg", &exists, &size));
	assert_int_equal(exists, 1);
	assert_int_equal(size, 100000);
	OK(s3_head(s, "packages/missing.hpkg", &exists, &size));
	assert_int_equal(exists, 0);

	OK(s3_get_file(s, "packages/foo-1.0-1-x86_64.hpkg", back, &size));
	assert_int_equal(size, 100000);
	assert_same_file(src, back);
	OK(s3_get_file(s, "package.list", back, &size));
	assert_int_equal(size, 0);
	char *text = NULL;
	OK(s3_get_file(s, "repo.sha256", back, &size));
	assert_int_equal(mf_read_file(back, 100, &text, NULL), 0);
	assert_string_equal(text, "0123abcd");
	free(text);

	/* A missing object: a 404 with S3's Code, not retried. */
	assert_int_equal(s3_get_file(s, "packages/missing.hpkg", back, NULL), -1);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	char *want = xasprintf("S3 GET haikuports/master/x86_64/current/packages/missing.hpkg at "
			       "http://127.0.0.1:%d: 404 NoSuchKey: ", f->s3rver.port);
	if (strncmp(mf_error_msg(), want, strlen(want)))
		fail_msg("message: %s\nwanted:  %s...", mf_error_msg(), want);
	free(want);

	/* Copied server-side, as HaikuPorter obsoletes a package. */
	OK(s3_copy(s, "packages/foo-1.0-1-x86_64.hpkg", "packages/.obsolete/foo-1.0-1-x86_64.hpkg"));
	OK(s3_delete(s, "packages/foo-1.0-1-x86_64.hpkg"));
	OK(s3_delete(s, "packages/foo-1.0-1-x86_64.hpkg")); /* missing: fine */
	OK(s3_head(s, "packages/foo-1.0-1-x86_64.hpkg", &exists, NULL));
	assert_int_equal(exists, 0);
	OK(s3_get_file(s, "packages/.obsolete/foo-1.0-1-x86_64.hpkg", back, &size));
	assert_same_file(src, back);

	OK(s3_list(s, NULL, &v, &n));
	assert_int_equal(n, 3);
	assert_string_equal(v[0].key, "package.list");
	assert_int_equal(v[0].size, 0);
	assert_string_equal(v[1].key, "packages/.obsolete/foo-1.0-1-x86_64.hpkg");
	assert_int_equal(v[1].size, 100000);
	assert_string_equal(v[2].key, "repo.sha256");
	s3_objects_free(v, n);
	/* Pages of one object, continued with the token. */
	s3_set_list_page(s, 1);
	OK(s3_list(s, "package", &v, &n));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].key, "package.list");
	assert_string_equal(v[1].key, "packages/.obsolete/foo-1.0-1-x86_64.hpkg");
	s3_objects_free(v, n);
	OK(s3_list(s, "nothing/", &v, &n));
	assert_int_equal(n, 0);
	s3_objects_free(v, n);

	struct s3_stats st;
	s3_get_stats(s, &st);
	assert_int_equal(st.retries, 0);
	s3_close(s);
	free(src);
	free(back);
}

/* Is the directory where s3rver keeps unfinished multipart uploads empty (or absent)? */
static int s3rver_uploads_left(struct fx *f)
{
	char *path = xasprintf("%s/" BUCKET "/._S3rver_uploads", f->s3rver.dir);
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	free(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* A file above the threshold goes in 5 MiB parts, each streamed; read back identical. */
static void test_multipart(void **state)
{
	struct fx *f = *state;
	struct opts o = { .prefix = "mp/", .threshold = 6 * MIB, .part = 5 * MIB };
	struct s3 *s = s3rver_client(state, &o);
	struct s3_stats st;
	uint64_t size = 0;
	const size_t big = 12 * MIB + 12345;

	if (!s)
		skip();
	char *src = make_file(f, "big.hpkg", big);
	char *back = xasprintf("%s/big.back", f->dir);
	OK(s3_put_file(s, "packages/big.hpkg", src, NULL));
	s3_get_stats(s, &st);
	/* create, 3 parts, complete */
	assert_int_equal(st.requests, 5);
	assert_int_equal(st.file_bytes_sent, big);
	assert_true(st.max_read <= 64 * 1024);
	assert_true(st.read_calls >= big / (64 * 1024));
	assert_int_equal(s3rver_uploads_left(f), 0);

	OK(s3_get_file(s, "packages/big.hpkg", back, &size));
	assert_int_equal(size, big);
	assert_same_file(src, back);
	OK(s3_delete(s, "packages/big.hpkg"));
	s3_close(s);
	free(src);
	free(back);
}

/*
 * A large file below the threshold goes in one PUT, streamed: the client
 * never holds more than libcurl's 64 KiB upload buffer of it, the read
 * callback runs once per buffer, and the hash given by the caller is used.
 */
static void test_streamed_put(void **state)
{
	struct fx *f = *state;
	struct s3 *s = s3rver_client(state, NULL);
	struct s3_stats st;
	char sha[SHA256_HEX_LEN];
	uint64_t size = 0;
	int exists = 0;
	const size_t big = 20 * MIB + 1;

	if (!s)
		skip();
	char *src = make_file(f, "stream.bin", big);
	assert_int_equal(sha256_file(src, sha, NULL), 0);
	OK(s3_put_file(s, "stream.bin", src, sha));
	s3_get_stats(s, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.file_bytes_sent, big);
	assert_true(st.max_read > 0 && st.max_read <= 64 * 1024);
	assert_true(st.read_calls >= big / (64 * 1024));
	OK(s3_head(s, "stream.bin", &exists, &size));
	assert_int_equal(exists, 1);
	assert_int_equal(size, big);
	OK(s3_delete(s, "stream.bin"));
	/* A hash that is not one is refused before anything is sent. */
	assert_int_equal(s3_put_file(s, "stream.bin", src, "ABC"), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	s3_close(s);
	free(src);
}

/* Keys with spaces, '+', '%', '=', '&' and non-ASCII survive the round trip. */
static void test_odd_keys(void **state)
{
	struct fx *f = *state;
	static const char *const keys[] = {
		"dir with space/a+b=c&d.hpkg",
		"percent%20not-a-space.txt",
		"\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9/\xe2\x98\x83 snow~man (1).hpkg",
		"x/semi;colon,comma!bang*star'quote@at$dollar.txt",
	};
	const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
	struct opts o = { .prefix = "odd keys/" };
	struct s3 *s = s3rver_client(state, &o);
	struct s3_object *v = NULL;
	size_t n = 0;
	uint64_t size;
	int exists;

	if (!s)
		skip();
	char *back = xasprintf("%s/odd.back", f->dir);
	for (size_t i = 0; i < nkeys; i++)
		OK(s3_put_buffer(s, keys[i], keys[i], strlen(keys[i])));
	OK(s3_list(s, NULL, &v, &n));
	assert_int_equal(n, nkeys);
	for (size_t i = 0; i < nkeys; i++) {
		int found = 0;
		for (size_t j = 0; j < n; j++)
			found += !strcmp(v[j].key, keys[i]) && v[j].size == strlen(keys[i]);
		if (found != 1)
			fail_msg("key '%s' not listed once", keys[i]);
		OK(s3_head(s, keys[i], &exists, &size));
		assert_int_equal(exists, 1);
		char *text = NULL;
		OK(s3_get_file(s, keys[i], back, &size));
		assert_int_equal(mf_read_file(back, 1024, &text, NULL), 0);
		assert_string_equal(text, keys[i]);
		free(text);
	}
	s3_objects_free(v, n);
	OK(s3_copy(s, keys[2], "copied/\xe2\x98\x83 + copy.hpkg"));
	OK(s3_head(s, "copied/\xe2\x98\x83 + copy.hpkg", &exists, &size));
	assert_int_equal(exists, 1);
	for (size_t i = 0; i < nkeys; i++)
		OK(s3_delete(s, keys[i]));
	OK(s3_delete(s, "copied/\xe2\x98\x83 + copy.hpkg"));
	OK(s3_list(s, NULL, &v, &n));
	assert_int_equal(n, 0);
	s3_objects_free(v, n);
	s3_close(s);
	free(back);
}

/* 500 twice, then 200: retried, and it succeeds. */
static void test_retry_then_ok(void **state)
{
	struct fx *f = *state;
	struct opts o = { .attempts = 5 };
	struct s3 *s = faults_client(state, &o);
	struct s3_stats st;

	OK(s3_put_buffer(s, "repo/flaky.txt", "data", 4));
	s3_get_stats(s, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.retries, 2);
	assert_int_equal(logged(f, "\"PUT\"", "/" BUCKET "/repo/flaky.txt"), 3);
	s3_close(s);
}

/* Always 503: given up after max_attempts, with operation, key, endpoint, status, Code, Message. */
static void test_retry_exhausted(void **state)
{
	struct fx *f = *state;
	struct opts o = { .prefix = "pre/", .attempts = 3 };
	struct s3 *s = faults_client(state, &o);
	struct s3_stats st;
	int64_t t0 = mf_now_ms();

	assert_int_equal(s3_get_file(s, "down.txt", "/nonexistent-dir/x", NULL), -1);
	/* the download's file cannot be made: a usage error before any request */
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	char *out = xasprintf("%s/down.out", f->dir);
	assert_int_equal(s3_get_file(s, "down.txt", out, NULL), -1);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	char *want = xasprintf("S3 GET pre/down.txt at http://127.0.0.1:%d: 503 SlowDown: "
			       "Please reduce your request rate. (after 3 attempts)", f->faults_port);
	assert_string_equal(mf_error_msg(), want);
	s3_get_stats(s, &st);
	assert_int_equal(st.requests, 3);
	/* backoff: at least 125 + 250 ms (half of 250 and 500 ms, the jitter's floor) */
	assert_true(mf_now_ms() - t0 >= 375);
	assert_int_equal(access(out, F_OK), -1); /* nothing half-written left */
	s3_close(s);
	free(want);
	free(out);
}

/* 403 SignatureDoesNotMatch: not retried, Code and Message in the error, never the secret. */
static void test_denied_not_retried(void **state)
{
	struct fx *f = *state;
	struct s3 *s = faults_client(state, NULL);
	struct s3_stats st;

	assert_int_equal(s3_put_buffer(s, "packages/denied.hpkg", "x", 1), -1);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	char *want = xasprintf("S3 PUT packages/denied.hpkg at http://127.0.0.1:%d: 403 "
			       "SignatureDoesNotMatch: The request signature we calculated does not "
			       "match the signature you provided. Check your key and signing method.",
			       f->faults_port);
	assert_string_equal(mf_error_msg(), want);
	assert_null(strstr(mf_error_msg(), SECRET));
	assert_null(strstr(mf_error_msg(), "wJalr"));
	s3_get_stats(s, &st);
	assert_int_equal(st.requests, 1);
	/* HEAD has no body: the status alone */
	int exists;
	assert_int_equal(s3_head(s, "denied.hpkg", &exists, NULL), -1);
	free(want);
	want = xasprintf("S3 HEAD denied.hpkg at http://127.0.0.1:%d: 403", f->faults_port);
	assert_string_equal(mf_error_msg(), want);
	free(want);
	s3_close(s);
}

/* A server that stops answering: the attempt times out and the next one succeeds. */
static void test_stall_retried(void **state)
{
	struct fx *f = *state;
	struct opts o = { .attempts = 3, .timeout = 1 };
	struct s3 *s = faults_client(state, &o);
	struct s3_stats st;
	int64_t t0 = mf_now_ms();

	OK(s3_put_buffer(s, "stall.txt", "late", 4));
	s3_get_stats(s, &st);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.retries, 1);
	assert_true(mf_now_ms() - t0 >= 1000);
	assert_true(mf_now_ms() - t0 < 10000);
	assert_int_equal(logged(f, "\"PUT\"", "/" BUCKET "/stall.txt"), 2);
	s3_close(s);
}

/* One part fails for good: the upload is aborted, nothing stays behind. */
static void test_multipart_aborted(void **state)
{
	struct fx *f = *state;
	struct opts o = { .threshold = 5 * MIB, .part = 5 * MIB, .attempts = 2 };
	struct s3 *s = faults_client(state, &o);
	struct s3_upload *u = NULL;
	size_t n = 0;

	char *src = make_file(f, "mp.bin", 12 * MIB);
	assert_int_equal(s3_put_file(s, "packages/mpfail.hpkg", src, NULL), -1);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	assert_non_null(strstr(mf_error_msg(), "S3 PUT packages/mpfail.hpkg (part 2 of 3) at"));
	assert_non_null(strstr(mf_error_msg(), ": 500 InternalError: part 2 never works here "
					       "(after 2 attempts)"));
	assert_int_equal(logged(f, "\"DELETE\"", "packages/mpfail.hpkg\", \"query\": \"uploadId="), 1);
	assert_int_equal(logged(f, "\"POST\"", "packages/mpfail.hpkg\", \"query\": \"uploadId="), 0);
	assert_int_equal(logged(f, "\"PUT\"", "partNumber=3"), 0);
	OK(s3_list_uploads(s, &u, &n));
	assert_int_equal(n, 0);
	s3_uploads_free(u, n);

	/* When the abort fails too, the upload is listed, and can be aborted later. */
	assert_int_equal(s3_put_file(s, "packages/mpstuck.hpkg", src, NULL), -1);
	assert_non_null(strstr(mf_error_msg(), "(part 2 of 3)"));
	OK(s3_list_uploads(s, &u, &n));
	assert_int_equal(n, 1);
	assert_string_equal(u[0].key, "packages/mpstuck.hpkg");
	OK(s3_abort_upload(s, u[0].key, u[0].upload_id));
	s3_uploads_free(u, n);
	OK(s3_list_uploads(s, &u, &n));
	assert_int_equal(n, 0);
	s3_uploads_free(u, n);
	s3_close(s);
	free(src);
}

/* A cancel stops a request (and its retries) at once. */
static void test_cancel(void **state)
{
	struct opts o = { .attempts = 5 };
	struct s3 *s = faults_client(state, &o);
	atomic_int cancel = 1;

	s3_set_cancel(s, &cancel);
	assert_int_equal(s3_put_buffer(s, "down.txt", "x", 1), -1);
	assert_int_equal(mf_error_class(), MF_E_INTERRUPTED);
	s3_close(s);
}

/*
 * The signatures libcurl made, recomputed by botocore from what the server
 * received: a PUT with a body (odd key), a GET, a HEAD, a copy, listings
 * with query parameters (prefix, max-keys, continuation-token), a
 * multipart upload (valueless "uploads", partNumber and uploadId), a
 * listing of uploads and a DELETE.
 */
static void test_signatures_botocore(void **state)
{
	struct fx *f = *state;
	struct opts o = { .prefix = "sig/", .threshold = 5 * MIB, .part = 5 * MIB };
	struct s3 *s = faults_client(state, &o);
	struct s3_object *v = NULL;
	struct s3_upload *u = NULL;
	size_t n = 0;
	int exists;

	unlink(f->faults_log);
	char *back = xasprintf("%s/sig.back", f->dir);
	char *src = make_file(f, "sig.bin", 6 * MIB);
	OK(s3_put_buffer(s, "with space+plus/\xc3\xbc=~%.hpkg", "payload", 7));
	OK(s3_put_buffer(s, "a/./b/../c", "dots", 4));
	OK(s3_get_file(s, "with space+plus/\xc3\xbc=~%.hpkg", back, NULL));
	OK(s3_head(s, "a/./b/../c", &exists, NULL));
	assert_int_equal(exists, 1);
	OK(s3_copy(s, "with space+plus/\xc3\xbc=~%.hpkg", "copy/\xe2\x98\x83.hpkg"));
	s3_set_list_page(s, 2);
	OK(s3_list(s, "", &v, &n));
	assert_int_equal(n, 3);
	s3_objects_free(v, n);
	OK(s3_list(s, "with space+plus/", &v, &n));
	assert_int_equal(n, 1);
	s3_objects_free(v, n);
	OK(s3_put_file(s, "big/file.hpkg", src, NULL));
	OK(s3_list_uploads(s, &u, &n));
	s3_uploads_free(u, n);
	OK(s3_delete(s, "copy/\xe2\x98\x83.hpkg"));
	s3_close(s);
	assert_true(logged(f, "continuation-token=", NULL) >= 1);
	assert_int_equal(logged(f, "x-amz-copy-source", NULL), 1);

	char *out = xasprintf("%s/sigcheck.out", f->dir);
	char *cmd = xasprintf("/usr/bin/python3 %s/s3_sigcheck.py %s %s '%s' %s >%s 2>&1",
			      MAYFLY_TESTDIR, f->faults_log, ACCESS, SECRET, REGION, out);
	int rc = system(cmd);
	char *text = NULL;
	mf_read_file(out, 1 << 20, &text, NULL);
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77 && getenv("MAYFLY_TEST_REQUIRE_ALL")) {
		fail_msg("%s(MAYFLY_TEST_REQUIRE_ALL is set)", text ? text : "botocore is missing\n");
	} else if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
		print_message("skipped: %s", text ? text : "botocore is missing\n");
	} else if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
		fail_msg("s3_sigcheck.py:\n%s", text ? text : "");
	} else {
		/* 2 PUT, GET, HEAD, copy, 3 listings, create + 2 parts + complete, uploads, DELETE */
		assert_non_null(strstr(text, "\n14 signatures match botocore"));
		print_message("%s", text);
		/* and the check can fail: another secret, another signature */
		free(cmd);
		cmd = xasprintf("/usr/bin/python3 %s/s3_sigcheck.py %s %s other %s >%s 2>&1",
				MAYFLY_TESTDIR, f->faults_log, ACCESS, REGION, out);
		rc = system(cmd);
		assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
	}
	free(text);
	free(cmd);
	free(out);
	free(src);
	free(back);
}

/* Config that cannot work is refused. */
static void test_config(void **state)
{
	struct s3_config cfg = { .endpoint = "ftp://x", .region = "r", .bucket = "b",
				 .access_key = "a", .secret_key = "s" };
	struct s3 *s = NULL;

	assert_int_equal(s3_open(&s, &cfg), -1);
	cfg.endpoint = "http://127.0.0.1:1";
	cfg.part_size = 1 * MIB;
	assert_int_equal(s3_open(&s, &cfg), -1);
	assert_non_null(strstr(mf_error_msg(), "5 MiB"));
	cfg.part_size = 0;
	cfg.region = "a:b";
	assert_int_equal(s3_open(&s, &cfg), -1);
	cfg.region = "r";
	cfg.max_attempts = 2;
	cfg.timeout_s = 2;
	OK(s3_open(&s, &cfg));
	/* Nothing listens there: a connection error, retried, then named. */
	assert_int_equal(s3_delete(s, "k"), -1);
	assert_non_null(strstr(mf_error_msg(), "S3 DELETE k at http://127.0.0.1:1: "));
	assert_non_null(strstr(mf_error_msg(), "(after 2 attempts)"));
	s3_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_streamed_put),
		cmocka_unit_test(test_odd_keys),
		cmocka_unit_test(test_retry_then_ok),
		cmocka_unit_test(test_retry_exhausted),
		cmocka_unit_test(test_denied_not_retried),
		cmocka_unit_test(test_stall_retried),
		cmocka_unit_test(test_multipart_aborted),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_signatures_botocore),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
