/*
 * The agent's side of one migration, as two pure state machines (one per role): data, no I/O.
 * The engine (migration_source.c, migration_dest.c) fires events; a pair the table does not allow
 * is refused (FERRY_MIG_INVALID) and the state is left as it was.
 *
 * Source:
 *   PREPARED --start_precopy--> PRECOPY --round_ended(continue)--> PRECOPY
 *   PRECOPY --round_ended(converged: downtime fits, forced, or max rounds)--> CUTOVER
 *   CUTOVER --final_sent--> AWAIT_CONFIRM --confirmed--> COMPLETED
 *   any state before COMPLETED --failure | abort--> ROLLED_BACK (vCPUs thawed, VM runs on here)
 *   force_cutover is accepted in PRECOPY (applied when the round ends) and is a no-op later.
 *
 * Destination:
 *   PREPARED --channel_opened--> RECEIVING --final_received--> LOADED --started--> RESUMED
 *   any state before RESUMED --failure | abort--> DISCARDED (incoming workload killed, never ran)
 *
 * ROLLED_BACK and DISCARDED accept a repeated abort (idempotent); COMPLETED and RESUMED accept
 * nothing: once the destination runs the VM, an abort is too late and must be refused.
 */
#ifndef FERRY_MIGRATION_FSM_H
#define FERRY_MIGRATION_FSM_H

enum ferry_migr_role {
	FERRY_MIG_SOURCE = 1,
	FERRY_MIG_DESTINATION = 2,
};

/* States of both roles in one enum, so a migration record holds one field. */
enum ferry_migr_state {
	FERRY_MIG_INVALID = 0, /* returned for a refused (state, event) pair; never a stored state */
	/* source */
	FERRY_MIG_SRC_PREPARED,
	FERRY_MIG_SRC_PRECOPY,
	FERRY_MIG_SRC_CUTOVER,
	FERRY_MIG_SRC_AWAIT_CONFIRM,
	FERRY_MIG_SRC_COMPLETED,
	FERRY_MIG_SRC_ROLLED_BACK,
	/* destination */
	FERRY_MIG_DST_PREPARED,
	FERRY_MIG_DST_RECEIVING,
	FERRY_MIG_DST_LOADED,
	FERRY_MIG_DST_RESUMED,
	FERRY_MIG_DST_DISCARDED,
	FERRY_MIG_STATE_COUNT
};

enum ferry_migr_event {
	/* source */
	FERRY_MIG_EV_START_PRECOPY = 0,
	FERRY_MIG_EV_ROUND_CONTINUE, /* a round ended and the cut-over rule says: another round */
	FERRY_MIG_EV_ROUND_CONVERGED, /* a round ended and the cut-over rule says: cut over now */
	FERRY_MIG_EV_FORCE_CUTOVER,
	FERRY_MIG_EV_FINAL_SENT,
	FERRY_MIG_EV_CONFIRMED,
	/* destination */
	FERRY_MIG_EV_CHANNEL_OPENED,
	FERRY_MIG_EV_FINAL_RECEIVED,
	FERRY_MIG_EV_STARTED,
	/* both */
	FERRY_MIG_EV_FAILURE,
	FERRY_MIG_EV_ABORT,
	FERRY_MIG_EVENT_COUNT
};

/* The state after `ev` in `state`, or FERRY_MIG_INVALID when the pair is not allowed. */
enum ferry_migr_state ferry_mig_next(enum ferry_migr_state state, enum ferry_migr_event ev);

/* The role a state belongs to (0 for FERRY_MIG_INVALID). */
enum ferry_migr_role ferry_mig_state_role(enum ferry_migr_state state);

/* Whether the migration is over in this state (nothing runs any more on its behalf). */
int ferry_mig_state_final(enum ferry_migr_state state);

/* ferry.v1.AgentPhase of a state, for Progress. */
int ferry_mig_state_phase(enum ferry_migr_state state);

const char *ferry_migr_state_name(enum ferry_migr_state state);
const char *ferry_migr_event_name(enum ferry_migr_event ev);

#endif
