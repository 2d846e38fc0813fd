/*
 * The sim device's per-block checksums: one CRC-32C per FERRY_SIM_BLOCK_SIZE block of a state,
 * kept up to date as the state changes, so that the CRC of the whole state (the stream's END
 * record) is a join of block CRCs (16384 table-driven joins for 64 MiB) instead of a pass over
 * every byte inside the downtime. The join is crc32c_combine with the block length's shift
 * operator turned into four 256-entry tables (the operator is linear over GF(2)).
 */
#ifndef FERRY_SIM_BLOCK_CRC_H
#define FERRY_SIM_BLOCK_CRC_H

#include <stdint.h>

struct ferry_sim_block_crc {
	uint64_t state_bytes;
	uint64_t n_blocks;
	uint32_t *crc;              /* crc[b] = ferry_crc32c(0, block b) */
	uint32_t shift[4][256];     /* moves a CRC past one whole block, byte by byte of the CRC */
	uint32_t last_shift;        /* operator for the last block's length (it may be short) */
};

/* Allocates the checksums of a state of state_bytes (> 0), all 0 until computed. -ENOMEM. */
int ferry_sim_block_crc_init(struct ferry_sim_block_crc *bc, uint64_t state_bytes);
void ferry_sim_block_crc_free(struct ferry_sim_block_crc *bc);

/* Recomputes every block's CRC from state (at creation, or for a state replaced by other means). */
void ferry_sim_block_crc_compute_all(struct ferry_sim_block_crc *bc, const uint8_t *state);
/* Bytes [off, off + len) of state changed: recomputes the blocks they touch. */
void ferry_sim_block_crc_update(struct ferry_sim_block_crc *bc, const uint8_t *state, uint64_t off, uint64_t len);

/* Bytes of block b (FERRY_SIM_BLOCK_SIZE, the last one maybe fewer). */
uint64_t ferry_sim_block_crc_block_len(const struct ferry_sim_block_crc *bc, uint64_t b);

/* The CRC-32C of the whole state, joined from the block CRCs. */
uint32_t ferry_sim_block_crc_whole(const struct ferry_sim_block_crc *bc);

/* Exchanges the checksums of two states of the same size (a committed resume swaps buffers). */
void ferry_sim_block_crc_swap(struct ferry_sim_block_crc *a, struct ferry_sim_block_crc *b);

#endif
