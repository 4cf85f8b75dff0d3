/*
 * warm.h - mayflyd's warm pool: for each image whose `warm` setting is N,
 * up to N machines brought up ahead of demand (restored from a snapshot
 * when the image has one, booted otherwise), logged in with the pinned host
 * key, each handed to exactly one build and destroyed after it like any
 * build machine. A ready machine older than warm_ttl is replaced.
 *
 * Pool machines count against max_vms. The pool starts a machine only
 * when no build waits in the queue and running builds plus ready and
 * starting machines stay under max_vms; a build that finds no room (all
 * of it held by the pool) takes the room of a ready machine of another
 * image, or waits for the one starting. One machine starts at a time.
 *
 * The pool has its own thread, state database connection and libvirt
 * connection; a machine handed out keeps using that libvirt connection
 * (libvirt's connections are thread-safe) and takes the build's database
 * connection. A machine found stopped when a build asks is destroyed and
 * the build brings its own up. Its resources are in the ledger like any machine's, so a
 * mayflyd killed with -9 leaves nothing that reconcile does not remove.
 */
#ifndef MAYFLY_WARM_H
#define MAYFLY_WARM_H

#include <stdatomic.h>
#include <stddef.h>

struct db;
struct machine;
struct mf_config;
struct report_warm;
struct warm_pool;

/*
 * Starts the pool's thread. running() says how many builds hold a machine
 * slot now (the scheduler's count, including a build about to take one);
 * while paused() says so (disk low, draining), no machine is started.
 */
int warm_start(struct warm_pool **out, const struct mf_config *cfg,
	       int (*running)(void *arg), int (*paused)(void *arg), void *arg);
/*
 * A ready machine of image for a build, or NULL (see above; also when
 * *cancel is set while it waits for a machine starting). db is the
 * caller's connection: the machine uses it from now on, and so does the
 * destruction of a machine whose room the build takes.
 */
struct machine *warm_take(struct warm_pool *p, const char *image, struct db *db,
			  atomic_int *cancel);
/* Something changed (a build ended): look at the pool now. */
void warm_kick(struct warm_pool *p);
/* Per image: ready and starting machines (caller frees *out). */
int warm_counts(struct warm_pool *p, struct report_warm **out, size_t *n);
/*
 * Stops the thread and destroys every machine in the pool; warm_take()
 * returns NULL from then on. Machines handed out still use the pool's
 * libvirt connection: warm_free() (which halts first) only after the
 * builds that took them have ended.
 */
void warm_halt(struct warm_pool *p);
void warm_free(struct warm_pool *p);

#endif
