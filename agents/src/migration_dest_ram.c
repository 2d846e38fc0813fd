/* The destination's guest-RAM step; see migration_dest_ram.h. */
#include "migration_dest_ram.h"

#include "inventory.h"
#include "log.h"
#include "test_hooks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GIB (1ull << 30)

uint64_t ferry_dest_ram_deadline_ms(uint64_t ram_bytes)
{
	uint64_t gib = ram_bytes / GIB, rest = ram_bytes % GIB;
	return FERRY_DEST_RAM_BASE_MS + gib * FERRY_DEST_RAM_MS_PER_GIB +
	       (rest * FERRY_DEST_RAM_MS_PER_GIB + GIB - 1) / GIB;
}

/* MemAvailable as the inventory reads it; UINT64_MAX (no limit known) when unreadable. */
static uint64_t meminfo_available(void)
{
	struct ferry_host_facts facts;
	return ferry_host_facts_read(&facts) == 0 ? facts.free_memory_bytes : UINT64_MAX;
}

/* A cgroup value file ("max" or a number); UINT64_MAX when "max", unreadable, or v1's
 * "unlimited" (a number near 2^63). */
static uint64_t cgroup_value(const char *dir, const char *file)
{
	char path[4096], buf[64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	uint64_t v = UINT64_MAX;
	if (f && fgets(buf, sizeof buf, f) && strncmp(buf, "max", 3) != 0)
		v = strtoull(buf, NULL, 10);
	if (f)
		fclose(f);
	return v >= (1ull << 62) ? UINT64_MAX : v;
}

/* This process's cgroup path for `controller` in /proc/self/cgroup ("" = the v2 line "0::PATH",
 * else the v1 line "N:CONTROLLER:PATH"); false if there is none. */
static bool own_cgroup(const char *controller, char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[4096];
	bool found = false;
	while (!found && f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c = strchr(line, ':'), *path = c ? strchr(c + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		if (strcmp(c + 1, controller) == 0 && strlen(path) < cap) {
			memcpy(out, path, strlen(path) + 1);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* The tightest headroom (limit - usage) over a cgroup and its ancestors below `base`. */
static uint64_t headroom(const char *base, char *rel, const char *limit_file, const char *usage_file)
{
	char dir[4096];
	uint64_t best = UINT64_MAX;
	for (;;) {
		snprintf(dir, sizeof dir, "%s%s", base, rel);
		uint64_t max = cgroup_value(dir, limit_file), cur = cgroup_value(dir, usage_file);
		if (max != UINT64_MAX) {
			uint64_t room = cur == UINT64_MAX ? max : (cur < max ? max - cur : 0);
			if (room < best)
				best = room;
		}
		char *slash = strrchr(rel, '/');
		if (!slash || rel[0] == '\0')
			break;
		*slash = '\0';
	}
	return best;
}

void ferry_host_memory_read(struct ferry_host_memory *out, const char *cgroup_root)
{
	out->available = meminfo_available();
	out->cgroup_headroom = UINT64_MAX;
	char rel[2048], base[4096];
	if (own_cgroup("", rel, sizeof rel)) /* v2 */
		out->cgroup_headroom = headroom(cgroup_root, rel, "memory.max", "memory.current");
	if (own_cgroup("memory", rel, sizeof rel)) { /* v1 memory controller */
		snprintf(base, sizeof base, "%s/memory", cgroup_root);
		uint64_t v1 = headroom(base, rel, "memory.limit_in_bytes", "memory.usage_in_bytes");
		if (v1 < out->cgroup_headroom)
			out->cgroup_headroom = v1;
	}
}

int ferry_dest_ram_admit(uint64_t ram_bytes, const struct ferry_host_memory *mem, char *msg, size_t cap)
{
	if (mem->available != UINT64_MAX && ram_bytes > mem->available) {
		snprintf(msg, cap, "guest RAM of %" PRIu64 " MiB does not fit this host: MemAvailable is %" PRIu64 " MiB",
			 ram_bytes >> 20, mem->available >> 20);
		return -ENOSPC;
	}
	if (mem->cgroup_headroom != UINT64_MAX && ram_bytes > mem->cgroup_headroom) {
		snprintf(msg, cap,
			 "guest RAM of %" PRIu64 " MiB does not fit the agent's memory cgroup: %" PRIu64
			 " MiB left under memory.max",
			 ram_bytes >> 20, mem->cgroup_headroom >> 20);
		return -ENOSPC;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *alloc_main(void *arg)
{
	struct ferry_dest_ram *r = arg;
	uint64_t t0 = mono_ns();
	int rc = ferry_ram_alloc(r->fd, r->map, r->bytes, &r->plan, &r->stop);
	uint64_t ns = mono_ns() - t0;
	ferry_log(rc ? FERRY_LOG_WARNING : FERRY_LOG_INFO,
		  "msg=\"incoming guest RAM allocated\" migration_id=%s mode=%s threads=%u bytes=%" PRIu64
		  " alloc_ms=%.1f result=\"%s\"",
		  r->migration_id, ferry_ram_alloc_mode_name(r->plan.mode), r->plan.threads, r->bytes, ns / 1e6,
		  rc ? strerror(-rc) : "ok");
	ferry_test_pause_point("dest_ram_allocated", r->migration_id);
	r->done(r->ctx, rc, ns);
	return NULL;
}

int ferry_dest_ram_start(struct ferry_dest_ram *r, const struct ferry_ram_alloc_plan *plan, int fd, uint8_t *map,
			 uint64_t bytes, const char *migration_id, ferry_dest_ram_done_fn done, void *ctx)
{
	r->plan = *plan;
	r->fd = fd;
	r->map = map;
	r->bytes = bytes;
	r->done = done;
	r->ctx = ctx;
	r->migration_id = migration_id;
	atomic_store(&r->stop, false);
	int rc = pthread_create(&r->thread, NULL, alloc_main, r);
	r->started = rc == 0;
	return -rc;
}

void ferry_dest_ram_join(struct ferry_dest_ram *r)
{
	if (!r->started)
		return;
	atomic_store(&r->stop, true);
	pthread_join(r->thread, NULL);
	r->started = false;
}
