/* The real ferry-agent (FERRY_AGENT_BIN) with sim devices: it starts ferry-simdevd detached, opens
 * the devices and reports what they say; killed with SIGKILL while a device is in PRE_COPY, a
 * restarted agent finds the same ferry-simdevd and reports the device in PRE_COPY; a device that
 * cannot be opened is reported UNSPECIFIED while the agent keeps running. */
#include "clock.h"
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

FERRY_TEST(agent_devices_survive_agent_sigkill_in_pre_copy)
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

	/* Drive the device into PRE_COPY (as a migration would), then kill the agent hard. */
	char addr[160], err[256] = "";
	snprintf(addr, sizeof addr, "socket=%s,device=sim-x", e.sim_socket);
	struct ferry_device_open_args args = {.address = addr, .error = err, .error_cap = sizeof err};
	struct ferry_device *dev = NULL;
	EXPECT_EQ_INT(ferry_sim_ops.open(&args, &dev), 0);
	if (dev) {
		int fd;
		EXPECT_EQ_INT(dev->ops->complete_saving_layout(dev, 0x1), 0);
		EXPECT_EQ_INT(dev->ops->set_state(dev, 6 /* PRE_COPY */, &fd), 0);
		dev->ops->close(dev);
	}
	EXPECT_EQ_INT(kill(agent, SIGKILL), 0);
	EXPECT(wait_exit(agent) != -1);
	test_peer_close_conn(&e.ferryd);

	/* Restarted: the same ferry-simdevd, the device read back in PRE_COPY. */
	agent = start_agent(&e);
	inv = first_inventory(&e);
	sim = device(inv, "sim-x");
	EXPECT(sim != NULL);
	if (sim)
		EXPECT_EQ_INT(sim->state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_PRE_COPY);
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	pid_t again = 0;
	EXPECT_EQ_INT(ferry_simdevd_probe(e.sim_socket, &again), 0);
	EXPECT_EQ_INT(again, simdevd);

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
