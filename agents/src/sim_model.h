/*
 * The sim device's model: a pure library (no I/O, no clock, no threads) that behaves exactly as
 * the kernel core plus a strict driver would (reference: /work/shared/reference/vfio-migration-
 * uapi.md; the driver half is modelled on samples/vfio-mdev/mtty.c).
 *
 * - set_state(target) walks the kernel's path one arc at a time with mig_fsm (vfio_mig_get_next_
 *   state): the same requests are -EINVAL (unsupported state, ERROR as target, anything while in
 *   ERROR, the blocked STOP_COPY -> PRE_COPY(_P2P) arcs), and a session opens only on the arcs the
 *   kernel returns a data_fd for (R->PC, RP->PP, S->SC saving; S->RS resuming). A failed arc leaves
 *   the device where it failed, or in ERROR (injected faults).
 * - Data sessions are numbered (a stand-in for the data_fd): reads/writes name the session, and
 *   one that has ended or was killed by reset answers -ENODEV, as mtty/mlx5 dead fds do.
 * - The device's internal state (state_bytes of it) changes while it runs (RUNNING, RUNNING_P2P,
 *   PRE_COPY, PRE_COPY_P2P) at change_bytes_per_sec, one whole stream block per update (so the
 *   pre-copy data it makes follows that rate), and it DMA-writes into the guest memory it is
 *   attached to at dma_bytes_per_sec; both are driven by advance(elapsed_ns) and a seeded PRNG, so
 *   the same seed and the same advances give the same bytes. DMA lands in a window of guest memory
 *   (dma_offset, dma_length; the whole of it by default), as cache lines of random bytes, or with
 *   FERRY_SIM_DMA_SELFCHECK as whole pages in the workload's page format (page_check.h: index,
 *   generation + 1, checksum), like a NIC writing well-formed packets into its receive buffers.
 * - Saving: a PRE_COPY read returns -ENOMSG when nothing is pending right now; STOP_COPY ends the
 *   stream with a 0-byte read. Resuming: the stream (sim_stream.h) is checked as it arrives and
 *   replaces the live state only at RESUMING -> STOP, when it is complete and verified: swapped
 *   in, the replaced state retired until the host frees it (ferry_sim_model_free_retired).
 * - Saving-layout handshake: a device with saving_layout_regions != 0 refuses (-EBUSY, nothing
 *   changed) any request whose path enters a saving state until complete_saving_layout(regions)
 *   succeeded; the handshake is undone whenever a request ends in RUNNING, and by reset.
 * - Injected faults: fail one arc (stay in its source state, or go to ERROR); break the STOP_COPY
 *   stream (reads fail -EIO; the next arc out of STOP_COPY fails into ERROR); refuse resuming data
 *   (writes fail -EIO). Reset leaves ERROR: the device returns to RUNNING and every session dies.
 */
#ifndef FERRY_SIM_MODEL_H
#define FERRY_SIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "device_ops.h"

#define FERRY_SIM_MAX_STATE_BYTES (UINT64_C(256) << 20)

enum ferry_sim_fail_mode {
	FERRY_SIM_FAIL_STAY = 0,     /* the arc fails, the device stays in the arc's source state */
	FERRY_SIM_FAIL_TO_ERROR = 1, /* the arc fails and the device is left in ERROR */
};

struct ferry_sim_faults {
	bool fail_arc;
	uint32_t fail_arc_from, fail_arc_to; /* the single arc that fails (-EIO) */
	enum ferry_sim_fail_mode fail_arc_mode;
	bool error_in_stop_copy;   /* STOP_COPY stream breaks; leaving STOP_COPY lands in ERROR */
	bool refuse_resuming_data; /* writes to a resuming session fail -EIO */
};

enum ferry_sim_dma_pattern {
	FERRY_SIM_DMA_RANDOM = 0,    /* 64-byte writes of random bytes anywhere in the window */
	FERRY_SIM_DMA_SELFCHECK = 1, /* 4 KiB pages that pass the workload's self-check */
};

struct ferry_sim_config {
	uint16_t vendor_id, device_id;
	char migration_version[128];
	uint32_t mig_flags;             /* FERRY_MIG_FLAG_*: STOP_COPY plus optional P2P, PRE_COPY */
	bool dma_logging;
	uint64_t saving_layout_regions; /* 0 = no handshake */
	uint64_t state_bytes;           /* 1 .. FERRY_SIM_MAX_STATE_BYTES */
	uint64_t change_bytes_per_sec;
	uint64_t dma_bytes_per_sec;
	enum ferry_sim_dma_pattern dma_pattern;
	uint64_t dma_offset, dma_length; /* the DMA window, 4 KiB aligned; length 0 = to the end */
	uint64_t seed;
	struct ferry_sim_faults faults;
};

struct ferry_sim_model;

/* -EINVAL for a config the kernel could not present (no STOP_COPY, unknown flags, bad size, a DMA
 * window not aligned to 4 KiB, an unknown DMA pattern), or
 * -ENOMEM; the reason in err. The device starts in RUNNING with state bytes derived from seed. */
int ferry_sim_model_create(const struct ferry_sim_config *cfg, struct ferry_sim_model **out, char *err,
			   size_t errlen);
void ferry_sim_model_destroy(struct ferry_sim_model *m);

const struct ferry_sim_config *ferry_sim_model_config(const struct ferry_sim_model *m);
/* Context of the last failure, "" if none. */
const char *ferry_sim_model_error(const struct ferry_sim_model *m);
void ferry_sim_model_set_faults(struct ferry_sim_model *m, const struct ferry_sim_faults *faults);

uint32_t ferry_sim_model_state(const struct ferry_sim_model *m);
/* The live data session, 0 if none. */
uint64_t ferry_sim_model_session(const struct ferry_sim_model *m);

/* Moves to `target` as the kernel does. *opened = the session this request opened, 0 if none.
 * 0, -EINVAL (the kernel's refusals), -EBUSY (saving layout pending), or the failed arc's error. */
int ferry_sim_model_set_state(struct ferry_sim_model *m, uint32_t target, uint64_t *opened);
/* The arcs the last set_state executed (successful ones, plus the failed one last); for tests. */
size_t ferry_sim_model_last_arcs(const struct ferry_sim_model *m, uint32_t (*out)[2], size_t cap);

int ferry_sim_model_complete_saving_layout(struct ferry_sim_model *m, uint64_t regions);
bool ferry_sim_model_saving_layout_done(const struct ferry_sim_model *m);

/* Saving session reads: > 0 bytes, 0 = end of stream (STOP_COPY), -ENOMSG (PRE_COPY, nothing
 * now), -ENODEV (dead session), -EINVAL (not a saving session), -EIO (injected). */
ssize_t ferry_sim_model_read(struct ferry_sim_model *m, uint64_t session, void *buf, size_t len);
/* Resuming session writes: all of len or an error (-EINVAL bad stream, -ENODEV, -EIO). */
ssize_t ferry_sim_model_write(struct ferry_sim_model *m, uint64_t session, const void *buf, size_t len);
/* -EINVAL outside PRE_COPY/PRE_COPY_P2P, -ENODEV for a dead session. */
int ferry_sim_model_precopy_info(struct ferry_sim_model *m, uint64_t session, struct ferry_precopy_info *info);
/* MIG_DATA_SIZE: what STOP_COPY would still stream if the state froze now. */
uint64_t ferry_sim_model_stop_copy_size(const struct ferry_sim_model *m);

/* Time passes: while running, the state changes and DMA writes land in guest memory. */
void ferry_sim_model_advance(struct ferry_sim_model *m, uint64_t elapsed_ns);
/* Guest memory the device DMA-writes into (iova 0 = mem[0]); NULL/0 detaches. */
void ferry_sim_model_attach_memory(struct ferry_sim_model *m, void *mem, uint64_t len);

int ferry_sim_model_dma_log_start(struct ferry_sim_model *m, const struct ferry_dma_range *ranges, uint32_t n,
				  uint64_t *page_size);
int ferry_sim_model_dma_log_report(struct ferry_sim_model *m, uint64_t iova, uint64_t length, uint64_t page_size,
				   uint64_t *bitmap, size_t words);
int ferry_sim_model_dma_log_stop(struct ferry_sim_model *m);

/* VFIO_DEVICE_RESET: RUNNING, sessions dead, handshake undone, an unfinished resume discarded. */
void ferry_sim_model_reset(struct ferry_sim_model *m);

/* A committed resume swaps the received state in and retires the replaced one instead of freeing
 * it there (freeing 64 MiB is page-table work inside the downtime): the host frees it when idle. */
bool ferry_sim_model_has_retired(const struct ferry_sim_model *m);
void ferry_sim_model_free_retired(struct ferry_sim_model *m);

/* The live per-block CRCs of the state (sim_block_crc.h), for tests. */
const uint32_t *ferry_sim_model_block_crcs(const struct ferry_sim_model *m);

/* The live internal state (state_bytes long), for checks and round-trip tests. */
const uint8_t *ferry_sim_model_state_bytes(const struct ferry_sim_model *m);
uint32_t ferry_sim_model_state_crc(const struct ferry_sim_model *m);

#endif
