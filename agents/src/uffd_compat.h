/*
 * userfaultfd and PAGEMAP_SCAN uAPI that the distribution's headers (linux-libc-dev 6.1) predate.
 * Values are those of the upstream uAPI (include/uapi/linux/userfaultfd.h, include/uapi/linux/fs.h);
 * each is guarded so newer headers win. Whether the running kernel supports them is decided at run
 * time: dirty_tracker.c turns a refusal into an error naming the requirement (Linux >= 6.7).
 */
#ifndef FERRY_UFFD_COMPAT_H
#define FERRY_UFFD_COMPAT_H

#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#ifndef __NR_userfaultfd
#if defined(__x86_64__)
#define __NR_userfaultfd 323
#elif defined(__aarch64__)
#define __NR_userfaultfd 282
#endif
#endif

/* userfaultfd(2) flag: only faults from user mode are handled (what an unprivileged process may ask
 * for when vm.unprivileged_userfaultfd is 0). Harmless for async write-protect (kernel-mode writes
 * are still tracked there; measured in reference/dirty-tracking.md). */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12) /* 5.19: WP on shmem/memfd and hugetlbfs */
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) /* 6.4: holes get protected too */
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15) /* 6.7: faults resolved in the kernel, no reader */
#endif

#ifndef PAGEMAP_SCAN
/* One run of pages with the same categories, [start, end) in the target's address space. */
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

/* Argument of the PAGEMAP_SCAN ioctl on /proc/PID/pagemap (6.7). */
struct pm_scan_arg {
	uint64_t size;       /* sizeof(struct pm_scan_arg) */
	uint64_t flags;      /* PM_SCAN_* */
	uint64_t start;      /* range to walk, page aligned */
	uint64_t end;
	uint64_t walk_end;   /* out: where the walk stopped; continue from here */
	uint64_t vec;        /* out: struct page_region array (in the caller's address space) */
	uint64_t vec_len;
	uint64_t max_pages;  /* 0: no limit */
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)

#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

#define PM_SCAN_WP_MATCHING (1 << 0)   /* write-protect the pages it reports (collect and clear) */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* fail (EPERM) unless the range is async-WP registered */
#endif

#endif
