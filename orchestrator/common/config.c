/* config.c - see config.h. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"

enum key_type { KEY_STRING, KEY_PATH, KEY_INT, KEY_ACCEL, KEY_LISTEN };

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	long min, max;
};

#define OFF(f) offsetof(struct mf_config, f)

static const struct key keys[] = {
	{ "daemon", "state_dir", KEY_PATH, OFF(state_dir), 0, 0 },
	{ "daemon", "listen", KEY_LISTEN, OFF(listen), 0, 0 },
	{ "daemon", "token_file", KEY_PATH, OFF(token_file), 0, 0 },
	{ "daemon", "libvirt_uri", KEY_STRING, OFF(libvirt_uri), 0, 0 },
	{ "daemon", "accel", KEY_ACCEL, OFF(accel), 0, 0 },
	{ "daemon", "poll_interval", KEY_INT, OFF(poll_interval), 0, 7 * 86400 },
	{ "limits", "max_vms", KEY_INT, OFF(max_vms), 1, 256 },
	{ "limits", "queue_max", KEY_INT, OFF(queue_max), 1, 1000000 },
	{ "limits", "boot_timeout", KEY_INT, OFF(boot_timeout), 1, 86400 },
	{ "limits", "build_timeout", KEY_INT, OFF(build_timeout), 1, 7 * 86400 },
	{ "limits", "idle_timeout", KEY_INT, OFF(idle_timeout), 1, 7 * 86400 },
	{ "limits", "infra_retries", KEY_INT, OFF(infra_retries), 0, 100 },
	{ "limits", "disk_reserve_mb", KEY_INT, OFF(disk_reserve_mb), 0, 1 << 30 },
	{ "limits", "quarantine_after", KEY_INT, OFF(quarantine_after), 1, 1000 },
	{ "limits", "max_request_mb", KEY_INT, OFF(max_request_mb), 1, 4096 },
	{ "limits", "max_connections", KEY_INT, OFF(max_connections), 16, 1000000 },
	{ "limits", "header_timeout", KEY_INT, OFF(header_timeout), 1, 3600 },
	{ "limits", "max_log_mb", KEY_INT, OFF(max_log_mb), 1, 1 << 20 },
	{ "limits", "max_package_mb", KEY_INT, OFF(max_package_mb), 1, 1 << 24 },
	{ "limits", "source_cache_mb", KEY_INT, OFF(source_cache_mb), 0, 1 << 30 },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void config_init(struct mf_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = xstrdup(MF_DEFAULT_STATE_DIR);
	cfg->libvirt_uri = xstrdup(MF_DEFAULT_LIBVIRT_URI);
	cfg->accel = MF_ACCEL_AUTO;
	cfg->listen = xstrdup("127.0.0.1:8470");
	cfg->boot_timeout = 180;
	cfg->build_timeout = 3600;
	cfg->idle_timeout = 600;
	cfg->max_vms = 2;
	cfg->queue_max = 100;
	cfg->infra_retries = 2;
	cfg->disk_reserve_mb = 2048;
	cfg->quarantine_after = 3;
	cfg->max_request_mb = 64;
	cfg->max_connections = 10000;
	cfg->header_timeout = 10;
	cfg->max_log_mb = 256;
	cfg->max_package_mb = 8192;
	cfg->source_cache_mb = 20480;
	cfg->poll_interval = 60;
}

void config_release(struct mf_config *cfg)
{
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->libvirt_uri);
	free(cfg->listen);
	free(cfg->token_file);
	memset(cfg, 0, sizeof(*cfg));
}

void config_copy(struct mf_config *dst, const struct mf_config *src)
{
	*dst = *src;
	dst->path = xstrdup_or_null(src->path);
	dst->state_dir = xstrdup_or_null(src->state_dir);
	dst->libvirt_uri = xstrdup_or_null(src->libvirt_uri);
	dst->listen = xstrdup_or_null(src->listen);
	dst->token_file = xstrdup_or_null(src->token_file);
}

const char *config_accel_name(enum mf_accel accel)
{
	switch (accel) {
	case MF_ACCEL_KVM:
		return "kvm";
	case MF_ACCEL_TCG:
		return "tcg";
	case MF_ACCEL_AUTO:
		break;
	}
	return "auto";
}

int config_parse_accel(const char *s, enum mf_accel *out)
{
	if (!strcmp(s, "auto"))
		*out = MF_ACCEL_AUTO;
	else if (!strcmp(s, "kvm"))
		*out = MF_ACCEL_KVM;
	else if (!strcmp(s, "tcg"))
		*out = MF_ACCEL_TCG;
	else
		return -1;
	return 0;
}

int config_parse_listen(const char *s, char *host, unsigned long hostlen, int *port)
{
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long p;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= hostlen)
		return -1;
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	p = strtol(colon + 1, &end, 10);
	if (p < 0 || p > 65535) /* 0: any free port */
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

/* Edit distance, for "did you mean" hints on short names. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(size_t) * (lb + 1));
	}
	return prev[lb];
}

static int known_section(const char *s)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, s))
			return 1;
	return 0;
}

static void unknown_key_hint(struct strbuf *err, const char *section, const char *name)
{
	const struct key *best = NULL;
	size_t bestd = 3;

	for (size_t i = 0; i < NKEYS; i++) {
		if (!strcmp(keys[i].name, name)) {
			strbuf_addf(err, "; it belongs in [%s]", keys[i].section);
			return;
		}
		size_t d = distance(keys[i].name, name);
		if (d < bestd) {
			bestd = d;
			best = &keys[i];
		}
	}
	if (best && !strcmp(best->section, section))
		strbuf_addf(err, "; did you mean '%s'?", best->name);
	else if (best)
		strbuf_addf(err, "; did you mean '%s' in [%s]?", best->name, best->section);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Cuts a value at a comment ("value  # note"); handles "quoted # values". */
static int parse_value(char *v, char **out)
{
	if (*v == '"') {
		char *end = strchr(v + 1, '"');
		if (!end)
			return -1;
		*end = '\0';
		char *rest = trim(end + 1);
		if (*rest && *rest != '#')
			return -1;
		*out = v + 1;
		return 0;
	}
	for (char *p = v; *p; p++) {
		if (*p == '#' && (p == v || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	}
	*out = trim(v);
	return 0;
}

static int set_key(struct mf_config *cfg, const struct key *k, const char *value,
		   struct strbuf *why)
{
	char *field = (char *)cfg + k->offset;

	switch (k->type) {
	case KEY_PATH:
		if (*value != '/') {
			strbuf_addf(why, "'%s' must be an absolute path, not '%s'", k->name, value);
			return -1;
		}
		/* fall through */
	case KEY_STRING:
		if (!*value) {
			strbuf_addf(why, "'%s' needs a value", k->name);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case KEY_INT: {
		char *end;
		errno = 0;
		long n = strtol(value, &end, 10);
		if (!*value || *end || errno) {
			strbuf_addf(why, "'%s' must be a whole number, not '%s'", k->name, value);
			return -1;
		}
		if (n < k->min || n > k->max) {
			strbuf_addf(why, "'%s' must be between %ld and %ld, not %ld", k->name,
				    k->min, k->max, n);
			return -1;
		}
		*(int *)field = (int)n;
		return 0;
	}
	case KEY_LISTEN: {
		char host[256];
		int port;
		if (config_parse_listen(value, host, sizeof(host), &port) < 0) {
			strbuf_addf(why, "'%s' must be HOST:PORT (e.g. 127.0.0.1:8470), not '%s'",
				    k->name, value);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	}
	case KEY_ACCEL:
		if (config_parse_accel(value, (enum mf_accel *)field) < 0) {
			strbuf_addf(why, "'%s' must be auto, kvm or tcg, not '%s'", k->name, value);
			return -1;
		}
		return 0;
	}
	return -1;
}

int config_parse(struct mf_config *cfg, const char *name, const char *text)
{
	struct strbuf errs = STRBUF_INIT;
	char *copy = xstrdup(text), *line, *save = NULL;
	char section[64] = "";
	int seen[NKEYS] = { 0 };
	int lineno = 0;

	/* strtok_r would skip empty lines and lose the line count. */
	for (line = copy; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || *trim(end + 1)) {
				strbuf_addf(&errs, "%s:%d: malformed section header '%s'\n", name,
					    lineno, s);
				snprintf(section, sizeof(section), "?"); /* reported once */
				continue;
			}
			*end = '\0';
			char *sec = trim(s + 1);
			if (!known_section(sec)) {
				strbuf_addf(&errs, "%s:%d: unknown section [%s] (known: [daemon], "
					    "[limits])\n", name, lineno, sec);
				snprintf(section, sizeof(section), "?");
				continue;
			}
			snprintf(section, sizeof(section), "%s", sec);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			strbuf_addf(&errs, "%s:%d: expected 'key = value', got '%s'\n", name, lineno, s);
			continue;
		}
		*eq = '\0';
		char *key = trim(s), *value;
		if (parse_value(trim(eq + 1), &value) < 0) {
			strbuf_addf(&errs, "%s:%d: unterminated or malformed quoted value for '%s'\n",
				    name, lineno, key);
			continue;
		}
		if (section[0] == '?')
			continue; /* already reported */
		if (section[0] == '\0') {
			strbuf_addf(&errs, "%s:%d: '%s' is outside any section (start with "
				    "[daemon] or [limits])\n", name, lineno, key);
			continue;
		}
		size_t i;
		for (i = 0; i < NKEYS; i++)
			if (!strcmp(keys[i].section, section) && !strcmp(keys[i].name, key))
				break;
		if (i == NKEYS) {
			strbuf_addf(&errs, "%s:%d: unknown key '%s' in [%s]", name, lineno, key,
				    section);
			unknown_key_hint(&errs, section, key);
			strbuf_addch(&errs, '\n');
			continue;
		}
		if (seen[i]) {
			strbuf_addf(&errs, "%s:%d: '%s' is set twice (first at line %d)\n", name,
				    lineno, key, seen[i]);
			continue;
		}
		seen[i] = lineno;
		struct strbuf why = STRBUF_INIT;
		if (set_key(cfg, &keys[i], value, &why) < 0)
			strbuf_addf(&errs, "%s:%d: %s\n", name, lineno, strbuf_str(&why));
		strbuf_release(&why);
	}
	free(copy);
	if (errs.len) {
		errs.buf[--errs.len] = '\0'; /* the last newline */
		mf_error(MF_E_USAGE, "%s", errs.buf);
		strbuf_release(&errs);
		return -1;
	}
	return 0;
}

int config_load(struct mf_config *cfg, const char *path)
{
	char *text = NULL;
	int ret;

	if (!path) {
		if (access(MF_DEFAULT_CONFIG, F_OK) < 0)
			return 0;
		path = MF_DEFAULT_CONFIG;
	}
	if (mf_read_file(path, 1 << 20, &text, NULL) < 0)
		return mf_error_wrap("config");
	ret = config_parse(cfg, path, text);
	free(text);
	if (ret == 0) {
		free(cfg->path);
		cfg->path = xstrdup(path);
	}
	return ret;
}

int config_apply_env(struct mf_config *cfg)
{
	const char *v;

	if ((v = getenv("MAYFLY_STATE_DIR")) && *v) {
		char cwd[PATH_MAX];
		if (*v != '/' && !getcwd(cwd, sizeof(cwd)))
			return mf_error_errno(MF_E_USAGE, "cannot resolve MAYFLY_STATE_DIR '%s'", v);
		free(cfg->state_dir);
		cfg->state_dir = *v == '/' ? xstrdup(v) : xasprintf("%s/%s", cwd, v);
	}
	if ((v = getenv("MAYFLY_LIBVIRT_URI")) && *v) {
		free(cfg->libvirt_uri);
		cfg->libvirt_uri = xstrdup(v);
	}
	if ((v = getenv("MAYFLY_ACCEL")) && *v && config_parse_accel(v, &cfg->accel) < 0)
		return mf_error(MF_E_USAGE, "MAYFLY_ACCEL must be auto, kvm or tcg, not '%s'", v);
	return 0;
}
