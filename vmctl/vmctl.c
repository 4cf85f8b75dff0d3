/*
 * vmctl.c - Mayfly's command line: global options, the command table,
 * signals. See vmctl.8.
 */
#include "vmctl/vmctl.h"

#include <stdatomic.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "machine/host.h"
#include "machine/reconcile.h"
#include "store/state.h"
#include "common/log.h"
#include "common/util.h"
#include "ports/sandbox.h"
#include "vmctl/client.h"

atomic_int vmctl_cancel;

static const char *config_path;
static const char *url;

static const struct vmctl_cmd commands[] = {
	{ "build", "IMAGE RECIPE... [--input FILE]... [--out DIR] [--timeout SECONDS] [--json]\n"
		   "                 [--priority N] [--no-wait]   (the last two with --url)\n"
		   "       vmctl build IMAGE --tree TREE [--commit REV] PORT... [options as above]",
	  "build recipes, or ports of a tree at a commit, in fresh machines cloned from IMAGE",
	  cmd_build },
	{ "update", "TREE IMAGE [--from REV] [--to REV] [--dry-run] [--json]",
	  "build the ports the tree's new commits changed (and those that failed before)",
	  cmd_update },
	{ "buildrun list", "[--json]", "list the build runs, newest first", cmd_buildrun_list },
	{ "buildrun show", "ID [--json]", "show a build run: each port's state, build and reason",
	  cmd_buildrun_show },
	{ "status", "[ID] [--status S,S...] [--limit N] [--json]",
	  "show one build, or the latest builds", cmd_status },
	{ "cancel", "ID", "cancel a queued or running build of mayflyd", cmd_cancel },
	{ "logs", "[-f] ID", "print a build's log (-f: follow it until the build ends)", cmd_logs },
	{ "image add", "NAME DISK [--ssh-user USER] [--ssh-key FILE] [--host-key FILE.pub]\n"
		       "                 [--build-command TEMPLATE] [--packages-dir DIR]\n"
		       "                 [--memory MIB] [--vcpus N] [--disk-bus sata|ide|virtio]\n"
		       "                 [--boot-timeout SECONDS] [--snapshot-slots N]\n"
		       "                 [--restore-command TEMPLATE] [--warm N] [--json]",
	  "register a golden image (imported, smoke-booted, host key pinned)", cmd_image_add },
	{ "image list", "[--json]", "list the registered images", cmd_image_list },
	{ "image show", "NAME [--json]", "show one image", cmd_image_show },
	{ "image rm", "NAME", "remove an image and its golden volume", cmd_image_rm },
	{ "image clear", "NAME", "lift an image's quarantine after boot failures",
	  cmd_image_clear },
	{ "image snapshot", "NAME [--slots N] | --remove NAME",
	  "make booted memory snapshots that builds restore instead of booting",
	  cmd_image_snapshot },
	{ "image warm", "NAME N", "keep N machines of the image booted and ready in mayflyd",
	  cmd_image_warm },
	{ "tree add", "NAME URL [--branch NAME] [--ssh-key FILE | --token-file FILE]\n"
		      "                 [--packager 'NAME <MAIL>'] [--allow-untested]\n"
		      "                 [--allow-unsafe-sources] [--create-source-packages]\n"
		      "                 [--update-image IMAGE] [--json]",
	  "register a ports tree (a git repository) and fetch it", cmd_tree_add },
	{ "tree list", "[--json]", "list the ports trees", cmd_tree_list },
	{ "tree show", "NAME [--json]", "show a ports tree", cmd_tree_show },
	{ "tree sync", "NAME", "fetch a ports tree now", cmd_tree_sync },
	{ "tree set", "NAME --update-image IMAGE | --no-update-image",
	  "choose the image mayflyd builds the tree's updates on", cmd_tree_set },
	{ "tree rm", "NAME", "remove a ports tree and its mirror", cmd_tree_rm },
	{ "repo import", "NAME --hpkr FILE --packages DIR|URL",
	  "index an existing repository's packages, for builds that need them", cmd_repo_import },
	{ "repo list", "", "list the imported repositories", cmd_repo_list },
	{ "repo show", "REPOSITORY", "show a configured repository: its packages and publishes",
	  cmd_repo_show },
	{ "publish", "RUN|--buildrun last|--package FILE... REPOSITORY | --resume",
	  "publish a build run's packages to a repository (a directory or S3)", cmd_publish },
	{ "repo rm", "NAME", "remove an imported repository from the package index", cmd_repo_rm },
	{ "pkg info", "FILE... [--json]",
	  "show what Haiku package (.hpkg) and repository (.hpkr) files hold", cmd_pkg_info },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *fp)
{
	fprintf(fp, "usage: vmctl [-v] [-c FILE] [--url URL] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp, "\nWith --url (or MAYFLY_URL, and MAYFLY_TOKEN), build, status, cancel and "
		    "logs\ntalk to mayflyd; without, vmctl works in-process on the state directory.\n"
		    "'vmctl COMMAND --help' shows a command's options; see vmctl(8).\n");
}

static void on_signal(int sig)
{
	static const char msg[] = "\nvmctl: interrupted; stopping...\n";

	if (!vmctl_cancel) {
		ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)r;
	}
	vmctl_cancel = 1;
}

static void setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocked poll() returns so the flag is seen at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Recipes being evaluated stop too. */
	sandbox_set_interrupt(&vmctl_cancel);
}

int vmctl_open(struct vmctl_env **out)
{
	struct vmctl_env *env = xcalloc(1, sizeof(*env));

	*out = NULL;
	config_init(&env->cfg);
	if (config_load(&env->cfg, config_path) < 0 || config_apply_env(&env->cfg) < 0 ||
	    state_open(&env->state, env->cfg.state_dir) < 0) {
		vmctl_close(env);
		return -1;
	}
	*out = env;
	return 0;
}

int vmctl_host(struct vmctl_env *env)
{
	if (env->host)
		return 0;
	if (host_open(&env->host, env->cfg.libvirt_uri, env->cfg.accel, env->state) < 0)
		return -1;
	if (reconcile_orphans(env->host, env->state->db) < 0) {
		host_close(env->host);
		env->host = NULL;
		return -1;
	}
	return 0;
}

void vmctl_close(struct vmctl_env *env)
{
	if (!env)
		return;
	host_close(env->host);
	state_free(env->state);
	config_release(&env->cfg);
	free(env);
}

const char *vmctl_url(void)
{
	return url && *url ? url : NULL;
}

int vmctl_client(struct client **out)
{
	const char *token = getenv("MAYFLY_TOKEN");

	if (client_open(out, vmctl_url(), token && *token ? token : NULL) < 0)
		return -1;
	client_set_cancel(*out, &vmctl_cancel);
	return 0;
}

int vmctl_fail(void)
{
	fprintf(stderr, "vmctl: %s\n", mf_error_msg());
	return mf_error_exit_code(mf_error_class());
}

int vmctl_usage(const struct vmctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmctl %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: vmctl %s %s\n", cmd->name, cmd->usage);
	return 2;
}

int vmctl_help(const struct vmctl_cmd *cmd, const char *options)
{
	printf("usage: vmctl %s %s\n\n%s.\n", cmd->name, cmd->usage, cmd->summary);
	if (options)
		printf("\n%s", options);
	return 0;
}

int vmctl_json_flag(const struct vmctl_cmd *cmd, int argc, char **argv, int *json, int *status)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*json = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			*json = 1;
			continue;
		}
		*status = c == 'h' ? vmctl_help(cmd, "  --json   print JSON\n") :
				     vmctl_usage(cmd, "unknown option");
		return -1;
	}
	return 0;
}

int vmctl_parse_int(const struct vmctl_cmd *cmd, const char *opt, const char *arg, long min,
		    long max, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < min || v > max) {
		vmctl_usage(cmd, "%s must be a whole number from %ld to %ld, not '%s'", opt, min,
			    max, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int vmctl_parse_id(const struct vmctl_cmd *cmd, const char *s, long long *id)
{
	char *end;

	*id = strtoll(s, &end, 10);
	if (!*s || *end || *id < 1) {
		vmctl_usage(cmd, "'%s' is not a build id", s);
		return -1;
	}
	return 0;
}

void vmctl_progress(const char *step, int64_t ms)
{
	char d[32];

	mf_format_duration(ms, d);
	fprintf(stderr, "==> %-8s %8s\n", step, d);
}

static const struct vmctl_cmd *find(int argc, char **argv, int *consumed)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		const char *name = commands[i].name, *sp = strchr(name, ' ');
		if (!sp && !strcmp(argv[0], name)) {
			*consumed = 1;
			return &commands[i];
		}
		if (sp && argc >= 2 && !strncmp(argv[0], name, (size_t)(sp - name)) &&
		    argv[0][sp - name] == '\0' && !strcmp(argv[1], sp + 1)) {
			*consumed = 2;
			return &commands[i];
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "url", required_argument, NULL, 'u' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct vmctl_cmd *cmd;
	int c, verbose = 0, consumed;

	/* '+': stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vmctl (Mayfly) %s\n", MAYFLY_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path)
		config_path = getenv("MAYFLY_CONFIG");
	if (!url)
		url = getenv("MAYFLY_URL");
	log_init("vmctl", verbose);
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return 2;
	}
	cmd = find(argc, argv, &consumed);
	if (!cmd) {
		if (!strcmp(argv[0], "image"))
			fprintf(stderr, "vmctl: 'image' needs a subcommand: add, list, show, rm, "
				"clear, snapshot or warm\n");
		else if (!strcmp(argv[0], "tree"))
			fprintf(stderr, "vmctl: 'tree' needs a subcommand: add, list, show, sync, set "
				"or rm\n");
		else if (!strcmp(argv[0], "repo"))
			fprintf(stderr, "vmctl: 'repo' needs a subcommand: import, list, show or rm\n");
		else if (!strcmp(argv[0], "pkg"))
			fprintf(stderr, "vmctl: 'pkg' needs a subcommand: info\n");
		else if (!strcmp(argv[0], "buildrun"))
			fprintf(stderr, "vmctl: 'buildrun' needs a subcommand: list or show\n");
		else
			fprintf(stderr, "vmctl: unknown command '%s'\n", argv[0]);
		usage(stderr);
		return 2;
	}
	setup_signals();
	/* The command sees its name as argv[0], as getopt expects. */
	argc -= consumed - 1;
	argv += consumed - 1;
	optind = 0;
	return cmd->run(cmd, argc, argv);
}
