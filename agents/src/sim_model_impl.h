/* Internal to the sim model: the object shared by sim_model.c (state machine, sessions) and
 * sim_model_run.c (what the device does while it runs: state changes, DMA). Not for callers. */
#ifndef FERRY_SIM_MODEL_IMPL_H
#define FERRY_SIM_MODEL_IMPL_H

#include "sim_dma_log.h"
#include "sim_model.h"
#include "sim_stream.h"

struct ferry_sim_model {
	struct ferry_sim_config cfg;
	struct ferry_sim_identity id;
	uint32_t state;
	uint8_t *bytes; /* the device's internal state */
	struct ferry_sim_block_crc crcs; /* bytes' per-block CRCs, kept live as bytes change */
	uint8_t *retired; /* the state a committed resume replaced, until the host frees it */
	char error[160];

	/* data sessions: at most one is live; ids are never reused, so a dead one is recognised */
	uint64_t next_session;
	uint64_t session;   /* 0 = none */
	bool saving;        /* the live session is a saver (else a resumer) */
	bool stream_broken; /* error_in_stop_copy fired */
	struct ferry_sim_saver saver;
	struct ferry_sim_resumer resumer;

	bool layout_done;

	uint32_t arcs[FERRY_MIG_MAX_PATH][2];
	size_t n_arcs;

	/* running */
	uint64_t rng;
	unsigned __int128 change_acc, dma_acc; /* rate x ns not yet turned into bytes */
	uint8_t *mem;
	uint64_t mem_len;
	struct ferry_sim_dma_log log;
};

__attribute__((format(printf, 3, 4))) int ferry__sim_fail(struct ferry_sim_model *m, int rc, const char *fmt, ...);
uint64_t ferry__sim_rand(struct ferry_sim_model *m);
/* Ends the live session, if any (its id then answers -ENODEV). */
void ferry__sim_end_session(struct ferry_sim_model *m);

static inline bool ferry__sim_running(uint32_t state)
{
	return state == FERRY_MIG_RUNNING || state == FERRY_MIG_RUNNING_P2P || state == FERRY_MIG_PRE_COPY ||
	       state == FERRY_MIG_PRE_COPY_P2P;
}

#endif
