/*
 * test_sources.c - port sources fetched on the host (ports/sources.c),
 * from an HTTP server (and `git daemon`) the test starts on 127.0.0.1:
 * verified, cached, mirrors tried in order, failures named; git sources
 * checked with real git.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
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
	pid_t git_daemon;	/* its process group; 0: none */
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
	"with open(sys.argv[2] + '.tmp', 'w') as f: f.write(str(s.server_port))\n"
	"os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
	"s.serve_forever()\n";

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	void *inner = NULL;
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
	/* The server writes its port into a file once it listens. */
	char *portfile = xasprintf("%s/server.port", f->state.dir);
	f->server = fork();
	if (f->server == 0) {
		execlp("python3", "python3", script, f->www, portfile, (char *)NULL);
		_exit(127);
	}
	free(script);
	char *text = NULL;
	for (int i = 0; i < 200 && mf_read_file(portfile, 64, &text, NULL) < 0; i++)
		usleep(50000);
	free(portfile);
	if (!text)
		return -1;
	snprintf(buf, sizeof(buf), "%s", text);
	free(text);
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
	if (f->git_daemon > 0) {
		kill(-f->git_daemon, SIGTERM);
		waitpid(f->git_daemon, NULL, 0);
	}
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

/* --- git sources, from `git daemon` on 127.0.0.1 */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void sh(const char *fmt, ...) MF_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static char *sh_out(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char buf[256] = "";

	assert_non_null(p);
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = '\0';
	pclose(p);
	buf[strcspn(buf, " \n")] = '\0';
	return xstrdup(buf);
}

static void test_git_sources(void **state)
{
	struct fx *f = *state;
	struct sources_opts o = { .db = fdb(state), .cache_dir = f->cache };
	struct source_file *v = NULL;
	size_t n = 0;
	char *repos = xasprintf("%s/repos", f->state.dir), cmd[2048];
	int port = free_port();
	pid_t daemon;

	/* A repository with an annotated tag v1.0 and a later commit. */
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	sh("set -e; mkdir -p %s/lib && cd %s/lib && git init -q -b main . && "
	   "echo 'int lib;' > lib.c && echo '$Format:%%H$' > version && "
	   "echo 'version export-subst' > .gitattributes && git add -A && "
	   "git -c user.name=t -c user.email=t@t commit -q -m one && "
	   "git -c user.name=t -c user.email=t@t tag -a -m v1 v1.0 && "
	   "echo later > later.c && git add -A && "
	   "git -c user.name=t -c user.email=t@t commit -q -m two", repos, repos);
	snprintf(cmd, sizeof(cmd), "cd %s/lib && git rev-parse v1.0^{commit}", repos);
	char *c1 = sh_out(cmd);
	snprintf(cmd, sizeof(cmd), "cd %s/lib && git rev-parse HEAD", repos);
	char *c2 = sh_out(cmd);
	/* What HaikuPorter computes (export attributes off, as it sets them). */
	sh("mkdir -p %s/lib/.git/info && echo '* -export-subst -export-ignore' > "
	   "%s/lib/.git/info/attributes", repos, repos);
	snprintf(cmd, sizeof(cmd), "cd %s/lib && git -c core.abbrev=no archive --format tar v1.0 "
		 "| sha256sum", repos);
	char *want = sh_out(cmd);
	daemon = fork();
	if (daemon == 0) {
		char portarg[32];
		int null = open("/dev/null", O_RDWR);
		/* Its own group (git runs git-daemon as a child), and off the test's output. */
		setpgid(0, 0);
		dup2(null, 1);
		dup2(null, 2);
		snprintf(portarg, sizeof(portarg), "--port=%d", port);
		execlp("git", "git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
		       portarg, xasprintf("--base-path=%s", repos), repos, (char *)NULL);
		_exit(127);
	}
	f->git_daemon = daemon; /* teardown stops it if an assertion ends the test early */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
		ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			break;
		usleep(50000);
	}

	/* tag=: fetched, verified like HaikuPorter, exported as one commit. */
	char *uri = xasprintf("git+git://127.0.0.1:%d/lib#tag=v1.0", port);
	const char *uris[] = { uri, NULL };
	struct recipe *r = recipe_of(uris, want, "lib-1.0");
	if (sources_fetch(&o, r, &v, &n) < 0)
		fail_msg("%s", mf_error_msg());
	assert_int_equal(n, 1);
	assert_true(v[0].is_dir);
	assert_string_equal(v[0].name, "lib-1.0");
	assert_string_equal(v[0].uri, uri);
	assert_string_equal(v[0].sha256, want);
	/* Real git in the export: the same archive, HaikuPorter's unpack works; one commit only. */
	snprintf(cmd, sizeof(cmd), "git --git-dir=%s -c core.abbrev=no archive --format tar v1.0 "
		 "| sha256sum", v[0].path);
	char *got = sh_out(cmd);
	assert_string_equal(got, want);
	free(got);
	snprintf(cmd, sizeof(cmd), "cat %s/shallow", v[0].path);
	got = sh_out(cmd);
	assert_string_equal(got, c1);
	free(got);
	snprintf(cmd, sizeof(cmd), "git --git-dir=%s cat-file -t %s 2>/dev/null || echo absent",
		 v[0].path, c2);
	got = sh_out(cmd);
	assert_string_equal(got, "absent");
	free(got);
	char *export = xstrdup(v[0].path);
	source_files_free(v, n);
	assert_int_equal(access(export, F_OK), -1); /* the export goes with it */
	free(export);
	recipe_free(r);

	/* commit=, from the mirror without fetching: the daemon is gone by now. */
	kill(-daemon, SIGTERM);
	waitpid(daemon, NULL, 0);
	f->git_daemon = 0;
	free(uri);
	uri = xasprintf("git+git://127.0.0.1:%d/lib#commit=%s", port, c1);
	const char *uris2[] = { uri, NULL };
	r = recipe_of(uris2, want, NULL);
	if (sources_fetch(&o, r, &v, &n) < 0)
		fail_msg("%s", mf_error_msg());
	assert_string_equal(v[0].name, "lib");
	source_files_free(v, n);
	recipe_free(r);

	/* A wrong checksum names both digests. */
	const char *wrong = "1111111111111111111111111111111111111111111111111111111111111111";
	r = recipe_of(uris2, wrong, NULL);
	mf_error_clear();
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_int_equal(mf_error_class(), MF_E_BUILD);
	assert_non_null(strstr(mf_error_msg(), want));
	assert_non_null(strstr(mf_error_msg(), wrong));
	recipe_free(r);

	/* A branch is an unsafe source; file:// and ssh are never fetched. */
	free(uri);
	uri = xasprintf("git+git://127.0.0.1:%d/lib#main", port);
	const char *uris3[] = { uri, NULL };
	r = recipe_of(uris3, NULL, NULL);
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_int_equal(mf_error_class(), MF_E_BUILD);
	assert_non_null(strstr(mf_error_msg(), "names no tag= or commit="));
	recipe_free(r);
	const char *local[] = { "git+file:///etc/x.git#tag=v1", NULL };
	r = recipe_of(local, want, NULL);
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_non_null(strstr(mf_error_msg(), "https, http and git:// only"));
	recipe_free(r);
	const char *bad[] = { "git+https://h/x.git#tag=--upload-pack=x", NULL };
	r = recipe_of(bad, want, NULL);
	assert_int_equal(sources_fetch(&o, r, &v, &n), -1);
	assert_non_null(strstr(mf_error_msg(), "not a revision"));
	recipe_free(r);

	free(uri);
	free(want);
	free(c1);
	free(c2);
	free(repos);
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
		cmocka_unit_test_setup_teardown(test_git_sources, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
