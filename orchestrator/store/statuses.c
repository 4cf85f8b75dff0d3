/* statuses.c - see statuses.h. */
#include "store/statuses.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/util.h"
#include "store/db.h"

static char *col(struct db_stmt *st, int i)
{
	return db_col_is_null(st, i) ? NULL : xstrdup(db_col_text(st, i));
}

void forge_status_release(struct forge_status *s)
{
	free(s->forge);
	free(s->api_url);
	free(s->repo);
	free(s->token_file);
	free(s->sha);
	free(s->context);
	free(s->state);
	free(s->description);
	free(s->target_url);
	free(s->outcome);
	free(s->last_error);
	memset(s, 0, sizeof(*s));
}

void forge_statuses_free(struct forge_status *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		forge_status_release(&v[i]);
	free(v);
}

static int one_of(const char *s, const char *const *names)
{
	for (; s && *names; names++)
		if (!strcmp(s, *names))
			return 1;
	return 0;
}

static int is_sha(const char *s)
{
	size_t n = 0;

	for (; s && isxdigit((unsigned char)s[n]); n++)
		;
	return n == 40 && s[n] == '\0';
}

size_t statuses_utf8_cut(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return n;
	/* Back over continuation bytes (10xxxxxx) to the start of the character at max. */
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static int validate(const struct forge_status *s)
{
	static const char *const forges[] = { "github", "gitlab", NULL };
	static const char *const states[] = { "pending", "success", "failure", "error", NULL };
	const char *what = s->context && *s->context ? s->context : "?";

	if (!one_of(s->forge, forges))
		return mf_error(MF_E_USAGE, "commit status '%s': forge '%s' is not github or gitlab",
				what, s->forge ? s->forge : "");
	if (!s->api_url || (strncmp(s->api_url, "http://", 7) && strncmp(s->api_url, "https://", 8)))
		return mf_error(MF_E_USAGE, "commit status '%s': API URL '%s' is not http(s)://",
				what, s->api_url ? s->api_url : "");
	if (!s->repo || !*s->repo)
		return mf_error(MF_E_USAGE, "commit status '%s' at %s: no repository", what,
				s->api_url);
	if (!s->context || !*s->context)
		return mf_error(MF_E_USAGE, "commit status for %s: no context", s->repo);
	if (!one_of(s->state, states))
		return mf_error(MF_E_USAGE, "commit status '%s' for %s: state '%s' is not pending,"
				" success, failure or error", what, s->repo, s->state ? s->state : "");
	if (!is_sha(s->sha))
		return mf_error(MF_E_USAGE, "commit status '%s' for %s: '%s' is not a commit"
				" (40 hex digits)", what, s->repo, s->sha ? s->sha : "");
	return 0;
}

int statuses_enqueue(struct db *db, const struct forge_status *s, int64_t *id)
{
	const char *desc = s->description ? s->description : "";
	char *cut, *sha;
	int rc;

	if (id)
		*id = 0;
	if (validate(s) < 0)
		return -1;
	cut = xstrndup(desc, statuses_utf8_cut(desc, STATUS_DESCRIPTION_MAX));
	sha = xstrdup(s->sha);
	for (char *p = sha; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	rc = db_execf(db, "INSERT INTO forge_statuses (forge, api_url, repo, token_file, sha,"
			  " context, state, description, target_url, created)"
			  " VALUES (?,?,?,?,?,?,?,?,?,?)", "ttttttttti", s->forge, s->api_url,
		      s->repo, s->token_file, sha, s->context, s->state, cut, s->target_url,
		      s->created > 0 ? s->created : (int64_t)time(NULL));
	free(cut);
	free(sha);
	if (rc < 0)
		return mf_error_wrap("recording commit status '%s' for %s", s->context, s->repo);
	if (id)
		*id = db_last_insert_id(db);
	return 0;
}

#define STATUS_COLUMNS "id, forge, api_url, repo, token_file, sha, context, state, description," \
		       " target_url, created, attempts, next_try, sent, outcome, last_error"

static void status_from_row(struct db_stmt *st, struct forge_status *s)
{
	s->id = db_col_int(st, 0);
	s->forge = col(st, 1);
	s->api_url = col(st, 2);
	s->repo = col(st, 3);
	s->token_file = col(st, 4);
	s->sha = col(st, 5);
	s->context = col(st, 6);
	s->state = col(st, 7);
	s->description = col(st, 8);
	s->target_url = col(st, 9);
	s->created = db_col_int(st, 10);
	s->attempts = db_col_int(st, 11);
	s->next_try = db_col_int(st, 12);
	s->sent = db_col_is_null(st, 13) ? 0 : db_col_int(st, 13);
	s->outcome = col(st, 14);
	s->last_error = col(st, 15);
}

/* The rows of a prepared, bound statement selecting STATUS_COLUMNS; finalizes it. */
static int read_rows(struct db_stmt *st, struct forge_status **out, size_t *n)
{
	struct forge_status *v = NULL;
	size_t len = 0;
	int rc;

	while ((rc = db_step(st)) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		memset(&v[len], 0, sizeof(*v));
		status_from_row(st, &v[len++]);
	}
	db_finalize(st);
	if (rc < 0) {
		forge_statuses_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

int statuses_due(struct db *db, int64_t now, int limit, struct forge_status **out, size_t *n)
{
	struct db_stmt *st;

	*out = NULL;
	*n = 0;
	if (db_begin(db) < 0)
		return -1;
	if (db_exec(db, "UPDATE forge_statuses SET outcome = 'superseded'"
			" WHERE sent IS NULL AND outcome IS NULL AND EXISTS (SELECT 1"
			" FROM forge_statuses AS newer WHERE newer.forge = forge_statuses.forge"
			" AND newer.api_url = forge_statuses.api_url"
			" AND newer.repo = forge_statuses.repo AND newer.sha = forge_statuses.sha"
			" AND newer.context = forge_statuses.context"
			" AND newer.id > forge_statuses.id)") < 0)
		goto fail;
	if (db_prepare(db, &st, "SELECT " STATUS_COLUMNS " FROM forge_statuses"
				" WHERE sent IS NULL AND outcome IS NULL AND next_try <= ?1"
				" ORDER BY next_try, id LIMIT ?2") < 0)
		goto fail;
	db_bind_int(st, 1, now);
	db_bind_int(st, 2, limit > 0 ? limit : -1);
	if (read_rows(st, out, n) < 0)
		goto fail;
	if (db_commit(db) < 0) {
		forge_statuses_free(*out, *n);
		*out = NULL;
		*n = 0;
		return mf_error_wrap("commit statuses due");
	}
	return 0;
fail:
	db_rollback(db);
	return mf_error_wrap("commit statuses due");
}

int statuses_sent(struct db *db, int64_t id, int64_t now)
{
	if (db_execf(db, "UPDATE forge_statuses SET sent = ?, outcome = 'sent',"
			 " attempts = attempts + 1 WHERE id = ?", "ii", now, id) < 0)
		return mf_error_wrap("commit status %lld", (long long)id);
	return 0;
}

int statuses_failed(struct db *db, int64_t id, int64_t now, int64_t next_try,
		    const char *error)
{
	if (db_execf(db, "UPDATE forge_statuses SET attempts = attempts + 1, next_try = ?,"
			 " last_error = ? WHERE id = ?", "iti", next_try > now ? next_try : now,
		     error ? error : "failed", id) < 0)
		return mf_error_wrap("commit status %lld", (long long)id);
	return 0;
}

int statuses_list(struct db *db, const char *sha, struct forge_status **out, size_t *n)
{
	struct db_stmt *st;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT " STATUS_COLUMNS " FROM forge_statuses"
				" WHERE ?1 IS NULL OR sha = lower(?1) ORDER BY id") < 0)
		return -1;
	db_bind_text(st, 1, sha);
	return read_rows(st, out, n);
}
