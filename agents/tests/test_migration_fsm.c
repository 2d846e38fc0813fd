/* The migration state machines (migration_fsm.h) over every (state, event) pair, against an
 * independent list of the allowed arcs; plus the command table and the bandwidth bucket. */
#include "migration_commands.h"
#include "migration_fsm.h"
#include "stream_bucket.h"
#include "test.h"

#include "ferry.pb-c.h"

struct arc {
	enum ferry_migr_state from;
	enum ferry_migr_event ev;
	enum ferry_migr_state to;
};

#define S(x) FERRY_MIG_SRC_##x
#define D(x) FERRY_MIG_DST_##x
#define E(x) FERRY_MIG_EV_##x

static const struct arc allowed[] = {
	{S(PREPARED), E(START_PRECOPY), S(PRECOPY)},	  {S(PREPARED), E(FAILURE), S(ROLLED_BACK)},
	{S(PREPARED), E(ABORT), S(ROLLED_BACK)},	  {S(PRECOPY), E(ROUND_CONTINUE), S(PRECOPY)},
	{S(PRECOPY), E(ROUND_CONVERGED), S(CUTOVER)},	  {S(PRECOPY), E(FORCE_CUTOVER), S(PRECOPY)},
	{S(PRECOPY), E(FAILURE), S(ROLLED_BACK)},	  {S(PRECOPY), E(ABORT), S(ROLLED_BACK)},
	{S(CUTOVER), E(FINAL_SENT), S(AWAIT_CONFIRM)},	  {S(CUTOVER), E(FORCE_CUTOVER), S(CUTOVER)},
	{S(CUTOVER), E(FAILURE), S(ROLLED_BACK)},	  {S(CUTOVER), E(ABORT), S(ROLLED_BACK)},
	{S(AWAIT_CONFIRM), E(CONFIRMED), S(COMPLETED)},	  {S(AWAIT_CONFIRM), E(FORCE_CUTOVER), S(AWAIT_CONFIRM)},
	{S(AWAIT_CONFIRM), E(FAILURE), S(ROLLED_BACK)},	  {S(AWAIT_CONFIRM), E(ABORT), S(ROLLED_BACK)},
	{S(ROLLED_BACK), E(ABORT), S(ROLLED_BACK)},	  {D(PREPARED), E(CHANNEL_OPENED), D(RECEIVING)},
	{D(PREPARED), E(FAILURE), D(DISCARDED)},	  {D(PREPARED), E(ABORT), D(DISCARDED)},
	{D(RECEIVING), E(CHANNEL_OPENED), D(RECEIVING)},  {D(RECEIVING), E(FINAL_RECEIVED), D(LOADED)},
	{D(RECEIVING), E(FAILURE), D(DISCARDED)},	  {D(RECEIVING), E(ABORT), D(DISCARDED)},
	{D(LOADED), E(STARTED), D(RESUMED)},		  {D(LOADED), E(FAILURE), D(DISCARDED)},
	{D(LOADED), E(ABORT), D(DISCARDED)},		  {D(DISCARDED), E(ABORT), D(DISCARDED)},
};

static enum ferry_migr_state expected(enum ferry_migr_state s, enum ferry_migr_event ev)
{
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (allowed[i].from == s && allowed[i].ev == ev)
			return allowed[i].to;
	return FERRY_MIG_INVALID;
}

FERRY_TEST(migration_fsm_every_state_event_pair)
{
	unsigned checked = 0, valid = 0;
	for (int s = 0; s < FERRY_MIG_STATE_COUNT; s++) {
		for (int ev = 0; ev < FERRY_MIG_EVENT_COUNT; ev++) {
			enum ferry_migr_state got = ferry_mig_next((enum ferry_migr_state)s, (enum ferry_migr_event)ev);
			enum ferry_migr_state want = expected((enum ferry_migr_state)s, (enum ferry_migr_event)ev);
			if (got != want)
				fprintf(stderr, "  %s + %s -> %s, expected %s\n", ferry_migr_state_name(s),
					ferry_migr_event_name(ev), ferry_migr_state_name(got), ferry_migr_state_name(want));
			EXPECT_EQ_INT(got, want);
			/* A transition never crosses roles. */
			if (got != FERRY_MIG_INVALID)
				EXPECT_EQ_INT(ferry_mig_state_role(got), ferry_mig_state_role(s));
			checked++;
			valid += got != FERRY_MIG_INVALID;
		}
	}
	EXPECT_EQ_INT(checked, FERRY_MIG_STATE_COUNT * FERRY_MIG_EVENT_COUNT);
	EXPECT_EQ_INT(valid, sizeof allowed / sizeof allowed[0]);
	EXPECT_EQ_INT(ferry_mig_next(FERRY_MIG_STATE_COUNT, E(ABORT)), FERRY_MIG_INVALID);
}

FERRY_TEST(migration_fsm_final_states_and_phases)
{
	EXPECT(ferry_mig_state_final(S(COMPLETED)));
	EXPECT(ferry_mig_state_final(S(ROLLED_BACK)));
	EXPECT(ferry_mig_state_final(D(RESUMED)));
	EXPECT(ferry_mig_state_final(D(DISCARDED)));
	EXPECT(!ferry_mig_state_final(S(AWAIT_CONFIRM)));
	EXPECT(!ferry_mig_state_final(D(LOADED)));
	EXPECT_EQ_INT(ferry_mig_state_phase(S(PRECOPY)), FERRY__V1__AGENT_PHASE__AGENT_PHASE_PRECOPY);
	EXPECT_EQ_INT(ferry_mig_state_phase(S(ROLLED_BACK)), FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	EXPECT_EQ_INT(ferry_mig_state_phase(D(RESUMED)), FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	/* Too late to abort once the destination runs the VM. */
	EXPECT_EQ_INT(ferry_mig_next(S(COMPLETED), E(ABORT)), FERRY_MIG_INVALID);
	EXPECT_EQ_INT(ferry_mig_next(D(RESUMED), E(ABORT)), FERRY_MIG_INVALID);
}

static struct ferry_command_table table; /* large: not on the stack */

FERRY_TEST(command_table_repeat_returns_recorded_result)
{
	const struct ferry_command_record *rec;
	ferry_command_table_init(&table);
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m1", 1, &rec), FERRY_CMD_NEW);
	ferry_command_table_record(&table, "m1", 1, 0, "", "127.0.0.1:7101");
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m1", 1, &rec), FERRY_CMD_REPEAT);
	EXPECT_EQ_STR(rec->data_address, "127.0.0.1:7101");
	EXPECT_EQ_INT(rec->code, 0);
	ferry_command_table_record(&table, "m1", 2, 13, "aborted", "");
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m1", 2, &rec), FERRY_CMD_REPEAT);
	EXPECT_EQ_INT(rec->code, 13);
	EXPECT_EQ_STR(rec->message, "aborted");
	/* Sequences are per migration. */
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m2", 1, &rec), FERRY_CMD_NEW);
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m1", 3, &rec), FERRY_CMD_NEW);
}

FERRY_TEST(command_table_old_unrecorded_seq_is_stale)
{
	const struct ferry_command_record *rec;
	ferry_command_table_init(&table);
	ferry_command_table_record(&table, "m", 5, 0, "", "");
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m", 3, &rec), FERRY_CMD_STALE);
	for (uint64_t s = 6; s < 6 + FERRY_CMD_RECORDS_PER_MIGRATION; s++)
		ferry_command_table_record(&table, "m", s, 0, "", "");
	/* seq 5 was evicted as the oldest; the newest ones stay. */
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m", 5, &rec), FERRY_CMD_STALE);
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m", 6 + FERRY_CMD_RECORDS_PER_MIGRATION - 1, &rec),
		      FERRY_CMD_REPEAT);
}

FERRY_TEST(command_table_full_evicts_least_recently_used_migration)
{
	const struct ferry_command_record *rec;
	ferry_command_table_init(&table);
	char id[32];
	for (int i = 0; i < FERRY_CMD_MAX_MIGRATIONS; i++) {
		snprintf(id, sizeof id, "m%d", i);
		ferry_command_table_record(&table, id, 1, 0, "", "");
	}
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m0", 1, &rec), FERRY_CMD_REPEAT); /* m0 used again */
	ferry_command_table_record(&table, "new", 1, 0, "", "");
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m0", 1, &rec), FERRY_CMD_REPEAT);
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "m1", 1, &rec), FERRY_CMD_NEW); /* evicted */
	EXPECT_EQ_INT(ferry_command_table_lookup(&table, "new", 1, &rec), FERRY_CMD_REPEAT);
}

FERRY_TEST(token_bucket_paces_at_the_rate)
{
	struct ferry_token_bucket b;
	ferry_token_bucket_init(&b, 1000000, 100000, 0); /* 1 MB/s, 100 kB burst */
	EXPECT_EQ_U64(ferry_token_bucket_reserve(&b, 100000, 0), 0);          /* the burst */
	EXPECT_EQ_U64(ferry_token_bucket_reserve(&b, 500000, 0), 500000000);  /* owes 0.5 s */
	/* After the owed time plus one second, one second of tokens came back (capped at burst). */
	EXPECT_EQ_U64(ferry_token_bucket_reserve(&b, 100000, 1500000000ull), 0);
	EXPECT_EQ_U64(ferry_token_bucket_reserve(&b, 1000, 1500000000ull), 1000000);
	/* Uncapped never waits; a new rate applies from now. */
	ferry_token_bucket_set_rate(&b, 0, 1600000000ull);
	EXPECT_EQ_U64(ferry_token_bucket_reserve(&b, 1u << 30, 1600000000ull), 0);
}
