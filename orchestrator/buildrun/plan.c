/* plan.c - a build run planned: see buildrun.h. */
#include "buildrun/buildrun.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "pkg/resolvable.h"
#include "ports/port.h"
#include "ports/resolve.h"
#include "ports/tree.h"
#include "store/images.h"
#include "store/pkgindex.h"
#include "store/state.h"
#include "store/trees.h"

/* Everything planning holds. */
struct planner {
	struct mf_state *st;
	const struct plan_opts *o;
	struct tree *tree;
	struct image *img;
	struct mirror *m;
	struct port_index *idx;
	struct recipe_env renv;
	struct port_ctx pc;
	struct pkgindex *ix;
	/* Every active port of the tree, and the packages they make. */
	struct port **all;
	size_t nall;
	struct tree_package *tp;
	size_t ntp;
	struct tree_provides *provides;
	/* The run's ports, in the order they were added. */
	struct port **run;
	size_t nrun;
	struct buildrun *r;
};

static void add_strv(char ***v, const char *s)
{
	size_t n = mf_strv_len(*v);
	*v = xrealloc(*v, (n + 2) * sizeof(**v));
	(*v)[n] = xstrdup(s);
	(*v)[n + 1] = NULL;
}

static int has(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* "name-version": what buildmaster calls a package id. */
static char *package_id(const struct port_package *pp)
{
	return xasprintf("%s-%s", pp->name, pp->version);
}

static void parse_list(char *const *texts, struct hpkg_provide **prov, size_t *nprov,
		       struct requirement **req, size_t *nreq)
{
	for (size_t i = 0; texts && texts[i]; i++) {
		if (prov) {
			struct hpkg_provide p;
			if (provide_parse(texts[i], &p) < 0)
				continue;
			*prov = xrealloc(*prov, (*nprov + 1) * sizeof(**prov));
			(*prov)[(*nprov)++] = p;
		} else {
			struct requirement r;
			if (requirement_parse(texts[i], &r) < 0)
				continue;
			*req = xrealloc(*req, (*nreq + 1) * sizeof(**req));
			(*req)[(*nreq)++] = r;
		}
	}
}

/* What every active port of the tree makes and provides (the resolver's
 * last providers). Ports that do not resolve provide nothing. */
static int tree_packages(struct planner *pl)
{
	const struct port_index *idx = pl->idx;

	if (port_prefetch(&pl->pc, NULL, 0) < 0)
		return -1;
	for (size_t i = 0; i < idx->n; i++) {
		if (i && !strcmp(idx->v[i].name, idx->v[i - 1].name))
			continue;
		struct port *p;
		if (port_resolve(&pl->pc, idx->v[i].name, &p) < 0) {
			mf_error_clear();
			continue;
		}
		pl->all = xrealloc(pl->all, (pl->nall + 1) * sizeof(*pl->all));
		pl->all[pl->nall++] = p;
	}
	for (size_t i = 0; i < pl->nall; i++) {
		struct port *p = pl->all[i];
		for (size_t k = 0; k < p->npackages; k++) {
			const struct port_package *pp = &p->packages[k];
			if (pp->recipe_package < 0)
				continue; /* a source package provides nothing to build with */
			const struct recipe_package *rp = &p->recipe->packages[pp->recipe_package];
			struct hpkg_provide *prov = NULL;
			struct requirement *req = NULL;
			size_t nprov = 0, nreq = 0;
			parse_list(rp->provides, &prov, &nprov, NULL, NULL);
			parse_list(rp->requires, NULL, NULL, &req, &nreq);
			pl->tp = xrealloc(pl->tp, (pl->ntp + 1) * sizeof(*pl->tp));
			pl->tp[pl->ntp++] = (struct tree_package){
				.port = p->versioned_name,
				.package_id = package_id(pp),
				.provides = prov,
				.nprovides = nprov,
				.requires = req,
				.nrequires = nreq,
			};
		}
	}
	pl->provides = tree_provides_new(pl->tp, pl->ntp);
	return 0;
}

static struct port *find_all(struct planner *pl, const char *versioned)
{
	for (size_t i = 0; i < pl->nall; i++)
		if (!strcmp(pl->all[i]->versioned_name, versioned))
			return pl->all[i];
	return NULL;
}

static struct br_port *run_port(struct buildrun *r, const char *versioned)
{
	for (size_t i = 0; i < r->nports; i++)
		if (!strcmp(r->ports[i].port, versioned))
			return &r->ports[i];
	return NULL;
}

/* Adds a port to the run (once); its state is decided later. */
static struct br_port *add_port(struct planner *pl, struct port *p)
{
	struct buildrun *r = pl->r;
	struct br_port *bp = run_port(r, p->versioned_name);

	if (bp)
		return bp;
	r->ports = xrealloc(r->ports, (r->nports + 1) * sizeof(*r->ports));
	pl->run = xrealloc(pl->run, (r->nports + 1) * sizeof(*pl->run));
	pl->run[r->nports] = p;
	pl->nrun = r->nports + 1;
	bp = &r->ports[r->nports++];
	memset(bp, 0, sizeof(*bp));
	bp->port = xstrdup(p->versioned_name);
	bp->name = xstrndup(p->versioned_name, strrchr(p->versioned_name, '-') -
						       p->versioned_name);
	bp->version = xstrdup(strrchr(p->versioned_name, '-') + 1);
	bp->revision = p->recipe->revision;
	bp->recipe_path = xasprintf("%s/%s", p->dir, p->file);
	bp->state = BR_BLOCKED;
	bp->makes = xcalloc(1, sizeof(char *));
	bp->resulting = xcalloc(1, sizeof(char *));
	bp->required = xcalloc(1, sizeof(char *));
	bp->missing = xcalloc(1, sizeof(char *));
	for (size_t k = 0; k < p->npackages; k++) {
		char *id = package_id(&p->packages[k]);
		if (!has(bp->makes, id))
			add_strv(&bp->makes, id);
		free(id);
		add_strv(&bp->resulting, p->packages[k].file);
	}
	return bp;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Resolves port i of the run; adds the ports it needs. */
static int resolve_one(struct planner *pl, size_t i)
{
	struct port *p = pl->run[i];
	struct resolution res;
	struct resolve_env env = {
		.ix = pl->ix,
		.arch = pl->img->settings.target_arch,
		.image = pl->img->name,
		.tree = pl->provides,
		.always = resolve_scriptlet_prerequires,
	};

	/* buildmaster: a port whose packages exist is not built again. */
	for (size_t k = 0; k < p->npackages; k++) {
		int rc = pkgindex_has_file(pl->ix, p->packages[k].file);
		if (rc < 0)
			return -1;
		if (rc) {
			struct br_port *bp = &pl->r->ports[i];
			bp->state = BR_SKIPPED;
			bp->reason = xasprintf("some packages already exist in the package "
					       "repository (%s), revision bump required",
					       p->packages[k].file);
			return 0;
		}
	}
	if (resolve_port(&env, p->versioned_name, p->recipe->build_requires,
			 p->recipe->build_prerequires, &res) < 0)
		return -1;
	struct br_port *bp = &pl->r->ports[i];
	if (res.error) {
		bp->state = BR_LOST;
		bp->reason = xasprintf("resolving build dependencies failed: %s", res.error);
		resolution_release(&res);
		return 0;
	}
	for (size_t k = 0; k < res.npkgs; k++) {
		struct pkg_entry e;
		if (pkgindex_get(pl->ix, res.pkgs[k], &e) < 0) {
			resolution_release(&res);
			return -1;
		}
		add_strv(&bp->required, e.file_name);
		pkg_entry_free(&e);
	}
	qsort(bp->required, mf_strv_len(bp->required), sizeof(char *), by_str);
	for (size_t k = 0; k < res.nmissing; k++)
		add_strv(&bp->missing, res.missing[k]);
	/* bp may move as ports are added: copy what is needed first. */
	char **need = xcalloc(res.nports + 1, sizeof(char *));
	for (size_t k = 0; k < res.nports; k++)
		need[k] = xstrdup(res.ports[k]);
	resolution_release(&res);
	for (size_t k = 0; need[k]; k++) {
		struct port *dep = find_all(pl, need[k]);
		if (dep)
			add_port(pl, dep);
	}
	mf_strv_free(need);
	return 0;
}

/* The run's ports that make package id (not lost, failed or skipped). */
static int made_by_live(const struct buildrun *r, const char *id)
{
	for (size_t i = 0; i < r->nports; i++) {
		const struct br_port *p = &r->ports[i];
		if ((p->state == BR_BLOCKED || p->state == BR_SCHEDULED || p->state == BR_ACTIVE ||
		     p->state == BR_COMPLETE) && has(p->makes, id))
			return 1;
	}
	return 0;
}

/* The port of the run that makes id, or -1. */
static ssize_t maker(const struct buildrun *r, const char *id)
{
	for (size_t i = 0; i < r->nports; i++)
		if (has(r->ports[i].makes, id))
			return (ssize_t)i;
	return -1;
}

/*
 * Dependency cycles among blocked ports (Tarjan's strongly connected
 * components over "waits for a package of"): each port of a cycle is lost,
 * the cycle named.
 */
struct tarjan {
	struct buildrun *r;
	int *index, *low, *on, *stack;
	int next, sp;
};

static void strongconnect(struct tarjan *t, int v)
{
	struct buildrun *r = t->r;

	t->index[v] = t->low[v] = t->next++;
	t->stack[t->sp++] = v;
	t->on[v] = 1;
	for (size_t k = 0; r->ports[v].missing[k]; k++) {
		ssize_t w = maker(r, r->ports[v].missing[k]);
		if (w < 0 || r->ports[w].state != BR_BLOCKED)
			continue;
		if (t->index[w] < 0) {
			strongconnect(t, (int)w);
			if (t->low[w] < t->low[v])
				t->low[v] = t->low[w];
		} else if (t->on[w] && t->index[w] < t->low[v]) {
			t->low[v] = t->index[w];
		}
	}
	if (t->low[v] != t->index[v])
		return;
	int first = t->sp;
	do
		first--;
	while (t->stack[first] != v);
	int size = t->sp - first;
	if (size > 1) {
		struct strbuf sb = STRBUF_INIT;
		for (int i = first; i < t->sp; i++)
			strbuf_addf(&sb, "%s -> ", r->ports[t->stack[i]].port);
		strbuf_addstr(&sb, r->ports[t->stack[first]].port);
		for (int i = first; i < t->sp; i++) {
			struct br_port *p = &r->ports[t->stack[i]];
			p->state = BR_LOST;
			free(p->reason);
			p->reason = xasprintf("dependency cycle: %s", sb.buf);
		}
		strbuf_release(&sb);
	}
	for (int i = first; i < t->sp; i++)
		t->on[t->stack[i]] = 0;
	t->sp = first;
}

static void lose_cycles(struct buildrun *r)
{
	size_t n = r->nports;
	struct tarjan t = { .r = r };

	t.index = xcalloc(n + 1, sizeof(int));
	t.low = xcalloc(n + 1, sizeof(int));
	t.on = xcalloc(n + 1, sizeof(int));
	t.stack = xcalloc(n + 1, sizeof(int));
	for (size_t i = 0; i < n; i++)
		t.index[i] = -1;
	for (size_t i = 0; i < n; i++)
		if (t.index[i] < 0 && r->ports[i].state == BR_BLOCKED)
			strongconnect(&t, (int)i);
	free(t.index);
	free(t.low);
	free(t.on);
	free(t.stack);
}

void buildrun_unblock(struct buildrun *r, const struct br_port *done)
{
	for (size_t i = 0; i < r->nports; i++) {
		struct br_port *q = &r->ports[i];
		if (q->state != BR_BLOCKED)
			continue;
		size_t w = 0;
		for (size_t k = 0; q->missing[k]; k++) {
			if (has(done->makes, q->missing[k]))
				free(q->missing[k]);
			else
				q->missing[w++] = q->missing[k];
		}
		q->missing[w] = NULL;
		if (w == 0)
			q->state = BR_SCHEDULED;
	}
}

void buildrun_lose_dependents(struct buildrun *r)
{
	/* Until nothing changes: a blocked port waiting for a package no live port makes. */
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < r->nports; i++) {
			struct br_port *p = &r->ports[i];
			if (p->state != BR_BLOCKED)
				continue;
			for (size_t k = 0; p->missing[k]; k++) {
				if (made_by_live(r, p->missing[k]))
					continue;
				ssize_t m = maker(r, p->missing[k]);
				p->state = BR_LOST;
				free(p->reason);
				if (m >= 0)
					p->reason = xasprintf("dependency %s %s: its package %s will "
							      "not be built", r->ports[m].port,
							      br_state_name(r->ports[m].state),
							      p->missing[k]);
				else
					p->reason = xasprintf("missing package %s is not scheduled",
							      p->missing[k]);
				changed = 1;
				break;
			}
		}
	}
}

static void planner_release(struct planner *pl)
{
	tree_provides_free(pl->provides);
	for (size_t i = 0; i < pl->ntp; i++) {
		free((char *)pl->tp[i].package_id);
		for (size_t k = 0; k < pl->tp[i].nprovides; k++)
			provide_release((struct hpkg_provide *)&pl->tp[i].provides[k]);
		free((void *)pl->tp[i].provides);
		for (size_t k = 0; k < pl->tp[i].nrequires; k++)
			requirement_release((struct requirement *)&pl->tp[i].requires[k]);
		free((void *)pl->tp[i].requires);
	}
	free(pl->tp);
	/* Ports given but not in "all" were resolved on their own. */
	for (size_t i = 0; i < pl->nrun; i++) {
		int shared = 0;
		for (size_t k = 0; k < pl->nall && !shared; k++)
			shared = pl->all[k] == pl->run[i];
		if (!shared)
			port_free(pl->run[i]);
	}
	free(pl->run);
	for (size_t i = 0; i < pl->nall; i++)
		port_free(pl->all[i]);
	free(pl->all);
	pkgindex_close(pl->ix);
	port_index_free(pl->idx);
	mirror_close(pl->m);
	image_free(pl->img);
	tree_free(pl->tree);
}

int buildrun_plan(struct mf_state *st, const struct plan_opts *o, struct buildrun **out)
{
	struct planner pl = { .st = st, .o = o };
	struct buildrun *r = xcalloc(1, sizeof(*r));
	int ret = -1;

	*out = NULL;
	pl.r = r;
	r->tree = xstrdup(o->tree);
	r->commit = xstrdup(o->commit);
	r->image = xstrdup(o->image);
	r->kind = xstrdup(o->kind);
	r->status = xstrdup("scheduling");
	r->slots = o->slots > 0 ? o->slots : 1;
	r->source = xstrdup(o->source ? o->source : "vmctl");
	r->priority = o->priority;
	r->timeout = o->timeout;
	r->requested_by = xstrdup_or_null(o->requested_by);
	r->pr = o->pr;
	r->start = (double)mf_wall_seconds();
	if (trees_get(st->db, o->tree, &pl.tree) < 0 || images_get(st->db, o->image, &pl.img) < 0 ||
	    tree_mirror(st, pl.tree, &pl.m) < 0 || port_index_build(pl.m, o->commit, &pl.idx) < 0 ||
	    pkgindex_open(st->db, &pl.ix) < 0)
		goto out;
	port_ctx_init(&pl.pc, &pl.renv, st->db, pl.m, o->commit, pl.idx, pl.img, pl.tree);
	/* The ports given, each once; bad ones are bad input. */
	for (size_t i = 0; o->ports[i]; i++) {
		struct port *p;
		if (port_resolve(&pl.pc, o->ports[i], &p) < 0) {
			mf_error_wrap("tree '%s'", o->tree);
			goto out;
		}
		if (p->npackages == 0) {
			mf_error(MF_E_USAGE, "port %s makes no package on %s", p->versioned_name,
				 pl.img->settings.target_arch);
			port_free(p);
			goto out;
		}
		if (run_port(r, p->versioned_name)) {
			mf_error(MF_E_USAGE, "port %s is given twice", p->versioned_name);
			port_free(p);
			goto out;
		}
		add_port(&pl, p);
	}
	if (tree_packages(&pl) < 0)
		goto out;
	for (size_t i = 0; i < r->nports; i++)
		if (resolve_one(&pl, i) < 0)
			goto out;
	lose_cycles(r);
	buildrun_lose_dependents(r);
	for (size_t i = 0; i < r->nports; i++)
		if (r->ports[i].state == BR_BLOCKED && !r->ports[i].missing[0])
			r->ports[i].state = BR_SCHEDULED;
	if (buildruns_insert(st->db, r) < 0)
		goto out;
	*out = r;
	r = NULL;
	ret = 0;
out:
	buildrun_free(r);
	planner_release(&pl);
	return ret;
}
