#include "cutover_rule.h"

bool ferry_cutover_decision_cuts(enum ferry_cutover_decision d)
{
	return d == FERRY_CUTOVER_FITS || d == FERRY_CUTOVER_FORCED || d == FERRY_CUTOVER_MAX_ROUNDS;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t ferry_cutover_expected_us(const struct ferry_cutover_input *in)
{
	return add_sat(in->ram_us, in->device_us);
}

uint64_t ferry_cutover_predicted_next_us(const struct ferry_cutover_input *in)
{
	if (in->round_us == 0)
		return UINT64_MAX;
	/* In double: ram_us² overflows 64 bits for estimates past about 50 minutes. */
	double next_ram = (double)in->ram_us * (double)in->ram_us / (double)in->round_us;
	if (next_ram >= 0x1p63)
		return UINT64_MAX;
	return add_sat((uint64_t)next_ram, in->device_us);
}

enum ferry_cutover_decision ferry_cutover_decide(const struct ferry_cutover_input *in)
{
	if (in->force)
		return FERRY_CUTOVER_FORCED;
	bool last_round = in->round + 1 >= (in->max_rounds ? in->max_rounds : 1);
	uint64_t expected = ferry_cutover_expected_us(in);
	if (expected > in->budget_us)
		return last_round ? FERRY_CUTOVER_MAX_ROUNDS : FERRY_CUTOVER_CONTINUE;
	if (last_round || in->extra_round_taken || expected <= FERRY_CUTOVER_FLOOR_US)
		return FERRY_CUTOVER_FITS;
	uint64_t next = ferry_cutover_predicted_next_us(in);
	return next <= expected / 2 ? FERRY_CUTOVER_ONE_MORE : FERRY_CUTOVER_FITS;
}
