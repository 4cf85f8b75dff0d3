/*
 * changes.h - update mode: the ports a range of commits changed, as
 * buildmaster's `update` finds them (git diff-tree --diff-filter ACMTR,
 * then haikuporter --ports-for-files --active-versions-only).
 *
 * A changed file (added, copied, modified, type-changed or renamed;
 * deletions trigger nothing) triggers the active version of a port when it
 * is that version's recipe, a patch its PATCHES list (not for meta ports),
 * an ADDITIONAL_FILES entry (a file, or anything under an entry that is a
 * directory), or licenses/<LICENSE> of the port. Files outside port
 * directories, and files no active recipe refers to, trigger nothing.
 * Secondary-architecture ports of the builder are triggered with their
 * primary port when buildable.
 */
#ifndef MAYFLY_CHANGES_H
#define MAYFLY_CHANGES_H

#include <stddef.h>

#include "ports/port.h"

struct change {
	char *port;		/* versioned name */
	char *file;		/* the first changed file that triggered it */
};

/*
 * The ports the commits from..to changed (c->commit must be to). Sorted by
 * port. A port whose recipes do not evaluate, or that has no active
 * version, is left out (*skipped gets one line per such port, caller
 * frees; may be NULL).
 */
int changes_ports(const struct port_ctx *c, const char *from, struct change **out, size_t *n,
		  char **skipped);
void changes_free(struct change *v, size_t n);

#endif
