/*
 * The sim device protocol: how the agent's `sim` backend (sim_backend.c) talks to ferry-simdevd
 * (sim_server.c), the per-host process that holds the sim devices the way the kernel holds real
 * ones, so that they outlive an agent crash.
 *
 * Transport: a unix stream socket (ferry-simdevd --socket PATH). One connection = one opened
 * device (the stand-in for a VFIO device fd); strictly one request, then one response.
 *
 * Every message is a 32-byte header, all little-endian, then payload_len bytes:
 *
 *    0  u32 magic    FERRY_SIM_PROTO_MAGIC ("FSIM")
 *    4  u16 version  FERRY_SIM_PROTO_VERSION (1); a mismatch is answered -EPROTO and closed
 *    6  u16 op       enum ferry_sim_op; 0 is reserved as invalid
 *    8  i32 result   requests: 0. responses: >= 0 success (READ: bytes), < 0 = -errno
 *   12  u32 payload_len  <= FERRY_SIM_MAX_PAYLOAD
 *   16  u64 a        per op, below
 *   24  u64 b
 *
 * A failed response carries the device's error text (no NUL) as its payload.
 *
 *   op              request                             response (on success)
 *   OPEN            payload = device name               -
 *   PROBE           -                                   payload = struct ferry_sim_wire_info (232 B)
 *   GET_STATE       -                                   a = state, b = live session id (0 none)
 *   SET_STATE       a = target                          a = session opened by this request (0 none)
 *   COMPLETE_LAYOUT a = regions mask                    -
 *   READ            a = session, b = max bytes          result = bytes (0 = end), payload = data;
 *                                                       -ENOMSG = nothing now (PRE_COPY)
 *   WRITE           a = session, payload = data         result = bytes accepted
 *   PRECOPY_INFO    a = session                         a = initial_bytes, b = dirty_bytes
 *   STOP_COPY_SIZE  -                                   a = bytes
 *   DMA_LOG_START   a = page size, payload = ranges     a = chosen page size
 *                   ({u64 iova, u64 length} each)
 *   DMA_LOG_REPORT  a = iova, b = length, payload =     payload = the bitmap words (u64 LE),
 *                   {u64 page_size, u64 words}          only bits the device set
 *   DMA_LOG_STOP    -                                   -
 *   RESET           -                                   -
 *   ATTACH_MEMORY   a = size; the guest memfd travels   -  (the device maps it MAP_SHARED)
 *                   as SCM_RIGHTS with the header;
 *                   no fd = detach
 *   SET_FAULTS      payload = struct ferry_sim_wire_faults -
 *   STATE_CRC       -                                   a = crc32c of the internal state (tests:
 *                                                           "the twin holds the same state")
 *
 * Versioning: bump FERRY_SIM_PROTO_VERSION only for breaking changes; new ops may be added.
 */
#ifndef FERRY_SIM_PROTOCOL_H
#define FERRY_SIM_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_model.h"

#define FERRY_SIM_PROTO_MAGIC 0x4d495346u /* "FSIM" */
#define FERRY_SIM_PROTO_VERSION 1u
#define FERRY_SIM_HDR_LEN 32u
#define FERRY_SIM_MAX_IO (1u << 20) /* largest READ/WRITE chunk; QEMU reads at most 1 MiB too */
#define FERRY_SIM_MAX_PAYLOAD (FERRY_SIM_MAX_IO + 4096u)

enum ferry_sim_op {
	FERRY_SIM_OP_INVALID = 0,
	FERRY_SIM_OP_OPEN,
	FERRY_SIM_OP_PROBE,
	FERRY_SIM_OP_GET_STATE,
	FERRY_SIM_OP_SET_STATE,
	FERRY_SIM_OP_COMPLETE_LAYOUT,
	FERRY_SIM_OP_READ,
	FERRY_SIM_OP_WRITE,
	FERRY_SIM_OP_PRECOPY_INFO,
	FERRY_SIM_OP_STOP_COPY_SIZE,
	FERRY_SIM_OP_DMA_LOG_START,
	FERRY_SIM_OP_DMA_LOG_REPORT,
	FERRY_SIM_OP_DMA_LOG_STOP,
	FERRY_SIM_OP_RESET,
	FERRY_SIM_OP_ATTACH_MEMORY,
	FERRY_SIM_OP_SET_FAULTS,
	FERRY_SIM_OP_STATE_CRC,
	FERRY_SIM_OP_COUNT,
};

struct ferry_sim_msg {
	uint16_t op;
	int32_t result;
	uint32_t payload_len;
	uint64_t a, b;
};

/* PROBE payload (little-endian, 232 bytes). */
struct ferry_sim_wire_info {
	uint32_t mig_flags;
	uint32_t dma_logging;
	uint64_t saving_layout_regions;
	uint16_t vendor_id, device_id;
	uint32_t reserved;
	uint64_t state_bytes;
	char driver[64];
	char migration_version[128];
	uint64_t reserved2;
};
#define FERRY_SIM_WIRE_INFO_LEN 232u

/* SET_FAULTS payload: six u32 (fail_arc, from, to, mode, error_in_stop_copy, refuse_resuming_data). */
#define FERRY_SIM_WIRE_FAULTS_LEN 24u

void ferry_sim_info_encode(const struct ferry_sim_wire_info *in, uint8_t out[FERRY_SIM_WIRE_INFO_LEN]);
/* -EPROTO if a string is not terminated. */
int ferry_sim_info_decode(const uint8_t in[FERRY_SIM_WIRE_INFO_LEN], struct ferry_sim_wire_info *out);
void ferry_sim_faults_encode(const struct ferry_sim_faults *f, uint8_t out[FERRY_SIM_WIRE_FAULTS_LEN]);
/* -EPROTO for a value outside its range. */
int ferry_sim_faults_decode(const uint8_t in[FERRY_SIM_WIRE_FAULTS_LEN], struct ferry_sim_faults *out);

void ferry_sim_hdr_encode(const struct ferry_sim_msg *m, uint8_t out[FERRY_SIM_HDR_LEN]);
/* Validates magic, version, op (requests only: is_request) and the payload bound. 0 or -EPROTO. */
int ferry_sim_hdr_decode(const uint8_t in[FERRY_SIM_HDR_LEN], bool is_request, struct ferry_sim_msg *out);

/* Sends header + payload (and pass_fd as SCM_RIGHTS if >= 0). 0 or -errno. */
int ferry_sim_send(int sock, const struct ferry_sim_msg *m, const void *payload, int pass_fd);
/* Receives one message: header into *m, payload into buf (cap bytes; -EMSGSIZE if it does not fit),
 * a passed fd into *got_fd (or -1; may be NULL when none is expected, then any fd is closed).
 * 0, -ECONNRESET on a clean EOF before a header, -EPROTO, or -errno. */
int ferry_sim_recv(int sock, bool is_request, struct ferry_sim_msg *m, void *buf, size_t cap, int *got_fd);

#endif
