/* The sim device's DMA dirty log; see sim_dma_log.h for the rules and their source. */
#include "sim_dma_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

static bool is_pow2(uint64_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

/* IS_ALIGNED(x, a) as the kernel writes it; a page size of 0 only "aligns" 0. */
static bool aligned(uint64_t x, uint64_t a)
{
	return (x & (a - 1)) == 0;
}

int ferry_sim_dma_log_start(struct ferry_sim_dma_log *log, const struct ferry_dma_range *ranges, uint32_t n,
			    uint64_t *page_size, char *err, size_t errlen)
{
	uint64_t ps = *page_size;
	if (n == 0) {
		ferry_errbuf_set(err, errlen, "DMA_LOGGING_START with no ranges");
		return -EINVAL;
	}
	if (n > FERRY_SIM_DMA_MAX_RANGES) {
		ferry_errbuf_set(err, errlen, "DMA_LOGGING_START with %u ranges, at most %u", n, FERRY_SIM_DMA_MAX_RANGES);
		return -E2BIG;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct ferry_dma_range *r = &ranges[i];
		if (!aligned(r->iova, ps) || !aligned(r->length, ps)) {
			ferry_errbuf_set(err, errlen, "range %u [0x%llx, +0x%llx) is not aligned to page size %llu", i,
					 (unsigned long long)r->iova, (unsigned long long)r->length,
					 (unsigned long long)ps);
			return -EINVAL;
		}
		uint64_t end;
		if (__builtin_add_overflow(r->iova, r->length, &end)) {
			ferry_errbuf_set(err, errlen, "range %u [0x%llx, +0x%llx) overflows", i,
					 (unsigned long long)r->iova, (unsigned long long)r->length);
			return -EOVERFLOW;
		}
		/* The kernel inserts the ranges into an interval tree one by one and refuses the first
		 * that meets an earlier one; a zero length is an empty (inverted) interval there. */
		if (r->length == 0) {
			ferry_errbuf_set(err, errlen, "range %u has length 0", i);
			return -EINVAL;
		}
		for (uint32_t j = 0; j < i; j++) {
			const struct ferry_dma_range *o = &ranges[j];
			if (r->iova < o->iova + o->length && o->iova < end) {
				ferry_errbuf_set(err, errlen, "range %u overlaps range %u", i, j);
				return -EINVAL;
			}
		}
	}
	if (log->started) {
		ferry_errbuf_set(err, errlen, "DMA logging is already started");
		return -EBUSY;
	}
	if (!is_pow2(ps)) {
		ferry_errbuf_set(err, errlen, "DMA log page size %llu is not a power of two", (unsigned long long)ps);
		return -EINVAL;
	}
	uint64_t granule = ps < 4096 ? 4096 : ps;
	uint64_t total = 0;
	for (uint32_t i = 0; i < n; i++)
		total += ranges[i].length / granule + 1;
	if (total > FERRY_SIM_DMA_MAX_GRANULES) {
		ferry_errbuf_set(err, errlen, "DMA log of %llu granules exceeds the device's %llu",
				 (unsigned long long)total, (unsigned long long)FERRY_SIM_DMA_MAX_GRANULES);
		return -ENOMEM;
	}
	memset(log, 0, sizeof *log);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t granules = (ranges[i].length + granule - 1) / granule;
		log->ranges[i].iova = ranges[i].iova;
		log->ranges[i].length = ranges[i].length;
		log->ranges[i].bits = calloc((size_t)(granules + 63) / 64, sizeof(uint64_t));
		log->n = i + 1;
		if (!log->ranges[i].bits) {
			ferry_sim_dma_log_stop(log);
			ferry_errbuf_set(err, errlen, "out of memory for the DMA log");
			return -ENOMEM;
		}
	}
	log->granule = granule;
	log->started = true;
	*page_size = granule;
	return 0;
}

void ferry_sim_dma_log_record(struct ferry_sim_dma_log *log, uint64_t iova, uint64_t len)
{
	if (!log->started || len == 0)
		return;
	for (uint32_t i = 0; i < log->n; i++) {
		struct ferry_sim_dma_range_log *r = &log->ranges[i];
		uint64_t lo = iova > r->iova ? iova : r->iova;
		uint64_t hi_w = iova + len, hi_r = r->iova + r->length;
		uint64_t hi = hi_w < hi_r ? hi_w : hi_r;
		if (lo >= hi)
			continue;
		for (uint64_t g = (lo - r->iova) / log->granule; g <= (hi - 1 - r->iova) / log->granule; g++)
			r->bits[g / 64] |= UINT64_C(1) << (g % 64);
	}
}

int ferry_sim_dma_log_report(struct ferry_sim_dma_log *log, uint64_t iova, uint64_t length, uint64_t page_size,
			     uint64_t *bitmap, size_t words, char *err, size_t errlen)
{
	if (page_size < 4096 || !is_pow2(page_size)) {
		ferry_errbuf_set(err, errlen, "DMA log report page size %llu is not a power of two >= 4096",
				 (unsigned long long)page_size);
		return -EINVAL;
	}
	uint64_t end;
	if (__builtin_add_overflow(iova, length, &end)) {
		ferry_errbuf_set(err, errlen, "DMA log report [0x%llx, +0x%llx) overflows", (unsigned long long)iova,
				 (unsigned long long)length);
		return -EOVERFLOW;
	}
	if (!log->started) {
		ferry_errbuf_set(err, errlen, "DMA log report while logging is not started");
		return -EINVAL;
	}
	uint64_t pages = length / page_size + (length % page_size != 0);
	if (length == 0 || pages > (uint64_t)words * 64) {
		ferry_errbuf_set(err, errlen, "DMA log report of %llu pages into a %zu-word bitmap",
				 (unsigned long long)pages, words);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < log->n; i++) {
		struct ferry_sim_dma_range_log *r = &log->ranges[i];
		uint64_t lo = iova > r->iova ? iova : r->iova;
		uint64_t hi_r = r->iova + r->length;
		uint64_t hi = end < hi_r ? end : hi_r;
		if (lo >= hi)
			continue;
		for (uint64_t g = (lo - r->iova) / log->granule; g <= (hi - 1 - r->iova) / log->granule; g++) {
			uint64_t *w = &r->bits[g / 64], bit = UINT64_C(1) << (g % 64);
			if (!(*w & bit))
				continue;
			/* The granule's bytes within the report window; a coarser granule than the report's
			 * page size sets every page it covers (drivers replicate bits). */
			uint64_t g_lo = r->iova + g * log->granule, g_hi = g_lo + log->granule;
			uint64_t a = g_lo > iova ? g_lo : iova, b = g_hi < end ? g_hi : end;
			for (uint64_t k = (a - iova) / page_size; k <= (b - 1 - iova) / page_size; k++)
				bitmap[k / 64] |= UINT64_C(1) << (k % 64);
			/* Report returns and clears; only a granule wholly inside the window is cleared,
			 * so a dirty bit outside the window is never lost. */
			if (g_lo >= iova && g_hi <= end)
				*w &= ~bit;
		}
	}
	return 0;
}

void ferry_sim_dma_log_stop(struct ferry_sim_dma_log *log)
{
	for (uint32_t i = 0; i < log->n; i++)
		free(log->ranges[i].bits);
	memset(log, 0, sizeof *log);
}
