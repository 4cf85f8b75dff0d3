/*
 * test_db.c - the state directory, the SQLite boundary, the resource
 * ledger and build records, each test in a fresh mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/builds.h"
#include "store/db.h"
#include "common/error.h"
#include "store/images.h"
#include "store/ledger.h"
#include "store/queue.h"
#include "store/state.h"
#include "common/util.h"

#include "state_fixture.h"
#include "store/snapshots.h"

static void assert_mode(const char *dir, const char *sub, int dirp, mode_t mode)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (stat(path, &sb) < 0)
		fail_msg("'%s' does not exist", path);
	if (dirp)
		assert_true(S_ISDIR(sb.st_mode));
	else
		assert_true(S_ISREG(sb.st_mode));
	if (mode)
		assert_int_equal(sb.st_mode & 0777, mode);
}

static void insert_resource(struct db *db, const char *kind, const char *name,
			    const char *owner, int64_t build_id)
{
	struct db_stmt *st;

	assert_int_equal(db_prepare(db, &st, "INSERT INTO resources (kind, name, build_id, owner, "
					     "created) VALUES (?, ?, ?, ?, 1)"), 0);
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, name);
	if (build_id)
		db_bind_int(st, 3, build_id);
	db_bind_text(st, 4, owner);
	assert_int_equal(db_step(st), 0);
	db_finalize(st);
}

static int resource_count(struct db *db, const char *kind, const char *name)
{
	struct db_stmt *st;
	int n;

	assert_int_equal(db_prepare(db, &st, "SELECT count(*) FROM resources "
					     "WHERE kind = ? AND name = ?"), 0);
	db_bind_text(st, 1, kind);
	db_bind_text(st, 2, name);
	assert_int_equal(db_step(st), 1);
	n = (int)db_col_int(st, 0);
	db_finalize(st);
	return n;
}

static void test_state_layout(void **state)
{
	struct fixture *f = *state;
	char want[128];

	assert_mode(f->dir, "state.db", 0, 0);
	assert_mode(f->dir, "pool", 1, 0);
	assert_mode(f->dir, "builds", 1, 0);
	assert_mode(f->dir, "keys", 1, 0700);
	assert_string_equal(f->st->dir, f->dir);
	snprintf(want, sizeof(want), "%s/pool", f->dir);
	assert_string_equal(f->st->pool_dir, want);
	snprintf(want, sizeof(want), "%s/keys", f->dir);
	assert_string_equal(f->st->keys_dir, want);
	snprintf(want, sizeof(want), "%s/builds", f->dir);
	assert_string_equal(f->st->builds_dir, want);
	snprintf(want, sizeof(want), "%s/state.db", f->dir);
	assert_string_equal(db_path(f->st->db), want);
}

static void test_state_nested_dir(void **state)
{
	struct fixture *f = *state;
	struct mf_state *st = NULL;
	char dir[128];

	/* The state directory itself and its parents are created. */
	snprintf(dir, sizeof(dir), "%s/a/b/state", f->dir);
	assert_int_equal(state_open(&st, dir), 0);
	assert_mode(dir, "state.db", 0, 0);
	assert_mode(dir, "keys", 1, 0700);
	/* A second state directory has its own instance. */
	assert_string_not_equal(st->instance, f->st->instance);
	state_free(st);
}

static void test_instance_id(void **state)
{
	struct fixture *f = *state;
	struct mf_state *again = NULL;
	char want[32];

	assert_non_null(f->st->instance);
	assert_int_equal(strlen(f->st->instance), 8);
	for (const char *p = f->st->instance; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			fail_msg("instance '%s' is not lowercase hex", f->st->instance);
	snprintf(want, sizeof(want), "mayfly-%s", f->st->instance);
	assert_string_equal(f->st->pool_name, want);

	/* Reopening (even while open) finds the same instance. */
	assert_int_equal(state_open(&again, f->dir), 0);
	assert_string_equal(again->instance, f->st->instance);
	assert_string_equal(again->pool_name, want);
	state_free(again);
	state_free(f->st);
	f->st = NULL;
	assert_int_equal(state_open(&f->st, f->dir), 0);
	assert_string_equal(f->st->pool_name, want);
}

static void test_state_build_dir(void **state)
{
	struct fixture *f = *state;
	char want[128], *got = state_build_dir(f->st, 42);

	snprintf(want, sizeof(want), "%s/builds/42", f->dir);
	assert_string_equal(got, want);
	free(got);
}

static void test_state_open_fails(void **state)
{
	struct fixture *f = *state;
	struct mf_state *st = (struct mf_state *)1;
	char path[128];
	FILE *file;

	/* A regular file where the state directory should be. */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	file = fopen(path, "w");
	assert_non_null(file);
	fclose(file);
	assert_int_equal(state_open(&st, path), -1);
	assert_null(st);
	assert_non_null(strstr(mf_error_msg(), path));
}

static void test_db_conflict(void **state)
{
	struct db *db = fdb(state);
	struct db_stmt *st;

	assert_int_equal(db_prepare(db, &st, "INSERT INTO meta (key, value) VALUES (?, ?)"), 0);
	db_bind_text(st, 1, "instance");
	db_bind_text(st, 2, "00000000");
	mf_error_clear();
	assert_int_equal(db_step(st), -1);
	assert_int_equal(mf_error_class(), MF_E_CONFLICT);
	assert_non_null(strstr(mf_error_msg(), db_path(db)));

	/* Other constraints are not conflicts. */
	db_reset(st);
	db_bind_text(st, 1, "fresh");
	db_bind_text(st, 2, NULL);
	mf_error_clear();
	assert_int_equal(db_step(st), -1);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	db_finalize(st);
}

static void test_db_statements(void **state)
{
	struct db *db = fdb(state);
	struct db_stmt *st;
	int64_t rowid;

	assert_int_equal(db_exec(db, "CREATE TABLE t (a INTEGER, b TEXT);"
				     "INSERT INTO t VALUES (1, 'one');"), 0);
	assert_int_equal(db_prepare(db, &st, "INSERT INTO t (a, b) VALUES (?, ?)"), 0);
	db_bind_int(st, 1, 5000000000LL);
	db_bind_text(st, 2, NULL);
	assert_int_equal(db_step(st), 0);
	rowid = db_last_insert_id(db);
	assert_int_equal(rowid, 2);
	assert_int_equal(db_changes(db), 1);
	db_finalize(st);

	assert_int_equal(db_prepare(db, &st, "SELECT a, b FROM t ORDER BY a"), 0);
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_col_int(st, 0), 1);
	assert_string_equal(db_col_text(st, 1), "one");
	assert_false(db_col_is_null(st, 1));
	assert_int_equal(db_step(st), 1);
	assert_int_equal(db_col_int(st, 0), 5000000000LL);
	assert_true(db_col_is_null(st, 1));
	assert_int_equal(db_step(st), 0);
	db_finalize(st);

	/* A rolled back transaction leaves nothing. */
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, "DELETE FROM t"), 0);
	db_rollback(db);
	assert_int_equal(query_int(db, "SELECT count(*) FROM t WHERE ? = 0", 0), 2);

	mf_error_clear();
	assert_int_equal(db_prepare(db, &st, "SELEKT nonsense"), -1);
	assert_null(st);
	assert_int_equal(mf_error_class(), MF_E_INFRA);
	assert_non_null(strstr(mf_error_msg(), db_path(db)));
	db_finalize(NULL);
}

static void test_ledger_self(void **state)
{
	char *me = mf_process_identity(getpid());

	assert_non_null(ledger_self());
	assert_string_equal(ledger_self(), me);
	assert_true(mf_process_alive(ledger_self()));
	assert_false(mf_process_alive(DEAD_OWNER));
	free(me);
}

static void test_ledger_claim_conflict(void **state)
{
	struct db *db = fdb(state);

	assert_int_equal(ledger_claim(db, LEDGER_DOMAIN, "mayfly-x-b1", 1), 0);
	mf_error_clear();
	assert_int_equal(ledger_claim(db, LEDGER_DOMAIN, "mayfly-x-b1", 2), -1);
	assert_int_equal(mf_error_class(), MF_E_CONFLICT);
	assert_non_null(strstr(mf_error_msg(), "mayfly-x-b1"));
	/* Same name, another kind: no conflict. */
	assert_int_equal(ledger_claim(db, LEDGER_VOLUME, "mayfly-x-b1", 1), 0);

	assert_int_equal(ledger_release(db, LEDGER_DOMAIN, "mayfly-x-b1"), 0);
	assert_int_equal(resource_count(db, LEDGER_DOMAIN, "mayfly-x-b1"), 0);
	assert_int_equal(resource_count(db, LEDGER_VOLUME, "mayfly-x-b1"), 1);
	assert_int_equal(ledger_claim(db, LEDGER_DOMAIN, "mayfly-x-b1", 2), 0);
	/* Releasing what is not claimed is fine. */
	assert_int_equal(ledger_release(db, LEDGER_POOL, "never-claimed"), 0);
}

static void test_ledger_list(void **state)
{
	struct db *db = fdb(state);
	struct ledger_entry *e;
	size_t n;

	assert_int_equal(ledger_claim(db, LEDGER_DOMAIN, "mine", 7), 0);
	assert_int_equal(ledger_claim(db, LEDGER_VOLUME, "mine.qcow2", 0), 0);
	insert_resource(db, LEDGER_DOMAIN, "dead-dom", DEAD_OWNER, 3);

	assert_int_equal(ledger_list(db, 0, &e, &n), 0);
	assert_int_equal(n, 3);
	ledger_entries_free(e, n);

	assert_int_equal(ledger_list(db, 1, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].kind, LEDGER_DOMAIN);
	assert_string_equal(e[0].name, "dead-dom");
	assert_string_equal(e[0].owner, DEAD_OWNER);
	assert_int_equal(e[0].build_id, 3);
	ledger_entries_free(e, n);

	/* Own entries carry this process's identity and the build id (0: none). */
	assert_int_equal(ledger_release(db, LEDGER_DOMAIN, "dead-dom"), 0);
	assert_int_equal(ledger_list(db, 0, &e, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(e[i].owner, ledger_self());
		if (!strcmp(e[i].name, "mine"))
			assert_int_equal(e[i].build_id, 7);
		else
			assert_int_equal(e[i].build_id, 0);
	}
	ledger_entries_free(e, n);

	assert_int_equal(ledger_list(db, 1, &e, &n), 0);
	assert_int_equal(n, 0);
	ledger_entries_free(e, n);
}

/* A restored machine's slot held by a dead process is taken over; a live owner's is not. */
static void test_ledger_adopt_orphan(void **state)
{
	struct db *db = fdb(state);
	struct ledger_entry *e;
	size_t n;

	insert_resource(db, LEDGER_DOMAIN, "mayfly-x-snap-tg-0", DEAD_OWNER, 3);
	assert_int_equal(ledger_claim(db, LEDGER_DOMAIN, "mayfly-x-snap-tg-1", 4), 0);
	assert_int_equal(ledger_adopt_orphan(db, LEDGER_DOMAIN, "mayfly-x-snap-tg-0"), 1);
	assert_int_equal(ledger_adopt_orphan(db, LEDGER_DOMAIN, "mayfly-x-snap-tg-1"), 0);
	assert_int_equal(ledger_adopt_orphan(db, LEDGER_DOMAIN, "no-such-domain"), 0);
	/* Adopted: this process owns it now, and it is no orphan any more. */
	assert_int_equal(ledger_list(db, 1, &e, &n), 0);
	assert_int_equal(n, 0);
	ledger_entries_free(e, n);
	assert_int_equal(ledger_list(db, 0, &e, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(e[i].owner, ledger_self());
	ledger_entries_free(e, n);
	/* Twice is once. */
	assert_int_equal(ledger_adopt_orphan(db, LEDGER_DOMAIN, "mayfly-x-snap-tg-0"), 0);
}

static void test_ledger_adopt(void **state)
{
	struct db *db = fdb(state);
	struct ledger_entry *e;
	size_t n;

	insert_resource(db, LEDGER_VOLUME, "orphan.qcow2", DEAD_OWNER, 0);
	assert_int_equal(ledger_list(db, 1, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ledger_adopt(db, &e[0]), 1);
	/* The entry (still naming the old owner) cannot be adopted twice. */
	assert_int_equal(ledger_adopt(db, &e[0]), 0);
	ledger_entries_free(e, n);

	assert_int_equal(ledger_list(db, 1, &e, &n), 0);
	assert_int_equal(n, 0);
	ledger_entries_free(e, n);
	assert_int_equal(ledger_list(db, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].owner, ledger_self());
	ledger_entries_free(e, n);
}

static void test_ledger_claim_port(void **state)
{
	struct db *db = fdb(state);
	int port = 0, port2 = 0;
	char name[16];
	struct ledger_entry *e;
	size_t n;

	assert_int_equal(ledger_claim_port(db, 9, &port), 0);
	assert_true(port >= 1 && port <= 65535);
	snprintf(name, sizeof(name), "%d", port);
	assert_int_equal(resource_count(db, LEDGER_PORT, name), 1);
	assert_int_equal(ledger_list(db, 0, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].kind, LEDGER_PORT);
	assert_string_equal(e[0].name, name);
	assert_int_equal(e[0].build_id, 9);
	ledger_entries_free(e, n);

	/* A second claim never hands out the same port. */
	assert_int_equal(ledger_claim_port(db, 10, &port2), 0);
	assert_true(port2 >= 1 && port2 <= 65535);
	assert_int_not_equal(port, port2);
	assert_int_equal(ledger_claim(db, LEDGER_PORT, name, 11), -1);
	assert_int_equal(mf_error_class(), MF_E_CONFLICT);
}

static void test_builds_roundtrip(void **state)
{
	struct db *db = fdb(state);
	struct build_phase clone = { "clone", 120 }, boot = { "boot", 15300 };
	struct build_package pkg = { "zlib-1.3-1-x86_64.hpkg", 4242, "", "/out/zlib.hpkg" };
	int64_t id = 0, id2 = 0;

	memset(pkg.sha256, 'a', SHA256_HEX_LEN - 1);
	pkg.sha256[SHA256_HEX_LEN - 1] = '\0';
	assert_int_equal(builds_create(db, "haiku", "zlib libsigc++", &id), 0);
	assert_true(id > 0);
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", id, "running");
	assert_query_text(db, "SELECT image FROM builds WHERE id = ?", id, "haiku");
	assert_query_text(db, "SELECT recipes FROM builds WHERE id = ?", id, "zlib libsigc++");
	assert_query_text(db, "SELECT owner FROM builds WHERE id = ?", id, ledger_self());
	assert_query_text(db, "SELECT finished FROM builds WHERE id = ?", id, NULL);
	assert_query_text(db, "SELECT exit_code FROM builds WHERE id = ?", id, NULL);
	assert_true(query_int(db, "SELECT created FROM builds WHERE id = ?", id) > 0);

	assert_int_equal(builds_set_paths(db, id, "/s/builds/1/build.log", "/out"), 0);
	assert_int_equal(builds_add_phase(db, id, 0, &clone), 0);
	assert_int_equal(builds_add_phase(db, id, 1, &boot), 0);
	assert_int_equal(builds_add_package(db, id, &pkg), 0);
	assert_int_equal(builds_finish(db, id, BUILD_SUCCEEDED, 0, NULL), 0);

	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", id, "succeeded");
	assert_query_text(db, "SELECT exit_code FROM builds WHERE id = ?", id, "0");
	assert_query_text(db, "SELECT error FROM builds WHERE id = ?", id, NULL);
	assert_query_text(db, "SELECT log_path FROM builds WHERE id = ?", id,
			  "/s/builds/1/build.log");
	assert_query_text(db, "SELECT out_dir FROM builds WHERE id = ?", id, "/out");
	assert_true(query_int(db, "SELECT finished FROM builds WHERE id = ?", id) > 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM phases WHERE build_id = ?", id), 2);
	assert_query_text(db, "SELECT group_concat(name || '=' || duration_ms, ',') FROM "
			  "(SELECT * FROM phases WHERE build_id = ? ORDER BY seq)", id,
			  "clone=120,boot=15300");
	assert_query_text(db, "SELECT name || ' ' || size || ' ' || sha256 || ' ' || path "
			  "FROM packages WHERE build_id = ?", id,
			  "zlib-1.3-1-x86_64.hpkg 4242 "
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
			  "/out/zlib.hpkg");

	/* Ids are not reused. */
	assert_int_equal(builds_create(db, "haiku", "zlib", &id2), 0);
	assert_true(id2 > id);
}

static void test_builds_finish_once(void **state)
{
	struct db *db = fdb(state);
	int64_t id = 0;

	assert_int_equal(builds_create(db, "haiku", "zlib", &id), 0);
	assert_int_equal(builds_finish(db, id, BUILD_TIMED_OUT, -1, "too slow"), 0);
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", id, "timed_out");
	assert_query_text(db, "SELECT exit_code FROM builds WHERE id = ?", id, NULL);
	assert_query_text(db, "SELECT error FROM builds WHERE id = ?", id, "too slow");

	assert_int_equal(builds_finish(db, id, BUILD_SUCCEEDED, 0, NULL), 0);
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", id, "timed_out");
	assert_query_text(db, "SELECT exit_code FROM builds WHERE id = ?", id, NULL);
	assert_query_text(db, "SELECT error FROM builds WHERE id = ?", id, "too slow");
}

static void test_builds_fail_orphans(void **state)
{
	struct db *db = fdb(state);
	struct db_stmt *st;
	int64_t dead = 0, mine = 0, done = 0;

	assert_int_equal(builds_create(db, "haiku", "a", &dead), 0);
	assert_int_equal(builds_create(db, "haiku", "b", &mine), 0);
	assert_int_equal(builds_create(db, "haiku", "c", &done), 0);
	assert_int_equal(builds_finish(db, done, BUILD_FAILED, 1, "recipe failed"), 0);
	assert_int_equal(db_prepare(db, &st, "UPDATE builds SET owner = ? WHERE id IN (?, ?)"), 0);
	db_bind_text(st, 1, DEAD_OWNER);
	db_bind_int(st, 2, dead);
	db_bind_int(st, 3, done);
	assert_int_equal(db_step(st), 0);
	db_finalize(st);

	assert_int_equal(builds_fail_orphans(db), 0);
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", dead, "infra_error");
	assert_query_text(db, "SELECT exit_code FROM builds WHERE id = ?", dead, NULL);
	{
		char *err = query_text(db, "SELECT error FROM builds WHERE id = ?", dead);
		assert_non_null(err);
		assert_non_null(strstr(err, "died"));
		free(err);
	}
	assert_true(query_int(db, "SELECT finished FROM builds WHERE id = ?", dead) > 0);
	/* This process's build still runs; a finished build keeps its outcome. */
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", mine, "running");
	assert_query_text(db, "SELECT status FROM builds WHERE id = ?", done, "failed");
	assert_query_text(db, "SELECT error FROM builds WHERE id = ?", done, "recipe failed");
	assert_query_text(db, "SELECT exit_code FROM builds WHERE id = ?", done, "1");
}

/* The defect: a failed COMMIT left the transaction open, and every later BEGIN failed. */
static void test_db_commit_failure_rolls_back(void **state)
{
	struct db *db = fdb(state);

	/* A deferred foreign key is checked at COMMIT: a way to make COMMIT fail. */
	assert_int_equal(db_exec(db, "CREATE TABLE p (id INTEGER PRIMARY KEY);"
				     "CREATE TABLE c (pid INTEGER REFERENCES p(id) "
				     "DEFERRABLE INITIALLY DEFERRED)"), 0);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO c VALUES (42)"), 0);
	mf_error_clear();
	assert_int_equal(db_commit(db), -1);
	assert_non_null(strstr(mf_error_msg(), "FOREIGN KEY"));
	/* Rolled back: nothing was written, and the connection works again. */
	assert_false(db_in_transaction(db));
	assert_int_equal(query_int(db, "SELECT count(*) FROM c WHERE ?1 = ?1", 0), 0);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO p VALUES (42); INSERT INTO c VALUES (42)"), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM c WHERE ?1 = ?1", 0), 1);
}

static struct image *sample_image(const char *name)
{
	struct image *img = xcalloc(1, sizeof(*img));

	img->name = xstrdup(name);
	img->volume = xasprintf("golden-%s.qcow2", name);
	img->path = xasprintf("/pool/golden-%s.qcow2", name);
	img->source = xstrdup("/src/disk.qcow2");
	img->sha256 = xstrdup("00ff");
	img->format = xstrdup("qcow2");
	img->virtual_size = 1 << 30;
	img->host_key = xstrdup("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA");
	img->created = 1700000000;
	img->settings.ssh_user = xstrdup("user");
	img->settings.ssh_key = xstrdup("/keys/k");
	img->settings.build_command = xstrdup("haikuporter {recipes}");
	img->settings.packages_dir = xstrdup("/boot/home/haikuports/packages");
	img->settings.memory_mib = 512;
	img->settings.vcpus = 1;
	img->settings.disk_bus = DISK_BUS_IDE;
	img->settings.boot_timeout = 90;
	img->settings.tree_path = xstrdup(IMAGE_DEFAULT_TREE_PATH);
	img->settings.haikuporter = xstrdup(IMAGE_DEFAULT_HAIKUPORTER);
	img->settings.haikuporter_args = xstrdup("");
	img->settings.target_arch = xstrdup(IMAGE_DEFAULT_TARGET_ARCH);
	img->settings.secondary_arches = xstrdup("x86");
	img->settings.no_system_packages = 1;
	return img;
}

static void test_images_records(void **state)
{
	struct db *db = fdb(state);
	struct image *img = sample_image("tg"), *got = NULL, **v = NULL;
	size_t n = 0;

	assert_int_equal(images_insert(db, img), 0);
	mf_error_clear();
	assert_int_equal(images_insert(db, img), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "already exists"));
	assert_int_equal(images_get(db, "tg", &got), 0);
	assert_string_equal(got->path, img->path);
	assert_int_equal(got->settings.disk_bus, DISK_BUS_IDE);
	assert_int_equal(got->settings.boot_timeout, 90);
	assert_string_equal(got->settings.tree_path, "/boot/home/haikuports");
	assert_string_equal(got->settings.secondary_arches, "x86");
	assert_int_equal(got->settings.no_system_packages, 1);
	assert_null(got->tree_commit);
	assert_int_equal(images_check_usable(got), 0);
	image_free(got);

	/* Unknown names say which images there are. */
	assert_int_equal(images_get(db, "nope", &got), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "unknown image 'nope' (registered: tg)"));
	assert_int_equal(images_list(db, &v, &n), 0);
	assert_int_equal(n, 1);
	images_list_free(v, n);

	/* Two machines in a row that did not come up quarantine it at a threshold of 2. */
	assert_int_equal(images_boot_result(db, "tg", 0, 2, "boot timeout"), 0);
	assert_int_equal(images_boot_result(db, "tg", 0, 2, "boot timeout"), 1);
	assert_int_equal(images_get(db, "tg", &got), 0);
	assert_int_equal(images_check_usable(got), -1);
	assert_int_equal(mf_error_class(), MF_E_CONFLICT);
	assert_non_null(strstr(mf_error_msg(), "vmctl image clear tg"));
	image_free(got);
	assert_int_equal(images_clear(db, "tg"), 0);
	assert_int_equal(images_get(db, "tg", &got), 0);
	assert_null(got->quarantined);
	assert_int_equal(got->boot_failures, 0);
	image_free(got);
	image_free(img);
}

/* The defect: queued builds of a removed image were stranded, and a worker could claim between check and delete. */
static void test_images_delete_unused(void **state)
{
	struct db *db = fdb(state);
	struct image *img = sample_image("tg");
	static char r0[] = "hello";
	static char *const recipes[] = { r0 };
	struct queue_request qr = { .image = "tg", .recipes = recipes, .nrecipes = 1 };
	int64_t q1 = 0, q2 = 0, claimed = 0;
	int attempt = 0;

	assert_int_equal(images_insert(db, img), 0);
	assert_int_equal(queue_submit(db, &qr, 100, &q1), 0);
	assert_int_equal(queue_commit(db, q1, NULL), 0);
	assert_int_equal(queue_submit(db, &qr, 100, &q2), 0);
	assert_int_equal(queue_commit(db, q2, NULL), 0);

	/* Queued builds would never run: refused, naming them. */
	mf_error_clear();
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(images_delete_unused(db, "tg"), -1);
	db_rollback(db);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	assert_non_null(strstr(mf_error_msg(), "has queued builds 1, 2"));

	/* A running build of a live process (this one): refused too. */
	assert_int_equal(queue_claim(db, &claimed, &attempt), 1);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(images_delete_unused(db, "tg"), -1);
	db_rollback(db);
	assert_non_null(strstr(mf_error_msg(), "in use by running build 1"));

	/* Once nothing uses or waits for it, the record goes. */
	assert_int_equal(builds_finish(db, q1, BUILD_SUCCEEDED, 0, NULL), 0);
	char *st = NULL;
	assert_int_equal(queue_cancel(db, q2, &st), 0);
	free(st);
	assert_int_equal(db_begin(db), 0);
	assert_int_equal(images_delete_unused(db, "tg"), 0);
	assert_int_equal(db_commit(db), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM images WHERE ?1 = ?1", 0), 0);
	image_free(img);
}

/* Failed restores: counted, and the third in a row disables the snapshots until re-enabled. */
static void test_images_restore_result(void **state)
{
	struct db *db = fdb(state);
	struct image *img = sample_image("tg"), *got = NULL;

	assert_int_equal(images_insert(db, img), 0);
	assert_int_equal(images_restore_result(db, "tg", 1, 3, NULL), 0);
	assert_int_equal(images_restore_result(db, "tg", 0, 3, "bad save"), 0);
	assert_int_equal(images_restore_result(db, "tg", 0, 3, "bad save"), 0);
	/* A success in between starts the count again. */
	assert_int_equal(images_restore_result(db, "tg", 1, 3, NULL), 0);
	assert_int_equal(images_restore_result(db, "tg", 0, 3, "bad save"), 0);
	assert_int_equal(images_restore_result(db, "tg", 0, 3, "bad save"), 0);
	assert_int_equal(images_restore_result(db, "tg", 0, 3, "truncated"), 1);
	assert_int_equal(images_restore_result(db, "tg", 0, 3, "again"), 0);
	assert_int_equal(images_get(db, "tg", &got), 0);
	assert_int_equal(got->restores, 2);
	assert_int_equal(got->restore_fallbacks, 6);
	assert_int_equal(got->restore_failures, 4);
	assert_non_null(got->snapshot_disabled);
	assert_non_null(strstr(got->snapshot_disabled, "3 consecutive restores failed (last: "
				"truncated)"));
	assert_non_null(strstr(got->snapshot_disabled, "vmctl image snapshot tg"));
	image_free(got);
	assert_int_equal(images_snapshot_enable(db, "tg"), 0);
	assert_int_equal(images_get(db, "tg", &got), 0);
	assert_null(got->snapshot_disabled);
	assert_int_equal(got->restore_failures, 0);
	image_free(got);

	/* Slots are counted with the image, and a changed setting changes the key. */
	struct snapshot rec = { .image = "tg", .slot = 0, .domain = "mayfly-x-snap-tg-0",
				.uuid = "u", .layer_volume = "snap-tg-0.qcow2", .layer_path = "/p",
				.save_path = "/s", .key = "k", .save_bytes = 1, .layer_bytes = 2 };
	assert_int_equal(snapshots_insert(db, &rec), 0);
	assert_int_equal(images_get(db, "tg", &got), 0);
	assert_int_equal(got->snapshot_slots, 1);
	char *k1 = snapshot_key(got, 0), *k2 = snapshot_key(got, 1);
	assert_string_not_equal(k1, k2);
	got->settings.memory_mib++;
	char *k3 = snapshot_key(got, 0);
	assert_string_not_equal(k1, k3);
	free(k1);
	free(k2);
	free(k3);
	image_free(got);
	assert_int_equal(images_set_warm(db, "tg", 2), 0);
	assert_int_equal(images_get(db, "tg", &got), 0);
	assert_int_equal(got->settings.warm, 2);
	image_free(got);
	mf_error_clear();
	assert_int_equal(images_set_warm(db, "nosuch", 1), -1);
	assert_int_equal(mf_error_class(), MF_E_USAGE);
	image_free(img);
}

#define T(f) cmocka_unit_test_setup_teardown(f, state_fixture_setup, state_fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_state_layout),
		T(test_images_restore_result),
		T(test_ledger_adopt_orphan),
		T(test_state_nested_dir),
		T(test_instance_id),
		T(test_state_build_dir),
		T(test_state_open_fails),
		T(test_db_conflict),
		T(test_db_statements),
		T(test_ledger_self),
		T(test_ledger_claim_conflict),
		T(test_ledger_list),
		T(test_ledger_adopt),
		T(test_ledger_claim_port),
		T(test_builds_roundtrip),
		T(test_builds_finish_once),
		T(test_builds_fail_orphans),
		T(test_db_commit_failure_rolls_back),
		T(test_images_records),
		T(test_images_delete_unused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
