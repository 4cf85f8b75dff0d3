/* image_rm.c - retiring a golden image. See images.h. */
#include "images/images.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "machine/host.h"
#include "machine/vm.h"
#include "store/db.h"
#include "store/state.h"

int image_remove(struct host *h, struct mf_state *st, const char *name)
{
	struct image *img = NULL;
	int ret = -1;

	if (images_get(st->db, name, &img) < 0)
		return -1;
	if (image_warm_check(img) < 0)
		goto out;
	/*
	 * One transaction: no build is claimed between the check and the
	 * delete, and the record goes only if the volume goes too. The
	 * snapshots go first (their layers are backed by the golden volume).
	 */
	if (db_begin(st->db) < 0)
		goto out;
	if (images_delete_unused(st->db, name) < 0 || image_snapshot_drop(h, st, name) < 0 ||
	    vm_volume_delete(h->vm, h->pool, img->volume) < 0) {
		db_rollback(st->db);
		goto out;
	}
	if (db_commit(st->db) < 0)
		goto out;
	if (unlink(img->settings.ssh_key) < 0 && errno != ENOENT)
		log_warn("cannot remove the key copy %s", img->settings.ssh_key);
	if (vm_pool_stop_if_empty(h->vm, h->pool) < 0)
		goto out;
	ret = 0;
out:
	image_free(img);
	return ret;
}
