/*
 * A framed connection over a non-blocking socket: bytes read so far in a growable buffer, frames
 * cut out of it with ferry_wire_decode, and frames to send queued in an output buffer that is
 * flushed as the socket accepts them. It does no polling itself: the event loop asks
 * ferry_conn_wants_write() and calls ferry_conn_fill / ferry_conn_flush on readiness.
 */
#ifndef FERRY_CONN_H
#define FERRY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Unsent output beyond this means the peer stopped reading: the send fails with -ENOBUFS. */
#define FERRY_CONN_MAX_PENDING_OUT (32u << 20)

struct ferry_conn {
	int fd; /* owned: ferry_conn_close closes it; -1 when closed */
	uint8_t *in;
	size_t in_start, in_len, in_cap; /* undecoded bytes are in[in_start .. in_len) */
	uint8_t *out;
	size_t out_start, out_len, out_cap; /* unsent bytes are out[out_start .. out_len) */
	bool eof;                           /* the peer closed its side */
	uint64_t frames_in, frames_out;
};

/* Takes ownership of `fd` (which should be non-blocking). */
void ferry_conn_init(struct ferry_conn *c, int fd);

/* Closes the socket and frees the buffers. Safe to call twice. */
void ferry_conn_close(struct ferry_conn *c);

/* One read(2) into the buffer. Returns the byte count (> 0), 0 at end of stream (c->eof set),
 * -EAGAIN when nothing is waiting, -ENOMEM, or -errno. Invalidates frames returned before. */
int ferry_conn_fill(struct ferry_conn *c);

/* Cuts the next complete frame out of the buffer. Returns 1 with *f set (release it with
 * ferry_frame_release; its payload points into the buffer and stays valid until the next
 * ferry_conn_fill), 0 when more bytes are needed, or a negative wire error for a bad frame
 * (the connection must then be closed). */
int ferry_conn_next_frame(struct ferry_conn *c, struct ferry_frame *f);

/* The bytes received but not yet cut into frames (to peek at a header before the body arrives). */
const uint8_t *ferry_conn_buffered(const struct ferry_conn *c, size_t *len);

/* Drops everything received so far (a connection that is being closed). */
void ferry_conn_discard_input(struct ferry_conn *c);

/* Encodes a frame, queues it and tries to flush. Returns 0 (sent or queued), a wire error for a
 * frame the encoder refuses, -ENOBUFS when too much output is already pending, or the -errno of a
 * failed write (the connection is then dead). */
int ferry_conn_send(struct ferry_conn *c, unsigned type, const ProtobufCMessage *msg, const void *payload,
		    uint32_t payload_len);

/* Writes queued output until done or the socket is full. Returns 0 when nothing is left, 1 when
 * output is still pending, or -errno. */
int ferry_conn_flush(struct ferry_conn *c);

/* Whether output is queued (poll for POLLOUT). */
bool ferry_conn_wants_write(const struct ferry_conn *c);

/* Sends an Error frame {code, message, migration_id} (best effort: the caller closes next). */
int ferry_conn_send_error(struct ferry_conn *c, int code, const char *message, const char *migration_id);

#endif
