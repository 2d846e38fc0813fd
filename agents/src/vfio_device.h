/* Internal to the vfio backend: the device object shared by vfio_backend.c (open, close, sysfs)
 * and vfio_migration.c (the migration uAPI). Not for other callers. */
#ifndef FERRY_VFIO_DEVICE_H
#define FERRY_VFIO_DEVICE_H

#include <stdarg.h>

#include "device_ops.h"
#include "syscalls.h"
#include "vfio_backend.h"

struct ferry_vfio_device {
	struct ferry_device base; /* first: the ops see a struct ferry_device * */
	const struct ferry_syscalls *sys;
	struct ferry_vfio_address addr;
	int device_fd;
	int iommufd;      /* cdev path: /dev/iommu */
	int container_fd; /* group path: /dev/vfio/vfio */
	int group_fd;     /* group path: /dev/vfio/N */
	int data_fd;      /* open migration session, -1 if none */
	bool probed;
	struct ferry_mig_caps caps;
	uint32_t state; /* last state the kernel confirmed (FERRY_MIG_*) */
};

static inline struct ferry_vfio_device *ferry__vfio(struct ferry_device *dev)
{
	return (struct ferry_vfio_device *)dev;
}

/* Records the context of a failure in dev->base.error and returns `rc`. */
__attribute__((format(printf, 3, 4))) int ferry__vfio_fail(struct ferry_vfio_device *d, int rc, const char *fmt, ...);

/* Closes the data session fd, if any. */
void ferry__vfio_drop_session(struct ferry_vfio_device *d);

/* The migration half of the ops table (vfio_migration.c). */
int ferry__vfio_probe(struct ferry_device *dev, struct ferry_mig_caps *caps);
int ferry__vfio_get_state(struct ferry_device *dev, uint32_t *state);
int ferry__vfio_set_state(struct ferry_device *dev, uint32_t target, int *data_fd);
int ferry__vfio_complete_saving_layout(struct ferry_device *dev, uint64_t regions);
ssize_t ferry__vfio_read_data(struct ferry_device *dev, void *buf, size_t len);
int ferry__vfio_write_data(struct ferry_device *dev, const void *buf, size_t len);
int ferry__vfio_precopy_info(struct ferry_device *dev, struct ferry_precopy_info *info);
int ferry__vfio_stop_copy_size(struct ferry_device *dev, uint64_t *bytes);
int ferry__vfio_dma_log_start(struct ferry_device *dev, const struct ferry_dma_range *ranges, uint32_t n,
			      uint64_t *page_size);
int ferry__vfio_dma_log_report(struct ferry_device *dev, uint64_t iova, uint64_t length, uint64_t page_size,
			       uint64_t *bitmap, size_t words);
int ferry__vfio_dma_log_stop(struct ferry_device *dev);
int ferry__vfio_reset(struct ferry_device *dev);

#endif
