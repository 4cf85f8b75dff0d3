/*
 * harvest.h - collecting what a build made: the files that appeared or
 * changed in the guest's packages directory while the build command ran,
 * compared with a listing taken before it.
 *
 * Each file is downloaded whole (as NAME.part, renamed when complete and
 * checked against the guest's size) and checksummed. A guest decides
 * names and sizes, so both are checked: names like input names (names.h),
 * and the total against a cap. Either all files are harvested or, on any
 * failure, none is left in the output directory.
 */
#ifndef MAYFLY_HARVEST_H
#define MAYFLY_HARVEST_H

#include <stddef.h>
#include <stdint.h>

#include "store/builds.h"

struct buildlog;
struct guest;
struct guest_file;

struct harvest_opts {
	struct guest *guest;
	const char *remote_dir;		/* the image's packages directory */
	const struct guest_file *before; /* its listing before the run */
	size_t nbefore;
	const char *out_dir;		/* where packages go (exists) */
	uint64_t max_bytes;		/* all files together; 0: no limit */
	/*
	 * When not NULL: exactly these files (NULL-terminated names), found
	 * in remote_dir or its .obsolete/; one missing fails the harvest
	 * (MF_E_BUILD) with its name. before is not used then.
	 */
	char *const *expect;
	struct buildlog *log;
	int (*tick)(void *payload);	/* cancellation, between chunks */
	void *payload;
};

/*
 * Downloads the new and changed files (or the expected ones), in name order, into out_dir.
 * *out gets them (free each with build_package_release(), then the array).
 * Over max_bytes: MF_E_BUILD, nothing downloaded.
 */
int harvest(const struct harvest_opts *o, struct build_package **out, size_t *n);

/* The guest path of a file in a directory (caller frees). */
char *harvest_remote_path(const char *dir, const char *name);

#endif
