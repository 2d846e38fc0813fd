/* ram_alloc: the mode names and the environment's plan, each mode's effect on a memfd (st_blocks:
 * the pages are allocated; mincore: they are in memory and up to date; /proc/self/pagemap: they
 * are mapped in this process), threads splitting the
 * range, a stop request, and a filesystem that runs out of space (a 1 MiB tmpfs in a private
 * mount namespace) giving -ENOSPC. */
#include "ram_alloc.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096u

FERRY_TEST(ram_alloc_mode_names_round_trip)
{
	enum ferry_ram_alloc_mode m;
	const enum ferry_ram_alloc_mode all[] = {FERRY_RAM_ALLOC_OFF, FERRY_RAM_ALLOC_POPULATE, FERRY_RAM_ALLOC_FALLOCATE,
						 FERRY_RAM_ALLOC_BOTH};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		EXPECT_EQ_INT(ferry_ram_alloc_mode_parse(ferry_ram_alloc_mode_name(all[i]), &m), 0);
		EXPECT_EQ_INT(m, all[i]);
	}
	EXPECT_EQ_INT(ferry_ram_alloc_mode_parse(NULL, &m), 0);
	EXPECT_EQ_INT(m, FERRY_RAM_ALLOC_POPULATE);
	EXPECT_EQ_INT(ferry_ram_alloc_mode_parse("", &m), 0);
	EXPECT_EQ_INT(m, FERRY_RAM_ALLOC_POPULATE);
	EXPECT_EQ_INT(ferry_ram_alloc_mode_parse("Populate", &m), -EINVAL);
	EXPECT_EQ_INT(ferry_ram_alloc_mode_parse("populate ", &m), -EINVAL);
	EXPECT_EQ_INT(ferry_ram_alloc_mode_parse("prealloc", &m), -EINVAL);
}

FERRY_TEST(ram_alloc_plan_from_env)
{
	struct ferry_ram_alloc_plan p;
	char err[160];
	unsetenv("FERRY_DEST_ALLOC");
	unsetenv("FERRY_DEST_ALLOC_THREADS");
	EXPECT_EQ_INT(ferry_ram_alloc_plan_from_env(&p, err, sizeof err), 0);
	EXPECT_EQ_INT(p.mode, FERRY_RAM_ALLOC_POPULATE);
	EXPECT_EQ_INT((int)p.threads, 2);
	setenv("FERRY_DEST_ALLOC", "both", 1);
	setenv("FERRY_DEST_ALLOC_THREADS", "4", 1);
	EXPECT_EQ_INT(ferry_ram_alloc_plan_from_env(&p, err, sizeof err), 0);
	EXPECT_EQ_INT(p.mode, FERRY_RAM_ALLOC_BOTH);
	EXPECT_EQ_INT((int)p.threads, 4);
	const char *bad_threads[] = {"0", "17", "2x", "-1"};
	for (size_t i = 0; i < sizeof bad_threads / sizeof bad_threads[0]; i++) {
		setenv("FERRY_DEST_ALLOC_THREADS", bad_threads[i], 1);
		EXPECT_EQ_INT(ferry_ram_alloc_plan_from_env(&p, err, sizeof err), -EINVAL);
		EXPECT(strstr(err, "FERRY_DEST_ALLOC_THREADS") != NULL);
	}
	setenv("FERRY_DEST_ALLOC_THREADS", "16", 1);
	setenv("FERRY_DEST_ALLOC", "eager", 1);
	EXPECT_EQ_INT(ferry_ram_alloc_plan_from_env(&p, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "eager") != NULL);
	unsetenv("FERRY_DEST_ALLOC");
	unsetenv("FERRY_DEST_ALLOC_THREADS");
}

static void count_mapped(uint8_t *map, size_t len, size_t *resident, size_t *mapped);

struct page_counts {
	size_t allocated; /* pages the memfd holds (st_blocks) */
	size_t resident;  /* pages in memory and up to date (mincore; fallocated pages are not yet) */
	size_t mapped;    /* pages in this process's page tables (pagemap bit 63) */
};

static void count_pages(int memfd, uint8_t *map, size_t len, struct page_counts *c)
{
	struct stat st;
	c->allocated = fstat(memfd, &st) == 0 ? (size_t)st.st_blocks * 512 / PAGE : 0;
	count_mapped(map, len, &c->resident, &c->mapped);
}

/* Pages of [map, map + len) that mincore reports and that are mapped here (pagemap bit 63). */
static void count_mapped(uint8_t *map, size_t len, size_t *resident, size_t *mapped)
{
	size_t pages = len / PAGE;
	unsigned char *vec = calloc(pages, 1);
	*resident = *mapped = 0;
	if (vec && mincore(map, len, vec) == 0)
		for (size_t i = 0; i < pages; i++)
			*resident += vec[i] & 1;
	free(vec);
	int fd = open("/proc/self/pagemap", O_RDONLY);
	for (size_t i = 0; fd >= 0 && i < pages; i++) {
		uint64_t e = 0;
		if (pread(fd, &e, sizeof e, (off_t)(((uintptr_t)map / PAGE + i) * sizeof e)) == sizeof e)
			*mapped += (size_t)(e >> 63);
	}
	if (fd >= 0)
		close(fd);
}

/* A fresh memfd of len bytes mapped shared; allocates it by plan and counts its pages. */
static int alloc_fresh(size_t len, enum ferry_ram_alloc_mode mode, unsigned threads, struct page_counts *c)
{
	int fd = memfd_create("ferry-test-ram", MFD_CLOEXEC);
	EXPECT(fd >= 0 && ftruncate(fd, (off_t)len) == 0);
	uint8_t *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(map != MAP_FAILED);
	struct ferry_ram_alloc_plan plan = {mode, threads};
	int rc = ferry_ram_alloc(fd, map, len, &plan, NULL);
	count_pages(fd, map, len, c);
	/* Allocated memory reads as zeros, as fresh guest RAM must. */
	for (size_t off = 0; off < len; off += PAGE)
		if (map[off] != 0 || map[off + PAGE - 1] != 0) {
			EXPECT(!"allocated page is not zero");
			break;
		}
	munmap(map, len);
	close(fd);
	return rc;
}

FERRY_TEST(ram_alloc_each_mode_allocates_and_maps_what_it_says)
{
	const size_t len = (8u << 20) + 3 * PAGE; /* not a multiple of the populate chunk or a huge page */
	const size_t pages = len / PAGE;
	struct page_counts c;
	EXPECT_EQ_INT(alloc_fresh(len, FERRY_RAM_ALLOC_POPULATE, 1, &c), 0);
	EXPECT_EQ_U64(c.allocated, pages);
	EXPECT_EQ_U64(c.resident, pages);
	EXPECT_EQ_U64(c.mapped, pages);
	EXPECT_EQ_INT(alloc_fresh(len, FERRY_RAM_ALLOC_FALLOCATE, 1, &c), 0);
	EXPECT_EQ_U64(c.allocated, pages); /* allocated, */
	EXPECT_EQ_U64(c.mapped, 0);        /* not yet in our page tables */
	EXPECT_EQ_INT(alloc_fresh(len, FERRY_RAM_ALLOC_BOTH, 1, &c), 0);
	EXPECT_EQ_U64(c.allocated, pages);
	EXPECT_EQ_U64(c.resident, pages);
	EXPECT_EQ_U64(c.mapped, pages);
	EXPECT_EQ_INT(alloc_fresh(len, FERRY_RAM_ALLOC_OFF, 1, &c), 0);
	EXPECT_EQ_U64(c.allocated, 0);
	EXPECT_EQ_U64(c.resident, 0);
	EXPECT_EQ_U64(c.mapped, 0);
}

FERRY_TEST(ram_alloc_threads_cover_the_whole_range)
{
	const size_t len = (10u << 20) + PAGE;
	struct page_counts c;
	const unsigned threads[] = {2, 3, 16};
	for (size_t i = 0; i < sizeof threads / sizeof threads[0]; i++) {
		EXPECT_EQ_INT(alloc_fresh(len, FERRY_RAM_ALLOC_POPULATE, threads[i], &c), 0);
		EXPECT_EQ_U64(c.mapped, len / PAGE);
	}
	/* More threads than pages: each page once, no empty slice trips over itself. */
	EXPECT_EQ_INT(alloc_fresh(3 * PAGE, FERRY_RAM_ALLOC_POPULATE, 16, &c), 0);
	EXPECT_EQ_U64(c.mapped, 3);
}

FERRY_TEST(ram_alloc_stops_when_asked)
{
	const size_t len = 4u << 20;
	int fd = memfd_create("ferry-test-ram", MFD_CLOEXEC);
	EXPECT(fd >= 0 && ftruncate(fd, (off_t)len) == 0);
	uint8_t *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT(map != MAP_FAILED);
	atomic_bool stop = true;
	struct ferry_ram_alloc_plan plan = {FERRY_RAM_ALLOC_POPULATE, 2};
	EXPECT_EQ_INT(ferry_ram_alloc(fd, map, len, &plan, &stop), -ECANCELED);
	struct page_counts c;
	count_pages(fd, map, len, &c);
	EXPECT_EQ_U64(c.mapped, 0);
	EXPECT_EQ_U64(c.allocated, 0);
	munmap(map, len);
	close(fd);
}

/* In a child with its own mount namespace: a 1 MiB tmpfs, a 4 MiB file on it, allocated by
 * `mode`. Exit status: 0 when ferry_ram_alloc said -ENOSPC, 2 when the namespace or mount could
 * not be made (no privilege), 1 otherwise. */
static int alloc_on_full_tmpfs(enum ferry_ram_alloc_mode mode)
{
	pid_t pid = fork();
	if (pid == 0) {
		char dir[] = "/tmp/ferry-test-tmpfs-XXXXXX";
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) || !mkdtemp(dir) ||
		    mount("tmpfs", dir, "tmpfs", 0, "size=1m")) {
			if (dir[sizeof dir - 2] != 'X')
				rmdir(dir);
			_exit(2);
		}
		char path[64];
		snprintf(path, sizeof path, "%s/ram", dir);
		int fd = open(path, O_RDWR | O_CREAT, 0600);
		const size_t len = 4u << 20;
		uint8_t *map = fd >= 0 && ftruncate(fd, (off_t)len) == 0
				       ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
				       : MAP_FAILED;
		struct ferry_ram_alloc_plan plan = {mode, 1};
		int rc = map == MAP_FAILED ? -EBADF : ferry_ram_alloc(fd, map, len, &plan, NULL);
		if (rc != -ENOSPC)
			fprintf(stderr, "  %s on a full tmpfs: %d (%s)\n", ferry_ram_alloc_mode_name(mode), rc,
				strerror(-rc));
		umount2(dir, MNT_DETACH);
		rmdir(dir);
		_exit(rc == -ENOSPC ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

FERRY_TEST(ram_alloc_out_of_space_is_enospc)
{
	const enum ferry_ram_alloc_mode modes[] = {FERRY_RAM_ALLOC_POPULATE, FERRY_RAM_ALLOC_FALLOCATE,
						   FERRY_RAM_ALLOC_BOTH};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		int rc = alloc_on_full_tmpfs(modes[i]);
		if (rc == 2) {
			fprintf(stderr, "  skipped: no private mount namespace for a small tmpfs (needs CAP_SYS_ADMIN)\n");
			return;
		}
		EXPECT_EQ_INT(rc, 0);
	}
}
