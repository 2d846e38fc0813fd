/* Internal to the source side (migration_source.c, stream_sender.c): its record and the round
 * sender. Not for other callers. */
#ifndef FERRY_MIGRATION_SOURCE_IMPL_H
#define FERRY_MIGRATION_SOURCE_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dirty_bitmap.h"
#include "dirty_tracker.h"
#include "migration.h"
#include "migration_devices.h"
#include "migration_dma_log.h"
#include "net.h"
#include "stream_bucket.h"
#include "workload_ipc.h"

struct ferry_migration_source {
	struct ferry_migration *m;
	char destination[FERRY_NET_ADDR_MAX];
	char control_path[FERRY_VM_CONTROL_PATH_MAX];
	pid_t pid;
	uint64_t base, ram_bytes, npages;
	const uint8_t *ram; /* read-only MAP_SHARED mapping of the guest-RAM memfd */
	struct ferry_dirty_tracker *tracker;
	struct ferry_mig_device_hooks devices;
	struct ferry_mig_dma_log dma; /* the worker's */
	int fds[FERRY_MIG_MAX_CHANNELS]; /* data channels, -1 when closed */
	unsigned n_channels;
	/* (m->lock) */
	struct ferry_mig_policy policy;
	bool force_cutover;
	bool abort;
	char abort_reason[FERRY_MIG_ERROR_MAX / 2]; /* the Abort command's reason */
	/* The bandwidth cap, shared by the channel threads. */
	pthread_mutex_t bucket_lock;
	struct ferry_token_bucket bucket;
	atomic_uint_fast64_t batches_sent; /* over the whole migration, for the test fault */
	uint64_t corrupt_batch;            /* FERRY_TEST_CORRUPT_BATCH, 0 = off */
	bool corrupt_vcpu_state;           /* FERRY_TEST_CORRUPT_VCPU_STATE=1 */
	uint64_t tear_page;                /* FERRY_TEST_TEAR_PAGE plus 1, 0 = off */
	pthread_t worker;
	bool worker_started;
	atomic_bool worker_done;
	uint64_t ram_bytes_sent;
	/* The round in flight, added to by its channel threads: RAM and device payload sent so far. */
	atomic_uint_fast64_t round_ram_bytes, round_device_bytes;
	/* The last end-of-round report (the worker's), repeated by mid-round reports. */
	struct ferry_mig_report last_report;
	bool have_last_report;
};

/* How often a round in flight is reported (mid_round Progress), in ns. */
#define FERRY_MID_ROUND_REPORT_NS 1000000000ull

/* What one round sent, over all channels. */
struct ferry_round_stats {
	uint64_t batches, pages, zero_pages, payload_bytes;
};

/* Sends the pages set in `bm` as round `round` over every channel, in parallel; each channel ends
 * with END_OF_ROUND (final: the stop-and-copy round) and waits for its ROUND_ACK. `vcpu_state`
 * (final round only, may be NULL; the `export` reply from "vcpus=" on) goes as a VCPU_STATE frame
 * on channel 0 before its END_OF_ROUND.
 * 0, or a negative error with *code (ferry.v1.ErrorCode) and the reason in err. */
int ferry_stream_send_round(struct ferry_migration_source *s, const struct ferry_dirty_bitmap *bm, uint32_t round,
			    bool final, const char *vcpu_state, struct ferry_round_stats *stats, int *code, char *err,
			    size_t errlen);

/* Posts a mid-round Progress of pre-copy round `round`, `elapsed_ns` after it began (worker). */
void ferry__source_report_mid_round(struct ferry_migration_source *s, uint32_t round, uint64_t elapsed_ns);

/* The guest writes page `page` through the workload's `how` command ("touch": whole, "tear": half
 * of it), and this returns after the write: for FERRY_TEST_TEAR_PAGE. 0, or -errno with the reason
 * in err. */
int ferry__source_write_page(struct ferry_migration_source *s, uint64_t page, const char *how, char *err,
			     size_t errlen);

/* Whether the coordinator aborted (read under m->lock). */
bool ferry__source_aborted(struct ferry_migration_source *s);

#endif
