/* Rollback and the coordinator's controls, with real processes (migration_harness.h):
 * the destination agent SIGKILLed mid-precopy and mid-cutover, Abort (repeat answered from the
 * record), ForceCutover of a migration that would never converge, AdjustPolicy of the bandwidth
 * cap (seen in Progress) and of the downtime budget (which then lets it converge).
 *
 * "Never converges": 16 MiB of guest RAM dirtied at 20000 page writes/s (over 4096 pages) while
 * the cap holds the stream at 8 MiB/s and the budget is 1 ms: every round leaves megabytes dirty,
 * so the cut-over rule never holds on its own and only the coordinator's commands end it. */
#include "migration_harness.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#define SMALL "16MiB"
#define SMALL_BYTES (16ull << 20)
#define HOT_RATE "20000"
#define CAP (8ull << 20)

static Ferry__V1__MigrationPolicy never_converging(void)
{
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 1;
	pol.max_rounds = 1000;
	pol.bandwidth_bytes_per_sec = CAP;
	return pol;
}

/* Waits for the source's first round report (pre-copy under way); its bandwidth, 0 if none came. */
static uint64_t first_round(struct mh_cluster *c)
{
	Ferry__V1__Progress *p = mh_next_progress(&c->src);
	if (!p)
		return 0;
	uint64_t bw = p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_PRECOPY ? p->bandwidth_bytes_per_sec : 0;
	protobuf_c_message_free_unpacked(&p->base, NULL);
	return bw;
}

static void expect_rolled_back(struct mh_cluster *c, int code, int dst_alive)
{
	Ferry__V1__Progress *p = mh_final_progress(&c->src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	EXPECT(p && p->error && p->error->message[0] != '\0');
	if (p && p->error) {
		fprintf(stderr, "  source rolled back: code=%d %s\n", p->error->code, p->error->message);
		if (code)
			EXPECT_EQ_INT((int)p->error->code, code);
		/* The reason names the cause: the coordinator's abort, or the destination that went away. */
		EXPECT(strstr(p->error->message, code == FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED
							 ? "aborted by the coordinator: operator abort (test)"
							 : "the destination closed the channel") != NULL);
	}
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	if (dst_alive) {
		Ferry__V1__Progress *q = mh_final_progress(&c->dst);
		EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
		if (q)
			protobuf_c_message_free_unpacked(&q->base, NULL);
	}
	EXPECT(mh_workload_gone(c->incoming)); /* nothing of the VM runs on the destination */
	EXPECT_EQ_INT(mh_source_runs_on(c), 0);
}

FERRY_TEST(migration_rollback_destination_killed_mid_precopy)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, SMALL, HOT_RATE), 0);
	Ferry__V1__MigrationPolicy pol = never_converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-k1", "token-k1", &pol), 0);
	EXPECT(first_round(&c) > 0);
	mh_kill_agent(&c.dst);
	expect_rolled_back(&c, 0, 0);
	mh_teardown(&c);
}

FERRY_TEST(migration_rollback_destination_killed_mid_cutover)
{
	struct mh_cluster c;
	char reply[8192];
	/* The destination stops as the frozen vCPUs' state arrives: the source is in its cutover. */
	const char *dst_env[] = {"FERRY_TEST_PAUSE_AT=vcpu_state", NULL};
	EXPECT_EQ_INT(mh_setup(&c, NULL, dst_env, SMALL, "2000"), 0);
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 50;
	pol.max_rounds = 10;
	EXPECT_EQ_INT(mh_begin(&c, "mig-k2", "token-k2", &pol), 0);
	uint64_t frozen = 0;
	for (int i = 0; i < 2000 && !frozen; i++) {
		if (mh_workload_says(c.control, "stats", reply, sizeof reply) == 0)
			ferry_workload_ipc_field_u64(reply, "frozen", &frozen);
		if (!frozen)
			usleep(5000);
	}
	EXPECT(frozen == 1);
	mh_kill_agent(&c.dst);
	expect_rolled_back(&c, 0, 0);
	mh_teardown(&c);
}

FERRY_TEST(migration_abort_mid_precopy_is_idempotent)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, SMALL, HOT_RATE), 0);
	Ferry__V1__MigrationPolicy pol = never_converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-a", "token-a", &pol), 0);
	EXPECT(first_round(&c) > 0);
	EXPECT_EQ_INT(mh_abort(&c.src, "mig-a", 3), 0);
	expect_rolled_back(&c, FERRY__V1__ERROR_CODE__ERROR_CODE_ABORTED, 1);
	/* The coordinator repeats itself after a reconnect: the recorded result, nothing re-run. */
	EXPECT_EQ_INT(mh_abort(&c.src, "mig-a", 3), 0);
	/* A new abort of a rolled-back migration is accepted too (it is where the abort leads). */
	EXPECT_EQ_INT(mh_abort(&c.src, "mig-a", 4), 0);
	EXPECT_EQ_INT(mh_abort(&c.dst, "mig-a", 2), 0);
	/* Nothing restarts it, and its token opens no channel any more. */
	EXPECT_EQ_INT(mh_force_cutover(&c.src, "mig-a", 5), FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE);
	int code = 0;
	EXPECT_EQ_INT(mh_stream_hello(c.dst.data_address, "mig-a", "token-a", SMALL_BYTES, &code),
		      FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
	EXPECT_EQ_INT(code, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_TOKEN);
	EXPECT_EQ_INT(mh_source_runs_on(&c), 0);
	mh_teardown(&c);
}

static void expect_completed(struct mh_cluster *c)
{
	char reply[8192];
	Ferry__V1__Progress *p = mh_final_progress(&c->src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (p) {
		EXPECT(p->actual_downtime_us > 0);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	Ferry__V1__Progress *q = mh_final_progress(&c->dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	EXPECT_EQ_INT(mh_workload_says(c->incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	mh_workload_says(c->incoming, "quit", reply, sizeof reply);
}

FERRY_TEST(migration_force_cutover_completes_what_would_not_converge)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, SMALL, HOT_RATE), 0);
	Ferry__V1__MigrationPolicy pol = never_converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-f", "token-f", &pol), 0);
	/* Round 0 and one more round: still pre-copy, the rule did not fire. */
	EXPECT(first_round(&c) > 0);
	EXPECT(first_round(&c) > 0);
	EXPECT_EQ_INT(mh_force_cutover(&c.src, "mig-f", 3), 0);
	expect_completed(&c);
	mh_teardown(&c);
}

FERRY_TEST(migration_adjust_policy_changes_bandwidth_and_budget)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, SMALL, HOT_RATE), 0);
	Ferry__V1__MigrationPolicy pol = never_converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-p", "token-p", &pol), 0);
	/* Round 0 is held to the cap (its burst allowance is a tenth of a second's worth). */
	uint64_t bw0 = first_round(&c);
	EXPECT(bw0 > 0 && bw0 <= CAP + CAP / 4);
	Ferry__V1__MigrationPolicy faster = FERRY__V1__MIGRATION_POLICY__INIT;
	faster.bandwidth_bytes_per_sec = 8 * CAP;
	EXPECT_EQ_INT(mh_adjust(&c.src, "mig-p", 3, &faster), 0);
	/* The round under way when the cap changed is mixed; the one after runs at the new cap. */
	first_round(&c);
	uint64_t bw2 = first_round(&c);
	fprintf(stderr, "  bandwidth at the old cap %.1f MiB/s, at the new one %.1f MiB/s\n", bw0 / 1048576.0,
		bw2 / 1048576.0);
	EXPECT(bw2 > 2 * CAP);
	EXPECT(bw2 <= 8 * CAP + 2 * CAP);
	/* A budget that the next round's dirty pages fit: the source cuts over by itself. */
	Ferry__V1__MigrationPolicy patient = FERRY__V1__MIGRATION_POLICY__INIT;
	patient.max_downtime_ms = 600000;
	EXPECT_EQ_INT(mh_adjust(&c.src, "mig-p", 4, &patient), 0);
	expect_completed(&c);
	mh_teardown(&c);
}
