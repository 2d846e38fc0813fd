/*
 * The workload: option parsing, the in-process vCPU engine, and the real ferry-workload binary
 * driven over its control socket (freeze really stops writes, as seen by the dirty tracker; a
 * corrupted byte in guest RAM is named by `verify`; a throttle really slows the dirty rate the
 * tracker sees; `touch` is a guest write the tracker sees on that one page). The binary is found next to ferry-agent (FERRY_AGENT_BIN, set by `make check`).
 */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dirty_tracker.h"
#include "test.h"
#include "workload.h"
#include "workload_ipc.h"
#include "workload_options.h"

#define TIMEOUT_MS 20000

FERRY_TEST(workload_parses_sizes_rates_patterns)
{
	uint64_t v = 0;
	EXPECT_EQ_INT(ferry_workload_parse_size("256MiB", 1, &v), 0);
	EXPECT_EQ_U64(v, 256ull << 20);
	EXPECT_EQ_INT(ferry_workload_parse_size("2G", 1, &v), 0);
	EXPECT_EQ_U64(v, 2ull << 30);
	EXPECT_EQ_INT(ferry_workload_parse_size("4096", 1, &v), 0);
	EXPECT_EQ_U64(v, 4096);
	EXPECT_EQ_INT(ferry_workload_parse_size("12XB", 1, &v), -EINVAL);
	EXPECT_EQ_INT(ferry_workload_parse_size("", 1, &v), -EINVAL);
	EXPECT_EQ_INT(ferry_workload_parse_size("-1", 1, &v), -EINVAL);
	EXPECT_EQ_INT(ferry_workload_parse_size("99999999999TiB", 1, &v), -ERANGE);
	EXPECT_EQ_INT(ferry_workload_parse_rate("5000", &v), 0);
	EXPECT_EQ_U64(v, 5000);
	EXPECT_EQ_INT(ferry_workload_parse_rate("20MiB/s", &v), 0);
	EXPECT_EQ_U64(v, 5120);
	EXPECT_EQ_INT(ferry_workload_parse_rate("0", &v), 0);
	EXPECT_EQ_U64(v, 0);
	EXPECT_EQ_INT(ferry_workload_parse_rate("5M", &v), -EINVAL);
	EXPECT_EQ_INT(ferry_workload_parse_rate("20/s", &v), -EINVAL);
	enum ferry_workload_pattern p;
	EXPECT_EQ_INT(ferry_workload_parse_pattern("hot:64", &p, &v), 0);
	EXPECT_EQ_INT(p, FERRY_WORKLOAD_HOT);
	EXPECT_EQ_U64(v, 64ull << 20);
	EXPECT_EQ_INT(ferry_workload_parse_pattern("hot:512KiB", &p, &v), 0);
	EXPECT_EQ_U64(v, 512ull << 10);
	EXPECT_EQ_INT(ferry_workload_parse_pattern("sweep", &p, &v), 0);
	EXPECT_EQ_INT(p, FERRY_WORKLOAD_SWEEP);
	EXPECT_EQ_INT(ferry_workload_parse_pattern("hot:", &p, &v), -EINVAL);
	EXPECT_EQ_INT(ferry_workload_parse_pattern("random", &p, &v), -EINVAL);
}

FERRY_TEST(workload_options_defaults_and_errors)
{
	struct ferry_workload_options o;
	char err[256];
	char *ok[] = {"ferry-workload", "--control", "/tmp/x.sock", "--ram", "64MiB", "--vcpus", "3", "--pattern", "hot:8",
		      "--uffd", NULL};
	EXPECT_EQ_INT(ferry_workload_options_parse(10, ok, &o, err, sizeof err), 0);
	EXPECT_EQ_U64(o.config.ram_bytes, 64ull << 20);
	EXPECT_EQ_INT(o.config.vcpus, 3);
	EXPECT_EQ_U64(o.config.dirty_rate_pages, 1000);
	EXPECT_EQ_U64(o.config.hot_bytes, 8ull << 20);
	EXPECT_EQ_INT(o.give_uffd, 1);
	char *no_control[] = {"ferry-workload", "--ram", "64MiB", NULL};
	EXPECT_EQ_INT(ferry_workload_options_parse(3, no_control, &o, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "--control") != NULL);
	char *bad_ram[] = {"ferry-workload", "--control", "x", "--ram", "1000", NULL};
	EXPECT_EQ_INT(ferry_workload_options_parse(5, bad_ram, &o, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "--ram") != NULL);
	char *hot_too_big[] = {"ferry-workload", "--control", "x", "--ram", "4MiB", "--pattern", "hot:8", NULL};
	EXPECT_EQ_INT(ferry_workload_options_parse(7, hot_too_big, &o, err, sizeof err), -EINVAL);
	char *full[] = {"ferry-workload", "--control", "x", "--agent-socket", "a", "--incoming", "--verify-at-start",
			"full", NULL};
	EXPECT_EQ_INT(ferry_workload_options_parse(8, full, &o, err, sizeof err), 0);
	EXPECT_EQ_INT(o.verify_full, 1);
	full[7] = "written";
	EXPECT_EQ_INT(ferry_workload_options_parse(8, full, &o, err, sizeof err), 0);
	EXPECT_EQ_INT(o.verify_full, 0);
	full[7] = "some";
	EXPECT_EQ_INT(ferry_workload_options_parse(8, full, &o, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "--verify-at-start") != NULL);
	char *not_incoming[] = {"ferry-workload", "--control", "x", "--verify-at-start", "full", NULL};
	EXPECT_EQ_INT(ferry_workload_options_parse(5, not_incoming, &o, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "needs --incoming") != NULL);
}

/* The in-process engine: frozen means no write at all; every pattern keeps memory valid. */
FERRY_TEST(workload_engine_freeze_and_patterns_keep_memory_valid)
{
	const enum ferry_workload_pattern patterns[] = {FERRY_WORKLOAD_UNIFORM, FERRY_WORKLOAD_HOT, FERRY_WORKLOAD_SWEEP};
	for (size_t k = 0; k < 3; k++) {
		struct ferry_workload_config cfg = {.ram_bytes = 4u << 20, .vcpus = 3, .dirty_rate_pages = 0,
						    .pattern = patterns[k], .hot_bytes = 256u << 10, .seed = 9,
						    .start_frozen = 1};
		struct ferry_workload *w = NULL;
		char err[256];
		EXPECT_EQ_INT(ferry_workload_create(&cfg, &w, err, sizeof err), 0);
		if (!w)
			return;
		struct ferry_workload_stats s0, s1;
		ferry_workload_stats(w, &s0);
		EXPECT_EQ_U64(s0.writes_total, 0);
		EXPECT(s0.frozen);
		ferry_workload_thaw(w);
		for (int i = 0; i < 2000; i++) { /* at most 20 s; vCPUs write as fast as they can */
			ferry_workload_stats(w, &s1);
			if (s1.writes_total >= 3000)
				break;
			usleep(10000);
		}
		EXPECT(s1.writes_total >= 3000);
		ferry_workload_freeze(w);
		ferry_workload_stats(w, &s0);
		usleep(20000);
		ferry_workload_stats(w, &s1);
		EXPECT_EQ_U64(s1.writes_total, s0.writes_total);
		EXPECT(s1.max_generation > 1);
		uint64_t bad = 0;
		enum ferry_page_fault f;
		EXPECT_EQ_INT(ferry_workload_verify(w, &bad, &f), 0);
		if (patterns[k] == FERRY_WORKLOAD_HOT) {
			/* Nothing outside the hot set was touched: generation 1 everywhere past it. */
			const uint8_t *base = ferry_workload_base(w);
			uint64_t outside = 0;
			for (uint64_t i = (256u << 10) / FERRY_PAGE_BYTES; i < (4u << 20) / FERRY_PAGE_BYTES; i++)
				outside += ferry_page_trailer_read(base + i * FERRY_PAGE_BYTES).generation != 1;
			EXPECT_EQ_U64(outside, 0);
		}
		ferry_workload_destroy(w);
	}
}

/* A 1 MiB workload (256 pages, 3 vCPUs), frozen from the start: no vCPU write muddies the counts. */
static struct ferry_workload *frozen_workload(void)
{
	struct ferry_workload_config cfg = {.ram_bytes = 1u << 20, .vcpus = 3, .dirty_rate_pages = 0, .seed = 4,
					    .start_frozen = 1};
	struct ferry_workload *w = NULL;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_workload_create(&cfg, &w, err, sizeof err), 0);
	return w;
}

FERRY_TEST(workload_touch_bumps_the_generation_by_one_as_the_owning_vcpu)
{
	struct ferry_workload *w = frozen_workload();
	if (!w)
		return;
	char err[256] = "";
	uint64_t gen = 0, peeked = 0;
	enum ferry_page_fault fault = FERRY_PAGE_BAD_MAGIC;
	EXPECT_EQ_INT(ferry_workload_peek_page(w, 7, &peeked, &fault, err, sizeof err), 0);
	EXPECT_EQ_U64(peeked, 1); /* the fill */
	EXPECT_EQ_INT(fault, FERRY_PAGE_OK);
	EXPECT_EQ_INT(ferry_workload_touch_page(w, 7, &gen, err, sizeof err), 0);
	EXPECT_EQ_U64(gen, 2);
	EXPECT_EQ_INT(ferry_workload_touch_page(w, 7, &gen, err, sizeof err), 0);
	EXPECT_EQ_U64(gen, 3);
	fault = FERRY_PAGE_BAD_MAGIC;
	EXPECT_EQ_INT(ferry_workload_peek_page(w, 7, &peeked, &fault, err, sizeof err), 0);
	EXPECT_EQ_U64(peeked, 3);
	EXPECT_EQ_INT(fault, FERRY_PAGE_OK);
	const uint8_t *page = (const uint8_t *)ferry_workload_base(w) + 7 * FERRY_PAGE_BYTES;
	EXPECT_EQ_INT(ferry_page_verify(page, 7), FERRY_PAGE_OK);
	EXPECT_EQ_U64(ferry_page_trailer_read(page).generation, 3);
	/* Counted as page 7's owner's writes (7 % 3 = vCPU 1), and nobody else's. */
	struct ferry_workload_stats s;
	ferry_workload_stats(w, &s);
	EXPECT_EQ_U64(s.vcpu_writes[0], 0);
	EXPECT_EQ_U64(s.vcpu_writes[1], 2);
	EXPECT_EQ_U64(s.vcpu_writes[2], 0);
	EXPECT_EQ_U64(s.max_generation, 3);
	/* Frozen before, frozen after; the neighbours untouched. */
	EXPECT_EQ_INT(ferry_workload_frozen(w), 1);
	EXPECT_EQ_INT(ferry_workload_peek_page(w, 6, &peeked, &fault, err, sizeof err), 0);
	EXPECT_EQ_U64(peeked, 1);
	uint64_t bad = 0;
	EXPECT_EQ_INT(ferry_workload_verify(w, &bad, &fault), 0);
	ferry_workload_destroy(w);
}

/* `tear`: the page is caught mid-write (half of the next generation, the old trailer), fails its
 * self-check, and counts no write; `touch` then writes it whole as that next generation. */
FERRY_TEST(workload_tear_leaves_a_page_half_written_until_touch_completes_it)
{
	struct ferry_workload *w = frozen_workload();
	if (!w)
		return;
	char err[256] = "";
	uint64_t gen = 0, peeked = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	const uint8_t *page = (const uint8_t *)ferry_workload_base(w) + 7 * FERRY_PAGE_BYTES;
	uint8_t before[FERRY_PAGE_BYTES];
	memcpy(before, page, sizeof before);
	EXPECT_EQ_INT(ferry_workload_tear_page(w, 7, err, sizeof err), 0);
	const size_t half = FERRY_PAGE_BYTES / 2;
	EXPECT(memcmp(page, before, half) != 0);               /* the first half is new */
	EXPECT(memcmp(page + half, before + half, half) == 0); /* the rest, trailer included, is old */
	EXPECT_EQ_INT(ferry_workload_peek_page(w, 7, &peeked, &fault, err, sizeof err), 0);
	EXPECT_EQ_U64(peeked, 1);
	EXPECT(fault != FERRY_PAGE_OK);
	struct ferry_workload_stats s;
	ferry_workload_stats(w, &s);
	EXPECT_EQ_U64(s.writes_total, 0);
	EXPECT_EQ_INT(ferry_workload_touch_page(w, 7, &gen, err, sizeof err), 0);
	EXPECT_EQ_U64(gen, 2);
	EXPECT_EQ_INT(ferry_page_verify(page, 7), FERRY_PAGE_OK);
	uint8_t whole[FERRY_PAGE_BYTES]; /* generation 2 of page 7 (seed 4), as if never torn */
	ferry_page_fill(whole, 7, 2, 4);
	EXPECT(memcmp(page, whole, FERRY_PAGE_BYTES) == 0);
	ferry_workload_stats(w, &s);
	EXPECT_EQ_U64(s.writes_total, 1);
	EXPECT_EQ_INT(ferry_workload_tear_page(w, 256, err, sizeof err), -ERANGE);
	EXPECT_EQ_STR(err, "page 256 is outside 0..255");
	ferry_workload_destroy(w);
}

FERRY_TEST(workload_touch_and_peek_refuse_pages_past_guest_ram)
{
	struct ferry_workload *w = frozen_workload();
	if (!w)
		return;
	char err[256] = "";
	uint64_t gen = 99;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	EXPECT_EQ_INT(ferry_workload_touch_page(w, 256, &gen, err, sizeof err), -ERANGE);
	EXPECT_EQ_STR(err, "page 256 is outside 0..255");
	EXPECT_EQ_INT(ferry_workload_peek_page(w, UINT64_MAX, &gen, &fault, err, sizeof err), -ERANGE);
	EXPECT_EQ_STR(err, "page 18446744073709551615 is outside 0..255");
	EXPECT_EQ_U64(gen, 99); /* nothing reported */
	struct ferry_workload_stats s;
	ferry_workload_stats(w, &s);
	EXPECT_EQ_U64(s.writes_total, 0); /* nothing written */
	EXPECT_EQ_INT(ferry_workload_touch_page(w, 255, &gen, err, sizeof err), 0); /* the last page is fine */
	EXPECT_EQ_U64(gen, 2);
	ferry_workload_destroy(w);
}

/* Generations written since the fill, over all pages: one per write, as long as no two writes of a
 * page ever overlap (two at once read the same generation and bump it once). */
static uint64_t generations_since_fill(struct ferry_workload *w)
{
	const uint8_t *base = ferry_workload_base(w);
	uint64_t sum = 0;
	for (uint64_t i = 0; i < ferry_workload_ram_bytes(w) / FERRY_PAGE_BYTES; i++)
		sum += ferry_page_trailer_read(base + i * FERRY_PAGE_BYTES).generation - 1;
	return sum;
}

/* On running vCPUs touch freezes them for its write and lets them run on, throttle and all.
 * Hammered on 4 pages the owners rewrite as fast as they can, no touch ever overlaps an owner's
 * write: every write, touch or vCPU, shows up as exactly one generation. */
FERRY_TEST(workload_touch_leaves_a_running_workload_running)
{
	struct ferry_workload_config cfg = {.ram_bytes = 4 * FERRY_PAGE_BYTES, .vcpus = 2, .dirty_rate_pages = 0,
					    .seed = 6};
	struct ferry_workload *w = NULL;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_workload_create(&cfg, &w, err, sizeof err), 0);
	if (!w)
		return;
	EXPECT_EQ_INT(ferry_workload_set_throttle(w, 10, err, sizeof err), 0);
	uint64_t last[4] = {0};
	int rising = 1;
	for (int i = 0; i < 5000; i++) {
		uint64_t gen = 0, page = (uint64_t)i % 4;
		EXPECT_EQ_INT(ferry_workload_touch_page(w, page, &gen, err, sizeof err), 0);
		rising &= gen > last[page];
		last[page] = gen;
	}
	EXPECT(rising);
	EXPECT_EQ_INT(ferry_workload_frozen(w), 0);
	EXPECT_EQ_INT((int)ferry_workload_throttle(w), 10);
	struct ferry_workload_stats s0, s1;
	ferry_workload_stats(w, &s0);
	for (int i = 0; i < 2000; i++) { /* the vCPUs really run on: at most 20 s */
		ferry_workload_stats(w, &s1);
		if (s1.writes_total > s0.writes_total + 100)
			break;
		usleep(10000);
	}
	EXPECT(s1.writes_total > s0.writes_total + 100);
	ferry_workload_freeze(w);
	ferry_workload_stats(w, &s1);
	EXPECT_EQ_U64(generations_since_fill(w), s1.writes_total);
	uint64_t bad = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	EXPECT_EQ_INT(ferry_workload_verify(w, &bad, &fault), 0);
	ferry_workload_destroy(w);
}

/* `verify` on a running workload freezes it for the check and lets it run on as it was: an
 * auto-converge throttle in force stays in force. */
FERRY_TEST(workload_verify_leaves_a_running_workload_running_with_its_throttle)
{
	struct ferry_workload_config cfg = {.ram_bytes = 64 * FERRY_PAGE_BYTES, .vcpus = 2, .dirty_rate_pages = 0,
					    .seed = 6};
	struct ferry_workload *w = NULL;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_workload_create(&cfg, &w, err, sizeof err), 0);
	if (!w)
		return;
	EXPECT_EQ_INT(ferry_workload_set_throttle(w, 30, err, sizeof err), 0);
	uint64_t bad = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	EXPECT_EQ_INT(ferry_workload_verify(w, &bad, &fault), 0);
	EXPECT_EQ_INT(ferry_workload_frozen(w), 0);
	EXPECT_EQ_INT((int)ferry_workload_throttle(w), 30);
	ferry_workload_destroy(w);
}

/* A running ferry-workload process and a control connection to it. */
struct running {
	pid_t pid;
	int sock;
	char path[108];
};

static int workload_binary(char *out, size_t cap)
{
	const char *agent = getenv("FERRY_AGENT_BIN");
	if (!agent) {
		fprintf(stderr, "  FERRY_AGENT_BIN is not set (run through make check)\n");
		return -ENOENT;
	}
	char copy[PATH_MAX];
	snprintf(copy, sizeof copy, "%s", agent);
	snprintf(out, cap, "%s/ferry-workload", dirname(copy));
	return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

static int start_workload(struct running *r, const char *rate, int uffd)
{
	char bin[PATH_MAX] = "";
	r->sock = -1;
	if (workload_binary(bin, sizeof bin)) {
		fprintf(stderr, "  ferry-workload binary not found at %s\n", bin);
		return -ENOENT;
	}
	snprintf(r->path, sizeof r->path, "/tmp/ferry-test-workload-%d.sock", (int)getpid());
	unlink(r->path);
	r->pid = fork();
	if (r->pid == 0) {
		char *argv[] = {bin, "--control", r->path, "--ram", "16MiB", "--vcpus", "2", "--dirty-rate", (char *)rate,
				"--pattern", "uniform", "--seed", "5", uffd ? "--uffd" : NULL, NULL};
		execv(bin, argv);
		_exit(127);
	}
	/* Wait (bounded) for the control socket: RAM is filled before the loop serves. */
	for (int i = 0; i < TIMEOUT_MS / 10; i++) {
		if (ferry_workload_ipc_connect(r->path, &r->sock) == 0)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static void command(struct running *r, const char *cmd, char *reply, size_t cap)
{
	EXPECT_EQ_INT(ferry_workload_ipc_command(r->sock, cmd, reply, cap, TIMEOUT_MS), 0);
}

static void stop_workload(struct running *r)
{
	char reply[64] = "";
	command(r, "quit", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok bye");
	close(r->sock);
	int status = 0;
	EXPECT_EQ_INT(waitpid(r->pid, &status, 0), r->pid);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* `attach` to a workload started with --uffd and a started dirty tracker on its guest RAM (as a
 * migration source has); a.memfd stays the caller's. */
static struct ferry_dirty_tracker *track(struct running *r, struct ferry_workload_attach *a,
					 struct ferry_dirty_bitmap *bm)
{
	char err[512] = "";
	int rc = ferry_workload_ipc_attach(r->sock, a, TIMEOUT_MS, err, sizeof err);
	if (rc)
		fprintf(stderr, "  attach: %s\n", err);
	EXPECT_EQ_INT(rc, 0);
	EXPECT_EQ_INT(a->pid, r->pid);
	EXPECT_EQ_U64(a->ram_bytes, 16u << 20);
	EXPECT(a->uffd >= 0);
	struct ferry_dirty_tracker *t = NULL;
	rc = ferry_dirty_tracker_open(a->pid, a->uffd, a->base, a->ram_bytes, &t, err, sizeof err);
	if (rc == 0)
		rc = ferry_dirty_tracker_start(t, err, sizeof err);
	if (rc)
		fprintf(stderr, "  tracker: %s\n", err);
	EXPECT_EQ_INT(rc, 0);
	close(a->uffd);
	ferry_dirty_bitmap_init(bm, a->ram_bytes / FERRY_PAGE_BYTES);
	return t;
}

/* start_workload with --uffd at `rate`, then track(): false when either failed (nothing to test). */
static bool start_tracked(struct running *r, const char *rate, struct ferry_workload_attach *a,
			  struct ferry_dirty_bitmap *bm, struct ferry_dirty_tracker **t)
{
	EXPECT_EQ_INT(start_workload(r, rate, 1), 0);
	if (r->sock < 0)
		return false;
	*t = track(r, a, bm);
	return *t != NULL;
}

/* The end of a start_tracked test: guest memory still checks out; then everything is released. */
static void verify_and_stop_tracked(struct running *r, struct ferry_workload_attach *a, struct ferry_dirty_bitmap *bm,
				    struct ferry_dirty_tracker *t)
{
	char reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	command(r, "verify", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok pages=4096");
	ferry_dirty_tracker_close(t);
	ferry_dirty_bitmap_free(bm);
	close(a->memfd);
	stop_workload(r);
}

/* Harvests every 10 ms, for a bounded time, until one finds dirty pages: how many it found (0 if
 * none did, < 0 on an error). */
static int64_t harvest_until_dirty(struct ferry_dirty_tracker *t, struct ferry_dirty_bitmap *bm)
{
	char err[512] = "";
	int64_t n = 0;
	for (int i = 0; i < TIMEOUT_MS / 10 && n == 0; i++) {
		usleep(10000);
		n = ferry_dirty_tracker_harvest(t, bm, err, sizeof err);
	}
	if (n < 0)
		fprintf(stderr, "  harvest: %s\n", err);
	return n;
}

FERRY_TEST(workload_freeze_really_stops_writes)
{
	struct running r;
	struct ferry_workload_attach a;
	struct ferry_dirty_bitmap bm;
	struct ferry_dirty_tracker *t = NULL;
	char err[512] = "", reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	if (!start_tracked(&r, "0", &a, &bm, &t))
		return;

	/* Running: pages get dirty. */
	EXPECT(harvest_until_dirty(t, &bm) > 0);
	/* Frozen: after the harvest that collects the last writes, nothing more, however long we wait. */
	command(&r, "freeze", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok frozen");
	uint64_t w0 = 0, w1 = 1;
	command(&r, "stats", reply, sizeof reply);
	ferry_workload_ipc_field_u64(reply, "writes", &w0);
	EXPECT(ferry_dirty_tracker_harvest(t, &bm, err, sizeof err) >= 0);
	usleep(300000);
	ferry_dirty_bitmap_clear_all(&bm);
	EXPECT_EQ_INT(ferry_dirty_tracker_harvest(t, &bm, err, sizeof err), 0);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(&bm), 0);
	command(&r, "stats", reply, sizeof reply);
	ferry_workload_ipc_field_u64(reply, "writes", &w1);
	EXPECT_EQ_U64(w1, w0);
	/* Thawed: dirty again. */
	command(&r, "thaw", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok running");
	EXPECT(harvest_until_dirty(t, &bm) > 0);
	verify_and_stop_tracked(&r, &a, &bm, t);
}

FERRY_TEST(workload_verify_names_a_corrupted_byte)
{
	struct running r;
	EXPECT_EQ_INT(start_workload(&r, "2000", 0), 0);
	if (r.sock < 0)
		return;
	struct ferry_workload_attach a;
	char err[512] = "", reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	EXPECT_EQ_INT(ferry_workload_ipc_attach(r.sock, &a, TIMEOUT_MS, err, sizeof err), 0);
	EXPECT_EQ_INT(a.uffd, -1); /* started without --uffd */
	uint8_t *ram = mmap(NULL, a.ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a.memfd, 0);
	EXPECT(ram != MAP_FAILED);
	command(&r, "verify", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok pages=4096");
	command(&r, "freeze", reply, sizeof reply);
	ram[1234 * FERRY_PAGE_BYTES + 100] ^= 0x40;
	command(&r, "verify", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "bad page=1234 reason=bad_checksum");
	ram[1234 * FERRY_PAGE_BYTES + 100] ^= 0x40;
	command(&r, "verify", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok pages=4096");
	command(&r, "bogus", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "error unknown command");
	munmap(ram, a.ram_bytes);
	close(a.memfd);
	stop_workload(&r);
}

FERRY_TEST(workload_throttle_sleep_follows_qemu_cpu_throttle)
{
	/* Run one 10 ms slice, sleep pct / (1 - pct) slices. */
	EXPECT_EQ_U64(ferry_workload_throttle_sleep_ns(0), 0);
	EXPECT_EQ_U64(ferry_workload_throttle_sleep_ns(20), 2500000);
	EXPECT_EQ_U64(ferry_workload_throttle_sleep_ns(50), 10000000);
	EXPECT_EQ_U64(ferry_workload_throttle_sleep_ns(90), 90000000);
	EXPECT_EQ_U64(ferry_workload_throttle_sleep_ns(99), 990000000);
	EXPECT_EQ_U64(ferry_workload_throttle_sleep_ns(100), 0);
	/* The share taken away is the percent, for every valid value. */
	for (unsigned p = 1; p <= FERRY_WORKLOAD_THROTTLE_MAX; p++) {
		uint64_t sleep = ferry_workload_throttle_sleep_ns(p);
		double share = (double)sleep / (double)(sleep + FERRY_WORKLOAD_THROTTLE_SLICE_NS);
		EXPECT(share > p / 100.0 - 1e-6 && share < p / 100.0 + 1e-6);
	}
}

FERRY_TEST(workload_throttle_refuses_100_and_thaw_turns_it_off)
{
	struct ferry_workload_config cfg = {.ram_bytes = 1u << 20, .vcpus = 2, .dirty_rate_pages = 1000, .seed = 3};
	struct ferry_workload *w = NULL;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_workload_create(&cfg, &w, err, sizeof err), 0);
	if (!w)
		return;
	EXPECT_EQ_INT(ferry_workload_set_throttle(w, 100, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "throttle 100 % is outside 0..99") != NULL);
	EXPECT_EQ_INT((int)ferry_workload_throttle(w), 0);
	EXPECT_EQ_INT(ferry_workload_set_throttle(w, 99, err, sizeof err), 0);
	EXPECT_EQ_INT((int)ferry_workload_throttle(w), 99);
	/* Freeze wins over a 990 ms throttle sleep: it returns at once (bounded by the test runner). */
	ferry_workload_freeze(w);
	EXPECT_EQ_INT((int)ferry_workload_throttle(w), 99);
	ferry_workload_thaw(w);
	EXPECT_EQ_INT((int)ferry_workload_throttle(w), 0);
	ferry_workload_destroy(w);
}

/* Pages the tracker harvests over `windows` windows of 50 ms: the workload's dirty rate as a
 * migration sees it. */
static uint64_t dirtied_pages(struct ferry_dirty_tracker *t, struct ferry_dirty_bitmap *bm, int windows)
{
	char err[256];
	uint64_t total = 0;
	ferry_dirty_bitmap_clear_all(bm);
	EXPECT(ferry_dirty_tracker_harvest(t, bm, err, sizeof err) >= 0); /* start from a clean slate */
	for (int i = 0; i < windows; i++) {
		usleep(50000);
		ferry_dirty_bitmap_clear_all(bm);
		int64_t n = ferry_dirty_tracker_harvest(t, bm, err, sizeof err);
		EXPECT(n >= 0);
		total += n > 0 ? (uint64_t)n : 0;
	}
	return total;
}

FERRY_TEST(workload_throttle_slows_the_dirty_rate_the_tracker_sees)
{
	struct running r;
	struct ferry_workload_attach a;
	struct ferry_dirty_bitmap bm;
	struct ferry_dirty_tracker *t = NULL;
	char reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	if (!start_tracked(&r, "20000", &a, &bm, &t))
		return;

	/* Bad values are refused with the reason, and change nothing. */
	command(&r, "throttle 100", reply, sizeof reply);
	EXPECT(strstr(reply, "error throttle: throttle 100 % is outside 0..99") == reply);
	command(&r, "throttle -5", reply, sizeof reply);
	EXPECT(strncmp(reply, "error throttle: expected a whole percent", 40) == 0);
	command(&r, "throttle 5x", reply, sizeof reply);
	EXPECT(strncmp(reply, "error throttle:", 15) == 0);

	/* The same real time (12 windows of 50 ms) at 0, 50 and 90 %. */
	uint64_t full = dirtied_pages(t, &bm, 12);
	command(&r, "throttle 50", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok throttle percent=50");
	uint64_t half = dirtied_pages(t, &bm, 12);
	command(&r, "throttle 90", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok throttle percent=90");
	uint64_t tenth = dirtied_pages(t, &bm, 12);
	command(&r, "stats", reply, sizeof reply);
	uint64_t throttle = 0, throttled_ns = 0;
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "throttle", &throttle), 0);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "throttled_ns", &throttled_ns), 0);
	EXPECT_EQ_U64(throttle, 90);
	EXPECT(throttled_ns > 0);
	fprintf(stderr, "  dirtied pages in 600 ms: throttle 0 %%: %llu, 50 %%: %llu (%.2f), 90 %%: %llu (%.2f)\n",
		(unsigned long long)full, (unsigned long long)half, full ? (double)half / (double)full : 0.0,
		(unsigned long long)tenth, full ? (double)tenth / (double)full : 0.0);
	EXPECT(full > 0);
	EXPECT(half < full * 8 / 10);
	EXPECT(tenth < half * 8 / 10);

	/* Thaw turns it off: the rate comes back. */
	command(&r, "freeze", reply, sizeof reply);
	command(&r, "thaw", reply, sizeof reply);
	command(&r, "stats", reply, sizeof reply);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "throttle", &throttle), 0);
	EXPECT_EQ_U64(throttle, 0);
	uint64_t again = dirtied_pages(t, &bm, 12);
	EXPECT(again > tenth);
	verify_and_stop_tracked(&r, &a, &bm, t);
}

/* The control socket's touch: a guest write the dirty tracker sees on exactly that page, with the
 * generation peek reports; bad page numbers are refused with the input and the valid range. */
FERRY_TEST(workload_touch_over_the_socket_is_a_write_the_tracker_sees)
{
	struct running r;
	struct ferry_workload_attach a;
	struct ferry_dirty_bitmap bm;
	struct ferry_dirty_tracker *t = NULL;
	char err[512] = "", reply[FERRY_WORKLOAD_IPC_LINE_MAX], want[128];
	if (!start_tracked(&r, "2000", &a, &bm, &t))
		return;

	command(&r, "freeze", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "ok frozen");
	EXPECT(ferry_dirty_tracker_harvest(t, &bm, err, sizeof err) >= 0); /* the writes before the freeze */
	uint64_t before = 0, after = 0;
	command(&r, "peek 1234", reply, sizeof reply);
	EXPECT(strncmp(reply, "ok peek page=1234 generation=", 29) == 0);
	EXPECT(strstr(reply, " valid=1") != NULL);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "generation", &before), 0);
	command(&r, "touch 1234", reply, sizeof reply);
	snprintf(want, sizeof want, "ok touch page=1234 generation=%" PRIu64, before + 1);
	EXPECT_EQ_STR(reply, want);
	ferry_dirty_bitmap_clear_all(&bm);
	EXPECT_EQ_INT(ferry_dirty_tracker_harvest(t, &bm, err, sizeof err), 1);
	EXPECT(ferry_dirty_bitmap_test(&bm, 1234));
	command(&r, "peek 1234", reply, sizeof reply);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "generation", &after), 0);
	EXPECT_EQ_U64(after, before + 1);
	command(&r, "stats", reply, sizeof reply);
	EXPECT(strncmp(reply, "ok frozen=1 ", 12) == 0); /* frozen it was, frozen it stays */

	/* A page that fails its self-check is reported, not hidden. */
	uint8_t *ram = mmap(NULL, a.ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a.memfd, 0);
	EXPECT(ram != MAP_FAILED);
	if (ram != MAP_FAILED) {
		ram[1234 * FERRY_PAGE_BYTES + 100] ^= 0x40;
		command(&r, "peek 1234", reply, sizeof reply);
		snprintf(want, sizeof want, "ok peek page=1234 generation=%" PRIu64 " valid=0 reason=bad_checksum", after);
		EXPECT_EQ_STR(reply, want);
		ram[1234 * FERRY_PAGE_BYTES + 100] ^= 0x40;
		munmap(ram, a.ram_bytes);
	}

	command(&r, "touch 4096", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "error touch: page 4096 is outside 0..4095");
	command(&r, "peek 4096", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "error peek: page 4096 is outside 0..4095");
	command(&r, "touch abc", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "error touch: expected a page number 0..4095 in decimal, got \"abc\"");
	command(&r, "touch 0x10", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "error touch: expected a page number 0..4095 in decimal, got \"0x10\"");
	command(&r, "peek -1", reply, sizeof reply);
	EXPECT_EQ_STR(reply, "error peek: expected a page number 0..4095 in decimal, got \"-1\"");
	command(&r, "touch 99999999999999999999", reply, sizeof reply);
	EXPECT(strstr(reply, "error touch: expected a page number 0..4095 in decimal, got \"9999") == reply);

	/* Running before, running after. */
	command(&r, "thaw", reply, sizeof reply);
	command(&r, "touch 0", reply, sizeof reply);
	EXPECT(strncmp(reply, "ok touch page=0 generation=", 27) == 0);
	command(&r, "stats", reply, sizeof reply);
	EXPECT(strncmp(reply, "ok frozen=0 ", 12) == 0);
	verify_and_stop_tracked(&r, &a, &bm, t);
}
