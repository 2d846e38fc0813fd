/* Kinds of received fds; see fd_kind.h. */
#include "fd_kind.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"

/* The /proc link target of fd: "/memfd:x (deleted)", "anon_inode:[userfaultfd]", "socket:[1]"... */
static int fd_target(int fd, char *target, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, cap - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	return 0;
}

int ferry_fd_check_memfd(int fd, const char *what, char *err, size_t errlen)
{
	char target[256];
	int rc = fd_target(fd, target, sizeof target);
	if (rc) {
		ferry_errbuf_set(err, errlen, "%s (fd %d) is not open: %s", what, fd, strerror(-rc));
		return -EBADF;
	}
	if (strncmp(target, "/memfd:", 7) != 0) {
		ferry_errbuf_set(err, errlen, "%s is %s, not a memfd", what, target);
		return -EBADF;
	}
	return 0;
}

int ferry_fd_check_memfd_size(int fd, uint64_t bytes, const char *what, char *err, size_t errlen)
{
	int rc = ferry_fd_check_memfd(fd, what, err, errlen);
	if (rc)
		return rc;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "fstat of %s: %s", what, strerror(e));
		return -e;
	}
	if ((uint64_t)st.st_size != bytes) {
		ferry_errbuf_set(err, errlen, "%s holds %lld bytes, but ram_bytes=%" PRIu64 " was announced", what,
				 (long long)st.st_size, bytes);
		return -EINVAL;
	}
	return 0;
}

int ferry_fd_check_userfaultfd(int fd, const char *what, char *err, size_t errlen)
{
	char target[256];
	int rc = fd_target(fd, target, sizeof target);
	if (rc) {
		ferry_errbuf_set(err, errlen, "%s (fd %d) is not open: %s", what, fd, strerror(-rc));
		return -EBADF;
	}
	if (strcmp(target, "anon_inode:[userfaultfd]") != 0) {
		ferry_errbuf_set(err, errlen, "%s is %s, not a userfaultfd", what, target);
		return -EBADF;
	}
	return 0;
}
