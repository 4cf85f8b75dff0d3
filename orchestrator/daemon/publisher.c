/* publisher.c - see publisher.h. */
#include "daemon/publisher.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "publish/publish.h"
#include "store/state.h"

#define PUBLISHER_INTERVAL_S 2

struct publisher {
	struct mf_config cfg;
	struct mf_state *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stopping;
};

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	int failing = 0;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		pthread_mutex_unlock(&p->lock);
		if (publish_auto_pending(p->st, &p->cfg) < 0) {
			/* Said once per outage, not every few seconds. */
			if (!failing++)
				log_warnx("publishing: %s (trying again)", mf_error_msg());
		} else {
			if (failing)
				log_info("publishing works again");
			failing = 0;
		}
		pthread_mutex_lock(&p->lock);
		if (p->stopping)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		/* Backs off to a minute while a repository fails. */
		ts.tv_sec += failing ? (failing < 30 ? failing * PUBLISHER_INTERVAL_S : 60) :
				       PUBLISHER_INTERVAL_S;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int publisher_start(struct publisher **out, const struct mf_config *cfg)
{
	struct publisher *p;

	*out = NULL;
	if (cfg->nrepos == 0)
		return 0;
	p = xcalloc(1, sizeof(*p));
	config_copy(&p->cfg, cfg);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (state_open(&p->st, cfg->state_dir) < 0)
		goto fail;
	if (pthread_create(&p->thread, NULL, publisher_main, p) != 0) {
		mf_error(MF_E_INFRA, "cannot start the publisher thread");
		goto fail;
	}
	*out = p;
	return 0;
fail:
	state_free(p->st);
	config_release(&p->cfg);
	free(p);
	return -1;
}

void publisher_stop(struct publisher *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	state_free(p->st);
	config_release(&p->cfg);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}
