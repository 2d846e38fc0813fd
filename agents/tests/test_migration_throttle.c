/* Auto-converge in a live migration (migration_harness.h: two real agents, a scripted ferryd, a
 * real source workload): the coordinator's throttle reaches the source workload's vCPUs through
 * AdjustPolicy (the workload says so, and a "throttle_changed" Event tells the coordinator), a
 * throttle past 99 % is refused with the reason, the migration still completes with verified
 * memory and the destination runs unthrottled; a rollback turns the throttle off, and so does the
 * workload itself when the agent that set it dies. */
#include "migration_harness.h"
#include "test.h"

#include <unistd.h>

#define RAM "32MiB"

/* A policy that cannot converge by itself, whatever share of the CPU the test gets (the test
 * decides when to cut over). A round converges when it ends with its expected downtime within
 * max_downtime_ms or at max_rounds; under a 1 MiB/s cap round 0 alone lasts 32 s of the agent's own
 * pacing, and any later round that found even one dirty page expects 4 ms of downtime. Without
 * the cap, rounds take milliseconds and a round whose (throttled, starved) vCPUs barely wrote
 * converges on its own: the migration could end before the test's steps, and every wait for the
 * source workload then waited for a workload that was gone. */
#define STALL_BYTES_PER_SEC (1ull << 20)
#define LIFTED_BYTES_PER_SEC (4ull << 30)

static Ferry__V1__MigrationPolicy stalling(uint32_t throttle)
{
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 1;
	pol.max_rounds = UINT32_MAX;
	pol.bandwidth_bytes_per_sec = STALL_BYTES_PER_SEC;
	pol.throttle_percent = throttle;
	return pol;
}

/* The workload's throttle= in its stats, waiting a bounded time for it to become `want`. */
static uint64_t workload_throttle(const char *control, uint64_t want)
{
	return mh_workload_stat_until(control, "throttle", mh_stat_eq, &want);
}

static int has_step(const struct mh_host *h, const char *step)
{
	for (size_t i = 0; i < h->n_throttle_steps; i++)
		if (strcmp(h->throttle_steps[i], step) == 0)
			return 1;
	return 0;
}

FERRY_TEST(migration_throttle_reaches_the_workload_and_the_migration_completes)
{
	struct mh_cluster c;
	char reply[FERRY_WORKLOAD_IPC_LINE_MAX];
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, RAM, "20000"), 0);
	Ferry__V1__MigrationPolicy pol = stalling(0);
	EXPECT_EQ_INT(mh_begin(&c, "mig-thr", "secret-token-thr", &pol), 0);
	EXPECT_EQ_U64(workload_throttle(c.control, 0), 0);

	/* The convergence policy raises the throttle: the vCPUs lose 50 %, then 70 % of their time. */
	Ferry__V1__MigrationPolicy adj = stalling(50);
	EXPECT_EQ_INT(mh_adjust(&c.src, "mig-thr", 3, &adj), 0);
	EXPECT_EQ_U64(workload_throttle(c.control, 50), 50);
	adj.throttle_percent = 70;
	EXPECT_EQ_INT(mh_adjust(&c.src, "mig-thr", 4, &adj), 0);
	EXPECT_EQ_U64(workload_throttle(c.control, 70), 70);
	/* 100 % would stop the VM: refused with the reason, the throttle in effect stays. */
	adj.throttle_percent = 100;
	Ferry__V1__AdjustPolicy ap = FERRY__V1__ADJUST_POLICY__INIT;
	ap.policy = &adj;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = "mig-thr";
	cmd.seq = 5;
	cmd.body_case = FERRY__V1__COMMAND__BODY_ADJUST_POLICY;
	cmd.adjust_policy = &ap;
	Ferry__V1__CommandResult *r = mh_command(&c.src, &cmd);
	EXPECT(r && r->error && r->error->code == FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE);
	if (r && r->error)
		EXPECT_EQ_STR(r->error->message, "throttle_percent 100 is outside 0..99");
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	EXPECT_EQ_U64(workload_throttle(c.control, 70), 70);
	uint64_t zero = 0; /* the vCPUs really sleep (counted when a sleep ends) */
	EXPECT(mh_stat_gt(mh_workload_stat_until(c.control, "throttled_ns", mh_stat_gt, &zero), &zero));

	/* The coordinator heard of both changes. */
	EXPECT(has_step(&c.src, "50 policy ok"));
	EXPECT(has_step(&c.src, "70 policy ok"));
	for (size_t i = 0; i < c.src.n_throttle_steps; i++)
		fprintf(stderr, "  throttle step: %s\n", c.src.throttle_steps[i]);

	/* The cap kept the migration from converging on its own; the test cuts over, lifting the cap
	 * so that the round in flight ends now. */
	adj.throttle_percent = 70;
	adj.bandwidth_bytes_per_sec = LIFTED_BYTES_PER_SEC;
	EXPECT_EQ_INT(mh_adjust(&c.src, "mig-thr", 6, &adj), 0);
	EXPECT_EQ_INT(mh_force_cutover(&c.src, "mig-thr", 7), 0);
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (p) {
		fprintf(stderr, "  completed after %u rounds\n", p->round + 1);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	Ferry__V1__Progress *q = mh_final_progress(&c.dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	/* The destination runs from the source's state, unthrottled, and its memory verifies. */
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	EXPECT_EQ_U64(workload_throttle(c.incoming, 0), 0);
	mh_workload_says(c.incoming, "quit", reply, sizeof reply);
	mh_teardown(&c);
}

FERRY_TEST(migration_throttle_is_refused_past_99_and_turned_off_by_a_rollback)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, RAM, "20000"), 0);
	/* StartPrecopy with 100 %: refused (mh_begin fails at its StartPrecopy), nothing started. */
	Ferry__V1__MigrationPolicy pol = stalling(100);
	EXPECT_EQ_INT(mh_begin(&c, "mig-thr-rb", "secret-token-thr-rb", &pol), -1);
	EXPECT_EQ_U64(workload_throttle(c.control, 0), 0);
	/* Started with a throttle: it applies at once. */
	pol.throttle_percent = 40;
	Ferry__V1__StartPrecopy sp = FERRY__V1__START_PRECOPY__INIT;
	sp.policy = &pol;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = "mig-thr-rb";
	cmd.seq = 3;
	cmd.body_case = FERRY__V1__COMMAND__BODY_START_PRECOPY;
	cmd.start_precopy = &sp;
	EXPECT_EQ_INT(mh_result_code(mh_command(&c.src, &cmd)), 0);
	EXPECT_EQ_U64(workload_throttle(c.control, 40), 40);

	/* An abort rolls back: the VM runs on here, at full speed again. */
	EXPECT_EQ_INT(mh_abort(&c.src, "mig-thr-rb", 4), 0);
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	EXPECT_EQ_U64(workload_throttle(c.control, 0), 0);
	EXPECT_EQ_INT(mh_source_runs_on(&c), 0);
	/* The reset's Event went out before the answer to a later command. */
	Ferry__V1__QueryMigration qm = FERRY__V1__QUERY_MIGRATION__INIT;
	cmd.seq = 5;
	cmd.body_case = FERRY__V1__COMMAND__BODY_QUERY_MIGRATION;
	cmd.query_migration = &qm;
	EXPECT_EQ_INT(mh_result_code(mh_command(&c.src, &cmd)), 0);
	EXPECT(has_step(&c.src, "40 policy ok"));
	EXPECT(has_step(&c.src, "0 rollback ok"));
	mh_teardown(&c);
}

FERRY_TEST(migration_throttle_ends_when_the_source_agent_dies)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, RAM, "20000"), 0);
	Ferry__V1__MigrationPolicy pol = stalling(60);
	EXPECT_EQ_INT(mh_begin(&c, "mig-thr-kill", "secret-token-thr-kill", &pol), 0);
	EXPECT_EQ_U64(workload_throttle(c.control, 60), 60);
	/* Nobody is left to turn it off: the workload does, when the agent's connection closes. */
	mh_kill_agent(&c.src);
	EXPECT_EQ_U64(workload_throttle(c.control, 0), 0);
	mh_teardown(&c);
}
