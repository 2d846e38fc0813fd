/*
 * ferry-simdevd: the per-host process that holds the simulated VFIO devices, as the kernel holds
 * real ones, so that they keep their state when the agent dies. It creates one sim device per
 * `backend = sim` section of the agent's config file and serves them on a unix socket
 * (protocol: src/sim_protocol.h); the agent's `sim` backend connects with
 * "socket=PATH,device=NAME". The agent starts it, detached, when none answers (simdevd_launch.h).
 *
 *   ferry-simdevd --config FILE --socket PATH [--change-rate BYTES_PER_SEC] [--dma-rate BYTES_PER_SEC]
 *                 [--log-level LEVEL]
 *
 * Each device's model comes from its config section: identity, capabilities, handshake, state
 * size (stop_copy_bytes), and the sim keys state_change_rate, dma_write_rate and seed; the
 * --change-rate / --dma-rate flags are the defaults for devices that do not set their rates.
 *
 * SIGTERM/SIGINT: remove the socket and exit 0. If the socket file is removed or replaced, the
 * devices are unreachable: exit 0 too (so a detached instance does not outlive its directory).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "sim_server.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int parse_rate(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || s[0] == '-' || s[0] == '\0')
		return -1;
	*out = v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: ferry-simdevd --config FILE --socket PATH [--change-rate BYTES_PER_SEC] "
			"[--dma-rate BYTES_PER_SEC] [--log-level LEVEL]\n");
}

int main(int argc, char **argv)
{
	const char *config = NULL, *socket_path = NULL;
	struct ferry_sim_rates rates = {FERRY_SIM_DEFAULT_CHANGE_RATE, FERRY_SIM_DEFAULT_DMA_RATE};
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage();
			return 2;
		}
		if (strcmp(argv[i], "--config") == 0) {
			config = v;
		} else if (strcmp(argv[i], "--socket") == 0) {
			socket_path = v;
		} else if (strcmp(argv[i], "--change-rate") == 0 && parse_rate(v, &rates.change_bytes_per_sec) == 0) {
		} else if (strcmp(argv[i], "--dma-rate") == 0 && parse_rate(v, &rates.dma_bytes_per_sec) == 0) {
		} else if (strcmp(argv[i], "--log-level") == 0) {
			enum ferry_log_level level;
			if (ferry_log_level_parse(v, &level) < 0) {
				fprintf(stderr, "ferry-simdevd: unknown log level '%s'\n", v);
				return 2;
			}
			ferry_log_set_level(level);
		} else {
			usage();
			return 2;
		}
		i++;
	}
	if (!config || !socket_path) {
		usage();
		return 2;
	}
	static struct ferry_agent_config cfg;
	static struct ferry_sim_server server;
	char err[512];
	if (ferry_config_load(config, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "ferry-simdevd: %s\n", err);
		return 1;
	}
	if (ferry_sim_server_init(&server, &cfg, &rates, socket_path, err, sizeof err) < 0) {
		fprintf(stderr, "ferry-simdevd: %s\n", err);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	ferry_log(FERRY_LOG_INFO, "msg=\"sim devices up\" socket=%s devices=%zu", socket_path, server.n_devices);
	int rc = ferry_sim_server_run(&server, &stop_requested);
	ferry_sim_server_close(&server);
	if (rc < 0) {
		fprintf(stderr, "ferry-simdevd: poll: %s\n", strerror(-rc));
		return 1;
	}
	if (rc == FERRY_SIM_SERVER_ORPHANED)
		ferry_log(FERRY_LOG_INFO, "msg=\"socket file removed or replaced: nobody can reach the devices\" socket=%s",
			  socket_path);
	ferry_log(FERRY_LOG_INFO, "msg=\"sim devices stopped\"");
	return 0;
}
