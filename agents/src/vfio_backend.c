/* The vfio backend: address parsing, opening through the cdev/iommufd or the legacy
 * group/container path, closing, the sysfs compatibility descriptor, and the ops table. The
 * migration uAPI itself is in vfio_migration.c. */
#include "vfio_device.h"
#include "vfio_uapi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ferry__vfio_fail(struct ferry_vfio_device *d, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(d->base.error, sizeof d->base.error, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof d->base.error && rc < 0)
		snprintf(d->base.error + n, sizeof d->base.error - (size_t)n, " (%s)", strerrorname_np(-rc) ? strerrorname_np(-rc) : "?");
	return rc;
}

void ferry__vfio_drop_session(struct ferry_vfio_device *d)
{
	if (d->data_fd >= 0)
		d->sys->close(d->sys->ctx, d->data_fd);
	d->data_fd = -1;
}

/* Copies the value of `key=` at the start of `s` up to ',' into out; returns chars consumed. */
static int take_value(const char *s, char *out, size_t cap)
{
	size_t len = strcspn(s, ",");
	if (len == 0 || len >= cap)
		return -EINVAL;
	memcpy(out, s, len);
	out[len] = '\0';
	return (int)len;
}

int ferry_vfio_parse_address(const char *s, struct ferry_vfio_address *out)
{
	memset(out, 0, sizeof *out);
	bool have_cdev = false, have_group = false;
	char group[16];
	while (*s) {
		int n;
		if (strncmp(s, "cdev=", 5) == 0) {
			s += 5;
			n = take_value(s, out->cdev_path, sizeof out->cdev_path);
			have_cdev = true;
		} else if (strncmp(s, "group=", 6) == 0) {
			s += 6;
			n = take_value(s, group, sizeof group);
			have_group = true;
		} else if (strncmp(s, "pci=", 4) == 0) {
			s += 4;
			n = take_value(s, out->pci, sizeof out->pci);
		} else {
			return -EINVAL;
		}
		if (n < 0)
			return n;
		s += n;
		if (*s == ',')
			s++;
	}
	if (have_cdev == have_group || out->pci[0] == '\0' || strchr(out->pci, '/'))
		return -EINVAL;
	if (have_group) {
		char *end;
		errno = 0;
		unsigned long g = strtoul(group, &end, 10);
		if (errno || *end || g > UINT32_MAX || group[0] == '-' || group[0] == '+')
			return -EINVAL;
		out->group = (unsigned)g;
	}
	out->cdev = have_cdev;
	return 0;
}

/* cdev path: open the device, bind it to a new iommufd, attach it to a fresh IOAS. */
static int open_cdev(struct ferry_vfio_device *d)
{
	const struct ferry_syscalls *sys = d->sys;
	int rc = sys->open(sys->ctx, d->addr.cdev_path, O_RDWR | O_CLOEXEC);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "open %s", d->addr.cdev_path);
	d->device_fd = rc;
	rc = sys->open(sys->ctx, "/dev/iommu", O_RDWR | O_CLOEXEC);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "open /dev/iommu");
	d->iommufd = rc;

	struct vfio_device_bind_iommufd bind = {.argsz = sizeof bind, .flags = 0, .iommufd = d->iommufd};
	rc = sys->ioctl(sys->ctx, d->device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_DEVICE_BIND_IOMMUFD on %s", d->addr.cdev_path);
	struct iommu_ioas_alloc ioas = {.size = sizeof ioas, .flags = 0};
	rc = sys->ioctl(sys->ctx, d->iommufd, IOMMU_IOAS_ALLOC, &ioas);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "IOMMU_IOAS_ALLOC");
	struct vfio_device_attach_iommufd_pt attach = {.argsz = sizeof attach, .flags = 0, .pt_id = ioas.out_ioas_id};
	rc = sys->ioctl(sys->ctx, d->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_DEVICE_ATTACH_IOMMUFD_PT to IOAS %u", ioas.out_ioas_id);
	return 0;
}

/* Legacy path: type1v2 container, group attached to it, device fd from the group. */
static int open_group(struct ferry_vfio_device *d)
{
	const struct ferry_syscalls *sys = d->sys;
	char path[32];
	int rc = sys->open(sys->ctx, "/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "open /dev/vfio/vfio");
	d->container_fd = rc;
	rc = sys->ioctl(sys->ctx, d->container_fd, VFIO_GET_API_VERSION, NULL);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_GET_API_VERSION");
	if (rc != VFIO_API_VERSION)
		return ferry__vfio_fail(d, -EPROTO, "VFIO API version %d, expected %d", rc, VFIO_API_VERSION);
	rc = sys->ioctl(sys->ctx, d->container_fd, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_CHECK_EXTENSION(TYPE1v2)");
	if (rc == 0)
		return ferry__vfio_fail(d, -EOPNOTSUPP, "container lacks the type1v2 IOMMU");

	snprintf(path, sizeof path, "/dev/vfio/%u", d->addr.group);
	rc = sys->open(sys->ctx, path, O_RDWR | O_CLOEXEC);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "open %s", path);
	d->group_fd = rc;
	struct vfio_group_status status = {.argsz = sizeof status};
	rc = sys->ioctl(sys->ctx, d->group_fd, VFIO_GROUP_GET_STATUS, &status);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_GROUP_GET_STATUS on %s", path);
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return ferry__vfio_fail(d, -EPERM, "group %u is not viable: bind every device in it to vfio",
					d->addr.group);
	rc = sys->ioctl(sys->ctx, d->group_fd, VFIO_GROUP_SET_CONTAINER, &d->container_fd);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_GROUP_SET_CONTAINER");
	rc = sys->ioctl(sys->ctx, d->container_fd, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_SET_IOMMU(TYPE1v2)");
	rc = sys->ioctl(sys->ctx, d->group_fd, VFIO_GROUP_GET_DEVICE_FD, d->addr.pci);
	if (rc < 0)
		return ferry__vfio_fail(d, rc, "VFIO_GROUP_GET_DEVICE_FD(%s)", d->addr.pci);
	d->device_fd = rc;
	return 0;
}

static void close_fds(struct ferry_vfio_device *d)
{
	const struct ferry_syscalls *sys = d->sys;
	ferry__vfio_drop_session(d);
	int *fds[] = {&d->device_fd, &d->iommufd, &d->group_fd, &d->container_fd}; /* device first */
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
		if (*fds[i] >= 0)
			sys->close(sys->ctx, *fds[i]);
		*fds[i] = -1;
	}
}

static int vfio_open(const struct ferry_device_open_args *args, struct ferry_device **out)
{
	*out = NULL;
	struct ferry_vfio_device *d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->base.ops = &ferry_vfio_ops;
	d->sys = args->sys ? args->sys : ferry_syscalls_real();
	d->device_fd = d->iommufd = d->container_fd = d->group_fd = d->data_fd = -1;
	d->state = FERRY_MIG_RUNNING; /* until probe reads it: QEMU assumes the same at realize */
	int rc = ferry_vfio_parse_address(args->address ? args->address : "", &d->addr);
	if (rc < 0)
		goto fail;
	rc = d->addr.cdev ? open_cdev(d) : open_group(d);
	if (rc < 0)
		goto fail;
	*out = &d->base;
	return 0;
fail:
	if (args->error && args->error_cap)
		snprintf(args->error, args->error_cap, "%s", d->base.error[0] ? d->base.error : "bad vfio address");
	close_fds(d);
	free(d);
	return rc;
}

static void vfio_close(struct ferry_device *dev)
{
	if (!dev)
		return;
	struct ferry_vfio_device *d = ferry__vfio(dev);
	close_fds(d);
	free(d);
}

static int read_hex_u16(struct ferry_vfio_device *d, const char *attr, uint16_t *out)
{
	char path[128], buf[32];
	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/%s", d->addr.pci, attr);
	ssize_t n = ferry_sys_read_small_file(d->sys, path, buf, sizeof buf);
	if (n < 0)
		return ferry__vfio_fail(d, (int)n, "read %s", path);
	char *end;
	errno = 0;
	unsigned long v = strtoul(buf, &end, 16);
	if (errno || *end || end == buf || v > UINT16_MAX)
		return ferry__vfio_fail(d, -EPROTO, "%s holds \"%s\", not a 16-bit hex id", path, buf);
	*out = (uint16_t)v;
	return 0;
}

/* The kernel offers no compatibility query (reference 6.5): vendor/device ids and the bound
 * variant driver are the best pre-flight proxy; the driver's own stream header is the final word. */
static int vfio_compat(struct ferry_device *dev, struct ferry_device_compat *out)
{
	struct ferry_vfio_device *d = ferry__vfio(dev);
	char path[128], link[256];
	memset(out, 0, sizeof *out);
	int rc = read_hex_u16(d, "vendor", &out->vendor_id);
	if (rc < 0)
		return rc;
	rc = read_hex_u16(d, "device", &out->device_id);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/driver", d->addr.pci);
	ssize_t n = d->sys->readlink(d->sys->ctx, path, link, sizeof link);
	if (n < 0)
		return ferry__vfio_fail(d, (int)n, "readlink %s", path);
	const char *name = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
	if (strlen(name) == 0 || strlen(name) >= sizeof out->driver)
		return ferry__vfio_fail(d, -EPROTO, "%s -> \"%s\" names no driver", path, link);
	strcpy(out->driver, name);
	snprintf(out->migration_version, sizeof out->migration_version, "vfio-v2/%s", out->driver);
	return 0;
}

const struct ferry_device_ops ferry_vfio_ops = {
	.name = "vfio",
	.open = vfio_open,
	.close = vfio_close,
	.probe = ferry__vfio_probe,
	.get_state = ferry__vfio_get_state,
	.set_state = ferry__vfio_set_state,
	.complete_saving_layout = ferry__vfio_complete_saving_layout,
	.read_data = ferry__vfio_read_data,
	.write_data = ferry__vfio_write_data,
	.precopy_info = ferry__vfio_precopy_info,
	.stop_copy_size = ferry__vfio_stop_copy_size,
	.dma_log_start = ferry__vfio_dma_log_start,
	.dma_log_report = ferry__vfio_dma_log_report,
	.dma_log_stop = ferry__vfio_dma_log_stop,
	.reset = ferry__vfio_reset,
	.compat = vfio_compat,
};
