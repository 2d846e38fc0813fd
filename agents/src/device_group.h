/*
 * A VM's devices moving together, in the order QEMU uses (reference section 6.1): stopping
 * devices one at a time would let a device that still runs DMA into a peer that already stopped,
 * so with several devices every one is first "P2P quiesced" (RUNNING_P2P / PRE_COPY_P2P: no new
 * peer-to-peer DMA, still answering incoming) before any stops, and on start every one is brought
 * to RUNNING_P2P before any runs.
 *
 *   source       RUNNING -> PRE_COPY (devices with PRE_COPY; pre-copy data flows)      PRECOPY
 *                -> all to PRE_COPY_P2P / RUNNING_P2P (devices with P2P)               QUIESCE
 *                -> all to STOP_COPY (vCPUs stopped in between, by the caller)          STOP_COPY
 *   destination  -> all to RESUMING (device state is written)                           RESUMING
 *                -> all to RUNNING_P2P (devices with P2P; RESUMING -> STOP commits)     PREPARE_START
 *                -> all to RUNNING                                                      START
 *   rollback     source: stopped/quiesced devices to RUNNING_P2P, then all to RUNNING, both in
 *                reverse device order; a device in ERROR is reset. destination: every device not
 *                RUNNING is reset (the only way to abandon a RESUMING session), in reverse order.
 *
 * A VM with two or more devices where one lacks P2P cannot keep that promise and is refused
 * (ferry_group_check, a pure function the coordinator's pre-flight mirrors), as QEMU's
 * vfio_block_multiple_devices_migration does.
 *
 * The planning is pure (states and flags in, steps out) and tested on its own; the executor runs
 * the steps over device_ops, with the saving-layout handshake before each saving request
 * (device_prepare.h), and rolls back on any failure.
 */
#ifndef FERRY_DEVICE_GROUP_H
#define FERRY_DEVICE_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_ops.h"
#include "device_prepare.h"

#define FERRY_GROUP_MAX_DEVICES 16
/* A step whose target is this resets the device (VFIO_DEVICE_RESET) instead of requesting a state;
 * ERROR is never a requestable state, so the value cannot mean anything else. */
#define FERRY_GROUP_RESET FERRY_MIG_ERROR

enum ferry_group_role { FERRY_GROUP_SOURCE = 1, FERRY_GROUP_DESTINATION = 2 };

enum ferry_group_stage {
	FERRY_STAGE_PRECOPY = 1,
	FERRY_STAGE_QUIESCE,
	FERRY_STAGE_STOP_COPY,
	FERRY_STAGE_RESUMING,
	FERRY_STAGE_PREPARE_START,
	FERRY_STAGE_START,
};

struct ferry_group_step {
	uint32_t device; /* index in the group */
	uint32_t target; /* state, or FERRY_GROUP_RESET */
};

/* Pure: may these devices migrate together? 0, or -EOPNOTSUPP with the reason (a device without
 * STOP_COPY cannot migrate at all; with >= 2 devices every one needs P2P). */
int ferry_group_check(const char *const *names, const uint32_t *mig_flags, size_t n, char *why, size_t whylen);

/* Pure: the steps of `stage` for devices in `states` with `mig_flags` (out holds n). Returns the
 * number of steps. Devices already at a stage's target get no step. */
size_t ferry_group_plan(enum ferry_group_stage stage, const uint32_t *mig_flags, const uint32_t *states, size_t n,
			struct ferry_group_step *out);

/* Pure: the rollback steps (out holds 2 * n) that return every device to RUNNING, see above. */
size_t ferry_group_plan_rollback(enum ferry_group_role role, const uint32_t *mig_flags, const uint32_t *states,
				 size_t n, struct ferry_group_step *out);

const char *ferry_group_stage_name(enum ferry_group_stage stage);

struct ferry_group_member {
	const char *name;
	struct ferry_device *dev;
	struct ferry_mig_caps caps;
	uint32_t state; /* last known */
	int data_fd;    /* poll handle of the session the last request opened, -1 = none */
};

struct ferry_device_group {
	enum ferry_group_role role;
	size_t n;
	struct ferry_group_member m[FERRY_GROUP_MAX_DEVICES];
	struct ferry_prepare_opts prepare;
	/* Optional observer of every executed step (rc = its result), for logs and tests. */
	void (*on_step)(void *ctx, const struct ferry_group_step *step, int rc);
	void *on_step_ctx;
};

/* Sets up a group of devices (probed caps given) and checks it with ferry_group_check.
 * 0 or -EOPNOTSUPP / -E2BIG with the reason in err. */
int ferry_device_group_init(struct ferry_device_group *g, enum ferry_group_role role,
			    const struct ferry_group_member *members, size_t n, char *err, size_t errlen);

/* Runs one stage: reads every device's state, plans, executes. On any failure the group is rolled
 * back (every device RUNNING) and the first error is returned, with what happened in err. */
int ferry_device_group_run(struct ferry_device_group *g, enum ferry_group_stage stage, char *err, size_t errlen);

/* Returns every device to RUNNING (see above), carrying on past failures. 0 when every device is
 * RUNNING afterwards, else the first error with the devices that are not in err. */
int ferry_device_group_rollback(struct ferry_device_group *g, char *err, size_t errlen);

#endif
