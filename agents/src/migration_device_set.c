/* A VM's devices inside one migration; see migration_device_set.h. */
#include "migration_device_set.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crc32c.h"
#include "errbuf.h"
#include "log.h"

static const char *dev_error(struct ferry_device *dev, int rc)
{
	return ferry_device_error(dev)[0] ? ferry_device_error(dev) : strerror(-rc);
}

int ferry_mig_device_set_init(struct ferry_mig_device_set *set, enum ferry_group_role role,
			      const struct ferry_group_member *members, size_t n, char *err, size_t errlen)
{
	memset(set, 0, sizeof *set);
	if (n > FERRY_GROUP_MAX_DEVICES) {
		ferry_errbuf_set(err, errlen, "%zu devices, at most %d migrate together", n, FERRY_GROUP_MAX_DEVICES);
		return -E2BIG;
	}
	struct ferry_group_member m[FERRY_GROUP_MAX_DEVICES];
	for (size_t i = 0; i < n; i++) {
		if (strlen(members[i].name) >= FERRY_MIG_DEVICE_NAME_MAX) {
			ferry_errbuf_set(err, errlen, "device name '%.40s...' is too long", members[i].name);
			return -ENAMETOOLONG;
		}
		snprintf(set->names[i], sizeof set->names[i], "%s", members[i].name);
		m[i] = members[i];
		m[i].name = set->names[i]; /* the group keeps the pointer: ours lives as long as it */
		m[i].data_fd = -1;
	}
	return ferry_device_group_init(&set->g, role, m, n, err, errlen);
}

/* ---- hooks ---- */

static int hook_precopy_start(void *ctx, char *err, size_t errlen)
{
	struct ferry_mig_device_set *set = ctx;
	memset(set->st, 0, sizeof set->st); /* a new saving session: its streams start at 0 */
	return ferry_device_group_run(&set->g, FERRY_STAGE_PRECOPY, err, errlen);
}

static int hook_cutover(void *ctx, char *err, size_t errlen)
{
	struct ferry_mig_device_set *set = ctx;
	int rc = ferry_device_group_run(&set->g, FERRY_STAGE_QUIESCE, err, errlen);
	if (rc == 0)
		rc = ferry_device_group_run(&set->g, FERRY_STAGE_STOP_COPY, err, errlen);
	set->stop_copy = rc == 0;
	return rc;
}

static int hook_resuming(void *ctx, char *err, size_t errlen)
{
	struct ferry_mig_device_set *set = ctx;
	memset(set->st, 0, sizeof set->st); /* a new resuming session: its streams start at 0 */
	return ferry_device_group_run(&set->g, FERRY_STAGE_RESUMING, err, errlen);
}

static int hook_resume(void *ctx, char *err, size_t errlen)
{
	struct ferry_mig_device_set *set = ctx;
	for (size_t i = 0; i < set->g.n; i++)
		if (!set->st[i].ended) {
			ferry_errbuf_set(err, errlen, "device %s: its state stream is incomplete (%llu bytes, no end)",
					 set->names[i], (unsigned long long)set->st[i].offset);
			return -EPROTO;
		}
	int rc = ferry_device_group_run(&set->g, FERRY_STAGE_PREPARE_START, err, errlen);
	if (rc == 0)
		rc = ferry_device_group_run(&set->g, FERRY_STAGE_START, err, errlen);
	return rc;
}

static void hook_rollback(void *ctx)
{
	struct ferry_mig_device_set *set = ctx;
	char why[512];
	set->stop_copy = false;
	if (ferry_device_group_rollback(&set->g, why, sizeof why) < 0)
		ferry_log(FERRY_LOG_ERROR, "msg=\"device rollback incomplete\" reason=\"%s\"", why);
}

static uint64_t hook_stop_copy_bytes(void *ctx)
{
	return ferry_mig_device_set_stop_copy_bytes(ctx);
}

int ferry_mig_device_set_register(struct ferry_mig_device_set *set, struct ferry_mig_device_hooks *hooks)
{
	if (hooks->n >= FERRY_MIG_MAX_DEVICE_HOOKS)
		return -E2BIG;
	hooks->hooks[hooks->n++] = (struct ferry_mig_device_hook){
		.ctx = set,
		.precopy_start = hook_precopy_start,
		.cutover = hook_cutover,
		.resuming = hook_resuming,
		.resume = hook_resume,
		.rollback = hook_rollback,
		.stop_copy_bytes = hook_stop_copy_bytes,
	};
	return 0;
}

/* ---- source ---- */

ssize_t ferry_mig_device_set_read(struct ferry_mig_device_set *set, size_t i, void *buf, size_t cap,
				  struct ferry_mig_device_chunk *chunk, char *err, size_t errlen)
{
	struct ferry_group_member *m = &set->g.m[i];
	struct ferry_mig_device_stream *st = &set->st[i];
	if (st->ended || m->data_fd < 0)
		return -ENOMSG; /* ended, or no saving session (a device without PRE_COPY before cutover) */
	ssize_t n = m->dev->ops->read_data(m->dev, buf, cap);
	if (n == -ENOMSG)
		return -ENOMSG;
	if (n < 0) {
		ferry_errbuf_set(err, errlen, "device %s: reading its %s data: %s", m->name,
				 set->stop_copy ? "stop-copy" : "pre-copy", dev_error(m->dev, (int)n));
		return n;
	}
	if (n == 0 && !set->stop_copy)
		return -ENOMSG; /* a 0-byte pre-copy read means nothing now (device_ops.h) */
	*chunk = (struct ferry_mig_device_chunk){.device = (uint32_t)i, .offset = st->offset,
						 .stop_copy = set->stop_copy, .end_of_stream = n == 0};
	st->offset += (uint64_t)n;
	if (set->stop_copy)
		st->stop_copy_bytes += (uint64_t)n;
	else
		st->precopy_bytes += (uint64_t)n;
	st->ended = n == 0;
	return n;
}

int ferry_mig_device_set_stop(struct ferry_mig_device_set *set, char *err, size_t errlen)
{
	for (size_t i = 0; i < set->g.n; i++) {
		struct ferry_group_member *m = &set->g.m[i];
		if (m->state == FERRY_MIG_STOP)
			continue;
		int fd = -1;
		int rc = ferry_device_request(m->dev, m->name, &m->caps, m->state, FERRY_MIG_STOP, &set->g.prepare,
					      &m->state, &fd, err, errlen);
		if (set->g.on_step) { /* the group's observer sees this step too */
			struct ferry_group_step step = {(uint32_t)i, FERRY_MIG_STOP};
			set->g.on_step(set->g.on_step_ctx, &step, rc);
		}
		if (rc < 0)
			return rc;
		m->data_fd = -1;
	}
	set->stop_copy = false;
	return 0;
}

/* ---- destination ---- */

int ferry_mig_device_set_write(struct ferry_mig_device_set *set, const char *name, uint64_t offset, bool stop_copy,
			       bool end_of_stream, uint32_t payload_crc32c, const void *payload, size_t len, char *err,
			       size_t errlen)
{
	size_t i = 0;
	while (i < set->g.n && strcmp(set->names[i], name) != 0)
		i++;
	if (i == set->g.n) {
		ferry_errbuf_set(err, errlen, "device chunk for '%.64s', which this migration does not carry", name);
		return -ENODEV;
	}
	struct ferry_group_member *m = &set->g.m[i];
	struct ferry_mig_device_stream *st = &set->st[i];
	uint32_t crc = ferry_crc32c(0, payload, len);
	if (crc != payload_crc32c) {
		ferry_errbuf_set(err, errlen, "device %s: chunk at offset %llu: checksum 0x%08x, expected 0x%08x", name,
				 (unsigned long long)offset, crc, payload_crc32c);
		return -EBADMSG;
	}
	if (st->ended) {
		ferry_errbuf_set(err, errlen, "device %s: chunk at offset %llu after the end of its stream", name,
				 (unsigned long long)offset);
		return -EPROTO;
	}
	if (offset != st->offset) {
		ferry_errbuf_set(err, errlen, "device %s: chunk at offset %llu, expected %llu (%s)", name,
				 (unsigned long long)offset, (unsigned long long)st->offset,
				 offset > st->offset ? "a gap" : "out of order");
		return -EPROTO;
	}
	if (len > 0) {
		int rc = m->dev->ops->write_data(m->dev, payload, len);
		if (rc < 0) {
			ferry_errbuf_set(err, errlen, "device %s: writing %zu bytes at offset %llu: %s", name, len,
					 (unsigned long long)offset, dev_error(m->dev, rc));
			return rc;
		}
	}
	st->offset += len;
	if (stop_copy)
		st->stop_copy_bytes += len;
	else
		st->precopy_bytes += len;
	st->ended = end_of_stream;
	return 0;
}

/* ---- both ---- */

void ferry_mig_device_set_progress(struct ferry_mig_device_set *set, size_t i, struct ferry_mig_device_progress *out)
{
	struct ferry_group_member *m = &set->g.m[i];
	memset(out, 0, sizeof *out);
	out->name = set->names[i];
	out->bytes_sent = set->st[i].offset;
	if (m->dev->ops->get_state(m->dev, &out->state) < 0)
		out->state = FERRY_MIG_NR_STATES;
	if (out->state == FERRY_MIG_PRE_COPY || out->state == FERRY_MIG_PRE_COPY_P2P) {
		struct ferry_precopy_info pi;
		if (m->dev->ops->precopy_info(m->dev, &pi) == 0) {
			out->precopy_initial_bytes = pi.initial_bytes;
			out->precopy_dirty_bytes = pi.dirty_bytes;
		}
	}
	uint64_t size;
	if (m->dev->ops->stop_copy_size(m->dev, &size) == 0)
		out->stop_copy_bytes = size;
}

uint64_t ferry_mig_device_set_stop_copy_bytes(struct ferry_mig_device_set *set)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < set->g.n; i++) {
		uint64_t size;
		if (set->g.m[i].dev->ops->stop_copy_size(set->g.m[i].dev, &size) == 0)
			sum += size;
	}
	return sum;
}
