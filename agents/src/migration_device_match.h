/*
 * Matching a migration's devices on the destination: PrepareDestination carries the source's
 * devices, and each must be given one free device here with the same identity (vendor id, device
 * id, driver, migration_version) and the same migration capabilities (flags, DMA logging,
 * saving-layout regions), since the kernel has no compatibility query of its own (reference 6.5)
 * and a stream is only accepted by its twin. Sameness is an equivalence, so taking the first free
 * twin for each source device in order finds an assignment whenever one exists.
 */
#ifndef FERRY_MIGRATION_DEVICE_MATCH_H
#define FERRY_MIGRATION_DEVICE_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device_ops.h"

struct ferry_mig_device_desc {
	const char *name;
	struct ferry_device_compat compat;
	struct ferry_mig_caps caps;
};

/* Pure: out[i] = index in `local` of the device for want[i]. `busy` (may be NULL) marks local
 * devices that are taken (another VM's, another migration's). 0, or -ENODEV with a reason naming
 * the source device, what it needs, and why nothing here fits. */
int ferry_mig_device_match(const struct ferry_mig_device_desc *want, size_t n_want,
			   const struct ferry_mig_device_desc *local, const bool *busy, size_t n_local, size_t *out,
			   char *err, size_t errlen);

#endif
