/*
 * Reading guest pages for the migration stream, on the source. Two ways behind one call:
 *
 *   FERRY_PAGE_READ_MAPPING     a MAP_SHARED mapping of the guest-RAM memfd in the agent, memcpy
 *   FERRY_PAGE_READ_PROCESS_VM  process_vm_readv from the workload's address space (pid + base)
 *
 * Both see the same shared pages. FERRY_PAGE_READ_DEFAULT is the mapping: faster in every case
 * measured by bench/bench_page_read.c (`make bench`; 1 GiB memfd, 2-core dev VM, Linux 6.18,
 * 2026-11-25, MiB/s, best of 3):
 *
 *   batch             mapping   process_vm_readv
 *   1 page              21028               3282    one syscall per page dominates
 *   16 contiguous       36123               9722
 *   256 contiguous      25472              11481    (1 MiB copies leave the L2 cache)
 *   256 random          11429               4380
 *
 * process_vm_readv stays for a VMM whose guest RAM the agent cannot map (no memfd handed over).
 *
 * Reads are of whole 4 KiB pages, in the order asked, into one contiguous buffer.
 */
#ifndef FERRY_PAGE_READER_H
#define FERRY_PAGE_READER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ferry_page_read_strategy {
	FERRY_PAGE_READ_MAPPING = 1,
	FERRY_PAGE_READ_PROCESS_VM = 2,
};

#define FERRY_PAGE_READ_DEFAULT FERRY_PAGE_READ_MAPPING

struct ferry_page_reader;

/* Opens a reader of guest RAM: `memfd` (not taken: the reader maps it, the caller may close it)
 * for FERRY_PAGE_READ_MAPPING; `pid` and `base` (guest RAM's address in the workload) for
 * FERRY_PAGE_READ_PROCESS_VM. ram_bytes is a multiple of 4096. -errno with the reason in err. */
int ferry_page_reader_open(enum ferry_page_read_strategy strategy, int memfd, pid_t pid, uint64_t base,
			   uint64_t ram_bytes, struct ferry_page_reader **out, char *err, size_t errlen);

/* Copies pages[0..n) (page indexes) into out (n * 4096 bytes). Contiguous runs are read as one
 * piece. 0, -ERANGE (an index past RAM, nothing read), or -errno (-ESRCH: the workload is gone)
 * with the reason in err. */
int ferry_page_reader_read(struct ferry_page_reader *r, const uint64_t *pages, size_t n, void *out, char *err,
			   size_t errlen);

enum ferry_page_read_strategy ferry_page_reader_strategy(const struct ferry_page_reader *r);
const char *ferry_page_read_strategy_name(enum ferry_page_read_strategy s);

/* NULL is fine. */
void ferry_page_reader_close(struct ferry_page_reader *r);

#endif
