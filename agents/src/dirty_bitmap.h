/*
 * One bit per guest page: which pages a pre-copy round still has to send. Pure (no syscalls) and
 * sized for many GiB of guest RAM: 1 GiB of 4 KiB pages is 32 KiB of bitmap, and every operation
 * works a 64-bit word at a time.
 *
 * Page indexes are relative to the start of the tracked region (page 0 = its first page).
 */
#ifndef FERRY_DIRTY_BITMAP_H
#define FERRY_DIRTY_BITMAP_H

#include <stddef.h>
#include <stdint.h>

struct ferry_dirty_bitmap {
	uint64_t *words;  /* (npages + 63) / 64 words; bits past npages are always 0 */
	uint64_t npages;
};

/* A run of pages [first, first + count), e.g. one entry of a device's DMA log. */
struct ferry_page_range {
	uint64_t first;
	uint64_t count;
};

/* All clear. -ENOMEM, or -EINVAL for npages == 0. */
int ferry_dirty_bitmap_init(struct ferry_dirty_bitmap *bm, uint64_t npages);
void ferry_dirty_bitmap_free(struct ferry_dirty_bitmap *bm);
void ferry_dirty_bitmap_clear_all(struct ferry_dirty_bitmap *bm);

static inline void ferry_dirty_bitmap_set(struct ferry_dirty_bitmap *bm, uint64_t page)
{
	bm->words[page >> 6] |= UINT64_C(1) << (page & 63);
}

static inline int ferry_dirty_bitmap_test(const struct ferry_dirty_bitmap *bm, uint64_t page)
{
	return (int)((bm->words[page >> 6] >> (page & 63)) & 1);
}

/* Sets [first, first + count). -ERANGE (and nothing set) if the run leaves the bitmap. */
int ferry_dirty_bitmap_set_range(struct ferry_dirty_bitmap *bm, uint64_t first, uint64_t count);

/* Number of set bits. */
uint64_t ferry_dirty_bitmap_count(const struct ferry_dirty_bitmap *bm);

/* bm |= other. -EINVAL if their sizes differ. */
int ferry_dirty_bitmap_or(struct ferry_dirty_bitmap *bm, const struct ferry_dirty_bitmap *other);

/* Sets every range (a DMA log's runs). Validates all ranges first: -ERANGE and nothing set if any
 * leaves the bitmap, so a bad log cannot half-apply. */
int ferry_dirty_bitmap_or_ranges(struct ferry_dirty_bitmap *bm, const struct ferry_page_range *ranges,
				 size_t n);

/*
 * The same bits over caller-owned words, e.g. a bitmap in shared memory that another process
 * reads: bit p is bit p % 64 of words[p / 64]. Every access is atomic (relaxed), so several
 * threads may set and clear bits at once; the caller keeps page indexes inside its words.
 */

/* Bytes of npages bits in whole 64-bit words. */
size_t ferry_dirty_words_bytes(uint64_t npages);
/* Sets [first, first + count): one atomic OR per word touched. */
void ferry_dirty_words_set_range(uint64_t *words, uint64_t first, uint64_t count);
int ferry_dirty_words_test(const uint64_t *words, uint64_t page);
void ferry_dirty_words_clear(uint64_t *words, uint64_t page);

/* Finds the first run of set bits at or after page `from`. Returns 1 with *run filled, or 0 when no
 * bit is set at or after `from`. Iterate with from = run.first + run.count. */
int ferry_dirty_bitmap_next_run(const struct ferry_dirty_bitmap *bm, uint64_t from, struct ferry_page_range *run);

#endif
