/*
 * Staged verification of an incoming VM's memory: the page self-checks (page_check.h) that prove
 * the migrated memory arrived intact, done round by round during pre-copy so that only the final
 * round's pages are left to check inside the downtime window.
 *
 * The destination marks every page it writes (data and zero pages) in `written`, a bitmap in a
 * memfd that the incoming workload receives with `start` (workload_ipc.h) and checks at start.
 * At the end of every pre-copy round, while every receiver is idle (the source waits for all
 * ROUND_ACKs before it harvests the next round), the destination checks the marked pages:
 *
 *   - a page that passes is unmarked: it is intact and nothing wrote it since;
 *   - a page that fails is not necessarily corrupt: the source reads pages while its vCPUs run, so
 *     a page read during a vCPU's write arrives torn. That write came after the source re-armed
 *     the page's write protection, so the page is dirty again and is sent in the next round. The
 *     page becomes `suspect` (and unmarked); at the end of the next round (pre-copy or final), a
 *     suspect page that did not arrive again is corrupt: the migration fails, naming it.
 *
 * A page whose CRC on arrival differs from the one the source sent (PageBatch.page_crc32c) is held
 * the same way: the source sends pages straight from guest memory, so a write between its CRC and
 * its send makes the page mismatch, and that write re-dirtied it. Such a page of a pre-copy round
 * becomes suspect, and must arrive again by the next round's end; one of the final round (vCPUs
 * frozen, devices stopped: nothing can write it) fails the migration at that round's end.
 *
 * At the end of the final round every page must have arrived at least once (`seen`), so checking
 * only the marked pages at start proves as much as checking all of RAM.
 */
#ifndef FERRY_STAGED_VERIFY_H
#define FERRY_STAGED_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dirty_bitmap.h"
#include "page_check.h"

/* Bytes of the `written` memfd for npages: bits in whole 64-bit words, read and marked with
 * ferry_dirty_words_* (dirty_bitmap.h), atomic since several receivers mark pages at once. */
size_t ferry_staged_bitmap_bytes(uint64_t npages);

struct ferry_staged_verify {
	uint64_t npages;
	uint64_t landed_checked; /* (atomic) pages checked as they landed since the last round check */
	uint64_t *written; /* shared: a MAP_SHARED mapping of `fd` */
	uint64_t *seen;    /* private: pages that arrived at least once */
	uint64_t *suspect; /* private: failed at the last round's check, must arrive again */
	uint64_t *mismatch;         /* (atomic) arrived this round with a CRC other than the one sent */
	uint64_t *suspect_mismatch; /* of `suspect`, those that mismatched (for the error's words) */
	int fd;            /* memfd of ferry_staged_bitmap_bytes(npages) holding `written` */
};

/* Creates the bitmaps (the shared one in a memfd named `name`). -errno with the reason in err. */
int ferry_staged_verify_init(struct ferry_staged_verify *s, uint64_t npages, const char *name, char *err,
			     size_t errlen);
void ferry_staged_verify_free(struct ferry_staged_verify *s);

/* Marks a run that was just written into guest RAM. */
void ferry_staged_verify_mark(struct ferry_staged_verify *s, uint64_t first, uint64_t count);

/* Instead of mark, for a run of a pre-copy round that is never the final one (round 0: the
 * source always sends at least one more): checks its pages now, on the receiver's thread while
 * they are in cache, instead of in one pass over all of RAM at the round's end. A page that
 * passes is only recorded as seen; one that fails (or was suspect) is marked as ferry_staged_verify_mark
 * does, so the round's check re-checks it and a torn page becomes suspect as before. Safe from
 * several receivers at once on disjoint runs. page_crcs: each page's whole CRC-32C, taken as it
 * arrived (ferry_page_verify_crc: no second pass over the page), or NULL to read the pages. Returns
 * how many pages it left marked. */
uint64_t ferry_staged_verify_landed(struct ferry_staged_verify *s, const uint8_t *ram, uint64_t first,
				   uint64_t count, const uint32_t *page_crcs);

/* A page of the current round arrived with a CRC other than the source's (see the top). Safe from
 * several receivers at once. */
void ferry_staged_verify_mismatch(struct ferry_staged_verify *s, uint64_t page);

struct ferry_round_check {
	uint64_t checked;  /* marked pages checked (pre-copy rounds) */
	uint64_t deferred; /* of those, failed and now suspect */
	uint64_t mismatched; /* pages that arrived with a CRC other than the source's, now suspect */
	uint64_t resent;   /* suspect pages of the previous round that arrived again */
	uint64_t bad_page; /* on failure: the page */
	enum ferry_page_fault fault;
	bool in_transit;   /* on failure: the page failed the source's CRC, not its own self-check */
	char reason[192];  /* on failure */
};

/* End of a round, receivers idle. Pre-copy (final = false): settles the previous round's suspects,
 * then checks and unmarks the marked pages of `ram` (out->checked also counts the pages checked as
 * they landed), and makes this round's mismatched pages suspect. Final: settles the suspects,
 * refuses any mismatched page and requires every page seen; the marked pages stay for the
 * workload's check at start. 0, or -EBADMSG with the page and reason in *out. */
int ferry_staged_verify_round(struct ferry_staged_verify *s, const uint8_t *ram, bool final,
			      struct ferry_round_check *out);

/* Workload side: checks the pages marked in `bits` (npages bits) of guest RAM at `base`. 0, or
 * -EBADMSG with the first bad page and its fault. *checked: how many were checked. */
int ferry_staged_check_marked(const uint8_t *base, uint64_t npages, const uint64_t *bits, uint64_t *checked,
			      uint64_t *first_bad, enum ferry_page_fault *fault);

#endif
