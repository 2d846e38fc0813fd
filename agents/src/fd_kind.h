/*
 * What kind of file an fd received by SCM_RIGHTS really is. Local peers hand over guest RAM (a
 * memfd) and a userfaultfd; both are checked before use, because a wrong fd would make the agent
 * map, track or write the wrong thing.
 */
#ifndef FERRY_FD_KIND_H
#define FERRY_FD_KIND_H

#include <stddef.h>
#include <stdint.h>

/* 0 if fd is a memfd (its /proc/self/fd link reads "/memfd:NAME (deleted)"), else -EBADF with what
 * it is instead in err. `what` names the fd's role in the message ("guest RAM fd"). */
int ferry_fd_check_memfd(int fd, const char *what, char *err, size_t errlen);

/* 0 if fd is a memfd of exactly `bytes` bytes; -EBADF (not a memfd) or -EINVAL (size) with err. */
int ferry_fd_check_memfd_size(int fd, uint64_t bytes, const char *what, char *err, size_t errlen);

/* 0 if fd is a userfaultfd ("anon_inode:[userfaultfd]"), else -EBADF with what it is instead. */
int ferry_fd_check_userfaultfd(int fd, const char *what, char *err, size_t errlen);

#endif
