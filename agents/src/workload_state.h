/*
 * The vCPU state blob in text form, as it travels in the local protocol (workload_ipc.h): the
 * source's `export` reply and the agent's `start` line carry it as the value of `state=`.
 *
 *   state=R.C.W.G,R.C.W.G,...     one group per vCPU in vCPU order; the four fields of
 *                                 struct ferry_vcpu_state (rng, cursor, writes, max_generation)
 *                                 in lowercase hex without 0x
 *
 * At most FERRY_WORKLOAD_MAX_VCPUS groups: 64 x 68 bytes fits one protocol line.
 */
#ifndef FERRY_WORKLOAD_STATE_H
#define FERRY_WORKLOAD_STATE_H

#include <stddef.h>

#include "workload.h"

/* Longest blob: 64 groups of 4 x 16 hex digits, 3 dots and a comma. */
#define FERRY_VCPU_STATE_TEXT_MAX (FERRY_WORKLOAD_MAX_VCPUS * 68u + 1u)

/* Writes the blob of n vCPUs into buf. 0, or -ENOSPC when it does not fit. */
int ferry_vcpu_state_format(const struct ferry_vcpu_state *states, unsigned n, char *buf, size_t cap);

/* Parses a blob (ending at NUL or a space). Returns the number of vCPUs (>= 1), or -EINVAL with the
 * reason in err. */
int ferry_vcpu_state_parse(const char *text, struct ferry_vcpu_state *out, unsigned cap, char *err, size_t errlen);

#endif
