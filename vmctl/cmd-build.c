/* cmd-build.c - vmctl build: one clean build in a fresh machine. */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/pipeline.h"
#include "ports/tree.h"
#include "json/report.h"
#include "common/names.h"
#include "common/util.h"
#include "vmctl/vmctl.h"

static const char help[] =
	"  --tree TREE        build ports of a registered ports tree, as buildmaster does\n"
	"                     (PORT: name or name-version): a build run, the ports they\n"
	"                     need built first, up to max_vms at once\n"
	"  --commit REV       the tree's commit, branch or tag (default: its head, fetched)\n"
	"  --input FILE       upload FILE into the packages directory first (repeatable)\n"
	"  --out DIR          where harvested packages go (default: STATE/builds/ID/packages)\n"
	"  --timeout SECONDS  limit on the build command (default: build_timeout setting)\n"
	"  --json             print one JSON result at the end; build output goes to stderr\n"
	"With --url (mayflyd):\n"
	"  --priority N       higher runs first (-1000 to 1000, default 0)\n"
	"  --no-wait          print the build's id and return; follow with 'vmctl logs -f'\n"
	"  --out DIR          fetch the packages into DIR (checked against their sha256)\n"
	"\n"
	"Exit status: 0 success, 1 the build command failed, 2 bad usage or input,\n"
	"3 infrastructure failure, 4 the build exceeded --timeout, 130 interrupted.\n";

struct ui {
	int json;
	FILE *out; /* where the build's output goes */
};

static void on_started(void *payload, int64_t id, const char *log_path)
{
	fprintf(stderr, "==> build %lld, log %s\n", (long long)id, log_path);
}

static void on_phase(void *payload, const char *name, int64_t ms)
{
	fflush(((struct ui *)payload)->out);
	vmctl_progress(name, ms);
}

static void on_output(void *payload, int stream, const char *data, size_t len)
{
	struct ui *ui = payload;

	fwrite(data, 1, len, ui->out);
	fflush(ui->out);
}

void vmctl_print_summary(const struct build_result *r)
{
	char d[32];

	mf_format_duration(r->duration_ms, d);
	if (r->status == BUILD_SUCCEEDED)
		fprintf(stderr, "==> build %lld succeeded in %s, %zu package%s:\n",
			(long long)r->id, d, r->npackages, r->npackages == 1 ? "" : "s");
	else
		fprintf(stderr, "==> build %lld %s after %s: %s\n", (long long)r->id,
			build_status_name(r->status), d, r->error ? r->error : "");
	for (size_t i = 0; i < r->npackages; i++) {
		char size[32];
		mf_format_size(r->packages[i].size, size);
		fprintf(stderr, "    %s  %s  sha256 %s\n", r->packages[i].path, size,
			r->packages[i].sha256);
	}
	fprintf(stderr, "    log: %s\n", r->log_path);
	if (r->status == BUILD_INFRA_ERROR)
		fprintf(stderr, "    console: %s\n", r->console_path);
}

/* Both ways of building take the same options; 2 (after a message) on bad usage. */
static int parse_args(const struct vmctl_cmd *cmd, int argc, char **argv, struct build_args *a,
		      int *help_out)
{
	enum { O_INPUT = 256, O_OUT, O_TIMEOUT, O_JSON, O_PRIORITY, O_NOWAIT, O_TREE, O_COMMIT };
	static const struct option opts[] = {
		{ "tree", required_argument, NULL, O_TREE },
		{ "commit", required_argument, NULL, O_COMMIT },
		{ "input", required_argument, NULL, O_INPUT },
		{ "out", required_argument, NULL, O_OUT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "priority", required_argument, NULL, O_PRIORITY },
		{ "no-wait", no_argument, NULL, O_NOWAIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_INPUT:
			a->inputs = xrealloc(a->inputs, (a->ninputs + 2) * sizeof(char *));
			a->inputs[a->ninputs++] = optarg;
			a->inputs[a->ninputs] = NULL;
			break;
		case O_OUT: a->out_dir = optarg; break;
		case O_TIMEOUT:
			if (vmctl_parse_int(cmd, "--timeout", optarg, 1, 7 * 86400, &a->timeout) < 0)
				return 2;
			break;
		case O_JSON: a->json = 1; break;
		case O_PRIORITY: a->priority = optarg; break;
		case O_NOWAIT: a->no_wait = 1; break;
		case O_TREE: a->tree = optarg; break;
		case O_COMMIT: a->commit = optarg; break;
		case 'h': *help_out = 1; return 0;
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (a->commit && !a->tree)
		return vmctl_usage(cmd, "--commit is a commit of a tree: give --tree too");
	if (argc - optind < 2)
		return vmctl_usage(cmd, a->tree ? "expected an image and at least one port" :
				   "expected an image and at least one recipe");
	a->image = argv[optind];
	a->recipes = argv + optind + 1;
	a->nrecipes = (size_t)(argc - optind - 1);
	return 0;
}

int vmctl_run_build(struct vmctl_env *env, const struct build_request *req, int json,
		    struct build_result *out)
{
	struct ui ui = { .json = json, .out = json ? stderr : stdout };
	struct build_events ev = { on_started, on_phase, on_output, &ui };
	struct build_result res;
	struct build_env benv;
	int status = -1;

	build_env_init(&benv, &env->cfg, env->state, env->host);
	if (pipeline_run(&benv, req, &ev, &res) == 0) {
		vmctl_print_summary(&res);
		if (json == 1) {
			char *s = report_build_json(&res);
			fputs(s, stdout);
			fflush(stdout);
			free(s);
		}
		status = build_status_exit_code(res.status);
	}
	if (out)
		*out = res;
	else
		build_result_release(&res);
	return status;
}

int cmd_build(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct build_args a = { 0 };
	struct build_request req = { .cancel = &vmctl_cancel };
	struct ui ui = { .out = stdout };
	struct vmctl_env *env = NULL;
	char commit[41], **ports = NULL;
	int help_asked = 0, status;

	status = parse_args(cmd, argc, argv, &a, &help_asked);
	if (status != 0 || help_asked) {
		free(a.inputs);
		return help_asked ? vmctl_help(cmd, help) : status;
	}
	if (vmctl_url()) {
		status = cmd_build_remote(cmd, &a);
		free(a.inputs);
		return status;
	}
	if (a.priority || a.no_wait) {
		free(a.inputs);
		return vmctl_usage(cmd, "--priority and --no-wait are for mayflyd's queue: "
				   "give --url (or MAYFLY_URL)");
	}
	if (a.json) {
		ui.json = 1;
		ui.out = stderr;
	}
	req.image = a.image;
	req.inputs = a.inputs;
	req.ninputs = a.ninputs;
	req.out_dir = a.out_dir;
	req.timeout_s = a.timeout;
	if (!a.tree) {
		req.recipes = a.recipes;
		req.nrecipes = a.nrecipes;
	}

	/* Bad input is reported as such before libvirt is asked anything. */
	if (vmctl_open(&env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (a.tree) {
		/* Ports of a tree: a build run, in dependency order. */
		for (size_t i = 0; i < a.nrecipes; i++)
			if (recipe_name_check(a.recipes[i]) < 0) {
				status = vmctl_fail();
				goto out;
			}
		if (a.ninputs) {
			status = vmctl_usage(cmd, "--input is for builds of recipes, not of a tree");
			goto out;
		}
		if (tree_resolve(env->state, a.tree, a.commit, 1, commit) < 0) {
			status = vmctl_fail();
			goto out;
		}
		fprintf(stderr, "==> tree %s at %s\n", a.tree, commit);
		ports = xcalloc(a.nrecipes + 1, sizeof(char *));
		for (size_t i = 0; i < a.nrecipes; i++)
			ports[i] = xstrdup(a.recipes[i]);
		struct vmctl_run_args ra = {
			.tree = a.tree, .commit = commit, .image = a.image, .kind = "build",
			.ports = ports, .out_dir = a.out_dir, .timeout = a.timeout, .json = a.json,
		};
		status = vmctl_run_ports(env, &ra, NULL);
		if (status < 0)
			status = vmctl_fail();
		goto out;
	}
	if (pipeline_check(env->state, &req, NULL) < 0 || vmctl_host(env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if ((status = vmctl_run_build(env, &req, ui.json, NULL)) < 0)
		status = vmctl_fail();
out:
	mf_strv_free(ports);
	vmctl_close(env);
	free(a.inputs);
	return status;
}
