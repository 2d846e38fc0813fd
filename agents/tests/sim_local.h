/*
 * Tests only: a sim device model (sim_model.h) behind device_ops in this process, without
 * ferry-simdevd, so that orchestration tests (device_prepare, device_group) run the real device
 * semantics with injected faults and no sockets.
 */
#ifndef FERRY_TEST_SIM_LOCAL_H
#define FERRY_TEST_SIM_LOCAL_H

#include "device_ops.h"
#include "sim_model.h"

/* A device in RUNNING with these flags, handshake regions (0 = none) and seed. NULL on failure. */
struct ferry_device *sim_local_create(uint32_t mig_flags, uint64_t saving_layout_regions, uint64_t seed);
/* The same with DMA dirty logging, DMA-writing at that rate into memory attached to its model. */
struct ferry_device *sim_local_create_dma(uint32_t mig_flags, uint64_t seed, uint64_t dma_bytes_per_sec);
struct ferry_sim_model *sim_local_model(struct ferry_device *dev);

/* complete_saving_layout answers -EAGAIN this many times before reaching the model (a device still
 * re-evaluating its layout); UINT32_MAX = forever. */
void sim_local_layout_busy(struct ferry_device *dev, uint32_t times);
/* Calls of complete_saving_layout and set_state seen, for tests. */
unsigned sim_local_layout_calls(struct ferry_device *dev);
unsigned sim_local_set_state_calls(struct ferry_device *dev);

#endif
