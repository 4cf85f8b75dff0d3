/* cmd-cancel.c - vmctl cancel: stop a build of mayflyd. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/builds.h"
#include "store/queue.h"
#include "store/state.h"
#include "common/util.h"
#include "vmctl/client.h"
#include "vmctl/vmctl.h"

static int remote(long long id)
{
	struct client *c = NULL;
	char *path = xasprintf("/api/v1/builds/%lld/cancel", id), *answer = NULL;
	int status = 0;

	if (vmctl_client(&c) < 0 || client_call(c, "POST", path, NULL, &answer) < 0)
		status = vmctl_fail();
	else
		printf("build %lld: %s", id, strstr(answer, "cancelling") ?
			"cancelling (its machine is being destroyed)\n" : "cancelled\n");
	free(answer);
	free(path);
	client_close(c);
	return status;
}

/* Without mayflyd's URL: through the database, which mayflyd watches. */
static int local(long long id)
{
	struct vmctl_env *env = NULL;
	struct build_record *r = NULL;
	char *state = NULL;
	int status = 0;

	if (vmctl_open(&env) < 0 || builds_get(env->state->db, id, &r) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (!strcmp(r->source, "vmctl") && !strcmp(r->status, "running")) {
		fprintf(stderr, "vmctl: build %lld runs in a vmctl process, not in mayflyd; "
			"interrupt that vmctl (Ctrl-C)\n", id);
		status = 2;
		goto out;
	}
	int rc = queue_cancel(env->state->db, id, &state);
	if (rc < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (rc == 0) {
		printf("build %lld: %s\n", id, !strcmp(state, "cancelled") ? "cancelled" :
			"cancelling (mayflyd destroys its machine within a second)");
	} else {
		fprintf(stderr, "vmctl: build %lld has already finished (%s)\n", id, state);
		status = 2;
	}
out:
	free(state);
	build_record_free(r);
	vmctl_close(env);
	return status;
}

int cmd_cancel(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long id;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return vmctl_help(cmd, NULL);
		return vmctl_usage(cmd, "unknown option");
	}
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one build id");
	if (vmctl_parse_id(cmd, argv[optind], &id) < 0)
		return 2;
	return vmctl_url() ? remote(id) : local(id);
}
