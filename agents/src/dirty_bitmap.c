/* One bit per page; see dirty_bitmap.h. */
#include "dirty_bitmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t word_count(uint64_t npages)
{
	return (npages + 63) / 64;
}

int ferry_dirty_bitmap_init(struct ferry_dirty_bitmap *bm, uint64_t npages)
{
	bm->words = NULL;
	bm->npages = 0;
	if (npages == 0)
		return -EINVAL;
	bm->words = calloc(word_count(npages), sizeof(uint64_t));
	if (!bm->words)
		return -ENOMEM;
	bm->npages = npages;
	return 0;
}

void ferry_dirty_bitmap_free(struct ferry_dirty_bitmap *bm)
{
	free(bm->words);
	bm->words = NULL;
	bm->npages = 0;
}

void ferry_dirty_bitmap_clear_all(struct ferry_dirty_bitmap *bm)
{
	memset(bm->words, 0, word_count(bm->npages) * sizeof(uint64_t));
}

/* Bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
static uint64_t word_mask(unsigned lo, unsigned hi)
{
	uint64_t upper = hi == 64 ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1;
	return upper & ~((UINT64_C(1) << lo) - 1);
}

/* The next word of the run [*first, end): its index, and in *mask the run's bits in it; advances
 * *first past them. */
static uint64_t next_word(uint64_t *first, uint64_t end, uint64_t *mask)
{
	uint64_t w = *first >> 6;
	unsigned lo = (unsigned)(*first & 63);
	unsigned hi = end - (w << 6) >= 64 ? 64 : (unsigned)(end - (w << 6));
	*mask = word_mask(lo, hi);
	*first = (w << 6) + hi;
	return w;
}

static void set_run(struct ferry_dirty_bitmap *bm, uint64_t first, uint64_t count)
{
	uint64_t end = first + count, mask;
	while (first < end) {
		uint64_t w = next_word(&first, end, &mask);
		bm->words[w] |= mask;
	}
}

static int range_fits(const struct ferry_dirty_bitmap *bm, uint64_t first, uint64_t count)
{
	return first <= bm->npages && count <= bm->npages - first;
}

int ferry_dirty_bitmap_set_range(struct ferry_dirty_bitmap *bm, uint64_t first, uint64_t count)
{
	if (!range_fits(bm, first, count))
		return -ERANGE;
	set_run(bm, first, count);
	return 0;
}

uint64_t ferry_dirty_bitmap_count(const struct ferry_dirty_bitmap *bm)
{
	uint64_t n = 0, words = word_count(bm->npages);
	for (uint64_t i = 0; i < words; i++)
		n += (uint64_t)__builtin_popcountll(bm->words[i]);
	return n;
}

int ferry_dirty_bitmap_or(struct ferry_dirty_bitmap *bm, const struct ferry_dirty_bitmap *other)
{
	if (bm->npages != other->npages)
		return -EINVAL;
	uint64_t words = word_count(bm->npages);
	for (uint64_t i = 0; i < words; i++)
		bm->words[i] |= other->words[i];
	return 0;
}

int ferry_dirty_bitmap_or_ranges(struct ferry_dirty_bitmap *bm, const struct ferry_page_range *ranges, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!range_fits(bm, ranges[i].first, ranges[i].count))
			return -ERANGE;
	for (size_t i = 0; i < n; i++)
		set_run(bm, ranges[i].first, ranges[i].count);
	return 0;
}

/* First bit at or after `from` whose value is `want` (0 or 1), or npages if none. */
static uint64_t find_bit(const struct ferry_dirty_bitmap *bm, uint64_t from, int want)
{
	uint64_t words = word_count(bm->npages);
	uint64_t w = from >> 6;
	if (from >= bm->npages)
		return bm->npages;
	uint64_t flip = want ? 0 : ~UINT64_C(0);
	uint64_t cur = (bm->words[w] ^ flip) & ~((UINT64_C(1) << (from & 63)) - 1);
	for (;;) {
		if (cur) {
			uint64_t bit = (w << 6) + (uint64_t)__builtin_ctzll(cur);
			return bit < bm->npages ? bit : bm->npages;
		}
		if (++w >= words)
			return bm->npages;
		cur = bm->words[w] ^ flip;
	}
}

int ferry_dirty_bitmap_next_run(const struct ferry_dirty_bitmap *bm, uint64_t from, struct ferry_page_range *run)
{
	uint64_t first = find_bit(bm, from, 1);
	if (first >= bm->npages)
		return 0;
	uint64_t end = find_bit(bm, first, 0);
	run->first = first;
	run->count = end - first;
	return 1;
}

size_t ferry_dirty_words_bytes(uint64_t npages)
{
	return (size_t)word_count(npages) * sizeof(uint64_t);
}

void ferry_dirty_words_set_range(uint64_t *words, uint64_t first, uint64_t count)
{
	uint64_t end = first + count, mask;
	while (first < end) {
		uint64_t w = next_word(&first, end, &mask);
		__atomic_fetch_or(&words[w], mask, __ATOMIC_RELAXED);
	}
}

int ferry_dirty_words_test(const uint64_t *words, uint64_t page)
{
	return (int)((__atomic_load_n(&words[page >> 6], __ATOMIC_RELAXED) >> (page & 63)) & 1);
}

void ferry_dirty_words_clear(uint64_t *words, uint64_t page)
{
	__atomic_fetch_and(&words[page >> 6], ~(UINT64_C(1) << (page & 63)), __ATOMIC_RELAXED);
}
