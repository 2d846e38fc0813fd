/* Backoff: the delay sequence, the cap, the jitter bounds and reset, with pinned randomness. */
#include "backoff.h"
#include "test.h"

/* Returns the values of a script in turn (then repeats the last one). */
struct scripted_random {
	const uint32_t *values;
	size_t n, next;
};

static uint32_t scripted(void *ctx)
{
	struct scripted_random *r = ctx;
	uint32_t v = r->values[r->next < r->n ? r->next : r->n - 1];
	if (r->next < r->n)
		r->next++;
	return v;
}

static uint32_t zero_random(void *ctx)
{
	(void)ctx;
	return 0;
}

static uint32_t max_random(void *ctx)
{
	(void)ctx;
	return UINT32_MAX;
}

FERRY_TEST(backoff_without_jitter_doubles_to_the_cap)
{
	struct ferry_backoff b;
	ferry_backoff_init(&b, 100, 5000, 0, zero_random, NULL);
	const uint32_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		EXPECT_EQ_INT(ferry_backoff_next(&b), want[i]);
}

FERRY_TEST(backoff_jitter_spans_minus_to_plus_twenty_percent)
{
	struct ferry_backoff lo, hi;
	ferry_backoff_init(&lo, FERRY_BACKOFF_INITIAL_MS, FERRY_BACKOFF_MAX_MS, FERRY_BACKOFF_JITTER_PERCENT,
			   zero_random, NULL);
	ferry_backoff_init(&hi, FERRY_BACKOFF_INITIAL_MS, FERRY_BACKOFF_MAX_MS, FERRY_BACKOFF_JITTER_PERCENT,
			   scripted, &(struct scripted_random){(const uint32_t[]){40}, 1, 0});
	/* random % (2 * spread + 1) with spread 20 for base 100: 0 gives 80, 40 gives 120. */
	EXPECT_EQ_INT(ferry_backoff_next(&lo), 80);
	EXPECT_EQ_INT(ferry_backoff_next(&hi), 120);
	/* base 200, spread 40: 0 -> 160; 40 -> 160 + 40 = 200 (the middle). */
	EXPECT_EQ_INT(ferry_backoff_next(&lo), 160);
	EXPECT_EQ_INT(ferry_backoff_next(&hi), 200);
}

FERRY_TEST(backoff_capped_delays_stay_within_jitter_of_the_cap)
{
	struct ferry_backoff b;
	ferry_backoff_init(&b, 100, 5000, 20, max_random, NULL);
	uint32_t d = 0;
	for (int i = 0; i < 20; i++)
		d = ferry_backoff_next(&b);
	/* base 5000, spread 1000: UINT32_MAX % 2001 = 4294967295 % 2001 = 1670 -> 4000 + 1670. */
	EXPECT_EQ_INT(d, 4000 + (UINT32_MAX % 2001u));
	EXPECT(d >= 4000 && d <= 6000);
	EXPECT_EQ_INT(b.base_ms, 5000);
}

FERRY_TEST(backoff_reset_starts_again_from_the_initial_delay)
{
	struct ferry_backoff b;
	ferry_backoff_init(&b, 100, 5000, 0, NULL, NULL);
	ferry_backoff_next(&b);
	ferry_backoff_next(&b);
	EXPECT_EQ_INT(ferry_backoff_next(&b), 400);
	ferry_backoff_reset(&b);
	EXPECT_EQ_INT(ferry_backoff_next(&b), 100);
	EXPECT_EQ_INT(ferry_backoff_next(&b), 200);
}

FERRY_TEST(backoff_system_random_varies)
{
	/* Four 32-bit draws from getrandom all equal would mean the source is broken. */
	uint32_t a = ferry_random_system(NULL);
	int differs = 0;
	for (int i = 0; i < 4; i++)
		differs |= ferry_random_system(NULL) != a;
	EXPECT(differs);
}
