/* The device hook list; see migration_devices.h. */
#include "migration_devices.h"

int ferry_mig_devices_precopy_start(struct ferry_mig_device_hooks *d, char *err, size_t errlen)
{
	for (d->started = 0; d->started < d->n; d->started++) {
		struct ferry_mig_device_hook *h = &d->hooks[d->started];
		int rc = h->precopy_start ? h->precopy_start(h->ctx, err, errlen) : 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ferry_mig_devices_cutover(struct ferry_mig_device_hooks *d, char *err, size_t errlen)
{
	for (size_t i = 0; i < d->n; i++) {
		int rc = d->hooks[i].cutover ? d->hooks[i].cutover(d->hooks[i].ctx, err, errlen) : 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ferry_mig_devices_resuming(struct ferry_mig_device_hooks *d, char *err, size_t errlen)
{
	for (d->started = 0; d->started < d->n; d->started++) {
		struct ferry_mig_device_hook *h = &d->hooks[d->started];
		int rc = h->resuming ? h->resuming(h->ctx, err, errlen) : 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ferry_mig_devices_resume(struct ferry_mig_device_hooks *d, char *err, size_t errlen)
{
	for (size_t i = 0; i < d->n; i++) {
		int rc = d->hooks[i].resume ? d->hooks[i].resume(d->hooks[i].ctx, err, errlen) : 0;
		if (rc < 0)
			return rc;
	}
	return 0;
}

void ferry_mig_devices_rollback(struct ferry_mig_device_hooks *d)
{
	for (size_t i = d->started; i-- > 0;)
		if (d->hooks[i].rollback)
			d->hooks[i].rollback(d->hooks[i].ctx);
	d->started = 0;
}

uint64_t ferry_mig_devices_stop_copy_bytes(const struct ferry_mig_device_hooks *d)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->hooks[i].stop_copy_bytes)
			sum += d->hooks[i].stop_copy_bytes(d->hooks[i].ctx);
	return sum;
}
