/* CRC-32C, see crc32c.h. The hardware path processes 8 bytes per instruction; the table path is
 * the classic byte-at-a-time loop, used on CPUs without SSE4.2 and as the tests' reference. */
#include "crc32c.h"

#include <string.h>

#define POLY 0x82F63B78u /* Castagnoli, bit-reversed */

static uint32_t table[256];
static int table_ready;

/* Built on first use; a race between two threads only writes the same values twice. */
static void build_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
		table[i] = c;
	}
	__atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t ferry__crc32c_table(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE))
		build_table();
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Multiplies a and b modulo POLY in the reflected bit order (zlib's multmodp): the tool that
 * moves a CRC register past n zero bytes without reading them. */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
	if (!a) /* the zero polynomial; the loop below needs a set bit to end */
		return 0;
	uint32_t m = 1u << 31, p = 0;
	for (;;) {
		if (a & m) {
			p ^= b;
			if ((a & (m - 1)) == 0)
				break;
		}
		m >>= 1;
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return p;
}

uint32_t ferry_crc32c_shift_operator(uint64_t len)
{
	/* Square-and-multiply over the bits of len: x^(8 * 2^i) doubles by squaring. */
	uint32_t op = 1u << 31, pow = 1u << 23; /* x^0; x^8 */
	while (len) {
		if (len & 1)
			op = multmodp(pow, op);
		len >>= 1;
		if (len)
			pow = multmodp(pow, pow);
	}
	return op;
}

uint32_t ferry_crc32c_shift(uint32_t op, uint32_t crc)
{
	return multmodp(op, crc);
}

uint32_t ferry_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
	return multmodp(ferry_crc32c_shift_operator(len_b), crc_a) ^ crc_b;
}

#if defined(__x86_64__)
/* The crc32 instruction has a latency of 3 cycles and a throughput of 1 per cycle, so one
 * dependency chain runs at a third of its speed: large spans are cut into three lanes of
 * HW_LANE bytes checksummed together and joined with multmodp. */
#define HW_LANE 4096u

__attribute__((target("sse4.2"))) static uint64_t hw_serial(uint64_t c, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint64_t word;
		memcpy(&word, p, 8);
		c = __builtin_ia32_crc32di(c, word);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return c;
}

__attribute__((target("sse4.2"))) uint32_t ferry__crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	static uint32_t lane_shift; /* ferry_crc32c_shift_operator(HW_LANE); 0 until computed (it never is 0) */
	const uint8_t *p = buf;
	uint64_t c = ~crc;
	/* Byte steps up to 8-byte alignment, then 8 bytes at a time; memcpy keeps the loads legal
	 * for any alignment (it compiles to one mov). */
	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	if (n >= 3 * HW_LANE) {
		uint32_t k = __atomic_load_n(&lane_shift, __ATOMIC_RELAXED);
		if (!k) { /* a race only computes the same value twice */
			k = ferry_crc32c_shift_operator(HW_LANE);
			__atomic_store_n(&lane_shift, k, __ATOMIC_RELAXED);
		}
		while (n >= 3 * HW_LANE) {
			uint64_t c1 = 0, c2 = 0;
			const uint8_t *p1 = p + HW_LANE, *p2 = p + 2 * HW_LANE;
			for (size_t i = 0; i < HW_LANE; i += 8) {
				uint64_t w0, w1, w2;
				memcpy(&w0, p + i, 8);
				memcpy(&w1, p1 + i, 8);
				memcpy(&w2, p2 + i, 8);
				c = __builtin_ia32_crc32di(c, w0);
				c1 = __builtin_ia32_crc32di(c1, w1);
				c2 = __builtin_ia32_crc32di(c2, w2);
			}
			/* Registers are linear: lane 0 moved past two lanes of zeros, lane 1 past one. */
			c = multmodp(k, multmodp(k, (uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
			p += 3 * HW_LANE;
			n -= 3 * HW_LANE;
		}
	}
	c = hw_serial(c, p, n);
	return ~(uint32_t)c;
}

/* Three pages' CRCs (each from 0) in three interleaved chains. */
__attribute__((target("sse4.2"))) static void hw_pages3(const uint8_t *p, uint32_t *out)
{
	uint64_t c0 = ~0u, c1 = ~0u, c2 = ~0u;
	for (size_t i = 0; i < 4096; i += 8) {
		uint64_t w0, w1, w2;
		memcpy(&w0, p + i, 8);
		memcpy(&w1, p + 4096 + i, 8);
		memcpy(&w2, p + 8192 + i, 8);
		c0 = __builtin_ia32_crc32di(c0, w0);
		c1 = __builtin_ia32_crc32di(c1, w1);
		c2 = __builtin_ia32_crc32di(c2, w2);
	}
	out[0] = ~(uint32_t)c0;
	out[1] = ~(uint32_t)c1;
	out[2] = ~(uint32_t)c2;
}

int ferry__crc32c_hw_available(void)
{
	static int cached = -1;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("sse4.2") ? 1 : 0;
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
}
#else
uint32_t ferry__crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	(void)crc;
	(void)buf;
	(void)n;
	return 0;
}

int ferry__crc32c_hw_available(void)
{
	return 0;
}
#endif

/* Byte tables of the "move past 4096 zero bytes" operator: shift(c) = T[0][c & 255] ^ ... ^ T[3][c >> 24]. */
static uint32_t page_shift[4][256];
static int page_shift_ready;

static void build_page_shift(void)
{
	uint32_t k = ferry_crc32c_shift_operator(4096);
	for (unsigned t = 0; t < 4; t++)
		for (uint32_t b = 0; b < 256; b++)
			page_shift[t][b] = multmodp(k, b << (8 * t));
	__atomic_store_n(&page_shift_ready, 1, __ATOMIC_RELEASE);
}

uint32_t ferry_crc32c_append_page(uint32_t crc, uint32_t page_crc)
{
	if (!__atomic_load_n(&page_shift_ready, __ATOMIC_ACQUIRE))
		build_page_shift(); /* a race only writes the same values twice */
	return page_shift[0][crc & 0xff] ^ page_shift[1][(crc >> 8) & 0xff] ^ page_shift[2][(crc >> 16) & 0xff] ^
	       page_shift[3][crc >> 24] ^ page_crc;
}

void ferry_crc32c_pages(const void *pages, size_t n, uint32_t *out)
{
	const uint8_t *p = pages;
	size_t i = 0;
#if defined(__x86_64__)
	if (ferry__crc32c_hw_available() && ((uintptr_t)p & 7) == 0)
		for (; i + 3 <= n; i += 3)
			hw_pages3(p + i * 4096, out + i);
#endif
	for (; i < n; i++)
		out[i] = ferry_crc32c(0, p + i * 4096, 4096);
}

uint32_t ferry_crc32c(uint32_t crc, const void *buf, size_t n)
{
	if (ferry__crc32c_hw_available())
		return ferry__crc32c_hw(crc, buf, n);
	return ferry__crc32c_table(crc, buf, n);
}
