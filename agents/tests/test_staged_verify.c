/* Staged verification: the round check (passed pages are
 * unmarked, a failed one must arrive again, every page must arrive once) and the workload's check
 * of the marked pages only. */
#include "crc32c.h"
#include "page_check.h"
#include "staged_verify.h"
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NPAGES 200u /* not a multiple of 64: the last word is partial */

static uint8_t *filled_ram(void)
{
	uint8_t *ram = aligned_alloc(FERRY_PAGE_BYTES, (size_t)NPAGES * FERRY_PAGE_BYTES);
	for (uint64_t p = 0; ram && p < NPAGES; p++)
		ferry_page_fill(ram + p * FERRY_PAGE_BYTES, p, 1, 7);
	return ram;
}

static uint64_t count_marked(const uint64_t *bits)
{
	uint64_t n = 0;
	for (uint64_t p = 0; p < NPAGES; p++)
		n += ferry_dirty_words_test(bits, p);
	return n;
}

FERRY_TEST(staged_bitmap_is_whole_words)
{
	EXPECT_EQ_U64(ferry_staged_bitmap_bytes(NPAGES), 32);
	EXPECT_EQ_U64(ferry_staged_bitmap_bytes(64), 8);
}

FERRY_TEST(staged_round_unmarks_passed_pages_and_final_keeps_its_own)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT(ram != NULL);
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	ferry_staged_verify_mark(&s, 0, NPAGES); /* round 0: everything */
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.checked, NPAGES);
	EXPECT_EQ_U64(c.deferred, 0);
	EXPECT_EQ_U64(count_marked(s.written), 0);
	ferry_staged_verify_mark(&s, 10, 3); /* the final round */
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), 0);
	EXPECT_EQ_U64(c.checked, 0);
	EXPECT_EQ_U64(count_marked(s.written), 3); /* left for the workload at start */
	uint64_t checked = 0, bad = 0;
	enum ferry_page_fault f = FERRY_PAGE_OK;
	EXPECT_EQ_INT(ferry_staged_check_marked(ram, NPAGES, s.written, &checked, &bad, &f), 0);
	EXPECT_EQ_U64(checked, 3);
	ferry_staged_verify_free(&s);
	free(ram);
}

/* A page torn by a concurrent write on the source fails, arrives again next round and passes. */
FERRY_TEST(staged_round_defers_a_failed_page_that_arrives_again)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	ferry_staged_verify_mark(&s, 0, NPAGES);
	ram[70 * FERRY_PAGE_BYTES + 5] ^= 0x10;
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.deferred, 1);
	EXPECT_EQ_INT(ferry_dirty_words_test(s.suspect, 70), 1);
	ferry_page_fill(ram + 70 * FERRY_PAGE_BYTES, 70, 2, 7); /* round 1 brings it again, intact */
	ferry_staged_verify_mark(&s, 70, 1);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.resent, 1);
	EXPECT_EQ_U64(c.checked, 1);
	EXPECT_EQ_U64(c.deferred, 0);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), 0);
	ferry_staged_verify_free(&s);
	free(ram);
}

/* A page that failed and was not sent again is corrupt, in a pre-copy round and in the final. */
FERRY_TEST(staged_round_fails_a_bad_page_that_does_not_arrive_again)
{
	for (int final = 0; final <= 1; final++) {
		struct ferry_staged_verify s;
		char err[256];
		uint8_t *ram = filled_ram();
		EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
		ferry_staged_verify_mark(&s, 0, NPAGES);
		ram[131 * FERRY_PAGE_BYTES + 4000] ^= 0x01;
		struct ferry_round_check c;
		EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
		ferry_staged_verify_mark(&s, 5, 2); /* round 1 brings other pages only */
		EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, final, &c), -EBADMSG);
		EXPECT_EQ_U64(c.bad_page, 131);
		EXPECT(strstr(c.reason, "page 131 failed its self-check and was not sent again") != NULL);
		ferry_staged_verify_free(&s);
		free(ram);
	}
}

FERRY_TEST(staged_final_round_requires_every_page_to_have_arrived)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	ferry_staged_verify_mark(&s, 0, 150);
	ferry_staged_verify_mark(&s, 151, NPAGES - 151);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), -EBADMSG);
	EXPECT_EQ_U64(c.bad_page, 150);
	EXPECT(strstr(c.reason, "page 150 never arrived") != NULL);
	ferry_staged_verify_free(&s);
	free(ram);
}

FERRY_TEST(staged_check_marked_finds_a_bad_marked_page_and_ignores_bits_past_ram)
{
	uint8_t *ram = filled_ram();
	uint64_t bits[4] = {0};
	ram[33 * FERRY_PAGE_BYTES + 1] ^= 0x80;
	ram[34 * FERRY_PAGE_BYTES + 1] ^= 0x80;
	ferry_dirty_words_set_range(bits, 34, 1);
	bits[3] |= 1ull << 63; /* page 255: past RAM */
	uint64_t checked = 0, bad = 0;
	enum ferry_page_fault f = FERRY_PAGE_OK;
	EXPECT_EQ_INT(ferry_staged_check_marked(ram, NPAGES, bits, &checked, &bad, &f), -EBADMSG);
	EXPECT_EQ_U64(bad, 34); /* 33 is bad too but unmarked: not this stage's business */
	EXPECT_EQ_INT((int)f, FERRY_PAGE_BAD_CHECKSUM);
	ferry_page_fill(ram + 34 * FERRY_PAGE_BYTES, 34, 1, 7);
	EXPECT_EQ_INT(ferry_staged_check_marked(ram, NPAGES, bits, &checked, &bad, &f), 0);
	EXPECT_EQ_U64(checked, 1);
	free(ram);
}

/* A run landing as the destination lands it: with each page's CRC taken on arrival. */
static uint64_t land_run(struct ferry_staged_verify *s, const uint8_t *ram, uint64_t first, uint64_t count)
{
	uint32_t crcs[NPAGES];
	ferry_crc32c_pages(ram + first * FERRY_PAGE_BYTES, count, crcs);
	return ferry_staged_verify_landed(s, ram, first, count, crcs);
}

/* Round 0 checked as it lands: intact pages are only seen, the round's check has nothing left
 * to read but counts them; a torn one stays marked, becomes suspect, and must arrive again. */
FERRY_TEST(staged_landed_pages_are_checked_on_arrival_and_a_torn_one_is_rechecked)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	ram[77 * FERRY_PAGE_BYTES + 9] ^= 0x04; /* torn by a vCPU write on the source */
	EXPECT_EQ_U64(land_run(&s, ram, 0, 70), 0);
	EXPECT_EQ_U64(land_run(&s, ram, 70, NPAGES - 70), 1);
	EXPECT_EQ_U64(count_marked(s.written), 1);
	EXPECT_EQ_INT(ferry_dirty_words_test(s.written, 77), 1);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.checked, NPAGES); /* NPAGES - 1 on arrival, page 77 again here */
	EXPECT_EQ_U64(c.deferred, 1);
	EXPECT_EQ_INT(ferry_dirty_words_test(s.suspect, 77), 1);
	/* Round 1 brings it again, intact, checked on arrival too: a suspect is still marked so the
	 * round's check sees that it arrived. */
	ferry_page_fill(ram + 77 * FERRY_PAGE_BYTES, 77, 2, 7);
	EXPECT_EQ_U64(land_run(&s, ram, 77, 1), 1);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.resent, 1);
	EXPECT_EQ_U64(c.deferred, 0);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), 0); /* every page seen */
	ferry_staged_verify_free(&s);
	free(ram);
}

/* A page torn in round 0 and never sent again fails the next round, as with the round check. */
FERRY_TEST(staged_landed_torn_page_that_does_not_arrive_again_fails)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	ram[199 * FERRY_PAGE_BYTES + 4090] ^= 0x01; /* the trailer of the last page */
	EXPECT_EQ_U64(land_run(&s, ram, 0, NPAGES), 1);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	ferry_staged_verify_mark(&s, 3, 1);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), -EBADMSG);
	EXPECT_EQ_U64(c.bad_page, 199);
	ferry_staged_verify_free(&s);
	free(ram);
}

/* A page that arrived in round 0 with a CRC other than the source's (written on the source between
 * its CRC and its send) passes its own self-check but is held suspect; round 1 brings it again and
 * the migration goes on. */
FERRY_TEST(staged_mismatched_page_is_suspect_until_it_arrives_again)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	EXPECT_EQ_U64(land_run(&s, ram, 0, NPAGES), 0); /* intact in itself */
	ferry_staged_verify_mismatch(&s, 64);
	ferry_staged_verify_mismatch(&s, 199);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.mismatched, 2);
	EXPECT_EQ_U64(c.deferred, 2);
	EXPECT_EQ_INT(ferry_dirty_words_test(s.suspect, 64), 1);
	EXPECT_EQ_INT(ferry_dirty_words_test(s.suspect, 199), 1);
	ferry_staged_verify_mark(&s, 64, 1); /* round 1: both again, matching */
	ferry_staged_verify_mark(&s, 199, 1);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.resent, 2);
	EXPECT_EQ_U64(c.mismatched, 0);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), 0);
	ferry_staged_verify_free(&s);
	free(ram);
}

/* One that mismatched and was not sent again was damaged on the way: the error says so (the
 * destination reports it as CHECKSUM, not as its own memory going bad). A page that mismatches
 * again when resent stays suspect for one more round. */
FERRY_TEST(staged_mismatched_page_not_sent_again_was_damaged_in_transit)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	EXPECT_EQ_U64(land_run(&s, ram, 0, NPAGES), 0);
	ferry_staged_verify_mismatch(&s, 5);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	ferry_staged_verify_mark(&s, 5, 1); /* round 1: torn again by another write */
	ferry_staged_verify_mismatch(&s, 5);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.resent, 1);
	EXPECT_EQ_U64(c.deferred, 1);
	ferry_staged_verify_mark(&s, 6, 1); /* round 2 brings another page only */
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), -EBADMSG);
	EXPECT_EQ_U64(c.bad_page, 5);
	EXPECT(c.in_transit);
	EXPECT(strstr(c.reason, "page 5 arrived with a checksum other than the source's and was not sent again") !=
	       NULL);
	ferry_staged_verify_free(&s);
	free(ram);
}

/* In the final round nothing on the source can write a page: a mismatch fails at once. */
FERRY_TEST(staged_mismatch_in_the_final_round_fails_that_round)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	EXPECT_EQ_U64(land_run(&s, ram, 0, NPAGES), 0);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	ferry_staged_verify_mark(&s, 130, 2);
	ferry_staged_verify_mismatch(&s, 131);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), -EBADMSG);
	EXPECT_EQ_U64(c.bad_page, 131);
	EXPECT(c.in_transit);
	EXPECT(strstr(c.reason, "page 131 of the final round arrived with a checksum other than the source's") != NULL);
	ferry_staged_verify_free(&s);
	free(ram);
}

/* A self-check failure is this host's memory, not the link: in_transit stays false. */
FERRY_TEST(staged_self_check_failure_is_not_in_transit)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	ram[9 * FERRY_PAGE_BYTES + 1] ^= 0x01;
	EXPECT_EQ_U64(land_run(&s, ram, 0, NPAGES), 1);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, true, &c), -EBADMSG);
	EXPECT_EQ_U64(c.bad_page, 9);
	EXPECT(!c.in_transit);
	ferry_staged_verify_free(&s);
	free(ram);
}

struct landing {
	struct ferry_staged_verify *s;
	const uint8_t *ram;
	uint64_t first, count;
};

static void *land(void *arg)
{
	struct landing *l = arg;
	for (uint64_t p = l->first; p < l->first + l->count; p += 3) /* runs of 3 pages, interleaved words */
		ferry_staged_verify_landed(l->s, l->ram, p, p + 3 <= l->first + l->count ? 3 : l->first + l->count - p, NULL);
	return NULL;
}

/* Receivers land disjoint runs that share bitmap words at once: nothing is lost. */
FERRY_TEST(staged_landed_from_several_threads_sees_every_page)
{
	struct ferry_staged_verify s;
	char err[256];
	uint8_t *ram = filled_ram();
	EXPECT_EQ_INT(ferry_staged_verify_init(&s, NPAGES, "ferry-test-written", err, sizeof err), 0);
	ram[64 * FERRY_PAGE_BYTES] ^= 0x01;
	ram[65 * FERRY_PAGE_BYTES] ^= 0x01;
	struct landing a = {&s, ram, 0, 65}, b = {&s, ram, 65, NPAGES - 65};
	pthread_t ta, tb;
	EXPECT_EQ_INT(pthread_create(&ta, NULL, land, &a), 0);
	EXPECT_EQ_INT(pthread_create(&tb, NULL, land, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	EXPECT_EQ_U64(count_marked(s.written), 2);
	EXPECT_EQ_U64(count_marked(s.seen), NPAGES);
	struct ferry_round_check c;
	EXPECT_EQ_INT(ferry_staged_verify_round(&s, ram, false, &c), 0);
	EXPECT_EQ_U64(c.checked, NPAGES);
	EXPECT_EQ_U64(c.deferred, 2);
	ferry_staged_verify_free(&s);
	free(ram);
}
