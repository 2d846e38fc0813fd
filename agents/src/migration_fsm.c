/* The migration state machines as a table; see migration_fsm.h. */
#include "migration_fsm.h"

#include "ferry.pb-c.h"

#define S(x) FERRY_MIG_SRC_##x
#define D(x) FERRY_MIG_DST_##x
#define E(x) FERRY_MIG_EV_##x

/* next[state][event]; zero (FERRY_MIG_INVALID) = refused. */
static const unsigned char next_state[FERRY_MIG_STATE_COUNT][FERRY_MIG_EVENT_COUNT] = {
	[S(PREPARED)] = {[E(START_PRECOPY)] = S(PRECOPY), [E(FAILURE)] = S(ROLLED_BACK), [E(ABORT)] = S(ROLLED_BACK)},
	[S(PRECOPY)] = {[E(ROUND_CONTINUE)] = S(PRECOPY), [E(ROUND_CONVERGED)] = S(CUTOVER),
			[E(FORCE_CUTOVER)] = S(PRECOPY), [E(FAILURE)] = S(ROLLED_BACK), [E(ABORT)] = S(ROLLED_BACK)},
	[S(CUTOVER)] = {[E(FINAL_SENT)] = S(AWAIT_CONFIRM), [E(FORCE_CUTOVER)] = S(CUTOVER),
			[E(FAILURE)] = S(ROLLED_BACK), [E(ABORT)] = S(ROLLED_BACK)},
	[S(AWAIT_CONFIRM)] = {[E(CONFIRMED)] = S(COMPLETED), [E(FORCE_CUTOVER)] = S(AWAIT_CONFIRM),
			      [E(FAILURE)] = S(ROLLED_BACK), [E(ABORT)] = S(ROLLED_BACK)},
	[S(COMPLETED)] = {0},
	[S(ROLLED_BACK)] = {[E(ABORT)] = S(ROLLED_BACK)},
	[D(PREPARED)] = {[E(CHANNEL_OPENED)] = D(RECEIVING), [E(FAILURE)] = D(DISCARDED), [E(ABORT)] = D(DISCARDED)},
	[D(RECEIVING)] = {[E(CHANNEL_OPENED)] = D(RECEIVING), [E(FINAL_RECEIVED)] = D(LOADED),
			  [E(FAILURE)] = D(DISCARDED), [E(ABORT)] = D(DISCARDED)},
	[D(LOADED)] = {[E(STARTED)] = D(RESUMED), [E(FAILURE)] = D(DISCARDED), [E(ABORT)] = D(DISCARDED)},
	[D(RESUMED)] = {0},
	[D(DISCARDED)] = {[E(ABORT)] = D(DISCARDED)},
};

enum ferry_migr_state ferry_mig_next(enum ferry_migr_state state, enum ferry_migr_event ev)
{
	if ((unsigned)state >= FERRY_MIG_STATE_COUNT || (unsigned)ev >= FERRY_MIG_EVENT_COUNT)
		return FERRY_MIG_INVALID;
	return (enum ferry_migr_state)next_state[state][ev];
}

enum ferry_migr_role ferry_mig_state_role(enum ferry_migr_state state)
{
	if (state >= S(PREPARED) && state <= S(ROLLED_BACK))
		return FERRY_MIG_SOURCE;
	if (state >= D(PREPARED) && state <= D(DISCARDED))
		return FERRY_MIG_DESTINATION;
	return 0;
}

int ferry_mig_state_final(enum ferry_migr_state state)
{
	return state == S(COMPLETED) || state == S(ROLLED_BACK) || state == D(RESUMED) || state == D(DISCARDED);
}

int ferry_mig_state_phase(enum ferry_migr_state state)
{
	switch (state) {
	case S(PREPARED):
	case D(PREPARED):
		return FERRY__V1__AGENT_PHASE__AGENT_PHASE_PREPARED;
	case S(PRECOPY):
	case D(RECEIVING):
		return FERRY__V1__AGENT_PHASE__AGENT_PHASE_PRECOPY;
	case S(CUTOVER):
		return FERRY__V1__AGENT_PHASE__AGENT_PHASE_CUTOVER;
	case S(AWAIT_CONFIRM):
	case D(LOADED):
		return FERRY__V1__AGENT_PHASE__AGENT_PHASE_RESUMING;
	case S(COMPLETED):
	case D(RESUMED):
		return FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED;
	case S(ROLLED_BACK):
	case D(DISCARDED):
		return FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK;
	default:
		return FERRY__V1__AGENT_PHASE__AGENT_PHASE_UNSPECIFIED;
	}
}

const char *ferry_migr_state_name(enum ferry_migr_state state)
{
	static const char *const names[FERRY_MIG_STATE_COUNT] = {
		"invalid",	 "prepared",  "precopy", "cutover", "await_confirm", "completed", "rolled_back",
		"prepared",	 "receiving", "loaded",	 "resumed", "discarded",
	};
	return (unsigned)state < FERRY_MIG_STATE_COUNT ? names[state] : "unknown";
}

const char *ferry_migr_event_name(enum ferry_migr_event ev)
{
	static const char *const names[FERRY_MIG_EVENT_COUNT] = {
		"start_precopy", "round_continue", "round_converged", "force_cutover", "final_sent", "confirmed",
		"channel_opened", "final_received", "started",	      "failure",       "abort",
	};
	return (unsigned)ev < FERRY_MIG_EVENT_COUNT ? names[ev] : "unknown";
}
