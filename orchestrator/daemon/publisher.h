/*
 * publisher.h - mayflyd's publishing thread: every few seconds it resumes
 * publishes that have not ended (one interrupted by a crash or an S3
 * outage) and publishes update runs that ended to the repositories whose
 * publish_trees name their tree (publish/publish.h), in a daemon/ticker.h
 * thread, so a slow upload never holds up the queue's workers.
 */
#ifndef MAYFLY_PUBLISHER_H
#define MAYFLY_PUBLISHER_H

struct mf_config;
struct publisher;

/* Starts the thread (none when no repository is configured: *out is NULL). */
int publisher_start(struct publisher **out, const struct mf_config *cfg);
/* Stops it (a publish under way goes on to its end first) and frees p; p
 * may be NULL. */
void publisher_stop(struct publisher *p);

#endif
