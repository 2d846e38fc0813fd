/*
 * The workload's side of its registration with the local agent (protocol: workload_ipc.h, part 2):
 * registering as a running VM or as an incoming one, and an incoming VM's wait for `start`.
 */
#ifndef FERRY_WORKLOAD_AGENT_H
#define FERRY_WORKLOAD_AGENT_H

#include <stddef.h>

#include "workload.h"
#include "workload_ipc.h"

/* Waits at most this long for the agent to answer `register`. */
#define FERRY_WORKLOAD_AGENT_TIMEOUT_MS 10000

/* A userfaultfd for this process's memory (close-on-exec, non-blocking), or -errno. An
 * unprivileged workload (vm.unprivileged_userfaultfd = 0) may only ask for user-mode faults,
 * which is all async write-protect needs. */
int ferry_workload_create_userfaultfd(void);

/* Connects to the agent at `socket_path` and registers a running VM: hands over w's guest RAM and a
 * fresh userfaultfd. *agent_fd: the connection, to keep open while the VM lives. -errno with the
 * reason (the agent's own words when it refused) in err. */
int ferry_workload_agent_register(const char *socket_path, const struct ferry_vm_registration *reg,
				  struct ferry_workload *w, int *agent_fd, char *err, size_t errlen);

/* Connects and registers an incoming VM (reg->incoming must be set), handing over a fresh
 * userfaultfd (for when the VM, started, migrates on): *memfd receives the guest RAM the agent
 * created (a memfd of reg->ram_bytes). */
int ferry_workload_agent_register_incoming(const char *socket_path, const struct ferry_vm_registration *reg,
					   int *agent_fd, int *memfd, char *err, size_t errlen);

/* Incoming VM, created frozen on the agent's memfd: waits for the agent's `start`, loads the vCPU
 * state, verifies guest RAM (all of it with verify_full or when the agent sent no written-pages
 * bitmap, else the pages the bitmap marks: staged_verify.h) and answers. On success the vCPUs run on from the source's
 * state (returns 0), or stay paused with that state loaded when `stay_paused` (a VM started
 * paused, as QEMU's -S with -incoming: `thaw` on the control socket runs it). Otherwise the workload must not run: -EBADMSG (a bad page, named in err and
 * in the answer), -EINVAL (a state that does not fit), -ECONNRESET (the agent went away),
 * -ECANCELED (stop_fd became readable first). */
int ferry_workload_agent_await_start(int agent_fd, int stop_fd, struct ferry_workload *w, int stay_paused,
				     int verify_full, char *err, size_t errlen);

#endif
