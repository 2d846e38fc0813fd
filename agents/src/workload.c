/* Guest RAM and vCPU threads of the workload; see workload.h. */
#include "errbuf.h"
#include "workload.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fd_kind.h"
#include "page_check.h"

/* A vCPU sleeps only when it is this far ahead of its rate schedule, so high rates do not cost a
 * nanosleep per page; the schedule is cumulative, so the average rate stays exact. */
#define RATE_SLACK_NS 1000000u
/* Longest single sleep, so a sleeping vCPU notices a freeze quickly. */
#define MAX_SLEEP_NS 5000000u

struct vcpu {
	struct ferry_workload *w;
	unsigned id;
	pthread_t thread;
	int started;
	uint64_t rng;        /* xorshift64 state, seeded from (seed, id) */
	uint64_t cursor;     /* sweep position among this vCPU's own pages */
	uint64_t own_pages;  /* pages of the pattern's domain this vCPU owns */
	uint64_t writes;     /* atomic: pages written */
	uint64_t max_gen;    /* atomic: highest generation written */
	uint64_t throttled_ns; /* atomic: time spent in throttle sleeps */
};

struct ferry_workload {
	struct ferry_workload_config cfg;
	int memfd;
	uint8_t *base;
	uint64_t npages;
	uint64_t domain_pages; /* pages the pattern writes (all, or the hot set) */
	struct vcpu vcpus[FERRY_WORKLOAD_MAX_VCPUS];

	pthread_mutex_t lock;
	pthread_cond_t parked_cond; /* a vCPU parked */
	pthread_cond_t run_cond;    /* thaw or quit */
	int pause_requested;        /* atomic read by vCPUs between writes; written under lock */
	int quit;
	unsigned parked;
	int frozen;
	unsigned throttle; /* atomic: percent of vCPU time taken away, 0 = off */
};


static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

/* The page a vCPU writes next: its k-th own page is id + k * vcpus. */
static uint64_t next_page(struct vcpu *v)
{
	uint64_t k;
	if (v->w->cfg.pattern == FERRY_WORKLOAD_SWEEP) {
		k = v->cursor;
		v->cursor = v->cursor + 1 == v->own_pages ? 0 : v->cursor + 1;
	} else {
		k = xorshift64(&v->rng) % v->own_pages;
	}
	return v->id + k * v->w->cfg.vcpus;
}

/* Rewrites one of v's pages as generation + 1; returns that generation. */
static uint64_t write_page(struct vcpu *v, uint64_t index)
{
	uint8_t *page = v->w->base + index * FERRY_PAGE_BYTES;
	uint64_t gen = ferry_page_trailer_read(page).generation + 1;
	ferry_page_fill(page, index, gen, v->w->cfg.seed);
	__atomic_store_n(&v->writes, __atomic_load_n(&v->writes, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
	if (gen > __atomic_load_n(&v->max_gen, __ATOMIC_RELAXED))
		__atomic_store_n(&v->max_gen, gen, __ATOMIC_RELAXED);
	return gen;
}

/* Parks until thawed. Returns 1 if the workload is quitting. */
static int park(struct vcpu *v)
{
	struct ferry_workload *w = v->w;
	pthread_mutex_lock(&w->lock);
	w->parked++;
	pthread_cond_broadcast(&w->parked_cond);
	while (w->pause_requested && !w->quit)
		pthread_cond_wait(&w->run_cond, &w->lock);
	w->parked--;
	int quit = w->quit;
	pthread_mutex_unlock(&w->lock);
	return quit;
}

/* A vCPU that owns no page (more vCPUs than pages to write) stays parked until the end. */
static void idle(struct vcpu *v)
{
	struct ferry_workload *w = v->w;
	pthread_mutex_lock(&w->lock);
	w->parked++;
	pthread_cond_broadcast(&w->parked_cond);
	while (!w->quit)
		pthread_cond_wait(&w->run_cond, &w->lock);
	w->parked--;
	pthread_mutex_unlock(&w->lock);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t ferry_workload_throttle_sleep_ns(unsigned percent)
{
	if (percent == 0 || percent > FERRY_WORKLOAD_THROTTLE_MAX)
		return 0;
	/* Run one slice, sleep pct / (1 - pct) slices: pct of the vCPU's time is taken away. Integer
	 * arithmetic, so 50 % sleeps exactly one slice. */
	return (uint64_t)FERRY_WORKLOAD_THROTTLE_SLICE_NS * percent / (100u - percent);
}

/* The throttle's sleep after a run slice, cut short by a freeze (freeze wins) or a new throttle
 * value. Returns the time slept. */
static uint64_t throttle_sleep(struct vcpu *v, unsigned percent)
{
	struct ferry_workload *w = v->w;
	uint64_t start = now_ns(), end = start + ferry_workload_throttle_sleep_ns(percent), now = start;
	while (now < end && !__atomic_load_n(&w->pause_requested, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&w->throttle, __ATOMIC_RELAXED) == percent) {
		uint64_t d = end - now;
		sleep_ns(d < MAX_SLEEP_NS ? d : MAX_SLEEP_NS);
		now = now_ns();
	}
	__atomic_fetch_add(&v->throttled_ns, now - start, __ATOMIC_RELAXED);
	return now - start;
}

static void *vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	struct ferry_workload *w = v->w;
	/* Per-vCPU share of the rate, as nanoseconds between writes (0: no limit). */
	uint64_t interval_ns = 0;
	if (w->cfg.dirty_rate_pages)
		interval_ns = (uint64_t)(1e9 * w->cfg.vcpus / (double)w->cfg.dirty_rate_pages);
	uint64_t schedule_start = now_ns(), written = 0;
	uint64_t slice_start = 0; /* the current run slice under a throttle; 0 = none */
	if (v->own_pages == 0) {
		idle(v);
		return NULL;
	}
	for (;;) {
		if (__atomic_load_n(&w->pause_requested, __ATOMIC_ACQUIRE)) {
			if (park(v))
				return NULL;
			schedule_start = now_ns();
			written = 0;
			slice_start = 0;
			continue;
		}
		unsigned throttle = __atomic_load_n(&w->throttle, __ATOMIC_RELAXED);
		if (!throttle) {
			slice_start = 0;
		} else if (!slice_start) {
			slice_start = now_ns();
		} else if (now_ns() - slice_start >= FERRY_WORKLOAD_THROTTLE_SLICE_NS) {
			/* The rate schedule moves by the time slept: a throttled vCPU does not catch up. */
			schedule_start += throttle_sleep(v, throttle);
			slice_start = now_ns();
			continue; /* re-check the freeze flag after every sleep */
		}
		if (interval_ns) {
			uint64_t due = schedule_start + written * interval_ns, now = now_ns();
			if (due > now + RATE_SLACK_NS || (due > now && interval_ns > RATE_SLACK_NS)) {
				uint64_t d = due - now;
				sleep_ns(d < MAX_SLEEP_NS ? d : MAX_SLEEP_NS);
				continue; /* re-check the freeze flag after every sleep */
			}
		}
		write_page(v, next_page(v));
		written++;
	}
}

/* A memfd of `bytes` for guest RAM (source side: the workload creates its own). */
static int create_guest_memfd(uint64_t bytes, int *out, char *err, size_t errlen)
{
	int fd = memfd_create("ferry-guest-ram", MFD_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "memfd_create for %llu bytes of guest RAM: %s", (unsigned long long)bytes, strerror(e));
		return -e;
	}
	if (ftruncate(fd, (off_t)bytes) != 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "ftruncate guest RAM memfd to %llu bytes: %s", (unsigned long long)bytes, strerror(e));
		close(fd);
		return -e;
	}
	*out = fd;
	return 0;
}

/* Maps w->memfd. `fill`: touch and fill every page (a fresh VM); an incoming VM's memory already
 * holds what the source left and must not be touched. */
static int map_guest_ram(struct ferry_workload *w, int fill, char *err, size_t errlen)
{
	uint64_t bytes = w->cfg.ram_bytes;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, w->memfd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "mmap %llu bytes of guest RAM: %s", (unsigned long long)bytes, strerror(e));
		return -e;
	}
	w->base = p;
	/* Before the first touch, so the fill can allocate huge pages (if shmem THP is enabled). */
	if (w->cfg.thp && madvise(p, bytes, MADV_HUGEPAGE) != 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "madvise(MADV_HUGEPAGE) on guest RAM: %s", strerror(e));
		return -e;
	}
	/* Touch and fill every page: RAM is resident and valid before any vCPU runs. */
	for (uint64_t i = 0; fill && i < w->npages; i++)
		ferry_page_fill(w->base + i * FERRY_PAGE_BYTES, i, 1, w->cfg.seed);
	return 0;
}

static int check_config(const struct ferry_workload_config *cfg, char *err, size_t errlen)
{
	if (cfg->ram_bytes == 0 || cfg->ram_bytes % FERRY_PAGE_BYTES) {
		ferry_errbuf_set(err, errlen, "guest RAM size %llu is not a positive multiple of %u bytes",
			(unsigned long long)cfg->ram_bytes, FERRY_PAGE_BYTES);
		return -EINVAL;
	}
	if (cfg->vcpus == 0 || cfg->vcpus > FERRY_WORKLOAD_MAX_VCPUS) {
		ferry_errbuf_set(err, errlen, "vcpus %u is outside 1..%u", cfg->vcpus, FERRY_WORKLOAD_MAX_VCPUS);
		return -EINVAL;
	}
	if (cfg->pattern == FERRY_WORKLOAD_HOT && cfg->hot_bytes < FERRY_PAGE_BYTES) {
		ferry_errbuf_set(err, errlen, "hot set of %llu bytes holds no page", (unsigned long long)cfg->hot_bytes);
		return -EINVAL;
	}
	return 0;
}

/* Common to both ways of starting: guest RAM is w->memfd (owned by w from here on). */
static int start(struct ferry_workload *w, int fill, char *err, size_t errlen)
{
	const struct ferry_workload_config *cfg = &w->cfg;
	int rc = map_guest_ram(w, fill, err, errlen);
	if (rc)
		return rc;
	for (unsigned i = 0; i < cfg->vcpus; i++) {
		struct vcpu *v = &w->vcpus[i];
		v->w = w;
		v->id = i;
		v->rng = (cfg->seed ^ (UINT64_C(0x9E3779B97F4A7C15) * (i + 1))) | 1;
		v->own_pages = w->domain_pages > i ? (w->domain_pages - i + cfg->vcpus - 1) / cfg->vcpus : 0;
		int e = pthread_create(&v->thread, NULL, vcpu_main, v);
		if (e) {
			ferry_errbuf_set(err, errlen, "starting vCPU thread %u: %s", i, strerror(e));
			return -e;
		}
		v->started = 1;
	}
	if (cfg->start_frozen)
		ferry_workload_freeze(w); /* wait until every vCPU has parked */
	return 0;
}

static struct ferry_workload *alloc_workload(const struct ferry_workload_config *cfg)
{
	struct ferry_workload *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->cfg = *cfg;
	w->memfd = -1;
	w->npages = cfg->ram_bytes / FERRY_PAGE_BYTES;
	w->domain_pages = w->npages;
	if (cfg->pattern == FERRY_WORKLOAD_HOT && cfg->hot_bytes / FERRY_PAGE_BYTES < w->npages)
		w->domain_pages = cfg->hot_bytes / FERRY_PAGE_BYTES;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->parked_cond, NULL);
	pthread_cond_init(&w->run_cond, NULL);
	w->pause_requested = cfg->start_frozen;
	w->frozen = cfg->start_frozen;
	return w;
}

int ferry_workload_create(const struct ferry_workload_config *cfg, struct ferry_workload **out, char *err,
			  size_t errlen)
{
	*out = NULL;
	int rc = check_config(cfg, err, errlen);
	if (rc)
		return rc;
	struct ferry_workload *w = alloc_workload(cfg);
	if (!w) {
		ferry_errbuf_set(err, errlen, "out of memory for the workload");
		return -ENOMEM;
	}
	rc = create_guest_memfd(cfg->ram_bytes, &w->memfd, err, errlen);
	if (rc == 0)
		rc = start(w, 1, err, errlen);
	if (rc) {
		ferry_workload_destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

int ferry_workload_create_incoming(const struct ferry_workload_config *cfg, int memfd, struct ferry_workload **out,
				   char *err, size_t errlen)
{
	*out = NULL;
	int rc = ferry_fd_check_memfd_size(memfd, cfg->ram_bytes, "incoming guest RAM", err, errlen);
	if (rc) {
		close(memfd);
		return rc;
	}
	struct ferry_workload_config frozen = *cfg;
	frozen.start_frozen = 1; /* nothing may write before the state is imported and memory verified */
	rc = check_config(&frozen, err, errlen);
	if (rc) {
		close(memfd);
		return rc;
	}
	struct ferry_workload *w = alloc_workload(&frozen);
	if (!w) {
		close(memfd);
		ferry_errbuf_set(err, errlen, "out of memory for the workload");
		return -ENOMEM;
	}
	w->memfd = memfd;
	rc = start(w, 0, err, errlen);
	if (rc) {
		ferry_workload_destroy(w);
		return rc;
	}
	*out = w;
	return 0;
}

static unsigned started_vcpus(const struct ferry_workload *w)
{
	unsigned n = 0;
	for (unsigned i = 0; i < w->cfg.vcpus; i++)
		n += (unsigned)w->vcpus[i].started;
	return n;
}

void ferry_workload_freeze(struct ferry_workload *w)
{
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->pause_requested, 1, __ATOMIC_RELEASE);
	unsigned n = started_vcpus(w);
	while (w->parked < n)
		pthread_cond_wait(&w->parked_cond, &w->lock);
	w->frozen = 1;
	pthread_mutex_unlock(&w->lock);
}

/* Lets parked vCPUs run again; the throttle stays as it is. */
static void resume(struct ferry_workload *w)
{
	pthread_mutex_lock(&w->lock);
	__atomic_store_n(&w->pause_requested, 0, __ATOMIC_RELEASE);
	w->frozen = 0;
	pthread_cond_broadcast(&w->run_cond);
	pthread_mutex_unlock(&w->lock);
}

void ferry_workload_thaw(struct ferry_workload *w)
{
	__atomic_store_n(&w->throttle, 0, __ATOMIC_RELAXED);
	resume(w);
}

int ferry_workload_frozen(const struct ferry_workload *w)
{
	return __atomic_load_n(&w->frozen, __ATOMIC_ACQUIRE);
}

int ferry_workload_set_throttle(struct ferry_workload *w, unsigned percent, char *err, size_t errlen)
{
	if (percent > FERRY_WORKLOAD_THROTTLE_MAX) {
		ferry_errbuf_set(err, errlen, "throttle %u %% is outside 0..%u (a vCPU must keep some time to run)",
				 percent, FERRY_WORKLOAD_THROTTLE_MAX);
		return -EINVAL;
	}
	__atomic_store_n(&w->throttle, percent, __ATOMIC_RELAXED);
	return 0;
}

unsigned ferry_workload_throttle(const struct ferry_workload *w)
{
	return __atomic_load_n(&w->throttle, __ATOMIC_RELAXED);
}

void ferry_workload_stats(struct ferry_workload *w, struct ferry_workload_stats *out)
{
	memset(out, 0, sizeof *out);
	out->vcpus = w->cfg.vcpus;
	out->frozen = ferry_workload_frozen(w);
	out->throttle_percent = ferry_workload_throttle(w);
	out->max_generation = 1;
	for (unsigned i = 0; i < w->cfg.vcpus; i++) {
		uint64_t n = __atomic_load_n(&w->vcpus[i].writes, __ATOMIC_RELAXED);
		uint64_t g = __atomic_load_n(&w->vcpus[i].max_gen, __ATOMIC_RELAXED);
		out->vcpu_writes[i] = n;
		out->writes_total += n;
		out->throttled_ns += __atomic_load_n(&w->vcpus[i].throttled_ns, __ATOMIC_RELAXED);
		if (g > out->max_generation)
			out->max_generation = g;
	}
}

int ferry_workload_verify(struct ferry_workload *w, uint64_t *first_bad, enum ferry_page_fault *fault)
{
	int was_frozen = ferry_workload_frozen(w);
	if (!was_frozen)
		ferry_workload_freeze(w);
	int rc = ferry_memory_verify(w->base, 0, w->npages, first_bad, fault);
	if (!was_frozen)
		resume(w); /* not thaw: a throttle in force (auto-converge) stays in force */
	return rc;
}

/* -ERANGE with the page and the valid range in err when `index` is past guest RAM. */
static int check_page_index(const struct ferry_workload *w, uint64_t index, char *err, size_t errlen)
{
	if (index < w->npages)
		return 0;
	ferry_errbuf_set(err, errlen, "page %llu is outside 0..%llu", (unsigned long long)index,
			 (unsigned long long)(w->npages - 1));
	return -ERANGE;
}

int ferry_workload_touch_page(struct ferry_workload *w, uint64_t index, uint64_t *generation, char *err,
			      size_t errlen)
{
	int rc = check_page_index(w, index, err, errlen);
	if (rc)
		return rc;
	/* The owner may be rewriting this very page: two fills at once mix their bytes or bump the
	 * generation once for two writes, so every vCPU stops first. Resumed, not thawed: a throttle
	 * in force stays in force. */
	int was_frozen = ferry_workload_frozen(w);
	if (!was_frozen)
		ferry_workload_freeze(w);
	*generation = write_page(&w->vcpus[index % w->cfg.vcpus], index);
	if (!was_frozen)
		resume(w);
	return 0;
}

int ferry_workload_tear_page(struct ferry_workload *w, uint64_t index, char *err, size_t errlen)
{
	int rc = check_page_index(w, index, err, errlen);
	if (rc)
		return rc;
	uint8_t *page = w->base + index * FERRY_PAGE_BYTES;
	uint64_t next[FERRY_PAGE_BYTES / sizeof(uint64_t)];
	ferry_page_fill(next, index, ferry_page_trailer_read(page).generation + 1, w->cfg.seed);
	int was_frozen = ferry_workload_frozen(w);
	if (!was_frozen)
		ferry_workload_freeze(w);
	memcpy(page, next, FERRY_PAGE_BYTES / 2); /* the trailer, at the end, still says the old generation */
	if (!was_frozen)
		resume(w);
	return 0;
}

int ferry_workload_peek_page(const struct ferry_workload *w, uint64_t index, uint64_t *generation,
			     enum ferry_page_fault *fault, char *err, size_t errlen)
{
	int rc = check_page_index(w, index, err, errlen);
	if (rc)
		return rc;
	/* One copy, so the generation and the verdict describe the same bytes. While vCPUs run that
	 * copy can still be torn by the owner's write in progress (bad_checksum then means "caught
	 * mid-write", not corruption): freeze first for a verdict that counts. */
	uint64_t copy[FERRY_PAGE_BYTES / sizeof(uint64_t)];
	memcpy(copy, w->base + index * FERRY_PAGE_BYTES, sizeof copy);
	*generation = ferry_page_trailer_read(copy).generation;
	*fault = ferry_page_verify(copy, index);
	return 0;
}

int ferry_workload_get_vcpu_state(struct ferry_workload *w, struct ferry_vcpu_state *out, unsigned cap)
{
	if (!ferry_workload_frozen(w))
		return -EBUSY;
	if (cap < w->cfg.vcpus)
		return -ENOSPC;
	/* Frozen: every vCPU is parked under the lock's happens-before, so plain reads are exact. */
	for (unsigned i = 0; i < w->cfg.vcpus; i++) {
		const struct vcpu *v = &w->vcpus[i];
		out[i] = (struct ferry_vcpu_state){.rng = v->rng, .cursor = v->cursor,
						   .writes = __atomic_load_n(&v->writes, __ATOMIC_RELAXED),
						   .max_generation = __atomic_load_n(&v->max_gen, __ATOMIC_RELAXED)};
	}
	return (int)w->cfg.vcpus;
}

int ferry_workload_set_vcpu_state(struct ferry_workload *w, const struct ferry_vcpu_state *in, unsigned n, char *err,
				  size_t errlen)
{
	if (!ferry_workload_frozen(w)) {
		ferry_errbuf_set(err, errlen, "vCPU state can only be loaded while frozen");
		return -EBUSY;
	}
	if (n != w->cfg.vcpus) {
		ferry_errbuf_set(err, errlen, "vCPU state holds %u vCPUs, this workload runs %u", n, w->cfg.vcpus);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct vcpu *v = &w->vcpus[i];
		/* xorshift64 never leaves 0, and a sweep cursor past the vCPU's pages would write a page it
		 * does not own: both mean the state belongs to another configuration. */
		if (in[i].rng == 0 || (in[i].cursor && in[i].cursor >= v->own_pages)) {
			ferry_errbuf_set(err, errlen, "vCPU %u state (rng=%llx cursor=%llu) does not fit %llu pages", i,
					 (unsigned long long)in[i].rng, (unsigned long long)in[i].cursor,
					 (unsigned long long)v->own_pages);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct vcpu *v = &w->vcpus[i];
		v->rng = in[i].rng;
		v->cursor = in[i].cursor;
		__atomic_store_n(&v->writes, in[i].writes, __ATOMIC_RELAXED);
		__atomic_store_n(&v->max_gen, in[i].max_generation, __ATOMIC_RELAXED);
	}
	return 0;
}

int ferry_workload_memfd(const struct ferry_workload *w)
{
	return w->memfd;
}

void *ferry_workload_base(const struct ferry_workload *w)
{
	return w->base;
}

uint64_t ferry_workload_ram_bytes(const struct ferry_workload *w)
{
	return w->cfg.ram_bytes;
}

void ferry_workload_destroy(struct ferry_workload *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->quit = 1;
	__atomic_store_n(&w->pause_requested, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&w->run_cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->cfg.vcpus; i++)
		if (w->vcpus[i].started)
			pthread_join(w->vcpus[i].thread, NULL);
	if (w->base)
		munmap(w->base, w->cfg.ram_bytes);
	if (w->memfd >= 0)
		close(w->memfd);
	pthread_cond_destroy(&w->run_cond);
	pthread_cond_destroy(&w->parked_cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
