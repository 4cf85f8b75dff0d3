/*
 * snapshots.h - booted memory snapshot records in the state database.
 *
 * A snapshot slot is one machine of an image that was booted, left to go
 * idle and saved: its memory image (a file under STATE/snapshots) and the
 * disk layer it was saved with (a volume in Mayfly's pool, never written
 * again). A record owns both, as an image record owns its golden volume;
 * images/snapshot.h makes and removes them.
 */
#ifndef MAYFLY_STORE_SNAPSHOTS_H
#define MAYFLY_STORE_SNAPSHOTS_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct image;

struct snapshot {
	char *image;
	int slot;
	char *domain;		/* the saved domain's name: restores must use it */
	char *uuid;		/* and its UUID */
	char *layer_volume;
	char *layer_path;
	char *save_path;
	char *key;		/* what it was made from (images/snapshot.h) */
	int64_t save_bytes;	/* the memory image's size */
	int64_t layer_bytes;	/* the disk layer's allocated bytes */
	int64_t created;
};

/* The slots of an image (all images when image is NULL), by image and slot. */
int snapshots_list(struct db *db, const char *image, struct snapshot **out, size_t *n);
void snapshots_free(struct snapshot *v, size_t n);
int snapshots_insert(struct db *db, const struct snapshot *s);
int snapshots_delete(struct db *db, const char *image, int slot);

/*
 * What a snapshot depends on: the golden volume's content, the machine's
 * memory, CPUs and disk bus, and the accelerator. A slot whose key differs
 * from the image's is stale and never restored (caller frees).
 */
char *snapshot_key(const struct image *img, int kvm);

#endif
