/* The one-pass page copy of the stream (page_pack.h): the copy is exact, the zero verdict exact
 * (one non-zero byte anywhere, lane edges included, makes a page non-zero), the checksum equals
 * the reference CRC-32C of the page; and page checksums join into the batch checksum. */
#include <stdlib.h>

#include "crc32c.h"
#include "page_pack.h"
#include "test.h"

typedef bool (*pack_fn)(void *, const void *, uint32_t *);

static void fill_random(uint8_t *b, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
}

static void expect_pack(pack_fn pack, const uint8_t *src, bool zero)
{
	static uint8_t dst[FERRY_PAGE_PACK_BYTES] __attribute__((aligned(64)));
	memset(dst, 0xcc, sizeof dst);
	uint32_t crc = 0;
	EXPECT(pack(dst, src, &crc) == zero);
	EXPECT(memcmp(dst, src, FERRY_PAGE_PACK_BYTES) == 0);
	EXPECT_EQ_U64(crc, ferry__crc32c_table(0, src, FERRY_PAGE_PACK_BYTES));
}

static void check_impl(pack_fn pack)
{
	static uint8_t page[FERRY_PAGE_PACK_BYTES] __attribute__((aligned(64)));
	memset(page, 0, sizeof page);
	expect_pack(pack, page, true);
	/* One set byte at every offset: never zero, always the right checksum. */
	for (size_t off = 0; off < FERRY_PAGE_PACK_BYTES; off++) {
		page[off] = (uint8_t)(1u << (off % 8));
		expect_pack(pack, page, false);
		page[off] = 0;
	}
	for (uint32_t seed = 1; seed <= 64; seed++) {
		fill_random(page, sizeof page, seed);
		expect_pack(pack, page, false);
	}
	memset(page, 0xff, sizeof page);
	expect_pack(pack, page, false);
}

FERRY_TEST(page_pack_portable_copies_judges_and_checksums)
{
	check_impl(ferry__page_pack_portable);
}

FERRY_TEST(page_pack_dispatch_copies_judges_and_checksums)
{
	if (!ferry__crc32c_hw_available())
		fprintf(stderr, "  note: CPU without SSE4.2, ferry_page_pack is the portable version here\n");
	check_impl(ferry_page_pack);
}

FERRY_TEST(crc32c_combine_joins_checksums_of_pieces)
{
	static const size_t lens[] = {0, 1, 7, 8, 4095, 4096, 4097, 12288 + 3};
	size_t cap = 2 * 12291;
	uint8_t *buf = malloc(cap);
	EXPECT(buf != NULL);
	if (!buf)
		return;
	fill_random(buf, cap, 77);
	for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++) {
		for (size_t b = 0; b < sizeof lens / sizeof lens[0]; b++) {
			size_t la = lens[a], lb = lens[b];
			uint32_t whole = ferry__crc32c_table(0, buf, la + lb);
			uint32_t joined = ferry_crc32c_combine(ferry_crc32c_shift_op(lb), ferry__crc32c_table(0, buf, la),
							       ferry__crc32c_table(0, buf + la, lb));
			EXPECT_EQ_U64(joined, whole);
		}
	}
	/* A batch of pages checksummed page by page equals the checksum of the batch. */
	uint32_t op = ferry_crc32c_shift_op(FERRY_PAGE_PACK_BYTES), batch = 0;
	uint8_t *pages = malloc(4 * FERRY_PAGE_PACK_BYTES), *copy = malloc(4 * FERRY_PAGE_PACK_BYTES);
	EXPECT(pages && copy);
	if (pages && copy) {
		fill_random(pages, 4 * FERRY_PAGE_PACK_BYTES, 5);
		for (int i = 0; i < 4; i++) {
			uint32_t pc;
			ferry_page_pack(copy + i * FERRY_PAGE_PACK_BYTES, pages + i * FERRY_PAGE_PACK_BYTES, &pc);
			batch = i ? ferry_crc32c_combine(op, batch, pc) : pc;
		}
		EXPECT_EQ_U64(batch, ferry_crc32c(0, pages, 4 * FERRY_PAGE_PACK_BYTES));
	}
	free(pages);
	free(copy);
	free(buf);
}
