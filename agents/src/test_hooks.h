/*
 * Test-only hooks: switches read from the agent's environment so a test can pause an agent at a
 * precise step of a migration or inject one fault the real code must catch. Every hook is read
 * here and only here, one function each; unset (production), each is a no-op or answers "off".
 */
#ifndef FERRY_TEST_HOOKS_H
#define FERRY_TEST_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

/* FERRY_TEST_PAUSE_AT=POINT makes the thread that reaches POINT log `msg="test pause"` and sleep
 * FERRY_TEST_PAUSE_MS (default 60000) before it carries on. Points:
 *
 *   vcpu_state   destination, the moment the source's VCPU_STATE arrived and checked out: the
 *                source's vCPUs are frozen and it waits for this channel's final ROUND_ACK, so a
 *                test that kills the destination now exercises rollback mid-cutover. */
void ferry_test_pause_point(const char *point, const char *migration_id);

/* FERRY_TEST_CORRUPT_BATCH=N (source): the N-th page batch sent carries a wrong checksum for its
 * middle data page, as if that page were damaged in transit. 0 = off. */
uint64_t ferry_test_corrupt_batch(void);

/* FERRY_TEST_TEAR_PAGE=N (source): in round 0, the guest is halfway through writing page N (the
 * workload's `tear`) when the source sends it, after it took the page's checksum, and completes the
 * write (`touch`) after the send, as a vCPU write racing the send would: the page arrives torn, with
 * a checksum that does not match it. *page = N; false when unset. */
bool ferry_test_tear_page(uint64_t *page);

/* FERRY_TEST_CORRUPT_VCPU_STATE=1 (source): the vCPU state gets one byte flipped after its
 * checksum. */
bool ferry_test_corrupt_vcpu_state(void);

/* FERRY_TEST_CORRUPT_PAGE (destination): a byte of guest RAM goes bad after it arrived intact.
 * "N": page N arrives torn in round 0 (its checksum matched, its self-check fails), as if
 * a vCPU wrote it while the source copied it (*final = false, *page = N); "final": the first page that
 * arrived in the final round, at its end (*final = true). false when unset. */
bool ferry_test_corrupt_page(bool *final, uint64_t *page);

/* FERRY_TEST_DMA_LOG_IGNORED=1 (source): device DMA logs are read (and so cleared) but not merged
 * into the harvests. */
bool ferry_test_dma_log_ignored(void);

#endif
