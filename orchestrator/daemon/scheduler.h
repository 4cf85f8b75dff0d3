/*
 * scheduler.h - mayflyd's workers: max_vms threads that each claim the next
 * queued build (queue.h), run one attempt of it (pipeline.h) and decide
 * what comes next: finished, or queued again after an infrastructure
 * failure while attempts remain (infra_retries). Never more than max_vms
 * machines run at once: one worker, one machine.
 *
 * Each worker has its own state database connection and libvirt connection.
 * A monitor thread forwards cancel requests (from the API or vmctl) to the
 * worker running the build, within half a second.
 */
#ifndef MAYFLY_SCHEDULER_H
#define MAYFLY_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

struct mf_config;
struct report_warm;
struct scheduler;

/* Starts the workers; cfg is copied. */
int scheduler_start(struct scheduler **out, const struct mf_config *cfg);
/* New work may be queued: wake an idle worker. */
void scheduler_wake(struct scheduler *s);
/* Asks the worker running build id (if any here) to stop it at once. */
void scheduler_cancel(struct scheduler *s, int64_t id);
/* Builds running now. */
int scheduler_running(struct scheduler *s);
/* The warm pool's machines per image (daemon/warm.h); caller frees *out. */
int scheduler_warm(struct scheduler *s, struct report_warm **out, size_t *n);
/* 1 while the pool's free disk is under disk_reserve_mb (no machine starts). */
int scheduler_disk_low(struct scheduler *s);
/* Claims no more builds; running ones go on (mayflyd --drain). */
void scheduler_drain(struct scheduler *s);
/*
 * Stops: no more claims; running builds are interrupted and queued again
 * for the next start, or, with drain, finished first. Joins every thread
 * and frees s.
 */
void scheduler_stop(struct scheduler *s, int drain);

#endif
