/*
 * Exactness with a real device: between two harvests the workload's CPU writes a known set of
 * pages and a sim device DMA-writes into the same guest RAM (a shared mapping of the workload's
 * memfd, as a device would through the IOMMU). userfaultfd write-protection cannot see the DMA;
 * the device's DMA log can. Harvest OR DMA log must be exactly the pages that changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dirty_bitmap.h"
#include "dirty_tracker.h"
#include "sim_model.h"
#include "test.h"
#include "workload_ipc.h"

#define PG FERRY_DIRTY_PAGE_SIZE
#define NPAGES 4096u /* 16 MiB */
#define TIMEOUT_MS 10000

/* The "VM": owns a memfd, hands its userfaultfd over, writes every 7th page of a stride on command. */
static void vm_main(int sock)
{
	int fd = memfd_create("dma-test-ram", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)NPAGES * PG) != 0)
		_exit(10);
	uint8_t *m = mmap(NULL, (size_t)NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(11);
	for (uint64_t i = 0; i < NPAGES; i++)
		m[i * PG] = 1;
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		_exit(13);
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(line, sizeof line, "ok base=0x%" PRIxPTR "\n", (uintptr_t)m);
	int fds[2] = {uffd, fd};
	if (ferry_workload_ipc_send_line(sock, line, fds, 2))
		_exit(14);
	close(uffd);
	for (;;) {
		if (ferry_workload_ipc_recv_line(sock, line, sizeof line, NULL, NULL, -1) < 0)
			_exit(0);
		uint64_t first = 0;
		if (ferry_workload_ipc_field_u64(line, "first", &first) == 0)
			for (uint64_t i = first; i < NPAGES; i += 7)
				m[i * PG + 100] ^= 0x5A;
		ferry_workload_ipc_send_line(sock, "ok\n", NULL, 0);
	}
}

FERRY_TEST(dirty_tracking_sees_cpu_writes_and_device_dma_exactly)
{
	int sv[2];
	EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		vm_main(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	char line[FERRY_WORKLOAD_IPC_LINE_MAX], err[512] = "";
	int fds[2] = {-1, -1}, nfds = 0;
	uint64_t base = 0;
	EXPECT(ferry_workload_ipc_recv_line(sv[0], line, sizeof line, fds, &nfds, TIMEOUT_MS) > 0);
	EXPECT_EQ_INT(nfds, 2);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(line, "base", &base), 0);
	const size_t bytes = (size_t)NPAGES * PG;
	/* The device's view of guest RAM: its own mapping of the same memfd. */
	uint8_t *ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1], 0);
	EXPECT(ram != MAP_FAILED);
	uint8_t *before = malloc(bytes);
	struct ferry_dirty_tracker *t = NULL;
	int rc = ferry_dirty_tracker_open(pid, fds[0], base, bytes, &t, err, sizeof err);
	if (rc)
		fprintf(stderr, "  tracker open: %s\n", err);
	EXPECT_EQ_INT(rc, 0);
	EXPECT_EQ_INT(ferry_dirty_tracker_start(t, err, sizeof err), 0);

	struct ferry_sim_config cfg = {.vendor_id = 0x1af4, .device_id = 0x1041, .migration_version = "ferry-sim/1",
				       .mig_flags = FERRY_MIG_FLAG_STOP_COPY, .dma_logging = true,
				       .state_bytes = 4096, .dma_bytes_per_sec = 8u << 20, .seed = 42};
	struct ferry_sim_model *dev = NULL;
	EXPECT_EQ_INT(ferry_sim_model_create(&cfg, &dev, err, sizeof err), 0);
	ferry_sim_model_attach_memory(dev, ram, bytes);
	struct ferry_dma_range range = {0, bytes};
	uint64_t page_size = PG;
	EXPECT_EQ_INT(ferry_sim_model_dma_log_start(dev, &range, 1, &page_size), 0);
	EXPECT_EQ_U64(page_size, PG);

	uint64_t *dma_bitmap = calloc(NPAGES / 64, sizeof *dma_bitmap);
	for (unsigned round = 0; round < 4; round++) {
		memcpy(before, ram, bytes);
		/* CPU writes in the VM, then 20 ms of device DMA (about 160 KiB scattered). */
		char cmd[64], reply[64];
		snprintf(cmd, sizeof cmd, "write first=%u", round);
		EXPECT_EQ_INT(ferry_workload_ipc_command(sv[0], cmd, reply, sizeof reply, TIMEOUT_MS), 0);
		ferry_sim_model_advance(dev, 20 * 1000 * 1000);

		struct ferry_dirty_bitmap bm;
		EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, NPAGES), 0);
		int64_t harvested = ferry_dirty_tracker_harvest(t, &bm, err, sizeof err);
		EXPECT(harvested >= 0);
		memset(dma_bitmap, 0, NPAGES / 8);
		EXPECT_EQ_INT(ferry_sim_model_dma_log_report(dev, 0, bytes, PG, dma_bitmap, NPAGES / 64), 0);

		uint64_t cpu_pages = 0, dma_only = 0, missed = 0, extra = 0, harvest_saw_dma_only = 0;
		for (uint64_t i = 0; i < NPAGES; i++) {
			bool cpu = i >= round && (i - round) % 7 == 0;
			bool changed = memcmp(before + i * PG, ram + i * PG, PG) != 0;
			bool dma = (dma_bitmap[i / 64] >> (i % 64)) & 1;
			bool tracked = ferry_dirty_bitmap_test(&bm, i);
			cpu_pages += cpu;
			dma_only += dma && !cpu;
			harvest_saw_dma_only += tracked && !cpu;
			bool got = tracked || dma;
			/* What must be sent: every changed page; nothing the CPU and device left alone. */
			missed += changed && !got;
			extra += got && !changed && !cpu; /* a CPU write that restored a value is still a write */
		}
		EXPECT_EQ_U64((uint64_t)harvested, cpu_pages); /* uffd sees exactly the CPU's writes... */
		EXPECT_EQ_U64(harvest_saw_dma_only, 0);        /* ...and none of the device's */
		EXPECT(dma_only > 0);                          /* the device did write elsewhere */
		EXPECT_EQ_U64(missed, 0);
		EXPECT_EQ_U64(extra, 0);
		ferry_dirty_bitmap_free(&bm);
	}
	free(dma_bitmap);
	free(before);
	ferry_sim_model_destroy(dev);
	ferry_dirty_tracker_close(t);
	munmap(ram, bytes);
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	int status = 0;
	EXPECT_EQ_INT(waitpid(pid, &status, 0), pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
