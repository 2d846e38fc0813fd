/*
 * Host facts (CPUs, memory, kernel) and the Inventory message the agent sends after WELCOME and
 * whenever its devices change.
 */
#ifndef FERRY_INVENTORY_H
#define FERRY_INVENTORY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"
#include "ferry.pb-c.h"
#include "vm_registry.h"

#define FERRY_AGENT_VERSION "0.1.0"

struct ferry_host_facts {
	uint32_t cpu_count;         /* online CPUs */
	uint64_t memory_bytes;      /* MemTotal */
	uint64_t free_memory_bytes; /* MemAvailable: what a new VM could get without swapping */
	char kernel_release[65];    /* uname -r; 65 = sizeof utsname.release on Linux */
};

/* Reads the facts of this host: sysconf(_SC_NPROCESSORS_ONLN), /proc/meminfo MemTotal and
 * MemAvailable, uname release. Returns 0 or -errno (-EINVAL if /proc/meminfo lacks a field). */
int ferry_host_facts_read(struct ferry_host_facts *out);

/* Pure: extracts MemTotal and MemAvailable (kB in the file) as bytes from /proc/meminfo text.
 * Returns 0, -EINVAL when a field is missing or malformed, -ERANGE when it overflows. */
int ferry_host_facts_parse_meminfo(const char *text, uint64_t *total, uint64_t *available);

/* An Inventory message with all its storage inside: no heap, so it can live on the stack or in the
 * agent's state and be packed with ferry__v1__inventory__pack() as inv->msg. */
struct ferry_inventory {
	Ferry__V1__Inventory msg;
	Ferry__V1__Device dev_storage[FERRY_MAX_DEVICES];
	Ferry__V1__Device *dev_ptrs[FERRY_MAX_DEVICES];
	Ferry__V1__Vm vm_storage[FERRY_MAX_VMS];
	Ferry__V1__Vm *vm_ptrs[FERRY_MAX_VMS];
	char *vm_device_ids[FERRY_MAX_DEVICES]; /* each device belongs to one VM at most: split among them */
	char host_id[128];
	char data_address[256];
	char agent_version[32];
	struct ferry_host_facts facts;
};

/* Fills inv->msg. host_id and data_address are copied (truncated to their fields); the devices'
 * strings are NOT copied: devices must outlive inv. At most FERRY_MAX_DEVICES devices are taken.
 * vms is empty (see ferry_inventory_set_vms). inv must not be copied by value afterwards (msg
 * points into inv). */
void ferry_inventory_build(struct ferry_inventory *inv, const char *host_id, const struct ferry_host_facts *facts,
			   const char *data_address, const struct ferry_device_info *devices, size_t n_devices);

/* Fills the vms of an inventory built above from the registered VMs: each with the ids of the
 * devices whose config `vm` names it, state RUNNING (INCOMING for a migration destination not yet
 * started), and its pid. Strings are not copied: registry and devices must outlive inv. */
void ferry_inventory_set_vms(struct ferry_inventory *inv, const struct ferry_vm_registry *vms,
			     const struct ferry_device_info *devices, size_t n_devices);

#endif
