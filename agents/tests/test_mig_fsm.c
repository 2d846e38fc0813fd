/* The migration next-step computation against the facts of
 * /work/shared/reference/vfio-migration-uapi.md sections 1.5-1.7 and 1.12, over every
 * (from, to) pair and every capability set. */
#include <errno.h>

#include "mig_fsm.h"
#include "test.h"

enum {
	E = FERRY_MIG_ERROR,
	S = FERRY_MIG_STOP,
	R = FERRY_MIG_RUNNING,
	SC = FERRY_MIG_STOP_COPY,
	RS = FERRY_MIG_RESUMING,
	RP = FERRY_MIG_RUNNING_P2P,
	PC = FERRY_MIG_PRE_COPY,
	PP = FERRY_MIG_PRE_COPY_P2P,
	NR = FERRY_MIG_NR_STATES,
};

#define F_SC FERRY_MIG_FLAG_STOP_COPY
#define F_P2P FERRY_MIG_FLAG_P2P
#define F_PRE FERRY_MIG_FLAG_PRE_COPY

static const uint32_t capsets[] = {F_SC, F_SC | F_P2P, F_SC | F_PRE, F_SC | F_P2P | F_PRE};
#define NCAPS (sizeof capsets / sizeof capsets[0])

struct arc {
	uint8_t from, to;
};

/* Section 1.5: the arcs a driver must implement, per flag set. */
static const struct arc arcs_sc[] = {{R, S}, {S, R}, {S, SC}, {SC, S}, {S, RS}, {RS, S}};
static const struct arc arcs_p2p[] = {{R, RP}, {RP, R}, {RP, S}, {S, RP}, {S, SC}, {SC, S}, {S, RS}, {RS, S}};
static const struct arc arcs_pre[] = {{R, S}, {S, R}, {S, SC}, {SC, S}, {S, RS}, {RS, S}, {R, PC}, {PC, R}, {PC, SC}};
static const struct arc arcs_all[] = {{R, RP}, {RP, R}, {RP, S}, {S, RP}, {S, SC},  {SC, S},  {S, RS},
				      {RS, S}, {R, PC}, {PC, R}, {PC, PP}, {PP, PC}, {PP, RP}, {PP, SC},
				      {RP, PP}};

static const struct arc *required_arcs(uint32_t flags, size_t *n)
{
	switch (flags) {
	case F_SC:
		*n = sizeof arcs_sc / sizeof arcs_sc[0];
		return arcs_sc;
	case F_SC | F_P2P:
		*n = sizeof arcs_p2p / sizeof arcs_p2p[0];
		return arcs_p2p;
	case F_SC | F_PRE:
		*n = sizeof arcs_pre / sizeof arcs_pre[0];
		return arcs_pre;
	default:
		*n = sizeof arcs_all / sizeof arcs_all[0];
		return arcs_all;
	}
}

static bool is_required(uint32_t flags, uint32_t from, uint32_t to)
{
	size_t n;
	const struct arc *a = required_arcs(flags, &n);
	for (size_t i = 0; i < n; i++)
		if (a[i].from == from && a[i].to == to)
			return true;
	return false;
}

/* Every path, for every pair and capability set: only required arcs, only supported states,
 * ends at the target; and every required arc is used by some path (the sets are equal). */
FERRY_TEST(mig_fsm_every_pair_every_capset_uses_exactly_the_required_arcs)
{
	for (size_t c = 0; c < NCAPS; c++) {
		uint32_t flags = capsets[c];
		bool used[NR][NR] = {{false}};
		for (uint32_t from = 0; from < NR; from++) {
			for (uint32_t to = 0; to < NR; to++) {
				uint32_t path[FERRY_MIG_MAX_PATH];
				size_t n = 99;
				int rc = ferry_mig_path(from, to, flags, path, FERRY_MIG_MAX_PATH, &n);
				bool valid = ferry_mig_state_supported(from, flags) && ferry_mig_state_supported(to, flags) &&
					     !ferry_mig_arc_is_blocked(from, to);
				if (!valid) {
					EXPECT_EQ_INT(rc, -EINVAL);
					EXPECT_EQ_INT(n, 0);
					continue;
				}
				EXPECT_EQ_INT(rc, 0);
				if (rc != 0)
					continue;
				EXPECT(n <= 4);
				EXPECT(from == to ? n == 0 : n > 0 && path[n - 1] == to);
				uint32_t prev = from;
				for (size_t i = 0; i < n; i++) {
					if (!is_required(flags, prev, path[i]))
						fprintf(stderr, "  flags %#x: %s -> %s uses arc %s -> %s\n", flags,
							ferry_mig_state_name(from), ferry_mig_state_name(to),
							ferry_mig_state_name(prev), ferry_mig_state_name(path[i]));
					EXPECT(is_required(flags, prev, path[i]));
					EXPECT(ferry_mig_state_supported(path[i], flags));
					used[prev][path[i]] = true;
					prev = path[i];
				}
			}
		}
		size_t n;
		const struct arc *a = required_arcs(flags, &n);
		for (size_t i = 0; i < n; i++)
			EXPECT(used[a[i].from][a[i].to]);
	}
}

struct listed_path {
	uint32_t flags;
	uint8_t states[6]; /* from, then each state stepped into; 0xff ends */
};

#define END 0xff
/* Section 1.6, "Full paths computed from the matrix" and the notes after it. */
static const struct listed_path listed[] = {
	{F_SC | F_P2P | F_PRE, {R, RP, S, END}},
	{F_SC | F_P2P | F_PRE, {R, RP, S, SC, END}},
	{F_SC | F_P2P | F_PRE, {R, RP, S, RS, END}},
	{F_SC | F_P2P | F_PRE, {R, RP, PP, END}},
	{F_SC | F_P2P | F_PRE, {PC, PP, SC, END}},
	{F_SC | F_P2P | F_PRE, {PC, R, RP, S, END}},
	{F_SC | F_P2P | F_PRE, {PP, RP, R, END}},
	{F_SC | F_P2P | F_PRE, {S, RP, R, END}},
	{F_SC | F_P2P | F_PRE, {S, RP, R, PC, END}},
	{F_SC | F_P2P | F_PRE, {SC, S, RP, R, END}},
	{F_SC | F_P2P | F_PRE, {RS, S, RP, R, END}},
	{F_SC | F_P2P | F_PRE, {RS, S, RP, R, PC, END}},
	/* without P2P the RUNNING_P2P hops disappear */
	{F_SC, {R, S, END}},
	{F_SC, {R, S, SC, END}},
	{F_SC | F_PRE, {R, S, END}},
	{F_SC | F_PRE, {R, S, SC, END}},
	{F_SC | F_PRE, {PC, SC, END}},
	/* and the kernel comment's list of composed transitions (vfio_main.c) */
	{F_SC | F_P2P | F_PRE, {PC, R, RP, S, RS, END}},
	{F_SC | F_P2P | F_PRE, {PP, RP, S, RS, END}},
	{F_SC | F_P2P | F_PRE, {RS, S, RP, PP, END}},
	{F_SC | F_P2P | F_PRE, {RP, R, PC, END}},
	{F_SC | F_P2P | F_PRE, {S, RP, PP, END}},
	{F_SC | F_P2P | F_PRE, {SC, S, RS, END}},
	{F_SC | F_P2P | F_PRE, {RS, S, SC, END}},
};

FERRY_TEST(mig_fsm_paths_match_the_reference_list)
{
	for (size_t i = 0; i < sizeof listed / sizeof listed[0]; i++) {
		const struct listed_path *lp = &listed[i];
		size_t want = 0;
		while (lp->states[want + 1] != END)
			want++;
		uint32_t from = lp->states[0], to = lp->states[want];
		uint32_t path[FERRY_MIG_MAX_PATH];
		size_t n = 0;
		EXPECT_EQ_INT(ferry_mig_path(from, to, lp->flags, path, FERRY_MIG_MAX_PATH, &n), 0);
		EXPECT_EQ_INT(n, want);
		for (size_t k = 0; k < n && k < want; k++)
			EXPECT_EQ_STR(ferry_mig_state_name(path[k]), ferry_mig_state_name(lp->states[k + 1]));
	}
}

FERRY_TEST(mig_fsm_error_target_error_source_and_blocked_arcs_are_rejected)
{
	for (size_t c = 0; c < NCAPS; c++) {
		uint32_t next = 99;
		for (uint32_t s = 0; s < NR; s++) {
			EXPECT_EQ_INT(ferry_mig_next_step(s, E, capsets[c], &next), -EINVAL);
			EXPECT_EQ_INT(ferry_mig_next_step(E, s, capsets[c], &next), -EINVAL);
		}
		/* The two arcs that spin unfixed kernels: an error, never a loop, whatever the flags. */
		EXPECT_EQ_INT(ferry_mig_next_step(SC, PC, capsets[c], &next), -EINVAL);
		EXPECT_EQ_INT(ferry_mig_next_step(SC, PP, capsets[c], &next), -EINVAL);
		EXPECT_EQ_INT(next, 99); /* untouched on error */
	}
	EXPECT(ferry_mig_arc_is_blocked(SC, PC));
	EXPECT(ferry_mig_arc_is_blocked(SC, PP));
	EXPECT(!ferry_mig_arc_is_blocked(PC, SC));
	/* Out-of-range values and a device without STOP_COPY support nothing. */
	uint32_t next;
	EXPECT_EQ_INT(ferry_mig_next_step(R, NR, F_SC, &next), -EINVAL);
	EXPECT_EQ_INT(ferry_mig_next_step(R, S, 0, &next), -EINVAL);
	EXPECT_EQ_INT(ferry_mig_next_step(R, S, F_P2P | F_PRE, &next), -EINVAL);
}

FERRY_TEST(mig_fsm_states_the_caps_lack_are_unsupported)
{
	EXPECT(!ferry_mig_state_supported(RP, F_SC));
	EXPECT(!ferry_mig_state_supported(PC, F_SC | F_P2P));
	EXPECT(!ferry_mig_state_supported(PP, F_SC | F_PRE));
	EXPECT(ferry_mig_state_supported(PP, F_SC | F_P2P | F_PRE));
	EXPECT(!ferry_mig_state_supported(E, ~0u >> 1)); /* ERROR needs every bit: never a step */
	uint32_t path[FERRY_MIG_MAX_PATH];
	size_t n;
	EXPECT_EQ_INT(ferry_mig_path(R, RP, F_SC, path, FERRY_MIG_MAX_PATH, &n), -EINVAL);
	EXPECT_EQ_INT(ferry_mig_path(R, PC, F_SC | F_P2P, path, FERRY_MIG_MAX_PATH, &n), -EINVAL);
}

FERRY_TEST(mig_fsm_path_reports_a_short_buffer)
{
	uint32_t path[2];
	size_t n = 7;
	EXPECT_EQ_INT(ferry_mig_path(RS, PC, F_SC | F_P2P | F_PRE, path, 2, &n), -E2BIG);
	EXPECT_EQ_INT(n, 0);
	EXPECT_EQ_INT(ferry_mig_path(R, R, F_SC, path, 0, &n), 0);
	EXPECT_EQ_INT(n, 0);
}

/* Section 1.7, arc by arc. */
FERRY_TEST(mig_fsm_arc_session_matches_the_reference)
{
	EXPECT_EQ_INT(ferry_mig_arc_session(R, PC), FERRY_MIG_SESSION_OPEN_SAVING);
	EXPECT_EQ_INT(ferry_mig_arc_session(RP, PP), FERRY_MIG_SESSION_OPEN_SAVING);
	EXPECT_EQ_INT(ferry_mig_arc_session(S, SC), FERRY_MIG_SESSION_OPEN_SAVING);
	EXPECT_EQ_INT(ferry_mig_arc_session(S, RS), FERRY_MIG_SESSION_OPEN_RESUMING);
	EXPECT_EQ_INT(ferry_mig_arc_session(PC, PP), FERRY_MIG_SESSION_KEEP);
	EXPECT_EQ_INT(ferry_mig_arc_session(PP, PC), FERRY_MIG_SESSION_KEEP);
	EXPECT_EQ_INT(ferry_mig_arc_session(PC, SC), FERRY_MIG_SESSION_KEEP);
	EXPECT_EQ_INT(ferry_mig_arc_session(PP, SC), FERRY_MIG_SESSION_KEEP);
	EXPECT_EQ_INT(ferry_mig_arc_session(SC, S), FERRY_MIG_SESSION_END);
	EXPECT_EQ_INT(ferry_mig_arc_session(PC, R), FERRY_MIG_SESSION_END);
	EXPECT_EQ_INT(ferry_mig_arc_session(PP, RP), FERRY_MIG_SESSION_END);
	EXPECT_EQ_INT(ferry_mig_arc_session(RS, S), FERRY_MIG_SESSION_END);
	EXPECT_EQ_INT(ferry_mig_arc_session(R, RP), FERRY_MIG_SESSION_NONE);
	EXPECT_EQ_INT(ferry_mig_arc_session(RP, S), FERRY_MIG_SESSION_NONE);
	EXPECT_EQ_INT(ferry_mig_arc_session(S, R), FERRY_MIG_SESSION_NONE);
	EXPECT_EQ_INT(ferry_mig_arc_session(R, S), FERRY_MIG_SESSION_NONE);
}

/* A session opens only on the last arc of a request (mtty WARNs otherwise), and the fd a
 * request returns is exactly "the final arc opens one". */
FERRY_TEST(mig_fsm_sessions_open_only_on_the_final_arc)
{
	for (size_t c = 0; c < NCAPS; c++) {
		for (uint32_t from = 1; from < NR; from++) {
			for (uint32_t to = 1; to < NR; to++) {
				uint32_t path[FERRY_MIG_MAX_PATH];
				size_t n;
				if (ferry_mig_path(from, to, capsets[c], path, FERRY_MIG_MAX_PATH, &n) != 0)
					continue;
				uint32_t prev = from;
				bool in_group = ferry_mig_state_is_saving(from);
				for (size_t i = 0; i < n; i++) {
					enum ferry_mig_arc_session s = ferry_mig_arc_session(prev, path[i]);
					bool opens = s == FERRY_MIG_SESSION_OPEN_SAVING || s == FERRY_MIG_SESSION_OPEN_RESUMING;
					if (i + 1 < n)
						EXPECT(!opens);
					/* A path never enters the saving group or RESUMING in its interior; it may
					 * only move on inside the group it started in (PRE_COPY -> PRE_COPY_P2P ->
					 * STOP_COPY), and once it left it never comes back. */
					in_group = in_group && ferry_mig_state_is_saving(path[i]);
					if (i + 1 < n)
						EXPECT(in_group || (!ferry_mig_state_is_saving(path[i]) && path[i] != RS));
					prev = path[i];
				}
				/* The backend's rule: a saving fd survives a request iff both ends are saving. */
				if (ferry_mig_state_is_saving(from) && ferry_mig_state_is_saving(to))
					EXPECT(in_group);
			}
		}
	}
}

FERRY_TEST(mig_fsm_state_names)
{
	EXPECT_EQ_STR(ferry_mig_state_name(E), "ERROR");
	EXPECT_EQ_STR(ferry_mig_state_name(RP), "RUNNING_P2P");
	EXPECT_EQ_STR(ferry_mig_state_name(PP), "PRE_COPY_P2P");
	EXPECT_EQ_STR(ferry_mig_state_name(NR), "INVALID");
}
