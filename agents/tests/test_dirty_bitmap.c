/* dirty_bitmap: set/test/count, runs across word boundaries, OR of bitmaps and of DMA ranges. */
#include <errno.h>
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
