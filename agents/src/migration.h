/*
 * One migration on this agent: the record both roles share, and the reports its threads hand to
 * the event loop.
 *
 * Threads: the event loop (main thread) creates migrations from Commands, and owns the control
 * link, the VM listener and every migration's teardown. A source migration runs one worker thread
 * (plus one thread per data channel during a round); a destination runs one receiver thread per
 * data channel. Fields marked (lock) are shared and read or written under m->lock; the rest are
 * set before the threads start or belong to one thread. Threads never call into the event loop:
 * they queue reports (struct ferry_mig_report) and ring the reporter's eventfd.
 */
#ifndef FERRY_MIGRATION_H
#define FERRY_MIGRATION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "migration_fsm.h"

#define FERRY_MIG_ID_MAX 128
#define FERRY_MIG_TOKEN_MAX 64
#define FERRY_MIG_MAX_CHANNELS 16
#define FERRY_MIG_ERROR_MAX 256
#define FERRY_MIG_REPORT_QUEUE 256
#define FERRY_MIG_REPORT_DEVICES 8 /* Progress.devices carries at most this many (queue memory) */

/* The coordinator's policy for a source. Defaults fill what it leaves 0. */
struct ferry_mig_policy {
	uint64_t max_downtime_ms;
	uint64_t bandwidth_bytes_per_sec; /* 0 = uncapped */
	uint32_t max_rounds;
	uint32_t channels;
	uint32_t throttle_percent; /* applied by the migration manager (migration_throttle.h) */
};

#define FERRY_MIG_DEFAULT_MAX_DOWNTIME_MS 300u
#define FERRY_MIG_DEFAULT_MAX_ROUNDS 30u

/* A Progress report, queued by a migration thread for the event loop to send. */
struct ferry_mig_report {
	char migration_id[FERRY_MIG_ID_MAX];
	char vm_id[128];
	enum ferry_migr_role role;
	enum ferry_migr_state state;
	uint32_t round;
	uint64_t ram_bytes_sent;
	uint64_t pages_dirtied;
	uint64_t dirty_bytes_remaining;
	uint64_t dirty_rate_bytes_per_sec;
	uint64_t bandwidth_bytes_per_sec;
	uint64_t expected_downtime_us;
	uint64_t actual_downtime_us;
	size_t n_devices; /* Progress.devices; 0 = not reported in this one */
	struct ferry_mig_report_device {
		char id[64];
		uint32_t state; /* kernel state (FERRY_MIG_*), FERRY_MIG_NR_STATES if unreadable */
		uint64_t precopy_initial_bytes, precopy_dirty_bytes, stop_copy_bytes, bytes_sent;
	} devices[FERRY_MIG_REPORT_DEVICES];
	/* Posted while a round is in flight: round, ram_bytes_sent and bandwidth are the round's so
	 * far; dirty/remaining/expected downtime and devices repeat the last end-of-round report. */
	bool mid_round;
	uint64_t device_bytes_in_round; /* mid_round: device payload sent so far in this round */
	int error_code; /* ferry.v1.ErrorCode, 0 = none */
	char error[FERRY_MIG_ERROR_MAX];
	/* Set: this report is a device step (an Event "device_state_changed"), not a Progress. It
	 * travels in the same queue so that the coordinator sees steps and progress in order. */
	struct ferry_mig_device_step {
		bool present;
		char device[64];      /* this host's id */
		char peer_device[64]; /* the other side's id of the same device */
		uint32_t target;      /* FERRY_MIG_* state, or FERRY_MIG_ERROR for a reset */
		int rc;               /* 0 or the step's -errno */
		int64_t at_unix_ns;
	} device_step;
};

/* The queue of reports from migration threads to the event loop. */
struct ferry_mig_reporter {
	pthread_mutex_t lock;
	int event_fd; /* readable while reports wait */
	struct ferry_mig_report queue[FERRY_MIG_REPORT_QUEUE];
	unsigned head, count;
	uint64_t dropped;
};

int ferry_mig_reporter_init(struct ferry_mig_reporter *r);
void ferry_mig_reporter_destroy(struct ferry_mig_reporter *r);
/* From any thread. When the queue is full the oldest report is dropped (counted, logged). */
void ferry_mig_reporter_post(struct ferry_mig_reporter *r, const struct ferry_mig_report *rep);
/* Event loop: the next report, 1 with *out filled, or 0 when none waits (the eventfd is drained). */
int ferry_mig_reporter_take(struct ferry_mig_reporter *r, struct ferry_mig_report *out);

struct ferry_migration_source;
struct ferry_mig_device_binding;
struct ferry_migration_dest;

struct ferry_migration {
	bool used;
	char id[FERRY_MIG_ID_MAX];
	char vm_id[128];
	enum ferry_migr_role role;
	uint8_t token[FERRY_MIG_TOKEN_MAX];
	size_t token_len;
	uint32_t channels;
	pthread_mutex_t lock;
	enum ferry_migr_state state;  /* (lock) */
	int error_code;              /* (lock) why it failed, ferry.v1.ErrorCode */
	char error[FERRY_MIG_ERROR_MAX]; /* (lock) */
	struct ferry_mig_reporter *reporter;
	struct ferry_migration_source *src; /* role SOURCE */
	struct ferry_migration_dest *dst;   /* role DESTINATION */
	/* The VM's devices in this migration (migration_device_binding.h), NULL = none. Set before
	 * the side's prepare, which registers it as a device hook; freed with the migration. */
	struct ferry_mig_device_binding *devices;
};

/* Fires `ev` under the lock. Returns the new state, or FERRY_MIG_INVALID (state unchanged). On
 * FAILURE/ABORT the first error (code, message) is kept. Logged at info. */
enum ferry_migr_state ferry_migration_fire(struct ferry_migration *m, enum ferry_migr_event ev, int error_code,
					  const char *error);

enum ferry_migr_state ferry_migration_state(struct ferry_migration *m);

/* Fills a report with the migration's identity, state and error. */
void ferry_migration_report_base(struct ferry_migration *m, struct ferry_mig_report *rep);

/* Constant-time token comparison (the token is a secret the coordinator issued). */
bool ferry_migration_token_matches(const struct ferry_migration *m, const uint8_t *token, size_t len);

#endif
