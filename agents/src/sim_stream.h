/*
 * The sim device's migration data stream: what a saving session produces and a resuming session
 * accepts. Opaque to everyone but the sim device, exactly like a real driver's stream (reference
 * section 1.8), but self-checking: the destination validates the header before it accepts a
 * single block, and only commits a state that arrived whole and matched the source's checksum.
 *
 * Layout (all integers little-endian):
 *
 *   header, FERRY_SIM_HEADER_LEN = 168 bytes
 *     0  u64  magic  FERRY_SIM_STREAM_MAGIC ("FERRYSIM")
 *     8  u32  version  FERRY_SIM_STREAM_VERSION
 *    12  u32  header_len  168
 *    16  u16  vendor_id       \
 *    18  u16  device_id        | device identity: must equal the destination's
 *    20  u32  block_size       |
 *    24  u64  state_bytes      |
 *    32  char migration_version[128] (NUL-padded)
 *   160  u32  flags  0 (reserved)
 *   164  u32  crc32c of bytes 0..163
 *   then records, each with a FERRY_SIM_RECORD_HEAD = 16-byte head
 *     0  u32  tag
 *     4  u32  index
 *     8  u32  crc  (per tag, below)
 *    12  u32  crc32c of head bytes 0..11 (a corrupt tag or index is caught before it is used)
 *     tag 1 BLOCK: index = block number, crc = crc32c of the block's bytes, which follow (block_size,
 *                  the last block of the state may be shorter). Checked as the block is written:
 *                  a bad block fails that write. A block may come several times (pre-copy re-sends
 *                  dirty blocks); the last copy wins.
 *     tag 2 END:   index = number of blocks, crc = crc32c of the whole final state; no body. The
 *                  device keeps per-block CRCs (sim_block_crc.h), so both ends join block CRCs
 *                  rather than read the whole state inside the downtime. Only a STOP_COPY stream
 *                  ends; nothing may follow END.
 *
 * Version 1 (8-byte record heads, no block CRCs, an 8-byte END body) is refused by its version.
 */
#ifndef FERRY_SIM_STREAM_H
#define FERRY_SIM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim_block_crc.h"

#define FERRY_SIM_STREAM_MAGIC UINT64_C(0x4d49535952524546) /* "FERRYSIM" read as LE bytes */
#define FERRY_SIM_STREAM_VERSION 2u
#define FERRY_SIM_HEADER_LEN 168u
#define FERRY_SIM_RECORD_HEAD 16u
#define FERRY_SIM_BLOCK_SIZE 4096u
#define FERRY_SIM_TAG_BLOCK 1u
#define FERRY_SIM_TAG_END 2u

/* What both ends must agree on. */
struct ferry_sim_identity {
	uint16_t vendor_id;
	uint16_t device_id;
	char migration_version[128];
	uint64_t state_bytes;
};

static inline uint64_t ferry_sim_blocks(uint64_t state_bytes)
{
	return (state_bytes + FERRY_SIM_BLOCK_SIZE - 1) / FERRY_SIM_BLOCK_SIZE;
}

/* Writes the header for `id` into out[FERRY_SIM_HEADER_LEN]. */
void ferry_sim_header_encode(const struct ferry_sim_identity *id, uint8_t out[FERRY_SIM_HEADER_LEN]);

/* Checks a received header against the local identity. 0, or -EINVAL with the reason in err. */
int ferry_sim_header_check(const uint8_t hdr[FERRY_SIM_HEADER_LEN], const struct ferry_sim_identity *local, char *err,
			   size_t errlen);

/* ---- saving: the producer side of one session ---- */

struct ferry_sim_saver {
	struct ferry_sim_identity id;
	uint64_t n_blocks;
	uint64_t *initial; /* blocks of the first full pass not yet sent */
	uint64_t *dirty;   /* blocks changed after they were sent */
	uint64_t n_initial, n_dirty;
	bool header_sent, end_sent;
	uint8_t out[FERRY_SIM_HEADER_LEN + FERRY_SIM_RECORD_HEAD + FERRY_SIM_BLOCK_SIZE];
	size_t out_len, out_pos;
	bool out_initial; /* the staged bytes count as initial (else dirty) data */
};

/* Every block starts in the initial pass. -ENOMEM. */
int ferry_sim_saver_init(struct ferry_sim_saver *s, const struct ferry_sim_identity *id);
void ferry_sim_saver_free(struct ferry_sim_saver *s);

/* The device changed bytes [off, off + len) of its state. */
void ferry_sim_saver_note_change(struct ferry_sim_saver *s, uint64_t off, uint64_t len);

/* Copies up to `len` stream bytes into buf; `final` = the state is frozen (STOP_COPY), so the
 * stream may end. `crcs` are state's live per-block CRCs (they go into the record heads and END).
 * Returns the bytes copied: 0 means nothing now (not final) or end of stream. */
size_t ferry_sim_saver_read(struct ferry_sim_saver *s, const uint8_t *state, const struct ferry_sim_block_crc *crcs,
			    bool final, void *buf, size_t len);

/* Bytes still to come from the initial pass, and from dirty re-sends (precopy info). */
uint64_t ferry_sim_saver_initial_bytes(const struct ferry_sim_saver *s);
uint64_t ferry_sim_saver_dirty_bytes(const struct ferry_sim_saver *s);
/* Everything still to stream if the state froze now, END included. */
uint64_t ferry_sim_saver_remaining_bytes(const struct ferry_sim_saver *s);

/* Size of a whole stream for a fresh STOP_COPY session: header, every block, END. */
uint64_t ferry_sim_stream_full_bytes(uint64_t state_bytes);

/* ---- resuming: the consumer side ---- */

enum ferry_sim_resume_phase {
	FERRY_SIM_RESUME_HEADER,
	FERRY_SIM_RESUME_RECORD_HEAD,
	FERRY_SIM_RESUME_BLOCK_BODY,
	FERRY_SIM_RESUME_DONE,
	FERRY_SIM_RESUME_FAILED,
};

struct ferry_sim_resumer {
	struct ferry_sim_identity local;
	uint64_t n_blocks;
	uint8_t *staging;   /* the incoming state; the live state is only replaced at commit */
	struct ferry_sim_block_crc crcs; /* staging's per-block CRCs, each checked on arrival */
	uint64_t *received; /* blocks seen at least once */
	uint64_t n_received;
	enum ferry_sim_resume_phase phase;
	uint8_t buf[FERRY_SIM_HEADER_LEN]; /* partial header or record head */
	size_t have;
	uint32_t index;    /* block being received */
	uint32_t want_crc; /* its CRC as the record head gave it */
	uint32_t body_crc; /* CRC of the bytes of it received so far */
	size_t body_have;  /* bytes of that block received */
	int rc;            /* the error once FAILED */
	char error[160];
};

/* -ENOMEM. */
int ferry_sim_resumer_init(struct ferry_sim_resumer *r, const struct ferry_sim_identity *local);
void ferry_sim_resumer_free(struct ferry_sim_resumer *r);

/* Consumes stream bytes in any segmentation. 0, or -EINVAL (r->error says why: a corrupt header
 * or record head, a block whose CRC does not match its head, an END that does not match); once
 * failed it stays failed. */
int ferry_sim_resumer_feed(struct ferry_sim_resumer *r, const void *data, size_t len);

/* The stream is complete and verified: END arrived, every block arrived, the checksum matches.
 * Then r->staging holds the new state and r->crcs its block CRCs. 0 or -EINVAL (r->error says
 * why). */
int ferry_sim_resumer_finish(struct ferry_sim_resumer *r);

#endif
