/*
 * Device descriptors: what the agent knows about one passthrough device (from the config file,
 * then from its backend once the device registry opened it) and its ferry.v1.Device wire form.
 */
#ifndef FERRY_DEVICE_H
#define FERRY_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "ferry.pb-c.h"

/* Same numbers as ferry.v1.DeviceBackend on the wire (0 = UNSPECIFIED is never a valid backend). */
enum ferry_device_backend {
	FERRY_BACKEND_VFIO = FERRY__V1__DEVICE_BACKEND__DEVICE_BACKEND_VFIO, /* 1 */
	FERRY_BACKEND_SIM = FERRY__V1__DEVICE_BACKEND__DEVICE_BACKEND_SIM,   /* 2 */
};

/* Bits of migration_flags: ferry.v1.MigrationCapability values, which are the kernel's
 * VFIO_MIGRATION_STOP_COPY / P2P / PRE_COPY bits. */
#define FERRY_MIGRATION_STOP_COPY ((uint32_t)FERRY__V1__MIGRATION_CAPABILITY__MIGRATION_CAPABILITY_STOP_COPY)
#define FERRY_MIGRATION_P2P ((uint32_t)FERRY__V1__MIGRATION_CAPABILITY__MIGRATION_CAPABILITY_P2P)
#define FERRY_MIGRATION_PRE_COPY ((uint32_t)FERRY__V1__MIGRATION_CAPABILITY__MIGRATION_CAPABILITY_PRE_COPY)

/* What only a simulated device has: how its model behaves (ferry-simdevd reads these from the
 * agent's config file; unset keys take ferry-simdevd's defaults). */
struct ferry_sim_device_keys {
	bool has_change_rate, has_dma_rate, has_seed;
	uint64_t change_rate; /* bytes of internal state changed per second while running */
	uint64_t dma_rate;    /* bytes DMA-written into guest memory per second while running */
	uint64_t seed;        /* PRNG seed of the model (default: derived from the device name) */
	bool dma_selfcheck;   /* dma_pattern = selfcheck: DMA writes pages in the workload's format */
	uint64_t dma_offset, dma_length; /* DMA window in guest memory (length 0: to its end) */
};

struct ferry_device_info {
	char name[64];             /* unique on the host: PCI address or sim device name */
	enum ferry_device_backend backend;
	uint16_t vendor_id;
	uint16_t device_id;
	char driver[64];           /* e.g. "mlx5_vfio_pci", "ferry-sim" */
	uint32_t migration_flags;  /* OR of FERRY_MIGRATION_* */
	bool dma_logging;          /* DMA_LOGGING_START/REPORT/STOP supported */
	bool saving_layout_handshake;
	char migration_version[128]; /* opaque; equal strings are compatible */
	char vm_id[128];           /* attached VM, empty when the device is free */
	uint64_t stop_copy_bytes;  /* MIG_DATA_SIZE estimate */
	int state; /* ferry.v1.DeviceState wire value (kernel state + 1); 0 = UNSPECIFIED: not opened
		    * by a backend (yet, or the open failed) */
	char address[256];         /* vfio: "cdev=...,pci=..." or "group=N,pci=..." (vfio_backend.h) */
	struct ferry_sim_device_keys sim; /* backend = sim only */
};

/* ferry.v1.DeviceState value of a kernel (enum ferry_mig_state) state: the wire reserves 0. */
static inline int ferry_device_state_to_wire(uint32_t kernel_state)
{
	return kernel_state < 8 ? (int)kernel_state + 1 : 0;
}

/* Fills *out (initialised here) from *d. out's strings point into d: no allocation, so d must
 * outlive every use of out (packing included). */
void ferry_device_to_proto(const struct ferry_device_info *d, Ferry__V1__Device *out);

/* "sim" / "vfio", or "unknown" for a value outside the enum. */
const char *ferry_device_backend_name(enum ferry_device_backend backend);

#endif
