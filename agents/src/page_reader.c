/* Reading guest pages by mapping or process_vm_readv; see page_reader.h. */
#include "page_reader.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "errbuf.h"

#define PAGE 4096u
/* iovecs per process_vm_readv call (the kernel's UIO_MAXIOV is 1024). */
#define IOV_BATCH 1024

struct ferry_page_reader {
	enum ferry_page_read_strategy strategy;
	uint64_t ram_bytes;
	uint64_t npages;
	const uint8_t *map; /* MAPPING */
	pid_t pid;          /* PROCESS_VM */
	uint64_t base;
	struct iovec local[IOV_BATCH], remote[IOV_BATCH];
};

const char *ferry_page_read_strategy_name(enum ferry_page_read_strategy s)
{
	switch (s) {
	case FERRY_PAGE_READ_MAPPING:
		return "mapping";
	case FERRY_PAGE_READ_PROCESS_VM:
		return "process_vm_readv";
	}
	return "unknown";
}

int ferry_page_reader_open(enum ferry_page_read_strategy strategy, int memfd, pid_t pid, uint64_t base,
			   uint64_t ram_bytes, struct ferry_page_reader **out, char *err, size_t errlen)
{
	*out = NULL;
	if (ram_bytes == 0 || ram_bytes % PAGE || (strategy != FERRY_PAGE_READ_MAPPING &&
						   strategy != FERRY_PAGE_READ_PROCESS_VM)) {
		ferry_errbuf_set(err, errlen, "page reader: bad strategy %d or RAM size %" PRIu64, (int)strategy, ram_bytes);
		return -EINVAL;
	}
	struct ferry_page_reader *r = calloc(1, sizeof *r);
	if (!r) {
		ferry_errbuf_set(err, errlen, "out of memory for the page reader");
		return -ENOMEM;
	}
	r->strategy = strategy;
	r->ram_bytes = ram_bytes;
	r->npages = ram_bytes / PAGE;
	r->pid = pid;
	r->base = base;
	if (strategy == FERRY_PAGE_READ_MAPPING) {
		void *m = mmap(NULL, ram_bytes, PROT_READ, MAP_SHARED, memfd, 0);
		if (m == MAP_FAILED) {
			int e = errno;
			ferry_errbuf_set(err, errlen, "mapping %" PRIu64 " bytes of guest RAM (fd %d): %s", ram_bytes, memfd,
					 strerror(e));
			free(r);
			return -e;
		}
		r->map = m;
	}
	*out = r;
	return 0;
}

static int read_mapping(struct ferry_page_reader *r, const uint64_t *pages, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n;) {
		size_t run = 1;
		while (i + run < n && pages[i + run] == pages[i] + run)
			run++;
		memcpy(out + i * PAGE, r->map + pages[i] * PAGE, run * PAGE);
		i += run;
	}
	return 0;
}

static int read_process_vm(struct ferry_page_reader *r, const uint64_t *pages, size_t n, uint8_t *out, char *err,
			   size_t errlen)
{
	size_t i = 0;
	while (i < n) {
		size_t k = 0, bytes = 0;
		while (i < n && k < IOV_BATCH) {
			size_t run = 1;
			while (i + run < n && pages[i + run] == pages[i] + run)
				run++;
			r->local[k] = (struct iovec){.iov_base = out + i * PAGE, .iov_len = run * PAGE};
			r->remote[k] = (struct iovec){.iov_base = (void *)(uintptr_t)(r->base + pages[i] * PAGE),
						      .iov_len = run * PAGE};
			bytes += run * PAGE;
			i += run;
			k++;
		}
		ssize_t got = process_vm_readv(r->pid, r->local, k, r->remote, k, 0);
		if (got < 0) {
			int e = errno;
			ferry_errbuf_set(err, errlen, "process_vm_readv of %zu bytes from pid %d: %s", bytes, (int)r->pid,
					 strerror(e));
			return -e;
		}
		if ((size_t)got != bytes) { /* a partial read means part of guest RAM is no longer mapped */
			ferry_errbuf_set(err, errlen, "process_vm_readv from pid %d read %zd of %zu bytes", (int)r->pid, got,
					 bytes);
			return -EFAULT;
		}
	}
	return 0;
}

int ferry_page_reader_read(struct ferry_page_reader *r, const uint64_t *pages, size_t n, void *out, char *err,
			   size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (pages[i] >= r->npages) {
			ferry_errbuf_set(err, errlen, "page %" PRIu64 " is past guest RAM (%" PRIu64 " pages)", pages[i],
					 r->npages);
			return -ERANGE;
		}
	if (r->strategy == FERRY_PAGE_READ_MAPPING)
		return read_mapping(r, pages, n, out);
	return read_process_vm(r, pages, n, out, err, errlen);
}

enum ferry_page_read_strategy ferry_page_reader_strategy(const struct ferry_page_reader *r)
{
	return r->strategy;
}

void ferry_page_reader_close(struct ferry_page_reader *r)
{
	if (!r)
		return;
	if (r->map)
		munmap((void *)r->map, r->ram_bytes);
	free(r);
}
