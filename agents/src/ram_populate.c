/* See ram_populate.h. */
#include "ram_populate.h"

#include <errno.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int ferry_ram_populate(const void *addr, size_t len, bool write)
{
	if (!len)
		return 0;
	for (;;) {
		if (madvise((void *)addr, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}
