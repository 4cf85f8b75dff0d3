/*
 * status.c - a build run's files as buildmaster's output directory holds
 * them, for HaikuPorter's web frontend served by any static web server:
 *
 *   STATE/output/TREE/buildruns/ID/status.json     (json/status.h)
 *   STATE/output/TREE/buildruns/last_buildrun      the newest run's id
 *   STATE/output/TREE/buildruns/buildruns.txt      every run's id, one a line
 *   STATE/output/TREE/builds/N.log                 -> STATE/builds/N/build.log
 *   STATE/output/TREE/records/N.json               each finished build
 *
 * Every file is written whole and renamed into place: a reader never sees
 * half of one.
 */
#include "buildrun/buildrun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "json/status.h"
#include "store/db.h"
#include "store/state.h"
#include "store/trees.h"

/* The tree's web address: a forge URL without ".git"; else as registered. */
static char *origin_url(const char *url)
{
	size_t n = strlen(url);
	if ((!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7)) && n > 4 &&
	    !strcmp(url + n - 4, ".git"))
		return xstrndup(url, n - 4);
	return xstrdup(url);
}

static int write_text(const char *path, const char *text)
{
	return mf_write_file_atomic(path, text, strlen(text), 0644);
}

/* A relative link, replaced atomically. */
static int link_log(const char *dir, int64_t build)
{
	char *link = xasprintf("%s/builds/%lld.log", dir, (long long)build);
	char *tmp = xasprintf("%s.tmp", link);
	char *target = xasprintf("../../../builds/%lld/build.log", (long long)build);
	int rc = 0;

	unlink(tmp);
	if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
		rc = mf_error_errno(MF_E_INFRA, "cannot link %s", link);
		unlink(tmp);
	}
	free(link);
	free(tmp);
	free(target);
	return rc;
}

static int record(struct db *db, const char *dir, const struct br_port *p)
{
	struct db_stmt *st;
	double start = 0, end = 0;
	int rc;

	if (db_prepare(db, &st, "SELECT created, coalesce(finished, created) FROM builds"
				" WHERE id = ?") < 0)
		return -1;
	db_bind_int(st, 1, p->build_id);
	rc = db_step(st);
	if (rc == 1) {
		start = (double)db_col_int(st, 0);
		end = (double)db_col_int(st, 1);
	}
	db_finalize(st);
	if (rc < 0)
		return -1;
	char *path = xasprintf("%s/records/%lld.json", dir, (long long)p->build_id);
	char *doc = report_buildrun_record(p, p->build_id, start, end - start);
	rc = write_text(path, doc);
	free(doc);
	free(path);
	return rc;
}

int buildrun_publish_status(struct mf_state *st, const struct buildrun *r)
{
	struct tree *t = NULL;
	struct db_stmt *q = NULL;
	struct strbuf ids = STRBUF_INIT;
	char *dir = xasprintf("%s/output/%s", st->dir, r->tree);
	char *rundir = xasprintf("%s/buildruns/%lld", dir, (long long)r->id);
	char *sub[] = { "builds", "records", NULL };
	char *path = NULL, *doc = NULL, *url = NULL;
	int64_t next = 1;
	int rc, ret = -1;

	if (mf_mkdir_p(rundir, 0755) < 0)
		goto out;
	for (char **s = sub; *s; s++) {
		char *d = xasprintf("%s/%s", dir, *s);
		rc = mf_mkdir_p(d, 0755);
		free(d);
		if (rc < 0)
			goto out;
	}
	if (trees_get(st->db, r->tree, &t) < 0)
		goto out;
	if (db_prepare(st->db, &q, "SELECT coalesce(max(id), 0) + 1 FROM builds") < 0)
		goto out;
	if (db_step(q) == 1)
		next = db_col_int(q, 0);
	db_finalize(q);
	q = NULL;
	url = origin_url(t->url);
	doc = report_buildrun_status(r, url, next);
	path = xasprintf("%s/status.json", rundir);
	if (write_text(path, doc) < 0)
		goto out;
	for (size_t i = 0; i < r->nports; i++) {
		const struct br_port *p = &r->ports[i];
		if (!p->build_id)
			continue;
		if (link_log(dir, p->build_id) < 0)
			goto out;
		if ((p->state == BR_COMPLETE || p->state == BR_FAILED) && record(st->db, dir, p) < 0)
			goto out;
	}
	/* The runs of this tree, oldest first; the newest is the last. */
	if (db_prepare(st->db, &q, "SELECT id FROM buildruns WHERE tree = ? ORDER BY id") < 0)
		goto out;
	db_bind_text(q, 1, r->tree);
	int64_t last = r->id;
	while ((rc = db_step(q)) == 1) {
		last = db_col_int(q, 0);
		strbuf_addf(&ids, "%lld\n", (long long)last);
	}
	if (rc < 0)
		goto out;
	free(path);
	path = xasprintf("%s/buildruns/buildruns.txt", dir);
	if (write_text(path, strbuf_str(&ids)) < 0)
		goto out;
	free(path);
	path = xasprintf("%s/buildruns/last_buildrun", dir);
	char num[32];
	snprintf(num, sizeof(num), "%lld\n", (long long)last);
	if (write_text(path, num) < 0)
		goto out;
	ret = 0;
out:
	db_finalize(q);
	strbuf_release(&ids);
	tree_free(t);
	free(url);
	free(doc);
	free(path);
	free(rundir);
	free(dir);
	return ret;
}
