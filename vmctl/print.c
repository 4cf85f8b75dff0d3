/* print.c - how vmctl shows a build (from the database or from mayflyd). */
#include <stdio.h>
#include <string.h>

#include "store/builds.h"
#include "common/util.h"
#include "vmctl/vmctl.h"

int vmctl_status_exit(const char *status)
{
	enum build_status s;

	/* accepted, queued: not over, like running. */
	return build_status_parse(status, &s) < 0 ? 0 : build_status_exit_code(s);
}

void vmctl_print_record(FILE *fp, const struct build_record *r)
{
	char when[32], d[32];

	fprintf(fp, "build %lld: %s (image %s: %s)", (long long)r->id, r->status, r->image,
		r->recipes ? r->recipes : "");
	if (r->attempts > 1)
		fprintf(fp, ", %d attempts", r->attempts);
	fputc('\n', fp);
	if (r->created) {
		mf_rfc3339(r->created, when);
		fprintf(fp, "    submitted %s", when);
		if (r->finished && r->started) {
			mf_format_duration((r->finished - r->started) * 1000, d);
			fprintf(fp, ", ran %s", d);
		}
		fputc('\n', fp);
	}
	if (r->nphases) {
		fprintf(fp, "    phases:");
		for (size_t i = 0; i < r->nphases; i++) {
			mf_format_duration(r->phases[i].duration_ms, d);
			fprintf(fp, "%s %s %s", i ? "," : "", r->phases[i].name, d);
		}
		fputc('\n', fp);
	}
	if (r->error)
		fprintf(fp, "    error: %s\n", r->error);
	for (size_t i = 0; i < r->ntries; i++)
		if (r->tries[i].error && r->ntries > 1)
			fprintf(fp, "    attempt %d: %s: %s\n", r->tries[i].n, r->tries[i].status,
				r->tries[i].error);
	for (size_t i = 0; i < r->npackages; i++) {
		char size[32];
		mf_format_size(r->packages[i].size, size);
		fprintf(fp, "    %s  %s  sha256 %s\n", r->packages[i].path, size,
			r->packages[i].sha256);
	}
	if (r->log_path)
		fprintf(fp, "    log: %s\n", r->log_path);
}
