/*
 * cmd-publish.c - vmctl publish and vmctl repo show: a build run's
 * packages published to a configured repository ([repository NAME] in
 * mayfly.conf), and what a repository holds.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "publish/publish.h"
#include "store/buildruns.h"
#include "store/publishes.h"
#include "store/state.h"
#include "vmctl/vmctl.h"

int cmd_publish(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	enum { O_BUILDRUN = 256, O_PACKAGE, O_RESUME, O_ABANDON };
	static const struct option opts[] = {
		{ "buildrun", required_argument, NULL, O_BUILDRUN },
		{ "package", required_argument, NULL, O_PACKAGE },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "abandon", required_argument, NULL, O_ABANDON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char help[] =
		"  --buildrun ID|last   the build run whose packages are published\n"
		"  --package FILE       publish this .hpkg file (repeatable), instead of a run\n"
		"  --resume             only finish publishes that were interrupted\n"
		"  --abandon ID         give up publish ID, if it never got past its packages\n";
	const char *run = NULL, *abandon = NULL;
	char **files = NULL;
	size_t nfiles = 0;
	int c, resume = 0, status = 0;
	struct vmctl_env *env = NULL;
	long long rid = 0;
	int64_t id = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_BUILDRUN: run = optarg; break;
		case O_PACKAGE:
			files = xrealloc(files, (nfiles + 1) * sizeof(*files));
			files[nfiles++] = optarg;
			break;
		case O_RESUME: resume = 1; break;
		case O_ABANDON: abandon = optarg; break;
		case 'h': free(files); return vmctl_help(cmd, help);
		default: free(files); return vmctl_usage(cmd, "unknown option");
		}
	}
	if (!resume && !run && !nfiles && optind + 2 == argc)
		run = argv[optind++];
	if (abandon) {
		long long aid;
		free(files);
		if (optind != argc || run || nfiles || resume)
			return vmctl_usage(cmd, "--abandon takes nothing else");
		if (vmctl_parse_id(cmd, abandon, &aid) < 0)
			return 2;
		if (vmctl_open(&env) < 0 || publish_abandon(env->state, &env->cfg, aid) < 0)
			status = vmctl_fail();
		else
			printf("publish %lld abandoned: later publishes go on without it\n", aid);
		vmctl_close(env);
		return status;
	}
	if (resume ? optind != argc || run || nfiles : optind + 1 != argc) {
		free(files);
		return vmctl_usage(cmd, resume ? "--resume takes nothing else" :
						 "expected a build run (or --package FILE) and one "
						 "repository");
	}
	if (!resume && run && nfiles) {
		free(files);
		return vmctl_usage(cmd, "give a build run or --package files, not both");
	}
	if (!resume && !run && !nfiles)
		return vmctl_usage(cmd, "expected a build run (or --package FILE) and one repository");
	if (run && strcmp(run, "last") && vmctl_parse_id(cmd, run, &rid) < 0) {
		free(files);
		return 2;
	}
	if (vmctl_open(&env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (resume) {
		if (publish_resume_all(env->state, &env->cfg) < 0)
			status = vmctl_fail();
		else
			printf("no publish is unfinished\n");
		goto out;
	}
	const char *repo = argv[optind];
	const struct mf_repository *r = config_repository(&env->cfg, repo);
	if (!r) {
		status = vmctl_fail();
		goto out;
	}
	if (run && !strcmp(run, "last")) {
		int64_t last;
		if (buildruns_last(env->state->db, &last) < 0) {
			status = vmctl_fail();
			goto out;
		}
		if (!last) {
			fprintf(stderr, "vmctl: there is no build run to publish\n");
			status = 1;
			goto out;
		}
		rid = last;
	}
	struct publish_request req = { .buildrun = rid, .files = files, .nfiles = nfiles,
				       .requested_by = "vmctl" };
	/* An earlier publish to it that was interrupted is finished first. */
	struct publish_result res;
	if (publish_run(env->state, &env->cfg, r, &req, &id, &res, NULL) < 0) {
		if (id)
			mf_error_wrap("publish %lld to '%s' stopped; 'vmctl publish --resume' goes "
				      "on from there", (long long)id, repo);
		status = vmctl_fail();
		goto out;
	}
	if (!id) {
		printf("repository '%s': nothing new to publish (every package is there)\n", repo);
		goto out;
	}
	printf("publish %lld: %zu packages added, %zu made obsolete, %zu live in '%s'\n",
	       (long long)id, res.added, res.obsoleted, res.live, repo);
	printf("  %llu bytes written in %.2f s; repo.sha256 %s\n", (unsigned long long)res.bytes,
	       res.seconds, res.repo_sha256);
out:
	free(files);
	vmctl_close(env);
	return status;
}

int cmd_repo_show(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct published_pkg *live = NULL;
	struct publish **pubs = NULL;
	size_t nlive = 0, npubs = 0;
	int json, status = 0;

	if (vmctl_json_flag(cmd, argc, argv, &json, &status) < 0)
		return status;
	if (optind + 1 != argc)
		return vmctl_usage(cmd, "expected one repository");
	status = 0;
	const char *id = argv[optind];
	if (vmctl_open(&env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	const struct mf_repository *r = config_repository(&env->cfg, id);
	if (!r || published_live(env->state->db, id, &live, &nlive) < 0 ||
	    publishes_list(env->state->db, id, 5, &pubs, &npubs) < 0) {
		status = vmctl_fail();
		goto out;
	}
	uint64_t bytes = 0;
	for (size_t i = 0; i < nlive; i++)
		bytes += (uint64_t)live[i].size;
	printf("repository:   %s (%s)\n", r->id, config_repo_type_name(r->type));
	if (r->type == MF_REPO_LOCAL)
		printf("path:         %s\n", r->path);
	else
		printf("s3:           %s, bucket %s, prefix '%s', region %s\n", r->endpoint,
		       r->bucket, r->prefix ? r->prefix : "", r->region);
	printf("name:         %s (%s), priority %d, %s\n", r->name, r->vendor, r->priority,
	       r->architecture);
	printf("identifier:   %s\n", r->identifier);
	if (r->baseurl)
		printf("baseurl:      %s\n", r->baseurl);
	printf("signed:       %s\n", r->signing_key ? r->signing_key : "no");
	printf("auto publish: %s\n", r->publish_trees ? r->publish_trees : "none (vmctl publish)");
	printf("packages:     %zu live, %llu bytes\n", nlive, (unsigned long long)bytes);
	for (size_t i = 0; i < nlive; i++)
		printf("  %s\n", live[i].file_name);
	printf("publishes:    %s\n", npubs ? "" : "none");
	for (size_t i = 0; i < npubs; i++) {
		char t[32];
		mf_rfc3339(pubs[i]->created, t);
		printf("  %-5lld %s run %-5lld %-8s %s%s\n", (long long)pubs[i]->id, t,
		       (long long)pubs[i]->buildrun, pubs[i]->state,
		       pubs[i]->repo_sha256 ? pubs[i]->repo_sha256 : "",
		       pubs[i]->error ? pubs[i]->error : "");
	}
out:
	published_pkgs_free(live, nlive);
	publishes_list_free(pubs, npubs);
	vmctl_close(env);
	return status;
}
