/* Staged verification of incoming memory; see staged_verify.h. */
#include "staged_verify.h"

#include "errbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define WORD_BITS 64u

size_t ferry_staged_bitmap_bytes(uint64_t npages)
{
	return ferry_dirty_words_bytes(npages);
}

int ferry_staged_verify_init(struct ferry_staged_verify *s, uint64_t npages, const char *name, char *err,
			     size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	size_t bytes = ferry_staged_bitmap_bytes(npages);
	s->npages = npages;
	s->seen = calloc(1, bytes);
	s->suspect = calloc(1, bytes);
	s->mismatch = calloc(1, bytes);
	s->suspect_mismatch = calloc(1, bytes);
	s->fd = memfd_create(name, MFD_CLOEXEC);
	int e = 0;
	if (!s->seen || !s->suspect || !s->mismatch || !s->suspect_mismatch)
		e = ENOMEM;
	else if (s->fd < 0 || ftruncate(s->fd, (off_t)bytes) != 0)
		e = errno;
	if (e == 0) {
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
		if (p == MAP_FAILED)
			e = errno;
		else
			s->written = p;
	}
	if (e) {
		ferry_errbuf_set(err, errlen, "cannot create the %zu-byte written-pages bitmap: %s", bytes, strerror(e));
		ferry_staged_verify_free(s);
		return -e;
	}
	return 0;
}

void ferry_staged_verify_free(struct ferry_staged_verify *s)
{
	if (s->written)
		munmap(s->written, ferry_staged_bitmap_bytes(s->npages));
	if (s->fd >= 0)
		close(s->fd);
	free(s->seen);
	free(s->suspect);
	free(s->mismatch);
	free(s->suspect_mismatch);
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

void ferry_staged_verify_mark(struct ferry_staged_verify *s, uint64_t first, uint64_t count)
{
	ferry_dirty_words_set_range(s->written, first, count);
	ferry_dirty_words_set_range(s->seen, first, count);
}

uint64_t ferry_staged_verify_landed(struct ferry_staged_verify *s, const uint8_t *ram, uint64_t first,
				   uint64_t count, const uint32_t *page_crcs)
{
	ferry_dirty_words_set_range(s->seen, first, count);
	uint64_t left = 0;
	for (uint64_t p = first; p < first + count; p++) {
		/* A suspect must be seen arriving by the round's check; s->suspect only changes there. */
		const uint8_t *page = ram + p * FERRY_PAGE_BYTES;
		enum ferry_page_fault f = page_crcs ? ferry_page_verify_crc(page, p, page_crcs[p - first])
						    : ferry_page_verify(page, p);
		if (ferry_dirty_words_test(s->suspect, p) || f != FERRY_PAGE_OK) {
			ferry_dirty_words_set_range(s->written, p, 1);
			left++;
		}
	}
	__atomic_fetch_add(&s->landed_checked, count - left, __ATOMIC_RELAXED);
	return left;
}

void ferry_staged_verify_mismatch(struct ferry_staged_verify *s, uint64_t page)
{
	ferry_dirty_words_set_range(s->mismatch, page, 1);
}

/* A suspect page must have arrived again this round; it is then checked like any marked page. */
static int settle_suspects(struct ferry_staged_verify *s, struct ferry_round_check *out)
{
	size_t words = ferry_staged_bitmap_bytes(s->npages) / sizeof(uint64_t);
	for (size_t w = 0; w < words; w++) {
		uint64_t sus = s->suspect[w];
		while (sus) {
			uint64_t page = w * WORD_BITS + (uint64_t)__builtin_ctzll(sus);
			sus &= sus - 1;
			if (!ferry_dirty_words_test(s->written, page)) {
				out->bad_page = page;
				out->fault = FERRY_PAGE_BAD_CHECKSUM;
				out->in_transit = ferry_dirty_words_test(s->suspect_mismatch, page);
				snprintf(out->reason, sizeof out->reason,
					 out->in_transit ? "incoming page %llu arrived with a checksum other than the "
							   "source's and was not sent again: damaged in transit"
							 : "incoming page %llu failed its self-check and was not sent again: corrupt",
					 (unsigned long long)page);
				return -EBADMSG;
			}
			out->resent++;
		}
		s->suspect[w] = 0;
		s->suspect_mismatch[w] = 0;
	}
	return 0;
}

static int require_all_seen(const struct ferry_staged_verify *s, struct ferry_round_check *out)
{
	for (uint64_t page = 0; page < s->npages; page++) {
		if (page % WORD_BITS == 0 && page + WORD_BITS <= s->npages && s->seen[page / WORD_BITS] == ~0ull) {
			page += WORD_BITS - 1; /* a whole word arrived: this runs in the downtime window */
			continue;
		}
		if (!ferry_dirty_words_test(s->seen, page)) {
			out->bad_page = page;
			out->fault = FERRY_PAGE_BAD_MAGIC;
			snprintf(out->reason, sizeof out->reason, "incoming page %llu never arrived",
				 (unsigned long long)page);
			return -EBADMSG;
		}
	}
	return 0;
}

/* The final round's pages were read from a frozen source: one that mismatched was damaged. */
static int refuse_final_mismatch(const struct ferry_staged_verify *s, struct ferry_round_check *out)
{
	size_t words = ferry_staged_bitmap_bytes(s->npages) / sizeof(uint64_t);
	for (size_t w = 0; w < words; w++) {
		if (!s->mismatch[w])
			continue;
		out->bad_page = w * WORD_BITS + (uint64_t)__builtin_ctzll(s->mismatch[w]);
		out->fault = FERRY_PAGE_BAD_CHECKSUM;
		out->in_transit = true;
		snprintf(out->reason, sizeof out->reason,
			 "incoming page %llu of the final round arrived with a checksum other than the source's "
			 "(the source was frozen): damaged in transit",
			 (unsigned long long)out->bad_page);
		return -EBADMSG;
	}
	return 0;
}

/* This round's mismatched pages become suspect: they must arrive again by the next round's end. */
static void defer_mismatches(struct ferry_staged_verify *s, struct ferry_round_check *out)
{
	size_t words = ferry_staged_bitmap_bytes(s->npages) / sizeof(uint64_t);
	for (size_t w = 0; w < words; w++) {
		uint64_t bad = s->mismatch[w];
		if (!bad)
			continue;
		out->mismatched += (uint64_t)__builtin_popcountll(bad);
		out->deferred += (uint64_t)__builtin_popcountll(bad & ~s->suspect[w]);
		s->suspect[w] |= bad;
		s->suspect_mismatch[w] |= bad;
		s->mismatch[w] = 0;
	}
}

int ferry_staged_verify_round(struct ferry_staged_verify *s, const uint8_t *ram, bool final,
			      struct ferry_round_check *out)
{
	memset(out, 0, sizeof *out);
	out->checked = __atomic_exchange_n(&s->landed_checked, 0, __ATOMIC_RELAXED);
	int rc = settle_suspects(s, out);
	if (!rc && final)
		rc = refuse_final_mismatch(s, out);
	if (rc || final)
		return rc ? rc : require_all_seen(s, out);
	size_t words = ferry_staged_bitmap_bytes(s->npages) / sizeof(uint64_t);
	for (size_t w = 0; w < words; w++) {
		uint64_t marked = s->written[w];
		while (marked) {
			uint64_t page = w * WORD_BITS + (uint64_t)__builtin_ctzll(marked);
			marked &= marked - 1;
			out->checked++;
			if (ferry_page_verify(ram + page * FERRY_PAGE_BYTES, page) != FERRY_PAGE_OK) {
				out->deferred++;
				ferry_dirty_words_set_range(s->suspect, page, 1);
			}
			ferry_dirty_words_clear(s->written, page);
		}
	}
	defer_mismatches(s, out);
	return 0;
}

int ferry_staged_check_marked(const uint8_t *base, uint64_t npages, const uint64_t *bits, uint64_t *checked,
			      uint64_t *first_bad, enum ferry_page_fault *fault)
{
	*checked = 0;
	size_t words = ferry_staged_bitmap_bytes(npages) / sizeof(uint64_t);
	for (size_t w = 0; w < words; w++) {
		uint64_t marked = bits[w];
		if (w == words - 1 && npages % WORD_BITS)
			marked &= (1ull << (npages % WORD_BITS)) - 1; /* bits past RAM mean nothing */
		while (marked) {
			uint64_t page = w * WORD_BITS + (uint64_t)__builtin_ctzll(marked);
			marked &= marked - 1;
			(*checked)++;
			enum ferry_page_fault f = ferry_page_verify(base + page * FERRY_PAGE_BYTES, page);
			if (f != FERRY_PAGE_OK) {
				*first_bad = page;
				*fault = f;
				return -EBADMSG;
			}
		}
	}
	return 0;
}
