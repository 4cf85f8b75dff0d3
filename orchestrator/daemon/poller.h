/*
 * poller.h - mayflyd's update mode: every poll_interval seconds, each ports
 * tree is fetched (a failed fetch keeps its last good state and is logged);
 * for a tree with an update image, a new head queues a build of each port
 * the commits since the last processed one changed, and of each port
 * whose update build failed since (ports/update.h), at the new head, as
 * builds of source "update"; then the head counts as processed. A tree's
 * first poll records its head as processed and builds nothing.
 */
#ifndef MAYFLY_POLLER_H
#define MAYFLY_POLLER_H

struct mf_config;
struct mf_state;
struct poller;
struct scheduler;

/* One tree fetched and updated now, as a poll does (a push webhook). */
void poller_update_tree(struct mf_state *st, const struct mf_config *cfg,
			struct scheduler *sched, const char *tree);

/* Starts the poller thread (none when poll_interval is 0: *out is NULL). */
int poller_start(struct poller **out, const struct mf_config *cfg, struct scheduler *sched);
/* Stops it (a fetch under way finishes first) and frees p; p may be NULL. */
void poller_stop(struct poller *p);

#endif
