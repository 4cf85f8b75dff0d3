/*
 * state_fixture.h - what the unit tests of the state directory share: a
 * fresh mkdtemp state directory per test, and one-value queries that fail
 * the test with the SQL when there is no row. Include after <cmocka.h>.
 */
#ifndef MAYFLY_TEST_STATE_FIXTURE_H
#define MAYFLY_TEST_STATE_FIXTURE_H

#include <stdint.h>

#include "store/db.h"
#include "store/state.h"

/* An owner that cannot be running: no process started at tick 1 as pid 999999. */
#define DEAD_OWNER "999999:1"

struct fixture {
	char dir[64];
	struct mf_state *st;
};

/* cmocka setup and teardown: *state becomes a struct fixture. */
int state_fixture_setup(void **state);
int state_fixture_teardown(void **state);

/* The fixture's database. */
struct db *fdb(void **state);

/* The first column of the first row, ?1 bound to arg (query_text: caller frees, NULL for NULL). */
char *query_text(struct db *db, const char *sql, int64_t arg);
int64_t query_int(struct db *db, const char *sql, int64_t arg);
/* Registers an image record of that name (a golden volume that need not exist). */
void fixture_add_image(struct db *db, const char *name);

/* want NULL: the value must be NULL. */
void assert_query_text(struct db *db, const char *sql, int64_t arg, const char *want);

#endif
