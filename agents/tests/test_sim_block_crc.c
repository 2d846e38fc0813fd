/* The sim device's per-block CRCs: the join equals a direct CRC of the state for every size shape
 * (one block, short last block, whole blocks), updates follow changes exactly, and the model keeps
 * them live while it runs (state updates, DMA into guest memory) and across a committed resume. */
#include "test.h"

#include <stdlib.h>

#include "crc32c.h"
#include "sim_block_crc.h"
#include "sim_model.h"
#include "sim_stream.h"

static uint8_t *pattern(uint64_t n, uint32_t seed)
{
	uint8_t *p = malloc((size_t)n + 1);
	uint32_t x = seed * 2654435761u + 7;
	for (uint64_t i = 0; p && i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

/* Every block CRC equals a direct CRC of that block, and the join equals the CRC of all. */
static void expect_consistent(const struct ferry_sim_block_crc *bc, const uint8_t *state, uint64_t size)
{
	int bad = 0;
	for (uint64_t b = 0; b < bc->n_blocks; b++)
		if (bc->crc[b] != ferry_crc32c(0, state + b * FERRY_SIM_BLOCK_SIZE,
					       (size_t)ferry_sim_block_crc_block_len(bc, b)))
			bad++;
	EXPECT_EQ_INT(bad, 0);
	EXPECT_EQ_U64(ferry_sim_block_crc_whole(bc), ferry__crc32c_table(0, state, (size_t)size));
}

FERRY_TEST(sim_block_crc_whole_equals_direct_crc_for_every_shape)
{
	static const uint64_t sizes[] = {1, 7, 4095, 4096, 4097, 2 * 4096, 2 * 4096 + 1, 5 * 4096 + 300, 64 * 4096 - 8};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *state = pattern(sizes[i], (uint32_t)i + 1);
		struct ferry_sim_block_crc bc;
		EXPECT_EQ_INT(ferry_sim_block_crc_init(&bc, sizes[i]), 0);
		EXPECT_EQ_U64(bc.n_blocks, ferry_sim_blocks(sizes[i]));
		ferry_sim_block_crc_compute_all(&bc, state);
		expect_consistent(&bc, state, sizes[i]);
		ferry_sim_block_crc_free(&bc);
		free(state);
	}
}

FERRY_TEST(sim_block_crc_update_follows_writes_at_any_offset)
{
	const uint64_t size = 9 * 4096 + 1000;
	uint8_t *state = pattern(size, 3);
	struct ferry_sim_block_crc bc;
	EXPECT_EQ_INT(ferry_sim_block_crc_init(&bc, size), 0);
	ferry_sim_block_crc_compute_all(&bc, state);
	/* Writes inside a block, across block boundaries, into the short last block, past the end. */
	static const uint64_t writes[][2] = {{0, 1}, {100, 8}, {4090, 12}, {3 * 4096, 4096}, {4095, 2 * 4096 + 2},
					     {9 * 4096 + 999, 1}, {size - 5, 100}, {size + 10, 5}};
	for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
		uint64_t off = writes[i][0], len = writes[i][1];
		for (uint64_t k = off; k < off + len && k < size; k++)
			state[k] ^= (uint8_t)(0x5a + i);
		uint32_t before = ferry_sim_block_crc_whole(&bc);
		ferry_sim_block_crc_update(&bc, state, off, len);
		expect_consistent(&bc, state, size);
		if (off < size) /* a real change is seen */
			EXPECT(ferry_sim_block_crc_whole(&bc) != before);
	}
	/* An update the CRCs were not told about is visible as a mismatch: the check can fail. */
	state[5000] ^= 1;
	EXPECT(ferry_sim_block_crc_whole(&bc) != ferry__crc32c_table(0, state, (size_t)size));
	ferry_sim_block_crc_free(&bc);
	free(state);
}

static struct ferry_sim_model *make(uint64_t state_bytes, uint64_t change, uint64_t dma, uint64_t seed)
{
	struct ferry_sim_config c = {.vendor_id = 0x1af4, .device_id = 0x1041, .migration_version = "ferry-sim/1",
				     .mig_flags = FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY,
				     .state_bytes = state_bytes, .change_bytes_per_sec = change,
				     .dma_bytes_per_sec = dma, .seed = seed};
	struct ferry_sim_model *m = NULL;
	char err[160];
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &m, err, sizeof err), 0);
	return m;
}

static void expect_model_consistent(const struct ferry_sim_model *m)
{
	uint64_t size = ferry_sim_model_config(m)->state_bytes;
	const uint8_t *state = ferry_sim_model_state_bytes(m);
	const uint32_t *crc = ferry_sim_model_block_crcs(m);
	int bad = 0;
	for (uint64_t b = 0; b < ferry_sim_blocks(size); b++) {
		uint64_t left = size - b * FERRY_SIM_BLOCK_SIZE;
		if (crc[b] != ferry_crc32c(0, state + b * FERRY_SIM_BLOCK_SIZE,
					   (size_t)(left < FERRY_SIM_BLOCK_SIZE ? left : FERRY_SIM_BLOCK_SIZE)))
			bad++;
	}
	EXPECT_EQ_INT(bad, 0);
}

FERRY_TEST(sim_block_crc_model_keeps_them_live_while_running_and_across_resume)
{
	const uint64_t size = 40 * 4096 + 52;
	struct ferry_sim_model *src = make(size, 64 * 4096, 1 << 20, 11), *dst = make(size, 0, 0, 12);
	uint8_t *guest = calloc(1, 1 << 20);
	ferry_sim_model_attach_memory(src, guest, 1 << 20);
	expect_model_consistent(src);
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(src, FERRY_MIG_PRE_COPY, &sess), 0);
	/* Running with state changes and DMA writes: every block CRC stays equal to its block. */
	uint8_t buf[9000];
	uint8_t *stream = NULL;
	size_t n_stream = 0;
	ssize_t n;
	for (int i = 0; i < 20; i++) {
		ferry_sim_model_advance(src, 50000000);
		expect_model_consistent(src);
		while ((n = ferry_sim_model_read(src, sess, buf, sizeof buf)) > 0) {
			stream = realloc(stream, n_stream + (size_t)n);
			memcpy(stream + n_stream, buf, (size_t)n);
			n_stream += (size_t)n;
		}
	}
	int changed = 0; /* the device did change (else this test proves nothing) */
	for (uint64_t b = 0; b < ferry_sim_blocks(size); b++)
		changed += ferry_sim_model_block_crcs(src)[b] != ferry_sim_model_block_crcs(dst)[b];
	EXPECT(changed > 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(src, FERRY_MIG_STOP_COPY, &s), 0);
	while ((n = ferry_sim_model_read(src, sess, buf, sizeof buf)) > 0) {
		stream = realloc(stream, n_stream + (size_t)n);
		memcpy(stream + n_stream, buf, (size_t)n);
		n_stream += (size_t)n;
	}
	EXPECT_EQ_INT(n, 0);
	/* The destination swaps the received state in: its CRCs are the received blocks' CRCs. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RESUMING, &sess), 0);
	EXPECT_EQ_INT(ferry_sim_model_write(dst, sess, stream, n_stream), (ssize_t)n_stream);
	EXPECT(!ferry_sim_model_has_retired(dst));
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RUNNING, &s), 0);
	EXPECT(ferry_sim_model_has_retired(dst)); /* the old state waits for the host */
	expect_model_consistent(dst);
	EXPECT(memcmp(ferry_sim_model_block_crcs(dst), ferry_sim_model_block_crcs(src),
		      ferry_sim_blocks(size) * sizeof(uint32_t)) == 0);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(dst), ferry_sim_model_state_crc(src));
	ferry_sim_model_free_retired(dst);
	EXPECT(!ferry_sim_model_has_retired(dst));
	free(stream);
	ferry_sim_model_attach_memory(src, NULL, 0);
	free(guest);
	ferry_sim_model_destroy(src);
	ferry_sim_model_destroy(dst);
}
