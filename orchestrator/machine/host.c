/* host.c - see host.h. */
#include "machine/host.h"

#include <stdlib.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "machine/accel.h"
#include "machine/vm.h"
#include "store/state.h"

int host_open(struct host **out, const char *uri, enum mf_accel accel,
	      const struct mf_state *st)
{
	struct host *h;

	*out = NULL;
	if (mf_check_reachable(st->pool_dir) < 0)
		return -1;
	h = xcalloc(1, sizeof(*h));
	h->uri = xstrdup(uri);
	h->instance = xstrdup(st->instance);
	h->pool = xstrdup(st->pool_name);
	h->pool_dir = xstrdup(st->pool_dir);
	if (vm_connect(&h->vm, uri) < 0 || vm_pool_ensure(h->vm, h->pool, h->pool_dir) < 0) {
		host_close(h);
		return -1;
	}
	h->kvm = accel_resolve(accel, &h->accel_reason);
	log_debug("host %s: accelerator %s (%s)", uri, h->kvm ? "kvm" : "tcg", h->accel_reason);
	*out = h;
	return 0;
}

void host_close(struct host *h)
{
	if (!h)
		return;
	/* A pool that holds nothing (no image yet) is not left behind in libvirt. */
	if (h->vm && vm_pool_stop_if_empty(h->vm, h->pool) < 0)
		mf_error_clear();
	vm_disconnect(h->vm);
	free(h->uri);
	free(h->instance);
	free(h->pool);
	free(h->pool_dir);
	free(h);
}

char *host_domain_name(const struct host *h, const char *tag)
{
	return xasprintf("mayfly-%s-%s", h->instance, tag);
}
