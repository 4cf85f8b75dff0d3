/*
 * disk.h - the libguestfs boundary: facts about disk image files, read by
 * libguestfs's qemu-img wrappers (no appliance is launched, no header is
 * parsed by hand).
 */
#ifndef MAYFLY_DISK_H
#define MAYFLY_DISK_H

#include <stdint.h>

struct disk_info {
	char format[16];	/* "raw", "qcow2", ... */
	uint64_t virtual_size;	/* bytes the guest sees */
	int has_backing_file;
};

/* Probes path; MF_E_USAGE when it is not a disk image Mayfly can use. */
int disk_probe(const char *path, struct disk_info *out);

/* Creates an empty disk image of the given format and size (tests, tools). */
int disk_create_blank(const char *path, const char *format, uint64_t size);

#endif
