/* Inventories follow device state changes (inventory_pacer.h), with real agents
 * (migration_harness.h): while a migration runs, the destination's Inventory shows its device in
 * RESUMING; after an Abort the source's device rolls back to RUNNING and an Inventory says so,
 * although no VM changed on the source (before, only VM changes sent one, and ferryd's view of the
 * devices stayed stale). The migration never converges (16 MiB dirtied hot under an 8 MiB/s cap,
 * 1 ms budget), so only the Abort ends it.
 *
 * And the destination agent SIGKILLed mid-precopy, its device stranded in RESUMING in
 * ferry-simdevd: the restarted agent returns it to RUNNING (device_registry.h), its first Inventory
 * says so, and the host accepts the next PrepareDestination with that device. */
#include "ferry.pb-c.h"
#include "frame.h"
#include "migration_harness.h"
#include "test.h"

#include "sim_backend.h"

#include <string.h>

#define INV_SIM_DEVICE(name)                                                                                \
	"[device " name "]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"  \
	"migration = stop_copy,pre_copy\nmigration_version = ferry-sim/1\nvm = vm1\nstop_copy_bytes = 256KiB\n" \
	"state_change_rate = 64KiB/s\ndma_write_rate = 0/s\nseed = 0x2a\n"

static int device_state(const Ferry__V1__Inventory *inv, const char *id)
{
	for (size_t i = 0; i < inv->n_devices; i++)
		if (strcmp(inv->devices[i]->id, id) == 0)
			return (int)inv->devices[i]->state;
	return -1;
}

static const char *attribute(const Ferry__V1__Event *e, const char *key)
{
	for (size_t i = 0; i < e->n_attributes; i++)
		if (strcmp(e->attributes[i]->key, key) == 0)
			return e->attributes[i]->value;
	return "";
}

/* Reads a host's frames until an Inventory shows `device` in `state` (after an Event
 * "device_state_changed" of that device when `after_event`, and after the CommandResult when
 * `after_result`). 1 when seen, 0 if the stream ended or timed out first. */
static int inventory_shows(struct mh_host *h, const char *device, int state, bool after_event, bool after_result)
{
	bool event = !after_event, result = !after_result;
	for (int i = 0; i < 5000; i++) {
		struct ferry_frame f;
		if (test_peer_read_frame(&h->ferryd, &f, MH_T_MS) != 1)
			return 0;
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_EVENT) {
			const Ferry__V1__Event *e = (const Ferry__V1__Event *)f.msg;
			if (strcmp(e->kind, "device_state_changed") == 0 && strcmp(attribute(e, "device_id"), device) == 0)
				event = true;
		}
		if (f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND_RESULT)
			result = true;
		bool seen = f.type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY && event && result &&
			    device_state((const Ferry__V1__Inventory *)f.msg, device) == state;
		ferry_frame_release(&f);
		if (seen)
			return 1;
	}
	return 0;
}

static Ferry__V1__MigrationPolicy never_converging(void)
{
	Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
	pol.max_downtime_ms = 1;
	pol.max_rounds = 1000;
	pol.bandwidth_bytes_per_sec = 8ull << 20;
	return pol;
}

FERRY_TEST(agent_inventory_follows_device_states_through_a_migration_and_its_abort)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup_devices(&c, NULL, INV_SIM_DEVICE("sim-a"), INV_SIM_DEVICE("sim-b"), "16MiB", "20000"), 0);
	Ferry__V1__MigrationPolicy pol = never_converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-inv", "token-inv", &pol), 0);

	/* The destination's device took the incoming state's session: ferryd is told. */
	EXPECT_EQ_INT(inventory_shows(&c.dst, "sim-b", FERRY__V1__DEVICE_STATE__DEVICE_STATE_RESUMING, true, false), 1);

	/* Abort the source (its result read with the rest): its device rolls back, the VM stays. */
	Ferry__V1__Abort a = FERRY__V1__ABORT__INIT;
	a.reason = "operator abort (test)";
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = "mig-inv";
	cmd.seq = 3;
	cmd.body_case = FERRY__V1__COMMAND__BODY_ABORT;
	cmd.abort = &a;
	EXPECT_EQ_INT(test_peer_send(&c.src.ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND, &cmd.base), 0);
	EXPECT_EQ_INT(inventory_shows(&c.src, "sim-a", FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING, true, true), 1);
	EXPECT_EQ_INT(mh_source_runs_on(&c), 0);
	mh_teardown(&c);
}

/* sim device `name` of a host's ferry-simdevd, read directly: its state, or -1. */
static int sim_state(const char *sim_socket, const char *name)
{
	char addr[256], err[256] = "";
	snprintf(addr, sizeof addr, "socket=%s,device=%s", sim_socket, name);
	struct ferry_device_open_args args = {.address = addr, .error = err, .error_cap = sizeof err};
	struct ferry_device *dev = NULL;
	if (ferry_sim_ops.open(&args, &dev) != 0)
		return -1;
	uint32_t state = 0;
	int rc = dev->ops->get_state(dev, &state);
	dev->ops->close(dev);
	return rc == 0 ? (int)state : -1;
}

FERRY_TEST(agent_restarted_destination_resets_its_stranded_device_and_receives_again)
{
	struct mh_cluster c;
	EXPECT_EQ_INT(mh_setup_devices(&c, NULL, INV_SIM_DEVICE("sim-a"), INV_SIM_DEVICE("sim-b"), "16MiB", "20000"), 0);
	Ferry__V1__MigrationPolicy pol = never_converging();
	EXPECT_EQ_INT(mh_begin(&c, "mig-r1", "token-r1", &pol), 0);
	EXPECT_EQ_INT(inventory_shows(&c.dst, "sim-b", FERRY__V1__DEVICE_STATE__DEVICE_STATE_RESUMING, true, false), 1);

	/* The destination agent dies mid-precopy: the source rolls back, the device model stays. */
	mh_kill_agent(&c.dst);
	Ferry__V1__Progress *p = mh_final_progress(&c.src);
	EXPECT(p && p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK);
	if (p)
		protobuf_c_message_free_unpacked(&p->base, NULL);
	EXPECT(mh_workload_gone(c.incoming));
	EXPECT_EQ_INT(sim_state(c.dst.sim_socket, "sim-b"), FERRY_MIG_RESUMING);

	/* A new agent on that host: no migration owns the device, so it is reset and reported RUNNING. */
	Ferry__V1__Inventory *inv = mh_restart_agent(&c, &c.dst, "dst");
	EXPECT(inv != NULL);
	if (inv) {
		EXPECT_EQ_INT(device_state(inv, "sim-b"), FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING);
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	}
	EXPECT_EQ_INT(sim_state(c.dst.sim_socket, "sim-b"), FERRY_MIG_RUNNING);

	/* The host receives again: PrepareDestination binds the device (a whole second migration of
	 * the same source VM is not possible here: its workload's userfaultfd is set up once). */
	ProtobufCBinaryData tok = {8, (uint8_t *)"token-r2"};
	Ferry__V1__PrepareDestination pd = FERRY__V1__PREPARE_DESTINATION__INIT;
	pd.vm_id = "vm1";
	pd.source_host_id = "src";
	pd.ram_bytes = c.vm.ram_bytes;
	pd.vcpus = c.vm.vcpus;
	pd.n_launch_args = c.vm.n_launch_args;
	pd.launch_args = c.vm.launch_args;
	pd.token = tok;
	pd.channels = 2;
	pd.n_devices = c.n_vm_devices;
	pd.devices = c.vm_devices;
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = "mig-r2";
	cmd.seq = 1;
	cmd.body_case = FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION;
	cmd.prepare_destination = &pd;
	EXPECT_EQ_INT((int)c.n_vm_devices, 1);
	EXPECT_EQ_INT(mh_result_code(mh_command(&c.dst, &cmd)), 0);
	EXPECT_EQ_INT(mh_abort(&c.dst, "mig-r2", 2), 0);
	EXPECT_EQ_INT(sim_state(c.dst.sim_socket, "sim-b"), FERRY_MIG_RUNNING);
	mh_teardown(&c);
}
