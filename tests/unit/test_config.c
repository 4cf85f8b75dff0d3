/* test_config.c - the settings file and the environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/error.h"

static int setup_cfg(void **state)
{
	struct mf_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return -1;
	config_init(cfg);
	mf_error_clear();
	*state = cfg;
	return 0;
}

static int teardown_cfg(void **state)
{
	config_release(*state);
	free(*state);
	unsetenv("MAYFLY_STATE_DIR");
	unsetenv("MAYFLY_ACCEL");
	unsetenv("MAYFLY_LIBVIRT_URI");
	return 0;
}

static void assert_msg_has(const char *needle)
{
	if (!strstr(mf_error_msg(), needle))
		fail_msg("error message '%s' does not contain '%s'", mf_error_msg(), needle);
}

/* Number of lines in the current error message. */
static int msg_lines(void)
{
	int n = 1;

	for (const char *p = mf_error_msg(); *p; p++)
		if (*p == '\n')
			n++;
	return n;
}

/*
 * Parses text that must fail with exactly one error, on line `line`,
 * whose message holds needle.
 */
static void parse_fails(struct mf_config *cfg, const char *text, int line, const char *needle)
{
	char prefix[64];

	mf_error_clear();
	if (config_parse(cfg, "test.conf", text) != -1)
		fail_msg("config accepted:\n%s", text);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	snprintf(prefix, sizeof(prefix), "test.conf:%d: ", line);
	if (strncmp(mf_error_msg(), prefix, strlen(prefix)) != 0)
		fail_msg("error '%s' does not start with '%s'", mf_error_msg(), prefix);
	assert_int_equal(msg_lines(), 1);
	assert_msg_has(needle);
}

static void test_defaults(void **state)
{
	struct mf_config *cfg = *state;

	assert_null(cfg->path);
	assert_string_equal(cfg->state_dir, MF_DEFAULT_STATE_DIR);
	assert_string_equal(cfg->libvirt_uri, MF_DEFAULT_LIBVIRT_URI);
	assert_int_equal(cfg->accel, MF_ACCEL_AUTO);
	assert_int_equal(cfg->boot_timeout, 180);
	assert_int_equal(cfg->build_timeout, 3600);
}

static void test_parse_valid(void **state)
{
	struct mf_config *cfg = *state;
	const char *text =
		"# Mayfly settings\n"
		"\n"
		"; an old-style comment\n"
		"[daemon]\n"
		"  state_dir = /srv/mayfly   # where builds go\n"
		"libvirt_uri=qemu+ssh://host/system\n"
		"accel = tcg\n"
		"\n"
		"[ limits ]\n"
		"boot_timeout = 240 # slow guests\n"
		"\tbuild_timeout\t=\t7200\t\n";

	assert_int_equal(config_parse(cfg, "test.conf", text), 0);
	assert_string_equal(cfg->state_dir, "/srv/mayfly");
	assert_string_equal(cfg->libvirt_uri, "qemu+ssh://host/system");
	assert_int_equal(cfg->accel, MF_ACCEL_TCG);
	assert_int_equal(cfg->boot_timeout, 240);
	assert_int_equal(cfg->build_timeout, 7200);
	/* config_parse does not claim a file was read. */
	assert_null(cfg->path);
}

static void test_parse_keeps_defaults(void **state)
{
	struct mf_config *cfg = *state;

	assert_int_equal(config_parse(cfg, "test.conf", "[limits]\nboot_timeout = 5\n"), 0);
	assert_int_equal(cfg->boot_timeout, 5);
	assert_int_equal(cfg->build_timeout, 3600);
	assert_string_equal(cfg->state_dir, MF_DEFAULT_STATE_DIR);
	assert_int_equal(config_parse(cfg, "test.conf", ""), 0);
	assert_int_equal(config_parse(cfg, "test.conf", "# nothing\n\n"), 0);
}

static void test_parse_hash_in_value(void **state)
{
	struct mf_config *cfg = *state;

	/* A '#' not preceded by white space is part of the value. */
	assert_int_equal(config_parse(cfg, "test.conf",
				      "[daemon]\nlibvirt_uri = qemu:///system#x # note\n"), 0);
	assert_string_equal(cfg->libvirt_uri, "qemu:///system#x");
}

static void test_parse_quoted_no_space(void **state)
{
	struct mf_config *cfg = *state;

	assert_int_equal(config_parse(cfg, "test.conf",
				      "[daemon]\nstate_dir=\"/srv/my #1 dir\" # comment\n"), 0);
	assert_string_equal(cfg->state_dir, "/srv/my #1 dir");
}

/*
 * The usual way to write a quoted value, 'key = "value"', with blanks after
 * '=' (a regression test: the quotes once stayed in the value and a " #"
 * inside was cut as a comment).
 */
static void test_parse_quoted_value(void **state)
{
	struct mf_config *cfg = *state;
	const char *text =
		"[daemon]\n"
		"state_dir = \"/srv/my #1 dir\"   # comment\n"
		"libvirt_uri = \"qemu:///system # not a comment\"\n";

	mf_error_clear();
	if (config_parse(cfg, "test.conf", text) != 0)
		fail_msg("quoted values rejected: %s", mf_error_msg());
	assert_string_equal(cfg->state_dir, "/srv/my #1 dir");
	assert_string_equal(cfg->libvirt_uri, "qemu:///system # not a comment");
}

static void test_unknown_key_hint(void **state)
{
	parse_fails(*state, "[daemon]\nstat_dir = /x\n", 2,
		    "unknown key 'stat_dir' in [daemon]; did you mean 'state_dir'?");
	parse_fails(*state, "[limits]\n\nboot_timout = 5\n", 3,
		    "unknown key 'boot_timout' in [limits]; did you mean 'boot_timeout'?");
	/* A typo of a key from the other section names that section. */
	parse_fails(*state, "[daemon]\nbuild_timout = 5\n", 2,
		    "did you mean 'build_timeout' in [limits]?");
}

static void test_unknown_key_no_hint(void **state)
{
	parse_fails(*state, "[daemon]\ncolour = blue\n", 2, "unknown key 'colour' in [daemon]");
	assert_null(strstr(mf_error_msg(), "did you mean"));
}

static void test_key_in_wrong_section(void **state)
{
	parse_fails(*state, "[daemon]\nboot_timeout = 60\n", 2,
		    "unknown key 'boot_timeout' in [daemon]; it belongs in [limits]");
	parse_fails(*state, "[limits]\n# x\naccel = kvm\n", 3, "it belongs in [daemon]");
}

static void test_unknown_section(void **state)
{
	struct mf_config *cfg = *state;

	parse_fails(cfg, "[daemon]\naccel = kvm\n[network]\nbridge = br0\n", 3,
		    "unknown section [network]");
	/* Keys of an unknown section are not reported once more. */
	assert_null(strstr(mf_error_msg(), "bridge"));
}

static void test_key_outside_section(void **state)
{
	parse_fails(*state, "# top\naccel = kvm\n[daemon]\n", 2,
		    "'accel' is outside any section");
}

static void test_malformed_lines(void **state)
{
	parse_fails(*state, "[daemon]\njust some words\n", 2, "expected 'key = value'");
	parse_fails(*state, "[daemon\n", 1, "malformed section header");
	parse_fails(*state, "[daemon] trailing\n", 1, "malformed section header");
	parse_fails(*state, "[daemon]\nstate_dir=\"/unterminated\n", 2,
		    "unterminated or malformed quoted value for 'state_dir'");
	parse_fails(*state, "[daemon]\nstate_dir=\"/a\" junk\n", 2,
		    "unterminated or malformed quoted value for 'state_dir'");
}

static void test_duplicate_key(void **state)
{
	struct mf_config *cfg = *state;

	parse_fails(cfg, "[limits]\nboot_timeout = 10\n\nboot_timeout = 20\n", 4,
		    "'boot_timeout' is set twice (first at line 2)");
	/* The first value counts. */
	assert_int_equal(cfg->boot_timeout, 10);
}

static void test_bad_integers(void **state)
{
	parse_fails(*state, "[limits]\nboot_timeout = soon\n", 2,
		    "'boot_timeout' must be a whole number, not 'soon'");
	parse_fails(*state, "[limits]\nboot_timeout = 12s\n", 2, "must be a whole number");
	parse_fails(*state, "[limits]\nboot_timeout =\n", 2, "must be a whole number");
	parse_fails(*state, "[limits]\nboot_timeout = 99999999999999999999999\n", 2,
		    "must be a whole number");
	parse_fails(*state, "[limits]\nboot_timeout = 0\n", 2,
		    "'boot_timeout' must be between 1 and 86400, not 0");
	parse_fails(*state, "[limits]\nboot_timeout = 86401\n", 2, "between 1 and 86400");
	parse_fails(*state, "[limits]\nbuild_timeout = -5\n", 2,
		    "'build_timeout' must be between 1 and 604800, not -5");
}

static void test_integer_limits_accepted(void **state)
{
	struct mf_config *cfg = *state;

	assert_int_equal(config_parse(cfg, "test.conf",
				      "[limits]\nboot_timeout = 86400\nbuild_timeout = 1\n"), 0);
	assert_int_equal(cfg->boot_timeout, 86400);
	assert_int_equal(cfg->build_timeout, 1);
}

static void test_bad_accel(void **state)
{
	parse_fails(*state, "[daemon]\naccel = hvf\n", 2,
		    "'accel' must be auto, kvm or tcg, not 'hvf'");
	parse_fails(*state, "[daemon]\naccel = KVM\n", 2, "must be auto, kvm or tcg");
}

static void test_accel_names(void **state)
{
	enum mf_accel a = MF_ACCEL_AUTO;

	assert_int_equal(config_parse_accel("kvm", &a), 0);
	assert_int_equal(a, MF_ACCEL_KVM);
	assert_int_equal(config_parse_accel("tcg", &a), 0);
	assert_int_equal(a, MF_ACCEL_TCG);
	assert_int_equal(config_parse_accel("auto", &a), 0);
	assert_int_equal(a, MF_ACCEL_AUTO);
	assert_int_equal(config_parse_accel("", &a), -1);
	assert_string_equal(config_accel_name(MF_ACCEL_KVM), "kvm");
	assert_string_equal(config_accel_name(MF_ACCEL_TCG), "tcg");
	assert_string_equal(config_accel_name(MF_ACCEL_AUTO), "auto");
}

static void test_relative_state_dir(void **state)
{
	struct mf_config *cfg = *state;

	parse_fails(cfg, "[daemon]\nstate_dir = var/mayfly\n", 2,
		    "'state_dir' must be an absolute path, not 'var/mayfly'");
	assert_string_equal(cfg->state_dir, MF_DEFAULT_STATE_DIR);
	parse_fails(cfg, "[daemon]\nlibvirt_uri =\n", 2, "'libvirt_uri' needs a value");
}

static void test_many_errors(void **state)
{
	struct mf_config *cfg = *state;
	const char *text =
		"[daemon]\n"			/* 1 */
		"stat_dir = /x\n"		/* 2: unknown key */
		"accel = fast\n"		/* 3: bad accel */
		"\n"				/* 4 */
		"[limits]\n"			/* 5 */
		"boot_timeout = abc\n"		/* 6: not a number */
		"build_timeout = 0\n"		/* 7: out of range */
		"nonsense\n"			/* 8: malformed */
		"[bogus]\n";			/* 9: unknown section */
	static const char *const want[] = {
		"test.conf:2: unknown key 'stat_dir'",
		"test.conf:3: 'accel' must be",
		"test.conf:6: 'boot_timeout' must be a whole number",
		"test.conf:7: 'build_timeout' must be between",
		"test.conf:8: expected 'key = value'",
		"test.conf:9: unknown section [bogus]",
	};
	char *copy, *line, *save = NULL;
	size_t i = 0;

	assert_int_equal(config_parse(cfg, "test.conf", text), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_int_equal(msg_lines(), (int)(sizeof(want) / sizeof(want[0])));
	copy = strdup(mf_error_msg());
	assert_non_null(copy);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		assert_true(i < sizeof(want) / sizeof(want[0]));
		if (strncmp(line, want[i], strlen(want[i])) != 0)
			fail_msg("error line %zu is '%s', expected it to start with '%s'", i + 1,
				 line, want[i]);
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
	free(copy);
	/* No trailing newline after the last error. */
	assert_int_not_equal(mf_error_msg()[strlen(mf_error_msg()) - 1], '\n');
}

static void test_crlf_lines(void **state)
{
	struct mf_config *cfg = *state;

	assert_int_equal(config_parse(cfg, "test.conf",
				      "[limits]\r\nboot_timeout = 33\r\n"), 0);
	assert_int_equal(cfg->boot_timeout, 33);
}

static void test_env_state_dir(void **state)
{
	struct mf_config *cfg = *state;
	char cwd[PATH_MAX], want[PATH_MAX + 32];

	setenv("MAYFLY_STATE_DIR", "/srv/env-state", 1);
	assert_int_equal(config_apply_env(cfg), 0);
	assert_string_equal(cfg->state_dir, "/srv/env-state");

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/rel/state", cwd);
	setenv("MAYFLY_STATE_DIR", "rel/state", 1);
	assert_int_equal(config_apply_env(cfg), 0);
	assert_string_equal(cfg->state_dir, want);

	/* Empty means unset. */
	setenv("MAYFLY_STATE_DIR", "", 1);
	assert_int_equal(config_apply_env(cfg), 0);
	assert_string_equal(cfg->state_dir, want);
}

static void test_env_accel(void **state)
{
	struct mf_config *cfg = *state;

	setenv("MAYFLY_ACCEL", "kvm", 1);
	assert_int_equal(config_apply_env(cfg), 0);
	assert_int_equal(cfg->accel, MF_ACCEL_KVM);
	setenv("MAYFLY_ACCEL", "tcg", 1);
	assert_int_equal(config_apply_env(cfg), 0);
	assert_int_equal(cfg->accel, MF_ACCEL_TCG);

	mf_error_clear();
	setenv("MAYFLY_ACCEL", "turbo", 1);
	assert_int_equal(config_apply_env(cfg), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_msg_has("MAYFLY_ACCEL");
	assert_msg_has("'turbo'");
	assert_int_equal(cfg->accel, MF_ACCEL_TCG);
}

static void test_env_libvirt_uri(void **state)
{
	struct mf_config *cfg = *state;

	setenv("MAYFLY_LIBVIRT_URI", "qemu:///session", 1);
	assert_int_equal(config_apply_env(cfg), 0);
	assert_string_equal(cfg->libvirt_uri, "qemu:///session");
	/* Unrelated settings stay. */
	assert_string_equal(cfg->state_dir, MF_DEFAULT_STATE_DIR);
	assert_int_equal(cfg->accel, MF_ACCEL_AUTO);
}

static void test_env_overrides_file(void **state)
{
	struct mf_config *cfg = *state;

	assert_int_equal(config_parse(cfg, "test.conf",
				      "[daemon]\nstate_dir = /from/file\naccel = tcg\n"), 0);
	setenv("MAYFLY_STATE_DIR", "/from/env", 1);
	assert_int_equal(config_apply_env(cfg), 0);
	assert_string_equal(cfg->state_dir, "/from/env");
	assert_int_equal(cfg->accel, MF_ACCEL_TCG);
}

static void test_load_missing(void **state)
{
	struct mf_config *cfg = *state;
	const char *path = "/nonexistent-mayfly-dir/mayfly.conf";

	mf_error_clear();
	assert_int_equal(config_load(cfg, path), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_msg_has(path);
	assert_null(cfg->path);
}

/* test_load_file's directory, removed by its teardown whatever happens. */
static char load_dir[64];

static int setup_load(void **state)
{
	snprintf(load_dir, sizeof(load_dir), "/tmp/mayfly-test-config-XXXXXX");
	if (!mkdtemp(load_dir))
		return -1;
	return setup_cfg(state);
}

static int teardown_load(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/mayfly.conf", load_dir);
	unlink(path);
	rmdir(load_dir);
	return teardown_cfg(state);
}

static void write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
	struct mf_config *cfg = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/mayfly.conf", load_dir);
	write_conf(path, "[limits]\nbuild_timeout = 60\nboot_timeout = x\n");
	mf_error_clear();
	assert_int_equal(config_load(cfg, path), -1);
	/* Errors name the file they come from. */
	if (strncmp(mf_error_msg(), path, strlen(path)) != 0 ||
	    strncmp(mf_error_msg() + strlen(path), ":3: ", 4) != 0)
		fail_msg("error '%s' does not start with '%s:3: '", mf_error_msg(), path);
	assert_null(cfg->path);

	write_conf(path, "[limits]\nbuild_timeout = 60\n");
	assert_int_equal(config_load(cfg, path), 0);
	assert_int_equal(cfg->build_timeout, 60);
	assert_non_null(cfg->path);
	assert_string_equal(cfg->path, path);
}

static void test_daemon_defaults(void **state)
{
	struct mf_config *cfg = *state;

	assert_string_equal(cfg->listen, "127.0.0.1:8470");
	assert_null(cfg->token_file);
	assert_int_equal(cfg->max_vms, 2);
	assert_int_equal(cfg->queue_max, 100);
	assert_int_equal(cfg->idle_timeout, 600);
	assert_int_equal(cfg->infra_retries, 2);
	assert_int_equal(cfg->disk_reserve_mb, 2048);
	assert_int_equal(cfg->quarantine_after, 3);
	assert_int_equal(cfg->max_request_mb, 64);
}

static void test_daemon_keys(void **state)
{
	struct mf_config *cfg = *state;
	const char *text =
		"[daemon]\n"
		"listen = [::1]:9000\n"
		"token_file = /etc/mayfly/tokens   # one per line\n"
		"[limits]\n"
		"max_vms = 8\n"
		"queue_max = 5000\n"
		"idle_timeout = 90\n"
		"infra_retries = 5\n"
		"disk_reserve_mb = 10240\n"
		"quarantine_after = 7\n"
		"max_request_mb = 512\n";

	if (config_parse(cfg, "test.conf", text) != 0)
		fail_msg("config refused: %s", mf_error_msg());
	assert_string_equal(cfg->listen, "[::1]:9000");
	assert_string_equal(cfg->token_file, "/etc/mayfly/tokens");
	assert_int_equal(cfg->max_vms, 8);
	assert_int_equal(cfg->queue_max, 5000);
	assert_int_equal(cfg->idle_timeout, 90);
	assert_int_equal(cfg->infra_retries, 5);
	assert_int_equal(cfg->disk_reserve_mb, 10240);
	assert_int_equal(cfg->quarantine_after, 7);
	assert_int_equal(cfg->max_request_mb, 512);
	/* The older keys keep their defaults. */
	assert_int_equal(cfg->boot_timeout, 180);
	assert_string_equal(cfg->state_dir, MF_DEFAULT_STATE_DIR);
}

static void test_daemon_key_ranges(void **state)
{
	struct mf_config *cfg = *state;

	parse_fails(cfg, "[limits]\nmax_vms = 0\n", 2, "'max_vms' must be between 1 and 256, not 0");
	parse_fails(cfg, "[limits]\nmax_vms = 257\n", 2, "between 1 and 256");
	parse_fails(cfg, "[limits]\nqueue_max = 0\n", 2, "'queue_max' must be between 1");
	parse_fails(cfg, "[limits]\nidle_timeout = 0\n", 2, "'idle_timeout' must be between 1");
	parse_fails(cfg, "[limits]\ninfra_retries = -1\n", 2, "'infra_retries' must be between 0");
	parse_fails(cfg, "[limits]\ninfra_retries = 101\n", 2, "between 0 and 100");
	parse_fails(cfg, "[limits]\ndisk_reserve_mb = -1\n", 2, "'disk_reserve_mb' must be between 0");
	parse_fails(cfg, "[limits]\nquarantine_after = 0\n", 2, "'quarantine_after' must be between 1");
	parse_fails(cfg, "[limits]\nmax_request_mb = 0\n", 2, "'max_request_mb' must be between 1");
	parse_fails(cfg, "[limits]\nmax_vms = two\n", 2, "'max_vms' must be a whole number");
	/* New keys in the wrong section are pointed to the right one. */
	parse_fails(cfg, "[daemon]\nmax_vms = 2\n", 2, "it belongs in [limits]");
	parse_fails(cfg, "[limits]\nlisten = 127.0.0.1:1\n", 2, "it belongs in [daemon]");

	/* Zero retries and no disk reserve are fine. */
	assert_int_equal(config_parse(cfg, "test.conf",
				      "[limits]\ninfra_retries = 0\ndisk_reserve_mb = 0\n"
				      "max_vms = 256\nquarantine_after = 1\n"), 0);
	assert_int_equal(cfg->infra_retries, 0);
	assert_int_equal(cfg->disk_reserve_mb, 0);
	assert_int_equal(cfg->max_vms, 256);
	assert_int_equal(cfg->quarantine_after, 1);
}

static void test_token_file_absolute(void **state)
{
	struct mf_config *cfg = *state;

	parse_fails(cfg, "[daemon]\ntoken_file = tokens\n", 2,
		    "'token_file' must be an absolute path, not 'tokens'");
	parse_fails(cfg, "[daemon]\ntoken_file = ./etc/tokens\n", 2, "absolute path");
	parse_fails(cfg, "[daemon]\ntoken_file =\n", 2, "token_file");
	assert_null(cfg->token_file);
}

static void test_listen_key(void **state)
{
	struct mf_config *cfg = *state;

	parse_fails(cfg, "[daemon]\nlisten = localhost\n", 2,
		    "'listen' must be HOST:PORT (e.g. 127.0.0.1:8470), not 'localhost'");
	parse_fails(cfg, "[daemon]\nlisten = 1.2.3.4:65536\n", 2, "must be HOST:PORT");
	assert_string_equal(cfg->listen, "127.0.0.1:8470");
	assert_int_equal(config_parse(cfg, "test.conf", "[daemon]\nlisten = 0.0.0.0:0\n"), 0);
	assert_string_equal(cfg->listen, "0.0.0.0:0");
}

/* s must split into host and port. */
static void listen_ok(const char *s, const char *want_host, int want_port)
{
	char host[64];
	int port = -5;

	memset(host, 'x', sizeof(host));
	if (config_parse_listen(s, host, sizeof(host), &port) != 0)
		fail_msg("config_parse_listen refused '%s'", s);
	assert_string_equal(host, want_host);
	assert_int_equal(port, want_port);
}

static void listen_refused(const char *s)
{
	char host[64];
	int port = -5;

	if (config_parse_listen(s, host, sizeof(host), &port) != -1)
		fail_msg("config_parse_listen accepted '%s' (port %d)", s, port);
	assert_int_equal(port, -5);
}

static void test_parse_listen(void **state)
{
	char host[8];
	int port = -5;

	listen_ok("127.0.0.1:8470", "127.0.0.1", 8470);
	listen_ok("[::1]:8470", "::1", 8470);
	listen_ok("[fe80::1%eth0]:80", "fe80::1%eth0", 80);
	listen_ok("0.0.0.0:0", "0.0.0.0", 0);
	listen_ok("build.example.org:65535", "build.example.org", 65535);

	listen_refused("localhost");
	listen_refused("1.2.3.4:");
	listen_refused(":80");
	listen_refused("1.2.3.4:65536");
	listen_refused("[::1]8470");
	listen_refused("1.2.3.4:-1");
	listen_refused("");
	listen_refused("[]:80");
	listen_refused("[::1:80");
	listen_refused("1.2.3.4:80x");
	listen_refused("1.2.3.4:99999999999999999999");

	/* The host must fit the buffer, with its NUL. */
	assert_int_equal(config_parse_listen("1.2.3.4:80", host, sizeof(host), &port), 0);
	assert_string_equal(host, "1.2.3.4");
	assert_int_equal(config_parse_listen("10.20.30.40:80", host, sizeof(host), &port), -1);
	assert_int_equal(config_parse_listen("[1:2:3:4::5]:80", host, sizeof(host), &port), -1);
}

static void test_config_copy(void **state)
{
	struct mf_config *cfg = *state, copy;

	assert_int_equal(config_parse(cfg, "test.conf",
				      "[daemon]\nstate_dir = /srv/m\nlisten = [::]:1\n"
				      "token_file = /etc/t\nlibvirt_uri = test:///default\n"
				      "accel = kvm\n[limits]\nmax_vms = 9\nqueue_max = 3\n"
				      "infra_retries = 0\nidle_timeout = 77\n"), 0);
	free(cfg->path);
	cfg->path = strdup("/etc/mayfly/mayfly.conf");
	assert_non_null(cfg->path);

	config_copy(&copy, cfg);
	/* Each string is a copy of its own. */
	assert_ptr_not_equal(copy.path, cfg->path);
	assert_ptr_not_equal(copy.state_dir, cfg->state_dir);
	assert_ptr_not_equal(copy.libvirt_uri, cfg->libvirt_uri);
	assert_ptr_not_equal(copy.listen, cfg->listen);
	assert_ptr_not_equal(copy.token_file, cfg->token_file);
	config_release(cfg);

	assert_string_equal(copy.path, "/etc/mayfly/mayfly.conf");
	assert_string_equal(copy.state_dir, "/srv/m");
	assert_string_equal(copy.listen, "[::]:1");
	assert_string_equal(copy.token_file, "/etc/t");
	assert_string_equal(copy.libvirt_uri, "test:///default");
	assert_int_equal(copy.accel, MF_ACCEL_KVM);
	assert_int_equal(copy.max_vms, 9);
	assert_int_equal(copy.queue_max, 3);
	assert_int_equal(copy.infra_retries, 0);
	assert_int_equal(copy.idle_timeout, 77);
	assert_int_equal(copy.build_timeout, 3600);
	config_release(&copy);

	/* NULL strings stay NULL. */
	config_init(cfg);
	config_copy(&copy, cfg);
	assert_null(copy.path);
	assert_null(copy.token_file);
	assert_string_equal(copy.listen, "127.0.0.1:8470");
	config_release(&copy);
}


#define REPO_INFO                                                                         \
	"name = HaikuPorts\nvendor = \"Haiku Project\"\nsummary = \"The HaikuPorts repository\"\n" \
	"priority = 1\narchitecture = x86_64\n"                                              \
	"identifier = tag:haikuports.org,2013:repositories/haikuports/master/x86_64\n"

static void test_repositories(void **state)
{
	struct mf_config *cfg = *state, copy;
	const struct mf_repository *r;

	assert_int_equal(config_parse(cfg, "test.conf",
				      "[repository local-one]\ntype = local\npath = /srv/repo\n" REPO_INFO
				      "publish_trees = ports, other\n"
				      "[repository s3]\ntype = s3\nendpoint = http://127.0.0.1:4569\n"
				      "region = eu-1\nbucket = hpkg\nprefix = master/x86_64/current/\n"
				      "credentials_file = /etc/mayfly/s3.credentials\n" REPO_INFO
				      "baseurl = https://example.org/x86_64\n"
				      "signing_key = /etc/mayfly/minisign.key\n"),
			 0);
	assert_int_equal(cfg->nrepos, 2);
	r = config_repository(cfg, "local-one");
	assert_non_null(r);
	assert_int_equal(r->type, MF_REPO_LOCAL);
	assert_string_equal(r->path, "/srv/repo");
	assert_string_equal(r->vendor, "Haiku Project");
	assert_int_equal(r->priority, 1);
	assert_null(r->baseurl);
	assert_true(config_repository_publishes_tree(r, "ports"));
	assert_true(config_repository_publishes_tree(r, "other"));
	assert_false(config_repository_publishes_tree(r, "port"));
	r = config_repository(cfg, "s3");
	assert_int_equal(r->type, MF_REPO_S3);
	assert_string_equal(r->bucket, "hpkg");
	assert_string_equal(r->prefix, "master/x86_64/current/");
	assert_false(config_repository_publishes_tree(r, "ports"));
	assert_null(config_repository(cfg, "nope"));
	assert_msg_has("no repository 'nope'");
	assert_msg_has("configured: local-one, s3");

	config_copy(&copy, cfg);
	assert_int_equal(copy.nrepos, 2);
	assert_string_equal(copy.repos[1].endpoint, "http://127.0.0.1:4569");
	assert_ptr_not_equal(copy.repos[1].endpoint, cfg->repos[1].endpoint);
	config_release(&copy);
}

static void test_repository_errors(void **state)
{
	struct mf_config *cfg = *state;

	parse_fails(cfg, "[repository a]\ntype = local\npath = /r\n" REPO_INFO "secret_access_key = x\n",
		    10, "looks like a secret");
	parse_fails(cfg, "[repository a]\ntype = local\npath = /r\n" REPO_INFO "vendr = x\n", 10,
		    "did you mean 'vendor'?");
	parse_fails(cfg, "[repository a]\ntype = ftp\npath = /r\n" REPO_INFO, 2,
		    "'type' must be local or s3, not 'ftp'");
	parse_fails(cfg, "[repository a]\ntype = local\n" REPO_INFO, 1,
		    "[repository a] of type local needs 'path'");
	parse_fails(cfg, "[repository a]\ntype = local\npath = /r\nbucket = b\n" REPO_INFO, 4,
		    "'bucket' does not apply to a repository of type local");
	parse_fails(cfg, "[repository a]\ntype = s3\nendpoint = http://h\nregion = r\n"
			 "credentials_file = /c\n" REPO_INFO, 1, "of type s3 needs 'bucket'");
	parse_fails(cfg, "[repository a]\ntype = s3\nendpoint = ftp://h\nregion = r\nbucket = b\n"
			 "credentials_file = /c\n" REPO_INFO, 1, "'endpoint' must be an http://");
	parse_fails(cfg, "[repository a]\ntype = local\npath = /r\n" REPO_INFO
			 "[repository a]\ntype = local\npath = /r\n" REPO_INFO, 10, "appears twice");
	parse_fails(cfg, "[repository a;b]\n", 1, "a;b");
	parse_fails(cfg, "[repository]\n", 1, "needs a name");
	/* Every missing key is named, each on its own line. */
	assert_int_equal(config_parse(cfg, "test.conf", "[repository a]\ntype = local\npath = /r\n"
				      "name = x\n"), -1);
	assert_int_equal(msg_lines(), 5);
	assert_msg_has("test.conf:1: [repository a] needs 'vendor'");
	assert_msg_has("test.conf:1: [repository a] needs 'identifier'");
	assert_int_equal(cfg->nrepos, 0); /* nothing half-kept */
	parse_fails(cfg, "[repository a]\ntype = local\npath = /r\n"
			 "name = HaikuPorts\nvendor = v\nsummary = s\npriority = 1\n"
			 "architecture = any\nidentifier = i\n", 1, "'architecture' must be a machine");
	parse_fails(cfg, "[repository a]\ntype = local\npath = /r\n" REPO_INFO "priority = 2\n", 10,
		    "set twice");
	parse_fails(cfg, "[repository a]\ntype = s3\nendpoint = http://k:secretvalue@h\nregion = r\n"
			 "bucket = b\ncredentials_file = /c\n" REPO_INFO, 1,
		    "must not hold a user or password");
	assert_null(strstr(mf_error_msg(), "secretvalue"));
	parse_fails(cfg, "[repository a]\ntype = local\npath = /r\n" REPO_INFO
			 "[repository b]\ntype = local\npath = /r\n" REPO_INFO, 10,
		    "[repository b] writes where [repository a] (line 1) does");
	parse_fails(cfg, "[repository a]\ntype = s3\nendpoint = http://h\nregion = r\nbucket = b\n"
			 "prefix = x/\ncredentials_file = /c\n" REPO_INFO
			 "[repository b]\ntype = s3\nendpoint = http://h\nregion = r\nbucket = b\n"
			 "credentials_file = /c\n" REPO_INFO, 14, "give each its own bucket or prefix");
	/* Side by side under one bucket is fine. */
	assert_int_equal(config_parse(cfg, "test.conf",
				      "[repository a]\ntype = s3\nendpoint = http://h\nregion = r\n"
				      "bucket = b\nprefix = x/\ncredentials_file = /c\n" REPO_INFO
				      "[repository b]\ntype = s3\nendpoint = http://h\nregion = r\n"
				      "bucket = b\nprefix = y/\ncredentials_file = /c\n" REPO_INFO), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_cfg, teardown_cfg)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults),
		T(test_parse_valid),
		T(test_parse_keeps_defaults),
		T(test_parse_hash_in_value),
		T(test_parse_quoted_no_space),
		T(test_parse_quoted_value),
		T(test_unknown_key_hint),
		T(test_unknown_key_no_hint),
		T(test_key_in_wrong_section),
		T(test_unknown_section),
		T(test_key_outside_section),
		T(test_malformed_lines),
		T(test_duplicate_key),
		T(test_bad_integers),
		T(test_integer_limits_accepted),
		T(test_bad_accel),
		T(test_accel_names),
		T(test_relative_state_dir),
		T(test_many_errors),
		T(test_crlf_lines),
		T(test_env_state_dir),
		T(test_env_accel),
		T(test_env_libvirt_uri),
		T(test_env_overrides_file),
		T(test_load_missing),
		cmocka_unit_test_setup_teardown(test_load_file, setup_load, teardown_load),
		T(test_daemon_defaults),
		T(test_daemon_keys),
		T(test_daemon_key_ranges),
		T(test_token_file_absolute),
		T(test_listen_key),
		T(test_parse_listen),
		T(test_config_copy),
		T(test_repositories),
		T(test_repository_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
