/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of every page of a
 * PAGE_BATCH (page_crc32c) and of every DEVICE_CHUNK payload (payload_crc32c). */
#ifndef FERRY_CRC32C_H
#define FERRY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over `n` bytes and returns the new value, so a payload may be
 * checksummed in pieces: ferry_crc32c(ferry_crc32c(0, a, na), b, nb) == crc of a then b.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once), else a table. */
uint32_t ferry_crc32c(uint32_t crc, const void *buf, size_t n);

/* The CRC of `crc`'s bytes followed by one 4096-byte page, from the page's own CRC:
 * ferry_crc32c(crc, page, 4096) == ferry_crc32c_append_page(crc, ferry_crc32c(0, page, 4096)).
 * A few table lookups (CRC registers are linear: the old one moved past 4096 zero bytes). */
uint32_t ferry_crc32c_append_page(uint32_t crc, uint32_t page_crc);

/* out[i] = ferry_crc32c(0, page i, 4096) for n consecutive 4096-byte pages. With SSE4.2 three
 * pages go at once (one crc32 chain per page would run at a third of the instruction's rate). */
void ferry_crc32c_pages(const void *pages, size_t n, uint32_t *out);

/* The CRC of A then B from crc(A), crc(B) and B's length alone (zlib's crc32_combine, in GF(2)):
 * ferry_crc32c_combine(ferry_crc32c(0, a, na), ferry_crc32c(0, b, nb), nb) == crc of a then b.
 * Costs O(log len_b) carry-less multiplications, none of them over the data. */
uint32_t ferry_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
/* The pieces of combine, for callers that join many spans of one length: the operator that
 * moves a CRC past len bytes (computed once), and its application; combine(a, b, n) ==
 * ferry_crc32c_shift(ferry_crc32c_shift_operator(n), a) ^ b. */
uint32_t ferry_crc32c_shift_operator(uint64_t len);
uint32_t ferry_crc32c_shift(uint32_t op, uint32_t crc);

/* Internal: the two implementations, exposed so tests can check both against each other. */
uint32_t ferry__crc32c_table(uint32_t crc, const void *buf, size_t n);
/* Returns 0 and does nothing useful if the CPU lacks SSE4.2: check ferry__crc32c_hw_available. */
uint32_t ferry__crc32c_hw(uint32_t crc, const void *buf, size_t n);
int ferry__crc32c_hw_available(void);

#endif
