/*
 * The cut-over rule: what the source agent decides the moment a pre-copy round ends (pure, no
 * I/O; migration_source.c feeds it, coordinator's MigrationPrediction.swift mirrors it).
 *
 * The estimate is expected downtime = (dirty bytes + devices' stop-copy bytes) / the round's
 * bandwidth. The source cuts over when it fits the budget, when a ForceCutover came, or at
 * max_rounds. One refinement, at most once per migration: an estimate that fits, but is still
 * above FERRY_CUTOVER_FLOOR_US, is passed up for one more round when that round is predicted to
 * at least halve it. The next round lasts about as long as sending the dirty pages (ram_us)
 * and the guest dirties, meanwhile, the same share of it as in the round that ended
 * (ram_us / round_us), so it is predicted to leave ram_us² / round_us of RAM work plus the same
 * device work. After round 0 of a quiet guest that share is tiny (a 1 GiB round 0 of 350 ms
 * leaving 15 ms of dirty pages predicts 0.6 ms), so one short round buys most of the downtime
 * back; a guest dirtying near the bandwidth predicts no gain and cuts at once. Passing up a
 * fitting estimate only once bounds what a guest that suddenly dirties faster can cost: after
 * that round the plain rule applies again (the coordinator's throttle, deadline and forced
 * cut-over still act on it). Below the floor the cut-over's fixed costs (freeze, device stop,
 * vCPU state, the destination's start: 2-4 ms on the benchmark machine) outweigh what is left.
 * The floor was 1/4 of the budget at first; 1/10 and 1/30 were measured against it (same-run
 * A/B, docs/benchmarks.md): at 5 and 20 MB/s the cut came at 1.4 and 4.4 ms expected with 7-15 ms
 * of downtime, and one more round brought those to 2-4 ms.
 */
#ifndef FERRY_CUTOVER_RULE_H
#define FERRY_CUTOVER_RULE_H

#include <stdbool.h>
#include <stdint.h>

/* An estimate at or below this is taken as it is: not worth another round. */
#define FERRY_CUTOVER_FLOOR_US 1000u

/* What the source knows when a pre-copy round ends. */
struct ferry_cutover_input {
	uint32_t round;         /* the round that ended; 0 sent all of RAM */
	uint64_t round_us;      /* how long that round took */
	uint64_t ram_us;        /* the dirty pages at the round's bandwidth */
	uint64_t device_us;     /* the devices' stop-copy bytes at that bandwidth */
	uint64_t budget_us;     /* the policy's max_downtime */
	uint32_t max_rounds;    /* the policy's max_rounds (0 counts as 1) */
	bool force;             /* a ForceCutover came */
	bool extra_round_taken; /* a fitting estimate was already passed up in this migration */
};

enum ferry_cutover_decision {
	FERRY_CUTOVER_CONTINUE,   /* the estimate is over the budget: another round */
	FERRY_CUTOVER_ONE_MORE,   /* it fits, but one more round is predicted to halve it */
	FERRY_CUTOVER_FITS,       /* cut over: the estimate fits the budget */
	FERRY_CUTOVER_FORCED,     /* cut over: ForceCutover */
	FERRY_CUTOVER_MAX_ROUNDS, /* cut over: max_rounds reached, over the budget */
};

/* True for the decisions that end pre-copy. */
bool ferry_cutover_decision_cuts(enum ferry_cutover_decision d);

/* The expected downtime of the input: ram_us + device_us, saturating. */
uint64_t ferry_cutover_expected_us(const struct ferry_cutover_input *in);

/* The expected downtime after one more round, as predicted above (UINT64_MAX when the round
 * took no time, so nothing can be predicted). */
uint64_t ferry_cutover_predicted_next_us(const struct ferry_cutover_input *in);

enum ferry_cutover_decision ferry_cutover_decide(const struct ferry_cutover_input *in);

#endif
