/*
 * The `sim` device backend: the agent's side of a simulated device held by ferry-simdevd
 * (sim_server.h), reached over its unix socket (protocol: sim_protocol.h).
 *
 * Address (ferry_device_open_args.address): "socket=PATH,device=NAME".
 *
 * The device lives in ferry-simdevd, so closing this backend (or the agent crashing) changes
 * nothing on the device: a re-opened backend's probe reads the state back and re-adopts a live
 * data session. Sim sessions have no kernel fd; set_state hands out an eventfd that is always
 * readable as the session's poll handle (a sim read never blocks: data, -ENOMSG, or 0).
 */
#ifndef FERRY_SIM_BACKEND_H
#define FERRY_SIM_BACKEND_H

#include "device_ops.h"
#include "sim_model.h"

extern const struct ferry_device_ops ferry_sim_ops;

struct ferry_sim_address {
	char socket_path[108];
	char device[64];
};

/* Parses "socket=PATH,device=NAME". 0 or -EINVAL. */
int ferry_sim_parse_address(const char *s, struct ferry_sim_address *out);

/* Sim-only operations (not in device_ops): hand the VM's guest memory (a memfd, mapped MAP_SHARED
 * by the device) to the device for its DMA writes (memfd < 0 detaches), and inject faults. */
int ferry_sim_attach_memory(struct ferry_device *dev, int memfd, uint64_t size);
int ferry_sim_set_faults(struct ferry_device *dev, const struct ferry_sim_faults *faults);
/* The checksum of the device's internal state (not a kernel operation: tests compare twins). */
int ferry_sim_state_crc(struct ferry_device *dev, uint32_t *crc);

#endif
