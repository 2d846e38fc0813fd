/*
 * Blocking frame I/O on one data channel (a non-blocking socket waited on with poll), for the
 * migration threads: the event loop never touches a data channel once it carries a migration.
 *
 * A received frame's message is read and validated whole (ferry_wire_decode), but its raw payload
 * is left in the socket: the caller reads it with ferry_stream_read_payload straight to where it
 * belongs (the destination's guest RAM), so page data is copied once, by the kernel.
 */
#ifndef FERRY_STREAM_IO_H
#define FERRY_STREAM_IO_H

#include <stddef.h>
#include <stdint.h>

#include <sys/uio.h>

#include "wire.h"

/* Sends one frame: header, message, then `payload` (payload_len bytes) in one sendmsg sequence.
 * 0, a wire error for a frame the encoder refuses, -ETIMEDOUT (no progress for timeout_ms), or
 * -errno (-EPIPE, -ECONNRESET: the peer is gone). */
int ferry_stream_send(int fd, unsigned type, const ProtobufCMessage *msg, const void *payload, uint32_t payload_len,
		      int timeout_ms);

/* ferry_stream_send with the payload gathered from n_payload iovecs (at most FERRY_STREAM_MAX_IOV),
 * so the source sends guest pages from where they live without copying them first. The kernel
 * copies them during the call: once it returns, later writes to those pages are not sent. */
#define FERRY_STREAM_MAX_IOV 1023 /* plus the header's: the kernel's IOV_MAX is 1024 */
int ferry_stream_sendv(int fd, unsigned type, const ProtobufCMessage *msg, const struct iovec *payload, int n_payload,
		       int timeout_ms);

/* Receives the next frame's header and message into *f (release it with ferry_frame_release);
 * f->payload is NULL and f->payload_len tells how many payload bytes follow in the socket.
 * 0, -ETIMEDOUT, -ECONNRESET (closed), a frame.h error or FERRY_WIRE_EMESSAGE (bad frame). */
int ferry_stream_recv(int fd, struct ferry_frame *f, int timeout_ms);

/* Reads exactly len payload bytes into dst and extends *crc over them. 0 or -errno. */
int ferry_stream_read_payload(int fd, void *dst, size_t len, uint32_t *crc, int timeout_ms);

/* Reads and drops len payload bytes (of a frame being refused). 0 or -errno. */
int ferry_stream_skip_payload(int fd, size_t len, int timeout_ms);

/* TCP_NODELAY (round markers and acks must not wait behind Nagle). */
void ferry_stream_tune_socket(int fd);

#endif
