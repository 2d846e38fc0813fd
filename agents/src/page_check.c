/* Per-page self-check; see page_check.h for the layout. */
#include "page_check.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "crc32c.h"

#define TRAILER_OFFSET FERRY_PAGE_PAYLOAD_BYTES
#define CRC_OFFSET (FERRY_PAGE_BYTES - 4u)

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* splitmix64: decorrelates nearby (seed, index, generation) triples. */
static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9E3779B97F4A7C15);
	x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
	return x ^ (x >> 31);
}

void ferry_page_fill(void *page, uint64_t index, uint64_t generation, uint64_t seed)
{
	uint8_t *p = page;
	/* xorshift64 stream: cheap enough that a vCPU's page write is dominated by the checksum. */
	uint64_t s = mix64(seed ^ mix64(index ^ mix64(generation))) | 1;
	for (unsigned off = 0; off < FERRY_PAGE_PAYLOAD_BYTES; off += 8) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		memcpy(p + off, &s, 8);
	}
	put_u64(p + TRAILER_OFFSET, index);
	put_u64(p + TRAILER_OFFSET + 8, generation);
	put_u32(p + TRAILER_OFFSET + 16, FERRY_PAGE_MAGIC);
	put_u32(p + CRC_OFFSET, ferry_crc32c(0, p, CRC_OFFSET));
}

struct ferry_page_trailer ferry_page_trailer_read(const void *page)
{
	const uint8_t *p = page;
	struct ferry_page_trailer t = {
		.index = get_u64(p + TRAILER_OFFSET),
		.generation = get_u64(p + TRAILER_OFFSET + 8),
		.magic = get_u32(p + TRAILER_OFFSET + 16),
		.crc = get_u32(p + CRC_OFFSET),
	};
	return t;
}

/* The checks after the magic, the checksum's outcome given. */
static enum ferry_page_fault verify_rest(const struct ferry_page_trailer *t, bool crc_ok, uint64_t index)
{
	/* Checksum before index: a corrupted index byte is a corruption, not a misplaced page. */
	if (!crc_ok)
		return FERRY_PAGE_BAD_CHECKSUM;
	if (t->index != index)
		return FERRY_PAGE_WRONG_INDEX;
	if (t->generation == 0)
		return FERRY_PAGE_BAD_GENERATION;
	return FERRY_PAGE_OK;
}

enum ferry_page_fault ferry_page_verify_crc(const void *page, uint64_t index, uint32_t page_crc)
{
	struct ferry_page_trailer t = ferry_page_trailer_read(page);
	if (t.magic != FERRY_PAGE_MAGIC)
		return FERRY_PAGE_BAD_MAGIC;
	return verify_rest(&t, page_crc == FERRY_PAGE_CRC_RESIDUE, index);
}

enum ferry_page_fault ferry_page_verify(const void *page, uint64_t index)
{
	struct ferry_page_trailer t = ferry_page_trailer_read(page);
	if (t.magic != FERRY_PAGE_MAGIC)
		return FERRY_PAGE_BAD_MAGIC;
	return verify_rest(&t, ferry_crc32c(0, page, CRC_OFFSET) == t.crc, index);
}

const char *ferry_page_fault_name(enum ferry_page_fault fault)
{
	switch (fault) {
	case FERRY_PAGE_OK:
		return "ok";
	case FERRY_PAGE_BAD_MAGIC:
		return "bad_magic";
	case FERRY_PAGE_WRONG_INDEX:
		return "wrong_index";
	case FERRY_PAGE_BAD_CHECKSUM:
		return "bad_checksum";
	case FERRY_PAGE_BAD_GENERATION:
		return "bad_generation";
	}
	return "unknown";
}

int ferry_memory_verify(const void *base, uint64_t first_index, uint64_t npages, uint64_t *first_bad,
			enum ferry_page_fault *fault)
{
	const uint8_t *p = base;
	for (uint64_t i = 0; i < npages; i++) {
		enum ferry_page_fault f = ferry_page_verify(p + i * FERRY_PAGE_BYTES, first_index + i);
		if (f != FERRY_PAGE_OK) {
			if (first_bad)
				*first_bad = first_index + i;
			if (fault)
				*fault = f;
			return -EBADMSG;
		}
	}
	return 0;
}
