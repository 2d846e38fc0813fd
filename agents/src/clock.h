/* Time sources for the agent: a monotonic clock for timers, the real-time clock for wire stamps. */
#ifndef FERRY_CLOCK_H
#define FERRY_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: every timer and deadline in the agent uses this. */
uint64_t ferry_monotonic_ms(void);

/* Unix nanoseconds of CLOCK_REALTIME, for the *_unix_ns fields of messages. */
int64_t ferry_realtime_ns(void);

#endif
