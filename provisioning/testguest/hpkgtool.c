/*
 * hpkgtool.c - the test guest's package tool (built statically into the
 * guest by make-testguest.sh, from Mayfly's own pkg/ reader and writer).
 * The guest's haikuporter stand-in uses it to make real .hpkg files and to
 * check a recipe's BUILD_REQUIRES against the packages it was given.
 *
 *   hpkgtool write OUT --name N --version V --arch A [--summary S]
 *                      [--description TEXT] [--packager P]
 *                      [--provides TEXT]... [--requires TEXT]...
 *   hpkgtool unmet DIR REQUIREMENT...   prints each requirement no .hpkg in
 *                                       DIR meets; exit 1 if there is one
 *   hpkgtool info FILE                  "name version arch"
 *
 * Not part of Mayfly's product: a test fixture.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "pkg/hpkg.h"
#include "pkg/hpkg_write.h"
#include "pkg/resolvable.h"

static int fail(void)
{
	fprintf(stderr, "hpkgtool: %s\n", mf_error_msg());
	return 2;
}

static int cmd_write(int argc, char **argv)
{
	struct hpkg_info p = { .summary = "", .description = "", .vendor = "", .packager = "" };
	const char *out = argv[0];
	unsigned char *buf;
	size_t len;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *o = argv[i], *v = argv[i + 1];
		if (!strcmp(o, "--name"))
			p.name = (char *)v;
		else if (!strcmp(o, "--version"))
			p.version = (char *)v;
		else if (!strcmp(o, "--arch"))
			p.arch = (char *)v;
		else if (!strcmp(o, "--summary"))
			p.summary = (char *)v;
		else if (!strcmp(o, "--description"))
			p.description = (char *)v;
		else if (!strcmp(o, "--packager"))
			p.packager = (char *)v;
		else if (!strcmp(o, "--provides")) {
			p.provides = xrealloc(p.provides, (p.n_provides + 1) * sizeof(*p.provides));
			if (provide_parse(v, &p.provides[p.n_provides++]) < 0)
				return fail();
		} else if (!strcmp(o, "--requires")) {
			struct requirement r;
			if (requirement_parse(v, &r) < 0)
				return fail();
			p.requires = xrealloc(p.requires, (p.n_requires + 1) * sizeof(*p.requires));
			p.requires[p.n_requires++] =
				(struct hpkg_require){ .name = r.name, .op = r.op, .version = r.version };
		} else {
			fprintf(stderr, "hpkgtool write: unknown option %s\n", o);
			return 2;
		}
	}
	if (!p.name || !p.version || !p.arch) {
		fprintf(stderr, "hpkgtool write: --name, --version and --arch are required\n");
		return 2;
	}
	if (hpkg_write_package(&p, &buf, &len) < 0)
		return fail();
	FILE *fp = fopen(out, "wb");
	if (!fp || fwrite(buf, 1, len, fp) != len || fclose(fp) != 0) {
		perror(out);
		return 2;
	}
	free(buf);
	return 0;
}

static int cmd_unmet(int argc, char **argv)
{
	struct hpkg_file *files = NULL;
	size_t n = 0;
	DIR *d = opendir(argv[0]);
	struct dirent *e;
	int unmet = 0;

	if (!d) {
		perror(argv[0]);
		return 2;
	}
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".hpkg"))
			continue;
		char *path = xasprintf("%s/%s", argv[0], e->d_name);
		files = xrealloc(files, (n + 1) * sizeof(*files));
		if (hpkg_read_file(path, &files[n]) < 0) {
			fprintf(stderr, "hpkgtool: %s\n", mf_error_msg());
			free(path);
			continue;
		}
		n++;
		free(path);
	}
	closedir(d);
	for (int i = 1; i < argc; i++) {
		struct requirement r;
		int met = 0;
		if (requirement_parse(argv[i], &r) < 0)
			return fail();
		for (size_t k = 0; k < n && !met; k++)
			for (size_t j = 0; j < files[k].pkgs[0].n_provides && !met; j++) {
				const struct hpkg_provide *p = &files[k].pkgs[0].provides[j];
				met = !strcmp(p->name, r.name) && requirement_met_by(&r, p);
			}
		if (!met) {
			printf("%s\n", argv[i]);
			unmet = 1;
		}
		requirement_release(&r);
	}
	return unmet;
}

static int cmd_info(const char *path)
{
	struct hpkg_file f;

	if (hpkg_read_file(path, &f) < 0)
		return fail();
	printf("%s %s %s\n", f.pkgs[0].name, f.pkgs[0].version, f.pkgs[0].arch);
	hpkg_file_release(&f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "write"))
		return cmd_write(argc - 2, argv + 2);
	if (argc >= 3 && !strcmp(argv[1], "unmet"))
		return cmd_unmet(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "info"))
		return cmd_info(argv[2]);
	fprintf(stderr, "usage: hpkgtool write OUT --name N --version V --arch A [...]\n"
			"       hpkgtool unmet DIR REQUIREMENT...\n"
			"       hpkgtool info FILE\n");
	return 2;
}
