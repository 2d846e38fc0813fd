/*
 * The self-check every workload page carries, so memory can be verified on any host after any
 * number of migrations: a 24-byte trailer at the end of each 4 KiB page.
 *
 *   offset  size  field
 *   0       4072  payload: pseudo-random bytes from (seed, page index, generation)
 *   4072    8     page index (within guest RAM), little-endian
 *   4080    8     generation: 1 when first filled, +1 at every vCPU write of the page
 *   4088    4     magic FERRY_PAGE_MAGIC
 *   4092    4     crc32c of bytes [0, 4092) (payload, index, generation, magic)
 *
 * The checksum covers everything but itself, so one corrupted byte anywhere in the page is caught
 * (crc32c detects every burst of up to 32 bits). Writers rewrite the whole page, so a page is only
 * consistent between writes: verify a frozen workload.
 */
#ifndef FERRY_PAGE_CHECK_H
#define FERRY_PAGE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_PAGE_BYTES 4096u
#define FERRY_PAGE_PAYLOAD_BYTES 4072u
#define FERRY_PAGE_MAGIC 0x47505746u /* 'F' 'W' 'P' 'G' little-endian */

/* Why a page failed its self-check. 0 = fine. */
enum ferry_page_fault {
	FERRY_PAGE_OK = 0,
	FERRY_PAGE_BAD_MAGIC = 1,     /* trailer magic missing: never filled, zeroed or overwritten */
	FERRY_PAGE_WRONG_INDEX = 2,   /* a valid page, but of another index: misplaced */
	FERRY_PAGE_BAD_CHECKSUM = 3,  /* contents changed after the checksum was written */
	FERRY_PAGE_BAD_GENERATION = 4 /* generation 0: no writer ever produces it */
};

/* Trailer fields of a page, as stored. */
struct ferry_page_trailer {
	uint64_t index;
	uint64_t generation;
	uint32_t magic;
	uint32_t crc;
};

/* Fills `page` (FERRY_PAGE_BYTES, 8-byte aligned) with a payload derived from (seed, index,
 * generation) and a valid trailer. */
void ferry_page_fill(void *page, uint64_t index, uint64_t generation, uint64_t seed);

/* Reads the trailer of a page (whether or not it is valid). */
struct ferry_page_trailer ferry_page_trailer_read(const void *page);

/* A page whose last 4 bytes hold the CRC-32C of the rest (little-endian), as every filled page's
 * do, has this CRC-32C as a whole, and no other page has: CRC-32C's residue. */
#define FERRY_PAGE_CRC_RESIDUE 0x48674BC7u

/* ferry_page_verify given the page's whole CRC-32C (ferry_crc32c(0, page, FERRY_PAGE_BYTES), e.g.
 * from ferry_crc32c_pages while it arrived): the same verdict without another pass over it. */
enum ferry_page_fault ferry_page_verify_crc(const void *page, uint64_t index, uint32_t page_crc);

/* FERRY_PAGE_OK if `page` is a consistent page number `index`, else why not. */
enum ferry_page_fault ferry_page_verify(const void *page, uint64_t index);

/* "ok", "bad_magic", "wrong_index", "bad_checksum", "bad_generation". */
const char *ferry_page_fault_name(enum ferry_page_fault fault);

/* Verifies npages consecutive pages starting at `base` (page i must carry index first_index + i).
 * Returns 0 when all pass; otherwise -EBADMSG with the first bad page's index in *first_bad and the
 * reason in *fault. */
int ferry_memory_verify(const void *base, uint64_t first_index, uint64_t npages, uint64_t *first_bad,
			enum ferry_page_fault *fault);

#endif
