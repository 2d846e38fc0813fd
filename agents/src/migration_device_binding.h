/*
 * Which of this host's devices take part in a migration, and under which names the two sides know
 * them. The source takes every device whose config `vm` is the VM (each must be open: a VM cannot
 * leave a device behind); the destination matches PrepareDestination.devices against its free
 * open devices (migration_device_match.h) and remembers, for each, the source's device id, which
 * is what DEVICE_CHUNK frames carry.
 *
 * A device is free for a destination when its config `vm` is empty or names the incoming VM, no
 * other unfinished migration holds it (`busy`, indexed like the registry), and it is idle: in
 * RUNNING (opened or reset) or STOP (its VM migrated away), the states the kernel's path to
 * RESUMING starts from without breaking anyone's session. A twin in another state (ERROR, a
 * saving or resuming session, RUNNING_P2P) or whose state cannot be read is passed over.
 *
 * Proto note: Device carries saving_layout_handshake as a bool, not the region mask, so matching
 * compares "needs the handshake" on both sides.
 */
#ifndef FERRY_MIGRATION_DEVICE_BINDING_H
#define FERRY_MIGRATION_DEVICE_BINDING_H

#include <stdbool.h>
#include <stddef.h>

#include "device_registry.h"
#include "ferry.pb-c.h"
#include "migration.h"
#include "migration_device_set.h"

struct ferry_mig_device_binding {
	struct ferry_mig_device_set set;
	int reg_index[FERRY_GROUP_MAX_DEVICES];                 /* registry index of member i */
	char peer[FERRY_GROUP_MAX_DEVICES][FERRY_MIG_DEVICE_NAME_MAX]; /* the other side's id of member i */
};

/* Source: *out = NULL when the VM has no device; else a heap binding (free with free()).
 * 0, or -ENODEV (a device of the VM is not open or busy), -ENOMEM, or the set's init error; the
 * reason in err. */
int ferry_mig_device_binding_source(const struct ferry_device_registry *r, const char *vm_id, const bool *busy,
				    struct ferry_mig_device_binding **out, char *err, size_t errlen);

/* Destination: *out = NULL when n_want is 0. Errors as above (-ENODEV: no free twin, see
 * migration_device_match.h; the reason also names each twin passed over and its state). */
int ferry_mig_device_binding_destination(const struct ferry_device_registry *r, const char *vm_id,
					 Ferry__V1__Device *const *want, size_t n_want, const bool *busy,
					 struct ferry_mig_device_binding **out, char *err, size_t errlen);

/* Fills rep->devices from the set (reads every device). Only from the thread that drives the
 * set at that time (the source worker; the destination once its receivers are done). */
void ferry_mig_device_binding_report(struct ferry_mig_device_binding *b, struct ferry_mig_report *rep);

/* Makes every executed device step of the set a report of migration m (see
 * ferry_mig_report.device_step). The event loop turns them into Event frames. */
void ferry_mig_device_binding_observe(struct ferry_mig_device_binding *b, struct ferry_migration *m);

/* Index of the member the peer calls `peer_id`, or -1. */
int ferry_mig_device_binding_find_peer(const struct ferry_mig_device_binding *b, const char *peer_id);

#endif
