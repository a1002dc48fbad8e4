/*
 * test_qmgr_slot.c - the queue role's schedule limits (smtp/queue/
 * qmgr-slot.c): per-destination counters (local_destination_concurrency_limit,
 * smtp_destination_concurrency_limit) and the retry backoff
 * (minimal_backoff_time doubled per attempt, at most maximal_backoff_time).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "smtp/queue/qmgr-private.h"

static void test_slot_limits(void **state)
{
	struct qmgr q;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_true(qmgr_slot_take(&q, "local:alice@example.test", 2));
	assert_true(qmgr_slot_take(&q, "local:alice@example.test", 2));
	assert_false(qmgr_slot_take(&q, "local:alice@example.test", 2));
	/* another destination is not held up */
	assert_true(qmgr_slot_take(&q, "smtp:example.net", 1));
	assert_false(qmgr_slot_take(&q, "smtp:example.net", 1));
	qmgr_slot_put(&q, "local:alice@example.test");
	assert_true(qmgr_slot_take(&q, "local:alice@example.test", 2));
	qmgr_slot_put(&q, "smtp:example.net");
	/* a count back at zero drops its entry */
	assert_true(qmgr_slot_take(&q, "smtp:example.net", 1));
	qmgr_slot_put(&q, "smtp:example.net");
	qmgr_slot_put(&q, "no:such");
	qmgr_slot_free_all(&q);
	assert_null(q.slots);
}

static void test_slot_entry_removed_at_zero(void **state)
{
	struct qmgr q;

	(void)state;
	memset(&q, 0, sizeof(q));
	assert_true(qmgr_slot_take(&q, "a", 1));
	qmgr_slot_put(&q, "a");
	assert_null(q.slots);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(qmgr_backoff(300, 4000, 0), 300);
	assert_int_equal(qmgr_backoff(300, 4000, 1), 600);
	assert_int_equal(qmgr_backoff(300, 4000, 2), 1200);
	assert_int_equal(qmgr_backoff(300, 4000, 3), 2400);
	assert_int_equal(qmgr_backoff(300, 4000, 4), 4000);
	assert_int_equal(qmgr_backoff(300, 4000, 1000000), 4000);
	assert_int_equal(qmgr_backoff(1, 2, 5), 2);
	assert_int_equal(qmgr_backoff(5, 5, 3), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_limits),
		cmocka_unit_test(test_slot_entry_removed_at_zero),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
