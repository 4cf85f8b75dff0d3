/* cmd-tree.c - vmctl tree add, list, show, sync, rm: ports trees at exact commits. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/names.h"
#include "common/util.h"
#include "json/report.h"
#include "ports/tree.h"
#include "store/state.h"
#include "store/trees.h"
#include "vmctl/vmctl.h"

static const char add_help[] =
	"  --branch NAME             the branch builds and updates follow (default: master)\n"
	"  --ssh-key FILE            private key for an ssh:// or user@host: URL\n"
	"  --token-file FILE         a file holding an HTTPS token (used as the password)\n"
	"  --packager 'NAME <MAIL>'  PACKAGER of builder.conf\n"
	"                            (default: " TREE_DEFAULT_PACKAGER ")\n"
	"  --allow-untested          build ports marked ?ARCH (ALLOW_UNTESTED)\n"
	"  --allow-unsafe-sources    ALLOW_UNSAFE_SOURCES\n"
	"  --create-source-packages  CREATE_SOURCE_PACKAGES\n"
	"  --update-image IMAGE      mayflyd builds the ports each new commit changes on IMAGE\n"
	"                            (update mode; without it mayflyd only fetches the tree)\n"
	"  --json                    print the new tree as JSON\n"
	"URL: https://, http://, ssh://, git://, user@host:path, or a local repository's path.\n";

static void print_tree(const struct tree *t, const struct tree_retry *r, size_t nr)
{
	char fetched[32] = "never";

	if (t->fetched)
		mf_rfc3339(t->fetched, fetched);
	printf("name:        %s\n"
	       "url:         %s\n"
	       "branch:      %s\n"
	       "head:        %s\n"
	       "fetched:     %s\n",
	       t->name, t->url, t->branch, t->head ? t->head : "(none)", fetched);
	if (t->fetch_error)
		printf("last fetch:  FAILED: %s\n", t->fetch_error);
	printf("processed:   %s\n"
	       "updates on:  %s\n"
	       "credentials: %s\n"
	       "packager:    %s\n"
	       "builder.conf: ALLOW_UNTESTED=%s ALLOW_UNSAFE_SOURCES=%s CREATE_SOURCE_PACKAGES=%s\n",
	       t->processed ? t->processed : "(nothing yet)",
	       t->update_image ? t->update_image : "(none: mayflyd only fetches)",
	       t->credentials ? t->credentials : "none", t->packager,
	       t->allow_untested ? "yes" : "no", t->allow_unsafe_sources ? "yes" : "no",
	       t->create_source_packages ? "yes" : "no");
	if (t->forge)
		printf("forge:       %s %s at %s\n"
		       "webhooks:    POST /api/v1/hooks/%s/%s, secret in %s\n"
		       "statuses:    %s, context %s\n",
		       t->forge, t->forge_repo, t->forge_api_url, t->forge, t->name,
		       t->webhook_secret_file,
		       t->forge_token_file ? t->forge_token_file : "none (no token file)",
		       t->status_context ? t->status_context : "mayfly/ARCH (the image's)");
	for (size_t i = 0; i < nr; i++)
		printf("%s %s failed at %.12s (build %lld): %s\n", i ? "            " : "retry:      ",
		       r[i].port, r[i].commit, (long long)r[i].build_id,
		       r[i].reason ? r[i].reason : "");
}

int cmd_tree_add(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	enum { O_BRANCH = 256, O_KEY, O_TOKEN, O_PACKAGER, O_UNTESTED, O_UNSAFE, O_SRCPKG,
	       O_JSON, O_UPDATE };
	static const struct option opts[] = {
		{ "branch", required_argument, NULL, O_BRANCH },
		{ "ssh-key", required_argument, NULL, O_KEY },
		{ "token-file", required_argument, NULL, O_TOKEN },
		{ "packager", required_argument, NULL, O_PACKAGER },
		{ "allow-untested", no_argument, NULL, O_UNTESTED },
		{ "allow-unsafe-sources", no_argument, NULL, O_UNSAFE },
		{ "create-source-packages", no_argument, NULL, O_SRCPKG },
		{ "update-image", required_argument, NULL, O_UPDATE },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tree_add_opts o = { 0 };
	struct vmctl_env *env = NULL;
	struct tree *t = NULL;
	int c, json = 0, status = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_BRANCH: o.branch = optarg; break;
		case O_KEY: o.ssh_key = optarg; break;
		case O_TOKEN: o.token_file = optarg; break;
		case O_PACKAGER: o.packager = optarg; break;
		case O_UNTESTED: o.allow_untested = 1; break;
		case O_UNSAFE: o.allow_unsafe_sources = 1; break;
		case O_SRCPKG: o.create_source_packages = 1; break;
		case O_UPDATE: o.update_image = optarg; break;
		case O_JSON: json = 1; break;
		case 'h': return vmctl_help(cmd, add_help);
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 2)
		return vmctl_usage(cmd, "expected NAME and URL");
	o.name = argv[optind];
	o.url = argv[optind + 1];
	if (vmctl_open(&env) < 0 || tree_add(env->state, &o, &t) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_tree_json(t, NULL, 0);
		fputs(s, stdout);
		free(s);
	} else {
		printf("tree '%s' added: %s at %s\n", t->name, t->branch, t->head);
	}
out:
	tree_free(t);
	vmctl_close(env);
	return status;
}

int cmd_tree_list(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct tree **v = NULL;
	size_t n = 0;
	int json, status = 0;

	if (vmctl_json_flag(cmd, argc, argv, &json, &status) < 0)
		return status;
	if (optind != argc)
		return vmctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (vmctl_open(&env) < 0 || trees_list(env->state->db, &v, &n) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_trees_json(v, n);
		fputs(s, stdout);
		free(s);
	} else if (n == 0) {
		printf("no trees (add one with 'vmctl tree add NAME URL')\n");
	} else {
		printf("%-16s %-10s %-12s %-20s %s\n", "NAME", "BRANCH", "HEAD", "FETCHED", "URL");
		for (size_t i = 0; i < n; i++) {
			char when[32] = "never";
			if (v[i]->fetched)
				mf_rfc3339(v[i]->fetched, when);
			printf("%-16s %-10s %-12.12s %-20s %s%s\n", v[i]->name, v[i]->branch,
			       v[i]->head ? v[i]->head : "-", when, v[i]->url,
			       v[i]->fetch_error ? "  (last fetch failed)" : "");
		}
	}
out:
	trees_list_free(v, n);
	vmctl_close(env);
	return status;
}

int cmd_tree_show(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct tree *t = NULL;
	struct tree_retry *r = NULL;
	size_t nr = 0;
	int json, status = 0;

	if (vmctl_json_flag(cmd, argc, argv, &json, &status) < 0)
		return status;
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one tree name");
	if (vmctl_open(&env) < 0 || trees_get(env->state->db, argv[optind], &t) < 0 ||
	    trees_retries(env->state->db, t->name, &r, &nr) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (json) {
		char *s = report_tree_json(t, r, nr);
		fputs(s, stdout);
		free(s);
	} else {
		print_tree(t, r, nr);
	}
out:
	tree_retries_free(r, nr);
	tree_free(t);
	vmctl_close(env);
	return status;
}

/* tree sync and tree rm: a name and nothing else. */
static int named_tree(const struct vmctl_cmd *cmd, int argc, char **argv, const char **name)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return c == 'h' ? vmctl_help(cmd, NULL) : vmctl_usage(cmd, "unknown option");
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one tree name");
	*name = argv[optind];
	return -1;
}

int cmd_tree_sync(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	struct tree *t = NULL;
	const char *name = NULL;
	int status = named_tree(cmd, argc, argv, &name);

	if (status >= 0)
		return status;
	status = 0;
	if (vmctl_open(&env) < 0 || tree_sync(env->state, name, &t) < 0)
		status = vmctl_fail();
	else
		printf("tree '%s': %s at %s\n", t->name, t->branch, t->head);
	tree_free(t);
	vmctl_close(env);
	return status;
}

int cmd_tree_rm(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	const char *name = NULL;
	int status = named_tree(cmd, argc, argv, &name);

	if (status >= 0)
		return status;
	status = 0;
	if (vmctl_open(&env) < 0 || tree_remove(env->state, name) < 0)
		status = vmctl_fail();
	else
		printf("tree '%s' removed\n", name);
	vmctl_close(env);
	return status;
}

/* A secret's file: absolute, readable, and by its owner only. */
static int secret_file_check(const char *opt, const char *path)
{
	struct stat sb;

	if (*path != '/')
		return mf_error(MF_E_USAGE, "%s '%s' must be an absolute path", opt, path);
	if (stat(path, &sb) < 0)
		return mf_error_errno(MF_E_USAGE, "%s '%s'", opt, path);
	if (sb.st_mode & 077)
		return mf_error(MF_E_USAGE, "%s '%s' can be read by others: chmod 600 it", opt,
				path);
	return 0;
}

/* A webhook secret signs every request: a short one is guessed (an empty one
 * signs anything). Its trailing newline does not count. */
static int webhook_secret_check(const char *path)
{
	char *s = NULL;
	size_t len = 0;

	if (secret_file_check("--webhook-secret-file", path) < 0 ||
	    mf_read_file(path, 4096, &s, &len) < 0)
		return -1;
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	explicit_bzero(s, len);
	free(s);
	if (len < 16)
		return mf_error(MF_E_USAGE, "--webhook-secret-file '%s' holds a secret of %zu bytes: "
				"use at least 16 (openssl rand -hex 32 > FILE)", path, len);
	return 0;
}

int cmd_tree_set(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	enum { O_UPDATE = 256, O_NO_UPDATE, O_FORGE, O_NO_FORGE, O_REPO, O_API, O_TOKEN, O_SECRET,
	       O_CONTEXT };
	static const struct option opts[] = {
		{ "update-image", required_argument, NULL, O_UPDATE },
		{ "no-update-image", no_argument, NULL, O_NO_UPDATE },
		{ "forge", required_argument, NULL, O_FORGE },
		{ "no-forge", no_argument, NULL, O_NO_FORGE },
		{ "forge-repo", required_argument, NULL, O_REPO },
		{ "forge-api", required_argument, NULL, O_API },
		{ "forge-token-file", required_argument, NULL, O_TOKEN },
		{ "webhook-secret-file", required_argument, NULL, O_SECRET },
		{ "status-context", required_argument, NULL, O_CONTEXT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char help[] =
		"  --update-image IMAGE  mayflyd builds the ports each new commit changes on IMAGE\n"
		"                        (and pull requests' ports, with --forge)\n"
		"  --no-update-image     mayflyd only fetches the tree\n"
		"  --forge github|gitlab the forge that sends webhooks and gets commit statuses\n"
		"  --forge-repo REPO     owner/name (GitLab: the project's path or id)\n"
		"  --forge-api URL       default https://api.github.com, https://gitlab.com/api/v4\n"
		"  --webhook-secret-file FILE  GitHub's webhook secret, GitLab's token (mode 600)\n"
		"  --forge-token-file FILE     the token statuses are posted with (mode 600)\n"
		"  --status-context NAME default mayfly/ARCH\n"
		"  --no-forge            no webhooks, no statuses\n";
	struct vmctl_env *env = NULL;
	const char *image = NULL;
	struct tree_forge f = { 0 };
	int c, none = 0, noforge = 0, status = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_UPDATE: image = optarg; break;
		case O_NO_UPDATE: none = 1; break;
		case O_FORGE: f.forge = optarg; break;
		case O_NO_FORGE: noforge = 1; break;
		case O_REPO: f.repo = optarg; break;
		case O_API: f.api_url = optarg; break;
		case O_TOKEN: f.token_file = optarg; break;
		case O_SECRET: f.webhook_secret_file = optarg; break;
		case O_CONTEXT: f.context = optarg; break;
		case 'h': return vmctl_help(cmd, help);
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (argc - optind != 1)
		return vmctl_usage(cmd, "expected one tree name");
	int forge_opts = f.forge || f.repo || f.api_url || f.token_file ||
			 f.webhook_secret_file || f.context;
	if (image && none)
		return vmctl_usage(cmd, "give --update-image IMAGE or --no-update-image, not both");
	if (noforge && forge_opts)
		return vmctl_usage(cmd, "--no-forge takes no other forge option");
	if (!image && !none && !noforge && !forge_opts)
		return vmctl_usage(cmd, "nothing to set");
	if (forge_opts) {
		if (!f.forge || (strcmp(f.forge, "github") && strcmp(f.forge, "gitlab")))
			return vmctl_usage(cmd, "--forge must be github or gitlab");
		if (!f.repo || !f.webhook_secret_file)
			return vmctl_usage(cmd, "--forge needs --forge-repo and --webhook-secret-file");
		if (!f.api_url)
			f.api_url = !strcmp(f.forge, "github") ? "https://api.github.com" :
								 "https://gitlab.com/api/v4";
		if (strncmp(f.api_url, "https://", 8) && strncmp(f.api_url, "http://", 7))
			return vmctl_usage(cmd, "--forge-api must be an http(s) URL");
		if (strspn(f.repo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				   "-_./") != strlen(f.repo) || !*f.repo || strstr(f.repo, ".."))
			return vmctl_usage(cmd, "--forge-repo '%s': letters, digits, '-_./' only",
					   f.repo);
		if (f.context && shell_words_check("--status-context", f.context) < 0)
			return vmctl_fail();
		if (webhook_secret_check(f.webhook_secret_file) < 0 ||
		    (f.token_file && secret_file_check("--forge-token-file", f.token_file) < 0))
			return vmctl_fail();
	}
	if (vmctl_open(&env) < 0) {
		status = vmctl_fail();
		goto out;
	}
	const char *name = argv[optind];
	if ((image || none) && tree_set_update_image(env->state, name, image) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if ((forge_opts || noforge) && trees_set_forge(env->state->db, name, &f) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (image)
		printf("tree '%s': mayflyd builds its updates on image '%s'\n", name, image);
	else if (none)
		printf("tree '%s': mayflyd only fetches it\n", name);
	if (forge_opts)
		printf("tree '%s': webhooks from %s at POST /api/v1/hooks/%s/%s; statuses to %s%s\n",
		       name, f.forge, f.forge, name, f.api_url,
		       f.token_file ? "" : " (none: no --forge-token-file)");
	else if (noforge)
		printf("tree '%s': no webhooks, no statuses\n", name);
out:
	vmctl_close(env);
	return status;
}
