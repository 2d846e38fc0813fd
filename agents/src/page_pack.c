/* See page_pack.h. */
#include "page_pack.h"

#include "crc32c.h"

#include <string.h>

bool ferry__page_pack_portable(void *dst, const void *src, uint32_t *crc)
{
	memcpy(dst, src, FERRY_PAGE_PACK_BYTES);
	const uint64_t *w = dst;
	uint64_t acc = 0;
	for (size_t i = 0; i < FERRY_PAGE_PACK_BYTES / 8; i++)
		acc |= w[i];
	*crc = ferry__crc32c_table(0, dst, FERRY_PAGE_PACK_BYTES);
	return acc == 0;
}

#if defined(__x86_64__)
/* Three crc32 chains (the instruction's latency is 3, its throughput 1 per cycle) over three
 * lanes of the page, joined with ferry_crc32c_combine; the 16 bytes after them go on chain 0. */
#define LANE 1360u /* 3 * 1360 = 4080 bytes, 8-byte multiple */

static inline uint64_t load_once(const uint8_t *p)
{
	/* One load per word, never repeated by the compiler, even though another thread may write
	 * the page: the value stored is the value checksummed. */
	return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
}

__attribute__((target("sse4.2"))) static bool pack_hw(uint8_t *dst, const uint8_t *src, uint32_t *crc,
						       uint32_t lane_op)
{
	uint64_t c0 = 0xffffffffu, c1 = 0, c2 = 0, acc = 0;
	for (size_t i = 0; i < LANE; i += 8) {
		uint64_t w0 = load_once(src + i), w1 = load_once(src + LANE + i), w2 = load_once(src + 2 * LANE + i);
		memcpy(dst + i, &w0, 8);
		memcpy(dst + LANE + i, &w1, 8);
		memcpy(dst + 2 * LANE + i, &w2, 8);
		c0 = __builtin_ia32_crc32di(c0, w0);
		c1 = __builtin_ia32_crc32di(c1, w1);
		c2 = __builtin_ia32_crc32di(c2, w2);
		acc |= w0 | w1 | w2;
	}
	/* Registers are linear: chain 0 moves past two lanes, chain 1 past one (raw registers, the
	 * initial inversion rides in c0). */
	uint64_t c = ferry_crc32c_combine(lane_op, ferry_crc32c_combine(lane_op, (uint32_t)c0, (uint32_t)c1),
					  (uint32_t)c2);
	for (size_t i = 3 * LANE; i < FERRY_PAGE_PACK_BYTES; i += 8) {
		uint64_t w = load_once(src + i);
		memcpy(dst + i, &w, 8);
		c = __builtin_ia32_crc32di(c, w);
		acc |= w;
	}
	*crc = ~(uint32_t)c;
	return acc == 0;
}

bool ferry_page_pack(void *dst, const void *src, uint32_t *crc)
{
	static uint32_t lane_op; /* ferry_crc32c_shift_op(LANE); 0 until computed (it never is 0) */
	if (!ferry__crc32c_hw_available())
		return ferry__page_pack_portable(dst, src, crc);
	uint32_t k = __atomic_load_n(&lane_op, __ATOMIC_RELAXED);
	if (!k) { /* a race only computes the same value twice */
		k = ferry_crc32c_shift_op(LANE);
		__atomic_store_n(&lane_op, k, __ATOMIC_RELAXED);
	}
	return pack_hw(dst, src, crc, k);
}
#else
bool ferry_page_pack(void *dst, const void *src, uint32_t *crc)
{
	return ferry__page_pack_portable(dst, src, crc);
}
#endif
