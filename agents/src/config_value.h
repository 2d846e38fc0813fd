/*
 * Value parsers for the agent config file (config.c). Internal to the agent library.
 * Every parser takes the value as a span (v, n) that is not NUL-terminated, returns 0 or -EINVAL /
 * -ERANGE, and on failure writes the reason (without file, line or key) into why[whylen].
 */
#ifndef FERRY_CONFIG_VALUE_H
#define FERRY_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies the value into dst (size dstsize, NUL-terminated); -ERANGE when it does not fit. */
int ferry__value_copy(const char *v, size_t n, char *dst, size_t dstsize, char *why, size_t whylen);

/* A PCI vendor or device id: hex with 0x/0X prefix or decimal, at most 0xffff. */
int ferry__value_pci_id(const char *v, size_t n, uint16_t *out, char *why, size_t whylen);

/* A byte count: decimal digits, optional spaces, optional unit B, KiB, MiB, GiB, TiB (or K, M, G, T
 * with the same binary meaning). Rejects negative numbers and results past 2^64-1. */
int ferry__value_size(const char *v, size_t n, uint64_t *out, char *why, size_t whylen);

/* A rate in bytes per second: a size as above followed by "/s" ("256KiB/s", "0/s"). */
int ferry__value_rate(const char *v, size_t n, uint64_t *out, char *why, size_t whylen);

/* An unsigned 64-bit integer, hex with 0x/0X prefix or decimal. */
int ferry__value_u64(const char *v, size_t n, uint64_t *out, char *why, size_t whylen);

/* Exactly "true" or "false". */
int ferry__value_bool(const char *v, size_t n, bool *out, char *why, size_t whylen);

/* Comma list of stop_copy, p2p, pre_copy (spaces allowed around items) -> FERRY_MIGRATION_* bits.
 * stop_copy is required: the kernel rejects a migration-capable device without it. */
int ferry__value_migration(const char *v, size_t n, uint32_t *out, char *why, size_t whylen);

/* HOST:PORT (HOST may be a bracketed IPv6 literal); port 0 only when allow_port_zero. */
int ferry__value_host_port(const char *v, size_t n, bool allow_port_zero, char *why, size_t whylen);

/* One of trace|debug|info|warning|error. */
int ferry__value_log_level(const char *v, size_t n, char *why, size_t whylen);

#endif
