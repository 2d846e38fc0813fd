/* The real ferry-agent binary (FERRY_AGENT_BIN, set by `make check`) against a scripted ferryd:
 * Hello, Welcome, the Inventory of examples/host-a.conf, echoed heartbeats, a data channel
 * answered, SIGTERM -> exit 0; and the exit status of usage and config errors. */
#include "clock.h"
#include "ferry.pb-c.h"
#include "test.h"
#include "test_peer.h"
#include "simdevd_helper.h"
#include "simdevd_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *agent_bin(void)
{
	const char *bin = getenv("FERRY_AGENT_BIN");
	if (!bin || access(bin, X_OK) != 0) {
		fprintf(stderr, "  FERRY_AGENT_BIN is not an executable (run through `make check`)\n");
		ferry_test_failures++;
		return NULL;
	}
	return bin;
}

/* Starts the agent with `args` (NULL-terminated, after argv[0]); its stderr goes to `log_fd` if >= 0. */
static pid_t spawn(const char *bin, const char *const *args, int log_fd)
{
	const char *argv[16] = {bin};
	for (int i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	pid_t pid = fork();
	if (pid == 0) {
		if (log_fd >= 0)
			dup2(log_fd, STDERR_FILENO);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* waitpid with a bound: -1 if the child is still running after timeout_ms (it is then killed). */
static int wait_exit(pid_t pid, int timeout_ms)
{
	uint64_t deadline = ferry_monotonic_ms() + (uint64_t)timeout_ms;
	int status;
	while (ferry_monotonic_ms() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int run_to_exit(const char *bin, const char *const *args)
{
	int null = open("/dev/null", O_WRONLY);
	pid_t pid = spawn(bin, args, null);
	close(null);
	return wait_exit(pid, 10000);
}

FERRY_TEST(agent_process_registers_heartbeats_and_exits_0_on_sigterm)
{
	const char *bin = agent_bin();
	const char *repo = getenv("FERRY_REPO");
	if (!bin || !repo) {
		EXPECT(repo != NULL);
		return;
	}
	char conf[1024];
	snprintf(conf, sizeof conf, "%s/agents/examples/host-a.conf", repo);
	struct test_peer ferryd;
	EXPECT_EQ_INT(test_peer_listen(&ferryd), 0);
	char vm_socket[128];
	snprintf(vm_socket, sizeof vm_socket, "/tmp/ferry-test-agent-%d.sock", (int)getpid());
	const char *args[] = {"--coordinator", ferryd.address, "--host-id", "host-a", "--config", conf,
			      "--data-listen", "0.0.0.0:0", "--vm-socket", vm_socket, "--log-level", "warning", NULL};
	pid_t pid = spawn(bin, args, -1);

	EXPECT_EQ_INT(test_peer_accept(&ferryd, 10000), 0);
	Ferry__V1__Hello *h = (Ferry__V1__Hello *)test_peer_expect(&ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, 10000);
	EXPECT(h != NULL);
	if (h) {
		EXPECT_EQ_STR(h->host_id, "host-a");
		EXPECT_EQ_STR(h->agent_version, "0.1.0");
		EXPECT_EQ_INT(strlen(h->boot_id), 32);
		EXPECT_EQ_INT(h->protocol_version, 1);
		EXPECT_EQ_INT(h->min_protocol_version, 1);
		protobuf_c_message_free_unpacked(&h->base, NULL);
	}
	EXPECT_EQ_INT(test_peer_send_welcome(&ferryd, 1, 50, 3), 0);

	char data_address[64] = "";
	Ferry__V1__Inventory *inv =
		(Ferry__V1__Inventory *)test_peer_expect(&ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY, 10000);
	EXPECT(inv != NULL);
	if (inv) {
		EXPECT_EQ_STR(inv->host_id, "host-a");
		EXPECT_EQ_STR(inv->agent_version, "0.1.0");
		EXPECT(inv->cpu_count >= 1);
		EXPECT(inv->memory_bytes >= inv->free_memory_bytes && inv->free_memory_bytes > 0);
		EXPECT(inv->kernel_release[0] != '\0');
		/* Listening on 0.0.0.0: the advertised IP is the one that reaches ferryd. */
		EXPECT(strncmp(inv->data_address, "127.0.0.1:", 10) == 0);
		snprintf(data_address, sizeof data_address, "%s", inv->data_address);
		EXPECT_EQ_INT(inv->n_devices, 3);
		const char *ids[] = {"sim-a0", "sim-a1", "sim-a2"};
		const char *vms[] = {"vm-1", "vm-1", "vm-2"};
		const uint32_t device_ids[] = {0x1041, 0x1041, 0x1042};
		const uint32_t flags[] = {7, 7, 5};
		const uint64_t stop_copy[] = {64u << 20, 16u << 20, 8u << 20};
		for (size_t i = 0; i < inv->n_devices && i < 3; i++) {
			Ferry__V1__Device *d = inv->devices[i];
			EXPECT_EQ_STR(d->id, ids[i]);
			EXPECT_EQ_INT(d->backend, FERRY__V1__DEVICE_BACKEND__DEVICE_BACKEND_SIM);
			EXPECT_EQ_INT(d->vendor_id, 0x1af4);
			EXPECT_EQ_INT(d->device_id, device_ids[i]);
			EXPECT_EQ_STR(d->driver, "ferry-sim");
			EXPECT_EQ_INT(d->migration_flags, flags[i]);
			EXPECT(d->dma_logging);
			EXPECT_EQ_STR(d->migration_version, "ferry-sim/1");
			EXPECT_EQ_STR(d->vm_id, vms[i]);
			/* Opened in ferry-simdevd: its MIG_DATA_SIZE, the configured state plus the
			 * stream's framing, and the state it is in. */
			EXPECT(d->stop_copy_bytes > stop_copy[i] && d->stop_copy_bytes < stop_copy[i] + stop_copy[i] / 64);
			EXPECT_EQ_INT(d->state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING);
		}
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	}

	for (uint64_t seq = 1; seq <= 3; seq++) {
		Ferry__V1__Heartbeat *hb =
			(Ferry__V1__Heartbeat *)test_peer_expect(&ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, 10000);
		EXPECT(hb != NULL);
		if (!hb)
			break;
		EXPECT_EQ_U64(hb->seq, seq);
		EXPECT(hb->free_memory_bytes > 0);
		EXPECT_EQ_INT(test_peer_send(&ferryd, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &hb->base), 0);
		protobuf_c_message_free_unpacked(&hb->base, NULL);
	}

	/* The advertised data address really serves data channels. */
	struct test_peer source;
	EXPECT_EQ_INT(test_peer_connect(&source, data_address, 5000), 0);
	Ferry__V1__StreamHello sh = FERRY__V1__STREAM_HELLO__INIT;
	sh.protocol_version = FERRY_STREAM_PROTOCOL_VERSION;
	sh.migration_id = "m-1";
	EXPECT_EQ_INT(test_peer_send(&source, FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, &sh.base), 0);
	Ferry__V1__Error *e = (Ferry__V1__Error *)test_peer_expect(&source, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, 5000);
	EXPECT(e && e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MIGRATION);
	if (e)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	test_peer_close(&source);

	EXPECT_EQ_INT(kill(pid, SIGTERM), 0);
	EXPECT_EQ_INT(wait_exit(pid, 10000), 0);
	EXPECT_EQ_INT(test_peer_expect_closed(&ferryd, 5000), 0);
	test_peer_close(&ferryd);
	/* The agent removes its socket on exit; the lock file stays by design (vm_listener.h). */
	EXPECT_EQ_INT(access(vm_socket, F_OK), -1);
	char lock[160];
	snprintf(lock, sizeof lock, "%s.lock", vm_socket);
	unlink(lock);
	/* The sim devices outlive the agent, like kernel devices; removing their socket ends them. */
	char sim_socket[160];
	ferry_simdevd_default_socket(vm_socket, sim_socket, sizeof sim_socket);
	pid_t simdevd = 0;
	EXPECT_EQ_INT(ferry_simdevd_probe(sim_socket, &simdevd), 0);
	EXPECT(simdevd > 0 && simdevd != pid);
	EXPECT(simdevd_stop_by_socket(sim_socket, 5000));
}

FERRY_TEST(agent_process_usage_and_config_errors_exit_2)
{
	const char *bin = agent_bin();
	if (!bin)
		return;
	const char *no_args[] = {NULL};
	EXPECT_EQ_INT(run_to_exit(bin, no_args), 2);
	const char *unknown[] = {"--coordinator", "127.0.0.1:7100", "--host-id", "h", "--frobnicate", NULL};
	EXPECT_EQ_INT(run_to_exit(bin, unknown), 2);
	const char *missing_value[] = {"--host-id", "h", "--coordinator", NULL};
	EXPECT_EQ_INT(run_to_exit(bin, missing_value), 2);
	const char *bad_coordinator[] = {"--coordinator", "nocolon", "--host-id", "h", NULL};
	EXPECT_EQ_INT(run_to_exit(bin, bad_coordinator), 2);
	const char *bad_level[] = {"--coordinator", "127.0.0.1:7100", "--host-id", "h", "--log-level", "loud", NULL};
	EXPECT_EQ_INT(run_to_exit(bin, bad_level), 2);
	const char *no_config[] = {"--coordinator", "127.0.0.1:7100", "--host-id", "h", "--config", "/nonexistent/x.conf",
				   NULL};
	EXPECT_EQ_INT(run_to_exit(bin, no_config), 2);
	const char *version[] = {"--version", NULL};
	EXPECT_EQ_INT(run_to_exit(bin, version), 0);
}
