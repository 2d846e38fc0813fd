/*
 * Page reading for the migration stream (src/page_reader.h): MiB/s of a MAP_SHARED mapping of
 * the memfd versus process_vm_readv from the workload's process, over all of guest RAM, for
 * batches of 1, 16 and 256 contiguous pages and for batches of 256 random pages.
 *
 *   bench_page_read [--size-mib N]     (default 1024)
 *
 * Guest RAM is a filled memfd; a forked child holds the same mapping, playing the workload that
 * process_vm_readv reads from. Each cell is the best of 3 passes.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "page_reader.h"

#define PAGE 4096u
#define MAX_BATCH 256u
#define PASSES 3

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* One pass over npages pages in batches; returns MiB/s, or -1 on a read error. */
static double pass(struct ferry_page_reader *r, uint64_t npages, unsigned batch, int random, uint8_t *buf)
{
	uint64_t pages[MAX_BATCH], rng = 0x9E3779B97F4A7C15u;
	char err[256];
	double t0 = now_s();
	for (uint64_t first = 0; first + batch <= npages; first += batch) {
		for (unsigned i = 0; i < batch; i++)
			pages[i] = random ? xorshift64(&rng) % npages : first + i;
		if (ferry_page_reader_read(r, pages, batch, buf, err, sizeof err)) {
			fprintf(stderr, "bench_page_read: %s\n", err);
			return -1;
		}
	}
	double dt = now_s() - t0;
	return (double)(npages / batch * batch) * PAGE / (1 << 20) / dt;
}

int main(int argc, char **argv)
{
	uint64_t mib = 1024;
	if (argc == 3 && strcmp(argv[1], "--size-mib") == 0)
		mib = strtoull(argv[2], NULL, 10);
	else if (argc != 1) {
		fprintf(stderr, "usage: bench_page_read [--size-mib N]\n");
		return 2;
	}
	uint64_t bytes = mib << 20, npages = bytes / PAGE;
	int memfd = memfd_create("bench-guest-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)bytes) != 0) {
		perror("bench_page_read: memfd");
		return 1;
	}
	uint8_t *ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED) {
		perror("bench_page_read: mmap");
		return 1;
	}
	for (uint64_t p = 0; p < npages; p++)
		memset(ram + p * PAGE, (int)(p % 251) + 1, PAGE); /* resident, and not the zero page */
	pid_t child = fork();
	if (child == 0) { /* the "workload": keeps the mapping at the same address until killed */
		for (;;)
			pause();
	}
	uint8_t *buf = aligned_alloc(PAGE, MAX_BATCH * PAGE);
	struct ferry_page_reader *readers[2] = {NULL, NULL};
	char err[256];
	if (!buf || ferry_page_reader_open(FERRY_PAGE_READ_MAPPING, memfd, 0, 0, bytes, &readers[0], err, sizeof err) ||
	    ferry_page_reader_open(FERRY_PAGE_READ_PROCESS_VM, -1, child, (uint64_t)(uintptr_t)ram, bytes, &readers[1], err,
				   sizeof err)) {
		fprintf(stderr, "bench_page_read: %s\n", err);
		kill(child, SIGKILL);
		return 1;
	}
	static const struct {
		const char *name;
		unsigned batch;
		int random;
	} rows[] = {{"1 page", 1, 0}, {"16 contiguous", 16, 0}, {"256 contiguous", 256, 0}, {"256 random", 256, 1}};
	printf("page reading, %" PRIu64 " MiB of guest RAM, MiB/s (best of %d)\n", mib, PASSES);
	printf("%-16s %12s %18s\n", "batch", "mapping", "process_vm_readv");
	int rc = 0;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0] && rc == 0; i++) {
		double best[2] = {0, 0};
		for (int s = 0; s < 2; s++)
			for (int k = 0; k < PASSES; k++) {
				double v = pass(readers[s], npages, rows[i].batch, rows[i].random, buf);
				if (v < 0)
					rc = 1;
				if (v > best[s])
					best[s] = v;
			}
		printf("%-16s %12.0f %18.0f\n", rows[i].name, best[0], best[1]);
	}
	ferry_page_reader_close(readers[0]);
	ferry_page_reader_close(readers[1]);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	free(buf);
	return rc;
}
