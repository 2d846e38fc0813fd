/*
 * A VM's passthrough devices inside one live migration: the device group (device_group.h) is the
 * executor of the migration's device hooks (migration_devices.h), and this file adds what the
 * streaming engine needs around it: each device's migration data stream cut into DEVICE_CHUNKs
 * (offset, stop_copy, end_of_stream) on the source, and put back together strictly in order on
 * the destination.
 *
 *   source       precopy_start: group PRECOPY (saving-layout handshake first, P2P order)
 *                read: pre-copy data while devices are in PRE_COPY (-ENOMSG = nothing now)
 *                cutover (vCPUs frozen): group QUIESCE, then STOP_COPY
 *                read: the stop-copy data, then one empty chunk with end_of_stream
 *                stop: every device STOP_COPY -> STOP (the data session ends)
 *                rollback: group rollback (RUNNING, reverse order)
 *   destination  resuming: group RESUMING, before any device byte is written
 *                write: chunk CRC checked, offset must be exactly the bytes written so far (an
 *                       out-of-order chunk or a gap is an error), nothing after end_of_stream
 *                resume: every stream ended, then group PREPARE_START (RUNNING_P2P) and START
 *                rollback: group rollback (every device not RUNNING is reset)
 *
 * Threads: the migration worker is the only caller once the migration runs.
 */
#ifndef FERRY_MIGRATION_DEVICE_SET_H
#define FERRY_MIGRATION_DEVICE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "device_group.h"
#include "migration_devices.h"

#define FERRY_MIG_DEVICE_NAME_MAX 64

/* One device's stream position. */
struct ferry_mig_device_stream {
	uint64_t offset;          /* source: bytes read so far; destination: bytes written so far */
	bool ended;               /* end_of_stream sent (source) / received (destination) */
	uint64_t precopy_bytes;   /* of offset: read/written before STOP_COPY */
	uint64_t stop_copy_bytes; /* of offset: read/written in STOP_COPY */
};

struct ferry_mig_device_set {
	struct ferry_device_group g;
	char names[FERRY_GROUP_MAX_DEVICES][FERRY_MIG_DEVICE_NAME_MAX];
	struct ferry_mig_device_stream st[FERRY_GROUP_MAX_DEVICES];
	bool stop_copy; /* source: the devices are in STOP_COPY, reads are the final state */
};

/* Where a chunk read by ferry_mig_device_set_read belongs. */
struct ferry_mig_device_chunk {
	uint32_t device; /* index in the set */
	uint64_t offset;
	bool stop_copy;
	bool end_of_stream;
};

/* What Progress.devices reports for one device. */
struct ferry_mig_device_progress {
	const char *name;
	uint32_t state; /* FERRY_MIG_*, FERRY_MIG_NR_STATES if unreadable */
	uint64_t precopy_initial_bytes, precopy_dirty_bytes;
	uint64_t stop_copy_bytes; /* MIG_DATA_SIZE now */
	uint64_t bytes_sent;      /* source: sent; destination: received */
};

/* Sets up the set over `members` (caps probed, names copied) with the group's checks.
 * 0 or -EOPNOTSUPP / -E2BIG / -ENAMETOOLONG with the reason in err. */
int ferry_mig_device_set_init(struct ferry_mig_device_set *set, enum ferry_group_role role,
			      const struct ferry_group_member *members, size_t n, char *err, size_t errlen);

/* Appends this set to `hooks` as the executor of its steps. -E2BIG if the list is full. */
int ferry_mig_device_set_register(struct ferry_mig_device_set *set, struct ferry_mig_device_hooks *hooks);

/* Source: the next piece of device i's stream, at most cap bytes, into buf.
 * > 0: that many bytes, *chunk says where they go. 0: the empty last chunk (chunk->end_of_stream).
 * -ENOMSG: nothing now (pre-copy), or the stream already ended, or the device saves nothing.
 * Other negatives: the device failed (reason in err). */
ssize_t ferry_mig_device_set_read(struct ferry_mig_device_set *set, size_t i, void *buf, size_t cap,
				  struct ferry_mig_device_chunk *chunk, char *err, size_t errlen);

/* Source, after the last chunk of every device was sent: STOP_COPY -> STOP. 0 or the error. */
int ferry_mig_device_set_stop(struct ferry_mig_device_set *set, char *err, size_t errlen);

/* Destination: one received chunk for device `name`. 0; -ENODEV (no such device in the set),
 * -EBADMSG (checksum), -EPROTO (out of order, gap, or data after end_of_stream), or the device's
 * write error; the reason in err. */
int ferry_mig_device_set_write(struct ferry_mig_device_set *set, const char *name, uint64_t offset, bool stop_copy,
			       bool end_of_stream, uint32_t payload_crc32c, const void *payload, size_t len, char *err,
			       size_t errlen);

/* Either side: device i's progress (reads the device; a failure leaves zeroes and state
 * FERRY_MIG_NR_STATES). */
void ferry_mig_device_set_progress(struct ferry_mig_device_set *set, size_t i, struct ferry_mig_device_progress *out);

/* The bytes STOP_COPY would still stream, over every device (MIG_DATA_SIZE), for the expected
 * downtime. */
uint64_t ferry_mig_device_set_stop_copy_bytes(struct ferry_mig_device_set *set);

#endif
