/*
 * The `vfio` device backend: the real Linux VFIO migration uAPI v2 (reference:
 * /work/shared/reference/vfio-migration-uapi.md). Every syscall goes through struct
 * ferry_syscalls, so tests drive it with a scripted fake kernel.
 *
 * Address forms (ferry_device_open_args.address):
 *   cdev=/dev/vfio/devices/vfio3,pci=0000:3b:00.1   VFIO cdev bound to a fresh iommufd IOAS
 *   group=12,pci=0000:3b:00.1                       legacy group + type1v2 container
 * `pci` names the device for VFIO_GROUP_GET_DEVICE_FD and for sysfs (compatibility descriptor).
 * Opening binds the device to an empty IO address space; mapping guest memory into it is the
 * memory layer's job, not this file's.
 */
#ifndef FERRY_VFIO_BACKEND_H
#define FERRY_VFIO_BACKEND_H

#include <stdbool.h>

#include "device_ops.h"

extern const struct ferry_device_ops ferry_vfio_ops;

struct ferry_vfio_address {
	bool cdev;           /* true: cdev_path; false: group */
	char cdev_path[128];
	unsigned group;
	char pci[32];        /* "0000:3b:00.1" */
};

/* Parses the address forms above. Returns 0 or -EINVAL. */
int ferry_vfio_parse_address(const char *s, struct ferry_vfio_address *out);

#endif
