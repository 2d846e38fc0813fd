/* The cut-over rule (cutover_rule.h): each branch on hand-picked cases, its invariants over a grid
 * of inputs, and whole pre-copy loops against a model guest. */
#include <stdint.h>

#include "cutover_rule.h"
#include "test.h"

#define MS 1000ull

static struct ferry_cutover_input input(uint32_t round, uint64_t round_us, uint64_t ram_us, uint64_t device_us)
{
	return (struct ferry_cutover_input){.round = round,
					    .round_us = round_us,
					    .ram_us = ram_us,
					    .device_us = device_us,
					    .budget_us = 30 * MS,
					    .max_rounds = 20};
}

FERRY_TEST(cutover_over_budget_continues_until_max_rounds)
{
	struct ferry_cutover_input in = input(0, 350 * MS, 40 * MS, 1 * MS);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_CONTINUE);
	in.round = 18;
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_CONTINUE);
	in.round = 19; /* the 20th round */
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_MAX_ROUNDS);
	in.max_rounds = 0; /* counts as 1: round 0 is the last */
	in.round = 0;
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_MAX_ROUNDS);
}

FERRY_TEST(cutover_force_wins_over_everything)
{
	struct ferry_cutover_input in = input(0, 350 * MS, 400 * MS, 0);
	in.force = true;
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FORCED);
	in.ram_us = 15 * MS; /* would be one_more without the force */
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FORCED);
}

/* The goal case of the downtime benchmark: a 1 GiB round 0 of 350 ms leaves 15 ms of dirty pages,
 * 0.2 ms of device state: it fits 30 ms, but one more round is predicted to leave 0.84 ms. */
FERRY_TEST(cutover_fitting_estimate_passed_up_once_when_a_round_halves_it)
{
	struct ferry_cutover_input in = input(0, 350 * MS, 15 * MS, 200);
	EXPECT_EQ_U64(ferry_cutover_expected_us(&in), 15200);
	EXPECT_EQ_U64(ferry_cutover_predicted_next_us(&in), 642 + 200);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_ONE_MORE);
	in.extra_round_taken = true;
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
}

FERRY_TEST(cutover_fits_at_once_when_another_round_would_not_halve_it)
{
	/* A guest dirtying near the bandwidth: the round of 20 ms left 15 ms of work. */
	struct ferry_cutover_input in = input(3, 20 * MS, 15 * MS, 200);
	EXPECT_EQ_U64(ferry_cutover_predicted_next_us(&in), 11250 + 200);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
	/* Device state does not shrink with rounds: RAM halves, the total does not. */
	in = input(0, 350 * MS, 8 * MS, 12 * MS);
	EXPECT(ferry_cutover_predicted_next_us(&in) > ferry_cutover_expected_us(&in) / 2);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
	/* A round that took no measurable time predicts nothing. */
	in = input(1, 0, 10 * MS, 0);
	EXPECT_EQ_U64(ferry_cutover_predicted_next_us(&in), UINT64_MAX);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
}

FERRY_TEST(cutover_small_or_last_estimates_are_not_chased)
{
	/* At the floor or below: cut, however much another round would save. */
	struct ferry_cutover_input in = input(0, 350 * MS, FERRY_CUTOVER_FLOOR_US, 0);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
	in.ram_us = FERRY_CUTOVER_FLOOR_US + 1;
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_ONE_MORE);
	/* The last round allowed cuts when it fits, extra round or not. */
	in.round = 19;
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
	in.max_rounds = 1;
	in.round = 0;
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
}

FERRY_TEST(cutover_estimates_saturate)
{
	struct ferry_cutover_input in = input(0, 1, UINT64_MAX / 2, UINT64_MAX / 2 + 2);
	EXPECT_EQ_U64(ferry_cutover_expected_us(&in), UINT64_MAX);
	EXPECT_EQ_U64(ferry_cutover_predicted_next_us(&in), UINT64_MAX);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_CONTINUE);
	in = input(0, 1, 30 * MS, 0);
	in.budget_us = UINT64_MAX;
	EXPECT_EQ_U64(ferry_cutover_predicted_next_us(&in), 900000000ull);
	EXPECT_EQ_INT(ferry_cutover_decide(&in), FERRY_CUTOVER_FITS);
}

FERRY_TEST(cutover_invariants_over_a_grid)
{
	static const uint64_t us[] = {0, 1, 999, 1000, 1001, 7500, 14999, 15000, 29999, 30000, 30001, 60000, 350000, 10000000};
	const size_t n = sizeof us / sizeof us[0];
	unsigned one_more = 0;
	for (size_t a = 0; a < n; a++)
		for (size_t b = 0; b < n; b++)
			for (size_t c = 0; c < n; c++)
				for (uint32_t round = 0; round < 3; round++)
					for (unsigned flags = 0; flags < 4; flags++) {
						struct ferry_cutover_input in = input(round, us[a], us[b], us[c]);
						in.max_rounds = 3;
						in.force = flags & 1;
						in.extra_round_taken = flags & 2;
						enum ferry_cutover_decision d = ferry_cutover_decide(&in);
						uint64_t expected = ferry_cutover_expected_us(&in);
						bool fits = expected <= in.budget_us, last = round == 2;
						EXPECT_EQ_INT(d == FERRY_CUTOVER_FORCED, in.force);
						if (in.force)
							continue;
						/* Pre-copy ends exactly when the plain rule says so, or one round later. */
						EXPECT_EQ_INT(ferry_cutover_decision_cuts(d) || d == FERRY_CUTOVER_ONE_MORE,
							      fits || last);
						EXPECT_EQ_INT(d == FERRY_CUTOVER_MAX_ROUNDS, !fits && last);
						if (d == FERRY_CUTOVER_ONE_MORE) {
							one_more++;
							EXPECT(!in.extra_round_taken && !last);
							EXPECT(expected > FERRY_CUTOVER_FLOOR_US);
							EXPECT(ferry_cutover_predicted_next_us(&in) <= expected / 2);
						}
					}
	EXPECT(one_more > 0);
}

/* Whole pre-copy loops against a model guest that dirties `rate` of the bandwidth (distinct
 * pages, no saturation) while the source sends; devices need 0.2 ms. Returns the rounds and
 * the estimate at the cut. */
static uint32_t run_model(double rate, uint64_t round0_us, uint64_t *cut_expected_us, unsigned *one_mores)
{
	struct ferry_cutover_input in = input(0, round0_us, 0, 200);
	in.max_rounds = 30;
	*one_mores = 0;
	for (;;) {
		in.ram_us = (uint64_t)(rate * (double)in.round_us);
		enum ferry_cutover_decision d = ferry_cutover_decide(&in);
		if (ferry_cutover_decision_cuts(d)) {
			*cut_expected_us = ferry_cutover_expected_us(&in);
			return in.round + 1;
		}
		if (d == FERRY_CUTOVER_ONE_MORE) {
			in.extra_round_taken = true;
			(*one_mores)++;
		}
		in.round_us = in.ram_us ? in.ram_us : 1; /* the next round sends what is dirty */
		in.round++;
	}
}

FERRY_TEST(cutover_model_guests)
{
	uint64_t cut;
	unsigned extra;
	/* 50 MB/s against about 1.5 GB/s (rate 0.04), 1 GiB round 0 in 350 ms: the plain rule cut
	 * after round 0 at 14 ms; now one more round cuts at 0.76 ms. */
	EXPECT_EQ_INT(run_model(0.04, 350 * MS, &cut, &extra), 2);
	EXPECT_EQ_U64(cut, 560 + 200);
	EXPECT_EQ_INT(extra, 1);
	/* Dirtying at 70 % of the bandwidth: rounds shrink slowly, the first fitting estimate is
	 * taken as it is (no round is predicted to halve it). */
	EXPECT_EQ_INT(run_model(0.7, 350 * MS, &cut, &extra), 7);
	EXPECT_EQ_U64(cut, 28823 + 200);
	EXPECT_EQ_INT(extra, 0);
	/* Faster than the bandwidth: never fits, cut at max_rounds. */
	EXPECT_EQ_INT(run_model(1.5, 350 * MS, &cut, &extra), 30);
	EXPECT(cut > 30 * MS);
	EXPECT_EQ_INT(extra, 0);
	/* A quiet guest: round 0 already leaves less than the floor (0.35 + 0.2 ms). */
	EXPECT_EQ_INT(run_model(0.001, 350 * MS, &cut, &extra), 1);
	EXPECT_EQ_INT(extra, 0);
}
