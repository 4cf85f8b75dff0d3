/* publisher.c - see publisher.h. */
#include "daemon/publisher.h"

#include <stdlib.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/ticker.h"
#include "publish/publish.h"

#define PUBLISHER_INTERVAL_S 2

struct publisher {
	struct ticker *ticker;
	int failing;	/* rounds in a row that failed */
};

static int publish_round(struct ticker *t, struct mf_state *st, const struct mf_config *cfg,
			 void *arg)
{
	struct publisher *p = arg;

	(void)t;
	if (publish_auto_pending(st, cfg) < 0) {
		/* Said once per outage, not every few seconds. */
		if (!p->failing++)
			log_warnx("publishing: %s (trying again)", mf_error_msg());
	} else {
		if (p->failing)
			log_info("publishing works again");
		p->failing = 0;
	}
	/* Backs off to a minute while a repository fails. */
	return p->failing ? (p->failing < 30 ? p->failing * PUBLISHER_INTERVAL_S : 60) :
			    PUBLISHER_INTERVAL_S;
}

int publisher_start(struct publisher **out, const struct mf_config *cfg)
{
	struct publisher *p;

	*out = NULL;
	if (cfg->nrepos == 0)
		return 0;
	p = xcalloc(1, sizeof(*p));
	if (ticker_start(&p->ticker, "publisher", cfg, publish_round, p) < 0) {
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void publisher_stop(struct publisher *p)
{
	if (!p)
		return;
	ticker_stop(p->ticker);
	free(p);
}
