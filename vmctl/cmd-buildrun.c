/* cmd-buildrun.c - vmctl buildrun list|show: build runs and their ports. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "json/status.h"
#include "store/buildruns.h"
#include "store/state.h"
#include "vmctl/vmctl.h"

static void when(double t, char out[32])
{
	if (t > 0)
		mf_rfc3339((int64_t)t, out);
	else
		snprintf(out, 32, "-");
}

int cmd_buildrun_list(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct buildrun **v = NULL;
	size_t n = 0;
	int json, status = 0;

	if (vmctl_json_flag(cmd, argc, argv, &json, &status) < 0)
		return status;
	if (optind != argc)
		return vmctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	status = 0;
	if (vmctl_open(&env) < 0 || buildruns_list(env->state->db, 0, &v, &n) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_buildruns_json(v, n);
		fputs(s, stdout);
		free(s);
	} else if (n == 0) {
		printf("no build runs\n");
	} else {
		printf("%-5s %-12s %-12s %-10s %-7s %-20s %s\n", "ID", "TREE", "COMMIT", "IMAGE",
		       "KIND", "STARTED", "STATUS");
		for (size_t i = 0; i < n; i++) {
			char t[32];
			when(v[i]->start, t);
			printf("%-5lld %-12s %-12.12s %-10s %-7s %-20s %s\n", (long long)v[i]->id,
			       v[i]->tree, v[i]->commit, v[i]->image, v[i]->kind, t, v[i]->status);
		}
	}
out:
	buildruns_list_free(v, n);
	vmctl_close(env);
	return status;
}

int cmd_buildrun_show(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct buildrun *r = NULL;
	long long id;
	int json, status = 0;

	if (vmctl_json_flag(cmd, argc, argv, &json, &status) < 0)
		return status;
	if (optind + 1 != argc)
		return vmctl_usage(cmd, "expected one build run id");
	if (vmctl_parse_id(cmd, argv[optind], &id) < 0)
		return 2;
	status = 0;
	if (vmctl_open(&env) < 0 || buildruns_get(env->state->db, id, &r) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_buildrun_json(r);
		fputs(s, stdout);
		free(s);
		goto out;
	}
	char s[32], e[32];
	when(r->start, s);
	when(r->end, e);
	printf("build run %lld: %s\n  tree:     %s at %s\n  image:    %s (up to %d machine%s)\n"
	       "  kind:     %s\n  started:  %s\n  ended:    %s\n  status:   %s/output/%s/buildruns/"
	       "%lld/status.json\n", (long long)r->id, r->status, r->tree, r->commit, r->image,
	       r->slots, r->slots == 1 ? "" : "s", r->kind, s, e, env->state->dir, r->tree,
	       (long long)r->id);
	printf("\n%-24s %-9s %-7s %s\n", "PORT", "STATE", "BUILD", "");
	for (size_t i = 0; i < r->nports; i++) {
		const struct br_port *p = &r->ports[i];
		char b[24] = "-";
		if (p->build_id)
			snprintf(b, sizeof(b), "%lld", (long long)p->build_id);
		printf("%-24s %-9s %-7s", p->port, br_state_name(p->state), b);
		if (p->state == BR_BLOCKED) {
			printf(" waiting for");
			for (size_t k = 0; p->missing[k]; k++)
				printf(" %s", p->missing[k]);
		} else if (p->reason) {
			printf(" %s", p->reason);
		}
		putchar('\n');
		if (p->required[0]) {
			printf("%-24s given:", "");
			for (size_t k = 0; p->required[k]; k++)
				printf(" %s", p->required[k]);
			putchar('\n');
		}
	}
out:
	buildrun_free(r);
	vmctl_close(env);
	return status;
}
