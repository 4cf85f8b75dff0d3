/* cmd-status.c - vmctl status: one build, or the latest ones. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/builds.h"
#include "json/report.h"
#include "store/state.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "json/wire.h"
#include "common/error.h"
#include "vmctl/client.h"
#include "vmctl/vmctl.h"

static const char help[] =
	"  --status S,S...  only builds in these statuses (queued, running, succeeded,\n"
	"                   failed, infra_error, timed_out, cancelled)\n"
	"  --limit N        at most N builds (default 20)\n"
	"  --json           print JSON (as mayflyd's API does)\n";

static void print_table(struct build_record **v, size_t n)
{
	if (n == 0) {
		printf("no builds\n");
		return;
	}
	printf("%6s  %-11s  %-16s  %-20s  %s\n", "ID", "STATUS", "IMAGE", "SUBMITTED", "RECIPES");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		mf_rfc3339(v[i]->created, when);
		printf("%6lld  %-11s  %-16s  %-20s  %s\n", (long long)v[i]->id, v[i]->status,
		       v[i]->image, when, v[i]->recipes);
	}
}

/* mayflyd's warm pool, one line per image (nothing when it holds no machine). */
static void print_warm(struct client *c)
{
	struct report_warm *w = NULL;
	size_t n = 0;
	char *answer = NULL;

	if (client_call(c, "GET", "/healthz", NULL, &answer) < 0 ||
	    wire_parse_warm(answer, &w, &n) < 0) {
		mf_error_clear();
		free(answer);
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("%swarm pool: image %s, %d ready, %d starting\n", i ? "" : "\n",
		       w[i].image, w[i].ready, w[i].starting);
	free(w);
	free(answer);
}

static int remote(const char *id, const char *statuses, int limit, int json)
{
	struct client *c = NULL;
	char *path, *answer = NULL;
	int status = 0;

	if (id)
		path = xasprintf("/api/v1/builds/%s", id);
	else
		path = xasprintf("/api/v1/builds?limit=%d%s%s", limit, statuses ? "&status=" : "",
				 statuses ? statuses : "");
	if (vmctl_client(&c) < 0 || client_call(c, "GET", path, NULL, &answer) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		fputs(answer, stdout);
		goto out;
	}
	if (!id) {
		struct build_record **v = NULL;
		size_t n = 0;
		if (wire_parse_records(answer, &v, &n) < 0)
			status = vmctl_fail();
		else
			print_table(v, n);
		build_records_free(v, n);
		print_warm(c);
		goto out;
	}
	struct build_record *r = NULL;
	if (wire_parse_record(answer, &r) < 0) {
		status = vmctl_fail();
		goto out;
	}
	vmctl_print_record(stdout, r);
	build_record_free(r);
out:
	free(answer);
	free(path);
	client_close(c);
	return status;
}

static int local(const struct vmctl_cmd *cmd, const char *id, const char *statuses, int limit,
		 int json)
{
	struct vmctl_env *env = NULL;
	struct build_record *r = NULL, **v = NULL;
	char *list[9] = { 0 }, *copy = NULL, *save = NULL;
	size_t n = 0, k = 0;
	long long bid;
	int status = 0;

	if (id && vmctl_parse_id(cmd, id, &bid) < 0)
		return 2;
	if (statuses) {
		copy = xstrdup(statuses);
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!build_status_valid(t) || k == 8) {
				free(copy);
				return vmctl_usage(cmd, "unknown status '%s'", t);
			}
			list[k++] = t;
		}
	}
	if (vmctl_open(&env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (id) {
		if (builds_get(env->state->db, bid, &r) < 0) {
			status = vmctl_fail();
			goto out;
		}
		if (json) {
			char *s = report_record_json(r);
			fputs(s, stdout);
			free(s);
		} else {
			vmctl_print_record(stdout, r);
		}
		goto out;
	}
	if (builds_list(env->state->db, statuses ? (const char *const *)list : NULL, limit, &v,
			&n) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_records_json(v, n);
		fputs(s, stdout);
		free(s);
	} else {
		print_table(v, n);
	}
out:
	build_record_free(r);
	build_records_free(v, n);
	free(copy);
	vmctl_close(env);
	return status;
}

int cmd_status(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	enum { O_STATUS = 256, O_LIMIT, O_JSON };
	static const struct option opts[] = {
		{ "status", required_argument, NULL, O_STATUS },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *statuses = NULL, *id = NULL;
	int c, limit = 20, json = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_STATUS: statuses = optarg; break;
		case O_LIMIT:
			if (vmctl_parse_int(cmd, "--limit", optarg, 1, 10000, &limit) < 0)
				return 2;
			break;
		case O_JSON: json = 1; break;
		case 'h': return vmctl_help(cmd, help);
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (argc - optind > 1)
		return vmctl_usage(cmd, "expected at most one build id");
	if (argc - optind == 1)
		id = argv[optind];
	if (id && statuses)
		return vmctl_usage(cmd, "--status selects among builds; not with an id");
	if (id) {
		long long ignored;
		if (vmctl_parse_id(cmd, id, &ignored) < 0)
			return 2;
	}
	return vmctl_url() ? remote(id, statuses, limit, json) :
			     local(cmd, id, statuses, limit, json);
}
