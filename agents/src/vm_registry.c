/* Registered VMs; see vm_registry.h. */
#include "vm_registry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "errbuf.h"
#include "fd_kind.h"

void ferry_vm_registry_init(struct ferry_vm_registry *r)
{
	memset(r, 0, sizeof *r);
	for (size_t i = 0; i < FERRY_MAX_VMS; i++)
		r->vms[i].memfd = r->vms[i].uffd = -1;
}

int ferry_vm_registration_check(const struct ferry_vm_registration *reg, pid_t peer_pid, const int *fds, int nfds,
				char *err, size_t errlen)
{
	if (reg->page_size != FERRY_VM_PAGE_SIZE) {
		ferry_errbuf_set(err, errlen, "page_size=%u is not supported (only %u)", reg->page_size, FERRY_VM_PAGE_SIZE);
		return -EINVAL;
	}
	if (reg->ram_bytes % FERRY_VM_PAGE_SIZE) {
		ferry_errbuf_set(err, errlen, "ram_bytes=%" PRIu64 " is not a multiple of the page size %u", reg->ram_bytes,
				 FERRY_VM_PAGE_SIZE);
		return -EINVAL;
	}
	/* The agent will read this pid's memory (process_vm_readv, pagemap): it must be the peer's. */
	if (peer_pid > 0 && reg->pid != peer_pid) {
		ferry_errbuf_set(err, errlen, "pid=%d announced, but the registering process is pid %d", (int)reg->pid,
				 (int)peer_pid);
		return -EINVAL;
	}
	int want = reg->incoming ? 1 : 2;
	if (nfds != want) {
		ferry_errbuf_set(err, errlen, "mode=%s needs %d fds (%s), %d came with the message",
				 reg->incoming ? "incoming" : "run", want,
				 reg->incoming ? "userfaultfd; the agent creates guest RAM" : "guest RAM memfd, then userfaultfd",
				 nfds);
		return -EBADF;
	}
	if (reg->incoming)
		return ferry_fd_check_userfaultfd(fds[0], "the fd", err, errlen);
	int rc = ferry_fd_check_memfd_size(fds[0], reg->ram_bytes, "the guest RAM fd", err, errlen);
	if (rc)
		return rc == -EBADF ? rc : -EINVAL;
	return ferry_fd_check_userfaultfd(fds[1], "the second fd", err, errlen);
}

static struct ferry_vm_entry *find(struct ferry_vm_registry *r, const char *vm_id)
{
	for (size_t i = 0; i < FERRY_MAX_VMS; i++)
		if (r->vms[i].used && strcmp(r->vms[i].reg.vm_id, vm_id) == 0)
			return &r->vms[i];
	return NULL;
}

int ferry_vm_registry_add(struct ferry_vm_registry *r, const struct ferry_vm_registration *reg, int memfd, int uffd,
			  uint64_t owner, char *err, size_t errlen)
{
	const struct ferry_vm_entry *dup = find(r, reg->vm_id);
	if (dup) {
		ferry_errbuf_set(err, errlen, "VM %s is already registered (by pid %d, still running)", reg->vm_id,
				 (int)dup->reg.pid);
		return -EEXIST;
	}
	for (size_t i = 0; i < FERRY_MAX_VMS; i++) {
		struct ferry_vm_entry *e = &r->vms[i];
		if (e->used)
			continue;
		*e = (struct ferry_vm_entry){.used = true, .reg = *reg, .memfd = memfd, .uffd = uffd, .owner = owner};
		memcpy(e->launch_words, reg->launch, sizeof e->launch_words);
		e->launch_words[sizeof e->launch_words - 1] = '\0';
		e->n_launch_args = ferry_workload_ipc_launch_split(e->launch_words, e->launch_args, FERRY_VM_LAUNCH_ARGS_MAX);
		r->count++;
		return 0;
	}
	ferry_errbuf_set(err, errlen, "this agent already runs %d VMs, its maximum", FERRY_MAX_VMS);
	return -ENOSPC;
}

static void release(struct ferry_vm_registry *r, struct ferry_vm_entry *e)
{
	if (e->memfd >= 0)
		close(e->memfd);
	if (e->uffd >= 0)
		close(e->uffd);
	memset(e, 0, sizeof *e);
	e->memfd = e->uffd = -1;
	r->count--;
}

bool ferry_vm_registry_remove_owner(struct ferry_vm_registry *r, uint64_t owner, char *vm_id, size_t cap)
{
	for (size_t i = 0; i < FERRY_MAX_VMS; i++) {
		struct ferry_vm_entry *e = &r->vms[i];
		if (!e->used || e->owner != owner)
			continue;
		if (vm_id && cap)
			snprintf(vm_id, cap, "%s", e->reg.vm_id);
		release(r, e);
		return true;
	}
	return false;
}

struct ferry_vm_entry *ferry_vm_registry_by_owner(struct ferry_vm_registry *r, uint64_t owner)
{
	for (size_t i = 0; i < FERRY_MAX_VMS; i++)
		if (r->vms[i].used && r->vms[i].owner == owner)
			return &r->vms[i];
	return NULL;
}

const struct ferry_vm_entry *ferry_vm_registry_find(const struct ferry_vm_registry *r, const char *vm_id)
{
	return find((struct ferry_vm_registry *)r, vm_id);
}

void ferry_vm_registry_clear(struct ferry_vm_registry *r)
{
	for (size_t i = 0; i < FERRY_MAX_VMS; i++)
		if (r->vms[i].used)
			release(r, &r->vms[i]);
}
