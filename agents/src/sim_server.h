/*
 * ferry-simdevd's core: the sim devices of one host (the `backend = sim` sections of the agent's
 * config file), each a sim_model, served over one unix socket (protocol: sim_protocol.h). It plays
 * the kernel's part: devices and their migration state live here, not in the agent, so an agent
 * crash leaves them as they were and a restarted agent re-opens them and reads the state back.
 * Time passes for the models between requests (sim_model_advance with the monotonic clock).
 */
#ifndef FERRY_SIM_SERVER_H
#define FERRY_SIM_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "sim_model.h"

#define FERRY_SIM_MAX_CLIENTS 64

/* Defaults for what the agent config cannot say (its parser knows no sim-only keys yet). */
#define FERRY_SIM_DEFAULT_STATE_BYTES (UINT64_C(1) << 20)
#define FERRY_SIM_DEFAULT_CHANGE_RATE (UINT64_C(256) << 10) /* bytes per second */
#define FERRY_SIM_DEFAULT_DMA_RATE (UINT64_C(1) << 20)
/* The region a `saving_layout_handshake = true` device names: BAR0. */
#define FERRY_SIM_LAYOUT_REGIONS UINT64_C(0x1)

struct ferry_sim_server_device {
	char name[64];
	char driver[64];
	struct ferry_sim_model *model;
	void *mem; /* attached guest memory mapping */
	uint64_t mem_len;
};

struct ferry_sim_server_client {
	int fd;   /* -1 = free slot */
	int dev;  /* opened device index, -1 until OPEN */
};

struct ferry_sim_server {
	int listen_fd;
	char socket_path[108];
	size_t n_devices;
	struct ferry_sim_server_device devices[FERRY_MAX_DEVICES];
	struct ferry_sim_server_client clients[FERRY_SIM_MAX_CLIENTS];
	uint64_t last_ns;
	uint64_t last_request_ns; /* when a client last asked anything: retired states wait for quiet */
	uint8_t *buf; /* one request/response payload */
	dev_t socket_dev; /* identity of the socket file we bound, to notice it being removed */
	ino_t socket_ino;
	uint64_t last_socket_check_ns;
};

struct ferry_sim_rates {
	uint64_t change_bytes_per_sec;
	uint64_t dma_bytes_per_sec;
};

/* The model config for one agent-config device: identity, flags and handshake from the file,
 * state size = stop_copy_bytes (default FERRY_SIM_DEFAULT_STATE_BYTES), seed from the name. */
int ferry_sim_config_from_device(const struct ferry_device_info *d, const struct ferry_sim_rates *rates,
				 struct ferry_sim_config *out, char *err, size_t errlen);

/* Creates the sim devices of cfg and listens on socket_path (replacing a stale socket file).
 * 0 or a negative errno with the reason in err. */
int ferry_sim_server_init(struct ferry_sim_server *s, const struct ferry_agent_config *cfg,
			  const struct ferry_sim_rates *rates, const char *socket_path, char *err, size_t errlen);
/* Serves until *stop becomes non-zero (returns 0), or until the socket file is removed or
 * replaced (returns FERRY_SIM_SERVER_ORPHANED): nobody can reach the devices any more, so a
 * detached ferry-simdevd whose directory was cleaned up does not live on forever. -errno if poll
 * fails. */
#define FERRY_SIM_SERVER_ORPHANED 1
int ferry_sim_server_run(struct ferry_sim_server *s, volatile sig_atomic_t *stop);
void ferry_sim_server_close(struct ferry_sim_server *s);

#endif
