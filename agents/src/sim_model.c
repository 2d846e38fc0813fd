/* The sim device model: lifecycle, the kernel's state walk, arcs, sessions, the saving-layout
 * handshake, reset. What the device does while running is in sim_model_run.c. See sim_model.h. */
#include "sim_model_impl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "errbuf.h"

int ferry__sim_fail(struct ferry_sim_model *m, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->error, sizeof m->error, fmt, ap);
	va_end(ap);
	return rc;
}

int ferry_sim_model_create(const struct ferry_sim_config *cfg, struct ferry_sim_model **out, char *err,
			   size_t errlen)
{
	*out = NULL;
	if (!(cfg->mig_flags & FERRY_MIG_FLAG_STOP_COPY) || (cfg->mig_flags & ~FERRY_MIG_FLAGS_KNOWN)) {
		ferry_errbuf_set(err, errlen, "migration flags 0x%x: STOP_COPY is required, only P2P and PRE_COPY may "
				 "be added", cfg->mig_flags);
		return -EINVAL;
	}
	if (cfg->state_bytes == 0 || cfg->state_bytes > FERRY_SIM_MAX_STATE_BYTES) {
		ferry_errbuf_set(err, errlen, "state size %llu bytes is outside 1..%llu", (unsigned long long)cfg->state_bytes,
				 (unsigned long long)FERRY_SIM_MAX_STATE_BYTES);
		return -EINVAL;
	}
	if (cfg->dma_pattern != FERRY_SIM_DMA_RANDOM && cfg->dma_pattern != FERRY_SIM_DMA_SELFCHECK) {
		ferry_errbuf_set(err, errlen, "DMA pattern %d is neither random nor selfcheck", (int)cfg->dma_pattern);
		return -EINVAL;
	}
	if (cfg->dma_offset % 4096 || cfg->dma_length % 4096 || cfg->dma_offset + cfg->dma_length < cfg->dma_offset) {
		ferry_errbuf_set(err, errlen, "DMA window of %llu bytes at %llu is not made of whole 4 KiB pages",
				 (unsigned long long)cfg->dma_length, (unsigned long long)cfg->dma_offset);
		return -EINVAL;
	}
	if (!memchr(cfg->migration_version, '\0', sizeof cfg->migration_version)) {
		ferry_errbuf_set(err, errlen, "migration_version is not terminated");
		return -EINVAL;
	}
	struct ferry_sim_model *m = calloc(1, sizeof *m);
	if (!m || !(m->bytes = malloc((size_t)cfg->state_bytes)) ||
	    ferry_sim_block_crc_init(&m->crcs, cfg->state_bytes) < 0) {
		if (m) {
			free(m->bytes);
			ferry_sim_block_crc_free(&m->crcs);
		}
		free(m);
		ferry_errbuf_set(err, errlen, "out of memory for a %llu-byte device state",
				 (unsigned long long)cfg->state_bytes);
		return -ENOMEM;
	}
	m->cfg = *cfg;
	m->id.vendor_id = cfg->vendor_id;
	m->id.device_id = cfg->device_id;
	memcpy(m->id.migration_version, cfg->migration_version, sizeof m->id.migration_version);
	m->id.state_bytes = cfg->state_bytes;
	m->state = FERRY_MIG_RUNNING;
	m->next_session = 1;
	m->rng = cfg->seed;
	/* A device powers up with some state of its own: distinct per seed, so a round trip that
	 * merely kept the destination's bytes cannot pass for a migration. */
	for (uint64_t i = 0; i < cfg->state_bytes; i += 8) {
		uint64_t v = ferry__sim_rand(m);
		uint64_t n = cfg->state_bytes - i < 8 ? cfg->state_bytes - i : 8;
		memcpy(m->bytes + i, &v, (size_t)n);
	}
	ferry_sim_block_crc_compute_all(&m->crcs, m->bytes);
	*out = m;
	return 0;
}

void ferry_sim_model_destroy(struct ferry_sim_model *m)
{
	if (!m)
		return;
	ferry__sim_end_session(m);
	ferry_sim_dma_log_stop(&m->log);
	free(m->bytes);
	free(m->retired);
	ferry_sim_block_crc_free(&m->crcs);
	free(m);
}

const struct ferry_sim_config *ferry_sim_model_config(const struct ferry_sim_model *m)
{
	return &m->cfg;
}

const char *ferry_sim_model_error(const struct ferry_sim_model *m)
{
	return m->error;
}

void ferry_sim_model_set_faults(struct ferry_sim_model *m, const struct ferry_sim_faults *faults)
{
	m->cfg.faults = *faults;
}

uint32_t ferry_sim_model_state(const struct ferry_sim_model *m)
{
	return m->state;
}

uint64_t ferry_sim_model_session(const struct ferry_sim_model *m)
{
	return m->session;
}

void ferry__sim_end_session(struct ferry_sim_model *m)
{
	if (!m->session)
		return;
	if (m->saving)
		ferry_sim_saver_free(&m->saver);
	else
		ferry_sim_resumer_free(&m->resumer);
	m->session = 0;
}

static void enter_error(struct ferry_sim_model *m)
{
	ferry__sim_end_session(m);
	m->state = FERRY_MIG_ERROR;
}

static int open_session(struct ferry_sim_model *m, bool saving)
{
	int rc = saving ? ferry_sim_saver_init(&m->saver, &m->id) : ferry_sim_resumer_init(&m->resumer, &m->id);
	if (rc < 0)
		return rc;
	m->saving = saving;
	m->session = m->next_session++;
	return 0;
}

/* One arc, as a driver's step function (mtty_step_state) sees it: the arcs are grouped by what
 * they do; any other arc is a bug in the walk and refused, as mtty WARNs and returns -EINVAL. */
static int run_arc(struct ferry_sim_model *m, uint32_t from, uint32_t to, uint64_t *opened)
{
	const char *f = ferry_mig_state_name(from), *t = ferry_mig_state_name(to);
	const struct ferry_sim_faults *fault = &m->cfg.faults;
	if (fault->fail_arc && fault->fail_arc_from == from && fault->fail_arc_to == to) {
		if (fault->fail_arc_mode == FERRY_SIM_FAIL_TO_ERROR)
			enter_error(m);
		return ferry__sim_fail(m, -EIO, "injected failure of arc %s -> %s; device in %s", f, t,
				       ferry_mig_state_name(m->state));
	}
	if (from == FERRY_MIG_STOP_COPY && fault->error_in_stop_copy) {
		enter_error(m);
		return ferry__sim_fail(m, -EIO, "device failed during STOP_COPY (injected); arc %s -> %s left it in ERROR",
				       f, t);
	}
	int rc;
	switch (from << 4 | to) {
	/* No-ops: a simulated device has no in-flight P2P DMA to quiesce, and moving inside the saving
	 * group keeps the session (which streams more once the state is frozen). */
	case FERRY_MIG_RUNNING << 4 | FERRY_MIG_STOP:
	case FERRY_MIG_STOP << 4 | FERRY_MIG_RUNNING:
	case FERRY_MIG_RUNNING << 4 | FERRY_MIG_RUNNING_P2P:
	case FERRY_MIG_RUNNING_P2P << 4 | FERRY_MIG_RUNNING:
	case FERRY_MIG_RUNNING_P2P << 4 | FERRY_MIG_STOP:
	case FERRY_MIG_STOP << 4 | FERRY_MIG_RUNNING_P2P:
	case FERRY_MIG_PRE_COPY << 4 | FERRY_MIG_PRE_COPY_P2P:
	case FERRY_MIG_PRE_COPY_P2P << 4 | FERRY_MIG_PRE_COPY:
	case FERRY_MIG_PRE_COPY << 4 | FERRY_MIG_STOP_COPY:
	case FERRY_MIG_PRE_COPY_P2P << 4 | FERRY_MIG_STOP_COPY:
		break;
	/* Open a saving session: these return a new data_fd. */
	case FERRY_MIG_RUNNING << 4 | FERRY_MIG_PRE_COPY:
	case FERRY_MIG_RUNNING_P2P << 4 | FERRY_MIG_PRE_COPY_P2P:
	case FERRY_MIG_STOP << 4 | FERRY_MIG_STOP_COPY:
		if ((rc = open_session(m, true)) < 0)
			return ferry__sim_fail(m, rc, "arc %s -> %s: out of memory for the saving session", f, t);
		*opened = m->session;
		break;
	/* Leave the saving group: the session ends (its fd goes dead). */
	case FERRY_MIG_PRE_COPY << 4 | FERRY_MIG_RUNNING:
	case FERRY_MIG_PRE_COPY_P2P << 4 | FERRY_MIG_RUNNING_P2P:
	case FERRY_MIG_STOP_COPY << 4 | FERRY_MIG_STOP:
		ferry__sim_end_session(m);
		break;
	case FERRY_MIG_STOP << 4 | FERRY_MIG_RESUMING:
		if ((rc = open_session(m, false)) < 0)
			return ferry__sim_fail(m, rc, "arc %s -> %s: out of memory for the resuming session", f, t);
		*opened = m->session;
		break;
	/* The commit point: only a complete, verified stream replaces the live state. It is swapped
	 * in, not copied (a 64 MiB copy was 10-13 ms of the downtime); the replaced state is retired
	 * for the host to free later, outside the downtime (ferry_sim_model_free_retired). */
	case FERRY_MIG_RESUMING << 4 | FERRY_MIG_STOP: {
		if ((rc = ferry_sim_resumer_finish(&m->resumer)) < 0)
			return ferry__sim_fail(m, rc, "RESUMING -> STOP refused: %s", m->resumer.error);
		free(m->retired); /* an older one the host has not freed yet */
		m->retired = m->bytes;
		m->bytes = m->resumer.staging;
		m->resumer.staging = NULL;
		ferry_sim_block_crc_swap(&m->crcs, &m->resumer.crcs);
		ferry__sim_end_session(m);
		break;
	}
	default:
		return ferry__sim_fail(m, -EINVAL, "unexpected arc %s -> %s", f, t);
	}
	m->state = to;
	return 0;
}

int ferry_sim_model_set_state(struct ferry_sim_model *m, uint32_t target, uint64_t *opened)
{
	uint32_t path[FERRY_MIG_MAX_PATH];
	size_t n;
	uint32_t from = m->state, flags = m->cfg.mig_flags;
	*opened = 0;
	m->n_arcs = 0;
	m->error[0] = '\0';
	if (ferry_mig_path(from, target, flags, path, FERRY_MIG_MAX_PATH, &n) < 0)
		return ferry__sim_fail(m, -EINVAL, "%s -> %s: not a transition the kernel accepts with flags 0x%x",
				       ferry_mig_state_name(from), ferry_mig_state_name(target), flags);
	if (m->cfg.saving_layout_regions && !m->layout_done) {
		for (size_t i = 0; i < n; i++)
			if (ferry_mig_arc_session(i ? path[i - 1] : from, path[i]) == FERRY_MIG_SESSION_OPEN_SAVING)
				return ferry__sim_fail(m, -EBUSY, "%s -> %s enters a saving state before the saving layout of "
						       "regions 0x%llx was completed", ferry_mig_state_name(from),
						       ferry_mig_state_name(target),
						       (unsigned long long)m->cfg.saving_layout_regions);
	}
	/* The driver loop (mtty_set_state): ask the core for the next step, run that one arc. */
	while (m->state != target) {
		uint32_t cur = m->state, next;
		if (ferry_mig_next_step(cur, target, flags, &next) < 0)
			return ferry__sim_fail(m, -EINVAL, "no next step %s -> %s", ferry_mig_state_name(cur),
					       ferry_mig_state_name(target));
		m->arcs[m->n_arcs][0] = cur;
		m->arcs[m->n_arcs][1] = next;
		m->n_arcs++;
		int rc = run_arc(m, cur, next, opened);
		if (rc < 0) {
			*opened = 0;
			return rc;
		}
	}
	if (m->state == FERRY_MIG_RUNNING)
		m->layout_done = false;
	return 0;
}

size_t ferry_sim_model_last_arcs(const struct ferry_sim_model *m, uint32_t (*out)[2], size_t cap)
{
	size_t n = m->n_arcs < cap ? m->n_arcs : cap;
	memcpy(out, m->arcs, n * sizeof m->arcs[0]);
	return n;
}

int ferry_sim_model_complete_saving_layout(struct ferry_sim_model *m, uint64_t regions)
{
	uint64_t want = m->cfg.saving_layout_regions;
	if (want == 0)
		return regions == 0 ? 0
				    : ferry__sim_fail(m, -EOPNOTSUPP, "device announces no saving layout (regions 0x%llx)",
						      (unsigned long long)regions);
	if (regions != want)
		return ferry__sim_fail(m, -EINVAL, "saving layout completed for regions 0x%llx, the device needs 0x%llx",
				       (unsigned long long)regions, (unsigned long long)want);
	m->layout_done = true;
	return 0;
}

bool ferry_sim_model_saving_layout_done(const struct ferry_sim_model *m)
{
	return m->cfg.saving_layout_regions == 0 || m->layout_done;
}

/* The live session `id` or the reason it is not: dead ones are -ENODEV as in mtty/mlx5. */
static int check_session(struct ferry_sim_model *m, uint64_t id)
{
	if (id != 0 && id == m->session)
		return 0;
	if (id != 0 && id < m->next_session)
		return ferry__sim_fail(m, -ENODEV, "data session %llu has ended", (unsigned long long)id);
	return ferry__sim_fail(m, -EBADF, "no data session %llu", (unsigned long long)id);
}

ssize_t ferry_sim_model_read(struct ferry_sim_model *m, uint64_t session, void *buf, size_t len)
{
	int rc = check_session(m, session);
	if (rc < 0)
		return rc;
	if (!m->saving) /* the resuming fd is write-only */
		return ferry__sim_fail(m, -EBADF, "read on the resuming session");
	bool final = m->state == FERRY_MIG_STOP_COPY;
	if (final && m->cfg.faults.error_in_stop_copy)
		return ferry__sim_fail(m, -EIO, "STOP_COPY stream broke (injected)");
	size_t n = ferry_sim_saver_read(&m->saver, m->bytes, &m->crcs, final, buf, len);
	if (n > 0)
		return (ssize_t)n;
	return final ? 0 : -ENOMSG;
}

ssize_t ferry_sim_model_write(struct ferry_sim_model *m, uint64_t session, const void *buf, size_t len)
{
	int rc = check_session(m, session);
	if (rc < 0)
		return rc;
	if (m->saving)
		return ferry__sim_fail(m, -EBADF, "write on the saving session");
	if (m->cfg.faults.refuse_resuming_data)
		return ferry__sim_fail(m, -EIO, "resuming data refused (injected)");
	rc = ferry_sim_resumer_feed(&m->resumer, buf, len);
	if (rc < 0)
		return ferry__sim_fail(m, rc, "resuming stream rejected: %s", m->resumer.error);
	return (ssize_t)len;
}

int ferry_sim_model_precopy_info(struct ferry_sim_model *m, uint64_t session, struct ferry_precopy_info *info)
{
	int rc = check_session(m, session);
	if (rc < 0)
		return rc;
	if (m->state != FERRY_MIG_PRE_COPY && m->state != FERRY_MIG_PRE_COPY_P2P)
		return ferry__sim_fail(m, -EINVAL, "precopy info in %s", ferry_mig_state_name(m->state));
	info->initial_bytes = ferry_sim_saver_initial_bytes(&m->saver);
	info->dirty_bytes = ferry_sim_saver_dirty_bytes(&m->saver);
	return 0;
}

uint64_t ferry_sim_model_stop_copy_size(const struct ferry_sim_model *m)
{
	if (m->session && m->saving)
		return ferry_sim_saver_remaining_bytes(&m->saver);
	return ferry_sim_stream_full_bytes(m->cfg.state_bytes);
}

int ferry_sim_model_dma_log_start(struct ferry_sim_model *m, const struct ferry_dma_range *ranges, uint32_t n,
				  uint64_t *page_size)
{
	if (!m->cfg.dma_logging)
		return ferry__sim_fail(m, -ENOTTY, "device has no DMA logging");
	return ferry_sim_dma_log_start(&m->log, ranges, n, page_size, m->error, sizeof m->error);
}

int ferry_sim_model_dma_log_report(struct ferry_sim_model *m, uint64_t iova, uint64_t length, uint64_t page_size,
				   uint64_t *bitmap, size_t words)
{
	if (!m->cfg.dma_logging)
		return ferry__sim_fail(m, -ENOTTY, "device has no DMA logging");
	return ferry_sim_dma_log_report(&m->log, iova, length, page_size, bitmap, words, m->error, sizeof m->error);
}

int ferry_sim_model_dma_log_stop(struct ferry_sim_model *m)
{
	if (!m->cfg.dma_logging)
		return ferry__sim_fail(m, -ENOTTY, "device has no DMA logging");
	ferry_sim_dma_log_stop(&m->log);
	return 0;
}

void ferry_sim_model_reset(struct ferry_sim_model *m)
{
	ferry__sim_end_session(m);
	m->state = FERRY_MIG_RUNNING;
	m->layout_done = false;
}

bool ferry_sim_model_has_retired(const struct ferry_sim_model *m)
{
	return m->retired != NULL;
}

void ferry_sim_model_free_retired(struct ferry_sim_model *m)
{
	free(m->retired);
	m->retired = NULL;
}

const uint32_t *ferry_sim_model_block_crcs(const struct ferry_sim_model *m)
{
	return m->crcs.crc;
}

const uint8_t *ferry_sim_model_state_bytes(const struct ferry_sim_model *m)
{
	return m->bytes;
}

uint32_t ferry_sim_model_state_crc(const struct ferry_sim_model *m)
{
	return ferry_crc32c(0, m->bytes, (size_t)m->cfg.state_bytes);
}
