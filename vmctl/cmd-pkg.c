/*
 * cmd-pkg.c - vmctl pkg info: what Haiku package (.hpkg) and repository
 * (.hpkr) files hold, read by Mayfly's own reader (pkg/hpkg.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "json/report.h"
#include "pkg/hpkg.h"
#include "vmctl/vmctl.h"

static void print_package(const struct hpkg_info *p, const char *path)
{
	char *file = hpkg_file_name(p);

	printf("%s  (%s)\n", file, path);
	printf("  name:       %s\n  version:    %s\n  arch:       %s\n", p->name, p->version,
	       p->arch);
	if (*p->summary)
		printf("  summary:    %s\n", p->summary);
	if (*p->vendor)
		printf("  vendor:     %s\n", p->vendor);
	if (*p->packager)
		printf("  packager:   %s\n", p->packager);
	if (p->base_package)
		printf("  base:       %s\n", p->base_package);
	if (p->checksum)
		printf("  sha256:     %s\n", p->checksum);
	for (size_t i = 0; i < p->n_provides; i++) {
		const struct hpkg_provide *v = &p->provides[i];
		printf("  %-11s %s", i ? "" : "provides:", v->name);
		if (v->version)
			printf(" = %s", v->version);
		if (v->compat)
			printf(" compat >= %s", v->compat);
		putchar('\n');
	}
	for (size_t i = 0; i < p->n_requires; i++) {
		const struct hpkg_require *r = &p->requires[i];
		printf("  %-11s %s", i ? "" : "requires:", r->name);
		if (r->version)
			printf(" %s %s", hpkg_op_name(r->op), r->version);
		putchar('\n');
	}
	free(file);
}

int cmd_pkg_info(const struct vmctl_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hpkg_file *files;
	int c, json = 0, status = 0;
	size_t n, done = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j') {
			json = 1;
			continue;
		}
		return c == 'h' ? vmctl_help(cmd, "  --json   print JSON: one object per package\n") :
				  vmctl_usage(cmd, "unknown option");
	}
	if (optind == argc)
		return vmctl_usage(cmd, "no file given");
	n = (size_t)(argc - optind);
	files = xcalloc(n, sizeof(*files));
	/* Every file is read before anything is printed: one bad file, no output. */
	for (; done < n; done++)
		if (hpkg_read_file(argv[optind + done], &files[done]) < 0) {
			status = vmctl_fail();
			goto out;
		}
	if (json) {
		char *s = report_packages_json(files, argv + optind, n);
		fputs(s, stdout);
		free(s);
	} else {
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < files[i].n_pkgs; k++) {
				if (i || k)
					putchar('\n');
				print_package(&files[i].pkgs[k], argv[optind + i]);
			}
	}
out:
	for (size_t i = 0; i < done; i++)
		hpkg_file_release(&files[i]);
	free(files);
	return status;
}
