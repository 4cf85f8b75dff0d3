/*
 * status.h - build runs as buildmaster's web frontend reads them
 * (HaikuPorter's bm/frontend, unchanged): status.json and records/<n>.json,
 * in buildmaster's schema (HaikuPorter's ReporterJson.py). Mayfly's
 * machine slots are buildmaster's "builders".
 */
#ifndef MAYFLY_JSON_STATUS_H
#define MAYFLY_JSON_STATUS_H

#include <stdint.h>

#include "store/buildruns.h"

/*
 * status.json of run r: origin_url is the tree's web address (the
 * frontend links commits and recipes under it), next_build the number the
 * next build will get.
 */
char *report_buildrun_status(const struct buildrun *r, const char *origin_url,
			     int64_t next_build);
/* records/<n>.json of port p's build n: start (epoch seconds), duration (s). */
char *report_buildrun_record(const struct br_port *p, int64_t build, double start,
			     double duration);
/* vmctl buildrun list/show --json and the API: Mayfly's own view of runs. */
char *report_buildrun_json(const struct buildrun *r);
char *report_buildruns_json(struct buildrun *const *v, size_t n);

#endif
