/* libFuzzer target: mayflyd's parser of build submissions (untrusted input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "json/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_submission s;
	char *field = NULL;

	if (wire_parse_submission((const char *)data, size, &s, &field) == 0)
		wire_submission_release(&s);
	free(field);
	return 0;
}
