/*
 * Ferry wire protocol, C side. The Swift side (Sources/FerryWire) implements the same rules.
 *
 * Every TCP connection carries frames (layout and limits: frame.h): a 16-byte header, one protobuf
 * message of the schema named by the header's type (proto/ferry.proto, package ferry.v1), then for
 * PAGE_BATCH and DEVICE_CHUNK only a raw payload that never goes inside a protobuf field.
 *
 * Control link (agent dials ferryd, one long-lived connection per agent):
 *
 *   agent                                   ferryd
 *     | HELLO {versions, host_id, boot_id}     |
 *     |------------------------------------->  |  no HELLO within 5 s: close
 *     |  WELCOME {chosen version, heartbeat}   |  or ERROR {INCOMPATIBLE_VERSION | BAD_MESSAGE |
 *     |  <-------------------------------------|            DUPLICATE_HOST | UNEXPECTED_MESSAGE}
 *     | INVENTORY (now and on every change)    |            then close
 *     |------------------------------------->  |
 *     | HEARTBEAT {seq} every interval         |
 *     |------------------------------------->  |
 *     |            HEARTBEAT echoed unchanged  |
 *     |  <-------------------------------------|
 *     |  COMMAND {migration_id, seq, body}     |
 *     |  <-------------------------------------|
 *     | COMMAND_RESULT, PROGRESS, EVENT        |
 *     |------------------------------------->  |
 *
 * Data channels (source agent dials the destination's data listener, N per migration):
 *
 *   source                                  destination
 *     | STREAM_HELLO {migration_id, token}     |
 *     |------------------------------------->  |
 *     |            STREAM_WELCOME or ERROR     |
 *     |  <-------------------------------------|
 *     | PAGE_BATCH / DEVICE_CHUNK (+payload)   |  page_crc32c / payload_crc32c checked by the receiver
 *     | ... END_OF_ROUND                       |
 *     |------------------------------------->  |
 *     |                             ROUND_ACK  |
 *     |  <-------------------------------------|
 *     |                        RESUME_CONFIRM  |  after the final round, once the VM runs
 *     |  <-------------------------------------|
 *
 * Versioning: the frame version changes only with the frame layout. Message-level changes bump
 * FERRY_PROTOCOL_VERSION only when breaking; peers pick the highest version both speak
 * (Hello/Welcome) and keep accepting the previous one. Enum value 0 is always invalid.
 *
 * This file is the codec only: it turns (type, message, payload) into one buffer and back, and
 * refuses anything frame.h forbids. It is network-facing, so decoding never trusts a length.
 */
#ifndef FERRY_WIRE_H
#define FERRY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "frame.h"

enum ferry_wire_error {
	FERRY_WIRE_EMESSAGE = -1101,  /* the protobuf message does not decode as the type's schema */
	FERRY_WIRE_ECHECKSUM = -1102, /* a payload does not match its checksums */
};

/* One decoded frame. `msg` is owned by the frame (ferry_frame_release frees it); `payload` points
 * into the buffer given to ferry_wire_decode and lives as long as that buffer. */
struct ferry_frame {
	unsigned type; /* ferry.v1.FrameType */
	ProtobufCMessage *msg;
	const uint8_t *payload;
	uint32_t payload_len;
};

/* The schema of frames of `type`, or NULL for an unknown or UNSPECIFIED type. */
const ProtobufCMessageDescriptor *ferry_wire_descriptor(unsigned type);

/* Encodes one whole frame into a new buffer (*out, free() it; *out_len bytes). `msg` must be of
 * the type's schema; `payload` may be NULL only when payload_len is 0. Returns 0, a frame.h
 * error for a length or type the decoder would reject, -EINVAL for a message of another schema,
 * bad arguments or a message the decoder would refuse (a string that is not UTF-8), or -ENOMEM. */
int ferry_wire_encode(unsigned type, const ProtobufCMessage *msg, const void *payload, uint32_t payload_len,
		      uint8_t **out, size_t *out_len);

/* Decodes the frame at the start of `buf` (`len` bytes available). Returns:
 *   0 with *consumed == 0     more bytes are needed (nothing beyond buf[len-1] was read);
 *   0 with *consumed == size  one frame decoded into *out (release it with ferry_frame_release);
 *   a negative error          the frame is bad: a frame.h error, or FERRY_WIRE_EMESSAGE when the
 *                             message does not decode or breaks a proto3 rule protobuf-c lets
 *                             through (see wire_validate.h); the connection must be closed.
 * *out is always left releasable. The payload checksum is not checked here. */
int ferry_wire_decode(const uint8_t *buf, size_t len, struct ferry_frame *out, size_t *consumed);

/* Frees the decoded message and clears the frame; safe on a cleared or released frame. */
void ferry_frame_release(struct ferry_frame *f);

/* Whether a received payload matches its checksums: PAGE_BATCH's page_crc32c (one per 4 KiB page
 * of the payload), DEVICE_CHUNK's payload_crc32c. 0 or FERRY_WIRE_ECHECKSUM. Other types carry no
 * payload and return 0. */
int ferry_wire_check_payload_crc(const struct ferry_frame *f);

/* A short human reason for any error this codec returns (frame, wire, or -errno). */
const char *ferry_wire_strerror(int err);

#endif
