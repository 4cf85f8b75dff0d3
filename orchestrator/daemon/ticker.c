/* ticker.c - see ticker.h. */
#include "daemon/ticker.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/config.h"
#include "common/error.h"
#include "common/util.h"
#include "store/state.h"

struct ticker {
	struct mf_config cfg;
	struct mf_state *st;
	ticker_round round;
	void *arg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
};

int ticker_stopping(struct ticker *t)
{
	pthread_mutex_lock(&t->lock);
	int stop = t->stopping;
	pthread_mutex_unlock(&t->lock);
	return stop;
}

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;

	while (!ticker_stopping(t)) {
		int wait = t->round(t, t->st, &t->cfg, t->arg);
		struct timespec ts;
		pthread_mutex_lock(&t->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait > 0 ? wait : 1;
		while (!t->stopping && pthread_cond_timedwait(&t->cond, &t->lock, &ts) == 0)
			;
		pthread_mutex_unlock(&t->lock);
	}
	return NULL;
}

int ticker_start(struct ticker **out, const char *what, const struct mf_config *cfg,
		 ticker_round round, void *arg)
{
	struct ticker *t = xcalloc(1, sizeof(*t));

	*out = NULL;
	config_copy(&t->cfg, cfg);
	t->round = round;
	t->arg = arg;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	if (state_open(&t->st, cfg->state_dir) < 0)
		goto fail;
	if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
		mf_error(MF_E_INFRA, "cannot start the %s", what);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	state_free(t->st);
	config_release(&t->cfg);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
	return -1;
}

void ticker_stop(struct ticker *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = 1;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	state_free(t->st);
	config_release(&t->cfg);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}
