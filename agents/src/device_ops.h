/*
 * One interface for every device backend: `vfio` (the real Linux uAPI v2) and `sim` (a simulated
 * device whose model lives outside the agent process, as a kernel device does, so it survives an
 * agent crash). The agent's migration code sees only this ops table.
 *
 * Rules every backend follows (reference: /work/shared/reference/vfio-migration-uapi.md):
 * - Errors are 0 / negative errno codes; ferry_device_error() gives the context of the last one.
 * - set_state names only the final state. The backend runs the kernel's path (mig_fsm.h), never
 *   requests a blocked arc, and after any failed request reads the real state back (and resets
 *   the device if it is in ERROR). get_state afterwards tells the caller where the device is.
 * - The backend owns the data session: it adopts the fd an opening arc returns, closes it when an
 *   arc ends the session, and exposes it to the caller only for poll().
 * - read_data: > 0 bytes; 0 = end of the stream (STOP_COPY only); -ENOMSG = nothing right now
 *   (PRE_COPY(_P2P): both a kernel ENOMSG and a 0-byte read mean this). write_data writes all of
 *   `len` or fails.
 * - dma_log_report zeroes the bitmap itself; if the report fails the bitmap is set all-dirty
 *   (so a caller that carries on stays correct) and the error is returned.
 */
#ifndef FERRY_DEVICE_OPS_H
#define FERRY_DEVICE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mig_fsm.h"

struct ferry_syscalls;

/* What probe learns about a device. */
struct ferry_mig_caps {
	uint32_t mig_flags;  /* FERRY_MIG_FLAG_*; 0 = the kernel/driver offers no migration */
	bool dma_logging;    /* device DMA dirty logging (DMA_LOGGING_START/REPORT/STOP) */
	/* Saving-layout handshake (design discussion behind Ferry): regions whose sparse-mmap layout
	 * userspace must re-evaluate, dropping conflicting mappings, before any saving state; the
	 * device refuses saving states with -EBUSY until complete_saving_layout succeeded.
	 * 0 = the device needs nothing (every real vfio device today). */
	uint64_t saving_layout_regions;
};

/* True if the device can migrate at all (the kernel guarantees STOP_COPY on success). */
static inline bool ferry_mig_caps_migratable(const struct ferry_mig_caps *c)
{
	return (c->mig_flags & FERRY_MIG_FLAG_STOP_COPY) != 0;
}

/* What the coordinator matches between source and destination before any byte moves. The
 * kernel has no pre-flight compatibility query (reference 6.5), so this is all we can compare. */
struct ferry_device_compat {
	uint16_t vendor_id;
	uint16_t device_id;
	char driver[64];            /* bound driver, e.g. "mlx5_vfio_pci" */
	char migration_version[128]; /* backend-defined string, equal on compatible devices */
};

struct ferry_precopy_info {
	uint64_t initial_bytes;
	uint64_t dirty_bytes;
};

/* One DMA logging range; same layout as struct vfio_device_feature_dma_logging_range. */
struct ferry_dma_range {
	uint64_t iova;
	uint64_t length;
};

/* How to reach a device. */
struct ferry_device_open_args {
	const char *address;              /* backend-specific, see each backend's header */
	const struct ferry_syscalls *sys; /* NULL = the real kernel (tests pass a fake one) */
	char *error;                      /* optional: receives the context of an open failure */
	size_t error_cap;
};

struct ferry_device;

struct ferry_device_ops {
	const char *name; /* "vfio", "sim" */
	int (*open)(const struct ferry_device_open_args *args, struct ferry_device **out);
	void (*close)(struct ferry_device *dev); /* closes every fd it owns, frees dev */

	int (*probe)(struct ferry_device *dev, struct ferry_mig_caps *caps);
	int (*get_state)(struct ferry_device *dev, uint32_t *state);
	/* Moves to `target`. *data_fd is the session fd this request opened (owned by the backend;
	 * for poll only), or -1 if it opened none. */
	int (*set_state)(struct ferry_device *dev, uint32_t target, int *data_fd);
	int (*complete_saving_layout)(struct ferry_device *dev, uint64_t regions);

	ssize_t (*read_data)(struct ferry_device *dev, void *buf, size_t len);
	int (*write_data)(struct ferry_device *dev, const void *buf, size_t len);
	int (*precopy_info)(struct ferry_device *dev, struct ferry_precopy_info *info);
	int (*stop_copy_size)(struct ferry_device *dev, uint64_t *bytes);

	/* *page_size: in the wanted granularity, out the one the device chose. */
	int (*dma_log_start)(struct ferry_device *dev, const struct ferry_dma_range *ranges, uint32_t n,
			     uint64_t *page_size);
	/* Bit k of `bitmap` (u64 words, LSB first) = page iova + k * page_size was written by DMA.
	 * `words` is the bitmap's size; it must hold ceil(length / page_size) bits. */
	int (*dma_log_report)(struct ferry_device *dev, uint64_t iova, uint64_t length, uint64_t page_size,
			      uint64_t *bitmap, size_t words);
	int (*dma_log_stop)(struct ferry_device *dev);

	int (*reset)(struct ferry_device *dev); /* -> RUNNING, any data session ends */
	int (*compat)(struct ferry_device *dev, struct ferry_device_compat *out);
};

/* Every backend's device object starts with this. */
struct ferry_device {
	const struct ferry_device_ops *ops;
	char error[160]; /* context of the last failure, "" if none */
};

static inline const char *ferry_device_error(const struct ferry_device *dev)
{
	return dev->error;
}

#endif
