/* Live migration end to end on loopback (migration_harness.h: two real agents, a scripted ferryd,
 * a real source workload dirtying 64 MiB). Checks: the migration completes with a reported
 * downtime, the destination workload (started from the source's Inventory vcpus and launch_args)
 * passes its memory self-check and runs on, the source workload is gone only after the confirm, a
 * repeated command gets its recorded result, a wrong token is refused while the agent keeps
 * serving, the used token is refused afterwards, and a corrupted batch or vCPU state rolls back
 * with the source still running. */
#include "migration_harness.h"
#include "sim_backend.h"
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
/* Rolled back on both hosts with `code` and (unless NULL) an error message containing `says`. */
static void expect_rollback_saying(struct mh_cluster *c, int code, const char *says)
{
	Ferry__V1__Progress *p = mh_final_progress(&c->src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	EXPECT(p && p->error && p->error->code == (Ferry__V1__ErrorCode)code);
	if (says)
		EXPECT(p && p->error && p->error->message && strstr(p->error->message, says) != NULL);
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	Ferry__V1__Progress *q = mh_final_progress(&c->dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	EXPECT(mh_workload_gone(c->incoming));
	EXPECT_EQ_INT(mh_source_runs_on(c), 0);
}

static void expect_rollback(struct mh_cluster *c, int code)
{
	expect_rollback_saying(c, code, NULL);
}

/* A page damaged on the way (batch 5 of round 0 carries a wrong checksum for one page, at page
 * 1024 or later: outside the source's 1 MiB hot set, so it is never sent again) is held suspect,
 * and fails the migration at the next round's end, before any `start`: rolled back, CHECKSUM. */
FERRY_TEST(migration_live_corrupted_batch_rolls_back)
{
	struct mh_cluster c;
	const char *env[] = {"FERRY_TEST_CORRUPT_BATCH=5", NULL};
	EXPECT_EQ_INT(mh_setup_with(&c, env, NULL, "16MiB", "2000", "--pattern=hot:1"), 0);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-2", "secret-token-2", &pol), 0);
	expect_rollback_saying(&c, FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM,
			       "arrived with a checksum other than the source's and was not sent again");
	mh_teardown(&c);
}

/* The guest is halfway through writing page 2000 (outside its hot set: nothing else writes it) when
 * the source sends it, after the source took its checksum, as a vCPU racing the send would. The
 * page arrives torn and mismatching, the write re-dirtied it, round 1 sends it again, and the
 * migration completes with the page as the guest finished writing it. */
FERRY_TEST(migration_live_page_written_during_its_send_is_sent_again)
{
	struct mh_cluster c;
	char reply[512];
	const char *env[] = {"FERRY_TEST_TEAR_PAGE=2000", NULL};
	EXPECT_EQ_INT(mh_setup_with(&c, env, NULL, "16MiB", "2000", "--pattern=hot:1"), 0);
	EXPECT_EQ_INT(mh_workload_says(c.control, "peek 2000", reply, sizeof reply), 0);
	uint64_t before = 0, after = 0;
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "generation", &before), 0);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-tear", "secret-token-tear", &pol), 0);
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "peek 2000", reply, sizeof reply), 0);
	EXPECT_EQ_INT(ferry_workload_ipc_field_u64(reply, "generation", &after), 0);
	EXPECT_EQ_U64(after, before + 1); /* the touch, and only it */
	mh_workload_says(c.incoming, "quit", reply, sizeof reply);
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

/* A page goes bad on the destination after it arrived intact in round 0 (page 2000: outside the
 * source's 1 MiB hot set, so it is never sent again). The round check defers it (it might be torn
 * by a concurrent write on the source) and fails the migration at the next round's end, before
 * any `start`: rolled back, naming the page. */
FERRY_TEST(migration_live_page_corrupted_in_a_precopy_round_rolls_back_before_start)
{
	struct mh_cluster c;
	const char *env[] = {"FERRY_TEST_CORRUPT_PAGE=2000", NULL};
	EXPECT_EQ_INT(mh_setup_with(&c, NULL, env, "16MiB", "2000", "--pattern=hot:1"), 0);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-pc", "secret-token-pc", &pol), 0);
	expect_rollback_saying(&c, FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY,
			       "page 2000 failed its self-check and was not sent again");
	mh_teardown(&c);
}

/* A page of the final round goes bad after it arrived: the incoming workload's check at start
 * (of the final round's pages only) finds it and refuses to run; rolled back. */
FERRY_TEST(migration_live_page_corrupted_in_the_final_round_is_caught_at_start)
{
	struct mh_cluster c;
	const char *env[] = {"FERRY_TEST_CORRUPT_PAGE=final", NULL};
	EXPECT_EQ_INT(mh_setup(&c, NULL, env, "16MiB", "2000"), 0);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-fc", "secret-token-fc", &pol), 0);
	expect_rollback_saying(&c, FERRY__V1__ERROR_CODE__ERROR_CODE_MEMORY, "refused to start: bad page=");
	mh_teardown(&c);
}

/* One sim device of vm1 on each host (the destination's is the twin the match must find). The
 * source's state changes while it runs, so pre-copy has device data to send; the destination's
 * does not change by itself (its state after the migration is exactly what it received) and
 * starts from another seed. Neither writes guest RAM. */
#define SIM_DEVICE_WITH(name, rate, seed)                                                                   \
	"[device " name "]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"  \
	"migration = stop_copy,pre_copy\nmigration_version = ferry-sim/1\nvm = vm1\nstop_copy_bytes = 256KiB\n" \
	"state_change_rate = " rate "\ndma_write_rate = 0/s\nseed = " seed "\n"
#define SIM_DEVICE(name) SIM_DEVICE_WITH(name, "64KiB/s", "0x2a")

/* A handle of our own on a host's sim device, next to the agent's. */
static struct ferry_device *open_sim(const char *sim_socket, const char *name)
{
	char addr[256], err[256] = "";
	snprintf(addr, sizeof addr, "socket=%s,device=%s", sim_socket, name);
	struct ferry_device_open_args args = {.address = addr, .error = err, .error_cap = sizeof err};
	struct ferry_device *dev = NULL;
	if (ferry_sim_ops.open(&args, &dev) < 0)
		fprintf(stderr, "  cannot open %s: %s\n", addr, err);
	return dev;
}

/* The required case: a 256 MiB workload dirtying memory and one sim device with pre-copy
 * data. */
FERRY_TEST(migration_live_256mib_with_a_sim_device_completes)
{
	struct mh_cluster c;
	char reply[8192];
	EXPECT_EQ_INT(mh_setup_devices(&c, NULL, SIM_DEVICE("sim-a"), SIM_DEVICE_WITH("sim-b", "0/s", "0x99"), "256MiB",
				       "2000"),
		      0);
	EXPECT_EQ_U64(c.vm.ram_bytes, 256ull << 20);
	EXPECT_EQ_INT((int)c.n_vm_devices, 1);
	uint32_t crc_before = 0, crc_src = 1, crc_dst = 2;
	struct ferry_device *twin = open_sim(c.dst.sim_socket, "sim-b");
	EXPECT(twin && ferry_sim_state_crc(twin, &crc_before) == 0);
	if (twin)
		twin->ops->close(twin);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-dev", "secret-token-dev", &pol), 0);

	/* Both sides report the device: its whole stream went over (sent = received, not empty), the
	 * source's ended in STOP, the destination's runs. */
	uint64_t sent = 0;
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (p && p->error)
		fprintf(stderr, "  source error: %s\n", p->error->message);
	EXPECT(p && p->n_devices == 1);
	if (p && p->n_devices == 1) {
		EXPECT_EQ_STR(p->devices[0]->device_id, "sim-a");
		EXPECT_EQ_INT(p->devices[0]->state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_STOP);
		sent = p->devices[0]->bytes_sent;
		EXPECT(sent > 0);
		fprintf(stderr, "  device sim-a: %llu bytes of state sent\n", (unsigned long long)sent);
	}
	if (p) {
		fprintf(stderr, "  source: rounds=%u ram_bytes_sent=%llu downtime_us=%llu\n", p->round + 1,
			(unsigned long long)p->ram_bytes_sent, (unsigned long long)p->actual_downtime_us);
		EXPECT(p->actual_downtime_us > 0);
		EXPECT(p->ram_bytes_sent > 0);
	}
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	Ferry__V1__Progress *q = mh_final_progress(&c.dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	if (q && q->error)
		fprintf(stderr, "  destination error: %s\n", q->error->message);
	EXPECT(q && q->n_devices == 1);
	if (q && q->n_devices == 1) {
		EXPECT_EQ_STR(q->devices[0]->device_id, "sim-b");
		EXPECT_EQ_INT(q->devices[0]->state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING);
		EXPECT_EQ_U64(q->devices[0]->bytes_sent, sent);
	}
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);

	/* The source device ended its saving session (STOP); its twin runs the state it received. */
	struct ferry_device *src = open_sim(c.src.sim_socket, "sim-a"), *dst = open_sim(c.dst.sim_socket, "sim-b");
	EXPECT(src && dst);
	if (src && dst) {
		uint32_t s_state = 99, d_state = 99;
		EXPECT_EQ_INT(src->ops->get_state(src, &s_state), 0);
		EXPECT_EQ_INT(dst->ops->get_state(dst, &d_state), 0);
		EXPECT_EQ_INT((int)s_state, FERRY_MIG_STOP);
		EXPECT_EQ_INT((int)d_state, FERRY_MIG_RUNNING);
		/* The twin holds exactly the source device's final state (and did not before). */
		EXPECT_EQ_INT(ferry_sim_state_crc(src, &crc_src), 0);
		EXPECT_EQ_INT(ferry_sim_state_crc(dst, &crc_dst), 0);
		EXPECT_EQ_U64(crc_dst, crc_src);
		EXPECT(crc_before != crc_src);
	}
	if (src)
		src->ops->close(src);
	if (dst)
		dst->ops->close(dst);

	/* The VM runs on the destination and its memory verifies. */
	EXPECT_EQ_INT(mh_workload_says(c.incoming, "verify", reply, sizeof reply), 0);
	EXPECT(strncmp(reply, "ok pages=", 9) == 0);
	mh_workload_says(c.incoming, "quit", reply, sizeof reply);
	mh_teardown(&c);
}

/* Both devices' states as kernel states (99 when unreadable). */
static void device_states(struct mh_cluster *c, uint32_t *src_state, uint32_t *dst_state)
{
	struct ferry_device *src = open_sim(c->src.sim_socket, "sim-a"), *dst = open_sim(c->dst.sim_socket, "sim-b");
	*src_state = *dst_state = 99;
	if (src) {
		src->ops->get_state(src, src_state);
		src->ops->close(src);
	}
	if (dst) {
		dst->ops->get_state(dst, dst_state);
		dst->ops->close(dst);
	}
}

/* The final round fails on the destination after every device chunk was written (the vCPU state
 * that follows them is corrupted): the destination resets its device (it was RESUMING), the
 * source's device is back RUNNING and the VM runs on at the source. */
FERRY_TEST(migration_live_with_a_sim_device_rolls_back_devices)
{
	struct mh_cluster c;
	const char *env[] = {"FERRY_TEST_CORRUPT_VCPU_STATE=1", NULL};
	EXPECT_EQ_INT(mh_setup_devices(&c, env, SIM_DEVICE("sim-a"), SIM_DEVICE("sim-b"), "16MiB", "2000"), 0);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-dev-rb", "secret-token-dev-rb", &pol), 0);
	expect_rollback(&c, FERRY__V1__ERROR_CODE__ERROR_CODE_CHECKSUM);
	uint32_t s_state, d_state = 99;
	device_states(&c, &s_state, &d_state);
	/* The destination rolls its device back from its event loop, soon after the discard. */
	for (int i = 0; i < 500 && d_state != FERRY_MIG_RUNNING; i++) {
		usleep(10000);
		device_states(&c, &s_state, &d_state);
	}
	EXPECT_EQ_INT((int)s_state, FERRY_MIG_RUNNING);
	EXPECT_EQ_INT((int)d_state, FERRY_MIG_RUNNING);
	mh_teardown(&c);
}

#define P2P_DEVICE(name, vm)                                                                                \
	"[device " name "]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"  \
	"migration = stop_copy,p2p,pre_copy\nmigration_version = ferry-sim/1\nvm = " vm "\n"                \
	"stop_copy_bytes = 128KiB\nstate_change_rate = 64KiB/s\ndma_write_rate = 0/s\nseed = 0x2a\n"

/* Position of "DEVICE STATE" among a host's device steps, -1 if it never happened. */
static int step_at(const struct mh_host *h, const char *device, const char *state)
{
	char want[96];
	snprintf(want, sizeof want, "%s %s", device, state);
	for (size_t i = 0; i < h->n_device_steps; i++)
		if (strcmp(h->device_steps[i], want) == 0)
			return (int)i;
	return -1;
}

/* Two P2P devices: the source quiesces both (PRE_COPY_P2P) before either stops (STOP_COPY), the
 * destination puts both in RUNNING_P2P before either runs, as the coordinator sees in the Event
 * frames. The destination's third device belongs to another VM and is left alone. */
FERRY_TEST(migration_live_with_two_p2p_devices_keeps_the_order)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup_devices(&c, NULL, P2P_DEVICE("sim-a0", "vm1") P2P_DEVICE("sim-a1", "vm1"),
				       P2P_DEVICE("sim-x", "vm9") P2P_DEVICE("sim-b0", "vm1") P2P_DEVICE("sim-b1", "vm1"),
				       "16MiB", "2000"),
		      0);
	EXPECT_EQ_INT((int)c.n_vm_devices, 2);
	Ferry__V1__MigrationPolicy pol = converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-p2p", "secret-token-p2p", &pol), 0);
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	EXPECT(p && p->n_devices == 2);
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	Ferry__V1__Progress *q = mh_final_progress(&c.dst);
	EXPECT(q && q->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED);
	EXPECT(q && q->n_devices == 2);
	if (q && q->n_devices == 2) {
		EXPECT_EQ_STR(q->devices[0]->device_id, "sim-b0");
		EXPECT_EQ_STR(q->devices[1]->device_id, "sim-b1");
	}
	if (q)
		protobuf_c_message_free_unpacked(&q->base, NULL);

	const char *src_dev[] = {"sim-a0", "sim-a1"}, *dst_dev[] = {"sim-b0", "sim-b1"};
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++) {
			int quiesced = step_at(&c.src, src_dev[i], "PRE_COPY_P2P"), stopped = step_at(&c.src, src_dev[k], "STOP_COPY");
			EXPECT(quiesced >= 0 && stopped > quiesced);
			int ready = step_at(&c.dst, dst_dev[i], "RUNNING_P2P"), running = step_at(&c.dst, dst_dev[k], "RUNNING");
			EXPECT(step_at(&c.dst, dst_dev[i], "RESUMING") >= 0);
			EXPECT(ready >= 0 && running > ready);
		}
	EXPECT(step_at(&c.src, "sim-a0", "STOP") > step_at(&c.src, "sim-a0", "STOP_COPY"));
	EXPECT_EQ_INT(step_at(&c.dst, "sim-x", "RESUMING"), -1);
	for (size_t i = 0; i < c.src.n_device_steps; i++)
		fprintf(stderr, "  src step %s\n", c.src.device_steps[i]);
	for (size_t i = 0; i < c.dst.n_device_steps; i++)
		fprintf(stderr, "  dst step %s\n", c.dst.device_steps[i]);
	mh_teardown(&c);
}

/* The destination has no twin for the VM's device (another migration_version): PrepareDestination
 * is refused with DEVICE and a reason naming the source device; nothing was started there. */
FERRY_TEST(migration_live_without_a_twin_device_is_refused)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup_devices(&c, NULL, SIM_DEVICE("sim-a"),
				       "[device sim-b]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\n"
				       "driver = ferry-sim\nmigration = stop_copy,pre_copy\nmigration_version = ferry-sim/2\n",
				       "16MiB", "2000"),
		      0);
	EXPECT_EQ_INT((int)c.n_vm_devices, 1);
	ProtobufCBinaryData tok = {5, (uint8_t *)"token"};
	Ferry__V1__PrepareDestination pd = FERRY__V1__PREPARE_DESTINATION__INIT;
	pd.vm_id = "vm1";
	pd.ram_bytes = c.vm.ram_bytes;
	pd.vcpus = c.vm.vcpus;
	pd.token = tok;
	pd.n_devices = c.n_vm_devices;
	pd.devices = c.vm_devices;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = "mig-notwin";
	cmd.seq = 1;
	cmd.body_case = FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION;
	cmd.prepare_destination = &pd;
	Ferry__V1__CommandResult *r = mh_command(&c.dst, &cmd);
	EXPECT(r && r->error);
	if (r && r->error) {
		EXPECT_EQ_INT(r->error->code, FERRY__V1__ERROR_CODE__ERROR_CODE_DEVICE);
		EXPECT(strstr(r->error->message, "source device sim-a") != NULL);
	}
	if (r)
		protobuf_c_message_free_unpacked(&r->base, NULL);
	EXPECT(mh_workload_gone(c.incoming));
	mh_teardown(&c);
}
