/*
 * Ferry framing: how every message crosses a TCP connection (control link and data channels).
 * The Swift side (Sources/FerryWire/Frame.swift) implements exactly the same rules.
 *
 *   offset  size  field        value
 *   0       4     magic        0x59524546, little-endian: the bytes 'F' 'E' 'R' 'Y'
 *   4       1     version      FERRY_FRAME_VERSION (1); any other value is rejected
 *   5       1     type         a ferry.v1.FrameType value; unknown or UNSPECIFIED is rejected
 *   6       2     flags        0; reserved, non-zero is rejected
 *   8       4     header_len   length of the protobuf message that follows, <= FERRY_FRAME_MAX_HEADER
 *   12      4     payload_len  length of the raw payload after the message, <= FERRY_FRAME_MAX_PAYLOAD;
 *                              must be 0 unless type is PAGE_BATCH or DEVICE_CHUNK
 *   16      header_len         protobuf-encoded message of the type's schema (ferry.proto)
 *   16+h    payload_len        raw bytes (guest pages, device state), never inside a protobuf field
 *
 * All integers are little-endian. A frame that breaks any rule closes its connection after an
 * Error frame (best effort) and a logged reason; the peer's other connections are unaffected.
 * Versioning: the frame version changes only if this layout changes; message-level evolution is
 * negotiated by Hello/Welcome protocol_version (FERRY_PROTOCOL_VERSION).
 */
#ifndef FERRY_FRAME_H
#define FERRY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_FRAME_MAGIC 0x59524546u
#define FERRY_FRAME_VERSION 1u
#define FERRY_FRAME_HEADER_SIZE 16u
#define FERRY_FRAME_MAX_HEADER (1u << 20)   /* 1 MiB: an Inventory of thousands of VMs fits */
#define FERRY_FRAME_MAX_PAYLOAD (16u << 20) /* 16 MiB: 4096 pages of 4 KiB per batch */

#define FERRY_PROTOCOL_VERSION 1u     /* highest ferry.v1 protocol version this build speaks */
#define FERRY_PROTOCOL_MIN_VERSION 1u /* lowest one it still accepts */
/* The agent-to-agent data stream's version (StreamHello/StreamWelcome), separate from the control
 * link's: both agents of a migration must speak the same one. 2: PageBatch.page_crc32c, a CRC per
 * page, replaces protocol 1's payload_crc32c. */
#define FERRY_STREAM_PROTOCOL_VERSION 2u

/* Why a frame was rejected. Negative, so they can travel as ferry's usual negative error codes. */
enum ferry_frame_error {
	FERRY_FRAME_OK = 0,
	FERRY_FRAME_EMAGIC = -1001,    /* magic is not 'FERY' */
	FERRY_FRAME_EVERSION = -1002,  /* unknown frame version */
	FERRY_FRAME_ETYPE = -1003,     /* unknown or UNSPECIFIED frame type */
	FERRY_FRAME_EFLAGS = -1004,    /* reserved flags set */
	FERRY_FRAME_EHEADER = -1005,   /* header_len over FERRY_FRAME_MAX_HEADER */
	FERRY_FRAME_EPAYLOAD = -1006,  /* payload_len over the limit, or payload on a type without one */
};

/* The decoded fixed header. */
struct ferry_frame_header {
	uint8_t type; /* ferry.v1.FrameType */
	uint32_t header_len;
	uint32_t payload_len;
};

/* Validates and decodes the 16 fixed bytes at `buf`. Returns FERRY_FRAME_OK or an error. */
int ferry_frame_parse_header(const uint8_t buf[FERRY_FRAME_HEADER_SIZE], struct ferry_frame_header *out);

/* Writes the 16 fixed bytes for `h` into `buf`. Returns FERRY_FRAME_OK, or an error if `h` breaks
 * a rule (the encoder refuses to produce a frame the decoder would reject). */
int ferry_frame_write_header(const struct ferry_frame_header *h, uint8_t buf[FERRY_FRAME_HEADER_SIZE]);

/* Whether `type` is a known FrameType, and whether frames of that type may carry a raw payload. */
int ferry_frame_type_known(unsigned type);
int ferry_frame_type_has_payload(unsigned type);

/* A short human reason for a ferry_frame_error, for logs and Error frames. */
const char *ferry_frame_strerror(int err);

#endif
