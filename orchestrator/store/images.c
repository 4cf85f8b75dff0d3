/* images.c - image records in the state database. See images.h. */
#include "store/images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "store/db.h"

const char *disk_bus_name(enum disk_bus bus)
{
	switch (bus) {
	case DISK_BUS_IDE:
		return "ide";
	case DISK_BUS_VIRTIO:
		return "virtio";
	case DISK_BUS_SATA:
		break;
	}
	return "sata";
}

int disk_bus_parse(const char *s, enum disk_bus *out)
{
	if (!strcmp(s, "sata"))
		*out = DISK_BUS_SATA;
	else if (!strcmp(s, "ide"))
		*out = DISK_BUS_IDE;
	else if (!strcmp(s, "virtio"))
		*out = DISK_BUS_VIRTIO;
	else
		return -1;
	return 0;
}

/* The columns an image is made of (images_insert writes these)... */
#define IMAGE_COLUMNS \
	"name, volume, path, source, sha256, format, virtual_size, host_key, created, " \
	"ssh_user, ssh_key, build_command, packages_dir, memory_mib, vcpus, disk_bus, " \
	"boot_timeout, tree_path, tree_commit, haikuporter, haikuporter_args, target_arch, " \
	"secondary_arches, no_system_packages, restore_command, warm"
/* ... and what builds have since said about it. */
#define IMAGE_SELECT "SELECT " IMAGE_COLUMNS ", boot_failures, quarantined, restores, " \
	"restore_fallbacks, restore_failures, snapshot_disabled, " \
	"(SELECT count(*) FROM snapshots WHERE snapshots.image = images.name) FROM images"

void image_settings_release(struct image_settings *s)
{
	free(s->ssh_user);
	free(s->ssh_key);
	free(s->build_command);
	free(s->packages_dir);
	free(s->tree_path);
	free(s->haikuporter);
	free(s->haikuporter_args);
	free(s->target_arch);
	free(s->secondary_arches);
	free(s->restore_command);
	memset(s, 0, sizeof(*s));
}

void image_free(struct image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->volume);
	free(img->path);
	free(img->source);
	free(img->sha256);
	free(img->format);
	free(img->host_key);
	free(img->tree_commit);
	free(img->quarantined);
	free(img->snapshot_disabled);
	image_settings_release(&img->settings);
	free(img);
}

static struct image *image_from_row(struct db_stmt *st)
{
	struct image *img = xcalloc(1, sizeof(*img));
	struct image_settings *s = &img->settings;

	img->name = xstrdup(db_col_text(st, 0));
	img->volume = xstrdup(db_col_text(st, 1));
	img->path = xstrdup(db_col_text(st, 2));
	img->source = xstrdup(db_col_text(st, 3));
	img->sha256 = xstrdup(db_col_text(st, 4));
	img->format = xstrdup(db_col_text(st, 5));
	img->virtual_size = (uint64_t)db_col_int(st, 6);
	img->host_key = xstrdup(db_col_text(st, 7));
	img->created = db_col_int(st, 8);
	s->ssh_user = xstrdup(db_col_text(st, 9));
	s->ssh_key = xstrdup(db_col_text(st, 10));
	s->build_command = xstrdup(db_col_text(st, 11));
	s->packages_dir = xstrdup(db_col_text(st, 12));
	s->memory_mib = (int)db_col_int(st, 13);
	s->vcpus = (int)db_col_int(st, 14);
	if (disk_bus_parse(db_col_text(st, 15), &s->disk_bus) < 0)
		s->disk_bus = DISK_BUS_SATA;
	s->boot_timeout = (int)db_col_int(st, 16);
	s->tree_path = xstrdup(db_col_text(st, 17));
	img->tree_commit = xstrdup_or_null(db_col_text(st, 18));
	s->haikuporter = xstrdup(db_col_text(st, 19));
	s->haikuporter_args = xstrdup(db_col_text(st, 20));
	s->target_arch = xstrdup(db_col_text(st, 21));
	s->secondary_arches = xstrdup(db_col_text(st, 22));
	s->no_system_packages = (int)db_col_int(st, 23);
	s->restore_command = xstrdup_or_null(db_col_text(st, 24));
	s->warm = (int)db_col_int(st, 25);
	img->boot_failures = (int)db_col_int(st, 26);
	img->quarantined = xstrdup_or_null(db_col_text(st, 27));
	img->restores = db_col_int(st, 28);
	img->restore_fallbacks = db_col_int(st, 29);
	img->restore_failures = (int)db_col_int(st, 30);
	img->snapshot_disabled = xstrdup_or_null(db_col_text(st, 31));
	img->snapshot_slots = (int)db_col_int(st, 32);
	return img;
}

int images_list(struct db *db, struct image ***out, size_t *n)
{
	struct db_stmt *st;
	struct image **v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, IMAGE_SELECT " ORDER BY name") < 0)
		return -1;
	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = image_from_row(st);
	}
	db_finalize(st);
	if (rc < 0) {
		images_list_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void images_list_free(struct image **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		image_free(v[i]);
	free(v);
}

int images_get(struct db *db, const char *name, struct image **out)
{
	struct db_stmt *st;
	struct image **all = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (db_prepare(db, &st, IMAGE_SELECT " WHERE name = ?") < 0)
		return -1;
	db_bind_text(st, 1, name);
	rc = db_step(st);
	if (rc == 1)
		*out = image_from_row(st);
	db_finalize(st);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return 0;
	/* Unknown: say which images there are. */
	if (images_list(db, &all, &n) < 0)
		return -1;
	struct strbuf known = STRBUF_INIT;
	for (size_t i = 0; i < n; i++)
		strbuf_addf(&known, "%s%s", i ? ", " : "", all[i]->name);
	images_list_free(all, n);
	if (n)
		mf_error(MF_E_USAGE, "unknown image '%s' (registered: %s)", name, known.buf);
	else
		mf_error(MF_E_USAGE, "unknown image '%s': no image is registered in %s "
			 "(add one with 'vmctl image add')", name, db_path(db));
	strbuf_release(&known);
	return -1;
}

int images_insert(struct db *db, const struct image *img)
{
	const struct image_settings *s = &img->settings;
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st,
		       "INSERT INTO images (" IMAGE_COLUMNS ") VALUES "
		       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") < 0)
		return -1;
	db_bind_text(st, 1, img->name);
	db_bind_text(st, 2, img->volume);
	db_bind_text(st, 3, img->path);
	db_bind_text(st, 4, img->source);
	db_bind_text(st, 5, img->sha256);
	db_bind_text(st, 6, img->format);
	db_bind_int(st, 7, (int64_t)img->virtual_size);
	db_bind_text(st, 8, img->host_key);
	db_bind_int(st, 9, img->created);
	db_bind_text(st, 10, s->ssh_user);
	db_bind_text(st, 11, s->ssh_key);
	db_bind_text(st, 12, s->build_command);
	db_bind_text(st, 13, s->packages_dir);
	db_bind_int(st, 14, s->memory_mib);
	db_bind_int(st, 15, s->vcpus);
	db_bind_text(st, 16, disk_bus_name(s->disk_bus));
	db_bind_int(st, 17, s->boot_timeout);
	db_bind_text(st, 18, s->tree_path);
	db_bind_text(st, 19, img->tree_commit);
	db_bind_text(st, 20, s->haikuporter);
	db_bind_text(st, 21, s->haikuporter_args);
	db_bind_text(st, 22, s->target_arch);
	db_bind_text(st, 23, s->secondary_arches);
	db_bind_int(st, 24, s->no_system_packages);
	db_bind_text(st, 25, s->restore_command);
	db_bind_int(st, 26, s->warm);
	rc = db_step(st);
	db_finalize(st);
	if (rc < 0 && mf_error_class() == MF_E_CONFLICT)
		return mf_error(MF_E_USAGE, "image '%s' already exists", img->name);
	return rc < 0 ? -1 : 0;
}

int images_check_usable(const struct image *img)
{
	if (img->quarantined)
		return mf_error(MF_E_CONFLICT, "image '%s' is quarantined: %s; after fixing it, "
				"run 'vmctl image clear %s'", img->name, img->quarantined,
				img->name);
	return 0;
}

int images_boot_result(struct db *db, const char *name, int ok, int threshold,
		       const char *why)
{
	char *reason;
	int ret;

	if (ok)
		return db_execf(db, "UPDATE images SET boot_failures = 0 WHERE name = ?",
				"t", name);
	/* One statement: count the failure, quarantine at the threshold. */
	reason = xasprintf("%d consecutive machines did not come up (last: %s)", threshold,
			   why ? why : "unknown");
	ret = db_execf(db, "UPDATE images SET boot_failures = boot_failures + 1, "
				       "quarantined = CASE WHEN quarantined IS NULL AND "
				       "boot_failures + 1 >= ?3 THEN ?2 ELSE quarantined END "
				       "WHERE name = ?1", "tti", name, reason, (int64_t)threshold);
	free(reason);
	if (ret < 0)
		return -1;
	struct image *img = NULL;
	if (images_get(db, name, &img) < 0)
		return -1;
	ret = img->quarantined && img->boot_failures == threshold;
	image_free(img);
	return ret;
}

int images_clear(struct db *db, const char *name)
{
	struct image *img = NULL;

	if (images_get(db, name, &img) < 0)
		return -1;
	image_free(img);
	return db_execf(db, "UPDATE images SET boot_failures = 0, quarantined = NULL "
					"WHERE name = ?", "t", name);
}

/*
 * The ids ("7, 8") of the image's live running builds and of its waiting
 * ones; NULL for none (caller frees).
 */
static int busy_builds(struct db *db, const char *name, char **running, char **waiting)
{
	struct strbuf run = STRBUF_INIT, wait = STRBUF_INIT;
	struct db_stmt *st;
	int rc;

	*running = *waiting = NULL;
	if (db_prepare(db, &st, "SELECT id, status, owner FROM builds WHERE image = ? AND "
				"status IN ('accepted', 'queued', 'running') ORDER BY id") < 0)
		return -1;
	db_bind_text(st, 1, name);
	while ((rc = db_step(st)) == 1) {
		const char *status = db_col_text(st, 1), *owner = db_col_text(st, 2);
		long long id = (long long)db_col_int(st, 0);
		if (!strcmp(status, "running")) {
			/* A build whose process died is cleaned up, not waited for. */
			if (owner && mf_process_alive(owner))
				strbuf_addf(&run, "%s%lld", run.len ? ", " : "", id);
		} else {
			strbuf_addf(&wait, "%s%lld", wait.len ? ", " : "", id);
		}
	}
	db_finalize(st);
	if (rc < 0) {
		strbuf_release(&run);
		strbuf_release(&wait);
		return -1;
	}
	*running = run.len ? strbuf_detach(&run) : NULL;
	*waiting = wait.len ? strbuf_detach(&wait) : NULL;
	return 0;
}

int images_delete_unused(struct db *db, const char *name)
{
	char *running = NULL, *waiting = NULL;
	int ret = -1;

	if (busy_builds(db, name, &running, &waiting) < 0)
		return -1;
	struct db_stmt *st = NULL;
	struct strbuf trees = STRBUF_INIT;
	int rc;
	if (db_prepare(db, &st, "SELECT name FROM trees WHERE update_image = ? ORDER BY name") < 0)
		goto out;
	db_bind_text(st, 1, name);
	while ((rc = db_step(st)) == 1)
		strbuf_addf(&trees, "%s%s", trees.len ? ", " : "", db_col_text(st, 0));
	db_finalize(st);
	if (rc < 0)
		goto out;
	if (trees.len) {
		mf_error(MF_E_USAGE, "image '%s' builds the updates of tree%s %s; give %s another "
			 "image first (vmctl tree set NAME --update-image IMAGE)", name,
			 strchr(trees.buf, ',') ? "s" : "", trees.buf,
			 strchr(trees.buf, ',') ? "them" : "it");
	} else if (running || waiting) {
		const char *ids = running ? running : waiting;
		mf_error(MF_E_USAGE, "image '%s' %s build%s %s; %s", name,
			 running ? "is in use by running" : "has queued", strchr(ids, ',') ? "s" : "",
			 ids, running ? "wait for the end or cancel (vmctl cancel ID) first" :
					"they would never run: cancel them (vmctl cancel ID) first");
	}
	else if (db_execf(db, "DELETE FROM images WHERE name = ?", "t", name) == 0 &&
		 db_execf(db, "DELETE FROM pkg_index WHERE origin = 'system:' || ?", "t", name) == 0)
		ret = 0;
out:
	strbuf_release(&trees);
	free(running);
	free(waiting);
	return ret;
}

int images_restore_result(struct db *db, const char *name, int ok, int threshold,
			  const char *why)
{
	char *reason;
	int ret;

	if (ok)
		return db_execf(db, "UPDATE images SET restores = restores + 1, "
				"restore_failures = 0 WHERE name = ?", "t", name);
	reason = xasprintf("%d consecutive restores failed (last: %s); builds boot cold "
			   "until 'vmctl image snapshot %s' makes new snapshots", threshold,
			   why ? why : "unknown", name);
	ret = db_execf(db, "UPDATE images SET restore_fallbacks = restore_fallbacks + 1, "
			   "restore_failures = restore_failures + 1, "
			   "snapshot_disabled = CASE WHEN snapshot_disabled IS NULL AND "
			   "restore_failures + 1 >= ?3 THEN ?2 ELSE snapshot_disabled END "
			   "WHERE name = ?1", "tti", name, reason, (int64_t)threshold);
	free(reason);
	if (ret < 0)
		return -1;
	struct image *img = NULL;
	if (images_get(db, name, &img) < 0)
		return -1;
	ret = img->snapshot_disabled && img->restore_failures == threshold;
	image_free(img);
	return ret;
}

int images_snapshot_enable(struct db *db, const char *name)
{
	return db_execf(db, "UPDATE images SET restore_failures = 0, snapshot_disabled = NULL "
			"WHERE name = ?", "t", name);
}

int images_set_warm(struct db *db, const char *name, int warm)
{
	if (db_execf(db, "UPDATE images SET warm = ?2 WHERE name = ?1", "ti", name,
		     (int64_t)warm) < 0)
		return -1;
	if (db_changes(db) == 0)
		return mf_error(MF_E_USAGE, "no image named '%s'", name);
	return 0;
}
