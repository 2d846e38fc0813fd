/*
 * The agent's VM registration socket: a unix stream socket where workloads register their VMs
 * (protocol: workload_ipc.h, part 2; bookkeeping: vm_registry.h). Polled by the agent's event
 * loop like the data listener.
 *
 * One agent per socket: the listener holds an flock on PATH.lock for its lifetime, so a second
 * agent given the same path is refused (-EADDRINUSE, naming the owner's pid), while a socket file
 * left by an agent that died is recognised as stale and replaced.
 *
 * Each connection must send its `register` line within FERRY_VM_REGISTER_TIMEOUT_MS; a bad one gets
 * "error <reason>" and is closed, and the listener serves the next. A registered VM's connection
 * stays open: its close unregisters the VM. Every register and unregister calls on_change.
 *
 * A workload this agent started (an incoming VM that ran here) is its child: once it unregisters,
 * the listener waits for its exit (polling from on_timer), so that VMs that arrive here and later
 * migrate on or quit leave no zombies, however long ago their migration record went.
 */
#ifndef FERRY_VM_LISTENER_H
#define FERRY_VM_LISTENER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vm_registry.h"
#include "workload_ipc.h"

#define FERRY_VM_MAX_CONNS (FERRY_MAX_VMS + 8) /* every VM holds one; a few more may be registering */
#define FERRY_VM_REGISTER_TIMEOUT_MS 5000u
#define FERRY_VM_SOCKET_PATH_MAX 108u
#define FERRY_VM_REAP_MAX (2 * FERRY_MAX_VMS) /* exited-or-exiting children waited for at once */
#define FERRY_VM_REAP_RETRY_MS 100u

struct ferry_vm_conn {
	int fd;             /* -1: slot free */
	uint64_t id;        /* owner id in the registry */
	bool registered;
	pid_t peer_pid;     /* SO_PEERCRED */
	uint64_t deadline_ms; /* register due (until registered) */
	size_t len;
	char buf[FERRY_WORKLOAD_IPC_LINE_MAX];
	int fds[FERRY_WORKLOAD_IPC_MAX_FDS];
	int nfds;
	bool too_many_fds;  /* more fds came than any message carries */
};

struct ferry_vm_listener {
	int fd;      /* -1 when closed */
	int lock_fd;
	char path[FERRY_VM_SOCKET_PATH_MAX];
	struct ferry_vm_registry registry;
	struct ferry_vm_conn conns[FERRY_VM_MAX_CONNS];
	uint64_t next_id;
	void (*on_change)(void *ctx); /* a VM registered or unregistered; may be NULL */
	void *ctx;
	uint64_t registered, refused, unregistered; /* counters, for logs and tests */
	/* The latest answer to `start` and its VM: kept here too, since a workload that refuses to
	 * start exits at once and its registry entry goes with its connection. */
	char last_start_vm[FERRY_VM_ID_MAX];
	char last_start_answer[160];
	/* Children whose VM unregistered, until they are reaped. */
	pid_t reap[FERRY_VM_REAP_MAX];
	size_t n_reap;
	uint64_t reap_due_ms;
	uint64_t reaped; /* counter, for logs and tests */
};

/* The default socket path: $XDG_RUNTIME_DIR/ferry/agent.sock when that is set, else
 * /run/ferry/agent.sock. */
void ferry_vm_listener_default_path(char *out, size_t cap);

/* Creates the socket's directory if needed, takes ownership of `path` and listens. -EADDRINUSE
 * when another live agent owns it; other -errno. The reason in err. */
int ferry_vm_listener_open(struct ferry_vm_listener *l, const char *path, void (*on_change)(void *ctx), void *ctx,
			   char *err, size_t errlen);
/* Closes every connection (unregistering every VM, without on_change), removes the socket file. */
void ferry_vm_listener_close(struct ferry_vm_listener *l);

/* Incoming VM `vm_id`, whose memory (the registry entry's memfd) and device state are loaded:
 * sends `start vcpus=N [written=1] state=BLOB` (BLOB from the source's `export`), with
 * written_fd (>= 0: the written-pages bitmap, staged_verify.h; not taken) by SCM_RIGHTS and
 * written=1, or neither (-1: the workload checks all of RAM). The workload's answer
 * arrives later through on_poll: the entry's start_answer is set, and on "ok started" the VM is
 * started (on_change is called). -ENOENT (no such VM), -EALREADY (not incoming, or already
 * started), or the send's -errno, with the reason in err. */
int ferry_vm_listener_start(struct ferry_vm_listener *l, const char *vm_id, unsigned vcpus, const char *state_blob,
			    int written_fd, char *err, size_t errlen);

/* VM `vm_id`'s workload is our child `pid` (an incoming VM we started, now running): the listener
 * reaps it once it has unregistered and exited. -ENOENT when no such VM is registered. */
int ferry_vm_listener_adopt_child(struct ferry_vm_listener *l, const char *vm_id, pid_t pid);

/* Fills up to `max` pollfds (the listener while a slot is free, then each connection). */
size_t ferry_vm_listener_pollfds(const struct ferry_vm_listener *l, struct pollfd *pfds, size_t max);
void ferry_vm_listener_on_poll(struct ferry_vm_listener *l, const struct pollfd *pfds, size_t n, uint64_t now_ms);
/* Closes connections that did not register in time; reaps children that exited. */
void ferry_vm_listener_on_timer(struct ferry_vm_listener *l, uint64_t now_ms);
uint64_t ferry_vm_listener_next_deadline(const struct ferry_vm_listener *l);

#endif
