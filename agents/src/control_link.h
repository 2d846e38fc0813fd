/*
 * The control link on a real socket: binds the control state machine (control.h) to a TCP
 * connection (net.h + conn.h). The event loop polls the fd it reports and hands back readiness;
 * the host-specific parts (the Inventory, free memory) come from callbacks.
 */
#ifndef FERRY_CONTROL_LINK_H
#define FERRY_CONTROL_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "control.h"

struct ferry_control_link_host {
	/* The Inventory to send; `control_fd` is the connected socket, whose local address tells
	 * which of the host's IPs reaches ferryd. NULL on failure. Owned by ctx. */
	const ProtobufCMessage *(*inventory)(void *ctx, int control_fd);
	uint64_t (*free_memory_bytes)(void *ctx);
	void *ctx;
};

struct ferry_control_link {
	struct ferry_control ctl;
	struct ferry_conn conn; /* conn.fd is -1 without a connection */
	bool connecting;        /* conn.fd is a socket whose connect has not completed */
	char coordinator[256];
	struct ferry_control_link_host host;
};

void ferry_control_link_init(struct ferry_control_link *l, const char *coordinator, const char *host_id,
			     const char *boot_id, const char *agent_version, const struct ferry_control_link_host *host,
			     ferry_random_fn random, void *random_ctx);

void ferry_control_link_start(struct ferry_control_link *l, uint64_t now_ms);

/* The fd to poll (-1: none) and the events to poll it for. */
int ferry_control_link_poll_fd(const struct ferry_control_link *l, short *events);

/* Readiness on that fd: completes connects, flushes, reads and dispatches frames. */
void ferry_control_link_on_poll(struct ferry_control_link *l, short revents, uint64_t now_ms);

/* Timers of the state machine (heartbeats, timeouts, reconnects). */
void ferry_control_link_on_timer(struct ferry_control_link *l, uint64_t now_ms);
uint64_t ferry_control_link_next_deadline(const struct ferry_control_link *l);

/* Shutdown: closes the connection; nothing is scheduled afterwards. */
void ferry_control_link_stop(struct ferry_control_link *l);

#endif
