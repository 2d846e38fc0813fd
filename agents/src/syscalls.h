/*
 * The one syscall layer for device backends: every open/close/ioctl/read/write/poll/readlink the
 * vfio backend issues goes through a struct of function pointers, so tests can swap in a
 * scripted fake kernel and assert the exact call sequence (the swift-system pattern).
 *
 * Convention: every function returns >= 0 on success or a negative errno; nothing reads `errno`
 * afterwards. The real implementation retries EINTR (except close, which Linux never restarts).
 */
#ifndef FERRY_SYSCALLS_H
#define FERRY_SYSCALLS_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

struct ferry_syscalls {
	void *ctx; /* passed back to every function; NULL for the real kernel */
	int (*open)(void *ctx, const char *path, int flags);
	int (*close)(void *ctx, int fd);
	/* `arg` is the pointer (or integer value cast to a pointer) the ioctl takes. Returns the
	 * ioctl's non-negative result (some return an fd or a count) or -errno. */
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
	ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	int (*poll)(void *ctx, struct pollfd *fds, nfds_t nfds, int timeout_ms);
	/* Like readlink(2) but always NUL-terminates; returns the length or -errno (-ENAMETOOLONG if
	 * the target does not fit). */
	ssize_t (*readlink)(void *ctx, const char *path, char *buf, size_t cap);
};

/* The real kernel. */
const struct ferry_syscalls *ferry_syscalls_real(void);

/* Reads a whole small file (sysfs attributes) into `buf` (NUL-terminated, trailing newline
 * stripped) through `sys`. Returns the length or -errno; -EFBIG if it does not fit. */
ssize_t ferry_sys_read_small_file(const struct ferry_syscalls *sys, const char *path, char *buf, size_t cap);

#endif
