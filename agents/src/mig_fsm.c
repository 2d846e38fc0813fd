/* The kernel's migration next-step matrix and skip walk; see mig_fsm.h. */
#include "mig_fsm.h"

#include <errno.h>

enum {
	E = FERRY_MIG_ERROR,
	S = FERRY_MIG_STOP,
	R = FERRY_MIG_RUNNING,
	SC = FERRY_MIG_STOP_COPY,
	RS = FERRY_MIG_RESUMING,
	RP = FERRY_MIG_RUNNING_P2P,
	PC = FERRY_MIG_PRE_COPY,
	PP = FERRY_MIG_PRE_COPY_P2P,
};

/* vfio_from_fsm_table from torvalds/linux drivers/vfio/vfio_main.c: [current][target] = next step.
 * Checked cell by cell against that source; identical to the reference's section 1.6 matrix. */
static const uint8_t next_state[FERRY_MIG_NR_STATES][FERRY_MIG_NR_STATES] = {
	[E] = {[E] = E, [S] = E, [R] = E, [SC] = E, [RS] = E, [RP] = E, [PC] = E, [PP] = E},
	[S] = {[E] = E, [S] = S, [R] = RP, [SC] = SC, [RS] = RS, [RP] = RP, [PC] = RP, [PP] = RP},
	[R] = {[E] = E, [S] = RP, [R] = R, [SC] = RP, [RS] = RP, [RP] = RP, [PC] = PC, [PP] = RP},
	[SC] = {[E] = E, [S] = S, [R] = S, [SC] = SC, [RS] = S, [RP] = S, [PC] = E, [PP] = E},
	[RS] = {[E] = E, [S] = S, [R] = S, [SC] = S, [RS] = RS, [RP] = S, [PC] = S, [PP] = S},
	[RP] = {[E] = E, [S] = S, [R] = R, [SC] = S, [RS] = S, [RP] = RP, [PC] = R, [PP] = PP},
	[PC] = {[E] = E, [S] = R, [R] = R, [SC] = PP, [RS] = R, [RP] = R, [PC] = PC, [PP] = PP},
	[PP] = {[E] = E, [S] = RP, [R] = RP, [SC] = SC, [RS] = RP, [RP] = RP, [PC] = PC, [PP] = PP},
};

/* state_flags_table: the capability flags a state needs. ERROR needs every bit, so no device
 * ever "supports" it; that is what made the kernel's skip walk spin on the blocked arcs. */
static const uint32_t required_flags[FERRY_MIG_NR_STATES] = {
	[E] = ~0u,
	[S] = FERRY_MIG_FLAG_STOP_COPY,
	[R] = FERRY_MIG_FLAG_STOP_COPY,
	[SC] = FERRY_MIG_FLAG_STOP_COPY,
	[RS] = FERRY_MIG_FLAG_STOP_COPY,
	[RP] = FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P,
	[PC] = FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY,
	[PP] = FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY,
};

static const char *const state_names[FERRY_MIG_NR_STATES] = {
	[E] = "ERROR",         [S] = "STOP",         [R] = "RUNNING",   [SC] = "STOP_COPY",
	[RS] = "RESUMING",     [RP] = "RUNNING_P2P", [PC] = "PRE_COPY", [PP] = "PRE_COPY_P2P",
};

const char *ferry_mig_state_name(uint32_t state)
{
	return state < FERRY_MIG_NR_STATES ? state_names[state] : "INVALID";
}

bool ferry_mig_state_supported(uint32_t state, uint32_t flags)
{
	return state < FERRY_MIG_NR_STATES && (required_flags[state] & flags) == required_flags[state];
}

bool ferry_mig_state_is_saving(uint32_t state)
{
	return state == FERRY_MIG_PRE_COPY || state == FERRY_MIG_PRE_COPY_P2P || state == FERRY_MIG_STOP_COPY;
}

bool ferry_mig_arc_is_blocked(uint32_t from, uint32_t to)
{
	return from == FERRY_MIG_STOP_COPY && (to == FERRY_MIG_PRE_COPY || to == FERRY_MIG_PRE_COPY_P2P);
}

int ferry_mig_next_step(uint32_t cur, uint32_t target, uint32_t flags, uint32_t *next)
{
	if (!ferry_mig_state_supported(cur, flags) || !ferry_mig_state_supported(target, flags))
		return -EINVAL;
	uint32_t step = next_state[cur][target];
	/* The kernel re-looks-up [skipped][target] until it reaches a supported state. It must stop
	 * at ERROR (the ERROR row is all ERROR); the bound is belt and braces. */
	for (int hops = 0; step != FERRY_MIG_ERROR && !ferry_mig_state_supported(step, flags); hops++) {
		if (hops >= FERRY_MIG_NR_STATES)
			return -EINVAL;
		step = next_state[step][target];
	}
	if (step == FERRY_MIG_ERROR)
		return -EINVAL;
	*next = step;
	return 0;
}

int ferry_mig_path(uint32_t cur, uint32_t target, uint32_t flags, uint32_t *out, size_t cap, size_t *n)
{
	size_t len = 0;
	int rc = 0;
	if (!ferry_mig_state_supported(cur, flags) || !ferry_mig_state_supported(target, flags)) {
		rc = -EINVAL;
		goto out;
	}
	while (cur != target) {
		uint32_t next;
		rc = ferry_mig_next_step(cur, target, flags, &next);
		if (rc < 0)
			goto out;
		if (len == FERRY_MIG_MAX_PATH) { /* cannot happen with the kernel's table */
			rc = -EINVAL;
			goto out;
		}
		if (len == cap) {
			rc = -E2BIG;
			goto out;
		}
		out[len++] = next;
		cur = next;
	}
out:
	*n = rc < 0 ? 0 : len;
	return rc;
}

enum ferry_mig_arc_session ferry_mig_arc_session(uint32_t from, uint32_t to)
{
	if (from == to)
		return FERRY_MIG_SESSION_NONE;
	bool was_saving = ferry_mig_state_is_saving(from), is_saving = ferry_mig_state_is_saving(to);
	if (was_saving)
		return is_saving ? FERRY_MIG_SESSION_KEEP : FERRY_MIG_SESSION_END;
	if (from == FERRY_MIG_RESUMING)
		return FERRY_MIG_SESSION_END;
	if (is_saving)
		return FERRY_MIG_SESSION_OPEN_SAVING;
	if (to == FERRY_MIG_RESUMING)
		return FERRY_MIG_SESSION_OPEN_RESUMING;
	return FERRY_MIG_SESSION_NONE;
}
