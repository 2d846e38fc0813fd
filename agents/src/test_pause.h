/*
 * Test-only pause points, so a test can kill an agent at a precise step of a migration.
 *
 * FERRY_TEST_PAUSE_AT=POINT in the agent's environment makes the thread that reaches POINT log
 * `msg="test pause"` and sleep FERRY_TEST_PAUSE_MS (default 60000) before it carries on. Points:
 *
 *   vcpu_state   destination, the moment the source's VCPU_STATE arrived and checked out: the
 *                source's vCPUs are frozen and it waits for this channel's final ROUND_ACK, so a
 *                test that kills the destination now exercises rollback mid-cutover.
 *
 * Unset (production): every point is a no-op.
 */
#ifndef FERRY_TEST_PAUSE_H
#define FERRY_TEST_PAUSE_H

void ferry_test_pause_point(const char *point, const char *migration_id);

#endif
