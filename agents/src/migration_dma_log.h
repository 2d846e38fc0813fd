/*
 * The source's view of device DMA: userfaultfd write-protection sees only CPU writes, so every
 * device of the migration that offers DMA dirty logging logs guest RAM (IOVA 0 .. ram_bytes, the
 * guest-physical layout the devices are attached with) at 4 KiB granularity from pre-copy on, and
 * each harvest ORs the devices' reports into the round's dirty pages (REPORT clears what it
 * returns, like the kernel's). A device that logs at another granularity is refused: its report
 * would have to be widened, which nothing needs today.
 *
 * Threads: the migration worker only.
 *
 * Test-only fault: FERRY_TEST_DMA_LOG_IGNORED=1 in the agent's environment reads (and so clears)
 * the devices' reports but ORs nothing into the harvests: the copy a migration makes without the
 * DMA log, for the negative control of tests/test_migration_dma.c.
 */
#ifndef FERRY_MIGRATION_DMA_LOG_H
#define FERRY_MIGRATION_DMA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirty_bitmap.h"
#include "migration_device_binding.h"

struct ferry_mig_dma_log {
	struct ferry_mig_device_binding *b; /* NULL = no devices */
	uint64_t ram_bytes;
	bool on[FERRY_GROUP_MAX_DEVICES];
	struct ferry_dirty_bitmap report; /* one device's report */
	bool ignored; /* FERRY_TEST_DMA_LOG_IGNORED=1 */
};

/* Starts logging on every device of b (may be NULL) that supports it. 0, or -EOPNOTSUPP / the
 * device's error with the reason in err (the ones started are stopped again). */
int ferry_mig_dma_log_start(struct ferry_mig_dma_log *log, struct ferry_mig_device_binding *b, uint64_t ram_bytes,
			    char *err, size_t errlen);

/* ORs every logging device's report into bm; *pages (may be NULL) = pages the devices reported.
 * 0 or the device's error (reason in err). */
int ferry_mig_dma_log_collect(struct ferry_mig_dma_log *log, struct ferry_dirty_bitmap *bm, uint64_t *pages,
			      char *err, size_t errlen);

/* Stops logging everywhere it runs and frees the log (safe to call twice, or without a start). */
void ferry_mig_dma_log_stop(struct ferry_mig_dma_log *log);

#endif
