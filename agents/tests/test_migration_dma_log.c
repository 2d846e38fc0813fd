/* Device DMA in a migration's dirty pages (migration_dma_log.h), over in-process sim devices
 * writing into a buffer standing for guest RAM: every page a device changed is in the round's
 * dirty set, a report is not repeated, devices without logging are left alone. */
#include "test.h"

#include <stdlib.h>

#include "migration_dma_log.h"
#include "sim_local.h"

#define FLAGS (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)
#define NPAGES 256u
#define PG 4096u

static void add(struct ferry_device_registry *r, const char *name, struct ferry_device *dev)
{
	size_t i = r->n++;
	snprintf(r->info[i].name, sizeof r->info[i].name, "%s", name);
	snprintf(r->info[i].vm_id, sizeof r->info[i].vm_id, "vm1");
	r->dev[i] = dev;
	dev->ops->probe(dev, &r->caps[i]);
}

FERRY_TEST(dma_log_puts_device_writes_in_the_dirty_pages)
{
	static struct ferry_device_registry r;
	memset(&r, 0, sizeof r);
	uint8_t *ram = calloc(NPAGES, PG), *before = malloc((size_t)NPAGES * PG);
	struct ferry_device *dma = sim_local_create_dma(FLAGS, 7, 8u << 20), *plain = sim_local_create(FLAGS, 0, 8);
	EXPECT(ram && before && dma && plain);
	if (!ram || !before || !dma || !plain)
		return;
	ferry_sim_model_attach_memory(sim_local_model(dma), ram, (uint64_t)NPAGES * PG);
	add(&r, "dma0", dma);
	add(&r, "plain1", plain);
	struct ferry_mig_device_binding *b = NULL;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_mig_device_binding_source(&r, "vm1", NULL, &b, err, sizeof err), 0);
	struct ferry_mig_dma_log log;
	EXPECT_EQ_INT(ferry_mig_dma_log_start(&log, b, (uint64_t)NPAGES * PG, err, sizeof err), 0);
	EXPECT(log.on[0] && !log.on[1]);

	struct ferry_dirty_bitmap bm;
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, NPAGES), 0);
	memcpy(before, ram, (size_t)NPAGES * PG);
	ferry_sim_model_advance(sim_local_model(dma), 20 * 1000 * 1000); /* ~160 KiB of DMA */
	ferry_dirty_bitmap_set(&bm, 3);                                  /* a CPU-dirtied page stays */
	uint64_t pages = 0;
	EXPECT_EQ_INT(ferry_mig_dma_log_collect(&log, &bm, &pages, err, sizeof err), 0);
	uint64_t changed = 0, missed = 0;
	for (uint64_t i = 0; i < NPAGES; i++) {
		bool c = memcmp(before + i * PG, ram + i * PG, PG) != 0;
		changed += c;
		missed += c && !ferry_dirty_bitmap_test(&bm, i);
	}
	EXPECT(changed > 0);
	EXPECT_EQ_U64(missed, 0);
	EXPECT(pages >= changed);
	EXPECT(ferry_dirty_bitmap_test(&bm, 3));

	/* Nothing written since: the next harvest adds nothing (the report cleared the log). */
	ferry_dirty_bitmap_clear_all(&bm);
	EXPECT_EQ_INT(ferry_mig_dma_log_collect(&log, &bm, &pages, err, sizeof err), 0);
	EXPECT_EQ_U64(pages, 0);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(&bm), 0);

	ferry_mig_dma_log_stop(&log);
	EXPECT(!log.on[0]);
	ferry_mig_dma_log_stop(&log); /* twice is harmless (the worker's failure path falls through) */
	ferry_dirty_bitmap_free(&bm);
	free(b);
	dma->ops->close(dma);
	plain->ops->close(plain);
	free(ram);
	free(before);
}

FERRY_TEST(dma_log_without_devices_is_empty)
{
	struct ferry_mig_dma_log log;
	struct ferry_dirty_bitmap bm;
	char err[128];
	uint64_t pages = 99;
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, 64), 0);
	EXPECT_EQ_INT(ferry_mig_dma_log_start(&log, NULL, 64 * PG, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_mig_dma_log_collect(&log, &bm, &pages, err, sizeof err), 0);
	EXPECT_EQ_U64(pages, 0);
	ferry_mig_dma_log_stop(&log);
	ferry_dirty_bitmap_free(&bm);
}
