/* cmd-logs.c - vmctl logs: a build's log, followed with -f until it ends. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/builds.h"
#include "store/state.h"
#include "common/util.h"
#include "vmctl/client.h"
#include "vmctl/vmctl.h"

static void to_stdout(void *arg, const char *data, size_t len)
{
	fwrite(data, 1, len, stdout);
	fflush(stdout);
}

static int remote(long long id, int follow)
{
	struct client *c = NULL;
	char *path = xasprintf("/api/v1/builds/%lld/log%s", id, follow ? "?follow=1" : "");
	int status = 0;

	if (vmctl_client(&c) < 0 || client_stream(c, path, to_stdout, NULL) < 0)
		status = vmctl_fail();
	free(path);
	client_close(c);
	return status;
}

static int over(struct vmctl_env *env, long long id)
{
	struct build_record *r = NULL;
	int done;

	if (builds_get(env->state->db, id, &r) < 0)
		return 1;
	done = strcmp(r->status, "queued") && strcmp(r->status, "running") &&
	       strcmp(r->status, "accepted");
	build_record_free(r);
	return done;
}

static int copy_out(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	fflush(stdout);
	return n < 0 ? -1 : 0;
}

static int local(long long id, int follow)
{
	struct vmctl_env *env = NULL;
	struct build_record *r = NULL;
	char *path = NULL;
	int fd = -1, status = 0;

	if (vmctl_open(&env) < 0 || builds_get(env->state->db, id, &r) < 0) {
		status = vmctl_fail();
		goto out;
	}
	path = state_build_dir(env->state, id);
	path = xrealloc(path, strlen(path) + sizeof("/build.log"));
	strcat(path, "/build.log");
	for (;;) {
		if (fd < 0)
			fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && copy_out(fd) < 0) {
			fprintf(stderr, "vmctl: cannot read %s: %s\n", path, strerror(errno));
			status = 3;
			break;
		}
		if (!follow || vmctl_cancel)
			break;
		if (over(env, id)) {
			if (fd >= 0)
				copy_out(fd);
			break;
		}
		usleep(200000);
	}
	if (fd < 0 && !follow)
		fprintf(stderr, "vmctl: build %lld has no log yet (%s)\n", id, r->status);
out:
	if (fd >= 0)
		close(fd);
	free(path);
	build_record_free(r);
	vmctl_close(env);
	return status;
}

int cmd_logs(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long id;
	int c, follow = 0;

	while ((c = getopt_long(argc, argv, "fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': follow = 1; break;
		case 'h': return vmctl_help(cmd, "  -f, --follow  print what comes until the build "
					    "ends\n");
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one build id");
	if (vmctl_parse_id(cmd, argv[optind], &id) < 0)
		return 2;
	return vmctl_url() ? remote(id, follow) : local(id, follow);
}
