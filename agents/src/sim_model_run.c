/* What a sim device does while it runs: its internal state changes and it DMA-writes into guest
 * memory, both at configured rates and from a seeded PRNG, driven only by the elapsed time the
 * caller passes in (the model has no clock of its own, so tests are deterministic). */
#include "sim_model_impl.h"

#include <string.h>

#define NS_PER_SEC UINT64_C(1000000000)
#define CHANGE_UNIT 8u /* the state changes a u64 at a time */
#define DMA_UNIT 64u   /* one DMA write is a cache line */
#define DMA_MAX_PER_ADVANCE (UINT64_C(64) << 20)

/* splitmix64: tiny, fast, and every seed (0 included) gives a good sequence. */
uint64_t ferry__sim_rand(struct ferry_sim_model *m)
{
	uint64_t z = (m->rng += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Turns rate x elapsed into whole units, carrying the remainder to the next advance. */
static uint64_t take_units(unsigned __int128 *acc, uint64_t rate, uint64_t ns, unsigned unit, uint64_t max)
{
	*acc += (unsigned __int128)rate * ns;
	unsigned __int128 per_unit = (unsigned __int128)NS_PER_SEC * unit;
	unsigned __int128 units = *acc / per_unit;
	*acc -= units * per_unit;
	return units > max ? max : (uint64_t)units;
}

static void change_state(struct ferry_sim_model *m, uint64_t words)
{
	uint64_t size = m->cfg.state_bytes;
	for (uint64_t i = 0; i < words; i++) {
		uint64_t off = (ferry__sim_rand(m) % size) & ~(uint64_t)(CHANGE_UNIT - 1);
		uint64_t v = ferry__sim_rand(m);
		uint64_t n = size - off < CHANGE_UNIT ? size - off : CHANGE_UNIT;
		memcpy(m->bytes + off, &v, (size_t)n);
		if (m->session && m->saving)
			ferry_sim_saver_note_change(&m->saver, off, n);
	}
}

static void dma_write(struct ferry_sim_model *m, uint64_t lines)
{
	uint64_t slots = m->mem_len / DMA_UNIT;
	for (uint64_t i = 0; i < lines; i++) {
		uint64_t off = (ferry__sim_rand(m) % slots) * DMA_UNIT;
		for (unsigned w = 0; w < DMA_UNIT; w += 8) {
			uint64_t v = ferry__sim_rand(m);
			memcpy(m->mem + off + w, &v, 8);
		}
		ferry_sim_dma_log_record(&m->log, off, DMA_UNIT);
	}
}

void ferry_sim_model_advance(struct ferry_sim_model *m, uint64_t elapsed_ns)
{
	if (!ferry__sim_running(m->state))
		return; /* STOP, STOP_COPY, RESUMING, ERROR: no DMA, no internal change */
	/* Bounded work per call: a device cannot change more than its whole state a few times over. */
	uint64_t words = take_units(&m->change_acc, m->cfg.change_bytes_per_sec, elapsed_ns, CHANGE_UNIT,
				    4 * (m->cfg.state_bytes / CHANGE_UNIT + 1));
	change_state(m, words);
	if (m->mem && m->mem_len >= DMA_UNIT) {
		uint64_t lines = take_units(&m->dma_acc, m->cfg.dma_bytes_per_sec, elapsed_ns, DMA_UNIT,
					    DMA_MAX_PER_ADVANCE / DMA_UNIT);
		dma_write(m, lines);
	}
}

void ferry_sim_model_attach_memory(struct ferry_sim_model *m, void *mem, uint64_t len)
{
	m->mem = mem;
	m->mem_len = mem ? len : 0;
	m->dma_acc = 0;
}
