/*
 * The vfio backend's migration uAPI v2: VFIO_DEVICE_FEATURE (MIGRATION, MIG_DEVICE_STATE,
 * MIG_DATA_SIZE, DMA_LOGGING_*), VFIO_MIG_GET_PRECOPY_INFO on the data fd, VFIO_DEVICE_RESET.
 * Reference: /work/shared/reference/vfio-migration-uapi.md (section numbers below refer to it).
 */
#include "vfio_device.h"
#include "vfio_uapi.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define FEATURE_MAX_PAYLOAD 32u /* the DMA logging report, the largest payload we send */

_Static_assert(sizeof(struct ferry_dma_range) == sizeof(struct vfio_device_feature_dma_logging_range),
	       "ferry_dma_range must match the kernel's range layout");

/* One VFIO_DEVICE_FEATURE call. The buffer is built from u64 words so the payload after the
 * 8-byte header is 8-byte aligned, and argsz = 8 + payload (1.2). The payload is copied back
 * whatever the result, as the kernel writes it back on failures too. */
static int feature(struct ferry_vfio_device *d, uint32_t flags, void *payload, size_t len)
{
	uint64_t buf[1 + FEATURE_MAX_PAYLOAD / 8] = {0};
	struct vfio_device_feature *hdr = (struct vfio_device_feature *)buf;
	hdr->argsz = (uint32_t)(FERRY_VFIO_FEATURE_HDR + len);
	hdr->flags = flags;
	if (len)
		memcpy(&buf[1], payload, len);
	int rc = d->sys->ioctl(d->sys->ctx, d->device_fd, VFIO_DEVICE_FEATURE, buf);
	if (len)
		memcpy(payload, &buf[1], len);
	return rc < 0 ? rc : 0;
}

/* GET MIG_DEVICE_STATE, validated. */
static int read_state(struct ferry_vfio_device *d, uint32_t *state)
{
	struct vfio_device_feature_mig_state ms = {.device_state = 0, .data_fd = -1};
	int rc = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms, sizeof ms);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "GET MIG_DEVICE_STATE");
	if (ms.device_state >= FERRY_MIG_NR_STATES)
		return ferry__vfio_fail(d, -EPROTO, "kernel reports unknown migration state %u", ms.device_state);
	*state = ms.device_state;
	return 0;
}

/* Does the session fd held while in `from` survive a move to `to` (possibly several arcs)?
 * Saving states are only ever the start or the end of a path (1.6), so a saving fd survives
 * exactly when both ends are saving; a resuming fd only while the device stays in RESUMING. */
static bool session_survives(uint32_t from, uint32_t to)
{
	if (ferry_mig_state_is_saving(from))
		return ferry_mig_state_is_saving(to);
	return from == FERRY_MIG_RESUMING && to == FERRY_MIG_RESUMING;
}

/* Records a state the kernel reported, dropping the session fd if the move killed it. */
static void adopt_state(struct ferry_vfio_device *d, uint32_t state)
{
	if (d->data_fd >= 0 && !session_survives(d->state, state))
		ferry__vfio_drop_session(d);
	d->state = state;
}

static int do_reset(struct ferry_vfio_device *d)
{
	int rc = d->sys->ioctl(d->sys->ctx, d->device_fd, VFIO_DEVICE_RESET, NULL);
	if (rc < 0)
		return rc;
	ferry__vfio_drop_session(d); /* reset kills every data fd (1.11) */
	d->state = FERRY_MIG_RUNNING;
	return 0;
}

int ferry__vfio_probe(struct ferry_device *dev, struct ferry_mig_caps *caps)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	struct vfio_device_feature_migration mig = {0};
	memset(caps, 0, sizeof *caps);
	int rc = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &mig, sizeof mig);
	if (rc == -ENOTTY) {
		/* No migration driver bound (plain vfio-pci): not an error, a device that cannot move. */
		mig.flags = 0;
	} else if (rc < 0) {
		return ferry__vfio_fail(d, rc, "GET MIGRATION");
	}
	caps->mig_flags = (uint32_t)mig.flags & FERRY_MIG_FLAGS_KNOWN;
	if (ferry_mig_caps_migratable(caps)) {
		/* Read the real state: a restarted agent may find the device mid-migration. */
		uint32_t state;
		rc = read_state(d, &state);
		if (rc < 0)
			return rc;
		d->state = state;
	}
	rc = feature(d, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, NULL, 0);
	if (rc == 0)
		caps->dma_logging = true;
	else if (rc != -ENOTTY)
		return ferry__vfio_fail(d, rc, "PROBE DMA_LOGGING_START");
	caps->saving_layout_regions = 0; /* no kernel uAPI announces it */
	d->caps = *caps;
	d->probed = true;
	d->base.error[0] = '\0';
	return 0;
}

int ferry__vfio_get_state(struct ferry_device *dev, uint32_t *state)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	uint32_t s;
	int rc = read_state(d, &s);
	if (rc < 0)
		return rc;
	adopt_state(d, s);
	*state = s;
	return 0;
}

/* A SET failed with `err`. Its reply only echoes our request (1.4), so GET the real state; the
 * device may be in the original state, any state along the path, or ERROR, which only a reset
 * leaves (1.11). Always returns `err`, the kernel's answer to the request. */
static int recover_failed_set(struct ferry_vfio_device *d, int err, uint32_t from, uint32_t target)
{
	const char *f = ferry_mig_state_name(from), *t = ferry_mig_state_name(target);
	uint32_t real;
	if (read_state(d, &real) < 0) {
		ferry__vfio_drop_session(d); /* unknown state: the session cannot be trusted */
		d->state = FERRY_MIG_ERROR;
		return ferry__vfio_fail(d, err, "SET %s -> %s failed and the state cannot be read back", f, t);
	}
	if (real == FERRY_MIG_ERROR) {
		int rc = do_reset(d);
		if (rc < 0) {
			ferry__vfio_drop_session(d);
			d->state = FERRY_MIG_ERROR;
			return ferry__vfio_fail(d, err, "SET %s -> %s failed, device in ERROR, reset failed too", f, t);
		}
		return ferry__vfio_fail(d, err, "SET %s -> %s failed, device went to ERROR and was reset to RUNNING",
					f, t);
	}
	adopt_state(d, real);
	return ferry__vfio_fail(d, err, "SET %s -> %s failed, device is in %s", f, t, ferry_mig_state_name(real));
}

int ferry__vfio_set_state(struct ferry_device *dev, uint32_t target, int *data_fd)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	uint32_t path[FERRY_MIG_MAX_PATH];
	size_t n;
	*data_fd = -1;
	if (!d->probed)
		return ferry__vfio_fail(d, -EINVAL, "set_state before probe");
	uint32_t from = d->state;
	const char *f = ferry_mig_state_name(from), *t = ferry_mig_state_name(target);
	if (ferry_mig_arc_is_blocked(from, target))
		return ferry__vfio_fail(d, -EINVAL, "refusing %s -> %s: blocked, and it hangs unfixed kernels", f, t);
	int rc = ferry_mig_path(from, target, d->caps.mig_flags, path, FERRY_MIG_MAX_PATH, &n);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "no path %s -> %s with migration flags 0x%x", f, t, d->caps.mig_flags);
	if (n == 0)
		return 0;

	/* What the kernel's walk will do to the session: any ending arc, and the opening arc (only
	 * ever the last one, 1.7). */
	bool ends = false;
	enum ferry_mig_arc_session opens = FERRY_MIG_SESSION_NONE;
	for (size_t i = 0, prev = from; i < n; prev = path[i], i++) {
		enum ferry_mig_arc_session s = ferry_mig_arc_session((uint32_t)prev, path[i]);
		if (s == FERRY_MIG_SESSION_END)
			ends = true;
		else if (s == FERRY_MIG_SESSION_OPEN_SAVING || s == FERRY_MIG_SESSION_OPEN_RESUMING)
			opens = s;
	}

	struct vfio_device_feature_mig_state ms = {.device_state = target, .data_fd = -1};
	rc = feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &ms, sizeof ms);
	if (rc < 0)
		return recover_failed_set(d, rc, from, target);
	d->state = target;
	if (ends)
		ferry__vfio_drop_session(d);
	if (ms.data_fd >= 0) {
		if (d->data_fd >= 0) {
			/* A new fd while ours is still live: the kernel's session is not ours (an async reset
			 * happened). QEMU closes the new one and fails with EBADF; so do we. */
			d->sys->close(d->sys->ctx, ms.data_fd);
			return ferry__vfio_fail(d, -EBADF, "data_fd out of sync: kernel returned fd %d for %s -> %s "
							   "while session fd %d is open", ms.data_fd, f, t, d->data_fd);
		}
		if (opens == FERRY_MIG_SESSION_NONE) {
			d->sys->close(d->sys->ctx, ms.data_fd);
			return ferry__vfio_fail(d, -EPROTO, "kernel returned fd %d for %s -> %s, which opens no session",
						ms.data_fd, f, t);
		}
		d->data_fd = ms.data_fd;
		*data_fd = ms.data_fd;
	} else if (opens != FERRY_MIG_SESSION_NONE) {
		return ferry__vfio_fail(d, -EPROTO, "kernel returned no data_fd for %s -> %s", f, t);
	}
	d->base.error[0] = '\0';
	return 0;
}

int ferry__vfio_complete_saving_layout(struct ferry_device *dev, uint64_t regions)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	if (regions == 0)
		return 0;
	return ferry__vfio_fail(d, -EOPNOTSUPP, "vfio devices announce no saving layout (regions 0x%llx)",
				(unsigned long long)regions);
}

ssize_t ferry__vfio_read_data(struct ferry_device *dev, void *buf, size_t len)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	if (d->data_fd < 0 || !ferry_mig_state_is_saving(d->state))
		return ferry__vfio_fail(d, -EBADF, "no saving session to read (state %s)", ferry_mig_state_name(d->state));
	bool stop_copy = d->state == FERRY_MIG_STOP_COPY;
	ssize_t n = d->sys->read(d->sys->ctx, d->data_fd, buf, len);
	if (n > 0)
		return n;
	if (n == 0) /* STOP_COPY: the real end. PRE_COPY: mtty's way of saying "nothing now" (1.8) */
		return stop_copy ? 0 : -ENOMSG;
	if (n == -ENOMSG) {
		if (stop_copy)
			return ferry__vfio_fail(d, -EPROTO, "data_fd read gave ENOMSG in STOP_COPY");
		return -ENOMSG;
	}
	return ferry__vfio_fail(d, (int)n, "read data_fd in %s", ferry_mig_state_name(d->state));
}

int ferry__vfio_write_data(struct ferry_device *dev, const void *buf, size_t len)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	if (d->data_fd < 0 || d->state != FERRY_MIG_RESUMING)
		return ferry__vfio_fail(d, -EBADF, "no resuming session to write (state %s)", ferry_mig_state_name(d->state));
	const uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = d->sys->write(d->sys->ctx, d->data_fd, p + done, len - done);
		if (n < 0)
			return ferry__vfio_fail(d, (int)n, "write data_fd after %zu of %zu bytes", done, len);
		if (n == 0)
			return ferry__vfio_fail(d, -EIO, "write data_fd made no progress after %zu of %zu bytes", done, len);
		done += (size_t)n;
	}
	return 0;
}

int ferry__vfio_precopy_info(struct ferry_device *dev, struct ferry_precopy_info *info)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	if (d->data_fd < 0 || (d->state != FERRY_MIG_PRE_COPY && d->state != FERRY_MIG_PRE_COPY_P2P))
		return ferry__vfio_fail(d, -EINVAL, "precopy info outside PRE_COPY (state %s)", ferry_mig_state_name(d->state));
	/* flags must go in as 0: drivers without the v2 opt-in echo it back unchanged (6.7). */
	struct vfio_precopy_info pi = {.argsz = sizeof pi, .flags = 0};
	int rc = d->sys->ioctl(d->sys->ctx, d->data_fd, VFIO_MIG_GET_PRECOPY_INFO, &pi);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_MIG_GET_PRECOPY_INFO");
	info->initial_bytes = pi.initial_bytes;
	info->dirty_bytes = pi.dirty_bytes;
	return 0;
}

int ferry__vfio_stop_copy_size(struct ferry_device *dev, uint64_t *bytes)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	struct vfio_device_feature_mig_data_size ds = {0};
	int rc = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &ds, sizeof ds);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "GET MIG_DATA_SIZE");
	*bytes = ds.stop_copy_length;
	return 0;
}

int ferry__vfio_dma_log_start(struct ferry_device *dev, const struct ferry_dma_range *ranges, uint32_t n,
			      uint64_t *page_size)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	struct vfio_device_feature_dma_logging_control ctl = {
		.page_size = *page_size,
		.num_ranges = n,
		.__reserved = 0,
		.ranges = (uint64_t)(uintptr_t)ranges,
	};
	int rc = feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &ctl, sizeof ctl);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "DMA_LOGGING_START of %u ranges at page size %llu", n,
					(unsigned long long)*page_size);
	*page_size = ctl.page_size; /* the driver may choose another granularity */
	return 0;
}

int ferry__vfio_dma_log_report(struct ferry_device *dev, uint64_t iova, uint64_t length, uint64_t page_size,
			       uint64_t *bitmap, size_t words)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	if (page_size == 0 || (page_size & (page_size - 1)) != 0)
		return ferry__vfio_fail(d, -EINVAL, "DMA log page size %llu is not a power of two",
					(unsigned long long)page_size);
	uint64_t pages = length / page_size + (length % page_size != 0);
	if (pages > (uint64_t)words * 64)
		return ferry__vfio_fail(d, -EINVAL, "DMA log bitmap of %zu words cannot hold %llu pages", words,
					(unsigned long long)pages);
	size_t used = (size_t)((pages + 63) / 64);
	memset(bitmap, 0, used * sizeof *bitmap); /* the kernel only ORs bits in (2.1) */
	struct vfio_device_feature_dma_logging_report rep = {
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.bitmap = (uint64_t)(uintptr_t)bitmap,
	};
	int rc = feature(d, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &rep, sizeof rep);
	if (rc < 0) {
		/* An unreadable log means nothing about what is clean: everything is dirty. */
		for (uint64_t k = 0; k < pages; k++)
			bitmap[k / 64] |= 1ull << (k % 64);
		return ferry__vfio_fail(d, rc, "DMA_LOGGING_REPORT [0x%llx, +0x%llx): all %llu pages marked dirty",
					(unsigned long long)iova, (unsigned long long)length, (unsigned long long)pages);
	}
	return 0;
}

int ferry__vfio_dma_log_stop(struct ferry_device *dev)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	int rc = feature(d, VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, NULL, 0);
	return rc < 0 ? ferry__vfio_fail(d, rc, "DMA_LOGGING_STOP") : 0;
}

int ferry__vfio_reset(struct ferry_device *dev)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	int rc = do_reset(d);
	return rc < 0 ? ferry__vfio_fail(d, rc, "VFIO_DEVICE_RESET") : 0;
}
