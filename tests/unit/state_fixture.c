/*
 * state_fixture.c - see state_fixture.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/util.h"
#include "state_fixture.h"

int state_fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mayfly-test-XXXXXX");
	/* Searchable by others, as a state directory is: the sandbox reads the source cache. */
	if (!mkdtemp(f->dir) || chmod(f->dir, 0755) < 0) {
		free(f);
		return -1;
	}
	if (state_open(&f->st, f->dir) < 0) {
		fprintf(stderr, "state_open: %s\n", mf_error_msg());
		mf_rm_rf(f->dir);
		free(f);
		return -1;
	}
	mf_error_clear();
	*state = f;
	return 0;
}

int state_fixture_teardown(void **state)
{
	struct fixture *f = *state;

	state_free(f->st);
	if (mf_rm_rf(f->dir) < 0)
		fprintf(stderr, "cannot clean up: %s\n", mf_error_msg());
	free(f);
	return 0;
}

struct db *fdb(void **state)
{
	return ((struct fixture *)*state)->st->db;
}

/* Prepared, bound and stepped onto its first row, or the test fails. */
static struct db_stmt *first_row(struct db *db, const char *sql, int64_t arg)
{
	struct db_stmt *st;

	assert_int_equal(db_prepare(db, &st, sql), 0);
	db_bind_int(st, 1, arg);
	if (db_step(st) != 1)
		fail_msg("no row for %s (?1 = %lld)", sql, (long long)arg);
	return st;
}

char *query_text(struct db *db, const char *sql, int64_t arg)
{
	struct db_stmt *st = first_row(db, sql, arg);
	char *v = NULL;

	if (!db_col_is_null(st, 0))
		v = xstrdup(db_col_text(st, 0));
	db_finalize(st);
	return v;
}

int64_t query_int(struct db *db, const char *sql, int64_t arg)
{
	struct db_stmt *st = first_row(db, sql, arg);
	int64_t v = db_col_int(st, 0);

	db_finalize(st);
	return v;
}

void assert_query_text(struct db *db, const char *sql, int64_t arg, const char *want)
{
	char *got = query_text(db, sql, arg);

	if (!want) {
		if (got)
			fail_msg("%s (?1 = %lld) gave '%s', expected NULL", sql, (long long)arg, got);
		return;
	}
	if (!got)
		fail_msg("%s (?1 = %lld) gave NULL, expected '%s'", sql, (long long)arg, want);
	if (strcmp(got, want) != 0)
		fail_msg("%s (?1 = %lld) gave '%s', expected '%s'", sql, (long long)arg, got, want);
	free(got);
}

void fixture_add_image(struct db *db, const char *name)
{
	struct db_stmt *st;

	assert_int_equal(db_prepare(db, &st,
		"INSERT INTO images (name, volume, path, source, sha256, format, virtual_size, "
		"host_key, created, ssh_user, ssh_key, build_command, packages_dir, memory_mib, "
		"vcpus, disk_bus, boot_timeout) VALUES (?1, 'golden-' || ?1 || '.qcow2', "
		"'/pool/golden.qcow2', '/src/disk.img', 'abc', 'raw', 1073741824, "
		"'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA', 1700000000, 'user', '/keys/k', "
		"'haikuporter {recipes}', '/boot/home/haikuports/packages', 2048, 2, 'virtio', "
		"180)"), 0);
	db_bind_text(st, 1, name);
	assert_int_equal(db_step(st), 0);
	db_finalize(st);
}
