/* changes.c - see changes.h. */
#include "ports/changes.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"

/* The port directory ("sys-libs/zlib") a path is in, or NULL. */
static char *port_dir_of(const char *path)
{
	const char *s1 = strchr(path, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;

	if (!s2 || path[0] == '.' || !memchr(path, '-', (size_t)(s1 - path)))
		return NULL;
	return xstrndup(path, (size_t)(s2 - path));
}

/* Whether the port refers to the file (path relative to the tree). */
static int references(const struct port *p, const char *path)
{
	const struct recipe *r = p->recipe;
	size_t dl = strlen(p->dir);
	const char *rel;

	if (strncmp(path, p->dir, dl) || path[dl] != '/')
		return 0;
	rel = path + dl + 1;
	if (!strcmp(rel, p->file))
		return 1;
	if (!p->meta && !strncmp(rel, "patches/", 8))
		for (char **e = r->patches; e && *e; e++)
			if (!strcmp(rel + 8, *e))
				return 1;
	if (!strncmp(rel, "additional-files/", 17)) {
		const char *f = rel + 17;
		for (char **e = r->additional_files; e && *e; e++) {
			size_t el = strlen(*e);
			/* The entry itself, or anything under it (it is then a directory). */
			if (!strncmp(f, *e, el) && (f[el] == '\0' || f[el] == '/'))
				return 1;
		}
	}
	if (!strncmp(rel, "licenses/", 9))
		for (char **e = r->licenses; e && *e; e++)
			if (!strcmp(rel + 9, *e))
				return 1;
	return 0;
}

static int by_port(const void *a, const void *b)
{
	return strcmp(((const struct change *)a)->port, ((const struct change *)b)->port);
}

static void add(struct change **v, size_t *n, const char *port, const char *file)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].port, port))
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[*n].port = xstrdup(port);
	(*v)[*n].file = xstrdup(file);
	(*n)++;
}

/* The first changed file the port refers to, or NULL. */
static const char *trigger(const struct port *p, char **paths, size_t npaths)
{
	for (size_t i = 0; i < npaths; i++)
		if (references(p, paths[i]))
			return paths[i];
	return NULL;
}


int changes_ports(const struct port_ctx *c, const char *from, struct change **out, size_t *n,
		  char **skipped)
{
	struct mirror_change *d = NULL;
	size_t nd = 0, npaths = 0, ndirs = 0;
	char **paths = NULL, **dirs = NULL;
	struct strbuf skip = STRBUF_INIT;
	struct change *v = NULL;
	size_t len = 0;
	int ret = -1;

	*out = NULL;
	*n = 0;
	if (skipped)
		*skipped = NULL;
	if (mirror_diff(c->m, from, c->commit, &d, &nd) < 0)
		return -1;
	for (size_t i = 0; i < nd; i++) {
		char *dir;
		if (d[i].status == 'D' || !d[i].path)
			continue;
		paths = xrealloc(paths, (npaths + 1) * sizeof(char *));
		paths[npaths++] = d[i].path;
		if (!(dir = port_dir_of(d[i].path)))
			continue;
		int seen = 0;
		for (size_t j = 0; j < ndirs; j++)
			seen |= !strcmp(dirs[j], dir);
		if (seen) {
			free(dir);
			continue;
		}
		dirs = xrealloc(dirs, (ndirs + 1) * sizeof(char *));
		dirs[ndirs++] = dir;
	}
	/*
	 * Every recipe of the touched directories evaluated at once, a few
	 * hundred to a sandbox (filling the cache), instead of one sandbox per
	 * port below: 4,000 changed ports cost seconds, not minutes.
	 */
	if (port_prefetch(c, dirs, ndirs) < 0)
		goto out;
	/* Each touched port directory: the active version of each port in it. */
	for (size_t i = 0; i < ndirs; i++) {
		char **names = NULL;
		size_t nnames = 0;
		for (size_t j = 0; j < c->idx->n; j++) {
			if (strcmp(c->idx->v[j].dir, dirs[i]))
				continue;
			int seen = 0;
			for (size_t k = 0; k < nnames; k++)
				seen |= !strcmp(names[k], c->idx->v[j].name);
			if (!seen) {
				names = xrealloc(names, (nnames + 1) * sizeof(char *));
				names[nnames++] = c->idx->v[j].name;
			}
		}
		for (size_t k = 0; k < nnames; k++) {
			struct port *p = NULL;
			if (port_resolve(c, names[k], &p) < 0) {
				if (mf_error_class() != MF_E_USAGE)
					goto out;
				strbuf_addf(&skip, "%s: %s\n", names[k], mf_error_msg());
				mf_error_clear();
				continue;
			}
			const char *t = trigger(p, paths, npaths);
			if (t)
				add(&v, &len, p->versioned_name, t);
			port_free(p);
			if (!t)
				continue;
			/* Its secondary-architecture ports, where buildable. */
			for (const char *s = c->secondary_arches ? c->secondary_arches : ""; *s;) {
				size_t sl = strcspn(s, " ");
				char *spec = xasprintf("%s_%.*s", names[k], (int)sl, s);
				if (sl && port_resolve(c, spec, &p) == 0) {
					add(&v, &len, p->versioned_name, t);
					port_free(p);
				} else {
					mf_error_clear();
				}
				free(spec);
				s += sl;
				s += strspn(s, " ");
			}
		}
		free(names);
	}
	if (len)
		qsort(v, len, sizeof(*v), by_port);
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
	if (skipped && skip.len)
		*skipped = strbuf_detach(&skip);
	ret = 0;
out:
	changes_free(v, len);
	strbuf_release(&skip);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	free(paths);
	mirror_changes_free(d, nd);
	return ret;
}

void changes_free(struct change *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].port);
		free(v[i].file);
	}
	free(v);
}
