/*
 * The VMs registered with this agent by their workloads (protocol: workload_ipc.h, part 2):
 * validation of a registration against what came with it, and the bookkeeping. No sockets here:
 * vm_listener.c owns the connections and feeds this.
 *
 * A VM stays registered while its registration connection (the "owner", an opaque id chosen by
 * the listener) is open; a second registration of the same VM id meanwhile is refused.
 */
#ifndef FERRY_VM_REGISTRY_H
#define FERRY_VM_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "workload_ipc.h"

#define FERRY_MAX_VMS 64
#define FERRY_VM_PAGE_SIZE 4096u /* the only page size guest RAM tracking and streaming support */

struct ferry_vm_entry {
	bool used;
	struct ferry_vm_registration reg;
	int memfd;      /* guest RAM; ours (a dup of the workload's, or the one we created if incoming) */
	int uffd;       /* the workload's userfaultfd for dirty tracking (an incoming VM's too) */
	uint64_t owner; /* the registration connection */
	pid_t child;    /* this agent started the workload (an incoming VM): reaped once it exits; 0 = not ours */
	bool started;   /* incoming VM: the workload answered `start` with "ok started"; from then on an
			 * ordinary VM of this host (it runs here and may migrate on) */
	char start_answer[160]; /* incoming VM: the workload's answer to `start`, "" before */
	char launch_words[FERRY_VM_LAUNCH_TEXT_MAX];     /* reg.launch split at its commas */
	char *launch_args[FERRY_VM_LAUNCH_ARGS_MAX];     /* into launch_words, for the Inventory */
	size_t n_launch_args;
};

struct ferry_vm_registry {
	struct ferry_vm_entry vms[FERRY_MAX_VMS];
	size_t count;
};

void ferry_vm_registry_init(struct ferry_vm_registry *r);

/* Checks a parsed registration against what came with it: the page size, the peer's pid (from
 * SO_PEERCRED; 0 = unknown, not checked), and the fds: mode=run needs exactly a memfd of ram_bytes
 * then a userfaultfd; mode=incoming exactly a userfaultfd (for when it runs here and migrates on). Pure validation: nothing is kept or closed.
 * -EINVAL / -EBADF with the reason in err. */
int ferry_vm_registration_check(const struct ferry_vm_registration *reg, pid_t peer_pid, const int *fds, int nfds,
				char *err, size_t errlen);

/* Adds a checked registration; takes memfd and uffd on success only. -EEXIST when
 * the VM id is registered already, -ENOSPC when FERRY_MAX_VMS are. Reason in err. */
int ferry_vm_registry_add(struct ferry_vm_registry *r, const struct ferry_vm_registration *reg, int memfd, int uffd,
			  uint64_t owner, char *err, size_t errlen);

/* Removes the VM registered through `owner` (closing its fds). Returns true if there was one; its
 * id is copied into vm_id (may be NULL). */
bool ferry_vm_registry_remove_owner(struct ferry_vm_registry *r, uint64_t owner, char *vm_id, size_t cap);

/* The VM registered through `owner`, or NULL. */
struct ferry_vm_entry *ferry_vm_registry_by_owner(struct ferry_vm_registry *r, uint64_t owner);

/* The VM with that id, or NULL. */
const struct ferry_vm_entry *ferry_vm_registry_find(const struct ferry_vm_registry *r, const char *vm_id);

/* Removes everything (closing every fd). */
void ferry_vm_registry_clear(struct ferry_vm_registry *r);

#endif
