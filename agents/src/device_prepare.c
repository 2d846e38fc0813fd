/* The saving-layout handshake and checked state requests; see device_prepare.h. */
#include "device_prepare.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "errbuf.h"
#include "log.h"
#include "mig_fsm.h"

static uint64_t real_now(void *ctx)
{
	(void)ctx;
	return ferry_monotonic_ms();
}

static void real_sleep(void *ctx, uint64_t ms)
{
	(void)ctx;
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const struct ferry_prepare_clock real_clock = {real_now, real_sleep, NULL};

bool ferry_request_opens_saving(uint32_t from, uint32_t target, uint32_t mig_flags)
{
	uint32_t path[FERRY_MIG_MAX_PATH];
	size_t n;
	if (ferry_mig_path(from, target, mig_flags, path, FERRY_MIG_MAX_PATH, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ferry_mig_arc_session(i ? path[i - 1] : from, path[i]) == FERRY_MIG_SESSION_OPEN_SAVING)
			return true;
	return false;
}

static const char *device_reason(struct ferry_device *dev, int rc)
{
	const char *e = ferry_device_error(dev);
	return e[0] ? e : strerror(-rc);
}

int ferry_device_prepare_saving(struct ferry_device *dev, const char *name, const struct ferry_mig_caps *caps,
				const struct ferry_prepare_opts *opts, char *err, size_t errlen)
{
	uint64_t regions = caps->saving_layout_regions;
	if (regions == 0)
		return 0; /* every device that predates the handshake */
	const struct ferry_prepare_clock *clock = opts && opts->clock ? opts->clock : &real_clock;
	uint64_t timeout = opts && opts->timeout_ms ? opts->timeout_ms : FERRY_SAVING_LAYOUT_TIMEOUT_MS;
	uint64_t deadline = clock->now_ms(clock->ctx) + timeout;
	unsigned attempts = 0;
	for (;;) {
		attempts++;
		int rc = dev->ops->complete_saving_layout(dev, regions);
		if (rc == 0) {
			ferry_log(FERRY_LOG_DEBUG, "msg=\"saving layout completed\" device=%s regions=0x%" PRIx64 " attempts=%u",
				  name, regions, attempts);
			return 0;
		}
		if (rc != -EAGAIN && rc != -EINTR) {
			ferry_errbuf_set(err, errlen, "device %s refused the saving layout of regions 0x%" PRIx64 ": %s", name,
					 regions, device_reason(dev, rc));
			return rc;
		}
		uint64_t now = clock->now_ms(clock->ctx);
		if (now >= deadline) {
			ferry_errbuf_set(err, errlen,
					 "device %s did not complete the saving layout of regions 0x%" PRIx64
					 " within %" PRIu64 " ms (%u attempts, last: %s)",
					 name, regions, timeout, attempts, device_reason(dev, rc));
			return -ETIMEDOUT;
		}
		uint64_t wait = deadline - now < FERRY_SAVING_LAYOUT_RETRY_MS ? deadline - now : FERRY_SAVING_LAYOUT_RETRY_MS;
		clock->sleep_ms(clock->ctx, wait);
	}
}

int ferry_device_request(struct ferry_device *dev, const char *name, const struct ferry_mig_caps *caps,
			 uint32_t from, uint32_t target, const struct ferry_prepare_opts *opts, uint32_t *state,
			 int *data_fd, char *err, size_t errlen)
{
	*data_fd = -1;
	*state = from;
	if (ferry_request_opens_saving(from, target, caps->mig_flags)) {
		int rc = ferry_device_prepare_saving(dev, name, caps, opts, err, errlen);
		if (rc < 0)
			return rc; /* nothing was requested: the device is still in `from` */
	}
	int rc = dev->ops->set_state(dev, target, data_fd);
	if (rc == 0) {
		*state = target;
		return 0;
	}
	char why[sizeof dev->error];
	snprintf(why, sizeof why, "%s", device_reason(dev, rc));
	/* The backend read the state back already; ask again so the caller knows for sure. */
	uint32_t now;
	bool known = dev->ops->get_state(dev, &now) == 0;
	if (known)
		*state = now;
	ferry_errbuf_set(err, errlen, "device %s: %s -> %s failed: %s (device is in %s)", name, ferry_mig_state_name(from),
			 ferry_mig_state_name(target), why, known ? ferry_mig_state_name(now) : "an unreadable state");
	return rc;
}
