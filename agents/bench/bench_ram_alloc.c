/*
 * Allocating guest RAM before the stream (ram_alloc.h): seconds to allocate --size-mib MiB with
 * each strategy, median of --reps, each on fresh memory (the free afterwards is not timed):
 *   memfd populate, chunk C, T threads   ferry_ram_alloc's way (C = FERRY_RAM_ALLOC_CHUNK) and
 *                                        other madvise(MADV_POPULATE_WRITE) step sizes;
 *   memfd fallocate / both               fallocate() alone / then populate;
 *   shared anon populate                 MAP_SHARED|MAP_ANONYMOUS (what tcp-prealloc uses);
 *   private anon populate                MAP_PRIVATE|MAP_ANONYMOUS (plain process memory).
 * With --csv FILE, one row per run: kind,size_mib,threads,rep,seconds,gb_s.
 */
#include "ram_alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MAX_REPS 16

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

enum backing { MEMFD, SHARED_ANON, PRIVATE_ANON };

struct strategy {
	const char *name;
	enum backing backing;
	enum ferry_ram_alloc_mode mode;
	unsigned threads;
	size_t chunk; /* 0: ferry_ram_alloc's own steps; else one madvise per chunk on this thread */
};

/* One allocation of `bytes` by s: seconds, or a negative -errno. */
static double alloc_once(const struct strategy *s, uint64_t bytes)
{
	int fd = -1;
	if (s->backing == MEMFD) {
		fd = memfd_create("bench-ram", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)bytes))
			return -errno;
	}
	int flags = s->backing == PRIVATE_ANON ? MAP_PRIVATE | MAP_ANONYMOUS
		    : s->backing == SHARED_ANON ? MAP_SHARED | MAP_ANONYMOUS
						: MAP_SHARED;
	uint8_t *map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	double t0 = now_s();
	int rc = 0;
	if (s->chunk) {
		for (uint64_t off = 0; off < bytes && !rc; off += s->chunk) {
			size_t n = bytes - off < s->chunk ? (size_t)(bytes - off) : s->chunk;
			rc = madvise(map + off, n, MADV_POPULATE_WRITE) ? -errno : 0;
		}
	} else {
		struct ferry_ram_alloc_plan plan = {s->mode, s->threads};
		rc = ferry_ram_alloc(fd, map, bytes, &plan, NULL);
	}
	double t = now_s() - t0;
	munmap(map, bytes);
	if (fd >= 0)
		close(fd);
	return rc ? rc : t;
}

int main(int argc, char **argv)
{
	unsigned mib = 1024;
	int reps = 3;
	const char *csv_path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--size-mib") == 0 && v)
			mib = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--reps") == 0 && v)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--csv") == 0 && v)
			csv_path = argv[++i];
		else {
			fprintf(stderr, "usage: bench_ram_alloc [--size-mib N] [--reps R] [--csv FILE]\n");
			return 2;
		}
	}
	if (mib == 0 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "bench_ram_alloc: --size-mib must be > 0 and --reps in 1..%d\n", MAX_REPS);
		return 2;
	}
	FILE *csv = csv_path ? fopen(csv_path, "a") : NULL;
	const uint64_t bytes = (uint64_t)mib << 20;
	const struct strategy all[] = {
		{"memfd populate 64M x1 (agent)", MEMFD, FERRY_RAM_ALLOC_POPULATE, 1, 0},
		{"memfd populate 64M x2", MEMFD, FERRY_RAM_ALLOC_POPULATE, 2, 0},
		{"memfd populate 2M", MEMFD, FERRY_RAM_ALLOC_POPULATE, 1, 2u << 20},
		{"memfd populate whole", MEMFD, FERRY_RAM_ALLOC_POPULATE, 1, (size_t)bytes},
		{"memfd fallocate", MEMFD, FERRY_RAM_ALLOC_FALLOCATE, 1, 0},
		{"memfd both", MEMFD, FERRY_RAM_ALLOC_BOTH, 1, 0},
		{"shared anon populate 64M", SHARED_ANON, FERRY_RAM_ALLOC_POPULATE, 1, 0},
		{"private anon populate 64M", PRIVATE_ANON, FERRY_RAM_ALLOC_POPULATE, 1, 0},
	};
	printf("allocating %u MiB (median of %d runs)\n%-32s %9s %8s %9s\n", mib, reps, "strategy", "seconds", "GB/s",
	       "ms/GiB");
	for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
		double v[MAX_REPS];
		int ok = 0;
		for (int r = 0; r < reps; r++) {
			double t = alloc_once(&all[k], bytes);
			if (t < 0) {
				fprintf(stderr, "%s: %s\n", all[k].name, strerror((int)-t));
				continue;
			}
			v[ok++] = t;
			if (csv)
				fprintf(csv, "%s,%u,%u,%d,%.4f,%.4f\n", all[k].name, mib, all[k].threads, r, t,
					(double)bytes / t / 1e9);
		}
		if (!ok)
			continue;
		qsort(v, (size_t)ok, sizeof *v, cmp_double);
		double m = ok % 2 ? v[ok / 2] : (v[ok / 2 - 1] + v[ok / 2]) / 2;
		printf("%-32s %9.3f %8.2f %9.1f\n", all[k].name, m, (double)bytes / m / 1e9, m * 1000.0 * 1024 / mib);
	}
	if (csv)
		fclose(csv);
	return 0;
}
