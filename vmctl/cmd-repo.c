/*
 * cmd-repo.c - vmctl repo import|list|rm: existing Haiku package
 * repositories whose packages builds may be given (the package index,
 * store/pkgindex.h), so an operator starts from today's repository
 * instead of rebuilding every port.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/names.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "store/pkgindex.h"
#include "store/state.h"
#include "vmctl/vmctl.h"

static int is_url(const char *s)
{
	return !strncmp(s, "https://", 8) || !strncmp(s, "http://", 7);
}

int cmd_repo_import(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	enum { O_HPKR = 256, O_PACKAGES };
	static const struct option opts[] = {
		{ "hpkr", required_argument, NULL, O_HPKR },
		{ "packages", required_argument, NULL, O_PACKAGES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char help[] =
		"  --hpkr FILE             the repository file (HaikuPorts publishes it as 'repo')\n"
		"  --packages DIR|URL      where its .hpkg files are (a directory, or the\n"
		"                          repository's packages/ URL)\n";
	const char *hpkr = NULL, *packages = NULL, *name;
	struct vmctl_env *env = NULL;
	struct hpkg_file f = { 0 };
	char sha[SHA256_HEX_LEN], **locs = NULL, *base = NULL;
	int c, status = 0;
	size_t present = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_HPKR: hpkr = optarg; break;
		case O_PACKAGES: packages = optarg; break;
		case 'h': return vmctl_help(cmd, help);
		default: return vmctl_usage(cmd, "unknown option");
		}
	}
	if (optind + 1 != argc)
		return vmctl_usage(cmd, "expected one repository name");
	name = argv[optind];
	if (!hpkr || !packages)
		return vmctl_usage(cmd, "--hpkr and --packages are required");
	if (name_check_repo(name) < 0)
		return vmctl_fail();
	if (is_url(packages)) {
		base = xstrdup(packages);
		size_t n = strlen(base);
		while (n > 0 && base[n - 1] == '/')
			base[--n] = '\0';
	} else {
		struct stat st;
		if (stat(packages, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "vmctl: --packages '%s' is neither a directory nor an "
					"http(s) URL\n", packages);
			return 2;
		}
		base = mf_realpath(packages);
		if (!base)
			return vmctl_fail();
	}
	if (hpkg_read_file(hpkr, &f) < 0 || sha256_file(hpkr, sha, NULL) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (f.kind != HPKG_REPOSITORY) {
		fprintf(stderr, "vmctl: '%s' is a package, not a repository file\n", hpkr);
		status = 2;
		goto out;
	}
	locs = xcalloc(f.n_pkgs + 1, sizeof(*locs));
	for (size_t i = 0; i < f.n_pkgs; i++) {
		char *file = hpkg_file_name(&f.pkgs[i]);
		if (package_file_check(file) < 0) {
			mf_error_wrap("%s, package %zu", hpkr, i + 1);
			free(file);
			status = vmctl_fail();
			goto out;
		}
		locs[i] = xasprintf("%s/%s", base, file);
		if (!is_url(base) && access(locs[i], R_OK) == 0)
			present++;
		free(file);
	}
	struct pkg_repo r = { .name = (char *)name, .hpkr_sha256 = sha, .packages = base };
	if (vmctl_open(&env) < 0 ||
	    pkgindex_import_repo(env->state->db, &r, f.pkgs, f.n_pkgs, locs) < 0) {
		status = vmctl_fail();
		goto out;
	}
	printf("repository '%s': %zu packages indexed from %s\n", name, f.n_pkgs, hpkr);
	if (!is_url(base))
		printf("  %zu of them are in %s%s\n", present, base,
		       present < f.n_pkgs ? " (the others fail the builds that need them)" : "");
out:
	mf_strv_free(locs);
	hpkg_file_release(&f);
	free(base);
	vmctl_close(env);
	return status;
}

int cmd_repo_list(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmctl_env *env = NULL;
	struct pkg_repo *v = NULL;
	size_t n = 0;
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
		return c == 'h' ? vmctl_help(cmd, NULL) : vmctl_usage(cmd, "unknown option");
	if (optind != argc)
		return vmctl_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (vmctl_open(&env) < 0 || pkgindex_repos(env->state->db, &v, &n) < 0) {
		status = vmctl_fail();
		goto out;
	}
	if (n == 0)
		printf("no repositories (import one with 'vmctl repo import')\n");
	else
		printf("%-16s %8s %-20s %s\n", "NAME", "PACKAGES", "IMPORTED", "PACKAGES FROM");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		mf_rfc3339(v[i].imported, when);
		printf("%-16s %8lld %-20s %s\n", v[i].name, (long long)v[i].npackages, when,
		       v[i].packages);
	}
out:
	for (size_t i = 0; i < n; i++)
		pkg_repo_free(&v[i]);
	free(v);
	vmctl_close(env);
	return status;
}

int cmd_repo_rm(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	struct vmctl_env *env = NULL;
	int status = 0;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return vmctl_help(cmd, NULL);
	if (argc != 2)
		return vmctl_usage(cmd, "expected one repository name");
	if (vmctl_open(&env) < 0 || pkgindex_remove_repo(env->state->db, argv[1]) < 0)
		status = vmctl_fail();
	else
		printf("repository '%s' removed from the package index\n", argv[1]);
	vmctl_close(env);
	return status;
}
