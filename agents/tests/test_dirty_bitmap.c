/* dirty_bitmap: set/test/count, runs across word boundaries, OR of bitmaps and of DMA ranges, and
 * the atomic primitives over caller-owned words. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "dirty_bitmap.h"
#include "test.h"

/* Reference: a byte per page. */
static void expect_equal_to_bytes(const struct ferry_dirty_bitmap *bm, const unsigned char *ref)
{
	uint64_t want = 0, mismatches = 0;
	for (uint64_t i = 0; i < bm->npages; i++) {
		want += ref[i];
		mismatches += (uint64_t)(ferry_dirty_bitmap_test(bm, i) != ref[i]);
	}
	EXPECT_EQ_U64(mismatches, 0);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(bm), want);
}

FERRY_TEST(dirty_bitmap_set_test_count)
{
	struct ferry_dirty_bitmap bm;
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, 0), -EINVAL);
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, 130), 0);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(&bm), 0);
	ferry_dirty_bitmap_set(&bm, 0);
	ferry_dirty_bitmap_set(&bm, 63);
	ferry_dirty_bitmap_set(&bm, 64);
	ferry_dirty_bitmap_set(&bm, 129);
	ferry_dirty_bitmap_set(&bm, 129);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(&bm), 4);
	EXPECT(ferry_dirty_bitmap_test(&bm, 63));
	EXPECT(!ferry_dirty_bitmap_test(&bm, 62));
	EXPECT(!ferry_dirty_bitmap_test(&bm, 128));
	ferry_dirty_bitmap_clear_all(&bm);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(&bm), 0);
	ferry_dirty_bitmap_free(&bm);
}

FERRY_TEST(dirty_bitmap_ranges_match_reference)
{
	const uint64_t n = 1000;
	struct ferry_dirty_bitmap bm;
	unsigned char *ref = calloc(n, 1);
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, n), 0);
	uint64_t s = 12345;
	for (int k = 0; k < 40; k++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t first = (s >> 33) % n, count = (s >> 17) % 40;
		if (count > n - first)
			count = n - first;
		EXPECT_EQ_INT(ferry_dirty_bitmap_set_range(&bm, first, count), 0);
		for (uint64_t i = first; i < first + count; i++)
			ref[i] = 1;
	}
	expect_equal_to_bytes(&bm, ref);
	/* Runs found by next_run are exactly the reference's maximal runs. */
	uint64_t from = 0, runs = 0, covered = 0;
	struct ferry_page_range r;
	while (ferry_dirty_bitmap_next_run(&bm, from, &r)) {
		EXPECT(r.count > 0);
		EXPECT(r.first == 0 || !ref[r.first - 1]);
		EXPECT(r.first + r.count == n || !ref[r.first + r.count]);
		for (uint64_t i = r.first; i < r.first + r.count; i++)
			EXPECT(ref[i]);
		covered += r.count;
		runs++;
		from = r.first + r.count;
	}
	EXPECT_EQ_U64(covered, ferry_dirty_bitmap_count(&bm));
	EXPECT(runs > 1);
	ferry_dirty_bitmap_free(&bm);
	free(ref);
}

FERRY_TEST(dirty_bitmap_full_and_edges)
{
	struct ferry_dirty_bitmap bm;
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, 200), 0);
	EXPECT_EQ_INT(ferry_dirty_bitmap_set_range(&bm, 0, 200), 0);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(&bm), 200);
	struct ferry_page_range r;
	EXPECT_EQ_INT(ferry_dirty_bitmap_next_run(&bm, 0, &r), 1);
	EXPECT_EQ_U64(r.first, 0);
	EXPECT_EQ_U64(r.count, 200); /* bits past npages are never reported */
	EXPECT_EQ_INT(ferry_dirty_bitmap_next_run(&bm, 200, &r), 0);
	EXPECT_EQ_INT(ferry_dirty_bitmap_set_range(&bm, 199, 2), -ERANGE);
	EXPECT_EQ_INT(ferry_dirty_bitmap_set_range(&bm, 201, 0), -ERANGE);
	EXPECT_EQ_INT(ferry_dirty_bitmap_set_range(&bm, 5, UINT64_MAX), -ERANGE);
	ferry_dirty_bitmap_free(&bm);
}

FERRY_TEST(dirty_bitmap_or_and_dma_ranges_give_union)
{
	const uint64_t n = 4096;
	struct ferry_dirty_bitmap a, b;
	unsigned char *ref = calloc(n, 1);
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&a, n), 0);
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&b, n), 0);
	for (uint64_t i = 0; i < n; i += 7) {
		ferry_dirty_bitmap_set(&a, i);
		ref[i] = 1;
	}
	for (uint64_t i = 3; i < n; i += 11) {
		ferry_dirty_bitmap_set(&b, i);
		ref[i] = 1;
	}
	EXPECT_EQ_INT(ferry_dirty_bitmap_or(&a, &b), 0);
	struct ferry_page_range dma[] = {{0, 1}, {60, 70}, {1000, 1}, {4000, 96}, {62, 3}};
	EXPECT_EQ_INT(ferry_dirty_bitmap_or_ranges(&a, dma, sizeof dma / sizeof dma[0]), 0);
	for (size_t k = 0; k < sizeof dma / sizeof dma[0]; k++)
		for (uint64_t i = dma[k].first; i < dma[k].first + dma[k].count; i++)
			ref[i] = 1;
	expect_equal_to_bytes(&a, ref);
	/* A log with one bad range changes nothing. */
	uint64_t before = ferry_dirty_bitmap_count(&a);
	struct ferry_page_range bad[] = {{2, 1}, {4095, 2}};
	EXPECT_EQ_INT(ferry_dirty_bitmap_or_ranges(&a, bad, 2), -ERANGE);
	EXPECT_EQ_U64(ferry_dirty_bitmap_count(&a), before);
	EXPECT(!ferry_dirty_bitmap_test(&a, 2));
	struct ferry_dirty_bitmap c;
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&c, n + 1), 0);
	EXPECT_EQ_INT(ferry_dirty_bitmap_or(&a, &c), -EINVAL);
	ferry_dirty_bitmap_free(&a);
	ferry_dirty_bitmap_free(&b);
	ferry_dirty_bitmap_free(&c);
	free(ref);
}

/* Caller-owned words: a run through the end of word 0, all of word 1 and the start of word 2 sets
 * exactly those bits; the last, partial word (200 pages = 3 words + 8 bits) works like the others;
 * and the bits match what the bitmap's own set_range sets. */
FERRY_TEST(dirty_words_set_range_crosses_words_and_reaches_the_last_partial_word)
{
	const uint64_t n = 200;
	uint64_t words[4] = {0};
	EXPECT_EQ_U64(ferry_dirty_words_bytes(n), sizeof words);
	EXPECT_EQ_U64(ferry_dirty_words_bytes(64), 8);
	EXPECT_EQ_U64(ferry_dirty_words_bytes(65), 16);
	ferry_dirty_words_set_range(words, 60, 70); /* 60..129 */
	for (uint64_t p = 0; p < 256; p++)
		EXPECT_EQ_INT(ferry_dirty_words_test(words, p), p >= 60 && p < 130);
	EXPECT_EQ_U64(words[1], ~0ull);
	ferry_dirty_words_set_range(words, 190, 10); /* the last partial word, to its last page */
	EXPECT_EQ_U64(words[2], 3ull | 3ull << 62); /* 128, 129 and 190, 191 */
	EXPECT_EQ_U64(words[3], 0xffull);         /* 192..199, nothing past the last page */
	for (uint64_t p = 190; p < n; p++)
		EXPECT_EQ_INT(ferry_dirty_words_test(words, p), 1);
	EXPECT_EQ_INT(ferry_dirty_words_test(words, 189), 0);
	ferry_dirty_words_set_range(words, 5, 0); /* empty run: nothing */
	EXPECT_EQ_INT(ferry_dirty_words_test(words, 5), 0);

	struct ferry_dirty_bitmap bm;
	EXPECT_EQ_INT(ferry_dirty_bitmap_init(&bm, n), 0);
	EXPECT_EQ_INT(ferry_dirty_bitmap_set_range(&bm, 60, 70), 0);
	EXPECT_EQ_INT(ferry_dirty_bitmap_set_range(&bm, 190, 10), 0);
	EXPECT_EQ_INT(memcmp(bm.words, words, sizeof words), 0);
	ferry_dirty_bitmap_free(&bm);
}

FERRY_TEST(dirty_words_clear_drops_one_bit_only)
{
	uint64_t words[4] = {0};
	ferry_dirty_words_set_range(words, 0, 200);
	ferry_dirty_words_clear(words, 63);
	ferry_dirty_words_clear(words, 64);
	ferry_dirty_words_clear(words, 199);
	ferry_dirty_words_clear(words, 199); /* twice: still clear */
	for (uint64_t p = 0; p < 200; p++)
		EXPECT_EQ_INT(ferry_dirty_words_test(words, p), p != 63 && p != 64 && p != 199);
}

#define WORDS_THREADS 4
#define WORDS_PAGES (64u * 1024u)

static uint64_t shared_words[WORDS_PAGES / 64];

/* Thread t sets every page p with p % WORDS_THREADS == t, one bit at a time, so every word is
 * written by all threads at once. */
static void *set_interleaved(void *arg)
{
	uint64_t t = (uint64_t)(uintptr_t)arg;
	for (uint64_t p = t; p < WORDS_PAGES; p += WORDS_THREADS)
		ferry_dirty_words_set_range(shared_words, p, 1);
	return NULL;
}

FERRY_TEST(dirty_words_set_range_loses_no_bit_under_concurrent_writers)
{
	pthread_t th[WORDS_THREADS];
	memset(shared_words, 0, sizeof shared_words);
	for (uintptr_t t = 0; t < WORDS_THREADS; t++)
		EXPECT_EQ_INT(pthread_create(&th[t], NULL, set_interleaved, (void *)t), 0);
	for (size_t t = 0; t < WORDS_THREADS; t++)
		pthread_join(th[t], NULL);
	uint64_t missing = 0;
	for (size_t w = 0; w < WORDS_PAGES / 64; w++)
		missing += (uint64_t)__builtin_popcountll(~shared_words[w]);
	EXPECT_EQ_U64(missing, 0);
}
