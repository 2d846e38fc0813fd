/*
 * One pass over a guest page for the stream: copy it into the batch buffer, tell whether it is
 * all zero, and compute its CRC-32C, reading guest RAM once instead of three times (copy, zero
 * check, checksum; docs/benchmarks.md). Each 8-byte word is loaded once and that one value is
 * stored, checksummed and zero-tested, so a vCPU writing the page meanwhile cannot make the copy
 * differ from its checksum or from the zero verdict (the tracker reports the page again).
 */
#ifndef FERRY_PAGE_PACK_H
#define FERRY_PAGE_PACK_H

#include <stdbool.h>
#include <stdint.h>

#define FERRY_PAGE_PACK_BYTES 4096u

/* Copies FERRY_PAGE_PACK_BYTES from src to dst (both 8-byte aligned); *crc = ferry_crc32c(0,
 * dst, FERRY_PAGE_PACK_BYTES). True when every byte of the copy is zero. */
bool ferry_page_pack(void *dst, const void *src, uint32_t *crc);

/* Internal: the portable version (memcpy, table CRC, zero test), for tests and CPUs without
 * SSE4.2. */
bool ferry__page_pack_portable(void *dst, const void *src, uint32_t *crc);

#endif
