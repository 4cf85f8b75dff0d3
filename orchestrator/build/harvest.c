/* harvest.c - see harvest.h. */
#include "build/harvest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "machine/guest.h"

char *harvest_remote_path(const char *dir, const char *name)
{
	size_t len = strlen(dir);

	return xasprintf("%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/", name);
}

static int is_new(const struct harvest_opts *o, const struct guest_file *f)
{
	for (size_t i = 0; i < o->nbefore; i++)
		if (!strcmp(o->before[i].name, f->name))
			return o->before[i].size != f->size || o->before[i].mtime != f->mtime;
	return 1;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct guest_file *)a)->name, ((const struct guest_file *)b)->name);
}

static void discard(struct build_package *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (unlink(v[i].path) < 0)
			log_warn("cannot remove %s", v[i].path);
		build_package_release(&v[i]);
	}
	free(v);
}

/*
 * The expected files as a listing of remote_dir (with .obsolete/ looked
 * in too): MF_E_BUILD naming those missing.
 */
static int expected(const struct harvest_opts *o, struct guest_file **out, size_t *n)
{
	struct guest_file *here = NULL, *old = NULL, *v = NULL;
	size_t nhere = 0, nold = 0, len = 0;
	struct strbuf missing = STRBUF_INIT;
	char *obsolete = harvest_remote_path(o->remote_dir, ".obsolete");
	int ret = -1;

	*out = NULL;
	*n = 0;
	if (guest_list(o->guest, o->remote_dir, &here, &nhere) < 0)
		goto out;
	if (guest_list(o->guest, obsolete, &old, &nold) < 0)
		mf_error_clear(); /* there may be none */
	for (char *const *e = o->expect; *e; e++) {
		const struct guest_file *f = NULL;
		int in_old = 0;
		for (size_t i = 0; i < nhere && !f; i++)
			if (here[i].regular && !strcmp(here[i].name, *e))
				f = &here[i];
		for (size_t i = 0; i < nold && !f; i++)
			if (old[i].regular && !strcmp(old[i].name, *e))
				f = &old[i], in_old = 1;
		if (!f) {
			strbuf_addf(&missing, "%s%s", missing.len ? ", " : "", *e);
			continue;
		}
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len].name = in_old ? xasprintf(".obsolete/%s", f->name) : xstrdup(f->name);
		v[len].size = f->size;
		v[len].mtime = f->mtime;
		v[len].regular = 1;
		len++;
	}
	if (missing.len) {
		mf_error(MF_E_BUILD, "the build did not produce %s (the recipe says it makes it)",
			 missing.buf);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
	ret = 0;
out:
	guest_files_free(v, len);
	guest_files_free(here, nhere);
	guest_files_free(old, nold);
	strbuf_release(&missing);
	free(obsolete);
	return ret;
}

int harvest(const struct harvest_opts *o, struct build_package **out, size_t *n)
{
	struct guest_file *after = NULL;
	struct build_package *v = NULL;
	size_t nafter = 0, len = 0, nwanted = 0;
	uint64_t total = 0, left;
	int ret = -1;

	*out = NULL;
	*n = 0;
	if ((o->expect ? expected(o, &after, &nafter) :
			 guest_list(o->guest, o->remote_dir, &after, &nafter)) < 0)
		return -1;
	if (nafter)
		qsort(after, nafter, sizeof(*after), by_name);
	/* Which files, and are they within the cap? Nothing is read before both are known. */
	for (size_t i = 0; i < nafter; i++) {
		if (!after[i].regular || (!o->expect && !is_new(o, &after[i]))) {
			after[i].regular = 0;
			continue;
		}
		const char *base = strrchr(after[i].name, '/');
		if (input_name_check(base ? base + 1 : after[i].name) < 0) {
			buildlog_event(o->log, "not harvested: %s", mf_error_msg());
			mf_error_clear();
			after[i].regular = 0;
			continue;
		}
		total += after[i].size;
		nwanted++;
	}
	if (o->max_bytes && total > o->max_bytes) {
		char m[32];
		mf_format_size(o->max_bytes, m);
		mf_error(MF_E_BUILD, "the build made %zu package file%s of %llu bytes in all, more "
			 "than the %s a build may harvest (max_package_mb); none was harvested",
			 nwanted, nwanted == 1 ? "" : "s", (unsigned long long)total, m);
		goto out;
	}
	left = o->max_bytes;
	for (size_t i = 0; i < nafter; i++) {
		if (!after[i].regular)
			continue;
		struct build_package p = { 0 };
		const char *slash = strrchr(after[i].name, '/'); /* ".obsolete/x.hpkg" */
		char *remote = harvest_remote_path(o->remote_dir, after[i].name);
		p.name = xstrdup(slash ? slash + 1 : after[i].name);
		p.path = xasprintf("%s/%s", o->out_dir, p.name);
		/* The listing's sizes were within the cap; the files must stay so. */
		int rc = guest_get(o->guest, remote, p.path, o->max_bytes ? left + 1 : 0, &p.size,
				   p.sha256, o->tick, o->payload);
		free(remote);
		if (rc == 0 && o->max_bytes && p.size > left) {
			unlink(p.path);
			rc = mf_error(MF_E_BUILD, "'%s' grew past the harvest limit "
				      "(max_package_mb) while it was downloaded", p.name);
		}
		if (rc < 0) {
			build_package_release(&p);
			goto out;
		}
		left -= o->max_bytes ? p.size : 0;
		buildlog_event(o->log, "harvested %s (%llu bytes, sha256 %s)", p.name,
			       (unsigned long long)p.size, p.sha256);
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = p;
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
	ret = 0;
out:
	if (ret < 0) {
		/* Keep the error, whatever removing the files says. */
		struct mf_error_saved e;

		mf_error_save(&e);
		discard(v, len);
		mf_error_restore(&e);
	}
	guest_files_free(after, nafter);
	return ret;
}
