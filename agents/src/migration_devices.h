/*
 * The seam where passthrough devices join a migration (the device layer plugs in here; memory
 * works without it). A migration calls every hook of its list in order at each step; a hook that
 * fails (negative, reason in err) fails the migration, which then rolls back, calling `rollback`
 * on every hook whose `precopy_start` succeeded.
 *
 * Source: precopy_start when pre-copy begins (devices to PRE_COPY), cutover after the vCPUs froze
 * (P2P quiesce when several, then STOP_COPY), rollback on failure (back to RUNNING).
 * Destination: resuming before the first byte of device state is written (devices to RESUMING;
 * counts as started, so a failure after it rolls back: the devices are reset), resume after memory
 * and device state are loaded, before the vCPUs start (RUNNING, via RUNNING_P2P when several).
 */
#ifndef FERRY_MIGRATION_DEVICES_H
#define FERRY_MIGRATION_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_MIG_MAX_DEVICE_HOOKS 16

struct ferry_mig_device_hook {
	void *ctx;
	int (*precopy_start)(void *ctx, char *err, size_t errlen);
	int (*cutover)(void *ctx, char *err, size_t errlen);
	int (*resuming)(void *ctx, char *err, size_t errlen);
	int (*resume)(void *ctx, char *err, size_t errlen);
	void (*rollback)(void *ctx);
	uint64_t (*stop_copy_bytes)(void *ctx); /* for the expected downtime; NULL = 0 */
};

struct ferry_mig_device_hooks {
	struct ferry_mig_device_hook hooks[FERRY_MIG_MAX_DEVICE_HOOKS];
	size_t n;
	size_t started; /* how many precopy_start (source) / resuming (destination) succeeded */
};

/* Each runs the step on every hook in order and stops at the first failure. 0 or its error. */
int ferry_mig_devices_precopy_start(struct ferry_mig_device_hooks *d, char *err, size_t errlen);
int ferry_mig_devices_cutover(struct ferry_mig_device_hooks *d, char *err, size_t errlen);
int ferry_mig_devices_resuming(struct ferry_mig_device_hooks *d, char *err, size_t errlen);
int ferry_mig_devices_resume(struct ferry_mig_device_hooks *d, char *err, size_t errlen);
void ferry_mig_devices_rollback(struct ferry_mig_device_hooks *d);
uint64_t ferry_mig_devices_stop_copy_bytes(const struct ferry_mig_device_hooks *d);

#endif
