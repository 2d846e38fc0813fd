/* Mapping a span of guest RAM ahead of a bulk copy: one madvise(MADV_POPULATE_READ/WRITE) instead
 * of a page fault per 4 KiB page (or per 16 with fault-around). On a nested VM with shadow paging
 * each fault costs microseconds, which dominated the data path (docs/benchmarks.md). */
#ifndef FERRY_RAM_POPULATE_H
#define FERRY_RAM_POPULATE_H

#include <stdbool.h>
#include <stddef.h>

/* Runs shorter than this many pages are left to ordinary faults: a syscall per page costs more. */
#define FERRY_RAM_POPULATE_MIN_PAGES 16u

/* Maps [addr, addr + len) (page-aligned) for reading, or allocates and maps it for writing.
 * An optimisation only: 0, or -errno (e.g. -EINVAL before Linux 5.14), and the caller carries on
 * with ordinary faults. */
int ferry_ram_populate(const void *addr, size_t len, bool write);

#endif
