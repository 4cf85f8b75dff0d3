/*
 * ticker.h - a background thread of mayflyd that does one round of work,
 * then waits, until it is stopped (the tree poller, the publisher). It has
 * its own copy of the settings and its own state connection, so it never
 * holds up the queue's workers; stopping waits for the round under way.
 */
#ifndef MAYFLY_TICKER_H
#define MAYFLY_TICKER_H

struct mf_config;
struct mf_state;
struct ticker;

/* One round: returns the seconds to wait before the next. */
typedef int (*ticker_round)(struct ticker *t, struct mf_state *st, const struct mf_config *cfg,
			    void *arg);

/* Starts a thread running round(); what names it in messages. */
int ticker_start(struct ticker **out, const char *what, const struct mf_config *cfg,
		 ticker_round round, void *arg);
/* 1 once ticker_stop() was called: a long round may end early. */
int ticker_stopping(struct ticker *t);
/* Stops it and frees t; t may be NULL. */
void ticker_stop(struct ticker *t);

#endif
