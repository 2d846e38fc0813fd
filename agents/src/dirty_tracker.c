/* uffd async write-protect + PAGEMAP_SCAN dirty tracking; see dirty_tracker.h. */
#include "errbuf.h"
#include "dirty_tracker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "uffd_compat.h"

/* Output regions per PAGEMAP_SCAN call. The kernel walks through a 512-entry bounce buffer
 * whatever this is; a bigger user vector only saves ioctls when the dirty set is fragmented
 * (1 % random dirty on 1 GiB is about 2 600 runs). 16 Ki entries = 384 KiB. */
#define SCAN_VEC_LEN 16384u

struct ferry_dirty_tracker {
	pid_t pid;
	int uffd;        /* our duplicate */
	int pagemap_fd;  /* /proc/PID/pagemap */
	uint64_t base;
	uint64_t length;
	uint64_t npages;
	uint64_t ioctls;
	struct page_region *vec;
};


/* 0 if `fd` is a userfaultfd, else -EBADF with what it is instead. */
static int check_is_userfaultfd(int fd, char *err, size_t errlen)
{
	char path[64], target[256];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n < 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "fd %d handed over as the userfaultfd is not open: %s", fd, strerror(e));
		return -EBADF;
	}
	target[n] = '\0';
	if (strcmp(target, "anon_inode:[userfaultfd]") != 0) {
		ferry_errbuf_set(err, errlen, "fd %d handed over as the userfaultfd is %s, not a userfaultfd", fd, target);
		return -EBADF;
	}
	return 0;
}

static int enable_async_wp(struct ferry_dirty_tracker *t, char *err, size_t errlen)
{
	/* WP_HUGETLBFS_SHMEM lets memfd (shmem) regions be registered for write-protect. */
	uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	struct uffdio_api api = {.api = UFFD_API, .features = want};
	if (ioctl(t->uffd, UFFDIO_API, &api) != 0) {
		int e = errno;
		if (e == EINVAL) {
			ferry_errbuf_set(err, errlen,
				"UFFDIO_API(features=0x%llx) refused (%s): dirty tracking needs " FERRY_DIRTY_REQUIREMENT
				" (or this userfaultfd was already initialised by someone else)",
				(unsigned long long)want, strerror(e));
			return -EOPNOTSUPP;
		}
		ferry_errbuf_set(err, errlen, "UFFDIO_API(features=0x%llx) on the userfaultfd of pid %d: %s",
			(unsigned long long)want, (int)t->pid, strerror(e));
		return -e;
	}
	/* A kernel that masks unknown features instead of refusing them must not pass silently. */
	if ((api.features & want) != want) {
		ferry_errbuf_set(err, errlen,
			"userfaultfd lacks features 0x%llx (kernel offers 0x%llx): dirty tracking needs " FERRY_DIRTY_REQUIREMENT,
			(unsigned long long)(want & ~api.features), (unsigned long long)api.features);
		return -EOPNOTSUPP;
	}
	struct uffdio_register reg = {.range = {.start = t->base, .len = t->length}, .mode = UFFDIO_REGISTER_MODE_WP};
	if (ioctl(t->uffd, UFFDIO_REGISTER, &reg) != 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen,
			"UFFDIO_REGISTER(MODE_WP) of [0x%llx, 0x%llx) in pid %d: %s%s", (unsigned long long)t->base,
			(unsigned long long)(t->base + t->length), (int)t->pid, strerror(e),
			e == EBUSY ? " (another userfaultfd already tracks this range)"
			: e == EINVAL || e == ENOMEM ? " (range not fully mapped in the userfaultfd's owner)" : "");
		return -e;
	}
	return 0;
}

static int open_pagemap(struct ferry_dirty_tracker *t, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)t->pid);
	t->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->pagemap_fd < 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "open %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

int ferry_dirty_tracker_open(pid_t pid, int uffd, uint64_t base_addr, uint64_t length,
			     struct ferry_dirty_tracker **out, char *err, size_t errlen)
{
	*out = NULL;
	if (length == 0 || base_addr % FERRY_DIRTY_PAGE_SIZE || length % FERRY_DIRTY_PAGE_SIZE ||
	    base_addr + length < base_addr) {
		ferry_errbuf_set(err, errlen, "bad tracking range [0x%llx, +0x%llx): must be non-empty and %u-byte aligned",
			(unsigned long long)base_addr, (unsigned long long)length, FERRY_DIRTY_PAGE_SIZE);
		return -EINVAL;
	}
	int rc = check_is_userfaultfd(uffd, err, errlen);
	if (rc)
		return rc;
	struct ferry_dirty_tracker *t = calloc(1, sizeof *t);
	if (!t) {
		ferry_errbuf_set(err, errlen, "out of memory for the dirty tracker");
		return -ENOMEM;
	}
	t->pid = pid;
	t->pagemap_fd = -1;
	t->base = base_addr;
	t->length = length;
	t->npages = length / FERRY_DIRTY_PAGE_SIZE;
	t->vec = calloc(SCAN_VEC_LEN, sizeof *t->vec);
	t->uffd = fcntl(uffd, F_DUPFD_CLOEXEC, 0);
	if (!t->vec || t->uffd < 0) {
		rc = t->vec ? -errno : -ENOMEM;
		ferry_errbuf_set(err, errlen, "dirty tracker setup (scan vector, dup of uffd %d): %s", uffd, strerror(-rc));
		goto fail;
	}
	rc = enable_async_wp(t, err, errlen);
	if (rc)
		goto fail;
	rc = open_pagemap(t, err, errlen);
	if (rc)
		goto fail;
	*out = t;
	return 0;
fail:
	ferry_dirty_tracker_close(t);
	return rc;
}

/* One collect-and-clear walk over the region. With `bm`, ORs the reported pages into it. */
static int64_t scan_region(struct ferry_dirty_tracker *t, struct ferry_dirty_bitmap *bm, char *err, size_t errlen)
{
	uint64_t start = t->base, end = t->base + t->length, pages = 0;
	while (start < end) {
		/* category_mask = return_mask = PAGE_IS_WRITTEN exactly: any other return bit leaves the
		 * kernel's fast path (10-100x slower, measured). */
		struct pm_scan_arg a = {
			.size = sizeof a,
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = start,
			.end = end,
			.vec = (uint64_t)(uintptr_t)t->vec,
			.vec_len = SCAN_VEC_LEN,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long n = ioctl(t->pagemap_fd, PAGEMAP_SCAN, &a);
		t->ioctls++;
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			if (e == ENOTTY) {
				ferry_errbuf_set(err, errlen, "PAGEMAP_SCAN on /proc/%d/pagemap is not supported: dirty tracking needs "
					FERRY_DIRTY_REQUIREMENT, (int)t->pid);
				return -EOPNOTSUPP;
			}
			ferry_errbuf_set(err, errlen, "PAGEMAP_SCAN of [0x%llx, 0x%llx) in pid %d: %s%s", (unsigned long long)start,
				(unsigned long long)end, (int)t->pid, strerror(e),
				e == EPERM ? " (range not registered for async write-protect: was the userfaultfd "
					     "created by that process?)"
				: e == ESRCH ? " (the process is gone)" : "");
			return -e;
		}
		for (long i = 0; i < n; i++) {
			const struct page_region *r = &t->vec[i];
			if (r->start < t->base || r->end > end || r->end <= r->start ||
			    (r->start - t->base) % FERRY_DIRTY_PAGE_SIZE || (r->end - r->start) % FERRY_DIRTY_PAGE_SIZE) {
				ferry_errbuf_set(err, errlen, "PAGEMAP_SCAN of pid %d returned region [0x%llx, 0x%llx) outside [0x%llx, 0x%llx)",
					(int)t->pid, (unsigned long long)r->start, (unsigned long long)r->end,
					(unsigned long long)t->base, (unsigned long long)end);
				return -EIO;
			}
			uint64_t first = (r->start - t->base) / FERRY_DIRTY_PAGE_SIZE;
			uint64_t count = (r->end - r->start) / FERRY_DIRTY_PAGE_SIZE;
			if (bm)
				ferry_dirty_bitmap_set_range(bm, first, count);
			pages += count;
		}
		/* With more runs than the kernel's bounce buffer holds, walk_end can come back at an
		 * earlier 2 MiB boundary than the last region reported (p2b_walk_end_quirk.c). Continuing
		 * from it is harmless here: the tail is already re-protected, nothing is reported twice. */
		if (a.walk_end <= start || a.walk_end > end) {
			ferry_errbuf_set(err, errlen, "PAGEMAP_SCAN of [0x%llx, 0x%llx) in pid %d made no progress (walk_end 0x%llx)",
				(unsigned long long)start, (unsigned long long)end, (int)t->pid,
				(unsigned long long)a.walk_end);
			return -EIO;
		}
		start = a.walk_end;
	}
	return (int64_t)pages;
}

int ferry_dirty_tracker_start(struct ferry_dirty_tracker *t, char *err, size_t errlen)
{
	int64_t rc = scan_region(t, NULL, err, errlen);
	return rc < 0 ? (int)rc : 0;
}

int64_t ferry_dirty_tracker_harvest(struct ferry_dirty_tracker *t, struct ferry_dirty_bitmap *bm, char *err, size_t errlen)
{
	if (!bm || bm->npages != t->npages) {
		ferry_errbuf_set(err, errlen, "harvest bitmap has %llu pages, the region %llu",
			(unsigned long long)(bm ? bm->npages : 0), (unsigned long long)t->npages);
		return -EINVAL;
	}
	return scan_region(t, bm, err, errlen);
}

uint64_t ferry_dirty_tracker_npages(const struct ferry_dirty_tracker *t)
{
	return t->npages;
}

uint64_t ferry_dirty_tracker_ioctls(const struct ferry_dirty_tracker *t)
{
	return t->ioctls;
}

void ferry_dirty_tracker_close(struct ferry_dirty_tracker *t)
{
	if (!t)
		return;
	if (t->pagemap_fd >= 0)
		close(t->pagemap_fd);
	if (t->uffd >= 0)
		close(t->uffd);
	free(t->vec);
	free(t);
}
