/*
 * The workload: the VM's stand-in process in tests, demos and benchmarks. It owns guest RAM (a
 * memfd, shared so an agent can map it or receive it) and runs "vCPU" threads that rewrite pages at
 * a configured rate and pattern. Every page always carries a valid self-check (page_check.h): a
 * vCPU rewrites a whole page (payload, generation + 1, checksum) between two checks of the freeze
 * flag, so a frozen workload never holds a half-written page.
 *
 * Pages are split between vCPUs by index (vCPU i owns pages p with p % vcpus == i), so no two
 * threads ever write the same page and each pattern stays seeded and reproducible per vCPU (a
 * `touch` writes a page for its owner only while every vCPU is frozen).
 *
 * Throttle (auto-converge, as QEMU's cpu-throttle): at N %, each vCPU runs a slice of
 * FERRY_WORKLOAD_THROTTLE_SLICE_NS, then sleeps N / (100 - N) slices, so N % of its time is taken
 * away; its rate schedule moves on by the time slept (no catch-up burst afterwards). A freeze cuts
 * a throttle sleep short (freeze wins), and thaw turns the throttle off.
 */
#ifndef FERRY_WORKLOAD_H
#define FERRY_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "page_check.h"

#define FERRY_WORKLOAD_MAX_VCPUS 64u
#define FERRY_WORKLOAD_THROTTLE_MAX 99u               /* percent; QEMU's CPU_THROTTLE_PCT_MAX */
#define FERRY_WORKLOAD_THROTTLE_SLICE_NS 10000000u    /* 10 ms, QEMU's CPU_THROTTLE_TIMESLICE_NS */

enum ferry_workload_pattern {
	FERRY_WORKLOAD_UNIFORM = 0, /* uniformly random over all RAM */
	FERRY_WORKLOAD_HOT = 1,     /* uniformly random over the first hot_bytes of RAM */
	FERRY_WORKLOAD_SWEEP = 2,   /* sequential passes over all RAM */
};

struct ferry_workload_config {
	uint64_t ram_bytes;          /* multiple of 4096, > 0 */
	unsigned vcpus;              /* 1 .. FERRY_WORKLOAD_MAX_VCPUS */
	uint64_t dirty_rate_pages;   /* page writes per second over all vCPUs; 0 = as fast as possible */
	enum ferry_workload_pattern pattern;
	uint64_t hot_bytes;          /* FERRY_WORKLOAD_HOT only; clamped to ram_bytes */
	uint64_t seed;
	int thp;                     /* madvise(MADV_HUGEPAGE) the RAM before touching it */
	int start_frozen;            /* vCPUs start parked, as if frozen */
};

struct ferry_workload;

/* Creates guest RAM (memfd, mapped shared, every page filled: resident and valid) and starts the
 * vCPUs. -errno with context in err. */
int ferry_workload_create(const struct ferry_workload_config *cfg, struct ferry_workload **out, char *err,
			  size_t errlen);

/* Incoming mode (a migration destination): guest RAM is `memfd` (taken over: closed on any
 * failure too), which must be a memfd of cfg->ram_bytes holding the source's memory. Nothing is
 * filled or touched, and the vCPUs start frozen whatever cfg says: load the source's vCPU state
 * (ferry_workload_set_vcpu_state), verify, then thaw. */
int ferry_workload_create_incoming(const struct ferry_workload_config *cfg, int memfd, struct ferry_workload **out,
				   char *err, size_t errlen);

/* Stops every vCPU between two page writes and returns once all of them acknowledged. Idempotent. */
void ferry_workload_freeze(struct ferry_workload *w);
/* Lets the vCPUs run again (their rate schedule restarts: no catch-up burst) and turns the
 * throttle off. Idempotent. */
void ferry_workload_thaw(struct ferry_workload *w);
int ferry_workload_frozen(const struct ferry_workload *w);

/* Takes `percent` of every vCPU's time away from now on (0 = off). -EINVAL with the reason in err
 * above FERRY_WORKLOAD_THROTTLE_MAX. */
int ferry_workload_set_throttle(struct ferry_workload *w, unsigned percent, char *err, size_t errlen);
unsigned ferry_workload_throttle(const struct ferry_workload *w);
/* How long a vCPU sleeps after each run slice at `percent` (0 for 0 or an invalid percent). */
uint64_t ferry_workload_throttle_sleep_ns(unsigned percent);

struct ferry_workload_stats {
	unsigned vcpus;
	int frozen;
	unsigned throttle_percent;
	uint64_t throttled_ns;   /* time all vCPUs spent in throttle sleeps, summed */
	uint64_t writes_total;
	uint64_t max_generation; /* highest page generation any vCPU has written (1 = only the fill) */
	uint64_t vcpu_writes[FERRY_WORKLOAD_MAX_VCPUS];
};
void ferry_workload_stats(struct ferry_workload *w, struct ferry_workload_stats *out);

/* Verifies every page's self-check, freezing the vCPUs for the duration if they run (they run on
 * after it, with their throttle). 0, or -EBADMSG with the first bad page and the reason. */
int ferry_workload_verify(struct ferry_workload *w, uint64_t *first_bad, enum ferry_page_fault *fault);

/* The guest writes page `index` once, as its owning vCPU (index % vcpus) would: generation + 1,
 * page refilled, counted in that vCPU's writes and max generation. The write goes through the
 * guest's own mapping, so a dirty tracker sees an ordinary vCPU write. The vCPUs are frozen for it
 * (the owner must not write the page at the same time) and left as found: running ones run on,
 * with their throttle. No un-started incoming state to refuse: ferry-workload serves its control
 * socket only once an incoming VM has started. 0 with the new generation, or -ERANGE with the page
 * and the valid range in err. */
int ferry_workload_touch_page(struct ferry_workload *w, uint64_t index, uint64_t *generation, char *err,
			      size_t errlen);
/* The guest begins writing page `index` and stops halfway, as its vCPU caught mid-write: the first
 * half of the next generation is in place and the page fails its self-check until
 * ferry_workload_touch_page writes it whole (that write counts; this one does not). Frozen vCPUs
 * and the guest's own mapping as for touch. 0, or -ERANGE as for touch. */
int ferry_workload_tear_page(struct ferry_workload *w, uint64_t index, char *err, size_t errlen);
/* Page `index`'s trailer generation and self-check verdict, without writing or freezing: a
 * diagnostic, torn if the owner writes the page meanwhile (freeze first for a reliable verdict).
 * 0, or -ERANGE as for touch. */
int ferry_workload_peek_page(const struct ferry_workload *w, uint64_t index, uint64_t *generation,
			     enum ferry_page_fault *fault, char *err, size_t errlen);

/* Where a vCPU is in its write pattern: what a destination needs to continue exactly where the
 * source stopped (page contents and generations travel in guest RAM itself). */
struct ferry_vcpu_state {
	uint64_t rng;            /* xorshift64 state */
	uint64_t cursor;         /* sweep position among the vCPU's own pages */
	uint64_t writes;         /* pages written so far */
	uint64_t max_generation; /* highest generation written (0: none yet) */
};

/* Copies every vCPU's state (frozen only: -EBUSY otherwise; -ENOSPC if cap < vcpus). Returns the
 * number of vCPUs. */
int ferry_workload_get_vcpu_state(struct ferry_workload *w, struct ferry_vcpu_state *out, unsigned cap);
/* Loads a state taken from a frozen source of the same configuration (frozen only). -EINVAL with
 * the reason when the count or a value does not fit this workload. */
int ferry_workload_set_vcpu_state(struct ferry_workload *w, const struct ferry_vcpu_state *in, unsigned n, char *err,
				  size_t errlen);

int ferry_workload_memfd(const struct ferry_workload *w);
void *ferry_workload_base(const struct ferry_workload *w);
uint64_t ferry_workload_ram_bytes(const struct ferry_workload *w);

/* Stops and joins the vCPUs, unmaps and closes guest RAM. NULL is fine. */
void ferry_workload_destroy(struct ferry_workload *w);

#endif
