/*
 * run.c - what vmctl build --tree and vmctl update share: a build run of
 * ports planned and run in this process (buildrun/buildrun.h), reported as
 * it goes on stderr (and each build's JSON result on stdout with --json).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buildrun/buildrun.h"
#include "build/pipeline.h"
#include "common/util.h"
#include "json/report.h"
#include "store/state.h"
#include "vmctl/vmctl.h"

struct run_ui {
	const struct vmctl_run_args *a;
	int status;		/* the first failure's exit status */
};

/* With one machine at a time, a build shows its phases and output as before. */
struct one_ui {
	int json;
};

static void one_started(void *payload, int64_t id, const char *log_path)
{
	(void)payload;
	fprintf(stderr, "==> build %lld, log %s\n", (long long)id, log_path);
}

static void one_phase(void *payload, const char *name, int64_t ms)
{
	fflush(((struct one_ui *)payload)->json ? stderr : stdout);
	vmctl_progress(name, ms);
}

static void one_output(void *payload, int stream, const char *data, size_t len)
{
	(void)stream;
	FILE *out = ((struct one_ui *)payload)->json ? stderr : stdout;
	fwrite(data, 1, len, out);
	fflush(out);
}

static void on_started(void *payload, const struct br_port *p, int slot)
{
	(void)payload;
	fprintf(stderr, "==> %s: starts on vm-%d\n", p->port, slot);
}

static void on_ended(void *payload, const struct br_port *p, const struct build_result *res)
{
	struct run_ui *ui = payload;
	int rc = build_status_exit_code(res->status);

	vmctl_print_summary(res);
	if (p->state != BR_COMPLETE)
		fprintf(stderr, "==> %s %s\n", p->port, br_state_name(p->state));
	if (ui->a->json == 1) {
		char *s = report_build_json(res);
		fputs(s, stdout);
		fflush(stdout);
		free(s);
	}
	if (ui->status == 0 && rc != 0)
		ui->status = rc;
	if (ui->a->ended)
		ui->a->ended(ui->a->payload, p, res);
}

static void print_plan(const struct buildrun *r)
{
	fprintf(stderr, "==> build run %lld: %zu port%s of %s at %.12s on %s, up to %d machine%s\n",
		(long long)r->id, r->nports, r->nports == 1 ? "" : "s", r->tree, r->commit,
		r->image, r->slots, r->slots == 1 ? "" : "s");
	for (size_t i = 0; i < r->nports; i++) {
		const struct br_port *p = &r->ports[i];
		fprintf(stderr, "    %-24s %s", p->port, br_state_name(p->state));
		if (p->state == BR_BLOCKED) {
			fprintf(stderr, ": waiting for");
			for (size_t k = 0; p->missing[k]; k++)
				fprintf(stderr, " %s", p->missing[k]);
		} else if (p->reason) {
			fprintf(stderr, ": %s", p->reason);
		}
		fputc('\n', stderr);
	}
}

int vmctl_run_ports(struct vmctl_env *env, const struct vmctl_run_args *a, struct buildrun **out)
{
	struct buildrun *r = NULL;
	struct run_ui ui = { .a = a };
	struct one_ui one = { .json = a->json };
	struct build_events bev = { one_started, one_phase, one_output, &one };
	struct run_events ev = { on_started, on_ended, &ui };
	struct plan_opts po = {
		.tree = a->tree,
		.commit = a->commit,
		.image = a->image,
		.ports = a->ports,
		.kind = a->kind,
		.slots = env->cfg.max_vms,
	};

	if (out)
		*out = NULL;
	if (buildrun_plan(env->state, &po, &r) < 0)
		return -1;
	print_plan(r);
	/* Ports lost or skipped at planning are reported as the builds are. */
	for (size_t i = 0; i < r->nports; i++)
		if (r->ports[i].state == BR_LOST && ui.status == 0)
			ui.status = 1;
	if (vmctl_host(env) < 0) {
		buildrun_free(r);
		return -1;
	}
	struct run_opts ro = {
		.cfg = &env->cfg,
		.out_dir = a->out_dir,
		.timeout_s = a->timeout,
		.cancel = &vmctl_cancel,
		.ev = &ev,
		.build_ev = &bev,
	};
	if (buildrun_run(env->state, r, &ro) < 0) {
		buildrun_free(r);
		return -1;
	}
	int counts[BR_NSTATES] = { 0 };
	for (size_t i = 0; i < r->nports; i++) {
		counts[r->ports[i].state]++;
		if (r->ports[i].state == BR_LOST && ui.status == 0)
			ui.status = 1;
	}
	fprintf(stderr, "==> build run %lld %s:", (long long)r->id, r->status);
	for (int s = 0; s < BR_NSTATES; s++)
		if (counts[s])
			fprintf(stderr, " %d %s", counts[s], br_state_name((enum br_state)s));
	fprintf(stderr, "\n    status: %s/output/%s/buildruns/%lld/status.json\n",
		env->state->dir, r->tree, (long long)r->id);
	if (!strcmp(r->status, "aborted"))
		ui.status = 130;
	if (out)
		*out = r;
	else
		buildrun_free(r);
	return ui.status;
}
