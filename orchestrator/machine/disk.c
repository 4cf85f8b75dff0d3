/* disk.c - see disk.h. */
#include "machine/disk.h"

#include <guestfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static void quiet(guestfs_h *g, void *opaque, const char *msg)
{
	/* Errors are read with guestfs_last_error(), not printed. */
}

static guestfs_h *open_handle(void)
{
	/* NO_ENVIRONMENT: LIBGUESTFS_* settings do not matter to qemu-img calls. */
	guestfs_h *g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);

	if (!g) {
		mf_error(MF_E_INFRA, "cannot create a libguestfs handle");
		return NULL;
	}
	guestfs_set_error_handler(g, quiet, NULL);
	return g;
}

static int guestfs_fail(guestfs_h *g, enum mf_errclass cls, const char *what, const char *path)
{
	const char *msg = guestfs_last_error(g);

	return mf_error(cls, "%s '%s': %s", what, path, msg ? msg : "unknown libguestfs error");
}

int disk_probe(const char *path, struct disk_info *out)
{
	guestfs_h *g;
	char *fmt = NULL;
	int64_t size;
	int backing, ret = -1;

	memset(out, 0, sizeof(*out));
	if (!(g = open_handle()))
		return -1;
	fmt = guestfs_disk_format(g, path);
	if (!fmt) {
		guestfs_fail(g, MF_E_USAGE, "cannot read the disk image", path);
		goto out;
	}
	if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")) {
		mf_error(MF_E_USAGE, "'%s' is a %s image; Mayfly accepts raw and qcow2", path, fmt);
		goto out;
	}
	size = guestfs_disk_virtual_size(g, path);
	if (size < 0) {
		guestfs_fail(g, MF_E_USAGE, "cannot read the size of", path);
		goto out;
	}
	if (size == 0) {
		mf_error(MF_E_USAGE, "'%s' is an empty disk image", path);
		goto out;
	}
	backing = guestfs_disk_has_backing_file(g, path);
	if (backing < 0) {
		guestfs_fail(g, MF_E_USAGE, "cannot inspect", path);
		goto out;
	}
	snprintf(out->format, sizeof(out->format), "%s", fmt);
	out->virtual_size = (uint64_t)size;
	out->has_backing_file = backing;
	ret = 0;
out:
	free(fmt);
	guestfs_close(g);
	return ret;
}

int disk_create_blank(const char *path, const char *format, uint64_t size)
{
	guestfs_h *g;
	int ret = 0;

	if (!(g = open_handle()))
		return -1;
	if (guestfs_disk_create(g, path, format, (int64_t)size, -1) < 0)
		ret = guestfs_fail(g, MF_E_INFRA, "cannot create disk image", path);
	guestfs_close(g);
	return ret;
}
