/* Device DMA dirty logging during a migration; see migration_dma_log.h. */
#include "migration_dma_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "dirty_tracker.h"
#include "log.h"
#include "test_hooks.h"

#define PAGE FERRY_DIRTY_PAGE_SIZE

static struct ferry_group_member *member(struct ferry_mig_dma_log *log, size_t i)
{
	return &log->b->set.g.m[i];
}

static const char *why(struct ferry_device *dev, int rc)
{
	return ferry_device_error(dev)[0] ? ferry_device_error(dev) : strerror(-rc);
}

int ferry_mig_dma_log_start(struct ferry_mig_dma_log *log, struct ferry_mig_device_binding *b, uint64_t ram_bytes,
			    char *err, size_t errlen)
{
	memset(log, 0, sizeof *log);
	log->b = b;
	log->ram_bytes = ram_bytes;
	log->ignored = ferry_test_dma_log_ignored();
	if (log->ignored && b && b->set.g.n)
		ferry_log(FERRY_LOG_WARNING, "msg=\"test fault: device DMA logs are read but not merged into harvests\"");
	for (size_t i = 0; b && i < b->set.g.n; i++) {
		struct ferry_group_member *m = member(log, i);
		if (!m->caps.dma_logging)
			continue;
		if (!log->report.words && ferry_dirty_bitmap_init(&log->report, ram_bytes / PAGE) < 0) {
			ferry_errbuf_set(err, errlen, "no memory for a DMA log of %llu pages",
					 (unsigned long long)(ram_bytes / PAGE));
			ferry_mig_dma_log_stop(log);
			return -ENOMEM;
		}
		struct ferry_dma_range range = {.iova = 0, .length = ram_bytes};
		uint64_t page_size = PAGE;
		int rc = m->dev->ops->dma_log_start(m->dev, &range, 1, &page_size);
		if (rc < 0) {
			ferry_errbuf_set(err, errlen, "device %s: starting its DMA log: %s", m->name, why(m->dev, rc));
			ferry_mig_dma_log_stop(log);
			return rc;
		}
		log->on[i] = true;
		if (page_size != PAGE) {
			ferry_errbuf_set(err, errlen, "device %s logs DMA by %llu-byte pages, only %u is supported", m->name,
					 (unsigned long long)page_size, PAGE);
			ferry_mig_dma_log_stop(log);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

int ferry_mig_dma_log_collect(struct ferry_mig_dma_log *log, struct ferry_dirty_bitmap *bm, uint64_t *pages,
			      char *err, size_t errlen)
{
	uint64_t total = 0;
	for (size_t i = 0; log->b && i < log->b->set.g.n; i++) {
		if (!log->on[i])
			continue;
		struct ferry_group_member *m = member(log, i);
		ferry_dirty_bitmap_clear_all(&log->report);
		int rc = m->dev->ops->dma_log_report(m->dev, 0, log->ram_bytes, PAGE, log->report.words,
						     (size_t)((log->report.npages + 63) / 64));
		if (rc < 0) {
			ferry_errbuf_set(err, errlen, "device %s: reading its DMA log: %s", m->name, why(m->dev, rc));
			return rc;
		}
		total += ferry_dirty_bitmap_count(&log->report);
		if (!log->ignored)
			ferry_dirty_bitmap_or(bm, &log->report);
	}
	if (pages)
		*pages = total;
	return 0;
}

void ferry_mig_dma_log_stop(struct ferry_mig_dma_log *log)
{
	for (size_t i = 0; log->b && i < log->b->set.g.n; i++) {
		if (!log->on[i])
			continue;
		struct ferry_group_member *m = member(log, i);
		int rc = m->dev->ops->dma_log_stop(m->dev);
		if (rc < 0)
			ferry_log(FERRY_LOG_WARNING, "msg=\"cannot stop a DMA log\" device=%s reason=\"%s\"", m->name,
				  why(m->dev, rc));
		log->on[i] = false;
	}
	ferry_dirty_bitmap_free(&log->report);
}
