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

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t ferry__crc32c_hw(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;
	/* Byte steps up to 8-byte alignment, then 8 bytes at a time; memcpy keeps the loads legal
	 * for any alignment (it compiles to one mov). */
	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 8) {
		uint64_t word;
		memcpy(&word, p, 8);
		c = __builtin_ia32_crc32di(c, word);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
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

uint32_t ferry_crc32c(uint32_t crc, const void *buf, size_t n)
{
	if (ferry__crc32c_hw_available())
		return ferry__crc32c_hw(crc, buf, n);
	return ferry__crc32c_table(crc, buf, n);
}
