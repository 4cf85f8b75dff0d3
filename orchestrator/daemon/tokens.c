/* tokens.c - see tokens.h. */
#include "daemon/tokens.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/crypto.h"
#include "common/error.h"
#include "common/log.h"
#include "common/util.h"

struct tokens {
	unsigned char (*digests)[32];
	size_t n;
};

int tokens_load(struct tokens **out, const char *path)
{
	struct tokens *t = xcalloc(1, sizeof(*t));
	char *text = NULL, *save = NULL;
	struct stat st;

	*out = NULL;
	if (path) {
		if (mf_read_file(path, 1 << 20, &text, NULL) < 0) {
			free(t);
			return mf_error_wrap("token_file");
		}
		if (stat(path, &st) == 0 && (st.st_mode & 077))
			log_warnx("%s can be read by other users (mode %03o); chmod 600 it", path,
				  (unsigned)(st.st_mode & 0777));
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			line[strcspn(line, "\r")] = '\0';
			while (*line == ' ' || *line == '\t')
				line++;
			if (!*line || *line == '#')
				continue;
			t->digests = xrealloc(t->digests, (t->n + 1) * sizeof(*t->digests));
			sha256_digest(line, strlen(line), t->digests[t->n++]);
		}
		/* The file's text held the tokens: leave no copy in freed memory. */
		explicit_bzero(text, strlen(text));
		free(text);
	}
	*out = t;
	return 0;
}

void tokens_free(struct tokens *t)
{
	if (!t)
		return;
	free(t->digests);
	free(t);
}

size_t tokens_count(const struct tokens *t)
{
	return t ? t->n : 0;
}

int tokens_check(const struct tokens *t, const char *header, char **who)
{
	unsigned char d[32];
	char hex[9];
	int ok = 0;

	*who = NULL;
	if (!t || !header || strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	header += 7;
	while (*header == ' ')
		header++;
	sha256_digest(header, strlen(header), d);
	/* Every token is compared, whichever matches. */
	for (size_t i = 0; i < t->n; i++)
		ok |= crypto_equal(d, t->digests[i], sizeof(d));
	if (!ok)
		return 0;
	for (int i = 0; i < 4; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	*who = xasprintf("token:%s", hex);
	return 1;
}
