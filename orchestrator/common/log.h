/*
 * log.h - process messages (stderr) and per-build log files.
 *
 * Process messages follow OpenBSD's log.c: log_warn appends strerror(errno),
 * log_warnx does not; log_debug prints only when verbose.
 *
 * A build log is a plain text file: the guest's output as it came, and
 * Mayfly's own events on lines that start with "[mayfly HH:MM:SS.mmm]".
 */
#ifndef MAYFLY_LOG_H
#define MAYFLY_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

void log_init(const char *progname, int verbose);
int log_verbose(void);
void log_warn(const char *fmt, ...) MF_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) MF_PRINTF(1, 2);
void log_info(const char *fmt, ...) MF_PRINTF(1, 2);
void log_debug(const char *fmt, ...) MF_PRINTF(1, 2);

struct buildlog;

/* Creates (or, with append, appends to) the log file; the caller owns it. */
int buildlog_open(struct buildlog **out, const char *path, int append);
void buildlog_close(struct buildlog *bl);
/* One event line, timestamped; also sent to log_debug. */
void buildlog_event(struct buildlog *bl, const char *fmt, ...) MF_PRINTF(2, 3);
/*
 * Caps the guest output written through this handle (0: no cap), so that
 * a guest cannot fill the host's disk with its log.
 */
void buildlog_limit(struct buildlog *bl, uint64_t max_bytes);
/*
 * Raw guest output. Returns -1 once the cap is reached: what fits is
 * written, then one event line says the rest was dropped.
 */
int buildlog_output(struct buildlog *bl, const char *data, size_t len);
const char *buildlog_path(const struct buildlog *bl);

#endif
