/* reconcile.c - see reconcile.h. */
#include "machine/reconcile.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "machine/host.h"
#include "machine/vm.h"
#include "store/builds.h"
#include "store/ledger.h"

int reconcile_orphans(struct host *h, struct db *db)
{
	struct ledger_entry *e = NULL;
	size_t n = 0;
	int ret = 0;

	if (ledger_list(db, 1, &e, &n) < 0)
		return -1;
	/* Domains first: a volume cannot go while a machine still uses it. */
	static const char *const order[] = { LEDGER_DOMAIN, LEDGER_VOLUME, LEDGER_FILE,
					      LEDGER_POOL, LEDGER_PORT };
	for (size_t pass = 0; pass < sizeof(order) / sizeof(order[0]); pass++) {
		for (size_t i = 0; i < n; i++) {
			if (strcmp(e[i].kind, order[pass]))
				continue;
			int adopted = ledger_adopt(db, &e[i]);
			if (adopted <= 0) {
				ret = adopted < 0 ? -1 : ret;
				continue;
			}
			int rc = 0;
			if (!strcmp(e[i].kind, LEDGER_DOMAIN))
				rc = vm_domain_destroy(h->vm, e[i].name);
			else if (!strcmp(e[i].kind, LEDGER_VOLUME))
				rc = vm_volume_delete(h->vm, h->pool, e[i].name);
			else if (!strcmp(e[i].kind, LEDGER_POOL))
				rc = vm_pool_stop(h->vm, e[i].name);
			else if (!strcmp(e[i].kind, LEDGER_FILE) && unlink(e[i].name) < 0 &&
				 errno != ENOENT)
				rc = mf_error_errno(MF_E_INFRA, "cannot remove '%s'", e[i].name);
			if (rc < 0) {
				log_warnx("cannot clean up %s '%s' left by a dead process: %s",
					  e[i].kind, e[i].name, mf_error_msg());
				ret = -1;
				continue;
			}
			if (strcmp(e[i].kind, LEDGER_PORT))
				log_info("cleaned up %s '%s' left by a dead process", e[i].kind,
					 e[i].name);
			ledger_release(db, e[i].kind, e[i].name);
		}
	}
	ledger_entries_free(e, n);
	if (builds_fail_orphans(db) < 0)
		ret = -1;
	if (ret < 0)
		return mf_error(MF_E_INFRA, "could not clean up after a dead Mayfly process; "
				"see the warnings above");
	return 0;
}
