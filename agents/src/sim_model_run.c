/* What a sim device does while it runs: its internal state changes and it DMA-writes into guest
 * memory, both at configured rates and from a seeded PRNG, driven only by the elapsed time the
 * caller passes in (the model has no clock of its own, so tests are deterministic). */
#include "sim_model_impl.h"

#include <string.h>

#include "page_check.h"

#define NS_PER_SEC UINT64_C(1000000000)
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

/* The device's state changes one whole structure at a time: an update rewrites one stream block
 * (FERRY_SIM_BLOCK_SIZE bytes), so changing R bytes a second is R / block_size discrete updates and
 * makes about R bytes of pre-copy data. (Scattering single u64s at random made every 8-byte change
 * re-send a whole 4 KiB block: 64 KiB/s of changes became ~33 MB/s of dirty data and, changing
 * between any two reads, never let a reader slower than ~300 us per read see -ENOMSG.) */
static void change_state(struct ferry_sim_model *m, uint64_t updates)
{
	uint64_t size = m->cfg.state_bytes, blocks = ferry_sim_blocks(size);
	for (uint64_t i = 0; i < updates; i++) {
		uint64_t off = (ferry__sim_rand(m) % blocks) * FERRY_SIM_BLOCK_SIZE;
		uint64_t len = size - off < FERRY_SIM_BLOCK_SIZE ? size - off : FERRY_SIM_BLOCK_SIZE;
		for (uint64_t w = 0; w < len; w += 8) {
			uint64_t v = ferry__sim_rand(m);
			memcpy(m->bytes + off + w, &v, (size_t)(len - w < 8 ? len - w : 8));
		}
		ferry_sim_block_crc_update(&m->crcs, m->bytes, off, len);
		if (m->session && m->saving)
			ferry_sim_saver_note_change(&m->saver, off, len);
	}
}

/* The window of attached memory the device DMA-writes into, [*start, *end); empty if it lies past
 * the memory (a device given buffers the VM does not have writes nothing). */
static void dma_window(const struct ferry_sim_model *m, uint64_t *start, uint64_t *end)
{
	*start = m->cfg.dma_offset < m->mem_len ? m->cfg.dma_offset : m->mem_len;
	*end = m->mem_len;
	if (m->cfg.dma_length && m->cfg.dma_length < *end - *start)
		*end = *start + m->cfg.dma_length;
}

static void dma_write_lines(struct ferry_sim_model *m, uint64_t start, uint64_t end, uint64_t lines)
{
	uint64_t slots = (end - start) / DMA_UNIT;
	for (uint64_t i = 0; i < lines && slots; i++) {
		uint64_t off = start + (ferry__sim_rand(m) % slots) * DMA_UNIT;
		for (unsigned w = 0; w < DMA_UNIT; w += 8) {
			uint64_t v = ferry__sim_rand(m);
			memcpy(m->mem + off + w, &v, 8);
		}
		ferry_sim_dma_log_record(&m->log, off, DMA_UNIT);
	}
}

/* Whole pages in the workload's format: the next generation of what the page holds (1 if it holds
 * no valid page), its own index, a payload of the device's seed. */
static void dma_write_pages(struct ferry_sim_model *m, uint64_t start, uint64_t end, uint64_t pages)
{
	uint64_t slots = (end - start) / FERRY_PAGE_BYTES;
	for (uint64_t i = 0; i < pages && slots; i++) {
		uint64_t off = start + (ferry__sim_rand(m) % slots) * FERRY_PAGE_BYTES, index = off / FERRY_PAGE_BYTES;
		uint8_t *page = m->mem + off;
		uint64_t gen = ferry_page_verify(page, index) == FERRY_PAGE_OK ? ferry_page_trailer_read(page).generation + 1
									   : 1;
		ferry_page_fill(page, index, gen, m->cfg.seed);
		ferry_sim_dma_log_record(&m->log, off, FERRY_PAGE_BYTES);
	}
}

void ferry_sim_model_advance(struct ferry_sim_model *m, uint64_t elapsed_ns)
{
	if (!ferry__sim_running(m->state))
		return; /* STOP, STOP_COPY, RESUMING, ERROR: no DMA, no internal change */
	/* Bounded work per call: a device cannot change more than its whole state a few times over. */
	uint64_t updates = take_units(&m->change_acc, m->cfg.change_bytes_per_sec, elapsed_ns, FERRY_SIM_BLOCK_SIZE,
				      4 * ferry_sim_blocks(m->cfg.state_bytes));
	change_state(m, updates);
	uint64_t start, end;
	if (!m->mem)
		return;
	dma_window(m, &start, &end);
	if (m->cfg.dma_pattern == FERRY_SIM_DMA_SELFCHECK)
		dma_write_pages(m, start, end,
				take_units(&m->dma_acc, m->cfg.dma_bytes_per_sec, elapsed_ns, FERRY_PAGE_BYTES,
					   DMA_MAX_PER_ADVANCE / FERRY_PAGE_BYTES));
	else
		dma_write_lines(m, start, end,
				take_units(&m->dma_acc, m->cfg.dma_bytes_per_sec, elapsed_ns, DMA_UNIT,
					   DMA_MAX_PER_ADVANCE / DMA_UNIT));
}

void ferry_sim_model_attach_memory(struct ferry_sim_model *m, void *mem, uint64_t len)
{
	m->mem = mem;
	m->mem_len = mem ? len : 0;
	m->dma_acc = 0;
}
