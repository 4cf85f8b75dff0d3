/* libFuzzer target: the archived repository info (a flattened BMessage) of
 * Haiku repository files, which Mayfly reads from repositories it imports. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pkg/hpkr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_info ri;
	unsigned char *out;
	size_t len;

	if (repoinfo_decode(data, size, "fuzz", &ri) < 0)
		return 0;
	/* What decodes encodes again. */
	if (repoinfo_encode(&ri, &out, &len) < 0)
		abort();
	free(out);
	repoinfo_release(&ri);
	return 0;
}
