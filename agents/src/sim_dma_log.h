/*
 * The sim device's DMA dirty log: DMA_LOGGING_START/REPORT/STOP with the kernel's argument checks
 * (torvalds/linux drivers/vfio/vfio_main.c; reference section 2.1), in the kernel's order:
 *   START: 0 ranges -> EINVAL; more than FERRY_SIM_DMA_MAX_RANGES -> E2BIG; a range not aligned to
 *          page_size -> EINVAL; iova + length overflowing -> EOVERFLOW; overlapping -> EINVAL; then
 *          the driver part: already logging -> EBUSY (as the igb patch), page_size not a power of
 *          two -> EINVAL, a granularity below 4 KiB is raised to 4 KiB and reported back.
 *   REPORT: page_size below 4 KiB or not a power of two -> EINVAL; overflow -> EOVERFLOW; not
 *          logging -> EINVAL. Bits are only ORed into the caller's bitmap (the caller zeroes it),
 *          bit k = page iova + k * page_size, u64 words LSB first; the reported span is cleared.
 *   Only DMA writes inside a started range are logged; logging is independent of the migration
 *   state machine.
 */
#ifndef FERRY_SIM_DMA_LOG_H
#define FERRY_SIM_DMA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_ops.h"

/* PAGE_SIZE / sizeof(struct vfio_device_feature_dma_logging_range) on 4 KiB pages. */
#define FERRY_SIM_DMA_MAX_RANGES 256u
/* The sim driver's own bound on tracked granules (a real device has a hardware limit too). */
#define FERRY_SIM_DMA_MAX_GRANULES (UINT64_C(1) << 27)

struct ferry_sim_dma_range_log {
	uint64_t iova, length;
	uint64_t *bits; /* one per granule of the range */
};

struct ferry_sim_dma_log {
	bool started;
	uint64_t granule; /* the page size the device chose */
	uint32_t n;
	struct ferry_sim_dma_range_log ranges[FERRY_SIM_DMA_MAX_RANGES];
};

/* *page_size: in the wanted granularity, out the chosen one. 0 or a negative errno (see above),
 * with the reason in err. */
int ferry_sim_dma_log_start(struct ferry_sim_dma_log *log, const struct ferry_dma_range *ranges, uint32_t n,
			    uint64_t *page_size, char *err, size_t errlen);
/* A DMA write of [iova, iova + len) happened. */
void ferry_sim_dma_log_record(struct ferry_sim_dma_log *log, uint64_t iova, uint64_t len);
int ferry_sim_dma_log_report(struct ferry_sim_dma_log *log, uint64_t iova, uint64_t length, uint64_t page_size,
			     uint64_t *bitmap, size_t words, char *err, size_t errlen);
/* Ends logging (nothing to do if it was not started). */
void ferry_sim_dma_log_stop(struct ferry_sim_dma_log *log);

#endif
