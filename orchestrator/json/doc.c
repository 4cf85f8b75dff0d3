/* doc.c - see doc.h. */
#include "json/doc.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"

char *doc_dump(json_t *doc, int indent)
{
	char *s = json_dumps(doc, JSON_INDENT(indent) | JSON_PRESERVE_ORDER);
	char *out;

	json_decref(doc);
	if (!s) {
		fputs("mayfly: cannot encode JSON\n", stderr);
		abort();
	}
	out = xasprintf("%s\n", s);
	free(s);
	return out;
}

json_t *doc_str(const char *s)
{
	json_t *j = json_string(s ? s : "");

	if (!j) {
		char *copy = xstrdup(s);
		for (char *p = copy; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		j = json_string(copy);
		free(copy);
	}
	return j;
}
