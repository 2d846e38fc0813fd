/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of every PAGE_BATCH and
 * DEVICE_CHUNK payload (their payload_crc32c field). */
#ifndef FERRY_CRC32C_H
#define FERRY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over `n` bytes and returns the new value, so a payload may be
 * checksummed in pieces: ferry_crc32c(ferry_crc32c(0, a, na), b, nb) == crc of a then b.
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once), else a table. */
uint32_t ferry_crc32c(uint32_t crc, const void *buf, size_t n);

/* Internal: the two implementations, exposed so tests can check both against each other. */
uint32_t ferry__crc32c_table(uint32_t crc, const void *buf, size_t n);
/* Returns 0 and does nothing useful if the CPU lacks SSE4.2: check ferry__crc32c_hw_available. */
uint32_t ferry__crc32c_hw(uint32_t crc, const void *buf, size_t n);
int ferry__crc32c_hw_available(void);

#endif
