/*
 * Capped exponential backoff with jitter, for re-dialling the coordinator.
 * Pure: randomness comes from an injected source, so tests can pin every delay.
 *
 * The base delay starts at `initial_ms` and doubles after each ferry_backoff_next() up to `max_ms`;
 * each returned delay is the base spread uniformly over base * (1 +- jitter_percent / 100).
 * The cap bounds the base, so with a 5 s cap and 20 % jitter a delay lies in 4..6 s: hosts that
 * lost ferryd together do not all come back in the same millisecond.
 */
#ifndef FERRY_BACKOFF_H
#define FERRY_BACKOFF_H

#include <stdint.h>

#define FERRY_BACKOFF_INITIAL_MS 100u
#define FERRY_BACKOFF_MAX_MS 5000u
#define FERRY_BACKOFF_JITTER_PERCENT 20u

/* Returns a uniformly distributed 32-bit value. */
typedef uint32_t (*ferry_random_fn)(void *ctx);

struct ferry_backoff {
	uint32_t initial_ms;
	uint32_t max_ms;
	uint32_t jitter_percent; /* 0..100 */
	uint32_t base_ms;        /* the delay before jitter that the next call returns */
	ferry_random_fn random;
	void *random_ctx;
};

void ferry_backoff_init(struct ferry_backoff *b, uint32_t initial_ms, uint32_t max_ms, uint32_t jitter_percent,
			ferry_random_fn random, void *random_ctx);

/* The delay before the next attempt; advances the base (doubling, capped). */
uint32_t ferry_backoff_next(struct ferry_backoff *b);

/* Back to initial_ms (after a successful Welcome). */
void ferry_backoff_reset(struct ferry_backoff *b);

/* A random source reading getrandom(2); ctx is unused. For production use. */
uint32_t ferry_random_system(void *ctx);

#endif
