/* Device DMA into guest RAM during a live migration (migration_harness.h: two real agents, a real
 * source workload, a ferry-simdevd per host). The source VM's sim device DMA-writes self-checked
 * pages (dma_pattern = selfcheck) into its receive window of guest RAM at 16 MiB/s through
 * RUNNING and PRE_COPY while the vCPUs dirty the rest; userfaultfd sees only the vCPUs, the
 * device's DMA log the rest. Checks: the migration completes, the destination's memory (its VM
 * kept paused after `start`, so nothing wrote since) is byte for byte the source's memory after
 * the stop (CRC-32C of both, and page by page), DMA-only pages included; and, as the negative
 * control that shows the test can fail, the same migration with the DMA log left out of the
 * harvests (FERRY_TEST_DMA_LOG_IGNORED=1) leaves DMA-only pages behind and the CRCs differ. */
#include "crc32c.h"
#include "migration_harness.h"
#include "page_check.h"
#include "test.h"

#include <sys/mman.h>
#include <unistd.h>

#define RAM "48MiB"
#define RAM_BYTES (48ull << 20)
#define HOT "--pattern=hot:32" /* the vCPUs write the first 32 MiB ... */
#define WINDOW_FIRST_PAGE ((32ull << 20) / FERRY_PAGE_BYTES) /* ... the device the last 16 MiB */

#define DMA_DEVICE(name, vm, rate, seed)                                                                    \
	"[device " name "]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"  \
	"migration = stop_copy,pre_copy\nmigration_version = ferry-sim/1\n" vm "dma_logging = true\n"       \
	"stop_copy_bytes = 64KiB\nstate_change_rate = 64KiB/s\ndma_write_rate = " rate "\n"                 \
	"dma_pattern = selfcheck\ndma_offset = 32MiB\ndma_length = 16MiB\nseed = " seed "\n"

/* Guest RAM of a workload, mapped through its memfd (from `attach`); NULL on failure. */
static uint8_t *map_ram(const char *control, int *memfd)
{
	int fd = -1;
	struct ferry_workload_attach a;
	char err[256] = "";
	*memfd = -1;
	for (int i = 0; i < 200 && ferry_workload_ipc_connect(control, &fd) != 0; i++)
		usleep(10000);
	if (fd < 0 || ferry_workload_ipc_attach(fd, &a, MH_T_MS, err, sizeof err) != 0) {
		fprintf(stderr, "  attach to %s: %s\n", control, err);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	close(fd);
	if (a.uffd >= 0)
		close(a.uffd);
	void *p = mmap(NULL, RAM_BYTES, PROT_READ, MAP_SHARED, a.memfd, 0);
	if (p == MAP_FAILED || a.ram_bytes != RAM_BYTES) {
		close(a.memfd);
		return NULL;
	}
	*memfd = a.memfd;
	return p;
}

/* CRC-32C of guest RAM without each page's own checksum (its last 4 bytes, a function of the rest):
 * a CRC run over a message followed by the message's CRC always ends in the same residue, so over
 * pages that all pass their self-check a plain CRC-32C of memory is one constant, whatever they
 * hold. */
static uint32_t memory_crc(const uint8_t *ram)
{
	uint32_t crc = 0;
	for (uint64_t i = 0; i < RAM_BYTES / FERRY_PAGE_BYTES; i++)
		crc = ferry_crc32c(crc, ram + i * FERRY_PAGE_BYTES, FERRY_PAGE_BYTES - 4);
	return crc;
}

struct dma_outcome {
	int completed;
	uint32_t crc_src, crc_dst;
	uint64_t dma_pages;  /* window pages the device wrote (generation > 1) in the source's final memory */
	uint64_t mismatched; /* pages that differ between source and destination */
	uint64_t mismatched_in_window;
	char error[256]; /* the source's error when it did not complete */
};

/* One migration of the VM with its DMA-writing device; the destination VM stays paused. */
static void migrate_with_dma(const char *const *src_env, const char *id, struct dma_outcome *o)
{
	struct mh_cluster c;
	memset(o, 0, sizeof *o);
	EXPECT_EQ_INT(mh_setup_devices_with(&c, src_env, DMA_DEVICE("sim-a", "vm = vm1\n", "16MiB/s", "0x2a"),
					    DMA_DEVICE("sim-b", "", "0/s", "0x99"), RAM, "20000", HOT),
		      0);
	EXPECT_EQ_INT((int)c.n_vm_devices, 1);
	int src_fd = -1, dst_fd = -1;
	const uint8_t *src = map_ram(c.control, &src_fd);
	EXPECT(src != NULL);
	/* Let the destination VM wait for `thaw` after it verified its memory. */
	if (c.vm.n_launch_args < FERRY_VM_LAUNCH_ARGS_MAX) {
		snprintf(c.vm.words[c.vm.n_launch_args], sizeof c.vm.words[0], "--start-frozen");
		c.vm.launch_args[c.vm.n_launch_args] = c.vm.words[c.vm.n_launch_args];
		c.vm.n_launch_args++;
	}
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 1; /* cut over only when next to nothing is left (or after 6 rounds) */
	pol.max_rounds = 6;
	EXPECT_EQ_INT(mh_begin(&c, id, "secret-token-dma", &pol), 0);
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	o->completed = p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED;
	if (p && p->error) {
		fprintf(stderr, "  source error: %s\n", p->error->message);
		snprintf(o->error, sizeof o->error, "%s", p->error->message ? p->error->message : "");
	}
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	Ferry__V1__Progress *q = mh_final_progress(&c.dst);
	o->completed = o->completed && q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED;
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	if (!o->completed) { /* rolled back: no destination VM to look at */
		if (src)
			munmap((void *)src, RAM_BYTES);
		if (src_fd >= 0)
			close(src_fd);
		mh_teardown(&c);
		return;
	}

	/* The destination VM passed its self-check at `start` and stays paused. */
	char reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "stats", reply, sizeof reply), 0);
	uint64_t frozen = 0;
	ferry_workload_ipc_field_u64(reply, "frozen", &frozen);
	EXPECT_EQ_U64(frozen, 1);
	const uint8_t *dst = map_ram(c.incoming, &dst_fd);
	EXPECT(dst != NULL);
	if (src && dst) {
		/* The source after the stop (its workload quit, its device in STOP: nothing writes). */
		o->crc_src = memory_crc(src);
		o->crc_dst = memory_crc(dst);
		for (uint64_t i = 0; i < RAM_BYTES / FERRY_PAGE_BYTES; i++) {
			const uint8_t *a = src + i * FERRY_PAGE_BYTES, *b = dst + i * FERRY_PAGE_BYTES;
			bool in_window = i >= WINDOW_FIRST_PAGE;
			o->dma_pages += in_window && ferry_page_trailer_read(a).generation > 1;
			if (memcmp(a, b, FERRY_PAGE_BYTES) != 0) {
				o->mismatched++;
				o->mismatched_in_window += in_window;
			}
		}
	}
	fprintf(stderr, "  %s: completed=%d crc_src=%08x crc_dst=%08x dma_pages=%llu mismatched=%llu (%llu in the DMA window)\n",
		id, o->completed, o->crc_src, o->crc_dst, (unsigned long long)o->dma_pages,
		(unsigned long long)o->mismatched, (unsigned long long)o->mismatched_in_window);
	/* Thawed, the destination VM runs on and its memory still verifies. */
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "thaw", reply, sizeof reply), 0);
	EXPECT_EQ_STR(reply, "ok running");
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	if (src)
		munmap((void *)src, RAM_BYTES);
	if (dst)
		munmap((void *)dst, RAM_BYTES);
	if (src_fd >= 0)
		close(src_fd);
	if (dst_fd >= 0)
		close(dst_fd);
	mh_workload_says(c.incoming, "quit", reply, sizeof reply);
	mh_teardown(&c);
}

FERRY_TEST(migration_dma_pages_written_by_a_device_arrive)
{
	struct dma_outcome o;
	migrate_with_dma(NULL, "mig-dma", &o);
	EXPECT(o.completed);
	EXPECT(o.dma_pages > 0); /* the device did write pages the vCPUs never touch */
	EXPECT_EQ_U64(o.mismatched, 0);
	EXPECT_EQ_U64(o.crc_dst, o.crc_src);
}

/* Negative control: the same migration without the DMA log in the harvests misses what the device
 * wrote after round 0 read those pages. The destination's self-check cannot tell (the stale pages
 * are valid older generations): only the comparison with the source does. A page read while the
 * device wrote it arrives torn or mismatching and is refused by the destination's round checks
 * instead. */
FERRY_TEST(migration_dma_without_the_dma_log_leaves_pages_behind)
{
	const char *env[] = {"FERRY_TEST_DMA_LOG_IGNORED=1", NULL};
	struct dma_outcome o;
	migrate_with_dma(env, "mig-dma-nolog", &o);
	/* A page the device wrote while the source read it arrives torn (failing its self-check) or
	 * written between its checksum and its send (mismatching the source's CRC); without the log it
	 * is never sent again, and the destination's round checks refuse it (staged_verify.h). Else
	 * the stale pages are valid and the migration completes with them. */
	if (!o.completed) {
		EXPECT(strstr(o.error, "failed its self-check and was not sent again") != NULL ||
		       strstr(o.error, "arrived with a checksum other than the source's and was not sent again") != NULL);
		return;
	}
	EXPECT(o.dma_pages > 0);
	EXPECT(o.mismatched_in_window > 0);
	EXPECT_EQ_U64(o.mismatched, o.mismatched_in_window); /* the vCPUs' pages all arrived */
	EXPECT(o.crc_dst != o.crc_src);
}
