/* The sim device's DMA: the kernel's DMA_LOGGING_START/REPORT argument checks (reference 2.1), and
 * DMA writes that land in real shared memory (a memfd mapping, as a VM's RAM is) and in the log. */
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "page_check.h"
#include "sim_dma_log.h"
#include "sim_model.h"

#define MEM_BYTES (1u << 20)
#define PAGE 4096u

static struct ferry_sim_model *make_dev(bool dma_logging, uint64_t dma_rate)
{
	struct ferry_sim_config c = {
		.vendor_id = 0x1af4,
		.device_id = 0x1041,
		.migration_version = "ferry-sim/1",
		.mig_flags = FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P,
		.dma_logging = dma_logging,
		.state_bytes = 4096,
		.dma_bytes_per_sec = dma_rate,
		.seed = 11,
	};
	struct ferry_sim_model *m = NULL;
	char err[160];
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &m, err, sizeof err), 0);
	return m;
}

FERRY_TEST(sim_dma_log_start_checks_in_kernel_order)
{
	struct ferry_sim_model *m = make_dev(true, 0);
	struct ferry_dma_range r[FERRY_SIM_DMA_MAX_RANGES + 1];
	for (uint32_t i = 0; i < FERRY_SIM_DMA_MAX_RANGES + 1; i++)
		r[i] = (struct ferry_dma_range){.iova = (uint64_t)i * 2 * PAGE, .length = PAGE};
	uint64_t ps = PAGE;
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, r, 0, &ps), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, r, FERRY_SIM_DMA_MAX_RANGES + 1, &ps), -E2BIG);
	struct ferry_dma_range mis[] = {{0, PAGE}, {PAGE * 4 + 512, PAGE}};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, mis, 2, &ps), -EINVAL);
	struct ferry_dma_range ovf[] = {{UINT64_MAX - PAGE + 1, 2 * PAGE}};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, ovf, 1, &ps), -EOVERFLOW);
	struct ferry_dma_range ovl[] = {{0, 4 * PAGE}, {8 * PAGE, PAGE}, {3 * PAGE, 2 * PAGE}};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, ovl, 3, &ps), -EINVAL);
	EXPECT(strstr(ferry_sim_model_error(m), "range 2 overlaps range 0") != NULL);
	ps = 3 * PAGE; /* aligned ranges, but not a power of two */
	struct ferry_dma_range three[] = {{0, 3 * PAGE}};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, three, 1, &ps), -EINVAL);

	/* Exactly 256 ranges are fine; a granularity below 4 KiB is raised and reported back. */
	ps = 512;
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, r, FERRY_SIM_DMA_MAX_RANGES, &ps), 0);
	EXPECT_EQ_U64(ps, PAGE);
	ps = PAGE;
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, r, 1, &ps), -EBUSY);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_stop(m), 0);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, r, 1, &ps), 0);
	ferry_sim_model_destroy(m);

	m = make_dev(false, 0);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, r, 1, &ps), -ENOTTY);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_dma_log_report_checks)
{
	struct ferry_sim_model *m = make_dev(true, 0);
	uint64_t bm[4] = {0};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, 16 * PAGE, PAGE, bm, 4), -EINVAL); /* not started */
	struct ferry_dma_range r = {0, 64 * PAGE};
	uint64_t ps = PAGE;
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, &r, 1, &ps), 0);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, 16 * PAGE, 2048, bm, 4), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, 16 * PAGE, PAGE + 1, bm, 4), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, UINT64_MAX - PAGE, 2 * PAGE, PAGE, bm, 4), -EOVERFLOW);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, 64 * PAGE * 5, PAGE, bm, 4), -EINVAL); /* bitmap too small */
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, 64 * PAGE, PAGE, bm, 1), 0);
	ferry_sim_model_destroy(m);
}

static bool page_written(const uint8_t *mem, uint64_t page, uint64_t page_size)
{
	for (uint64_t i = 0; i < page_size; i++)
		if (mem[page * page_size + i])
			return true;
	return false;
}

FERRY_TEST(sim_dma_writes_land_in_shared_memory_and_in_the_log)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);
	EXPECT(fd >= 0);
	EXPECT_EQ_INT(ftruncate(fd, MEM_BYTES), 0);
	uint8_t *mem = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	/* A second, independent mapping of the same memfd: what the VM (or the agent) would see. */
	uint8_t *view = mmap(NULL, MEM_BYTES, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT(mem != MAP_FAILED && view != MAP_FAILED);

	struct ferry_sim_model *m = make_dev(true, 64 * 1024);
	ferry_sim_model_attach_memory(m, mem, MEM_BYTES);
	/* Log only the first half of guest memory. */
	struct ferry_dma_range r = {0, MEM_BYTES / 2};
	uint64_t ps = PAGE;
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, &r, 1, &ps), 0);
	ferry_sim_model_advance(m, 1000000000); /* 1 s at 64 KiB/s: 1024 cache-line writes */

	uint64_t pages = MEM_BYTES / PAGE, written = 0, high_written = 0;
	uint64_t bm[(MEM_BYTES / PAGE + 63) / 64] = {0};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, MEM_BYTES, PAGE, bm, sizeof bm / 8), 0);
	for (uint64_t p = 0; p < pages; p++) {
		bool w = page_written(view, p, PAGE), bit = (bm[p / 64] >> (p % 64)) & 1;
		written += w;
		if (p >= pages / 2) {
			high_written += w;
			EXPECT(!bit); /* outside the logged range */
		} else if (w != bit) {
			fprintf(stderr, "  page %llu: written %d, logged %d\n", (unsigned long long)p, w, bit);
			ferry_test_failures++;
		}
	}
	EXPECT(written > pages / 2); /* 1024 writes over 256 pages touch most of them */
	EXPECT(high_written > 0);

	/* REPORT cleared what it returned. */
	uint64_t again[sizeof bm / 8] = {0};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, MEM_BYTES, PAGE, again, sizeof again / 8), 0);
	for (size_t i = 0; i < sizeof again / 8; i++)
		EXPECT_EQ_U64(again[i], 0);

	/* A coarser report page covers two log granules: bit k = page 2k or 2k+1 dirty. */
	memset(mem, 0, MEM_BYTES);
	ferry_sim_model_advance(m, 100000000);
	uint64_t coarse[2] = {0};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, MEM_BYTES / 2, 2 * PAGE, coarse, 2), 0);
	for (uint64_t k = 0; k < pages / 4; k++) {
		bool w = page_written(view, 2 * k, PAGE) || page_written(view, 2 * k + 1, PAGE);
		EXPECT_EQ_INT((coarse[k / 64] >> (k % 64)) & 1, w);
	}

	/* Stopped devices do no DMA. */
	uint64_t s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, FERRY_MIG_STOP, &s), 0);
	memset(mem, 0, MEM_BYTES);
	ferry_sim_model_advance(m, 1000000000);
	for (uint64_t p = 0; p < pages; p++)
		EXPECT(!page_written(view, p, PAGE));

	ferry_sim_model_destroy(m);
	munmap(mem, MEM_BYTES);
	munmap(view, MEM_BYTES);
	close(fd);
}

static struct ferry_sim_model *make_selfcheck_dev(uint64_t dma_rate, uint64_t offset, uint64_t length)
{
	struct ferry_sim_config c = {.vendor_id = 0x1af4, .device_id = 0x1041, .migration_version = "ferry-sim/1",
				     .mig_flags = FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY,
				     .dma_logging = true, .state_bytes = 4096, .dma_bytes_per_sec = dma_rate,
				     .dma_pattern = FERRY_SIM_DMA_SELFCHECK, .dma_offset = offset, .dma_length = length,
				     .seed = 77};
	struct ferry_sim_model *m = NULL;
	char err[160];
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &m, err, sizeof err), 0);
	return m;
}

FERRY_TEST(sim_dma_selfcheck_pages_pass_the_workload_check_inside_the_window)
{
	const uint64_t pages = MEM_BYTES / PAGE, lo = 64, hi = 128; /* window: pages 64..127 */
	uint8_t *mem = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint8_t *before = malloc(MEM_BYTES);
	EXPECT(mem != MAP_FAILED && before);
	for (uint64_t p = 0; p < pages; p++)
		ferry_page_fill(mem + p * PAGE, p, 1, 5); /* a workload's freshly filled RAM */
	memcpy(before, mem, MEM_BYTES);

	struct ferry_sim_model *m = make_selfcheck_dev(128 * PAGE, lo * PAGE, (hi - lo) * PAGE);
	ferry_sim_model_attach_memory(m, mem, MEM_BYTES);
	struct ferry_dma_range r = {0, MEM_BYTES};
	uint64_t ps = PAGE;
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(m, &r, 1, &ps), 0);
	uint64_t s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, FERRY_MIG_PRE_COPY, &s), 0); /* DMA goes on in pre-copy */
	ferry_sim_model_advance(m, 1000000000); /* 128 page writes over 64 pages */
	ferry_sim_model_advance(m, 1000000000); /* and again: generations go on from what the page holds */

	uint64_t first_bad = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	EXPECT_EQ_INT(ferry_memory_verify(mem, 0, pages, &first_bad, &fault), 0);
	uint64_t bm[(MEM_BYTES / PAGE + 63) / 64] = {0};
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, MEM_BYTES, PAGE, bm, sizeof bm / 8), 0);
	uint64_t changed = 0, max_gen = 0;
	for (uint64_t p = 0; p < pages; p++) {
		bool w = memcmp(mem + p * PAGE, before + p * PAGE, PAGE) != 0, bit = (bm[p / 64] >> (p % 64)) & 1;
		uint64_t gen = ferry_page_trailer_read(mem + p * PAGE).generation;
		EXPECT_EQ_INT(w, bit); /* logged exactly where it wrote */
		if (p < lo || p >= hi)
			EXPECT(!w); /* nothing outside the window */
		else if (w)
			EXPECT(gen >= 2);
		changed += w;
		max_gen = gen > max_gen ? gen : max_gen;
	}
	EXPECT(changed > (hi - lo) / 2);
	EXPECT(max_gen >= 3);

	/* STOP_COPY: the device is quiesced, no DMA however long. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, FERRY_MIG_STOP_COPY, &s), 0);
	memcpy(before, mem, MEM_BYTES);
	ferry_sim_model_advance(m, 1000000000);
	EXPECT(memcmp(before, mem, MEM_BYTES) == 0);
	memset(bm, 0, sizeof bm);
	EXPECT_EQ_INT(ferry_sim_model_dma_log_report(m, 0, MEM_BYTES, PAGE, bm, sizeof bm / 8), 0);
	for (size_t i = 0; i < sizeof bm / 8; i++)
		EXPECT_EQ_U64(bm[i], 0);
	ferry_sim_model_destroy(m);

	/* A window past the memory writes nothing; a window not in whole pages is refused. */
	m = make_selfcheck_dev(128 * PAGE, MEM_BYTES, 0);
	ferry_sim_model_attach_memory(m, mem, MEM_BYTES);
	ferry_sim_model_advance(m, 1000000000);
	EXPECT(memcmp(before, mem, MEM_BYTES) == 0);
	ferry_sim_model_destroy(m);
	struct ferry_sim_config bad = {.mig_flags = FERRY_MIG_FLAG_STOP_COPY, .state_bytes = 4096, .dma_offset = 100};
	char err[160] = "";
	EXPECT_EQ_INT(ferry_sim_model_create(&bad, &m, err, sizeof err), -EINVAL);
	EXPECT_EQ_STR(err, "DMA window of 0 bytes at 100 is not made of whole 4 KiB pages");
	bad.dma_offset = 0;
	bad.dma_pattern = (enum ferry_sim_dma_pattern)7;
	EXPECT_EQ_INT(ferry_sim_model_create(&bad, &m, err, sizeof err), -EINVAL);
	free(before);
	munmap(mem, MEM_BYTES);
}
