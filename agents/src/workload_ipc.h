/*
 * The local protocol between a workload, its drivers (tests, the agent) and the agent's VM
 * socket: the one description of it. Two kinds of unix stream connections use the same framing.
 *
 * Framing: lines are ASCII, end with '\n', at most FERRY_WORKLOAD_IPC_LINE_MAX bytes; fds travel
 * by SCM_RIGHTS on the first byte of a line. Each side sends one line and reads the one reply line
 * before sending the next. Replies start with "ok", "bad" (a bad page) or "error <reason>", then
 * key=value fields separated by single spaces (numbers in decimal, addresses in 0x hex).
 *
 * 1. The workload's control socket, at `ferry-workload --control PATH`. Several clients may be
 *    connected at once.
 *
 *   freeze  -> ok frozen                 returns once every vCPU stopped between two page writes
 *   thaw    -> ok running                also turns the throttle off
 *   throttle N -> ok throttle percent=N  auto-converge: every vCPU loses N % of its time (workload.h),
 *              N decimal 0..99, 0 = off; else "error throttle: <reason>" and nothing changes
 *   touch N -> ok touch page=N generation=G  the guest writes page N (decimal 0..pages-1) once, as its vCPU would
 *   tear N  -> ok tear page=N            the guest stops halfway through writing page N: it fails its
 *              self-check until `touch N` writes it whole (a vCPU caught mid-write, for tests)
 *   peek N  -> ok peek page=N generation=G valid=1|0 [reason=R]  no write, no freeze: torn unless frozen
 *   stats   -> ok frozen=0|1 vcpus=N writes=N generation=N ram_bytes=N throttle=N throttled_ns=N
 *              vcpu_writes=N,N,...       throttled_ns: vCPU time spent in throttle sleeps, summed
 *   verify  -> ok pages=N                every page's self-check passed (vCPUs frozen meanwhile)
 *              bad page=N reason=bad_checksum|bad_magic|wrong_index|bad_generation
 *   attach  -> ok attach pid=N base=0xADDR ram_bytes=N page_size=4096 uffd=0|1
 *              with SCM_RIGHTS on the same message: the guest-RAM memfd, then (uffd=1) a fresh
 *              userfaultfd created by the workload for its own memory. The workload keeps no copy
 *              of that userfaultfd: the receiver's tracker is its only user. uffd=1 with --uffd,
 *              and always for a workload registered with an agent: a userfaultfd serves a single
 *              tracker (UFFDIO_API once), so each migration of the VM attaches for its own.
 *   export  -> ok export vcpus=N state=BLOB   frozen only (else "error not frozen"): where every
 *              vCPU is in its pattern (BLOB: workload_state.h), for a destination to continue
 *   quit    -> ok bye                    the workload stops its vCPUs and exits 0
 *   other   -> error unknown command
 *
 * 2. Registration with the local agent (`ferry-workload --agent-socket PATH`, agent option
 *    --vm-socket). The workload connects and keeps the connection for its whole life: when it
 *    closes (the workload exited), the agent unregisters the VM; when the agent closes it (the
 *    agent stopped or died), the workload turns its throttle off. First line, from the workload:
 *
 *   register vm=ID vcpus=N ram_bytes=N page_size=4096 pid=N control=PATH mode=run|incoming [launch=ARGS]
 *     ID: 1..127 of [A-Za-z0-9._:-]; PATH: the control socket, no spaces, < 108 bytes.
 *     ARGS (optional): how the workload was configured, minus identity, memory, vCPU count and
 *     incoming flags, as command-line words joined by ',' (each word 1+ of [A-Za-z0-9._:/=+-], at
 *     most FERRY_VM_LAUNCH_ARGS_MAX words, < FERRY_VM_LAUNCH_TEXT_MAX bytes), e.g.
 *     launch=--dirty-rate,2000,--pattern,uniform,--seed,5. The agent reports the words as the VM's
 *     Inventory launch_args; a coordinator copies them (and vcpus) into PrepareDestination, and the
 *     destination agent starts its incoming workload with them.
 *     mode=run: SCM_RIGHTS carries the guest-RAM memfd, then a fresh userfaultfd for that memory.
 *     mode=incoming (a migration destination): SCM_RIGHTS carries only a fresh userfaultfd; the
 *     agent creates guest RAM. Once started, an incoming VM is an ordinary VM of its new host and
 *     may migrate on: a userfaultfd tracks only its creator's memory, so the workload must hand it
 *     over (the agent cannot make one for another process).
 *   -> ok registered vm=ID               (mode=run)
 *   -> ok registered vm=ID memfd=1       (mode=incoming) + SCM_RIGHTS: a memfd of ram_bytes that
 *                                         the agent fills with the source's memory
 *   -> error <reason>                    nothing registered; the agent closes the connection
 *
 *    Then, for an incoming VM, once memory and device state are loaded, from the agent:
 *
 *   start vcpus=N [written=1] state=BLOB BLOB as the source's `export` returned it. written=1: SCM_RIGHTS
 *                                         carries a memfd of ceil(pages / 64) * 8 bytes, the bitmap of
 *                                         the pages written since the agent's last round check
 *                                         (staged_verify.h): only those are checked (all of RAM without
 *                                         it, or with --verify-at-start full)
 *   -> ok started generation=N pages_verified=N   memory verified; the vCPUs run on from the
 *                                         source's state (with --start-frozen they wait for `thaw`)
 *   -> bad page=N reason=...             memory failed its self-check: the workload refuses to run
 *                                         and exits 1
 *   -> error <reason>                    a state that does not fit: the workload exits 1
 */
#ifndef FERRY_WORKLOAD_IPC_H
#define FERRY_WORKLOAD_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FERRY_WORKLOAD_IPC_LINE_MAX 8192u /* a `start` of 64 vCPUs is about 4.4 KiB */
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
/* The value of " key=" as a string (up to the next space). 0, -ENOENT, or -ENAMETOOLONG. */
int ferry_workload_ipc_field_str(const char *line, const char *key, char *out, size_t cap);

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

/* The `register` line's fields. */
#define FERRY_VM_ID_MAX 128u
#define FERRY_VM_CONTROL_PATH_MAX 108u /* sizeof sockaddr_un.sun_path */
#define FERRY_VM_LAUNCH_ARGS_MAX 16u
#define FERRY_VM_LAUNCH_TEXT_MAX 256u
struct ferry_vm_registration {
	char vm_id[FERRY_VM_ID_MAX];
	uint32_t vcpus;
	uint64_t ram_bytes;
	uint32_t page_size;
	pid_t pid;
	char control[FERRY_VM_CONTROL_PATH_MAX];
	int incoming; /* mode=incoming */
	char launch[FERRY_VM_LAUNCH_TEXT_MAX]; /* launch= words joined by ',', "" for none */
};

/* Whether `launch` is a well-formed launch= value ("" is: no arguments). */
int ferry_workload_ipc_launch_valid(const char *launch);
/* Splits a valid launch= value in place at its commas; the word count (0 for ""). */
size_t ferry_workload_ipc_launch_split(char *launch, char **words, size_t max);

/* Writes the `register` line (with its '\n'). 0, or -EINVAL for an id or path the line cannot carry. */
int ferry_workload_ipc_format_register(const struct ferry_vm_registration *r, char *line, size_t cap);
/* Parses a `register` line (without '\n'): every field present, well formed and in range (numbers
 * decimal, vcpus 1..FERRY_WORKLOAD_MAX_VCPUS, ram_bytes > 0, pid > 0). Whether the values fit
 * what came along (fds, sizes) is the registry's business. -EINVAL with the reason in err. */
int ferry_workload_ipc_parse_register(const char *line, struct ferry_vm_registration *out, char *err, size_t errlen);

/* Workload side of registration: sends `register` (with memfd and uffd for mode=run, uffd only
 * for mode=incoming; memfd is ignored then) and reads the answer. For mode=incoming *memfd_out receives the agent's memfd (checked: a memfd of
 * ram_bytes). 0; -ECONNREFUSED with the agent's reason in err when it said "error"; -EPROTO for
 * an unexpected reply; -errno. */
int ferry_workload_ipc_register(int fd, const struct ferry_vm_registration *r, int memfd, int uffd, int *memfd_out,
				int timeout_ms, char *err, size_t errlen);

#endif
