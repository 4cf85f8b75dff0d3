/* snapshot.c - booted memory snapshots of a golden image. See images.h. */
#include "images/images.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/util.h"
#include "machine/host.h"
#include "machine/machine.h"
#include "machine/vm.h"
#include "store/db.h"
#include "store/ledger.h"
#include "store/snapshots.h"
#include "store/state.h"

#define IDLE_WAIT_S 30 /* at most, for a booted guest to settle before it is saved */
#define RESTORE_FAILURES_DISABLE 3 /* failed restores in a row that disable snapshots */

struct snap_progress {
	const struct image_snapshot_opts *o;
	int slot;
};

static void slot_progress(void *payload, const char *name, int64_t ms)
{
	struct snap_progress *p = payload;
	char step[64];

	snprintf(step, sizeof(step), "slot %d: %s", p->slot, name);
	if (p->o->progress)
		p->o->progress(p->o->payload, step, ms);
}

struct machine_spec image_machine_spec(const struct image *img, const char *tag,
				       const char *console_path)
{
	struct machine_spec spec = {
		.tag = tag,
		.golden_path = img->path,
		.capacity = img->virtual_size,
		.memory_mib = img->settings.memory_mib,
		.vcpus = img->settings.vcpus,
		.disk_bus = img->settings.disk_bus,
		.console_path = console_path,
		.login = {
			.user = img->settings.ssh_user,
			.key_path = img->settings.ssh_key,
			.pinned_key = img->host_key,
			.timeout_s = 60,
		},
		.boot_timeout_s = img->settings.boot_timeout,
	};
	return spec;
}

/* Removes one slot's files, then its record; the slot must be claimed. */
static int drop_slot(struct host *h, struct mf_state *st, const struct snapshot *s)
{
	if (vm_volume_delete(h->vm, h->pool, s->layer_volume) < 0)
		return -1;
	if (unlink(s->save_path) < 0 && errno != ENOENT)
		return mf_error_errno(MF_E_INFRA, "cannot remove '%s'", s->save_path);
	return snapshots_delete(st->db, s->image, s->slot);
}

int image_warm_check(const struct image *img)
{
	if (img->settings.warm > 0)
		return mf_error(MF_E_USAGE, "image '%s' has a warm pool (warm = %d) whose machines "
				"use its snapshots; run 'vmctl image warm %s 0' first", img->name,
				img->settings.warm, img->name);
	return 0;
}

int image_snapshot_drop(struct host *h, struct mf_state *st, const char *name)
{
	struct snapshot *v = NULL;
	size_t n = 0;
	int ret = 0;

	if (snapshots_list(st->db, name, &v, &n) < 0)
		return -1;
	for (size_t i = 0; i < n && ret == 0; i++) {
		/* Claiming the slot's domain is what keeps a build from restoring it. */
		if (ledger_claim(st->db, LEDGER_DOMAIN, v[i].domain, 0) < 0) {
			if (mf_error_class() == MF_E_CONFLICT)
				mf_error(MF_E_CONFLICT, "snapshot slot %d of image '%s' is in use by "
					 "a machine; try again when it is gone", v[i].slot, name);
			ret = -1;
			break;
		}
		ret = drop_slot(h, st, &v[i]);
		struct mf_error_saved e;
		mf_error_save(&e);
		if (ledger_release(st->db, LEDGER_DOMAIN, v[i].domain) < 0)
			log_warnx("%s", mf_error_msg());
		mf_error_restore(&e);
	}
	snapshots_free(v, n);
	return ret;
}

/* Boots, settles and saves one slot, then records it. */
static int make_slot(struct host *h, struct mf_state *st, const struct image *img,
		     const struct image_snapshot_opts *o, int slot, const char *key)
{
	struct snap_progress p = { o, slot };
	char uuid[37];
	char *tag = xasprintf("snap-%s-%d", img->name, slot);
	char *volume = xasprintf("%s.qcow2", tag);
	char *save_path = xasprintf("%s/snapshots/%s-%d.save", st->dir, img->name, slot);
	char *console = xasprintf("%s/logs/snapshot-%s-%d.console.log", st->dir, img->name,
				  slot);
	struct snapshot rec = { 0 };
	struct machine *m = NULL;
	struct stat sb;
	int saved = 0, ret = -1;

	if (mf_uuid(uuid) < 0)
		goto out;
	struct machine_spec spec = image_machine_spec(img, tag, console);
	spec.uuid = uuid;
	spec.cancel = o->cancel;
	spec.phase = slot_progress;
	spec.payload = &p;
	int64_t t;
	if (machine_up(h, st->db, &spec, &m) < 0) {
		mf_error_wrap("snapshot slot %d (console log: %s)", slot, console);
		goto down;
	}
	t = mf_now_ms();
	if (machine_save(m, save_path, IDLE_WAIT_S) < 0)
		goto down;
	saved = 1;
	slot_progress(&p, "save", mf_now_ms() - t);
	rec.image = img->name;
	rec.slot = slot;
	rec.domain = m->domain;
	rec.uuid = uuid;
	rec.layer_volume = volume;
	rec.layer_path = m->disk_path;
	rec.save_path = save_path;
	rec.key = (char *)key;
	rec.created = mf_wall_seconds();
	if (stat(save_path, &sb) == 0)
		rec.save_bytes = (int64_t)sb.st_size;
	if (stat(m->disk_path, &sb) == 0)
		rec.layer_bytes = (int64_t)sb.st_blocks * 512;
	/* In one transaction, the record takes the layer and the memory image over. */
	if (db_begin(st->db) < 0)
		goto down;
	if (snapshots_insert(st->db, &rec) < 0 ||
	    ledger_release(st->db, LEDGER_VOLUME, volume) < 0 ||
	    ledger_release(st->db, LEDGER_FILE, save_path) < 0 || db_commit(st->db) < 0) {
		db_rollback(st->db);
		goto down;
	}
	saved = 0;
	ret = 0;
down:
	if (saved) {
		/* Not recorded: the kept clone and the memory image go. */
		struct mf_error_saved e;

		mf_error_save(&e);
		m->keep_volume = 0;
		if (unlink(save_path) == 0 || errno == ENOENT)
			ledger_release(st->db, LEDGER_FILE, save_path);
		mf_error_restore(&e);
	}
	if (machine_down(m) < 0)
		ret = -1;
out:
	free(tag);
	free(volume);
	free(save_path);
	free(console);
	return ret;
}

int image_snapshot(struct host *h, struct mf_state *st, const struct image_snapshot_opts *o)
{
	struct image *img = NULL;
	char *dir = xasprintf("%s/snapshots", st->dir);
	char *logdir = xasprintf("%s/logs", st->dir);
	char *key = NULL;
	int ret = -1;

	if (o->slots < 1 || o->slots > 64) {
		mf_error(MF_E_USAGE, "the number of snapshot slots must be 1 to 64, not %d",
			 o->slots);
		goto out;
	}
	if (images_get(st->db, o->name, &img) < 0 || images_check_usable(img) < 0 ||
	    image_warm_check(img) < 0)
		goto out;
	if (mf_mkdir_p(dir, 0700) < 0 || mf_mkdir_p(logdir, 0755) < 0)
		goto out;
	/* New snapshots replace the old ones, which may be stale. */
	if (image_snapshot_drop(h, st, o->name) < 0)
		goto out;
	key = snapshot_key(img, h->kvm);
	for (int slot = 0; slot < o->slots; slot++)
		if (make_slot(h, st, img, o, slot, key) < 0)
			goto out;
	ret = images_snapshot_enable(st->db, o->name);
out:
	image_free(img);
	free(key);
	free(dir);
	free(logdir);
	return ret;
}

int image_snapshot_slots(struct host *h, struct db *db, const struct image *img,
			 struct snapshot **slots, size_t *n, char **why_not)
{
	struct snapshot *v = NULL;
	size_t len = 0, kept = 0;
	char *key;

	*slots = NULL;
	*n = 0;
	*why_not = NULL;
	if (img->snapshot_disabled) {
		*why_not = xasprintf("snapshots are disabled: %s", img->snapshot_disabled);
		return 0;
	}
	if (snapshots_list(db, img->name, &v, &len) < 0)
		return -1;
	if (len == 0) {
		free(v);
		return 0;
	}
	key = snapshot_key(img, h->kvm);
	for (size_t i = 0; i < len; i++) {
		if (strcmp(v[i].key, key)) {
			if (!*why_not)
				*why_not = xasprintf("the snapshots of image '%s' are stale (made "
						     "with other settings or accelerator); run "
						     "'vmctl image snapshot %s'", img->name,
						     img->name);
			continue;
		}
		struct snapshot tmp = v[kept];
		v[kept++] = v[i];
		v[i] = tmp;
	}
	free(key);
	if (kept == 0) {
		snapshots_free(v, len);
		return 0;
	}
	*slots = v;
	*n = len;
	return (int)kept;
}

void image_boot_init(struct image_boot *ib, struct host *h, struct db *db, const struct image *img,
		     const char *tag, int64_t build_id, const char *console_path,
		     struct buildlog *log)
{
	char *why = NULL;
	int usable;

	memset(ib, 0, sizeof(*ib));
	usable = image_snapshot_slots(h, db, img, &ib->recs, &ib->nrecs, &why);
	if (usable < 0) {
		log_warnx("image %s: %s", img->name, mf_error_msg());
		mf_error_clear();
		usable = 0;
	}
	if (why) {
		buildlog_event(log, "booting cold: %s", why);
		free(why);
	}
	if (usable > 0) {
		ib->snaps = xcalloc((size_t)usable, sizeof(*ib->snaps));
		for (int i = 0; i < usable; i++) {
			ib->snaps[i].domain = ib->recs[i].domain;
			ib->snaps[i].uuid = ib->recs[i].uuid;
			ib->snaps[i].layer_path = ib->recs[i].layer_path;
			ib->snaps[i].save_path = ib->recs[i].save_path;
		}
	}
	ib->spec = image_machine_spec(img, tag, console_path);
	ib->spec.build_id = build_id;
	ib->spec.snaps = ib->snaps;
	ib->spec.nsnaps = usable > 0 ? (size_t)usable : 0;
	ib->spec.restore_command = img->settings.restore_command ?
		img->settings.restore_command : IMAGE_DEFAULT_RESTORE_COMMAND;
	ib->spec.log = log;
}

void image_boot_release(struct image_boot *ib)
{
	free(ib->snaps);
	snapshots_free(ib->recs, ib->nrecs);
	memset(ib, 0, sizeof(*ib));
}

void image_boot_note(struct db *db, const struct image *img, const struct machine *m)
{
	int d;

	if (!m || (!m->restored && !m->restore_error))
		return; /* no slot was free: nothing said about the snapshots */
	d = images_restore_result(db, img->name, m->restored, RESTORE_FAILURES_DISABLE,
				  m->restore_error);
	if (d < 0)
		log_warnx("%s", mf_error_msg());
	else if (d > 0)
		log_warnx("image %s: snapshots disabled after %d failed restores in a row "
			  "(last: %s); machines boot cold until 'vmctl image snapshot %s'",
			  img->name, RESTORE_FAILURES_DISABLE, m->restore_error, img->name);
}
