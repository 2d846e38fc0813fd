/*
 * The control link client: the agent's side of the agent <-> ferryd protocol (diagram in wire.h),
 * as a state machine fed by events so that it can be tested without sockets or real time.
 *
 *   DISCONNECTED --timer--> CONNECTING --connected/Hello--> AWAIT_WELCOME --Welcome--> ACTIVE
 *        ^                      |                               |                      |
 *        +--- backoff delay ----+-------------------------------+----------------------+
 *             (connect failed or timed out, Error, bad frame, closed, heartbeat misses)
 *
 * Events come from the event loop (ferry_control_on_*), each with the monotonic time in ms.
 * Actions go out through ferry_control_ops (connect, send, disconnect), which must not call back
 * into the state machine. Every state change is logged at info.
 *
 * Timing: a connect or a Welcome that takes longer than FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS fails
 * the attempt. In ACTIVE a Heartbeat goes out every heartbeat_interval_ms (from the Welcome), and
 * the link is dropped when nothing at all came from ferryd for heartbeat_miss_limit intervals.
 * Reconnects wait 100 ms doubling to 5 s, +-20 % jitter (backoff.h); a Welcome resets the delay.
 */
#ifndef FERRY_CONTROL_H
#define FERRY_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "backoff.h"
#include "wire.h"

#define FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS 5000u
#define FERRY_CONTROL_DEFAULT_INTERVAL_MS 1000u /* when a Welcome leaves heartbeat_interval_ms 0 */
#define FERRY_CONTROL_DEFAULT_MISS_LIMIT 3u

enum ferry_control_state {
	FERRY_CONTROL_DISCONNECTED = 0, /* no connection; the next attempt is at `deadline_ms` */
	FERRY_CONTROL_CONNECTING,       /* TCP connect in progress */
	FERRY_CONTROL_AWAIT_WELCOME,    /* Hello sent, waiting for Welcome or Error */
	FERRY_CONTROL_ACTIVE,           /* registered: Inventory sent, heartbeats flowing */
};

struct ferry_control_ops {
	/* Starts connecting. 0: in progress (the loop later reports on_connected or on_closed);
	 * negative: failed at once (the state machine schedules a retry). */
	int (*connect)(void *ctx);
	/* Queues one frame on the connection. Negative: the connection is unusable. */
	int (*send)(void *ctx, unsigned type, const ProtobufCMessage *msg);
	/* Closes the connection (after a best-effort flush of queued output). */
	void (*disconnect)(void *ctx);
	/* The Inventory to send now (owned by ctx, valid until the next call), or NULL on failure. */
	const ProtobufCMessage *(*inventory)(void *ctx);
	/* Free memory reported in heartbeats. */
	uint64_t (*free_memory_bytes)(void *ctx);
};

struct Ferry__V1__Command;
struct Ferry__V1__CommandResult;
/* Executes a Command; returns its result (owned by ctx, valid until the next call). */
typedef const struct Ferry__V1__CommandResult *(*ferry_control_command_fn)(void *ctx,
									    const struct Ferry__V1__Command *cmd,
									    uint64_t now_ms);

struct ferry_control {
	enum ferry_control_state state;
	ferry_control_command_fn on_command; /* NULL: every Command is answered UNSUPPORTED */
	void *command_ctx;
	const struct ferry_control_ops *ops;
	void *ctx;
	char host_id[128];
	char boot_id[64];
	char agent_version[32];
	char coordinator[256]; /* for logs */
	struct ferry_backoff backoff;
	uint64_t deadline_ms; /* DISCONNECTED: next attempt; CONNECTING, AWAIT_WELCOME: give up */
	/* ACTIVE: from the Welcome */
	uint32_t protocol_version;
	uint32_t heartbeat_interval_ms;
	uint32_t heartbeat_miss_limit;
	char coordinator_id[128];
	uint64_t last_rx_ms;        /* last frame of any kind from ferryd */
	uint64_t next_heartbeat_ms;
	uint64_t heartbeat_seq;     /* of the last Heartbeat sent */
	uint64_t last_echoed_seq;   /* of the last Heartbeat ferryd echoed */
	uint32_t active_migrations; /* none until the streaming issue */
	/* Counters, for logs and tests. */
	uint64_t connect_attempts;
	uint64_t welcomes;
	uint64_t inventories_sent;
	uint64_t errors_received;
	int last_error_code;         /* ferry.v1.ErrorCode of the last Error from ferryd */
	uint32_t last_retry_delay_ms;
};

/* `host_id`, `boot_id`, `agent_version` go into Hello; `coordinator` is only logged. */
void ferry_control_init(struct ferry_control *c, const struct ferry_control_ops *ops, void *ctx, const char *host_id,
			const char *boot_id, const char *agent_version, const char *coordinator, ferry_random_fn random,
			void *random_ctx);

/* Begins: the first connect attempt happens at once. */
void ferry_control_start(struct ferry_control *c, uint64_t now_ms);

/* The TCP connection is up: sends Hello. */
void ferry_control_on_connected(struct ferry_control *c, uint64_t now_ms);

/* One frame arrived from ferryd. The frame stays owned by the caller. */
void ferry_control_on_frame(struct ferry_control *c, uint64_t now_ms, const struct ferry_frame *f);

/* ferryd sent bytes that do not decode (`err` from ferry_conn_next_frame): closes the link. */
void ferry_control_on_bad_frame(struct ferry_control *c, uint64_t now_ms, int err);

/* The connection closed or the connect failed; `reason` is logged. */
void ferry_control_on_closed(struct ferry_control *c, uint64_t now_ms, const char *reason);

/* Time passed: reconnect, handshake timeout, heartbeat due, or too many misses. */
void ferry_control_on_timer(struct ferry_control *c, uint64_t now_ms);

/* When on_timer next has something to do (absolute ms), UINT64_MAX when nothing is scheduled. */
uint64_t ferry_control_next_deadline(const struct ferry_control *c);

/* The inventory changed: sends it again if registered (otherwise it goes after the Welcome). */
void ferry_control_inventory_changed(struct ferry_control *c, uint64_t now_ms);

/* Shutdown: closes any connection and stays DISCONNECTED with nothing scheduled. */
void ferry_control_stop(struct ferry_control *c);

/* Where COMMAND frames go (the migration manager). */
void ferry_control_set_command_handler(struct ferry_control *c, ferry_control_command_fn fn, void *ctx);

/* Sends a report (PROGRESS, EVENT) when registered. -ENOTCONN otherwise, or the send's error. */
int ferry_control_send_report(struct ferry_control *c, uint64_t now_ms, unsigned type, const ProtobufCMessage *msg);

const char *ferry_control_state_name(enum ferry_control_state s);

#endif
