/* See ram_alloc.h. */
#include "ram_alloc.h"

#include "errbuf.h"
#include "ram_populate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static const char *const mode_names[] = {
	[FERRY_RAM_ALLOC_OFF] = "off",
	[FERRY_RAM_ALLOC_POPULATE] = "populate",
	[FERRY_RAM_ALLOC_FALLOCATE] = "fallocate",
	[FERRY_RAM_ALLOC_BOTH] = "both",
};

int ferry_ram_alloc_mode_parse(const char *s, enum ferry_ram_alloc_mode *out)
{
	if (!s || !*s) {
		*out = FERRY_RAM_ALLOC_POPULATE;
		return 0;
	}
	for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum ferry_ram_alloc_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *ferry_ram_alloc_mode_name(enum ferry_ram_alloc_mode mode)
{
	return (unsigned)mode < sizeof mode_names / sizeof mode_names[0] ? mode_names[mode] : "?";
}

int ferry_ram_alloc_plan_from_env(struct ferry_ram_alloc_plan *out, char *err, size_t errlen)
{
	const char *mode = getenv("FERRY_DEST_ALLOC"), *threads = getenv("FERRY_DEST_ALLOC_THREADS");
	*out = (struct ferry_ram_alloc_plan){FERRY_RAM_ALLOC_POPULATE, FERRY_RAM_ALLOC_DEFAULT_THREADS};
	if (ferry_ram_alloc_mode_parse(mode, &out->mode)) {
		ferry_errbuf_set(err, errlen, "FERRY_DEST_ALLOC=%.40s is not populate, fallocate, both or off", mode);
		return -EINVAL;
	}
	if (threads && *threads) {
		char *end;
		unsigned long n = strtoul(threads, &end, 10);
		if (*end || n < 1 || n > FERRY_RAM_ALLOC_MAX_THREADS) {
			ferry_errbuf_set(err, errlen, "FERRY_DEST_ALLOC_THREADS=%.40s is not in 1..%u", threads,
					 FERRY_RAM_ALLOC_MAX_THREADS);
			return -EINVAL;
		}
		out->threads = (unsigned)n;
	}
	return 0;
}

/* What a failed allocation means to the caller: the memory is not there, or something else. */
static int as_alloc_error(int e)
{
	return e == ENOSPC || e == ENOMEM || e == EFAULT ? -ENOSPC : -e;
}

struct populate_slice {
	uint8_t *from;
	uint64_t len;
	const atomic_bool *stop;
	int rc;
};

static void *populate_slice(void *arg)
{
	struct populate_slice *s = arg;
	s->rc = 0;
	for (uint64_t off = 0; off < s->len && !s->rc;) {
		if (s->stop && atomic_load(s->stop)) {
			s->rc = -ECANCELED;
			break;
		}
		size_t n = s->len - off < FERRY_RAM_ALLOC_CHUNK ? (size_t)(s->len - off) : FERRY_RAM_ALLOC_CHUNK;
		int rc = ferry_ram_populate(s->from + off, n, true);
		if (rc == 0)
			off += n;
		else
			s->rc = as_alloc_error(-rc);
	}
	return NULL;
}

/* Populates [map, map + len) in `threads` page-aligned slices, the first on this thread. */
static int populate(uint8_t *map, uint64_t len, unsigned threads, const atomic_bool *stop)
{
	struct populate_slice slices[FERRY_RAM_ALLOC_MAX_THREADS];
	pthread_t tids[FERRY_RAM_ALLOC_MAX_THREADS];
	bool started[FERRY_RAM_ALLOC_MAX_THREADS] = {false};
	uint64_t pages = len / 4096, per = (pages + threads - 1) / threads;
	unsigned n = 0;
	for (uint64_t first = 0; first < pages && n < threads; first += per, n++) {
		uint64_t count = pages - first < per ? pages - first : per;
		slices[n] = (struct populate_slice){map + first * 4096, count * 4096, stop, 0};
	}
	for (unsigned i = 1; i < n; i++)
		started[i] = pthread_create(&tids[i], NULL, populate_slice, &slices[i]) == 0;
	if (n)
		populate_slice(&slices[0]);
	int rc = 0;
	for (unsigned i = 1; i < n; i++) {
		if (started[i])
			pthread_join(tids[i], NULL);
		else
			populate_slice(&slices[i]); /* no thread: do its share here */
	}
	for (unsigned i = 0; i < n && !rc; i++)
		rc = slices[i].rc;
	return rc;
}

int ferry_ram_alloc(int fd, uint8_t *map, uint64_t len, const struct ferry_ram_alloc_plan *plan,
		    const atomic_bool *stop)
{
	if (!len || plan->mode == FERRY_RAM_ALLOC_OFF)
		return 0;
	if (plan->mode == FERRY_RAM_ALLOC_FALLOCATE || plan->mode == FERRY_RAM_ALLOC_BOTH) {
		int rc;
		while ((rc = fallocate(fd, 0, 0, (off_t)len)) != 0 && errno == EINTR)
			;
		if (rc)
			return as_alloc_error(errno);
	}
	if (plan->mode == FERRY_RAM_ALLOC_POPULATE || plan->mode == FERRY_RAM_ALLOC_BOTH) {
		unsigned threads = plan->threads < 1 ? 1 : plan->threads;
		return populate(map, len, threads > FERRY_RAM_ALLOC_MAX_THREADS ? FERRY_RAM_ALLOC_MAX_THREADS : threads,
				stop);
	}
	return 0;
}
