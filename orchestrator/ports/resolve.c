/* resolve.c - see resolve.h. */
#include "ports/resolve.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "store/pkgindex.h"

char *const resolve_scriptlet_prerequires[] = {
	"coreutils", "cmd:bash", "cmd:find", "cmd:grep", "cmd:objcopy", "cmd:readelf",
	"cmd:sed", "cmd:strip", "cmd:xres", NULL,
};

struct tp_entry {
	const char *name;
	size_t pkg, prov; /* insertion order: the first provider wins */
};

struct tree_provides {
	const struct tree_package *pkgs;
	struct tp_entry *v;
	size_t n;
};

static int tp_cmp(const void *a, const void *b)
{
	const struct tp_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	if (x->pkg != y->pkg)
		return x->pkg < y->pkg ? -1 : 1;
	return x->prov < y->prov ? -1 : x->prov > y->prov;
}

struct tree_provides *tree_provides_new(const struct tree_package *pkgs, size_t n)
{
	struct tree_provides *t = xcalloc(1, sizeof(*t));
	size_t total = 0;

	for (size_t i = 0; i < n; i++)
		total += pkgs[i].nprovides;
	t->pkgs = pkgs;
	t->v = xcalloc(total ? total : 1, sizeof(*t->v));
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < pkgs[i].nprovides; k++)
			t->v[t->n++] = (struct tp_entry){ pkgs[i].provides[k].name, i, k };
	qsort(t->v, t->n, sizeof(*t->v), tp_cmp);
	return t;
}

void tree_provides_free(struct tree_provides *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

/* The first tree package that meets r, or NULL. */
static const struct tree_package *tree_find(const struct tree_provides *t,
					    const struct requirement *r)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(t->v[mid].name, r->name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < t->n && !strcmp(t->v[lo].name, r->name); lo++) {
		const struct tree_package *p = &t->pkgs[t->v[lo].pkg];
		if (requirement_met_by(r, &p->provides[t->v[lo].prov]))
			return p;
	}
	return NULL;
}

void resolution_release(struct resolution *r)
{
	free(r->pkgs);
	mf_strv_free(r->ports);
	mf_strv_free(r->missing);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

/* A requirement still to meet, and whose it is (for messages). */
struct want {
	struct requirement req;
	char *kind;	/* "build-requires", "requires" */
	char *of;	/* 'port "x-1.0"', 'package "y-1-x86_64.hpkg"' */
};

struct work {
	struct want *v;
	size_t n, alloc, next;
};

static void push(struct work *w, struct requirement *req, const char *kind, const char *of)
{
	if (w->n == w->alloc) {
		w->alloc = w->alloc ? 2 * w->alloc : 16;
		w->v = xrealloc(w->v, w->alloc * sizeof(*w->v));
	}
	w->v[w->n].req = *req;
	w->v[w->n].kind = xstrdup(kind);
	w->v[w->n].of = xstrdup(of);
	w->n++;
}

static void work_release(struct work *w)
{
	for (size_t i = 0; i < w->n; i++) {
		requirement_release(&w->v[i].req);
		free(w->v[i].kind);
		free(w->v[i].of);
	}
	free(w->v);
}

static int has_str(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

static void add_str(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parses text requirements onto the work list; a malformed one is an error. */
static int push_texts(struct work *w, char *const *texts, const char *kind, const char *of,
		      struct resolution *out)
{
	for (size_t i = 0; texts && texts[i]; i++) {
		struct requirement r;
		if (requirement_parse(texts[i], &r) < 0) {
			out->error = xasprintf("%s of %s: %s", kind, of, mf_error_msg());
			return -1;
		}
		push(w, &r, kind, of);
	}
	return 0;
}

/* The first index package that meets r (hpkg providers skipped for "base"). */
static int index_find(const struct resolve_env *env, const struct requirement *r, int64_t *pkg)
{
	struct pkg_provider *v;
	size_t n;

	*pkg = 0;
	if (r->base)
		return 0;
	if (pkgindex_providers(env->ix, r->name, env->arch, env->image, env->run, &v, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (requirement_met_by(r, &v[i].provide)) {
			*pkg = v[i].pkg;
			break;
		}
	pkg_providers_free(v, n);
	return 0;
}

int resolve_port(const struct resolve_env *env, const char *port, char *const *build_requires,
		 char *const *build_prerequires, struct resolution *out)
{
	struct work w = { 0 };
	char *of = xasprintf("port \"%s\"", port);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (push_texts(&w, build_requires, "build-requires", of, out) < 0 ||
	    push_texts(&w, build_prerequires, "build-prerequires", of, out) < 0 ||
	    push_texts(&w, env->always, "build-prerequires", of, out) < 0)
		goto done;
	for (; w.next < w.n; w.next++) {
		struct want *x = &w.v[w.next];
		int64_t pkg;
		if (index_find(env, &x->req, &pkg) < 0) {
			rc = -1;
			goto done;
		}
		if (pkg) {
			size_t i;
			for (i = 0; i < out->npkgs && out->pkgs[i] != pkg; i++)
				;
			if (i < out->npkgs)
				continue;
			out->pkgs = xrealloc(out->pkgs, (out->npkgs + 1) * sizeof(*out->pkgs));
			out->pkgs[out->npkgs++] = pkg;
			struct requirement *req;
			struct pkg_entry e;
			size_t n;
			if (pkgindex_get(env->ix, pkg, &e) < 0 ||
			    pkgindex_requires(env->ix, pkg, &req, &n) < 0) {
				pkg_entry_free(&e);
				rc = -1;
				goto done;
			}
			char *pof = xasprintf("package \"%s\"", e.file_name);
			for (size_t k = 0; k < n; k++)
				push(&w, &req[k], "requires", pof);
			free(req);
			free(pof);
			pkg_entry_free(&e);
			continue;
		}
		const struct tree_package *tp = env->tree ? tree_find(env->tree, &x->req) : NULL;
		if (tp && !strcmp(tp->port, port)) {
			char *s = requirement_string(&x->req);
			out->error = xasprintf("%s \"%s\" of %s is met only by the port itself", x->kind,
					       s, x->of);
			free(s);
			goto done;
		}
		if (tp) {
			if (has_str(out->missing, out->nmissing, tp->package_id))
				continue;
			add_str(&out->missing, &out->nmissing, tp->package_id);
			if (!has_str(out->ports, out->nports, tp->port))
				add_str(&out->ports, &out->nports, tp->port);
			char *pof = xasprintf("port \"%s\"", tp->port);
			for (size_t k = 0; k < tp->nrequires; k++) {
				struct requirement r = {
					.name = xstrdup(tp->requires[k].name),
					.op = tp->requires[k].op,
					.version = xstrdup_or_null(tp->requires[k].version),
					.base = tp->requires[k].base,
				};
				push(&w, &r, "requires", pof);
			}
			free(pof);
			continue;
		}
		char *s = requirement_string(&x->req);
		out->error = xasprintf("%s \"%s\" of %s could not be resolved", x->kind, s, x->of);
		free(s);
		goto done;
	}
	if (out->nmissing)
		qsort(out->missing, out->nmissing, sizeof(*out->missing), str_cmp);
done:
	work_release(&w);
	free(of);
	return rc;
}
