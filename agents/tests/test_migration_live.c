/* Live migration end to end on loopback (migration_harness.h: two real agents, a scripted ferryd,
 * a real source workload dirtying 64 MiB). Checks: the migration completes with a reported
 * downtime, the destination workload (started from the source's Inventory vcpus and launch_args)
 * passes its memory self-check and runs on, the source workload is gone only after the confirm, a
 * repeated command gets its recorded result, a wrong token is refused while the agent keeps
 * serving, the used token is refused afterwards, and a corrupted batch or vCPU state rolls back
 * with the source still running. */
#include "migration_harness.h"
#include "test.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM "64MiB"
#define RAM_BYTES (64ull << 20)

static Ferry__V1__MigrationPolicy converging(void)
{
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 50;
	pol.max_rounds = 10;
	return pol;
}

FERRY_TEST(migration_live_completes_and_destination_runs)
{
	struct mh_cluster c;
	char reply[8192];
	EXPECT_EQ_INT(mh_setup(&c, NULL, NULL, RAM, "2000"), 0);
	/* The source VM's Inventory says how to re-create it. */
	EXPECT_EQ_U64(c.vm.ram_bytes, RAM_BYTES);
	EXPECT_EQ_INT((int)c.vm.vcpus, 2);
	EXPECT_EQ_INT((int)c.vm.n_launch_args, 6);
	if (c.vm.n_launch_args == 6) {
		EXPECT_EQ_STR(c.vm.launch_args[0], "--dirty-rate");
		EXPECT_EQ_STR(c.vm.launch_args[1], "2000");
		EXPECT_EQ_STR(c.vm.launch_args[3], "uniform");
		EXPECT_EQ_STR(c.vm.launch_args[5], "5");
	}
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-1", "secret-token-1", &pol), 0);

	/* A wrong token on the destination's data listener: BAD_TOKEN, the agent keeps serving. */
	int code = 0;
	EXPECT_EQ_INT(mh_stream_hello(c.dst.data_address, "mig-1", "wrong", RAM_BYTES, &code),
		      FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
	EXPECT_EQ_INT(code, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_TOKEN);

	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (p) {
		fprintf(stderr, "  source: rounds=%u ram_bytes_sent=%llu downtime_us=%llu\n", p->round + 1,
			(unsigned long long)p->ram_bytes_sent, (unsigned long long)p->actual_downtime_us);
		EXPECT(p->actual_downtime_us > 0);
		protobuf_c_message_free_unpacked(&p->base, NULL);
	}
	Ferry__V1__Progress *q = mh_final_progress(&c.dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);

	/* The source workload was released (quit, exit 0) after the confirm. */
	int status = -1;
	for (int i = 0; i < 500 && waitpid(c.workload, &status, WNOHANG) != c.workload; i++)
		usleep(10000);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	c.workload = 0;

	/* The destination runs on from the source's state and its memory verifies. */
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	mh_workload_says(c.incoming, "stats", reply, sizeof reply);
	EXPECT(strstr(reply, " vcpus=2 ") != NULL);
	uint64_t w1 = 0, w2 = 0;
	ferry_workload_ipc_field_u64(reply, "writes", &w1);
	for (int i = 0; i < 500 && w2 <= w1; i++) {
		usleep(10000);
		mh_workload_says(c.incoming, "stats", reply, sizeof reply);
		ferry_workload_ipc_field_u64(reply, "writes", &w2);
	}
	EXPECT(w2 > w1);

	/* The token was used: a channel presenting it again is refused. */
	EXPECT_EQ_INT(mh_stream_hello(c.dst.data_address, "mig-1", "secret-token-1", RAM_BYTES, &code),
		      FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
	EXPECT_EQ_INT(code, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_TOKEN);

	/* A repeated command returns the recorded result (StartPrecopy seq 2 succeeded then). */
	Ferry__V1__StartPrecopy sp = FERRY__V1__START_PRECOPY__INIT;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = "mig-1";
	cmd.seq = 2;
	cmd.body_case = FERRY__V1__COMMAND__BODY_START_PRECOPY;
	cmd.start_precopy = &sp;
	EXPECT_EQ_INT(mh_result_code(mh_command(&c.src, &cmd)), 0);
	cmd.seq = 3; /* the same command as new: refused, the migration is over */
	EXPECT_EQ_INT(mh_result_code(mh_command(&c.src, &cmd)), FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE);
	/* Too late to abort a completed migration. */
	EXPECT_EQ_INT(mh_abort(&c.src, "mig-1", 4), FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE);

	mh_workload_says(c.incoming, "quit", reply, sizeof reply);
	mh_teardown(&c);
}

/* A rollback whose cause the source reports with `code`; the destination discards. */
static void expect_rollback(struct mh_cluster *c, int code)
{
	Ferry__V1__Progress *p = mh_final_progress(&c->src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	EXPECT(p && p->error && p->error->code == (Ferry__V1__ErrorCode)code);
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	Ferry__V1__Progress *q = mh_final_progress(&c->dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	EXPECT(mh_workload_gone(c->incoming));
	EXPECT_EQ_INT(mh_source_runs_on(c), 0);
}

FERRY_TEST(migration_live_corrupted_batch_rolls_back)
{
	struct mh_cluster c;
	const char *env[] = {"FERRY_TEST_CORRUPT_BATCH=3", NULL};
	EXPECT_EQ_INT(mh_setup(&c, env, NULL, RAM, "2000"), 0);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-2", "secret-token-2", &pol), 0);
	expect_rollback(&c, FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM);
	mh_teardown(&c);
}

FERRY_TEST(migration_live_corrupted_vcpu_state_rolls_back)
{
	struct mh_cluster c;
	const char *env[] = {"FERRY_TEST_CORRUPT_VCPU_STATE=1", NULL};
	EXPECT_EQ_INT(mh_setup(&c, env, NULL, "16MiB", "2000"), 0);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-3", "secret-token-3", &pol), 0);
	expect_rollback(&c, FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM);
	mh_teardown(&c);
}
