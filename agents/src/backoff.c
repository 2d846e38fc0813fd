/* Capped exponential backoff with jitter; see backoff.h. */
#include "backoff.h"

#include <sys/random.h>

void ferry_backoff_init(struct ferry_backoff *b, uint32_t initial_ms, uint32_t max_ms, uint32_t jitter_percent,
			ferry_random_fn random, void *random_ctx)
{
	b->initial_ms = initial_ms ? initial_ms : 1;
	b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
	b->jitter_percent = jitter_percent > 100 ? 100 : jitter_percent;
	b->base_ms = b->initial_ms;
	b->random = random;
	b->random_ctx = random_ctx;
}

uint32_t ferry_backoff_next(struct ferry_backoff *b)
{
	uint64_t base = b->base_ms;
	uint64_t spread = base * b->jitter_percent / 100; /* delay lies in base-spread .. base+spread */
	uint64_t delay = base - spread;
	if (spread && b->random)
		delay += (uint64_t)b->random(b->random_ctx) % (2 * spread + 1);
	else
		delay = base;
	uint64_t next = base * 2;
	b->base_ms = next > b->max_ms ? b->max_ms : (uint32_t)next;
	return (uint32_t)delay;
}

void ferry_backoff_reset(struct ferry_backoff *b)
{
	b->base_ms = b->initial_ms;
}

uint32_t ferry_random_system(void *ctx)
{
	(void)ctx;
	uint32_t v = 0;
	/* getrandom of 4 bytes from the urandom pool does not block after boot nor return short. */
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = 0x9e3779b9u; /* no entropy: a fixed mid value only loses the jitter, never the backoff */
	return v;
}
