/* libFuzzer target: the reader of Haiku package and repository files
 * (packages come from builds and from repositories Mayfly imports). */
#include <stddef.h>
#include <stdint.h>

#include "pkg/hpkg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hpkg_file f;

	if (hpkg_read_buffer(data, size, "fuzz.hpkg", &f) == 0)
		hpkg_file_release(&f);
	return 0;
}
