/*
 * The data listener: where source agents open data channels to this (destination) agent.
 *
 * Each accepted connection must send its first frame, a STREAM_HELLO, within
 * FERRY_DATA_FIRST_FRAME_TIMEOUT_MS. A STREAM_HELLO goes to the hello handler (the migration
 * manager); without one, or for a migration not prepared here, the answer is ERROR
 * UNKNOWN_MIGRATION. The listener never answers STREAM_WELCOME: the destination's receiver thread
 * does, once the guest RAM is allocated (migration_dest.h). Any other
 * first frame gets UNEXPECTED_MESSAGE and bytes that are not a frame get BAD_FRAME (BAD_MESSAGE
 * when the header is fine but the protobuf is not). After the Error the connection is closed
 * gracefully: our side is shut down and the peer's remaining bytes are drained for up to
 * FERRY_DATA_LINGER_MS, so that closing with unread input does not reset the connection and
 * destroy the Error before the peer reads it.
 *
 * Bounded: at most FERRY_DATA_MAX_PENDING connections at once (further ones wait in the kernel's
 * backlog), and a first frame may not exceed FERRY_DATA_MAX_FIRST_FRAME bytes of message.
 */
#ifndef FERRY_DATA_LISTENER_H
#define FERRY_DATA_LISTENER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "conn.h"
#include "net.h"

#define FERRY_DATA_MAX_PENDING 64
#define FERRY_DATA_FIRST_FRAME_TIMEOUT_MS 5000u
#define FERRY_DATA_LINGER_MS 1000u
#define FERRY_DATA_MAX_FIRST_FRAME (64u << 10) /* a StreamHello is a few hundred bytes */

struct ferry_data_pending {
	struct ferry_conn conn; /* conn.fd -1: slot free */
	uint64_t deadline_ms;   /* first frame due, or end of lingering */
	bool closing;           /* Error sent; draining until the peer closes */
	char peer[FERRY_NET_ADDR_MAX];
};

struct Ferry__V1__StreamHello;
/* Takes a STREAM_HELLO's connection: 0 when accepted (the fd is the handler's now; it answers
 * STREAM_WELCOME later, when the destination is ready), else a ferry.v1.ErrorCode with the reason
 * in msg (the listener refuses). */
typedef int (*ferry_data_hello_fn)(void *ctx, const struct Ferry__V1__StreamHello *h, int fd, char *msg, size_t cap);

struct ferry_data_listener {
	int fd;
	ferry_data_hello_fn on_hello; /* NULL: every STREAM_HELLO is UNKNOWN_MIGRATION */
	void *hello_ctx;
	char address[FERRY_NET_ADDR_MAX]; /* the bound address, with the kernel's port */
	struct ferry_data_pending pending[FERRY_DATA_MAX_PENDING];
	size_t n_pending;
	uint64_t accepted, rejected, timed_out; /* counters, for logs and tests */
};

/* Binds HOST:PORT (port 0: the kernel picks; see l->address). */
int ferry_data_listener_open(struct ferry_data_listener *l, const char *hostport);
void ferry_data_listener_close(struct ferry_data_listener *l);

/* Where STREAM_HELLOs go (the migration manager); call after open. */
void ferry_data_listener_set_hello_handler(struct ferry_data_listener *l, ferry_data_hello_fn fn, void *ctx);

/* Fills up to `max` pollfds (the listener while a slot is free, then each connection). Returns
 * how many. Pass them back, with revents, to ferry_data_listener_on_poll. */
size_t ferry_data_listener_pollfds(const struct ferry_data_listener *l, struct pollfd *pfds, size_t max);
void ferry_data_listener_on_poll(struct ferry_data_listener *l, const struct pollfd *pfds, size_t n, uint64_t now_ms);

/* Closes connections whose first frame or lingering time is over. */
void ferry_data_listener_on_timer(struct ferry_data_listener *l, uint64_t now_ms);
uint64_t ferry_data_listener_next_deadline(const struct ferry_data_listener *l);

#endif
