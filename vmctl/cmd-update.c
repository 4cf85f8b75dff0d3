/*
 * cmd-update.c - vmctl update: buildmaster's update mode, in this process.
 * The ports the tree's commits since the last processed one changed (and
 * those whose builds failed since) are built on IMAGE as a build run (in
 * dependency order, the ports they need first); then the commit counts as
 * processed.
 */
#include <getopt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/pipeline.h"
#include "buildrun/buildrun.h"
#include "common/error.h"
#include "common/util.h"
#include "json/report.h"
#include "ports/update.h"
#include "store/builds.h"
#include "store/images.h"
#include "store/state.h"
#include "publish/publish.h"
#include "vmctl/vmctl.h"

static const char help[] =
	"  --from REV         compare with REV (default: the last processed commit)\n"
	"  --to REV           update to REV (default: the tree's head, fetched first)\n"
	"  --dry-run          print what would be built and why; build nothing, record nothing\n"
	"  --timeout SECONDS  limit on each build (default: build_timeout setting)\n"
	"  --out DIR          where harvested packages go (default: STATE/builds/ID/packages)\n"
	"  --json             print one JSON document at the end; build output goes to stderr\n"
	"A tree's first update only records its head as processed, unless --from is given.\n"
	"A port whose build fails is built again by the next update, until it succeeds.\n"
	"\n"
	"Exit status: 0 all built (or nothing to do), 1 a build failed, 2 bad usage or input,\n"
	"3 infrastructure failure, 4 a build timed out, 130 interrupted (nothing recorded).\n";

struct update_ui {
	struct vmctl_env *env;
	const char *tree;
	const struct update_plan *plan;
	struct report_update_build *built;
	int status;
};

/* Each build of the run: update mode's retries, and the JSON report's builds. */
static void on_ended(void *payload, const struct br_port *p, const struct build_result *res)
{
	struct update_ui *u = payload;

	for (size_t i = 0; i < u->plan->n; i++) {
		if (strcmp(u->plan->v[i].port, p->port))
			continue;
		if (res->status != BUILD_CANCELLED) {
			u->built[i].id = res->id;
			u->built[i].status = build_status_name(res->status);
		}
	}
	if (res->status == BUILD_CANCELLED)
		return;
	if (update_record(u->env->state->db, u->tree, p->port, u->plan->to, res->id,
			  res->status == BUILD_SUCCEEDED, res->error) < 0 && u->status == 0)
		u->status = vmctl_fail();
}

static void print_plan(const char *tree, const struct update_plan *p)
{
	if (!*p->from) {
		fprintf(stderr, "==> tree %s: first update; nothing built, %s is processed from now "
			"on (give --from REV to build the changes since REV)\n", tree, p->to);
		return;
	}
	fprintf(stderr, "==> tree %s: %.12s..%.12s, %zu port%s to build\n", tree, p->from, p->to,
		p->n, p->n == 1 ? "" : "s");
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].trigger)
			fprintf(stderr, "    %-32s changed: %s\n", p->v[i].port, p->v[i].trigger);
		else
			fprintf(stderr, "    %-32s retry: %s\n", p->v[i].port, p->v[i].retry);
	}
	for (const char *s = p->skipped; s && *s;) {
		size_t len = strcspn(s, "\n");
		fprintf(stderr, "    skipped %.*s\n", (int)len, s);
		s += len;
		s += *s == '\n';
	}
}

int cmd_update(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	enum { O_FROM = 256, O_TO, O_DRY, O_TIMEOUT, O_OUT, O_JSON };
	static const struct option opts[] = {
		{ "from", required_argument, NULL, O_FROM },
		{ "to", required_argument, NULL, O_TO },
		{ "dry-run", no_argument, NULL, O_DRY },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "out", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct update_opts uo = { 0 };
	struct update_plan plan;
	struct report_update_build *built = NULL;
	struct vmctl_env *env = NULL;
	struct image *img = NULL;
	const char *out_dir = NULL;
	int c, dry = 0, json = 0, timeout = 0, status = 0;

	memset(&plan, 0, sizeof(plan));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_FROM: uo.from = optarg; break;
		case O_TO: uo.to = optarg; break;
		case O_DRY: dry = 1; break;
		case O_TIMEOUT:
			if (vmctl_parse_int(cmd, "--timeout", optarg, 1, 7 * 86400, &timeout) < 0)
				return 2;
			break;
		case O_OUT: out_dir = optarg; break;
		case O_JSON: json = 1; break;
		case 'h': return vmctl_help(cmd, help);
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 2)
		return vmctl_usage(cmd, "expected a tree and an image");
	uo.tree = argv[optind];
	uo.image = argv[optind + 1];
	uo.sync = 1;

	if (vmctl_open(&env) < 0 || update_plan(env->state, &uo, &plan) < 0) {
		status = vmctl_fail();
		goto out;
	}
	print_plan(uo.tree, &plan);
	if (dry)
		goto report;
	if (plan.n && (images_get(env->state->db, uo.image, &img) < 0 ||
		       images_check_usable(img) < 0 || vmctl_host(env) < 0)) {
		status = vmctl_fail();
		goto out;
	}
	built = xcalloc(plan.n + 1, sizeof(*built));
	if (plan.n) {
		char **ports = xcalloc(plan.n + 1, sizeof(char *));
		for (size_t i = 0; i < plan.n; i++)
			ports[i] = xstrdup(plan.v[i].port);
		struct update_ui uu = { .env = env, .tree = uo.tree, .plan = &plan, .built = built };
		struct vmctl_run_args ra = {
			.tree = uo.tree, .commit = plan.to, .image = uo.image, .kind = "update",
			.ports = ports, .out_dir = out_dir, .timeout = timeout, .json = json ? 2 : 0,
			.ended = on_ended, .payload = &uu,
		};
		struct buildrun *run = NULL;
		status = vmctl_run_ports(env, &ra, &run);
		mf_strv_free(ports);
		if (status < 0) {
			status = vmctl_fail();
			buildrun_free(run);
			goto out;
		}
		/* Ports lost at planning never built: they are retried next time too. */
		for (size_t i = 0; run && i < run->nports; i++) {
			const struct br_port *p = &run->ports[i];
			if (p->state == BR_LOST && !p->build_id &&
			    update_record(env->state->db, uo.tree, p->port, plan.to, 0, 0,
					  p->reason) < 0)
				status = vmctl_fail();
		}
		/* Published to the repositories that take this tree's updates. */
		if (run && run->end > 0 && status != 130 &&
		    publish_auto(env->state, &env->cfg, run->id) < 0) {
			mf_error_wrap("build run %lld built, but publishing it stopped (run "
				      "'vmctl publish --resume')", (long long)run->id);
			status = vmctl_fail();
		}
		buildrun_free(run);
		if (uu.status && status == 0)
			status = uu.status;
	}
	/* Interrupted: the commit is not processed; the next update starts from the same place. */
	if (status != 130 && update_done(env->state->db, uo.tree, &plan) < 0)
		status = vmctl_fail();
report:
	if (json) {
		char *s = report_update_json(uo.tree, uo.image, &plan, built, dry);
		fputs(s, stdout);
		free(s);
	}
out:
	free(built);
	image_free(img);
	update_plan_release(&plan);
	vmctl_close(env);
	return status;
}
