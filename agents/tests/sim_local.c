/* In-process sim device behind device_ops; see sim_local.h. */
#include "sim_local.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_local {
	struct ferry_device base;
	struct ferry_sim_model *model;
	uint64_t session;
	uint32_t layout_busy;
	unsigned layout_calls, set_state_calls;
};

static struct sim_local *L(struct ferry_device *d)
{
	return (struct sim_local *)d;
}

static int result(struct sim_local *s, int rc)
{
	snprintf(s->base.error, sizeof s->base.error, "%s", rc < 0 ? ferry_sim_model_error(s->model) : "");
	return rc;
}

static void lclose(struct ferry_device *d)
{
	ferry_sim_model_destroy(L(d)->model);
	free(d);
}

static int lprobe(struct ferry_device *d, struct ferry_mig_caps *caps)
{
	const struct ferry_sim_config *c = ferry_sim_model_config(L(d)->model);
	caps->mig_flags = c->mig_flags;
	caps->dma_logging = c->dma_logging;
	caps->saving_layout_regions = c->saving_layout_regions;
	return 0;
}

static int lget_state(struct ferry_device *d, uint32_t *state)
{
	*state = ferry_sim_model_state(L(d)->model);
	L(d)->session = ferry_sim_model_session(L(d)->model);
	return 0;
}

static int lset_state(struct ferry_device *d, uint32_t target, int *data_fd)
{
	struct sim_local *s = L(d);
	uint64_t opened = 0;
	s->set_state_calls++;
	int rc = ferry_sim_model_set_state(s->model, target, &opened);
	s->session = ferry_sim_model_session(s->model);
	*data_fd = opened ? 1000 + (int)opened : -1; /* a stand-in handle; nobody polls it here */
	return result(s, rc);
}

static int llayout(struct ferry_device *d, uint64_t regions)
{
	struct sim_local *s = L(d);
	s->layout_calls++;
	if (s->layout_busy) {
		if (s->layout_busy != UINT32_MAX)
			s->layout_busy--;
		snprintf(s->base.error, sizeof s->base.error, "still re-evaluating the layout");
		return -EAGAIN;
	}
	return result(s, ferry_sim_model_complete_saving_layout(s->model, regions));
}

static ssize_t lread(struct ferry_device *d, void *buf, size_t len)
{
	struct sim_local *s = L(d);
	ssize_t n = ferry_sim_model_read(s->model, s->session, buf, len);
	return n < 0 ? result(s, (int)n) : n;
}

static int lwrite(struct ferry_device *d, const void *buf, size_t len)
{
	struct sim_local *s = L(d);
	ssize_t n = ferry_sim_model_write(s->model, s->session, buf, len);
	return n < 0 ? result(s, (int)n) : 0;
}

static int lprecopy(struct ferry_device *d, struct ferry_precopy_info *info)
{
	return result(L(d), ferry_sim_model_precopy_info(L(d)->model, L(d)->session, info));
}

static int lsize(struct ferry_device *d, uint64_t *bytes)
{
	*bytes = ferry_sim_model_stop_copy_size(L(d)->model);
	return 0;
}

static int lreset(struct ferry_device *d)
{
	ferry_sim_model_reset(L(d)->model);
	L(d)->session = 0;
	return 0;
}

static int lcompat(struct ferry_device *d, struct ferry_device_compat *out)
{
	const struct ferry_sim_config *c = ferry_sim_model_config(L(d)->model);
	memset(out, 0, sizeof *out);
	out->vendor_id = c->vendor_id;
	out->device_id = c->device_id;
	snprintf(out->driver, sizeof out->driver, "ferry-sim");
	snprintf(out->migration_version, sizeof out->migration_version, "%s", c->migration_version);
	return 0;
}

static int ldma_start(struct ferry_device *d, const struct ferry_dma_range *ranges, uint32_t n, uint64_t *page_size)
{
	return result(L(d), ferry_sim_model_dma_log_start(L(d)->model, ranges, n, page_size));
}

static int ldma_report(struct ferry_device *d, uint64_t iova, uint64_t length, uint64_t page_size, uint64_t *bitmap,
		       size_t words)
{
	return result(L(d), ferry_sim_model_dma_log_report(L(d)->model, iova, length, page_size, bitmap, words));
}

static int ldma_stop(struct ferry_device *d)
{
	return result(L(d), ferry_sim_model_dma_log_stop(L(d)->model));
}

static const struct ferry_device_ops sim_local_ops = {
	.name = "sim-local",
	.close = lclose,
	.probe = lprobe,
	.get_state = lget_state,
	.set_state = lset_state,
	.complete_saving_layout = llayout,
	.read_data = lread,
	.write_data = lwrite,
	.precopy_info = lprecopy,
	.stop_copy_size = lsize,
	.reset = lreset,
	.compat = lcompat,
	.dma_log_start = ldma_start,
	.dma_log_report = ldma_report,
	.dma_log_stop = ldma_stop,
};

static struct ferry_device *create(uint32_t mig_flags, uint64_t saving_layout_regions, uint64_t seed,
				   uint64_t dma_bytes_per_sec)
{
	struct sim_local *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	struct ferry_sim_config cfg = {.vendor_id = 0x1af4, .device_id = 0x1041, .migration_version = "ferry-sim/1",
				       .mig_flags = mig_flags, .saving_layout_regions = saving_layout_regions,
				       .state_bytes = 8192, .change_bytes_per_sec = 4096, .seed = seed,
				       .dma_logging = dma_bytes_per_sec > 0, .dma_bytes_per_sec = dma_bytes_per_sec};
	char err[160];
	if (ferry_sim_model_create(&cfg, &s->model, err, sizeof err) < 0) {
		fprintf(stderr, "  sim model: %s\n", err);
		free(s);
		return NULL;
	}
	s->base.ops = &sim_local_ops;
	return &s->base;
}

struct ferry_device *sim_local_create(uint32_t mig_flags, uint64_t saving_layout_regions, uint64_t seed)
{
	return create(mig_flags, saving_layout_regions, seed, 0);
}

struct ferry_device *sim_local_create_dma(uint32_t mig_flags, uint64_t seed, uint64_t dma_bytes_per_sec)
{
	return create(mig_flags, 0, seed, dma_bytes_per_sec);
}

struct ferry_sim_model *sim_local_model(struct ferry_device *dev)
{
	return L(dev)->model;
}

void sim_local_layout_busy(struct ferry_device *dev, uint32_t times)
{
	L(dev)->layout_busy = times;
}

unsigned sim_local_layout_calls(struct ferry_device *dev)
{
	return L(dev)->layout_calls;
}

unsigned sim_local_set_state_calls(struct ferry_device *dev)
{
	return L(dev)->set_state_calls;
}
