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
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"

enum key_type { KEY_STRING, KEY_PATH, KEY_INT, KEY_ACCEL, KEY_LISTEN, KEY_REPO_TYPE };

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
	{ "daemon", "public_url", KEY_STRING, OFF(public_url), 0, 0 },
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
	{ "limits", "package_cache_mb", KEY_INT, OFF(package_cache_mb), 0, 1 << 30 },
	{ "limits", "pr_max_vms", KEY_INT, OFF(pr_max_vms), 0, 256 },
	{ "limits", "pr_max_per_author", KEY_INT, OFF(pr_max_per_author), 1, 100000 },
	{ "limits", "pr_max_pending", KEY_INT, OFF(pr_max_pending), 1, 100000 },
	{ "limits", "pr_max_ports", KEY_INT, OFF(pr_max_ports), 1, 100000 },
	{ "limits", "max_webhook_kb", KEY_INT, OFF(max_webhook_kb), 1, 1 << 20 },
	{ "limits", "warm_ttl", KEY_INT, OFF(warm_ttl), 10, 7 * 86400 },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* The keys of a [repository ID] section, with offsets into struct mf_repository. */
#define ROFF(f) offsetof(struct mf_repository, f)
static const struct key repo_keys[] = {
	{ "repository", "type", KEY_REPO_TYPE, ROFF(type), 0, 0 },
	{ "repository", "path", KEY_PATH, ROFF(path), 0, 0 },
	{ "repository", "endpoint", KEY_STRING, ROFF(endpoint), 0, 0 },
	{ "repository", "region", KEY_STRING, ROFF(region), 0, 0 },
	{ "repository", "bucket", KEY_STRING, ROFF(bucket), 0, 0 },
	{ "repository", "prefix", KEY_STRING, ROFF(prefix), 0, 0 },
	{ "repository", "credentials_file", KEY_PATH, ROFF(credentials_file), 0, 0 },
	{ "repository", "name", KEY_STRING, ROFF(name), 0, 0 },
	{ "repository", "vendor", KEY_STRING, ROFF(vendor), 0, 0 },
	{ "repository", "summary", KEY_STRING, ROFF(summary), 0, 0 },
	{ "repository", "priority", KEY_INT, ROFF(priority), 0, 255 },
	{ "repository", "architecture", KEY_STRING, ROFF(architecture), 0, 0 },
	{ "repository", "identifier", KEY_STRING, ROFF(identifier), 0, 0 },
	{ "repository", "baseurl", KEY_STRING, ROFF(baseurl), 0, 0 },
	{ "repository", "signing_key", KEY_PATH, ROFF(signing_key), 0, 0 },
	{ "repository", "signing_password_file", KEY_PATH, ROFF(signing_password_file), 0, 0 },
	{ "repository", "publish_trees", KEY_STRING, ROFF(publish_trees), 0, 0 },
};

#define NREPOKEYS (sizeof(repo_keys) / sizeof(repo_keys[0]))

/* The string fields of struct mf_repository, for release and copy. */
static const size_t repo_strings[] = {
	ROFF(id), ROFF(path), ROFF(endpoint), ROFF(region), ROFF(bucket), ROFF(prefix),
	ROFF(credentials_file), ROFF(name), ROFF(vendor), ROFF(summary), ROFF(architecture),
	ROFF(identifier), ROFF(baseurl), ROFF(signing_key), ROFF(signing_password_file),
	ROFF(publish_trees),
};

static void repo_release(struct mf_repository *r)
{
	for (size_t i = 0; i < sizeof(repo_strings) / sizeof(repo_strings[0]); i++)
		free(*(char **)((char *)r + repo_strings[i]));
}

static void repo_copy(struct mf_repository *dst, const struct mf_repository *src)
{
	*dst = *src;
	for (size_t i = 0; i < sizeof(repo_strings) / sizeof(repo_strings[0]); i++) {
		char **f = (char **)((char *)dst + repo_strings[i]);
		*f = xstrdup_or_null(*f);
	}
}

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
	cfg->package_cache_mb = 4096;
	cfg->pr_max_vms = 1;
	cfg->warm_ttl = 600;
	cfg->pr_max_per_author = 3;
	cfg->pr_max_pending = 3;
	cfg->pr_max_ports = 100;
	cfg->max_webhook_kb = 25600;
	cfg->poll_interval = 60;
}

void config_release(struct mf_config *cfg)
{
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->libvirt_uri);
	free(cfg->listen);
	free(cfg->token_file);
	free(cfg->public_url);
	for (size_t i = 0; i < cfg->nrepos; i++)
		repo_release(&cfg->repos[i]);
	free(cfg->repos);
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
	dst->public_url = xstrdup_or_null(src->public_url);
	dst->repos = src->nrepos ? xcalloc(src->nrepos, sizeof(*dst->repos)) : NULL;
	for (size_t i = 0; i < src->nrepos; i++)
		repo_copy(&dst->repos[i], &src->repos[i]);
}

const char *config_repo_type_name(enum mf_repo_type t)
{
	return t == MF_REPO_S3 ? "s3" : "local";
}

const struct mf_repository *config_repository(const struct mf_config *cfg, const char *id)
{
	struct strbuf known = STRBUF_INIT;

	for (size_t i = 0; i < cfg->nrepos; i++)
		if (!strcmp(cfg->repos[i].id, id))
			return &cfg->repos[i];
	for (size_t i = 0; i < cfg->nrepos; i++)
		strbuf_addf(&known, "%s%s", i ? ", " : "", cfg->repos[i].id);
	mf_error(MF_E_USAGE, "no repository '%s' in %s (%s%s)", id,
		 cfg->path ? cfg->path : "the settings",
		 cfg->nrepos ? "configured: " : "none is configured; add a [repository NAME] section",
		 strbuf_str(&known));
	strbuf_release(&known);
	return NULL;
}

int config_repository_publishes_tree(const struct mf_repository *r, const char *tree)
{
	const char *p = r->publish_trees;
	size_t n = strlen(tree);

	while (p && *p) {
		p += strspn(p, " ,");
		size_t w = strcspn(p, " ,");
		if (w == n && !strncmp(p, tree, n))
			return 1;
		p += w;
	}
	return 0;
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

static int set_key(void *base, const struct key *k, const char *value, struct strbuf *why)
{
	char *field = (char *)base + k->offset;

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
	case KEY_REPO_TYPE:
		if (!strcmp(value, "local") || !strcmp(value, "s3")) {
			*(enum mf_repo_type *)field = *value == 's' ? MF_REPO_S3 : MF_REPO_LOCAL;
			return 0;
		}
		strbuf_addf(why, "'%s' must be local or s3, not '%s'", k->name, value);
		return -1;
	case KEY_ACCEL:
		if (config_parse_accel(value, (enum mf_accel *)field) < 0) {
			strbuf_addf(why, "'%s' must be auto, kvm or tcg, not '%s'", k->name, value);
			return -1;
		}
		return 0;
	}
	return -1;
}

static int in_list(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(name, *list))
			return 1;
	return 0;
}

/* What a finished [repository ID] section lacks or has too much of;
 * seen[i] is the line repo_keys[i] was set on (0: not set). */
static void repo_check(const struct mf_repository *r, const int *seen, const char *name,
		       struct strbuf *errs)
{
	static const char *const needed[] = { "type", "name", "vendor", "summary", "priority",
					      "architecture", "identifier", NULL };
	static const char *const s3_needed[] = { "endpoint", "region", "bucket",
						 "credentials_file", NULL };
	static const char *const s3_only[] = { "endpoint", "region", "bucket", "prefix",
					       "credentials_file", NULL };
	int s3 = r->type == MF_REPO_S3;

	for (size_t i = 0; i < NREPOKEYS; i++) {
		const char *k = repo_keys[i].name;
		if (!seen[i] && (in_list(k, needed) || (seen[0] && s3 && in_list(k, s3_needed)) ||
				 (seen[0] && !s3 && !strcmp(k, "path"))))
			strbuf_addf(errs, "%s:%d: [repository %s]%s needs '%s'\n", name, r->line,
				    r->id, !in_list(k, needed) ? (s3 ? " of type s3" :
								 " of type local") : "", k);
		if (seen[i] && seen[0] && ((!s3 && in_list(k, s3_only)) ||
					  (s3 && !strcmp(k, "path"))))
			strbuf_addf(errs, "%s:%d: '%s' does not apply to a repository of type %s\n",
				    name, seen[i], k, config_repo_type_name(r->type));
	}
	if (r->endpoint && strncmp(r->endpoint, "http://", 7) && strncmp(r->endpoint, "https://", 8))
		strbuf_addf(errs, "%s:%d: 'endpoint' must be an http:// or https:// URL, not '%s'\n",
			    name, r->line, r->endpoint);
	else if (r->endpoint && strchr(r->endpoint, '@'))
		/* Not echoed: it may hold a secret. */
		strbuf_addf(errs, "%s:%d: 'endpoint' must not hold a user or password (put keys "
			    "in credentials_file)\n", name, r->line);
	if (r->prefix && (*r->prefix == '/' || r->prefix[strlen(r->prefix) - 1] != '/'))
		strbuf_addf(errs, "%s:%d: 'prefix' must end with '/' and not start with one, "
			    "not '%s'\n", name, r->line, r->prefix);
	if (r->architecture && (!strcmp(r->architecture, "any") ||
				arch_check("architecture", r->architecture, 0) < 0))
		strbuf_addf(errs, "%s:%d: [repository %s]: 'architecture' must be a machine "
			    "architecture (x86_64, x86_gcc2, ...), not '%s'\n", name, r->line, r->id,
			    r->architecture);
	if (r->signing_password_file && !r->signing_key)
		strbuf_addf(errs, "%s:%d: [repository %s] has 'signing_password_file' but no "
			    "'signing_key'\n", name, r->line, r->id);
}

/* 1 if one of the prefixes starts the other (NULL: the whole bucket). */
static int prefixes_meet(const char *a, const char *b)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	return !strncmp(a ? a : "", b ? b : "", la < lb ? la : lb);
}

/* Two repositories that would write over each other (the same directory, or
 * one S3 prefix inside another's) are refused: each has its own lock. */
static void repos_overlap(const struct mf_config *cfg, size_t from, const char *name,
			  struct strbuf *errs)
{
	for (size_t i = from; i < cfg->nrepos; i++)
		for (size_t j = 0; j < i; j++) {
			const struct mf_repository *a = &cfg->repos[j], *b = &cfg->repos[i];
			int same = a->type == MF_REPO_LOCAL && b->type == MF_REPO_LOCAL && a->path &&
				   b->path && !strcmp(a->path, b->path);
			same |= a->type == MF_REPO_S3 && b->type == MF_REPO_S3 && a->endpoint &&
				b->endpoint && a->bucket && b->bucket &&
				!strcmp(a->endpoint, b->endpoint) && !strcmp(a->bucket, b->bucket) &&
				prefixes_meet(a->prefix, b->prefix);
			if (same)
				strbuf_addf(errs, "%s:%d: [repository %s] writes where [repository %s] "
					    "(line %d) does: give each its own %s\n", name, b->line,
					    b->id, a->id, a->line,
					    a->type == MF_REPO_LOCAL ? "path" : "bucket or prefix");
		}
}

static int is_secret_key(const char *key)
{
	return strstr(key, "secret") || strstr(key, "password") || strstr(key, "access_key") ||
	       strstr(key, "token");
}

/* Starts a [repository ID] section (MF_E_USAGE into errs when it cannot). */
static int add_repository(struct mf_config *cfg, const char *id, const char *name, int lineno,
			  struct strbuf *errs, struct mf_repository **out)
{
	if (!*id) {
		strbuf_addf(errs, "%s:%d: [repository] needs a name: [repository NAME]\n", name,
			    lineno);
		return -1;
	}
	if (name_check_repo(id) < 0) {
		strbuf_addf(errs, "%s:%d: %s\n", name, lineno, mf_error_msg());
		return -1;
	}
	for (size_t i = 0; i < cfg->nrepos; i++)
		if (!strcmp(cfg->repos[i].id, id)) {
			strbuf_addf(errs, "%s:%d: [repository %s] appears twice (first at line %d)\n",
				    name, lineno, id, cfg->repos[i].line);
			return -1;
		}
	cfg->repos = xrealloc(cfg->repos, (cfg->nrepos + 1) * sizeof(*cfg->repos));
	*out = &cfg->repos[cfg->nrepos++];
	memset(*out, 0, sizeof(**out));
	(*out)->id = xstrdup(id);
	(*out)->line = lineno;
	(*out)->priority = -1;
	return 0;
}

static void set_repo_key(struct mf_repository *r, int *seen, const char *key, const char *value,
			 const char *name, int lineno, struct strbuf *errs)
{
	size_t i;

	for (i = 0; i < NREPOKEYS; i++)
		if (!strcmp(repo_keys[i].name, key))
			break;
	if (i == NREPOKEYS) {
		if (is_secret_key(key)) {
			strbuf_addf(errs, "%s:%d: '%s' looks like a secret: secrets never go in the "
				    "settings; put them in the file 'credentials_file' names\n",
				    name, lineno, key);
			return;
		}
		const char *best = NULL;
		size_t bestd = 3;
		for (size_t j = 0; j < NREPOKEYS; j++) {
			size_t d = distance(repo_keys[j].name, key);
			if (d < bestd)
				bestd = d, best = repo_keys[j].name;
		}
		strbuf_addf(errs, "%s:%d: unknown key '%s' in [repository %s]", name, lineno, key,
			    r->id);
		if (best)
			strbuf_addf(errs, "; did you mean '%s'?", best);
		strbuf_addch(errs, '\n');
		return;
	}
	if (seen[i]) {
		strbuf_addf(errs, "%s:%d: '%s' is set twice (first at line %d)\n", name, lineno, key,
			    seen[i]);
		return;
	}
	seen[i] = lineno;
	struct strbuf why = STRBUF_INIT;
	if (set_key(r, &repo_keys[i], value, &why) < 0)
		strbuf_addf(errs, "%s:%d: %s\n", name, lineno, strbuf_str(&why));
	strbuf_release(&why);
}

int config_parse(struct mf_config *cfg, const char *name, const char *text)
{
	struct mf_repository *repo = NULL; /* the [repository] section being read */
	int repo_seen[NREPOKEYS];
	size_t nrepos_before = cfg->nrepos;
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
			if (repo)
				repo_check(repo, repo_seen, name, &errs);
			repo = NULL;
			if (!strncmp(sec, "repository", 10) &&
			    (!sec[10] || isspace((unsigned char)sec[10]))) {
				const char *id = trim(sec + 10);
				if (add_repository(cfg, id, name, lineno, &errs, &repo) < 0) {
					snprintf(section, sizeof(section), "?");
					continue;
				}
				memset(repo_seen, 0, sizeof(repo_seen));
				snprintf(section, sizeof(section), "repository");
				continue;
			}
			if (!known_section(sec)) {
				strbuf_addf(&errs, "%s:%d: unknown section [%s] (known: [daemon], "
					    "[limits], [repository NAME])\n", name, lineno, sec);
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
		if (repo) {
			set_repo_key(repo, repo_seen, key, value, name, lineno, &errs);
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
	if (repo)
		repo_check(repo, repo_seen, name, &errs);
	repos_overlap(cfg, nrepos_before, name, &errs);
	free(copy);
	if (errs.len) {
		/* Repositories from a file with errors are not half-kept. */
		while (cfg->nrepos > nrepos_before)
			repo_release(&cfg->repos[--cfg->nrepos]);
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
