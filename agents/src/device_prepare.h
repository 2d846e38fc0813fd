/*
 * The saving-layout handshake (DESIGN.md, "Devices: the VFIO handshake"; reference 4.5): a device
 * may announce regions (ferry_mig_caps.saving_layout_regions, a 64-bit mask of region indexes)
 * whose sparse-mmap layout userspace must re-evaluate for saving, dropping every conflicting
 * mapping, before it may enter a saving state (PRE_COPY, PRE_COPY_P2P, STOP_COPY); until then the
 * device refuses the request with -EBUSY. This file is the agent's side: before any request that
 * opens a saving session, complete the handshake; a device that announces nothing needs nothing.
 *
 * The agent maps no device region itself, so completing means telling the device it is done
 * (complete_saving_layout(mask)). A device still busy re-evaluating answers -EAGAIN and is asked
 * again until the deadline; a refusal or the deadline fails cleanly: no saving state was requested,
 * the device is where it was (RUNNING), and the error says which device, which regions and why.
 */
#ifndef FERRY_DEVICE_PREPARE_H
#define FERRY_DEVICE_PREPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_ops.h"

#define FERRY_SAVING_LAYOUT_TIMEOUT_MS 5000u
#define FERRY_SAVING_LAYOUT_RETRY_MS 10u

/* Time for the handshake's deadline; tests pass a fake one. NULL members = the real clock. */
struct ferry_prepare_clock {
	uint64_t (*now_ms)(void *ctx);
	void (*sleep_ms)(void *ctx, uint64_t ms);
	void *ctx;
};

struct ferry_prepare_opts {
	uint64_t timeout_ms;                /* 0 = FERRY_SAVING_LAYOUT_TIMEOUT_MS */
	const struct ferry_prepare_clock *clock; /* NULL = the real clock */
};

/* True if moving from `from` to `target` with these flags opens a saving session (the arc that the
 * handshake guards). False also for requests the kernel would refuse. */
bool ferry_request_opens_saving(uint32_t from, uint32_t target, uint32_t mig_flags);

/* Completes the handshake if the device needs it. 0 (done, or nothing needed), -ETIMEDOUT, or the
 * device's refusal; reason in err, naming the device (`name`). */
int ferry_device_prepare_saving(struct ferry_device *dev, const char *name, const struct ferry_mig_caps *caps,
				const struct ferry_prepare_opts *opts, char *err, size_t errlen);

/* set_state(target), preceded by the handshake when the request opens a saving session (current
 * state `from`). On failure the error names the device, the request and where the device is now
 * (read back); *state is the device's state afterwards (read back after a failure). */
int ferry_device_request(struct ferry_device *dev, const char *name, const struct ferry_mig_caps *caps,
			 uint32_t from, uint32_t target, const struct ferry_prepare_opts *opts, uint32_t *state,
			 int *data_fd, char *err, size_t errlen);

#endif
