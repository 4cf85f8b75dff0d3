/*
 * vmctl.h - the command table and what the commands share.
 *
 * Each command lives in its own cmd-*.c, parses its own options and
 * returns the process exit status:
 *	0 success, 1 the build command failed, 2 usage/config/bad input,
 *	3 infrastructure failure, 4 the build exceeded its time limit,
 *	130 interrupted.
 */
#ifndef MAYFLY_VMCTL_H
#define MAYFLY_VMCTL_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>

#include "common/error.h"

#include "common/config.h"

struct host;
struct mf_state;

struct vmctl_cmd {
	const char *name;	/* "build", "image add" */
	const char *usage;	/* arguments after the name */
	const char *summary;
	int (*run)(const struct vmctl_cmd *cmd, int argc, char **argv);
};

/* Set by SIGINT, SIGTERM and SIGHUP; the running operation cleans up and stops. */
extern atomic_int vmctl_cancel;

struct client;
struct build_record;

/* What a command works with. */
struct vmctl_env {
	struct mf_config cfg;
	struct mf_state *state;
	struct host *host;	/* NULL until vmctl_host() */
};

/* Loads the configuration and opens the state directory. */
int vmctl_open(struct vmctl_env **out);
/*
 * Connects to libvirt (once) and cleans up what dead Mayfly processes left
 * behind: each vmctl run that touches the host reconciles once, first.
 */
int vmctl_host(struct vmctl_env *env);
void vmctl_close(struct vmctl_env *env);
/* mayflyd's URL (--url or MAYFLY_URL), or NULL to work in-process. */
const char *vmctl_url(void);
/* A client for mayflyd at vmctl_url(), with MAYFLY_TOKEN. */
int vmctl_client(struct client **out);
/* A build's status as an exit status: 0, 1, 3, 4 or 130 (0 while not over). */
int vmctl_status_exit(const char *status);
/* A build in a few lines (status, phases, packages, log) on fp. */
void vmctl_print_record(FILE *fp, const struct build_record *r);
/* Prints the current error ("vmctl: ...") and returns its exit status. */
int vmctl_fail(void);
/* Prints a usage error and the command's usage; returns 2. */
int vmctl_usage(const struct vmctl_cmd *cmd, const char *fmt, ...) MF_PRINTF(2, 3);
/* Prints the command's help to stdout; returns 0. */
int vmctl_help(const struct vmctl_cmd *cmd, const char *options);
/* [--json] and nothing else: 0, or -1 with *status the exit status to return. */
int vmctl_json_flag(const struct vmctl_cmd *cmd, int argc, char **argv, int *json, int *status);
/* Parses a whole number option in [min, max]; prints a usage error on failure. */
int vmctl_parse_int(const struct vmctl_cmd *cmd, const char *opt, const char *arg, long min,
		    long max, int *out);
/* Parses a build id argument; prints a usage error on failure. */
int vmctl_parse_id(const struct vmctl_cmd *cmd, const char *s, long long *id);
/* One progress line on stderr: "==> clone (41 ms)". */
void vmctl_progress(const char *step, int64_t ms);

int cmd_build(const struct vmctl_cmd *cmd, int argc, char **argv);
/* vmctl build's arguments, parsed once for both ways of building. */
struct build_args {
	const char *image;
	char **recipes;
	size_t nrecipes;
	char **inputs; /* NULL-terminated */
	size_t ninputs;
	const char *out_dir;
	const char *priority; /* as given; mayflyd's queue only */
	const char *tree;     /* ports of a tree: recipes are ports */
	const char *commit;   /* of the tree; NULL: its head */
	int timeout, json, no_wait;
};
struct build_request;
struct build_result;
/*
 * Runs one build in this process and reports it (its output on stdout, or
 * stderr when json; json 1 also prints its JSON, 2 leaves that to the
 * caller). Returns its exit status, or -1 when it could not start. out
 * (may be NULL) gets the result, to release.
 */
int vmctl_run_build(struct vmctl_env *env, const struct build_request *req, int json,
		    struct build_result *out);
/* vmctl build with --url: submit to mayflyd, follow, report, fetch. */
int cmd_build_remote(const struct vmctl_cmd *cmd, const struct build_args *a);
/* A build's summary on stderr (status, packages, log). */
void vmctl_print_summary(const struct build_result *r);

struct buildrun;
struct br_port;
/* Ports of a tree at a commit, built in dependency order (a build run). */
struct vmctl_run_args {
	const char *tree, *commit, *image;
	const char *kind;	/* "build" or "update" */
	char *const *ports;	/* NULL-terminated, as given */
	const char *out_dir;
	int timeout;
	int json;		/* 1: each build's JSON result on stdout; 2: none; both: output on stderr */
	/* Called after each build, e.g. to record update mode's retries. */
	void (*ended)(void *payload, const struct br_port *p, const struct build_result *res);
	void *payload;
};
/*
 * Plans and runs them, reporting as it goes. Returns the exit status (0
 * all built or skipped, else the first failure's; a lost port counts as a
 * failed build, 1; 130 interrupted), or -1 when the run could not be
 * planned or started (the error is set). out (may be NULL) gets the run.
 */
int vmctl_run_ports(struct vmctl_env *env, const struct vmctl_run_args *a, struct buildrun **out);
int cmd_publish(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_repo_show(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_buildrun_list(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_buildrun_show(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_status(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_cancel(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_logs(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_image_clear(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_image_add(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_image_list(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_image_show(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_image_rm(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_image_snapshot(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_image_warm(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_tree_add(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_tree_list(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_tree_show(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_tree_sync(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_tree_rm(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_tree_set(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_repo_import(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_repo_list(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_repo_rm(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_pkg_info(const struct vmctl_cmd *cmd, int argc, char **argv);
int cmd_update(const struct vmctl_cmd *cmd, int argc, char **argv);

#endif
