/* The real ferry-agent (FERRY_AGENT_BIN) with sim devices: it starts ferry-simdevd detached, opens
 * the devices and reports what they say; killed with SIGKILL while a device is mid-migration
 * (RESUMING, PRE_COPY, STOP_COPY), a restarted agent finds the same ferry-simdevd and returns the
 * orphaned device to RUNNING (device_registry.h); a device that cannot be opened is reported
 * UNSPECIFIED while the agent keeps running. */
#include "clock.h"
#include "device_registry.h"
#include "mig_fsm.h"
#include "ferry.pb-c.h"
#include "simdevd_helper.h"
#include "simdevd_launch.h"
#include "sim_backend.h"
#include "test.h"
#include "test_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 10000

static const char config_text[] =
	"[device sim-x]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"
	"migration = stop_copy,p2p,pre_copy\nsaving_layout_handshake = true\nmigration_version = ferry-sim/1\n"
	"stop_copy_bytes = 64KiB\nstate_change_rate = 16KiB/s\ndma_write_rate = 0/s\nseed = 0x2a\n"
	"[device vfio-y]\nbackend = vfio\nvendor_id = 0x15b3\ndevice_id = 0x101e\ndriver = mlx5_vfio_pci\n"
	"migration = stop_copy,p2p\nmigration_version = mlx5/1\nstop_copy_bytes = 1MiB\n"
	"address = cdev=/nonexistent/vfio7,pci=0000:3b:00.1\n";

struct env {
	char dir[64], conf[96], vm_socket[96], sim_socket[96];
	struct test_peer ferryd;
};

static pid_t start_agent(struct env *e)
{
	const char *bin = getenv("FERRY_AGENT_BIN");
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		execl(bin, bin, "--coordinator", e->ferryd.address, "--host-id", "host-d", "--config", e->conf,
		      "--data-listen", "127.0.0.1:0", "--vm-socket", e->vm_socket, "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Accepts the agent's connection, welcomes it and returns its first Inventory. */
static Ferry__V1__Inventory *first_inventory(struct env *e)
{
	if (test_peer_accept(&e->ferryd, TIMEOUT_MS) != 0)
		return NULL;
	ProtobufCMessage *hello = test_peer_expect(&e->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, TIMEOUT_MS);
	if (!hello)
		return NULL;
	protobuf_c_message_free_unpacked(hello, NULL);
	if (test_peer_send_welcome(&e->ferryd, 1, 1000, 50) != 0)
		return NULL;
	return (Ferry__V1__Inventory *)test_peer_expect(&e->ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY,
							 TIMEOUT_MS);
}

static Ferry__V1__Device *device(Ferry__V1__Inventory *inv, const char *id)
{
	for (size_t i = 0; inv && i < inv->n_devices; i++)
		if (strcmp(inv->devices[i]->id, id) == 0)
			return inv->devices[i];
	return NULL;
}

static int wait_exit(pid_t pid)
{
	int status = 0;
	for (uint64_t deadline = ferry_monotonic_ms() + TIMEOUT_MS; ferry_monotonic_ms() < deadline; usleep(10000))
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Opens sim-x on the host's ferry-simdevd directly (as a second process would). */
static struct ferry_device *open_sim(const struct env *e)
{
	char addr[160], err[256] = "";
	snprintf(addr, sizeof addr, "socket=%s,device=sim-x", e->sim_socket);
	struct ferry_device_open_args args = {.address = addr, .error = err, .error_cap = sizeof err};
	struct ferry_device *dev = NULL;
	if (ferry_sim_ops.open(&args, &dev) != 0)
		fprintf(stderr, "open sim-x: %s\n", err);
	return dev;
}

/* Starts an agent, drives sim-x into `stranded` (as a dead agent's migration would leave it),
 * SIGKILLs the agent and starts a new one on the same ferry-simdevd: the device, orphaned, is back
 * in RUNNING, the Inventory says so, and it can enter a migration again (RUNNING -> `stranded`). */
static void strand_and_restart(uint32_t stranded)
{
	if (!getenv("FERRY_AGENT_BIN")) {
		EXPECT(!"FERRY_AGENT_BIN is not set (run through `make check`)");
		return;
	}
	struct env e;
	snprintf(e.dir, sizeof e.dir, "/tmp/ferry-devs-XXXXXX");
	EXPECT(mkdtemp(e.dir) != NULL);
	snprintf(e.conf, sizeof e.conf, "%s/agent.conf", e.dir);
	snprintf(e.vm_socket, sizeof e.vm_socket, "%s/agent.sock", e.dir);
	snprintf(e.sim_socket, sizeof e.sim_socket, "%s/simdevd.sock", e.dir);
	FILE *f = fopen(e.conf, "w");
	EXPECT(f != NULL);
	if (!f)
		return;
	fputs(config_text, f);
	fclose(f);
	EXPECT_EQ_INT(test_peer_listen(&e.ferryd), 0);

	pid_t agent = start_agent(&e);
	Ferry__V1__Inventory *inv = first_inventory(&e);
	EXPECT(inv != NULL);
	Ferry__V1__Device *sim = device(inv, "sim-x"), *vfio = device(inv, "vfio-y");
	EXPECT(sim && vfio);
	if (sim) {
		EXPECT_EQ_INT(sim->state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING);
		EXPECT(sim->saving_layout_handshake);
		EXPECT_EQ_INT(sim->migration_flags, 7);
		EXPECT(sim->stop_copy_bytes > 64u * 1024);
	}
	if (vfio) { /* cannot be opened here: configured identity, state UNSPECIFIED */
		EXPECT_EQ_INT(vfio->state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_UNSPECIFIED);
		EXPECT_EQ_STR(vfio->driver, "mlx5_vfio_pci");
		EXPECT_EQ_U64(vfio->stop_copy_bytes, 1u << 20);
	}
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);

	/* The agent started ferry-simdevd, detached: it is not the agent. */
	pid_t simdevd = 0;
	EXPECT_EQ_INT(ferry_simdevd_probe(e.sim_socket, &simdevd), 0);
	EXPECT(simdevd > 0 && simdevd != agent);

	/* Drive the device into `stranded` (as a migration would), then kill the agent hard. */
	struct ferry_device *dev = open_sim(&e);
	EXPECT(dev != NULL);
	if (dev) {
		int fd;
		uint32_t state = 0;
		EXPECT_EQ_INT(dev->ops->complete_saving_layout(dev, 0x1), 0);
		EXPECT_EQ_INT(dev->ops->set_state(dev, stranded, &fd), 0);
		EXPECT_EQ_INT(dev->ops->get_state(dev, &state), 0);
		EXPECT_EQ_INT(state, stranded);
		dev->ops->close(dev);
	}
	EXPECT_EQ_INT(kill(agent, SIGKILL), 0);
	EXPECT(wait_exit(agent) != -1);
	test_peer_close_conn(&e.ferryd);

	/* The device model outlived the agent: still stranded until an agent opens it again. */
	dev = open_sim(&e);
	if (dev) {
		uint32_t state = 0;
		EXPECT_EQ_INT(dev->ops->get_state(dev, &state), 0);
		EXPECT_EQ_INT(state, stranded);
		dev->ops->close(dev);
	}

	/* Restarted: the same ferry-simdevd; no migration owns the device, so it is back in RUNNING. */
	agent = start_agent(&e);
	inv = first_inventory(&e);
	sim = device(inv, "sim-x");
	EXPECT(sim != NULL);
	if (sim)
		EXPECT_EQ_INT(sim->state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING);
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	pid_t again = 0;
	EXPECT_EQ_INT(ferry_simdevd_probe(e.sim_socket, &again), 0);
	EXPECT_EQ_INT(again, simdevd);

	/* The host can migrate the device again: it is RUNNING and takes the stranded state anew. */
	dev = open_sim(&e);
	EXPECT(dev != NULL);
	if (dev) {
		uint32_t state = 0;
		int fd;
		EXPECT_EQ_INT(dev->ops->get_state(dev, &state), 0);
		EXPECT_EQ_INT(state, FERRY_MIG_RUNNING);
		EXPECT_EQ_INT(dev->ops->complete_saving_layout(dev, 0x1), 0);
		EXPECT_EQ_INT(dev->ops->set_state(dev, stranded, &fd), 0);
		EXPECT_EQ_INT(dev->ops->reset(dev), 0); /* leave it as found */
		dev->ops->close(dev);
	}

	kill(agent, SIGTERM);
	int status = wait_exit(agent);
	EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	test_peer_close(&e.ferryd);
	EXPECT(simdevd_stop_by_socket(e.sim_socket, 5000));
	char path[128];
	snprintf(path, sizeof path, "%s.lock", e.vm_socket);
	unlink(path);
	unlink(e.conf);
	EXPECT_EQ_INT(rmdir(e.dir), 0);
}

/* A destination's device left in RESUMING (partial incoming state): reset. */
FERRY_TEST(agent_devices_stranded_in_resuming_are_reset_by_the_next_agent)
{
	strand_and_restart(FERRY_MIG_RESUMING);
}

/* A source's device left in PRE_COPY: back to RUNNING by the kernel's arc. */
FERRY_TEST(agent_devices_stranded_in_pre_copy_return_to_running_in_the_next_agent)
{
	strand_and_restart(FERRY_MIG_PRE_COPY);
}

/* A source's device left in STOP_COPY (the cutover): STOP_COPY -> STOP -> RUNNING. */
FERRY_TEST(agent_devices_stranded_in_stop_copy_return_to_running_in_the_next_agent)
{
	strand_and_restart(FERRY_MIG_STOP_COPY);
}

/* Every state has a way back, and only RUNNING needs none. */
FERRY_TEST(agent_devices_recovery_for_every_state)
{
	EXPECT_EQ_INT(ferry_device_recovery_for(FERRY_MIG_RUNNING), FERRY_RECOVER_NONE);
	EXPECT_EQ_INT(ferry_device_recovery_for(FERRY_MIG_RESUMING), FERRY_RECOVER_RESET);
	EXPECT_EQ_INT(ferry_device_recovery_for(FERRY_MIG_ERROR), FERRY_RECOVER_RESET);
	EXPECT_EQ_INT(ferry_device_recovery_for(FERRY_MIG_NR_STATES), FERRY_RECOVER_RESET);
	EXPECT_EQ_INT(ferry_device_recovery_for(UINT32_MAX), FERRY_RECOVER_RESET);
	const uint32_t saving[] = {FERRY_MIG_STOP, FERRY_MIG_RUNNING_P2P, FERRY_MIG_PRE_COPY, FERRY_MIG_PRE_COPY_P2P,
				   FERRY_MIG_STOP_COPY};
	for (size_t i = 0; i < sizeof saving / sizeof saving[0]; i++) {
		EXPECT_EQ_INT(ferry_device_recovery_for(saving[i]), FERRY_RECOVER_TO_RUNNING);
		/* ...and the kernel has a path from there to RUNNING for a device that offers it. */
		uint32_t path[FERRY_MIG_MAX_PATH];
		size_t n = 0;
		uint32_t all = FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY;
		EXPECT_EQ_INT(ferry_mig_path(saving[i], FERRY_MIG_RUNNING, all, path, FERRY_MIG_MAX_PATH, &n), 0);
		EXPECT(n >= 1 && path[n - 1] == FERRY_MIG_RUNNING);
	}
}

FERRY_TEST(agent_devices_simdevd_paths_next_to_the_vm_socket)
{
	char out[128];
	ferry_simdevd_default_socket("/run/ferry/agent.sock", out, sizeof out);
	EXPECT_EQ_STR(out, "/run/ferry/simdevd.sock");
	ferry_simdevd_default_socket("/tmp/it/host-a.sock", out, sizeof out);
	EXPECT_EQ_STR(out, "/tmp/it/host-a.simdevd.sock");
	ferry_simdevd_default_socket("/tmp/it/vms", out, sizeof out);
	EXPECT_EQ_STR(out, "/tmp/it/vms.simdevd.sock");
	ferry_simdevd_log_path("/run/ferry/simdevd.sock", out, sizeof out);
	EXPECT_EQ_STR(out, "/run/ferry/simdevd.log");
	/* Nothing listens there: the probe says so instead of hanging. */
	EXPECT(ferry_simdevd_probe("/tmp/ferry-no-such-dir/simdevd.sock", NULL) < 0);
}
