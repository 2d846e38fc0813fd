/*
 * Dirty-page tracking of one region of another process's memory (the workload's guest RAM):
 * userfaultfd asynchronous write-protect plus the PAGEMAP_SCAN ioctl on /proc/PID/pagemap
 * (Linux >= 6.7; measurements and caveats in /work/shared/reference/dirty-tracking.md).
 *
 * The workload creates the userfaultfd (it is bound to the creator's mm) and hands it over by
 * SCM_RIGHTS; the tracker never reads it: with UFFD_FEATURE_WP_ASYNC the kernel resolves a write
 * to a protected page by itself and only marks the page written. Each harvest is one collect-and-
 * clear PAGEMAP_SCAN walk over the region: it returns the written pages and protects them again
 * atomically, so a write is reported by exactly the harvest that follows it (or the next one if it
 * lands while that harvest walks past its page) and never lost.
 *
 *   ferry_dirty_tracker_open(pid, uffd, base, len, &t, err, sizeof err);
 *   ferry_dirty_tracker_start(t, ...);       // round 0: protect everything (all pages get sent)
 *   loop: ferry_dirty_tracker_harvest(t, &bm, ...);  // pages written since the last harvest
 *   ferry_dirty_tracker_close(t);            // the workload runs on, untracked
 *
 * Errors are negative errnos with a message in `err` naming the step, the range and the reason.
 * Device DMA is invisible to this tracker: OR the device DMA log into the same bitmap.
 */
#ifndef FERRY_DIRTY_TRACKER_H
#define FERRY_DIRTY_TRACKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dirty_bitmap.h"

#define FERRY_DIRTY_PAGE_SIZE 4096u

/* What a kernel without the mechanism is told it lacks. */
#define FERRY_DIRTY_REQUIREMENT "Linux >= 6.7 with UFFD_FEATURE_WP_ASYNC and PAGEMAP_SCAN"

struct ferry_dirty_tracker;

/* Enables async write-protect on `uffd` (which must be a fresh userfaultfd created by process
 * `pid`; the tracker keeps its own duplicate, the caller still owns `uffd`), registers
 * [base_addr, base_addr + length) of `pid` for write-protect and opens /proc/PID/pagemap.
 * base_addr and length must be multiples of FERRY_DIRTY_PAGE_SIZE.
 * -EBADF: uffd is not a userfaultfd; -EOPNOTSUPP: the kernel lacks the requirement;
 * -EINVAL: bad range; other -errno from the kernel, with context in err. */
int ferry_dirty_tracker_open(pid_t pid, int uffd, uint64_t base_addr, uint64_t length,
			     struct ferry_dirty_tracker **out, char *err, size_t errlen);

/* Write-protects the whole region (populated pages and holes), discarding what it reports: round 0
 * sends every page anyway. From here on each harvest returns the pages written since the previous
 * one. -EPERM: the region is not registered for async write-protect in `pid` (wrong uffd owner). */
int ferry_dirty_tracker_start(struct ferry_dirty_tracker *t, char *err, size_t errlen);

/* Collects the pages written since the last harvest (or start), re-protects them, and ORs them into
 * `bm` (npages must equal the region's page count). Returns the number of pages the kernel reported
 * (>= 0), or -errno. */
int64_t ferry_dirty_tracker_harvest(struct ferry_dirty_tracker *t, struct ferry_dirty_bitmap *bm,
				    char *err, size_t errlen);

/* Region size in pages. */
uint64_t ferry_dirty_tracker_npages(const struct ferry_dirty_tracker *t);

/* Number of PAGEMAP_SCAN ioctls issued so far (for benchmarks and logs). */
uint64_t ferry_dirty_tracker_ioctls(const struct ferry_dirty_tracker *t);

/* Closes the pagemap and the tracker's uffd duplicate. The kernel drops the write-protect
 * registration once the last reference to the userfaultfd is gone (so the caller should close its
 * own `uffd` after a successful open). NULL is fine. */
void ferry_dirty_tracker_close(struct ferry_dirty_tracker *t);

#endif
