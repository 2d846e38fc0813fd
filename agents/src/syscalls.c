/* The real kernel behind struct ferry_syscalls; see syscalls.h. */
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int real_open(void *ctx, const char *path, int flags)
{
	int fd;
	do
		fd = open(path, flags);
	while (fd < 0 && errno == EINTR);
	return fd < 0 ? -errno : fd;
}

/* close is not retried: on Linux the fd is gone even when close reports EINTR. */
static int real_close(void *ctx, int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

static int real_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	int rc;
	do
		rc = ioctl(fd, request, arg);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : rc;
}

static ssize_t real_read(void *ctx, int fd, void *buf, size_t len)
{
	ssize_t n;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static ssize_t real_write(void *ctx, int fd, const void *buf, size_t len)
{
	ssize_t n;
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int real_poll(void *ctx, struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	int rc = poll(fds, nfds, timeout_ms); /* EINTR is returned: the caller owns the deadline */
	return rc < 0 ? -errno : rc;
}

static ssize_t real_readlink(void *ctx, const char *path, char *buf, size_t cap)
{
	if (cap == 0)
		return -EINVAL;
	ssize_t n = readlink(path, buf, cap);
	if (n < 0)
		return -errno;
	if ((size_t)n >= cap)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return n;
}

static const struct ferry_syscalls real = {
	.ctx = NULL,
	.open = real_open,
	.close = real_close,
	.ioctl = real_ioctl,
	.read = real_read,
	.write = real_write,
	.poll = real_poll,
	.readlink = real_readlink,
};

const struct ferry_syscalls *ferry_syscalls_real(void)
{
	return &real;
}

ssize_t ferry_sys_read_small_file(const struct ferry_syscalls *sys, const char *path, char *buf, size_t cap)
{
	if (cap == 0)
		return -EINVAL;
	int fd = sys->open(sys->ctx, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fd;
	size_t len = 0;
	ssize_t rc;
	for (;;) {
		rc = sys->read(sys->ctx, fd, buf + len, cap - 1 - len);
		if (rc <= 0)
			break;
		len += (size_t)rc;
		if (len == cap - 1) { /* full: one more byte would prove it does not fit */
			char extra;
			rc = sys->read(sys->ctx, fd, &extra, 1);
			if (rc > 0)
				rc = -EFBIG;
			break;
		}
	}
	sys->close(sys->ctx, fd);
	if (rc < 0)
		return rc;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	return (ssize_t)len;
}
