/* page_check: a consistent memory passes; any one corrupted byte is detected and named. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "page_check.h"
#include "test.h"

static uint8_t *filled_pages(uint64_t n)
{
	uint8_t *m = aligned_alloc(FERRY_PAGE_BYTES, n * FERRY_PAGE_BYTES);
	for (uint64_t i = 0; i < n; i++)
		ferry_page_fill(m + i * FERRY_PAGE_BYTES, i, 1 + i % 5, 42);
	return m;
}

FERRY_TEST(page_check_consistent_memory_passes)
{
	uint8_t *m = filled_pages(64);
	uint64_t bad = 99;
	enum ferry_page_fault f = FERRY_PAGE_BAD_MAGIC;
	EXPECT_EQ_INT(ferry_memory_verify(m, 0, 64, &bad, &f), 0);
	struct ferry_page_trailer t = ferry_page_trailer_read(m + 5 * FERRY_PAGE_BYTES);
	EXPECT_EQ_U64(t.index, 5);
	EXPECT_EQ_U64(t.generation, 1);
	EXPECT_EQ_U64(t.magic, FERRY_PAGE_MAGIC);
	/* A rewrite with the next generation is a new, still valid page with a different payload. */
	uint8_t before[64];
	memcpy(before, m + 5 * FERRY_PAGE_BYTES, sizeof before);
	ferry_page_fill(m + 5 * FERRY_PAGE_BYTES, 5, 2, 42);
	EXPECT(memcmp(before, m + 5 * FERRY_PAGE_BYTES, sizeof before) != 0);
	EXPECT_EQ_INT(ferry_page_verify(m + 5 * FERRY_PAGE_BYTES, 5), FERRY_PAGE_OK);
	free(m);
}

FERRY_TEST(page_check_every_corrupted_byte_is_named)
{
	uint8_t *m = filled_pages(8);
	/* Every byte position of page 6, one at a time, one bit flipped. */
	uint64_t undetected = 0, misnamed = 0;
	for (unsigned off = 0; off < FERRY_PAGE_BYTES; off++) {
		uint8_t *p = m + 6 * FERRY_PAGE_BYTES + off;
		*p ^= (uint8_t)(1u << (off % 8));
		uint64_t bad = 0;
		enum ferry_page_fault f = FERRY_PAGE_OK;
		int rc = ferry_memory_verify(m, 0, 8, &bad, &f);
		undetected += rc != -EBADMSG || bad != 6;
		/* Bytes 4088..4091 are the magic; anything else is caught by the checksum. */
		enum ferry_page_fault want = off >= 4088 && off < 4092 ? FERRY_PAGE_BAD_MAGIC : FERRY_PAGE_BAD_CHECKSUM;
		misnamed += f != want;
		*p ^= (uint8_t)(1u << (off % 8));
	}
	EXPECT_EQ_U64(undetected, 0);
	EXPECT_EQ_U64(misnamed, 0);
	EXPECT_EQ_INT(ferry_memory_verify(m, 0, 8, NULL, NULL), 0);
	free(m);
}

FERRY_TEST(page_check_misplaced_and_blank_pages)
{
	uint8_t *m = filled_pages(8);
	memcpy(m + 5 * FERRY_PAGE_BYTES, m + 3 * FERRY_PAGE_BYTES, FERRY_PAGE_BYTES);
	uint64_t bad = 0;
	enum ferry_page_fault f = FERRY_PAGE_OK;
	EXPECT_EQ_INT(ferry_memory_verify(m, 0, 8, &bad, &f), -EBADMSG);
	EXPECT_EQ_U64(bad, 5);
	EXPECT_EQ_STR(ferry_page_fault_name(f), "wrong_index");
	memset(m + 2 * FERRY_PAGE_BYTES, 0, FERRY_PAGE_BYTES);
	EXPECT_EQ_INT(ferry_memory_verify(m, 0, 8, &bad, &f), -EBADMSG);
	EXPECT_EQ_U64(bad, 2); /* the first bad page is named */
	EXPECT_EQ_STR(ferry_page_fault_name(f), "bad_magic");
	ferry_page_fill(m + 2 * FERRY_PAGE_BYTES, 2, 0, 42);
	EXPECT_EQ_INT(ferry_page_verify(m + 2 * FERRY_PAGE_BYTES, 2), FERRY_PAGE_BAD_GENERATION);
	/* A window that starts at page 4 expects index 4 there. */
	ferry_page_fill(m + 5 * FERRY_PAGE_BYTES, 5, 1, 42);
	EXPECT_EQ_INT(ferry_memory_verify(m + 4 * FERRY_PAGE_BYTES, 4, 4, &bad, &f), 0);
	free(m);
}

/* Given the page's whole CRC (as the destination takes it on arrival), the same verdict as
 * reading the page: for a good page and every fault. */
FERRY_TEST(page_verify_crc_agrees_with_page_verify)
{
	uint8_t *page = aligned_alloc(FERRY_PAGE_BYTES, FERRY_PAGE_BYTES);
	const size_t flips[] = {0, 100, FERRY_PAGE_PAYLOAD_BYTES, FERRY_PAGE_PAYLOAD_BYTES + 8,
				FERRY_PAGE_PAYLOAD_BYTES + 16, FERRY_PAGE_BYTES - 1};
	for (int variant = -1; variant < (int)(sizeof flips / sizeof flips[0]); variant++) {
		ferry_page_fill(page, 42, 3, 11);
		if (variant >= 0)
			page[flips[variant]] ^= 0x20;
		uint32_t crc = ferry_crc32c(0, page, FERRY_PAGE_BYTES);
		EXPECT_EQ_INT(ferry_page_verify_crc(page, 42, crc), ferry_page_verify(page, 42));
		EXPECT_EQ_INT(ferry_page_verify_crc(page, 43, crc), ferry_page_verify(page, 43));
	}
	ferry_page_fill(page, 42, 3, 11);
	EXPECT_EQ_INT(ferry_crc32c(0, page, FERRY_PAGE_BYTES), FERRY_PAGE_CRC_RESIDUE);
	memset(page, 0, FERRY_PAGE_BYTES); /* a zero page: no magic */
	EXPECT_EQ_INT(ferry_page_verify_crc(page, 0, ferry_crc32c(0, page, FERRY_PAGE_BYTES)), FERRY_PAGE_BAD_MAGIC);
	free(page);
}
