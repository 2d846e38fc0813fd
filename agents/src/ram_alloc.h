/*
 * Allocating an incoming VM's guest RAM (a memfd and the agent's shared mapping of it) before the
 * pages arrive, as QEMU's `prealloc=on` does at the destination: pre-copy then writes into memory
 * that is already allocated, cleared and mapped, instead of paying for the kernel's page clearing
 * and a page-table fill inside every received batch (docs/benchmarks.md, throughput).
 *
 * Modes (FERRY_DEST_ALLOC, default populate):
 *   populate   madvise(MADV_POPULATE_WRITE) over the mapping: allocates, clears and maps every
 *              page, in FERRY_RAM_ALLOC_CHUNK steps, split over FERRY_DEST_ALLOC_THREADS threads
 *              (default FERRY_RAM_ALLOC_DEFAULT_THREADS);
 *   fallocate  fallocate() on the memfd: allocates and clears the pages, maps nothing;
 *   both       fallocate, then populate (the populate only maps);
 *   off        nothing: pages are allocated as they arrive.
 */
#ifndef FERRY_RAM_ALLOC_H
#define FERRY_RAM_ALLOC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FERRY_RAM_ALLOC_CHUNK (64u << 20) /* populate step: a stop request is seen between steps */
#define FERRY_RAM_ALLOC_MAX_THREADS 16u
/* Two: on a VM host most of the cost is the hypervisor faulting in memory the guest kernel had
 * handed back (virtio-balloon free page reporting), which runs per vCPU; at 4 GiB one thread took
 * 8.4-11.9 s, two 3.8-4.4 s (docs/benchmarks.md). */
#define FERRY_RAM_ALLOC_DEFAULT_THREADS 2u

enum ferry_ram_alloc_mode {
	FERRY_RAM_ALLOC_OFF,
	FERRY_RAM_ALLOC_POPULATE,
	FERRY_RAM_ALLOC_FALLOCATE,
	FERRY_RAM_ALLOC_BOTH,
};

struct ferry_ram_alloc_plan {
	enum ferry_ram_alloc_mode mode;
	unsigned threads; /* populate threads, 1..FERRY_RAM_ALLOC_MAX_THREADS */
};

/* "populate", "fallocate", "both", "off"; NULL or "" is the default (populate). 0 or -EINVAL. */
int ferry_ram_alloc_mode_parse(const char *s, enum ferry_ram_alloc_mode *out);
const char *ferry_ram_alloc_mode_name(enum ferry_ram_alloc_mode mode);

/* The plan from FERRY_DEST_ALLOC and FERRY_DEST_ALLOC_THREADS (unset: populate, 2 threads). 0, or
 * -EINVAL with the bad value named in err. */
int ferry_ram_alloc_plan_from_env(struct ferry_ram_alloc_plan *out, char *err, size_t errlen);

/* Allocates [0, len) of memfd `fd`, mapped shared at `map` (page-aligned len), by plan. `stop`
 * (may be NULL) is polled between steps. 0; -ENOSPC when the memory is not there (fallocate's
 * ENOSPC, or a populate that could not allocate: ENOMEM, or EFAULT for a shmem page past its
 * filesystem's limit); -ECANCELED when stopped; another -errno otherwise. */
int ferry_ram_alloc(int fd, uint8_t *map, uint64_t len, const struct ferry_ram_alloc_plan *plan,
		    const atomic_bool *stop);

#endif
