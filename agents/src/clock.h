/* Time sources for the agent: a monotonic clock for timers, the real-time clock for wire stamps. */
#ifndef FERRY_CLOCK_H
#define FERRY_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC: every timer and deadline in the agent uses this. */
uint64_t ferry_monotonic_ms(void);

/* Unix nanoseconds of CLOCK_REALTIME, for the *_unix_ns fields of messages. */
int64_t ferry_realtime_ns(void);

/* CLOCK_REALTIME now plus ms, as the absolute deadline pthread_cond_timedwait and the like take. */
struct timespec ferry_realtime_after_ms(uint64_t ms);

/* t plus ms, normalised (0 <= tv_nsec < 1e9, given t is). */
struct timespec ferry_timespec_add_ms(struct timespec t, uint64_t ms);

#endif
