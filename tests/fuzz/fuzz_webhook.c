/* libFuzzer target: forges' webhook deliveries (json/forge.c), whose bodies
 * come from the network. The first byte chooses the forge and the event
 * (its header): '0' to '6' as listed below; the rest is the body. The seeds
 * (seeds/webhook/) are the samples of tests/data/forge behind such a byte. */
#include <stddef.h>
#include <stdint.h>

#include "json/forge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		enum forge forge;
		const char *event;
	} events[] = {
		{ FORGE_GITHUB, "push" },
		{ FORGE_GITHUB, "pull_request" },
		{ FORGE_GITHUB, "ping" },
		{ FORGE_GITHUB, "issues" },
		{ FORGE_GITLAB, "Push Hook" },
		{ FORGE_GITLAB, "Merge Request Hook" },
		{ FORGE_GITLAB, "Tag Push Hook" },
	};
	struct forge_event e;

	if (size < 1)
		return 0;
	size_t i = (data[0] & 0x0f) % (sizeof(events) / sizeof(events[0]));
	if (forge_parse_event(events[i].forge, events[i].event, (const char *)data + 1, size - 1,
			      &e) == 0)
		forge_event_release(&e);
	return 0;
}
