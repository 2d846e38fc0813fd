/*
 * bench_throttle: what the auto-converge throttle does to a VM's dirty rate, as a table.
 *
 *   bench_throttle [--size-mib N] [--vcpus N] [--ms N]   (make bench; default 1024 MiB, 2 vCPUs,
 *                                                          1000 ms per throttle value)
 *
 * An in-process workload (workload.h: memfd guest RAM, vCPU threads writing self-checked pages as
 * fast as they can, uniform pattern) runs under the real dirty tracker (userfaultfd write-protect
 * + PAGEMAP_SCAN, as a migration source uses it). For each throttle value the bench harvests every
 * 50 ms for --ms and reports pages written per second (the vCPUs' own count), pages the tracker
 * harvested per second (what pre-copy would have to resend), and both as a ratio of the
 * unthrottled baseline measured in the same run. Expected shape: ratio about 1 - throttle.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dirty_bitmap.h"
#include "dirty_tracker.h"
#include "workload.h"
#include "workload_agent.h"

#define WINDOW_US 50000

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t size_mib = 1024, ms = 1000;
	unsigned vcpus = 2;
	static const struct option opts[] = {{"size-mib", required_argument, NULL, 's'},
					     {"vcpus", required_argument, NULL, 'v'},
					     {"ms", required_argument, NULL, 'm'},
					     {NULL, 0, NULL, 0}};
	for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		if (c == 's')
			size_mib = strtoull(optarg, NULL, 10);
		else if (c == 'v')
			vcpus = (unsigned)strtoul(optarg, NULL, 10);
		else if (c == 'm')
			ms = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	char err[512] = "";
	struct ferry_workload_config cfg = {.ram_bytes = size_mib << 20, .vcpus = vcpus, .dirty_rate_pages = 0,
					    .pattern = FERRY_WORKLOAD_UNIFORM, .seed = 1, .start_frozen = 1};
	struct ferry_workload *w = NULL;
	if (ferry_workload_create(&cfg, &w, err, sizeof err)) {
		fprintf(stderr, "bench_throttle: %s\n", err);
		return 1;
	}
	int uffd = ferry_workload_create_userfaultfd();
	struct ferry_dirty_tracker *t = NULL;
	int rc = uffd < 0 ? uffd
			  : ferry_dirty_tracker_open(getpid(), uffd, (uint64_t)(uintptr_t)ferry_workload_base(w),
						     cfg.ram_bytes, &t, err, sizeof err);
	if (rc == 0)
		rc = ferry_dirty_tracker_start(t, err, sizeof err);
	if (rc) {
		fprintf(stderr, "bench_throttle: dirty tracker: %s (%s)\n", err, strerror(-rc));
		ferry_workload_destroy(w);
		return 1;
	}
	struct ferry_dirty_bitmap bm;
	ferry_dirty_bitmap_init(&bm, cfg.ram_bytes / FERRY_PAGE_BYTES);
	static const unsigned throttles[] = {0, 20, 50, 70, 90, 99};
	double base_writes = 0, base_dirty = 0;
	printf("bench_throttle: %llu MiB guest RAM, %u vCPUs at full speed, %llu ms per value, harvest every %d ms\n\n",
	       (unsigned long long)size_mib, vcpus, (unsigned long long)ms, WINDOW_US / 1000);
	printf("| throttle %% | pages written/s | vs 0 %% | pages harvested/s | vs 0 %% |\n");
	printf("|-----------:|----------------:|-------:|------------------:|-------:|\n");
	ferry_workload_thaw(w);
	for (size_t k = 0; k < sizeof throttles / sizeof throttles[0]; k++) {
		ferry_workload_set_throttle(w, throttles[k], err, sizeof err);
		usleep(WINDOW_US); /* settle into the new value */
		ferry_dirty_tracker_harvest(t, &bm, err, sizeof err);
		struct ferry_workload_stats s0, s1;
		ferry_workload_stats(w, &s0);
		uint64_t t0 = now_ns(), harvested = 0;
		while (now_ns() - t0 < ms * 1000000u) {
			usleep(WINDOW_US);
			ferry_dirty_bitmap_clear_all(&bm);
			int64_t n = ferry_dirty_tracker_harvest(t, &bm, err, sizeof err);
			harvested += n > 0 ? (uint64_t)n : 0;
		}
		ferry_workload_stats(w, &s1);
		double secs = (double)(now_ns() - t0) / 1e9;
		double writes = (double)(s1.writes_total - s0.writes_total) / secs, dirty = (double)harvested / secs;
		if (k == 0) {
			base_writes = writes;
			base_dirty = dirty;
		}
		printf("| %10u | %15.0f | %6.2f | %17.0f | %6.2f |\n", throttles[k], writes,
		       base_writes > 0 ? writes / base_writes : 0, dirty, base_dirty > 0 ? dirty / base_dirty : 0);
	}
	ferry_dirty_bitmap_free(&bm);
	ferry_dirty_tracker_close(t);
	close(uffd);
	ferry_workload_destroy(w);
	return 0;
}
