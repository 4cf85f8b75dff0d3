/* port.c - see port.h. */
#include "ports/port.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "store/images.h"
#include "store/trees.h"
#include "pkg/version.h"

/* --- the index */

struct collect {
	struct port_index *idx;
};

/* "cat-egory/port/name-version.recipe" as a recipe of the index. */
static int index_entry(void *arg, const struct mirror_entry *e)
{
	struct collect *c = arg;
	const char *p = e->path, *s1 = strchr(p, '/'), *s2, *file, *dash;

	if (!s1 || e->mode == 0120000)
		return 0;
	s2 = strchr(s1 + 1, '/');
	if (!s2 || strchr(s2 + 1, '/'))
		return 0;
	file = s2 + 1;
	/* Categories have a dash and do not start with a dot. */
	if (p[0] == '.' || !memchr(p, '-', (size_t)(s1 - p)))
		return 0;
	size_t flen = strlen(file);
	if (flen <= 7 || strcmp(file + flen - 7, ".recipe"))
		return 0;
	dash = strchr(file, '-');
	if (!dash || dash == file || memchr(dash + 1, '-', (size_t)(file + flen - 7 - dash - 1)) ||
	    dash + 1 == file + flen - 7)
		return 0;
	struct port_index *idx = c->idx;
	idx->v = xrealloc(idx->v, (idx->n + 1) * sizeof(*idx->v));
	struct port_recipe *r = &idx->v[idx->n++];
	r->name = xstrndup(file, (size_t)(dash - file));
	r->version = xstrndup(dash + 1, (size_t)(file + flen - 7 - dash - 1));
	r->dir = xstrndup(p, (size_t)(s2 - p));
	r->file = xstrdup(file);
	r->meta = (size_t)(s1 - p) == 10 && !strncmp(p, "meta-ports", 10);
	return 0;
}

static int by_name_version(const void *a, const void *b)
{
	const struct port_recipe *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	c = -version_compare(x->version, y->version); /* highest first */
	return c ? c : strcmp(x->dir, y->dir);
}

int port_index_build(struct mirror *m, const char *commit, struct port_index **out)
{
	struct port_index *idx = xcalloc(1, sizeof(*idx));
	struct collect c = { idx };

	*out = NULL;
	if (mirror_walk(m, commit, "", index_entry, &c) < 0) {
		port_index_free(idx);
		return -1;
	}
	if (idx->n)
		qsort(idx->v, idx->n, sizeof(*idx->v), by_name_version);
	*out = idx;
	return 0;
}

void port_index_free(struct port_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->n; i++) {
		free(idx->v[i].name);
		free(idx->v[i].version);
		free(idx->v[i].dir);
		free(idx->v[i].file);
	}
	free(idx->v);
	free(idx);
}

void port_index_find(const struct port_index *idx, const char *name, size_t *first, size_t *n)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(idx->v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	*n = 0;
	while (lo + *n < idx->n && !strcmp(idx->v[lo + *n].name, name))
		(*n)++;
}

/* --- packages */

void port_free(struct port *p)
{
	if (!p)
		return;
	free(p->versioned_name);
	free(p->dir);
	free(p->file);
	recipe_free(p->recipe);
	for (size_t i = 0; i < p->npackages; i++) {
		free(p->packages[i].name);
		free(p->packages[i].version);
		free(p->packages[i].arch);
		free(p->packages[i].file);
	}
	free(p->packages);
	free(p);
}

static int buildable(enum arch_status s, int allow_untested)
{
	return s == ARCH_STABLE || (s == ARCH_UNTESTED && allow_untested);
}

/* A package's status on the port's architecture (primary or secondary). */
static enum arch_status package_status(const struct port_ctx *c, const struct recipe *r,
				       const struct recipe_package *p)
{
	if (!r->secondary_arch || recipe_arch_any(p->architectures))
		return recipe_arch_status(p->architectures, c->env->target_arch);
	return recipe_arch_status(p->secondary_architectures, r->secondary_arch);
}

static void add_package(struct port *port, const char *name, const char *version,
			const char *arch, int revision, int index)
{
	port->packages = xrealloc(port->packages, (port->npackages + 1) * sizeof(*port->packages));
	struct port_package *pp = &port->packages[port->npackages++];
	pp->name = xstrdup(name);
	pp->version = xstrdup(version);
	pp->arch = xstrdup(arch);
	pp->file = xasprintf("%s-%s-%d-%s.hpkg", name, version, revision, arch);
	pp->recipe_package = index;
}

void port_packages(const struct port_ctx *c, struct port *port)
{
	const struct recipe *r = port->recipe;
	int explicit_source = 0;

	for (size_t i = 0; i < r->npackages; i++) {
		const struct recipe_package *p = &r->packages[i];
		int any = recipe_arch_any(p->architectures);
		if (!strcmp(p->ext, "source")) {
			explicit_source = 1;
			if (!c->create_source_packages)
				continue;
		}
		if (!buildable(package_status(c, r, p), c->env->allow_untested))
			continue;
		char *name = p->package_name ? xstrdup(p->package_name) :
			     xasprintf("%s%s%s", any ? r->base_name : r->name, *p->ext ? "_" : "",
				       p->ext);
		const char *arch = !strcmp(p->ext, "source") ? "source" :
				   any ? "any" : c->env->target_arch;
		add_package(port, name, p->package_version ? p->package_version : r->version, arch,
			    r->revision, (int)i);
		free(name);
	}
	/* HaikuPorter's automatic source package, when asked for. */
	if (c->create_source_packages && !port->meta && !explicit_source &&
	    !r->disable_source_package) {
		char *name = xasprintf("%s_source", r->name);
		add_package(port, name, r->version, "source", r->revision, -1);
		free(name);
	}
}

void port_ctx_init(struct port_ctx *c, struct recipe_env *env, struct db *db, struct mirror *m,
		   const char *commit, const struct port_index *idx, const struct image *img,
		   const struct tree *t)
{
	const struct image_settings *s = &img->settings;

	memset(env, 0, sizeof(*env));
	env->target_arch = s->target_arch;
	env->tree_path = s->tree_path;
	env->packager = t->packager;
	env->allow_untested = t->allow_untested;
	memset(c, 0, sizeof(*c));
	c->db = db;
	c->m = m;
	c->commit = commit;
	c->idx = idx;
	c->env = env;
	c->secondary_arches = s->secondary_arches;
	c->create_source_packages = t->create_source_packages;
}

/* --- resolving */

/* "zlib", "zlib-1.3.2", "zlib-1.3.2-3" into name, version, revision. */
static int split_spec(const char *spec, char **name, char **version, int *revision)
{
	const char *d1 = strchr(spec, '-'), *d2 = d1 ? strchr(d1 + 1, '-') : NULL;

	*name = *version = NULL;
	*revision = -1;
	if (recipe_name_check(spec) < 0)
		return mf_error_wrap("port '%.60s'", spec);
	if (d2 && strchr(d2 + 1, '-'))
		return mf_error(MF_E_USAGE, "'%s' is not a port: use NAME, NAME-VERSION or "
				"NAME-VERSION-REVISION", spec);
	*name = xstrndup(spec, d1 ? (size_t)(d1 - spec) : strlen(spec));
	if (d1)
		*version = xstrndup(d1 + 1, d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1));
	if (d2) {
		char *end;
		long v = strtol(d2 + 1, &end, 10);
		if (!d2[1] || *end || v < 0)
			return mf_error(MF_E_USAGE, "'%s': the revision must be a number", spec);
		*revision = (int)v;
	}
	if (!**name || (*version && !**version))
		return mf_error(MF_E_USAGE, "'%s' is not a port", spec);
	return 0;
}

/* "zlib_x86" with x86 among the builder's secondary architectures: base "zlib", "x86". */
static const char *secondary_of(const struct port_ctx *c, const char *name, char **base)
{
	const char *us = strrchr(name, '_');

	*base = NULL;
	if (!us || !c->secondary_arches)
		return NULL;
	for (const char *p = c->secondary_arches; *p;) {
		size_t n = strcspn(p, " ");
		if (n && strlen(us + 1) == n && !strncmp(us + 1, p, n)) {
			*base = xstrndup(name, (size_t)(us - name));
			return us + 1;
		}
		p += n;
		p += strspn(p, " ");
	}
	return NULL;
}

static const char *status_name(enum arch_status s)
{
	switch (s) {
	case ARCH_STABLE: return "stable";
	case ARCH_UNTESTED: return "untested";
	case ARCH_BROKEN: return "broken";
	case ARCH_UNSUPPORTED: break;
	}
	return "not supported";
}

int port_resolve(const struct port_ctx *c, const char *spec, struct port **out)
{
	char *name = NULL, *version = NULL, *base = NULL;
	const char *sec;
	size_t first, n;
	int revision, ret = -1;
	struct recipe **evals = NULL;
	struct recipe_job *jobs = NULL;
	struct strbuf why = STRBUF_INIT;

	*out = NULL;
	if (split_spec(spec, &name, &version, &revision) < 0)
		goto out;
	port_index_find(c->idx, name, &first, &n);
	sec = n ? NULL : secondary_of(c, name, &base);
	if (sec)
		port_index_find(c->idx, base, &first, &n);
	if (n == 0) {
		mf_error(MF_E_USAGE, "no port '%s' at commit %.12s", name, c->commit);
		goto out;
	}
	/* The same name in two categories is ambiguous. */
	for (size_t i = first + 1; i < first + n; i++) {
		if (strcmp(c->idx->v[i].dir, c->idx->v[first].dir)) {
			mf_error(MF_E_USAGE, "two ports are named '%s' at commit %.12s: %s and %s",
				 base ? base : name, c->commit, c->idx->v[first].dir,
				 c->idx->v[i].dir);
			goto out;
		}
	}
	/* Evaluate the candidates (one sandbox for all versions). */
	jobs = xcalloc(n, sizeof(*jobs));
	evals = xcalloc(n, sizeof(*evals));
	size_t k = 0;
	for (size_t i = first; i < first + n; i++) {
		const struct port_recipe *pr = &c->idx->v[i];
		if (version && strcmp(pr->version, version))
			continue;
		jobs[k++] = (struct recipe_job){ pr->dir, pr->file, pr->name, pr->version, sec };
	}
	if (k == 0) {
		for (size_t i = first; i < first + n; i++)
			strbuf_addf(&why, "%s%s", why.len ? ", " : "", c->idx->v[i].version);
		mf_error(MF_E_USAGE, "port '%s' has no version %s at commit %.12s (it has: %s)",
			 name, version, c->commit, why.buf);
		goto out;
	}
	if (recipe_evaluate(c->db, c->m, c->commit, c->env, jobs, k, evals) < 0)
		goto out;
	for (size_t i = 0; i < k; i++) {
		struct recipe *r = evals[i];
		const char *verdict = NULL;
		enum arch_status s = ARCH_UNSUPPORTED;
		if (r->error)
			verdict = r->error;
		else if (sec && recipe_arch_any(r->packages[0].architectures))
			verdict = "its main package is for any architecture: no secondary port";
		else if (!buildable(s = package_status(c, r, &r->packages[0]),
				    c->env->allow_untested))
			verdict = status_name(s);
		else if (revision >= 0 && r->revision != revision)
			verdict = "another revision";
		if (verdict && r->error) {
			strbuf_addf(&why, "%s%s: the recipe %s/%s does not evaluate: %s",
				    why.len ? "; " : "", r->version, jobs[i].port_dir, jobs[i].file,
				    verdict);
		} else if (verdict) {
			strbuf_addf(&why, "%s%s: %s", why.len ? "; " : "", r->version, verdict);
		}
		if (verdict) {
			if (r->error && version) {
				/* The version asked for does not evaluate: say so plainly. */
				mf_error(MF_E_USAGE, "the recipe %s/%s does not evaluate: %s",
					 jobs[i].port_dir, jobs[i].file, r->error);
				goto out;
			}
			continue;
		}
		struct port *p = xcalloc(1, sizeof(*p));
		p->versioned_name = xasprintf("%s-%s", r->name, r->version);
		p->dir = xstrdup(jobs[i].port_dir);
		p->file = xstrdup(jobs[i].file);
		for (size_t j = first; j < first + n; j++)
			if (!strcmp(c->idx->v[j].file, p->file))
				p->meta = c->idx->v[j].meta;
		p->recipe = r;
		evals[i] = NULL;
		port_packages(c, p);
		*out = p;
		ret = 0;
		goto out;
	}
	mf_error(MF_E_USAGE, "port '%s' has no version buildable on %s at commit %.12s (%s)",
		 name, sec ? sec : c->env->target_arch, c->commit, why.buf);
out:
	for (size_t i = 0; evals && i < n; i++)
		recipe_free(evals[i]);
	free(evals);
	free(jobs);
	strbuf_release(&why);
	free(name);
	free(version);
	free(base);
	return ret;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int port_prefetch(const struct port_ctx *c, char *const *dirs, size_t ndirs)
{
	struct recipe_job *jobs = xcalloc(c->idx->n + 1, sizeof(*jobs));
	struct recipe **evals;
	char **sorted = xcalloc(ndirs + 1, sizeof(char *));

	size_t n = 0;
	int ret;

	if (ndirs) {
		memcpy(sorted, dirs, ndirs * sizeof(char *));
		qsort(sorted, ndirs, sizeof(char *), by_str);
	}
	for (size_t j = 0; j < c->idx->n; j++) {
		const struct port_recipe *pr = &c->idx->v[j];
		if (!dirs || bsearch(&pr->dir, sorted, ndirs, sizeof(char *), by_str))
			jobs[n++] = (struct recipe_job){ pr->dir, pr->file, pr->name, pr->version,
							 NULL };
	}
	evals = xcalloc(n + 1, sizeof(*evals));
	ret = n ? recipe_evaluate(c->db, c->m, c->commit, c->env, jobs, n, evals) : 0;
	for (size_t i = 0; i < n; i++)
		recipe_free(evals[i]);
	free(evals);
	free(jobs);
	free(sorted);
	return ret;
}
