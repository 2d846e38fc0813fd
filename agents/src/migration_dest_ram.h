/*
 * The destination's guest-RAM step: before a migration is accepted, whether its RAM fits this
 * host (admission), and before pre-copy starts, the RAM allocated (ram_alloc.h).
 *
 * Order at the destination: PrepareDestination checks the admission (a VM that cannot fit is
 * refused at once with ERROR_CODE_MEMORY, naming the numbers) and starts the incoming workload;
 * once it registered, its memfd is mapped and allocated on a thread of its own; only then does
 * each data channel get its STREAM_WELCOME (migration_dest.h). So pre-copy starts on ready
 * memory, as QEMU's preallocated destination does, and the source waits for the welcome up to
 * ferry_dest_ram_deadline_ms (the same deadline the destination gives itself for registration and
 * allocation). An allocation that finds the memory gone (-ENOSPC) fails with ERROR_CODE_MEMORY.
 */
#ifndef FERRY_MIGRATION_DEST_RAM_H
#define FERRY_MIGRATION_DEST_RAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ram_alloc.h"

#define FERRY_DEST_RAM_BASE_MS 10000u   /* workload start and registration */
#define FERRY_DEST_RAM_MS_PER_GIB 4000u /* allocation, at a slow host's ~0.25 GiB/s */

/* How long a destination has from PrepareDestination to ready RAM, and so how long the source
 * waits for STREAM_WELCOME: 10 s + 4 s per GiB (rounded up to whole ms). */
uint64_t ferry_dest_ram_deadline_ms(uint64_t ram_bytes);

/* What this host can give: MemAvailable and the tightest memory-cgroup headroom (limit - usage
 * over this process's cgroup and its ancestors: v2 memory.max - memory.current, v1
 * memory.limit_in_bytes - memory.usage_in_bytes; UINT64_MAX when unlimited). */
struct ferry_host_memory {
	uint64_t available;
	uint64_t cgroup_headroom;
};

/* Reads /proc/meminfo and the cgroup files under `cgroup_root` ("/sys/fs/cgroup"; v1's memory
 * controller under its "memory" folder); a value that cannot be read is UINT64_MAX (no limit known). */
void ferry_host_memory_read(struct ferry_host_memory *out, const char *cgroup_root);

/* Whether ram_bytes of guest RAM fit: 0, or -ENOSPC with the numbers in msg. */
int ferry_dest_ram_admit(uint64_t ram_bytes, const struct ferry_host_memory *mem, char *msg, size_t cap);

/* The allocation of one incoming VM's RAM on its own thread; `done` is called on that thread
 * with 0 or ferry_ram_alloc's -errno and the time it took. */
typedef void (*ferry_dest_ram_done_fn)(void *ctx, int rc, uint64_t ns);

struct ferry_dest_ram {
	struct ferry_ram_alloc_plan plan;
	int fd;
	uint8_t *map;
	uint64_t bytes;
	ferry_dest_ram_done_fn done;
	void *ctx;
	const char *migration_id; /* for the log and the test pause point */
	atomic_bool stop;
	pthread_t thread;
	bool started;
};

/* Starts allocating [0, bytes) of fd mapped at map. 0 or -errno (no thread: done is not called). */
int ferry_dest_ram_start(struct ferry_dest_ram *r, const struct ferry_ram_alloc_plan *plan, int fd, uint8_t *map,
			 uint64_t bytes, const char *migration_id, ferry_dest_ram_done_fn done, void *ctx);

/* Asks a running allocation to stop (it ends with -ECANCELED) and joins it. No-op if never started. */
void ferry_dest_ram_join(struct ferry_dest_ram *r);

#endif
