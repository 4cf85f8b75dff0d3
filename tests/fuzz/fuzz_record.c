/* libFuzzer target: vmctl's reader of mayflyd's build documents. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/builds.h"
#include "json/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct build_record *r = NULL, **v = NULL;
	size_t n = 0;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (wire_parse_record(text, &r) == 0)
		build_record_free(r);
	if (wire_parse_records(text, &v, &n) == 0)
		build_records_free(v, n);
	free(wire_error_text(text));
	free(text);
	return 0;
}
