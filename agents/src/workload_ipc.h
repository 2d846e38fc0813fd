/*
 * The workload's local control socket: how a test, and later the agent, drives a workload.
 *
 * Transport: a unix stream socket at the path given by `ferry-workload --control PATH`. Several
 * clients may be connected at once; each sends one command line at a time and reads one reply line
 * before sending the next. Lines are ASCII, end with '\n', at most FERRY_WORKLOAD_IPC_LINE_MAX bytes.
 * Replies start with "ok", "bad" (verify found a bad page) or "error <reason>", then key=value
 * fields separated by single spaces (numbers in decimal, addresses in 0x hex).
 *
 *   freeze  -> ok frozen                 returns once every vCPU stopped between two page writes
 *   thaw    -> ok running
 *   stats   -> ok frozen=0|1 vcpus=N writes=N generation=N ram_bytes=N vcpu_writes=N,N,...
 *   verify  -> ok pages=N                every page's self-check passed (vCPUs frozen meanwhile)
 *              bad page=N reason=bad_checksum|bad_magic|wrong_index|bad_generation
 *   attach  -> ok attach pid=N base=0xADDR ram_bytes=N page_size=4096 uffd=0|1
 *              with SCM_RIGHTS on the same message: the guest-RAM memfd, then (uffd=1) a fresh
 *              userfaultfd created by the workload for its own memory. The workload keeps no copy
 *              of that userfaultfd: the receiver's tracker is its only user.
 *   quit    -> ok bye                    the workload stops its vCPUs and exits 0
 *   other   -> error unknown command
 */
#ifndef FERRY_WORKLOAD_IPC_H
#define FERRY_WORKLOAD_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FERRY_WORKLOAD_IPC_LINE_MAX 1024u
#define FERRY_WORKLOAD_IPC_MAX_FDS 2

/* Listening socket at `path` (a stale socket file is replaced), close-on-exec. -errno. */
int ferry_workload_ipc_listen(const char *path, int *fd_out);
/* Connects to the workload at `path`. Blocking, close-on-exec. -errno (-ENOENT: not there yet). */
int ferry_workload_ipc_connect(const char *path, int *fd_out);

/* Sends `line` (which must end with '\n') and, if nfds > 0, the fds with it (SCM_RIGHTS). */
int ferry_workload_ipc_send_line(int fd, const char *line, const int *fds, int nfds);

/* Reads one line (without its '\n', NUL-terminated) and any fds that came with it. Waits at most
 * timeout_ms for each byte (-1: forever). Returns the line length; -ETIMEDOUT, -ECONNRESET (peer
 * closed), -EMSGSIZE (line too long; fds received so far are closed), or -errno. */
int ferry_workload_ipc_recv_line(int fd, char *buf, size_t cap, int *fds, int *nfds, int timeout_ms);

/* Sends `cmd` + '\n' and reads the reply line into `reply`. Any fds that come along are closed.
 * Returns 0 (whatever the reply says) or -errno. */
int ferry_workload_ipc_command(int fd, const char *cmd, char *reply, size_t cap, int timeout_ms);

/* The value of " key=" (or "key=" at the start) in a reply line, parsed as an unsigned number (0x
 * for hex). 0, or -ENOENT / -EINVAL. */
int ferry_workload_ipc_field_u64(const char *line, const char *key, uint64_t *out);

/* What `attach` hands over. */
struct ferry_workload_attach {
	pid_t pid;
	uint64_t base;      /* guest RAM's address in the workload */
	uint64_t ram_bytes;
	uint32_t page_size;
	int memfd;          /* ours to close */
	int uffd;           /* ours to close; -1 if the workload runs without --uffd */
};

/* Client side of `attach`: sends it, receives and checks the reply and the fds (the memfd is a
 * memfd of ram_bytes, the uffd a userfaultfd). -EPROTO with the reason in err for a bad reply;
 * nothing is leaked on failure. */
int ferry_workload_ipc_attach(int fd, struct ferry_workload_attach *out, int timeout_ms, char *err, size_t errlen);

#endif
