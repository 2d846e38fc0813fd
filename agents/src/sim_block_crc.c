/* Per-block CRCs of a sim device state and their join; see sim_block_crc.h. */
#include "sim_block_crc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "sim_stream.h"

int ferry_sim_block_crc_init(struct ferry_sim_block_crc *bc, uint64_t state_bytes)
{
	memset(bc, 0, sizeof *bc);
	bc->state_bytes = state_bytes;
	bc->n_blocks = ferry_sim_blocks(state_bytes);
	bc->crc = calloc((size_t)bc->n_blocks + 1, sizeof *bc->crc);
	if (!bc->crc)
		return -ENOMEM;
	uint32_t op = ferry_crc32c_shift_operator(FERRY_SIM_BLOCK_SIZE);
	for (unsigned byte = 0; byte < 4; byte++)
		for (uint32_t v = 0; v < 256; v++)
			bc->shift[byte][v] = ferry_crc32c_shift(op, v << (8 * byte));
	bc->last_shift = ferry_crc32c_shift_operator(ferry_sim_block_crc_block_len(bc, bc->n_blocks - 1));
	return 0;
}

void ferry_sim_block_crc_free(struct ferry_sim_block_crc *bc)
{
	free(bc->crc);
	bc->crc = NULL;
}

uint64_t ferry_sim_block_crc_block_len(const struct ferry_sim_block_crc *bc, uint64_t b)
{
	uint64_t left = bc->state_bytes - b * FERRY_SIM_BLOCK_SIZE;
	return left < FERRY_SIM_BLOCK_SIZE ? left : FERRY_SIM_BLOCK_SIZE;
}

void ferry_sim_block_crc_compute_all(struct ferry_sim_block_crc *bc, const uint8_t *state)
{
	ferry_sim_block_crc_update(bc, state, 0, bc->state_bytes);
}

void ferry_sim_block_crc_update(struct ferry_sim_block_crc *bc, const uint8_t *state, uint64_t off, uint64_t len)
{
	if (len == 0 || off >= bc->state_bytes)
		return;
	uint64_t last = (off + len - 1) / FERRY_SIM_BLOCK_SIZE;
	for (uint64_t b = off / FERRY_SIM_BLOCK_SIZE; b <= last && b < bc->n_blocks; b++)
		bc->crc[b] = ferry_crc32c(0, state + b * FERRY_SIM_BLOCK_SIZE, (size_t)ferry_sim_block_crc_block_len(bc, b));
}

uint32_t ferry_sim_block_crc_whole(const struct ferry_sim_block_crc *bc)
{
	uint32_t c = bc->crc[0];
	uint64_t full = bc->n_blocks - 1; /* blocks 1 .. n-2 are whole; the last may be short */
	for (uint64_t b = 1; b < full; b++)
		c = bc->shift[0][c & 0xff] ^ bc->shift[1][(c >> 8) & 0xff] ^ bc->shift[2][(c >> 16) & 0xff] ^
		    bc->shift[3][c >> 24] ^ bc->crc[b];
	if (bc->n_blocks > 1)
		c = ferry_crc32c_shift(bc->last_shift, c) ^ bc->crc[bc->n_blocks - 1];
	return c;
}

void ferry_sim_block_crc_swap(struct ferry_sim_block_crc *a, struct ferry_sim_block_crc *b)
{
	uint32_t *t = a->crc;
	a->crc = b->crc;
	b->crc = t;
}
