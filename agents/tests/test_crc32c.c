/* CRC-32C: known answers on both implementations, and the two agree on every length and
 * alignment, in one piece or in many. */
#include <stdlib.h>

#include "crc32c.h"
#include "test.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* RFC 3720 (iSCSI) appendix B.4 test vectors plus the usual check value. */
static void expect_known_answers(crc_fn crc)
{
	uint8_t buf[32];
	EXPECT_EQ_U64(crc(0, "123456789", 9), 0xE3069283u);
	EXPECT_EQ_U64(crc(0, "", 0), 0);
	memset(buf, 0, sizeof buf);
	EXPECT_EQ_U64(crc(0, buf, sizeof buf), 0x8A9136AAu);
	memset(buf, 0xff, sizeof buf);
	EXPECT_EQ_U64(crc(0, buf, sizeof buf), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	EXPECT_EQ_U64(crc(0, buf, sizeof buf), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	EXPECT_EQ_U64(crc(0, buf, sizeof buf), 0x113FDB5Cu);
}

FERRY_TEST(crc32c_table_known_answers)
{
	expect_known_answers(ferry__crc32c_table);
}

FERRY_TEST(crc32c_hw_known_answers)
{
	if (!ferry__crc32c_hw_available()) {
		fprintf(stderr, "  note: CPU without SSE4.2, hardware CRC-32C path not testable here\n");
		return;
	}
	expect_known_answers(ferry__crc32c_hw);
}

FERRY_TEST(crc32c_dispatch_known_answers)
{
	expect_known_answers(ferry_crc32c);
}

static uint8_t *random_bytes(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; b && i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
	return b;
}

FERRY_TEST(crc32c_hw_matches_table_every_length_and_alignment)
{
	if (!ferry__crc32c_hw_available()) {
		fprintf(stderr, "  note: CPU without SSE4.2, hardware CRC-32C path not testable here\n");
		return;
	}
	uint8_t *buf = random_bytes(600, 7);
	EXPECT(buf != NULL);
	if (!buf)
		return;
	int mismatches = 0;
	for (size_t off = 0; off < 16; off++)
		for (size_t n = 0; n + off <= 600; n++)
			if (ferry__crc32c_hw(0x12345678u, buf + off, n) != ferry__crc32c_table(0x12345678u, buf + off, n))
				mismatches++;
	EXPECT_EQ_INT(mismatches, 0);
	free(buf);
}

/* Spans of three 4 KiB lanes and more take the interleaved path: it must agree with the table at
 * the lane boundaries, past them and from any alignment. */
FERRY_TEST(crc32c_hw_interleaved_matches_table_on_large_spans)
{
	if (!ferry__crc32c_hw_available()) {
		fprintf(stderr, "  note: CPU without SSE4.2, hardware CRC-32C path not testable here\n");
		return;
	}
	const size_t lanes = 3 * 4096;
	uint8_t *buf = random_bytes(3 * lanes + 64, 11);
	EXPECT(buf != NULL);
	if (!buf)
		return;
	static const size_t lengths[] = {3 * 4096 - 1, 3 * 4096, 3 * 4096 + 1, 3 * 4096 + 8, 2 * 3 * 4096,
					 2 * 3 * 4096 + 4095, 3 * 3 * 4096};
	int mismatches = 0;
	for (size_t off = 0; off < 9; off++)
		for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++)
			if (ferry__crc32c_hw(0xdeadbeefu, buf + off, lengths[i]) !=
			    ferry__crc32c_table(0xdeadbeefu, buf + off, lengths[i]))
				mismatches++;
	EXPECT_EQ_INT(mismatches, 0);
	/* A flipped bit in the middle lane changes the result. */
	uint32_t whole = ferry__crc32c_hw(0, buf, lanes);
	buf[4096 + 100] ^= 0x10;
	EXPECT(ferry__crc32c_hw(0, buf, lanes) != whole);
	free(buf);
}

FERRY_TEST(crc32c_incremental_equals_whole)
{
	uint8_t *buf = random_bytes(257, 11);
	EXPECT(buf != NULL);
	if (!buf)
		return;
	uint32_t whole = ferry_crc32c(0, buf, 257);
	EXPECT_EQ_U64(whole, ferry__crc32c_table(0, buf, 257));
	for (size_t cut = 0; cut <= 257; cut++) {
		uint32_t a = ferry_crc32c(ferry_crc32c(0, buf, cut), buf + cut, 257 - cut);
		uint32_t b = ferry__crc32c_table(ferry__crc32c_table(0, buf, cut), buf + cut, 257 - cut);
		EXPECT_EQ_U64(a, whole);
		EXPECT_EQ_U64(b, whole);
	}
	free(buf);
}

FERRY_TEST(crc32c_detects_single_bit_flips)
{
	uint8_t *buf = random_bytes(64, 3);
	EXPECT(buf != NULL);
	if (!buf)
		return;
	uint32_t good = ferry_crc32c(0, buf, 64);
	int undetected = 0;
	for (size_t bit = 0; bit < 64 * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (ferry_crc32c(0, buf, 64) == good)
			undetected++;
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	EXPECT_EQ_INT(undetected, 0);
	free(buf);
}

/* Random bytes from a fixed xorshift, so a failure reproduces. */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (uint8_t)seed;
	}
}

FERRY_TEST(crc32c_append_page_joins_like_one_pass)
{
	uint8_t *buf = malloc(5 * 4096 + 1);
	fill_random(buf, 5 * 4096 + 1, 99);
	const size_t heads[] = {0, 1, 7, 4096, 12289};
	for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
		uint32_t head = ferry__crc32c_table(0, buf, heads[h]);
		const uint8_t *page = buf + heads[h];
		EXPECT_EQ_INT(ferry_crc32c_append_page(head, ferry__crc32c_table(0, page, 4096)),
			      ferry__crc32c_table(0, buf, heads[h] + 4096));
	}
	/* Joining page by page from 0 gives the whole span's CRC. */
	uint32_t joined = 0, crcs[5];
	ferry_crc32c_pages(buf, 5, crcs);
	for (int i = 0; i < 5; i++)
		joined = ferry_crc32c_append_page(joined, crcs[i]);
	EXPECT_EQ_INT(joined, ferry__crc32c_table(0, buf, 5 * 4096));
	free(buf);
}

FERRY_TEST(crc32c_pages_match_each_page_for_every_count)
{
	const size_t max = 8;
	uint8_t *buf = aligned_alloc(4096, max * 4096);
	fill_random(buf, max * 4096, 7);
	for (size_t n = 0; n <= max; n++) { /* the three-page lanes and the rest */
		uint32_t out[8] = {0};
		ferry_crc32c_pages(buf, n, out);
		for (size_t i = 0; i < n; i++)
			EXPECT_EQ_INT(out[i], ferry__crc32c_table(0, buf + i * 4096, 4096));
	}
	free(buf);
}

/* combine(crc(A), crc(B), |B|) == crc(AB) for every split of a buffer, including empty A or B,
 * lengths that are not multiples of 8, and lengths past the 3-lane threshold. */
FERRY_TEST(crc32c_combine_equals_crc_of_the_concatenation)
{
	const size_t total = 3 * 3 * 4096 + 77;
	uint8_t *buf = random_bytes(total, 21);
	EXPECT(buf != NULL);
	if (!buf)
		return;
	int mismatches = 0, checked = 0;
	for (size_t len = 0; len <= total; len += len < 300 ? 1 : 997) {
		uint32_t whole = ferry__crc32c_table(0, buf, len);
		for (size_t cut = 0; cut <= len; cut += cut < 40 || len - cut < 40 ? 1 : 131) {
			uint32_t a = ferry_crc32c(0, buf, cut), b = ferry_crc32c(0, buf + cut, len - cut);
			if (ferry_crc32c_combine(a, b, len - cut) != whole)
				mismatches++;
			checked++;
		}
	}
	EXPECT(checked > 10000);
	EXPECT_EQ_INT(mismatches, 0);
	/* Joining with an empty B leaves A as it was; the pieces equal the one-call form. */
	EXPECT_EQ_U64(ferry_crc32c_combine(0x12345678u, 0, 0), 0x12345678u);
	EXPECT_EQ_U64(ferry_crc32c_shift(ferry_crc32c_shift_operator(4096), 0xcafef00du) ^ 0x1234u,
		      ferry_crc32c_combine(0xcafef00du, 0x1234u, 4096));
	/* A wrong length gives a wrong result: the length is really used. */
	uint32_t a = ferry_crc32c(0, buf, 100), b = ferry_crc32c(0, buf + 100, 50);
	EXPECT(ferry_crc32c_combine(a, b, 51) != ferry_crc32c(0, buf, 150));
	free(buf);
}

/* Combining many blocks left to right gives the CRC of the whole, as the sim device joins its
 * per-block CRCs. */
FERRY_TEST(crc32c_combine_chains_blocks)
{
	const size_t block = 4096, n = 37, tail = 123;
	uint8_t *buf = random_bytes(n * block + tail, 5);
	EXPECT(buf != NULL);
	if (!buf)
		return;
	uint32_t c = ferry_crc32c(0, buf, block);
	for (size_t i = 1; i < n; i++)
		c = ferry_crc32c_combine(c, ferry_crc32c(0, buf + i * block, block), block);
	c = ferry_crc32c_combine(c, ferry_crc32c(0, buf + n * block, tail), tail);
	EXPECT_EQ_U64(c, ferry__crc32c_table(0, buf, n * block + tail));
	free(buf);
}
