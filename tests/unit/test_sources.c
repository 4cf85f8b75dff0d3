/*
 * test_sources.c - port sources fetched on the host (ports/sources.c),
 * from an HTTP server the test starts on 127.0.0.1: verified, cached,
 * mirrors tried in order, failures named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/util.h"
#include "ports/recipe.h"
#include "ports/sources.h"

#include "state_fixture.h"

struct fx {
	struct fixture state;
	char *www, *cache;
	pid_t server;
	int port;
};

static const char server_py[] =
	"import http.server, os, sys\n"
	"os.chdir(sys.argv[1])\n"
	"class H(http.server.SimpleHTTPRequestHandler):\n"
	"    def log_message(self, *a): pass\n"
	"    def do_GET(self):\n"
	"        if self.path.startswith('/moved/'):\n"
	"            self.send_response(302)\n"
	"            self.send_header('Location', '/' + self.path[7:])\n"
	"            self.end_headers()\n"
	"            return\n"
	"        super().do_GET()\n"
	"s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	"print(s.server_port, flush=True)\n"
	"s.serve_forever()\n";

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	void *inner = NULL;
	int pfd[2];
	char buf[32] = "";

	if (state_fixture_setup(&inner) < 0)
		return -1;
	f->state = *(struct fixture *)inner;
	free(inner);
	f->www = xasprintf("%s/www", f->state.dir);
	f->cache = f->state.st->sources_dir;
	mf_mkdir_p(f->www, 0755);
	char *script = xasprintf("%s/server.py", f->state.dir);
	mf_write_file_atomic(script, server_py, strlen(server_py), 0644);
	if (pipe(pfd) < 0)
		return -1;
	f->server = fork();
	if (f->server == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execlp("python3", "python3", script, f->www, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	free(script);
	if (n <= 0)
		return -1;
	f->port = atoi(buf);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	void *inner = xcalloc(1, sizeof(struct fixture));

	kill(f->server, SIGTERM);
	waitpid(f->server, NULL, 0);
	*(struct fixture *)inner = f->state;
	state_fixture_teardown(&inner);
	free(f->www);
	free(f);
	return 0;
}

static void serve(struct fx *f, const char *name, const char *content, char sha[SHA256_HEX_LEN])
{
	char *path = xasprintf("%s/%s", f->www, name);
	struct sha256 *h = sha256_new();

	assert_int_equal(mf_write_file_atomic(path, content, strlen(content), 0644), 0);
	sha256_update(h, content, strlen(content));
	sha256_finish(h, sha);
	free(path);
}

/* A recipe with one source: uris (NULL-terminated), checksum, file name. */
static struct recipe *recipe_of(const char *const *uris, const char *checksum,
				const char *filename)
{
	struct recipe *r = xcalloc(1, sizeof(*r));

	r->sources = xcalloc(1, sizeof(*r->sources));
	r->nsources = 1;
	r->sources[0].index = 1;
	size_t n = 0;
	while (uris[n])
		n++;
	r->sources[0].uris = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		r->sources[0].uris[i] = xstrdup(uris[i]);
	r->sources[0].checksum = xstrdup_or_null(checksum);
	r->sources[0].filename = xstrdup_or_null(filename);
	return r;
}

static void test_fetch_verify_cache(void **state)
{
	struct fx *f = *state;
	struct sources_opts o = { .db = fdb(state), .cache_dir = f->cache };
	struct source_file *v = NULL;
	size_t n = 0;
	char sha[SHA256_HEX_LEN];
	char *url = NULL, *missing = NULL, *moved = NULL;

	serve(f, "zlib-1.3.tar.gz", "pretend this is zlib\n", sha);
	url = xasprintf("http://127.0.0.1:%d/zlib-1.3.tar.gz#noarchive", f->port);
	missing = xasprintf("http://127.0.0.1:%d/gone/zlib-1.3.tar.gz", f->port);
	moved = xasprintf("http://127.0.0.1:%d/moved/zlib-1.3.tar.gz", f->port);

	/* A mirror that answers 404 first, then one that redirects: it arrives. */
	const char *uris[] = { missing, moved, NULL };
	struct recipe *r = recipe_of(uris, sha, NULL);
	if (sources_fetch(&o, r, &v, &n) < 0)
		fail_msg("%s", mf_error_msg());
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "zlib-1.3.tar.gz");
	assert_string_equal(v[0].uri, moved);
	assert_string_equal(v[0].sha256, sha);
	assert_int_equal(v[0].size, 21);
	char *cached = NULL;
	assert_int_equal(mf_read_file(v[0].path, 1024, &cached, NULL), 0);
	assert_string_equal(cached, "pretend this is zlib\n");
	free(cached);
	source_files_free(v, n);
	recipe_free(r);

	/* Next time from the cache, with the server's file gone. */
	char *gone = xasprintf("%s/zlib-1.3.tar.gz", f->www);
	unlink(gone);
	free(gone);
	const char *uris2[] = { url, NULL };
	r = recipe_of(uris2, sha, NULL);
	assert_int_equal(sources_fetch(&o, r, &v, &n), 0);
	assert_string_equal(v[0].sha256, sha);
	/* The name keeps no "#noarchive". */
	assert_string_equal(v[0].name, "zlib-1.3.tar.gz");
	source_files_free(v, n);
	recipe_free(r);
	free(url);
	free(missing);
	free(moved);
}

static void test_failures(void **state)
{
	struct fx *f = *state;
	struct sources_opts o = { .db = fdb(state), .cache_dir = f->cache };
	struct source_file *v = NULL;
	size_t n = 0;
	char sha[SHA256_HEX_LEN];
	const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";

	serve(f, "x.tar.gz", "x\n", sha);
	char *url = xasprintf("http://127.0.0.1:%d/x.tar.gz", f->port);
	/* A checksum mismatch names the URI and both digests; nothing is cached. */
	const char *uris[] = { url, NULL };
	struct recipe *r = recipe_of(uris, wrong, NULL);
	mf_error_clear();
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_int_equal(mf_error_class(), MF_E_BUILD);
	assert_non_null(strstr(mf_error_msg(), url));
	assert_non_null(strstr(mf_error_msg(), sha));
	assert_non_null(strstr(mf_error_msg(), wrong));
	assert_int_equal(query_int(fdb(state), "SELECT count(*) FROM sources WHERE ?1 = ?1", 0), 0);
	recipe_free(r);

	/* No checksum: refused, unless the tree allows unsafe sources. */
	r = recipe_of(uris, NULL, "renamed.tgz");
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_non_null(strstr(mf_error_msg(), "no CHECKSUM_SHA256"));
	o.allow_unsafe = 1;
	assert_int_equal(sources_fetch(&o, r, &v, &n), 0);
	assert_string_equal(v[0].name, "renamed.tgz");
	assert_string_equal(v[0].sha256, sha);
	source_files_free(v, n);
	recipe_free(r);
	o.allow_unsafe = 0;

	/* A dead URL and a version-control source: the build fails, each named. */
	const char *dead[] = { "http://127.0.0.1:1/y.tar.gz", "git+https://example.org/y.git#v1",
			       NULL };
	r = recipe_of(dead, wrong, NULL);
	mf_error_clear();
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_int_equal(mf_error_class(), MF_E_BUILD);
	assert_non_null(strstr(mf_error_msg(), "127.0.0.1:1"));
	assert_non_null(strstr(mf_error_msg(), "http and https sources only"));
	recipe_free(r);
	/* A name that could leave the download directory. */
	const char *evil[] = { url, NULL };
	r = recipe_of(evil, sha, "../../x");
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_non_null(strstr(mf_error_msg(), "invalid input name"));
	recipe_free(r);
	free(url);
}

static void test_cache_limit(void **state)
{
	struct fx *f = *state;
	struct sources_opts o = { .db = fdb(state), .cache_dir = f->cache, .cache_max = 30 };
	struct source_file *v = NULL;
	size_t n = 0;
	char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];

	serve(f, "a", "aaaaaaaaaaaaaaaaaaaa\n", a); /* 21 bytes */
	serve(f, "b", "bbbbbbbbbbbbbbbbbbbb\n", b);
	char *ua = xasprintf("http://127.0.0.1:%d/a", f->port);
	char *ub = xasprintf("http://127.0.0.1:%d/b", f->port);
	const char *uas[] = { ua, NULL }, *ubs[] = { ub, NULL };
	struct recipe *ra = recipe_of(uas, a, NULL), *rb = recipe_of(ubs, b, NULL);
	assert_int_equal(sources_fetch(&o, ra, &v, &n), 0);
	source_files_free(v, n);
	assert_int_equal(sources_fetch(&o, rb, &v, &n), 0);
	source_files_free(v, n);
	/* 42 bytes over a limit of 30: the least recently used (a) went. */
	char *pa = xasprintf("%s/%s", f->cache, a), *pb = xasprintf("%s/%s", f->cache, b);
	assert_int_equal(access(pa, F_OK), -1);
	assert_int_equal(access(pb, F_OK), 0);
	free(pa);
	free(pb);
	recipe_free(ra);
	recipe_free(rb);
	free(ua);
	free(ub);
}

static void test_target_name(void **state)
{
	char *s;

	s = sources_target_name("https://h/p/zlib-1.3.tar.xz#noarchive", NULL);
	assert_string_equal(s, "zlib-1.3.tar.xz");
	free(s);
	s = sources_target_name("https://h/archive/v1.tgz?raw=true", NULL);
	assert_string_equal(s, "v1.tgz");
	free(s);
	s = sources_target_name("https://h/x", "named.zip");
	assert_string_equal(s, "named.zip");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_target_name),
		cmocka_unit_test_setup_teardown(test_fetch_verify_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_limit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
