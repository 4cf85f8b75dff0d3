/* state.c - see state.h. */
#include "store/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/db.h"
#include "common/error.h"
#include "common/util.h"

/* Each entry upgrades the schema by one version (PRAGMA user_version). */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE images ("
	" name TEXT PRIMARY KEY,"
	" volume TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" source TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" format TEXT NOT NULL,"
	" virtual_size INTEGER NOT NULL,"
	" host_key TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" ssh_user TEXT NOT NULL,"
	" ssh_key TEXT NOT NULL,"
	" build_command TEXT NOT NULL,"
	" packages_dir TEXT NOT NULL,"
	" memory_mib INTEGER NOT NULL,"
	" vcpus INTEGER NOT NULL,"
	" disk_bus TEXT NOT NULL,"
	" boot_timeout INTEGER NOT NULL);"
	"CREATE TABLE builds ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" image TEXT NOT NULL,"
	" recipes TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" owner TEXT,"
	" exit_code INTEGER,"
	" error TEXT,"
	" created INTEGER NOT NULL,"
	" finished INTEGER,"
	" log_path TEXT,"
	" out_dir TEXT);"
	"CREATE TABLE phases ("
	" build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,"
	" seq INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" duration_ms INTEGER NOT NULL,"
	" PRIMARY KEY (build_id, seq));"
	"CREATE TABLE packages ("
	" build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" PRIMARY KEY (build_id, name));"
	/* The ledger: every domain, volume and port, recorded before it exists. */
	"CREATE TABLE resources ("
	" kind TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" build_id INTEGER,"
	" owner TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" PRIMARY KEY (kind, name));",
	/* 2: mayflyd's queue, attempts and image quarantine */
	"ALTER TABLE builds ADD COLUMN source TEXT NOT NULL DEFAULT 'vmctl';"
	"ALTER TABLE builds ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE builds ADD COLUMN timeout INTEGER;"
	"ALTER TABLE builds ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE builds ADD COLUMN started INTEGER;"
	"ALTER TABLE builds ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE builds ADD COLUMN requested_by TEXT;"
	"ALTER TABLE builds ADD COLUMN inputs TEXT;"
	"CREATE INDEX builds_by_status ON builds (status, priority DESC, id);"
	"CREATE TABLE attempts ("
	" build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,"
	" n INTEGER NOT NULL,"
	" status TEXT NOT NULL,"
	" error TEXT,"
	" started INTEGER NOT NULL,"
	" finished INTEGER,"
	" PRIMARY KEY (build_id, n));"
	"ALTER TABLE images ADD COLUMN boot_failures INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE images ADD COLUMN quarantined TEXT;",
	/* 3: ports trees at exact commits; images as HaikuPorter builders */
	"CREATE TABLE trees ("
	" name TEXT PRIMARY KEY,"
	" url TEXT NOT NULL,"
	" branch TEXT NOT NULL,"
	" credentials TEXT,"
	" packager TEXT NOT NULL,"
	" allow_untested INTEGER NOT NULL DEFAULT 0,"
	" allow_unsafe_sources INTEGER NOT NULL DEFAULT 0,"
	" create_source_packages INTEGER NOT NULL DEFAULT 0,"
	" head TEXT,"
	" fetched INTEGER,"
	" fetch_error TEXT,"
	" processed TEXT,"
	" update_image TEXT,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE tree_retries ("
	" tree TEXT NOT NULL REFERENCES trees(name) ON DELETE CASCADE,"
	" port TEXT NOT NULL,"
	" commit_id TEXT NOT NULL,"
	" build_id INTEGER,"
	" reason TEXT,"
	" PRIMARY KEY (tree, port));"
	"CREATE TABLE recipe_cache ("
	" key TEXT PRIMARY KEY,"
	" value TEXT NOT NULL,"
	" used INTEGER NOT NULL);"
	"CREATE TABLE sources ("
	" sha256 TEXT PRIMARY KEY,"
	" size INTEGER NOT NULL,"
	" uri TEXT NOT NULL,"
	" used INTEGER NOT NULL);"
	"ALTER TABLE builds ADD COLUMN tree TEXT;"
	"ALTER TABLE builds ADD COLUMN commit_id TEXT;"
	"ALTER TABLE images ADD COLUMN tree_path TEXT NOT NULL DEFAULT '/boot/home/haikuports';"
	"ALTER TABLE images ADD COLUMN tree_commit TEXT;"
	"ALTER TABLE images ADD COLUMN haikuporter TEXT NOT NULL DEFAULT 'haikuporter';"
	"ALTER TABLE images ADD COLUMN haikuporter_args TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE images ADD COLUMN target_arch TEXT NOT NULL DEFAULT 'x86_64';"
	"ALTER TABLE images ADD COLUMN secondary_arches TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE images ADD COLUMN no_system_packages INTEGER NOT NULL DEFAULT 1;",
	/* 4: the package index (store/pkgindex.h) */
	"CREATE TABLE pkg_repos ("
	" name TEXT PRIMARY KEY,"
	" hpkr_sha256 TEXT NOT NULL,"
	" packages TEXT NOT NULL,"
	" imported INTEGER NOT NULL);"
	"CREATE TABLE pkg_index ("
	" id INTEGER PRIMARY KEY,"
	" origin TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" arch TEXT NOT NULL,"
	" file_name TEXT NOT NULL,"
	" location TEXT NOT NULL,"
	" sha256 TEXT,"
	" size INTEGER,"
	" added INTEGER NOT NULL,"
	" UNIQUE (origin, file_name));"
	"CREATE TABLE pkg_provides ("
	" pkg INTEGER NOT NULL REFERENCES pkg_index(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" version TEXT,"
	" compat TEXT);"
	"CREATE INDEX pkg_provides_name ON pkg_provides(name);"
	"CREATE INDEX pkg_provides_pkg ON pkg_provides(pkg);"
	"CREATE TABLE pkg_requires ("
	" pkg INTEGER NOT NULL REFERENCES pkg_index(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" op INTEGER,"
	" version TEXT);"
	"CREATE INDEX pkg_requires_pkg ON pkg_requires(pkg);",
	/* 5: build runs (store/buildruns.h) */
	"CREATE TABLE buildruns ("
	" id INTEGER PRIMARY KEY,"
	" tree TEXT NOT NULL,"
	" commit_id TEXT NOT NULL,"
	" image TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" status TEXT NOT NULL,"
	" start REAL NOT NULL DEFAULT 0,"
	" end REAL NOT NULL DEFAULT 0,"
	" slots INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE buildrun_ports ("
	" run INTEGER NOT NULL REFERENCES buildruns(id) ON DELETE CASCADE,"
	" seq INTEGER NOT NULL,"
	" port TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" revision INTEGER NOT NULL,"
	" recipe_path TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" reason TEXT,"
	" build_id INTEGER,"
	" slot TEXT,"
	" makes TEXT NOT NULL,"
	" resulting TEXT NOT NULL,"
	" required TEXT NOT NULL,"
	" missing TEXT NOT NULL,"
	" PRIMARY KEY (run, port));",
	/* 6: mayflyd's build runs: the queue knows each build's run */
	"ALTER TABLE builds ADD COLUMN buildrun INTEGER;"
	"ALTER TABLE buildruns ADD COLUMN source TEXT NOT NULL DEFAULT 'vmctl';"
	"ALTER TABLE buildruns ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE buildruns ADD COLUMN timeout INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE buildruns ADD COLUMN requested_by TEXT;",
	/* 7: publishing (store/publishes.h) */
	"CREATE TABLE publishes ("
	" id INTEGER PRIMARY KEY,"
	" repository TEXT NOT NULL,"
	" buildrun INTEGER,"
	" state TEXT NOT NULL,"
	" error TEXT,"
	" requested_by TEXT,"
	" created INTEGER NOT NULL,"
	" finished INTEGER,"
	" repo_sha256 TEXT);"
	"CREATE TABLE publish_items ("
	" publish INTEGER NOT NULL REFERENCES publishes(id) ON DELETE CASCADE,"
	" action TEXT NOT NULL,"
	" file_name TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" arch TEXT NOT NULL,"
	" path TEXT,"
	" sha256 TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" done INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (publish, action, file_name));"
	"CREATE TABLE published ("
	" repository TEXT NOT NULL,"
	" file_name TEXT NOT NULL,"
	" name TEXT NOT NULL,"
	" version TEXT NOT NULL,"
	" arch TEXT NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" live INTEGER NOT NULL,"
	" publish INTEGER NOT NULL,"
	" PRIMARY KEY (repository, file_name));"
	/* Update runs are published on their own once (runs from before: never). */
	"ALTER TABLE buildruns ADD COLUMN published INTEGER NOT NULL DEFAULT 0;"
	"UPDATE buildruns SET published = 1;",
	/* 8: webhooks, pull requests and commit statuses back to forges */
	"CREATE TABLE forge_statuses ("
	" id INTEGER PRIMARY KEY,"
	" forge TEXT NOT NULL,"
	" api_url TEXT NOT NULL,"
	" repo TEXT NOT NULL,"
	" token_file TEXT,"
	" sha TEXT NOT NULL,"
	" context TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" description TEXT NOT NULL,"
	" target_url TEXT,"
	" created INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_try INTEGER NOT NULL DEFAULT 0,"
	" sent INTEGER,"
	" outcome TEXT,"
	" last_error TEXT);"
	"CREATE INDEX forge_statuses_due ON forge_statuses(sent, next_try);"
	"CREATE TABLE webhook_deliveries ("
	" tree TEXT NOT NULL,"
	" delivery TEXT NOT NULL,"
	" body_sha256 TEXT NOT NULL,"
	" received INTEGER NOT NULL,"
	" event TEXT NOT NULL,"
	" PRIMARY KEY (tree, delivery));"
	"CREATE UNIQUE INDEX webhook_bodies ON webhook_deliveries(tree, body_sha256);"
	"CREATE TABLE webhook_events ("
	" id INTEGER PRIMARY KEY,"
	" tree TEXT NOT NULL,"
	" delivery TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" number INTEGER,"
	" sha TEXT NOT NULL,"
	" base_ref TEXT,"
	" author TEXT,"
	" received INTEGER NOT NULL,"
	" processed INTEGER,"
	" result TEXT);"
	"CREATE TABLE pull_requests ("
	" tree TEXT NOT NULL,"
	" number INTEGER NOT NULL,"
	" head_sha TEXT NOT NULL,"
	" base_ref TEXT NOT NULL,"
	" author TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" buildrun INTEGER,"
	" reported INTEGER NOT NULL DEFAULT 0,"
	" updated INTEGER NOT NULL,"
	" PRIMARY KEY (tree, number));"
	"ALTER TABLE trees ADD COLUMN forge TEXT;"
	"ALTER TABLE trees ADD COLUMN webhook_secret_file TEXT;"
	"ALTER TABLE trees ADD COLUMN forge_api_url TEXT;"
	"ALTER TABLE trees ADD COLUMN forge_repo TEXT;"
	"ALTER TABLE trees ADD COLUMN forge_token_file TEXT;"
	"ALTER TABLE trees ADD COLUMN status_context TEXT;"
	"ALTER TABLE buildruns ADD COLUMN pr INTEGER;"
	"ALTER TABLE buildruns ADD COLUMN author TEXT;",
	/* 9: booted memory snapshots (one saved machine per slot) and warm pools */
	"CREATE TABLE snapshots ("
	" image TEXT NOT NULL,"
	" slot INTEGER NOT NULL,"
	" domain TEXT NOT NULL UNIQUE,"
	" uuid TEXT NOT NULL,"
	" layer_volume TEXT NOT NULL,"
	" layer_path TEXT NOT NULL,"
	" save_path TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" save_bytes INTEGER NOT NULL,"
	" layer_bytes INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" PRIMARY KEY (image, slot));"
	"ALTER TABLE images ADD COLUMN restore_command TEXT;"
	"ALTER TABLE images ADD COLUMN warm INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE images ADD COLUMN restores INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE images ADD COLUMN restore_fallbacks INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE images ADD COLUMN restore_failures INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE images ADD COLUMN snapshot_disabled TEXT;",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int schema_version(struct db *db, int *out)
{
	struct db_stmt *st;
	int rc;

	if (db_prepare(db, &st, "PRAGMA user_version") < 0)
		return -1;
	rc = db_step(st);
	if (rc == 1)
		*out = (int)db_col_int(st, 0);
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

static int migrate(struct db *db)
{
	int version = 0;

	/* Most opens find the schema current: no write transaction for those. */
	if (schema_version(db, &version) < 0)
		return -1;
	if (version == NMIGRATIONS)
		return 0;
	if (db_begin(db) < 0)
		return -1;
	if (schema_version(db, &version) < 0)
		goto fail;
	if (version > NMIGRATIONS) {
		mf_error(MF_E_USAGE, "state database '%s' has schema version %d, newer than "
			 "this Mayfly (%d); upgrade Mayfly", db_path(db), version, NMIGRATIONS);
		goto fail;
	}
	for (; version < NMIGRATIONS; version++) {
		char pragma[64];
		if (db_exec(db, migrations[version]) < 0)
			goto fail;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		if (db_exec(db, pragma) < 0)
			goto fail;
	}
	return db_commit(db);
fail:
	db_rollback(db);
	return -1;
}

static int read_instance(struct db *db, char **out)
{
	struct db_stmt *st;
	int rc;

	*out = NULL;
	if (db_prepare(db, &st, "SELECT value FROM meta WHERE key = 'instance'") < 0)
		return -1;
	rc = db_step(st);
	if (rc == 1)
		*out = xstrdup(db_col_text(st, 0));
	db_finalize(st);
	return rc < 0 ? -1 : 0;
}

static int instance_id(struct db *db, char **out)
{
	struct db_stmt *st = NULL;
	unsigned char rnd[4];
	char id[9];
	int rc, ret = -1;

	/* Made once, on first use; read without a write transaction after. */
	if (read_instance(db, out) < 0 || *out)
		return *out ? 0 : -1;
	if (db_begin(db) < 0)
		return -1;
	if (db_prepare(db, &st, "SELECT value FROM meta WHERE key = 'instance'") < 0)
		goto out;
	rc = db_step(st);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		*out = xstrdup(db_col_text(st, 0));
		ret = 0;
		goto out;
	}
	db_finalize(st);
	st = NULL;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		mf_error_errno(MF_E_INFRA, "cannot make an instance id");
		goto out;
	}
	snprintf(id, sizeof(id), "%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	if (db_prepare(db, &st, "INSERT INTO meta (key, value) VALUES ('instance', ?)") < 0)
		goto out;
	db_bind_text(st, 1, id);
	if (db_step(st) < 0)
		goto out;
	*out = xstrdup(id);
	ret = 0;
out:
	db_finalize(st);
	if (ret == 0)
		ret = db_commit(db);
	else
		db_rollback(db);
	return ret;
}

int state_open(struct mf_state **out, const char *dir)
{
	struct mf_state *st = xcalloc(1, sizeof(*st));
	char *dbpath = NULL;
	int ret = -1;

	*out = NULL;
	st->dir = xstrdup(dir);
	st->pool_dir = xasprintf("%s/pool", dir);
	st->keys_dir = xasprintf("%s/keys", dir);
	st->builds_dir = xasprintf("%s/builds", dir);
	st->trees_dir = xasprintf("%s/trees", dir);
	st->sources_dir = xasprintf("%s/sources", dir);
	if (mf_mkdir_p(dir, 0755) < 0 || mf_mkdir_p(st->pool_dir, 0755) < 0 ||
	    mf_mkdir_p(st->builds_dir, 0755) < 0 || mf_mkdir_p(st->trees_dir, 0755) < 0 ||
	    mf_mkdir_p(st->sources_dir, 0755) < 0)
		goto out;
	if (mkdir(st->keys_dir, 0700) < 0 && errno != EEXIST) {
		mf_error_errno(MF_E_USAGE, "cannot create '%s'", st->keys_dir);
		goto out;
	}
	dbpath = xasprintf("%s/state.db", dir);
	if (db_open(&st->db, dbpath) < 0 || migrate(st->db) < 0 ||
	    instance_id(st->db, &st->instance) < 0)
		goto out;
	st->pool_name = xasprintf("mayfly-%s", st->instance);
	*out = st;
	st = NULL;
	ret = 0;
out:
	if (ret < 0)
		mf_error_wrap("state directory '%s'", dir);
	free(dbpath);
	state_free(st);
	return ret;
}

void state_free(struct mf_state *st)
{
	if (!st)
		return;
	db_close(st->db);
	free(st->dir);
	free(st->pool_dir);
	free(st->keys_dir);
	free(st->builds_dir);
	free(st->trees_dir);
	free(st->sources_dir);
	free(st->instance);
	free(st->pool_name);
	free(st);
}

char *state_build_dir(const struct mf_state *st, int64_t build_id)
{
	return xasprintf("%s/%lld", st->builds_dir, (long long)build_id);
}
