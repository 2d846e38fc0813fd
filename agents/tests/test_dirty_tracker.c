/*
 * dirty_tracker against a real second process: a forked child owns the memory and the userfaultfd
 * (as the workload does) and writes pages on command; the parent tracks it and checks that each
 * harvest reports exactly the pages written (missed = 0, extra = 0), with device DMA ranges OR-ed
 * in, on memfd, anonymous THP memory, and with the child writing at full speed during harvests.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dirty_tracker.h"
#include "test.h"
#include "uffd_compat.h"
#include "workload_ipc.h"

#define PG FERRY_DIRTY_PAGE_SIZE
#define TIMEOUT_MS 20000
#define LOG_CAP (1u << 20)

enum memory_kind { MEM_MEMFD, MEM_ANON_THP };

/* Shared with the child (MAP_SHARED before fork) for the full-speed test: the child appends the
 * index of each page it writes, publishing `started` before the write and `done` after it. */
struct write_log {
	uint64_t started;
	uint64_t done;
	uint64_t stop;
	uint32_t page[LOG_CAP];
};

struct child {
	pid_t pid;
	int sock;
	int uffd;
	uint64_t base;
	uint64_t npages;
};

static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

/* The known pseudo-random set: page i is in it when its hash falls under permille / 1000. */
static int selected(uint64_t i, uint64_t seed, uint64_t permille)
{
	return mix64(seed * 1000003u + i) % 1000 < permille;
}

static uint8_t *child_map(enum memory_kind kind, uint64_t bytes)
{
	if (kind == MEM_MEMFD) {
		int fd = memfd_create("test-ram", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0)
			_exit(10);
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	/* 2 MiB aligned so whole huge pages fit. */
	uint64_t huge = 2u << 20;
	uint8_t *p = mmap(NULL, bytes + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uint8_t *aligned = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	if (madvise(aligned, bytes, MADV_HUGEPAGE) != 0)
		_exit(11);
	return aligned;
}

static void child_full_speed(uint8_t *m, uint64_t npages, struct write_log *log)
{
	uint64_t s = 777;
	for (uint64_t i = 0; i < LOG_CAP && !__atomic_load_n(&log->stop, __ATOMIC_ACQUIRE); i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t p = (uint32_t)((s >> 33) % npages);
		log->page[i] = p;
		__atomic_store_n(&log->started, i + 1, __ATOMIC_RELEASE);
		__atomic_store_n(&m[(uint64_t)p * PG + (i % PG)], (uint8_t)i, __ATOMIC_RELAXED);
		__atomic_store_n(&log->done, i + 1, __ATOMIC_RELEASE);
	}
}

/* The child: maps and touches the memory, hands its userfaultfd over, then writes on command. */
static void child_main(int sock, enum memory_kind kind, uint64_t npages, struct write_log *log)
{
	uint8_t *m = child_map(kind, npages * PG);
	if (!m)
		_exit(12);
	for (uint64_t i = 0; i < npages; i++)
		m[i * PG] = 1;
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		_exit(13);
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(line, sizeof line, "ok base=0x%" PRIxPTR "\n", (uintptr_t)m);
	if (ferry_workload_ipc_send_line(sock, line, &uffd, 1))
		_exit(14);
	close(uffd);
	for (;;) {
		if (ferry_workload_ipc_recv_line(sock, line, sizeof line, NULL, NULL, -1) < 0)
			_exit(0);
		uint64_t seed = 0, permille = 0;
		if (strncmp(line, "write", 5) == 0 && !ferry_workload_ipc_field_u64(line, "seed", &seed) &&
		    !ferry_workload_ipc_field_u64(line, "permille", &permille)) {
			for (uint64_t i = 0; i < npages; i++)
				if (selected(i, seed, permille))
					m[i * PG + (seed % PG)] = (uint8_t)(seed + 1);
		} else if (strcmp(line, "spin") == 0) {
			child_full_speed(m, npages, log);
		} else if (strcmp(line, "smaps") == 0) {
			/* AnonHugePages of the whole process, for the THP test. */
			FILE *f = fopen("/proc/self/smaps_rollup", "r");
			unsigned long kb = 0;
			char l[256];
			while (f && fgets(l, sizeof l, f))
				if (sscanf(l, "AnonHugePages: %lu kB", &kb) == 1)
					break;
			if (f)
				fclose(f);
			snprintf(line, sizeof line, "ok anon_huge_kb=%lu\n", kb);
			ferry_workload_ipc_send_line(sock, line, NULL, 0);
			continue;
		}
		ferry_workload_ipc_send_line(sock, "ok\n", NULL, 0);
	}
}

static int spawn_child(enum memory_kind kind, uint64_t npages, struct write_log *log, struct child *c)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return -errno;
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		child_main(sv[1], kind, npages, log);
		_exit(0);
	}
	close(sv[1]);
	c->pid = pid;
	c->sock = sv[0];
	c->npages = npages;
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	int fds[2], nfds = 0;
	int rc = ferry_workload_ipc_recv_line(c->sock, line, sizeof line, fds, &nfds, TIMEOUT_MS);
	if (rc < 0 || nfds != 1 || ferry_workload_ipc_field_u64(line, "base", &c->base))
		return -EPROTO;
	c->uffd = fds[0];
	return 0;
}

static void child_command(struct child *c, const char *cmd, char *reply, size_t cap)
{
	int rc = ferry_workload_ipc_command(c->sock, cmd, reply, cap, TIMEOUT_MS);
	EXPECT_EQ_INT(rc, 0);
}

static void stop_child(struct child *c)
{
	close(c->sock);
	int status = 0;
	waitpid(c->pid, &status, 0);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static struct ferry_dirty_tracker *open_tracker(struct child *c)
{
	struct ferry_dirty_tracker *t = NULL;
	char err[512] = "";
	int rc = ferry_dirty_tracker_open(c->pid, c->uffd, c->base, c->npages * PG, &t, err, sizeof err);
	if (rc)
		fprintf(stderr, "  tracker open: %s\n", err);
	EXPECT_EQ_INT(rc, 0);
	close(c->uffd); /* the tracker holds its own reference */
	c->uffd = -1;
	if (t) {
		rc = ferry_dirty_tracker_start(t, err, sizeof err);
		if (rc)
			fprintf(stderr, "  tracker start: %s\n", err);
		EXPECT_EQ_INT(rc, 0);
	}
	return t;
}

/* Writes the set (seed, permille) in the child, ORs `dma` in after the harvest, and checks the
 * bitmap is exactly their union. */
static void exact_round(struct child *c, struct ferry_dirty_tracker *t, uint64_t seed, uint64_t permille,
			const struct ferry_page_range *dma, size_t ndma)
{
	char cmd[128], reply[256], err[512] = "";
	snprintf(cmd, sizeof cmd, "write seed=%" PRIu64 " permille=%" PRIu64, seed, permille);
	child_command(c, cmd, reply, sizeof reply);
	struct ferry_dirty_bitmap bm;
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, c->npages), 0);
	int64_t reported = ferry_dirty_tracker_harvest(t, &bm, err, sizeof err);
	if (reported < 0)
		fprintf(stderr, "  harvest: %s\n", err);
	EXPECT(reported >= 0);
	uint64_t written = 0;
	for (uint64_t i = 0; i < c->npages; i++)
		written += (uint64_t)selected(i, seed, permille);
	EXPECT_EQ_U64((uint64_t)reported, written); /* collect-and-clear reports no page twice */
	EXPECT_EQ_INT(ferry_dirty_bitmap_or_ranges(&bm, dma, ndma), 0);
	uint64_t missed = 0, extra = 0;
	for (uint64_t i = 0; i < c->npages; i++) {
		int want = selected(i, seed, permille);
		for (size_t k = 0; k < ndma; k++)
			want |= i >= dma[k].first && i < dma[k].first + dma[k].count;
		int got = ferry_dirty_bitmap_test(&bm, i);
		missed += (uint64_t)(want && !got);
		extra += (uint64_t)(!want && got);
	}
	if (missed || extra)
		fprintf(stderr, "  seed=%" PRIu64 " permille=%" PRIu64 ": missed=%" PRIu64 " extra=%" PRIu64 "\n", seed,
			permille, missed, extra);
	EXPECT_EQ_U64(missed, 0);
	EXPECT_EQ_U64(extra, 0);
	ferry_dirty_bitmap_free(&bm);
}

static void exactness_rounds(enum memory_kind kind, uint64_t npages)
{
	struct child c;
	EXPECT_EQ_INT(spawn_child(kind, npages, NULL, &c), 0);
	if (kind == MEM_ANON_THP) {
		/* THP must really back the region before tracking starts (enabled=madvise or always). */
		char reply[256];
		uint64_t kb = 0;
		child_command(&c, "smaps", reply, sizeof reply);
		EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "anon_huge_kb", &kb), 0);
		fprintf(stderr, "  anon_huge_kb before tracking: %" PRIu64 "\n", kb);
		EXPECT(kb >= 2048);
	}
	struct ferry_dirty_tracker *t = open_tracker(&c);
	if (!t) {
		stop_child(&c);
		return;
	}
	struct ferry_page_range dma[] = {{3, 1}, {100, 40}, {npages - 17, 17}};
	const uint64_t permilles[] = {0, 10, 100, 1000, 10, 333, 1};
	for (size_t r = 0; r < sizeof permilles / sizeof permilles[0]; r++)
		exact_round(&c, t, 100 + r, permilles[r], r % 2 ? dma : NULL, r % 2 ? 3 : 0);
	ferry_dirty_tracker_close(t);
	stop_child(&c);
}

FERRY_TEST(dirty_tracker_exact_on_memfd)
{
	exactness_rounds(MEM_MEMFD, 8192); /* 32 MiB */
}

FERRY_TEST(dirty_tracker_exact_on_thp_memory)
{
	exactness_rounds(MEM_ANON_THP, 8192);
}

FERRY_TEST(dirty_tracker_loses_nothing_at_full_speed)
{
	const uint64_t npages = 4096;
	struct write_log *log = mmap(NULL, sizeof *log, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	EXPECT(log != MAP_FAILED);
	struct child c;
	EXPECT_EQ_INT(spawn_child(MEM_MEMFD, npages, log, &c), 0);
	struct ferry_dirty_tracker *t = open_tracker(&c);
	if (!t)
		return;
	enum { ROUNDS = 40 };
	struct ferry_dirty_bitmap h[ROUNDS + 1], all;
	uint64_t done_before[ROUNDS + 1], started_after[ROUNDS + 1];
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&all, npages), 0);
	EXPECT_EQ_INT(ferry_workload_ipc_send_line(c.sock, "spin\n", NULL, 0), 0);
	while (__atomic_load_n(&log->done, __ATOMIC_ACQUIRE) == 0)
		usleep(100); /* harvests start once the writer runs */
	char err[512] = "";
	int rounds = 0;
	for (; rounds < ROUNDS; rounds++) {
		ferry_dirty_bitmap_init(&h[rounds], npages);
		done_before[rounds] = __atomic_load_n(&log->done, __ATOMIC_ACQUIRE);
		int64_t n = ferry_dirty_tracker_harvest(t, &h[rounds], err, sizeof err);
		EXPECT(n >= 0);
		started_after[rounds] = __atomic_load_n(&log->started, __ATOMIC_ACQUIRE);
		ferry_dirty_bitmap_or(&all, &h[rounds]);
		usleep(200);
	}
	__atomic_store_n(&log->stop, 1, __ATOMIC_RELEASE);
	char reply[64];
	EXPECT_EQ_INT(ferry_workload_ipc_recv_line(c.sock, reply, sizeof reply, NULL, NULL, TIMEOUT_MS), 2);
	ferry_dirty_bitmap_init(&h[rounds], npages);
	done_before[rounds] = __atomic_load_n(&log->done, __ATOMIC_ACQUIRE);
	EXPECT(ferry_dirty_tracker_harvest(t, &h[rounds], err, sizeof err) >= 0);
	ferry_dirty_bitmap_or(&all, &h[rounds]);
	/* 1. Nothing lost overall. 2. A write that began after harvest k ended and finished before
	 * harvest k + 1 began is reported by harvest k + 1 itself. */
	uint64_t lost = 0, late = 0, checked_windows = 0, total = done_before[rounds];
	for (uint64_t i = 0; i < total; i++)
		lost += (uint64_t)!ferry_dirty_bitmap_test(&all, log->page[i]);
	for (int k = 0; k < rounds; k++) {
		if (started_after[k] < done_before[k + 1])
			checked_windows++;
		for (uint64_t i = started_after[k]; i < done_before[k + 1]; i++)
			late += (uint64_t)!ferry_dirty_bitmap_test(&h[k + 1], log->page[i]);
	}
	fprintf(stderr, "  writes=%" PRIu64 " harvests=%d windows_checked=%" PRIu64 "\n", total, rounds + 1,
		checked_windows);
	EXPECT(total > 0);
	EXPECT_EQ_U64(lost, 0);
	EXPECT_EQ_U64(late, 0);
	for (int k = 0; k <= rounds; k++)
		ferry_dirty_bitmap_free(&h[k]);
	ferry_dirty_bitmap_free(&all);
	ferry_dirty_tracker_close(t);
	stop_child(&c);
	munmap(log, sizeof *log);
}

FERRY_TEST(dirty_tracker_rejects_wrong_fds)
{
	struct child c;
	EXPECT_EQ_INT(spawn_child(MEM_MEMFD, 256, NULL, &c), 0);
	struct ferry_dirty_tracker *t = NULL;
	char err[512] = "";
	/* A pipe is not a userfaultfd. */
	int p[2];
	EXPECT_EQ_INT(pipe(p), 0);
	EXPECT_EQ_INT(ferry_dirty_tracker_open(c.pid, p[0], c.base, 256 * PG, &t, err, sizeof err), -EBADF);
	EXPECT(strstr(err, "not a userfaultfd") != NULL);
	EXPECT(t == NULL);
	/* Unaligned range. */
	EXPECT_EQ_INT(ferry_dirty_tracker_open(c.pid, c.uffd, c.base + 1, 256 * PG, &t, err, sizeof err), -EINVAL);
	/* Our own userfaultfd cannot track the child: either registering (no such mapping here) or the
	 * first scan (range not registered in the child) must fail, never track silently. */
	int own = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	EXPECT(own >= 0);
	int rc = ferry_dirty_tracker_open(c.pid, own, c.base, 256 * PG, &t, err, sizeof err);
	if (rc == 0) {
		rc = ferry_dirty_tracker_start(t, err, sizeof err);
		ferry_dirty_tracker_close(t);
	}
	fprintf(stderr, "  foreign uffd: %s\n", err);
	EXPECT(rc < 0);
	EXPECT(strstr(err, "pid") != NULL);
	close(own);
	close(p[0]);
	close(p[1]);
	close(c.uffd);
	stop_child(&c);
}
