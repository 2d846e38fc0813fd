/*
 * bench_dirty: what dirty tracking costs on this host, as a table.
 *
 *   bench_dirty [--size-mib N] [--reps N]      (make bench; default 1024 MiB, 5 repetitions)
 *
 * A forked child owns an N MiB memfd (touched, as the workload's RAM is) and hands its userfaultfd
 * and memfd over, like ferry-workload does. Per dirty fraction (0, 1, 10, 100 % of pages, chosen
 * pseudo-randomly) the child writes one byte into each chosen page, timing its writes, and the
 * parent times one collect-and-clear harvest, then the merge of a DMA log of 1 % of the pages in
 * 64-page runs (what a device's log adds). Baselines in the same run: the child's untracked write
 * cost, and crc32c over every page of the region (the "hash every page" alternative).
 * Reports the median of the repetitions, scaled to one GiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "dirty_tracker.h"
#include "uffd_compat.h"
#include "workload_ipc.h"

#define PG FERRY_DIRTY_PAGE_SIZE

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

static int selected(uint64_t i, uint64_t seed, uint64_t permille)
{
	return mix64(seed * 1000003u + i) % 1000 < permille;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "bench_dirty: %s: %s\n", what, detail);
	exit(1);
}

/* Child: owns the memory; "write seed=S permille=P" -> writes, answers "ok writes=N ns=T". */
static void child_main(int sock, uint64_t npages)
{
	int memfd = memfd_create("bench-ram", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)(npages * PG)) != 0)
		_exit(10);
	uint8_t *m = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (m == MAP_FAILED)
		_exit(11);
	for (uint64_t i = 0; i < npages; i++)
		m[i * PG] = 1;
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		_exit(12);
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(line, sizeof line, "ok base=0x%" PRIxPTR "\n", (uintptr_t)m);
	int fds[2] = {uffd, memfd};
	if (ferry_workload_ipc_send_line(sock, line, fds, 2))
		_exit(13);
	close(uffd);
	for (;;) {
		uint64_t seed = 0, permille = 0, writes = 0;
		if (ferry_workload_ipc_recv_line(sock, line, sizeof line, NULL, NULL, -1) < 0)
			_exit(0);
		ferry_workload_ipc_field_u64(line, "seed", &seed);
		ferry_workload_ipc_field_u64(line, "permille", &permille);
		uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < npages; i++)
			if (selected(i, seed, permille)) {
				m[i * PG + 64] = (uint8_t)seed;
				writes++;
			}
		uint64_t t1 = now_ns();
		snprintf(line, sizeof line, "ok writes=%" PRIu64 " ns=%" PRIu64 "\n", writes, t1 - t0);
		ferry_workload_ipc_send_line(sock, line, NULL, 0);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	return v[n / 2];
}

/* Asks the child to write (seed, permille); returns its write time and count. */
static void child_write(int sock, uint64_t seed, uint64_t permille, uint64_t *writes, uint64_t *ns)
{
	char cmd[96], reply[256];
	snprintf(cmd, sizeof cmd, "write seed=%" PRIu64 " permille=%" PRIu64, seed, permille);
	if (ferry_workload_ipc_command(sock, cmd, reply, sizeof reply, 600000) ||
	    ferry_workload_ipc_field_u64(reply, "writes", writes) || ferry_workload_ipc_field_u64(reply, "ns", ns))
		die("child write", reply);
}

int main(int argc, char **argv)
{
	uint64_t size_mib = 1024;
	int reps = 5;
	static const struct option opts[] = {{"size-mib", required_argument, NULL, 's'},
					     {"reps", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
	for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
		if (c == 's')
			size_mib = strtoull(optarg, NULL, 10);
		else if (c == 'r')
			reps = atoi(optarg);
		else
			die("usage", "bench_dirty [--size-mib N] [--reps N]");
	}
	if (size_mib == 0 || reps < 1 || reps > 99)
		die("usage", "--size-mib must be > 0 and --reps 1..99");
	const uint64_t npages = size_mib * 256;
	const double per_gib = 1024.0 / (double)size_mib;

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		child_main(sv[1], npages);
	}
	close(sv[1]);
	char line[FERRY_WORKLOAD_IPC_LINE_MAX], err[512] = "";
	int fds[2], nfds = 0;
	uint64_t base = 0;
	if (ferry_workload_ipc_recv_line(sv[0], line, sizeof line, fds, &nfds, 600000) < 0 || nfds != 2 ||
	    ferry_workload_ipc_field_u64(line, "base", &base))
		die("child setup", "no base address or fds");
	int uffd = fds[0], memfd = fds[1];

	/* Untracked writer baseline (pages already resident, no protection). */
	uint64_t writes = 0, ns = 0, untracked_ns[99];
	for (int r = 0; r < reps; r++) {
		child_write(sv[0], 900 + (uint64_t)r, 1000, &writes, &ns);
		untracked_ns[r] = ns / (writes ? writes : 1);
	}
	/* Hash-every-page baseline over the same memory. */
	const uint8_t *ram = mmap(NULL, npages * PG, PROT_READ, MAP_SHARED, memfd, 0);
	if (ram == MAP_FAILED)
		die("mmap memfd", strerror(errno));
	uint64_t hash_ns[99];
	volatile uint32_t sink = 0;
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < npages; i++)
			sink ^= ferry_crc32c(0, ram + i * PG, PG);
		hash_ns[r] = now_ns() - t0;
	}
	(void)sink;

	struct ferry_dirty_tracker *t = NULL;
	uint64_t t0 = now_ns();
	if (ferry_dirty_tracker_open(pid, uffd, base, npages * PG, &t, err, sizeof err) ||
	    ferry_dirty_tracker_start(t, err, sizeof err))
		die("tracker", err);
	uint64_t start_ns = now_ns() - t0;
	close(uffd);

	/* DMA log: 1 % of pages in 64-page runs, spread over the region. */
	size_t ndma = (size_t)(npages / 100 / 64 + 1);
	struct ferry_page_range *dma = calloc(ndma, sizeof *dma);
	for (size_t k = 0; k < ndma; k++)
		dma[k] = (struct ferry_page_range){.first = (npages / ndma) * k, .count = 64};
	if (dma[ndma - 1].first + 64 > npages)
		ndma--;

	struct ferry_dirty_bitmap bm;
	ferry_dirty_bitmap_init(&bm, npages);
	const uint64_t permilles[] = {0, 10, 100, 1000};
	printf("bench_dirty: %" PRIu64 " MiB memfd, %" PRIu64 " pages, median of %d, times scaled to 1 GiB\n",
	       size_mib, npages, reps);
	printf("first protect (start): %.2f ms/GiB\n\n", start_ns / 1e6 * per_gib);
	printf("| dirty | pages reported | harvest ms/GiB | DMA-log merge us (%zu runs) | harvest + merge ms/GiB | ioctls/harvest | writer us/first write |\n", ndma);
	printf("|---|---|---|---|---|---|---|\n");
	for (size_t p = 0; p < sizeof permilles / sizeof permilles[0]; p++) {
		uint64_t harvest_ns[99], merge_ns[99], total_ns[99], write_ns[99], reported = 0, ioctls = 0;
		for (int r = 0; r < reps; r++) {
			child_write(sv[0], 100 * p + (uint64_t)r, permilles[p], &writes, &ns);
			write_ns[r] = writes ? ns * 1000 / writes : 0;
			ferry_dirty_bitmap_clear_all(&bm);
			uint64_t i0 = ferry_dirty_tracker_ioctls(t);
			uint64_t a = now_ns();
			int64_t n = ferry_dirty_tracker_harvest(t, &bm, err, sizeof err);
			uint64_t b = now_ns();
			ferry_dirty_bitmap_or_ranges(&bm, dma, ndma);
			uint64_t c = now_ns();
			if (n < 0)
				die("harvest", err);
			if ((uint64_t)n != writes)
				fprintf(stderr, "bench_dirty: harvest reported %" PRId64 " pages, %" PRIu64 " written\n", n, writes);
			reported = (uint64_t)n;
			ioctls = ferry_dirty_tracker_ioctls(t) - i0;
			harvest_ns[r] = b - a;
			merge_ns[r] = c - b;
			total_ns[r] = c - a;
		}
		char writer[32] = "n/a";
		if (permilles[p])
			snprintf(writer, sizeof writer, "%.2f", median(write_ns, reps) / 1e6);
		printf("| %5.1f %% | %" PRIu64 " | %.2f | %.1f | %.2f | %" PRIu64 " | %s |\n", permilles[p] / 10.0, reported,
		       median(harvest_ns, reps) / 1e6 * per_gib, median(merge_ns, reps) / 1e3,
		       median(total_ns, reps) / 1e6 * per_gib, ioctls, writer);
	}
	printf("\nbaselines (same run): untracked write %.3f us/page; crc32c of every page %.1f ms/GiB\n",
	       median(untracked_ns, reps) / 1e3, median(hash_ns, reps) / 1e6 * per_gib);

	ferry_dirty_tracker_close(t);
	ferry_dirty_bitmap_free(&bm);
	free(dma);
	munmap((void *)ram, npages * PG);
	close(memfd);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return 0;
}
