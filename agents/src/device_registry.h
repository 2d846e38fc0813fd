/*
 * The agent's devices: every configured device opened through its backend (vfio_backend.h,
 * sim_backend.h) at start and kept open, with what the backend says about it. This is where the
 * Inventory's devices come from (info[]: capabilities, DMA logging, saving-layout need, identity
 * from the compat descriptor, state from get_state, stop-copy size from MIG_DATA_SIZE) and where
 * the migration code finds a device's live handle.
 *
 * A device that cannot be opened or probed stays in the inventory with its configured identity and
 * state UNSPECIFIED, and the reason is logged: the agent keeps running for the other devices.
 * Addresses: vfio devices use their config key `address`; sim devices are
 * "socket=SIM_SOCKET,device=NAME" on the host's ferry-simdevd (simdevd_launch.h).
 *
 * Orphaned devices: a device outlives the agent (kernel devices do; sim devices live in
 * ferry-simdevd), but migrations do not: they live only in the agent's memory, so after an agent
 * restart none owns any device. Whenever a device is opened while no migration holds it, a state
 * other than RUNNING is a leftover of a dead agent's migration and would keep the host from ever
 * migrating the device again. It is returned to RUNNING and logged (device, state found, action):
 * - RESUMING (a partial incoming state, worthless) and ERROR (no other exit): VFIO_DEVICE_RESET.
 * - the source side's PRE_COPY(_P2P), STOP_COPY, STOP, RUNNING_P2P: set_state RUNNING by the
 *   kernel's arcs, as a source rollback does, so the device keeps its internal state and a VM
 *   still using it goes on; a refused request falls back to the reset.
 * Not handled here: a source VM whose vCPUs the dead agent had paused for the cutover stays paused
 * (the workload only drops its throttle when its agent goes away); the operator resumes or stops it.
 */
#ifndef FERRY_DEVICE_REGISTRY_H
#define FERRY_DEVICE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"
#include "device_ops.h"
#include "vm_registry.h"

struct ferry_syscalls;

struct ferry_device_registry {
	size_t n;
	struct ferry_device_info info[FERRY_MAX_DEVICES]; /* as the Inventory reports them */
	struct ferry_device *dev[FERRY_MAX_DEVICES];      /* live handle, NULL when not open */
	struct ferry_mig_caps caps[FERRY_MAX_DEVICES];    /* from probe; zero when not open */
	char error[FERRY_MAX_DEVICES][256];               /* why the device is not open, "" if it is */
	uint64_t configured_stop_copy[FERRY_MAX_DEVICES]; /* the config's estimate, the fallback */
	uint64_t memory_owner[FERRY_MAX_DEVICES];         /* sim: VM registration whose RAM is attached */
	/* A migration holds the handle (migration_manager.c): refresh never closes it under the
	 * migration's threads, even when the device stops answering. */
	bool held[FERRY_MAX_DEVICES];
	char sim_socket[108];
	const struct ferry_syscalls *sys; /* NULL = the real kernel */
};

enum ferry_device_recovery {
	FERRY_RECOVER_NONE,       /* RUNNING */
	FERRY_RECOVER_TO_RUNNING, /* set_state RUNNING (kernel arcs), the reset if refused */
	FERRY_RECOVER_RESET,      /* VFIO_DEVICE_RESET */
};

/* Pure: how an orphaned device found in `state` (enum ferry_mig_state) returns to RUNNING. */
enum ferry_device_recovery ferry_device_recovery_for(uint32_t state);

/* Copies the configured devices and opens each (see above). sim_socket may be "" when the config
 * has no sim device; sys NULL = the real kernel. Never fails as a whole. */
void ferry_device_registry_open(struct ferry_device_registry *r, const struct ferry_agent_config *cfg,
				const char *sim_socket, const struct ferry_syscalls *sys);

/* Before an Inventory: re-reads each device's state and stop-copy size, and tries again to open
 * the devices that are not open. A device that stopped answering is closed, state UNSPECIFIED
 * (unless held: its last known state stays). */
void ferry_device_registry_refresh(struct ferry_device_registry *r);

/* Gives each open sim device whose config `vm` names a registered VM that VM's guest memory (so
 * its DMA writes land in the VM's real RAM), and detaches it when the VM is gone. Returns the
 * number of devices attached or detached by this call. */
size_t ferry_device_registry_sync_memory(struct ferry_device_registry *r, const struct ferry_vm_registry *vms);

/* Index of the device with that id, or -1. */
int ferry_device_registry_find(const struct ferry_device_registry *r, const char *name);

/* Closes every handle (the devices themselves keep their state, as kernel devices do). */
void ferry_device_registry_close(struct ferry_device_registry *r);

#endif
