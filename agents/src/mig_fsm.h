/*
 * The VFIO migration v2 device state machine, as the kernel computes it (pure, no I/O).
 *
 * A SET of VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE names only the final state; the kernel's
 * vfio_mig_get_next_state() breaks it into single arcs with a next-step matrix and skips the
 * states the device's capability flags lack. Both backends use this copy of that algorithm: the
 * vfio backend to know which arcs a request will run (which ones open, keep or end a data session)
 * and to refuse requests the kernel would reject or hang on; the sim device to behave exactly as
 * the kernel core does. Facts: /work/shared/reference/vfio-migration-uapi.md sections 1.3-1.7.
 *
 * State and flag values are the kernel's own (enum vfio_device_mig_state, VFIO_MIGRATION_*), so
 * they cross the uAPI unchanged; vfio_uapi.h asserts that they agree with <linux/vfio.h>.
 */
#ifndef FERRY_MIG_FSM_H
#define FERRY_MIG_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ferry_mig_state {
	FERRY_MIG_ERROR = 0,
	FERRY_MIG_STOP = 1,
	FERRY_MIG_RUNNING = 2,
	FERRY_MIG_STOP_COPY = 3,
	FERRY_MIG_RESUMING = 4,
	FERRY_MIG_RUNNING_P2P = 5,
	FERRY_MIG_PRE_COPY = 6,
	FERRY_MIG_PRE_COPY_P2P = 7,
	FERRY_MIG_NR_STATES = 8,
};

/* Capability flags of VFIO_DEVICE_FEATURE_MIGRATION (the kernel's VFIO_MIGRATION_* bits). */
#define FERRY_MIG_FLAG_STOP_COPY (1u << 0)
#define FERRY_MIG_FLAG_P2P (1u << 1)
#define FERRY_MIG_FLAG_PRE_COPY (1u << 2)
#define FERRY_MIG_FLAGS_KNOWN (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)

/* Longest path the matrix produces (RESUMING -> STOP -> RUNNING_P2P -> RUNNING -> PRE_COPY is 4
 * arcs); a caller's path buffer of this size always suffices. */
#define FERRY_MIG_MAX_PATH 8

/* What an arc does to the migration data session (reference section 1.7). */
enum ferry_mig_arc_session {
	FERRY_MIG_SESSION_NONE = 0,   /* no session before or after */
	FERRY_MIG_SESSION_OPEN_SAVING,   /* returns a new read-only data_fd */
	FERRY_MIG_SESSION_OPEN_RESUMING, /* returns a new write-only data_fd */
	FERRY_MIG_SESSION_KEEP,          /* moves inside the saving group: the same fd continues */
	FERRY_MIG_SESSION_END,           /* leaves the saving group or RESUMING: the fd goes dead */
};

/* "STOP", "RUNNING_P2P", ...; "INVALID" for values outside the enum. */
const char *ferry_mig_state_name(uint32_t state);

/* True if `state` is a valid value and the capability `flags` provide it (state_flags_table).
 * ERROR is never "supported": it is only ever an outcome, never a step or a target. */
bool ferry_mig_state_supported(uint32_t state, uint32_t flags);

/* True for PRE_COPY, PRE_COPY_P2P and STOP_COPY: the states that stream a saving session. */
bool ferry_mig_state_is_saving(uint32_t state);

/* The two arcs the kernel refuses and that hang kernels without the 2026 fix (section 1.12). */
bool ferry_mig_arc_is_blocked(uint32_t from, uint32_t to);

/* The kernel's vfio_mig_get_next_state(): the one state to step into from `cur` toward `target`.
 * Returns 0, or -EINVAL when either state is unsupported by `flags`, when `target` is ERROR, or
 * when the arc is blocked. Never loops: the skip walk is bounded and stops at ERROR. */
int ferry_mig_next_step(uint32_t cur, uint32_t target, uint32_t flags, uint32_t *next);

/* The whole path from `cur` to `target`: the states stepped into, in order, excluding `cur`
 * (so cur == target gives *n = 0). `out` holds `cap` entries. Returns 0, -EINVAL as above, or
 * -E2BIG if `cap` is too small. */
int ferry_mig_path(uint32_t cur, uint32_t target, uint32_t flags, uint32_t *out, size_t cap, size_t *n);

/* What the single arc `from` -> `to` does to the data session. Only meaningful for arcs that
 * ferry_mig_next_step can produce. */
enum ferry_mig_arc_session ferry_mig_arc_session(uint32_t from, uint32_t to);

#endif
