/*
 * The agent's config file (see agents/examples/ferry-agent.conf for a documented example):
 *
 *   # comment (whole line, or after whitespace)
 *   host_id = host-a              top-level keys: host_id, coordinator, data_listen, log_level,
 *                                 vm_socket (absolute path of the VM registration socket),
 *                                 sim_socket (absolute path of ferry-simdevd's socket),
 *                                 simdevd (absolute path of the ferry-simdevd binary)
 *   [device sim-a0]               one section per device; the name is its id on the wire
 *   backend = sim                 device keys: backend, vendor_id, device_id, driver, migration,
 *   ...                           dma_logging, saving_layout_handshake, migration_version, vm,
 *                                 stop_copy_bytes; vfio only: address; sim only:
 *                                 state_change_rate, dma_write_rate, seed, dma_pattern
 *                                 (random | selfcheck), dma_offset, dma_length (4 KiB multiples)
 *
 * Top-level keys come before the first section. Every error names FILE:LINE, the key and the reason.
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stddef.h>

#include "device.h"

#define FERRY_MAX_DEVICES 64

/* Empty string = not set in the file; command-line flags win (main.c merges). Devices come in file
 * order with state 0 (UNSPECIFIED: not opened by a backend yet). */
struct ferry_agent_config {
	char host_id[128];
	char coordinator[256]; /* HOST:PORT of ferryd's agent listener */
	char data_listen[256]; /* HOST:PORT for data channels; port 0 = kernel picks */
	char log_level[16];    /* trace|debug|info|warning|error */
	char vm_socket[108];   /* unix socket where workloads register (sizeof sun_path) */
	char sim_socket[108];  /* ferry-simdevd's socket; "" = derived from vm_socket (simdevd_launch.h) */
	char simdevd[256];     /* ferry-simdevd binary; "" = next to the agent's executable */
	size_t n_devices;
	struct ferry_device_info devices[FERRY_MAX_DEVICES];
};

/* Reads and parses the file at path. Returns 0, or -1 with err = "FILE:LINE: KEY: REASON" (or
 * "FILE: REASON" when the file cannot be read). *out is unspecified after an error. */
int ferry_config_load(const char *path, struct ferry_agent_config *out, char *err, size_t errlen);

/* The same on text already in memory; name_for_errors stands for FILE in messages. */
int ferry_config_parse(const char *text, const char *name_for_errors, struct ferry_agent_config *out,
		       char *err, size_t errlen);

#endif
