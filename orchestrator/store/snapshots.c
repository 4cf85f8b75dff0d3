/* snapshots.c - see snapshots.h. */
#include "store/snapshots.h"

#include <stdlib.h>
#include <string.h>

#include "common/crypto.h"

#include "common/error.h"
#include "common/util.h"
#include "store/db.h"
#include "store/images.h"

#define SNAPSHOT_COLUMNS \
	"image, slot, domain, uuid, layer_volume, layer_path, save_path, key, save_bytes, " \
	"layer_bytes, created"

int snapshots_list(struct db *db, const char *image, struct snapshot **out, size_t *n)
{
	struct db_stmt *st;
	struct snapshot *v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " SNAPSHOT_COLUMNS " FROM snapshots "
		       "WHERE ?1 IS NULL OR image = ?1 ORDER BY image, slot") < 0)
		return -1;
	db_bind_text(st, 1, image);
	while ((rc = db_step(st)) == 1) {
		struct snapshot *s;

		v = xrealloc(v, (len + 1) * sizeof(*v));
		s = &v[len++];
		s->image = xstrdup(db_col_text(st, 0));
		s->slot = (int)db_col_int(st, 1);
		s->domain = xstrdup(db_col_text(st, 2));
		s->uuid = xstrdup(db_col_text(st, 3));
		s->layer_volume = xstrdup(db_col_text(st, 4));
		s->layer_path = xstrdup(db_col_text(st, 5));
		s->save_path = xstrdup(db_col_text(st, 6));
		s->key = xstrdup(db_col_text(st, 7));
		s->save_bytes = db_col_int(st, 8);
		s->layer_bytes = db_col_int(st, 9);
		s->created = db_col_int(st, 10);
	}
	db_finalize(st);
	if (rc < 0) {
		snapshots_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void snapshots_free(struct snapshot *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].image);
		free(v[i].domain);
		free(v[i].uuid);
		free(v[i].layer_volume);
		free(v[i].layer_path);
		free(v[i].save_path);
		free(v[i].key);
	}
	free(v);
}

int snapshots_insert(struct db *db, const struct snapshot *s)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "INSERT INTO snapshots (" SNAPSHOT_COLUMNS ") VALUES "
		       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") < 0)
		return -1;
	db_bind_text(st, 1, s->image);
	db_bind_int(st, 2, s->slot);
	db_bind_text(st, 3, s->domain);
	db_bind_text(st, 4, s->uuid);
	db_bind_text(st, 5, s->layer_volume);
	db_bind_text(st, 6, s->layer_path);
	db_bind_text(st, 7, s->save_path);
	db_bind_text(st, 8, s->key);
	db_bind_int(st, 9, s->save_bytes);
	db_bind_int(st, 10, s->layer_bytes);
	db_bind_int(st, 11, s->created);
	rc = db_step(st);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

int snapshots_delete(struct db *db, const char *image, int slot)
{
	return db_execf(db, "DELETE FROM snapshots WHERE image = ? AND slot = ?", "ti", image,
			(int64_t)slot);
}

char *snapshot_key(const struct image *img, int kvm)
{
	struct sha256 *h = sha256_new();
	char hex[SHA256_HEX_LEN];
	char *text;

	/* Everything the saved machine's definition and memory depend on. */
	text = xasprintf("mayfly-snapshot-1|%s|%s|%d|%d|%s|%s", img->sha256, img->volume,
			 img->settings.memory_mib, img->settings.vcpus,
			 disk_bus_name(img->settings.disk_bus), kvm ? "kvm" : "tcg");
	sha256_update(h, text, strlen(text));
	sha256_finish(h, hex);
	free(text);
	return xstrdup(hex);
}
