/* ledger.c - see ledger.h. */
#include "store/ledger.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store/db.h"
#include "common/error.h"
#include "common/util.h"

static char *self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void init_self(void)
{
	self = mf_process_identity(getpid());
}

const char *ledger_self(void)
{
	pthread_once(&self_once, init_self);
	return self;
}

int ledger_claim(struct db *db, const char *kind, const char *name, int64_t build_id)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "INSERT INTO resources (kind, name, build_id, owner, created) "
				"VALUES (?, ?, ?, ?, ?)") < 0)
		return -1;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, name);
	if (build_id > 0)
		db_bind_int(st, 3, build_id);
	db_bind_text(st, 4, ledger_self());
	db_bind_int(st, 5, mf_wall_seconds());
	rc = db_step(st);
	db_finalize(st);
	if (rc < 0 && mf_error_class() == MF_E_CONFLICT)
		return mf_error(MF_E_CONFLICT, "%s '%s' is already owned by another build", kind,
				name);
	return rc < 0 ? -1 : 0;
}

int ledger_release(struct db *db, const char *kind, const char *name)
{
	return db_execf(db, "DELETE FROM resources WHERE kind = ? AND name = ?", "tt", kind, name);
}

int ledger_list(struct db *db, int orphans_only, struct ledger_entry **out, size_t *n)
{
	struct db_stmt *st;
	struct ledger_entry *v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (db_prepare(db, &st, "SELECT kind, name, owner, build_id FROM resources "
				"ORDER BY created, kind, name") < 0)
		return -1;
	while ((rc = db_step(st)) == 1) {
		const char *owner = db_col_text(st, 2);
		if (orphans_only && mf_process_alive(owner))
			continue;
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len].kind = xstrdup(db_col_text(st, 0));
		v[len].name = xstrdup(db_col_text(st, 1));
		v[len].owner = xstrdup(owner);
		v[len].build_id = db_col_int(st, 3);
		len++;
	}
	db_finalize(st);
	if (rc < 0) {
		ledger_entries_free(v, len);
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

void ledger_entries_free(struct ledger_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].kind);
		free(e[i].name);
		free(e[i].owner);
	}
	free(e);
}

int ledger_adopt(struct db *db, const struct ledger_entry *e)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "UPDATE resources SET owner = ? "
				"WHERE kind = ? AND name = ? AND owner = ?") < 0)
		return -1;
	db_bind_text(st, 1, ledger_self());
	db_bind_text(st, 2, e->kind);
	db_bind_text(st, 3, e->name);
	db_bind_text(st, 4, e->owner);
	rc = db_step(st);
	db_finalize(st);
	if (rc < 0)
		return -1;
	return db_changes(db) == 1;
}

static int ephemeral_port(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, ret = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mf_error_errno(MF_E_INFRA, "cannot create a socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		mf_error_errno(MF_E_INFRA, "cannot find a free port on 127.0.0.1");
	} else {
		*port = ntohs(sa.sin_port);
		ret = 0;
	}
	close(fd);
	return ret;
}

int ledger_claim_port(struct db *db, int64_t build_id, int *port)
{
	for (int attempt = 0; attempt < 20; attempt++) {
		char name[16];
		int p = 0;

		if (ephemeral_port(&p) < 0)
			return -1;
		snprintf(name, sizeof(name), "%d", p);
		if (ledger_claim(db, LEDGER_PORT, name, build_id) == 0) {
			*port = p;
			return 0;
		}
		if (mf_error_class() != MF_E_CONFLICT)
			return -1;
	}
	return mf_error(MF_E_INFRA, "cannot claim a free port on 127.0.0.1 after 20 tries");
}

int ledger_adopt_orphan(struct db *db, const char *kind, const char *name)
{
	struct db_stmt *st;
	struct ledger_entry e = { .kind = (char *)kind, .name = (char *)name };
	int rc, ret = 0;

	if (db_prepare(db, &st, "SELECT owner FROM resources WHERE kind = ? AND name = ?") < 0)
		return -1;
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, name);
	rc = db_step(st);
	if (rc == 1 && !mf_process_alive(db_col_text(st, 0))) {
		e.owner = xstrdup(db_col_text(st, 0));
		db_finalize(st);
		ret = ledger_adopt(db, &e);
		free(e.owner);
		return ret;
	}
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}
