/*
 * The parts of the Linux VFIO / iommufd uAPI the vfio backend uses.
 *
 * Builds against the distribution's <linux/vfio.h> (Debian 12 ships the 6.1 headers) and defines
 * here, each under a guard, what 6.1 lacks: the PRE_COPY extension (VFIO_MIGRATION_PRE_COPY,
 * MIG_DATA_SIZE, VFIO_MIG_GET_PRECOPY_INFO), the VFIO cdev + iommufd binding ioctls (6.6) and the
 * two iommufd commands we issue. Values are from torvalds/linux include/uapi/linux/{vfio,iommufd}.h
 * (see /work/shared/reference/vfio-migration-uapi.md, section 1). Every VFIO ioctl is a plain
 * _IO(';', nr): the struct carries its own argsz, so the number encodes no size.
 */
#ifndef FERRY_VFIO_UAPI_H
#define FERRY_VFIO_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "mig_fsm.h"

/* --- migration v2 states: 6.1's enum stops at RUNNING_P2P; ours (mig_fsm.h) has all eight --- */
_Static_assert((int)FERRY_MIG_ERROR == (int)VFIO_DEVICE_STATE_ERROR, "state value");
_Static_assert((int)FERRY_MIG_STOP == (int)VFIO_DEVICE_STATE_STOP, "state value");
_Static_assert((int)FERRY_MIG_RUNNING == (int)VFIO_DEVICE_STATE_RUNNING, "state value");
_Static_assert((int)FERRY_MIG_STOP_COPY == (int)VFIO_DEVICE_STATE_STOP_COPY, "state value");
_Static_assert((int)FERRY_MIG_RESUMING == (int)VFIO_DEVICE_STATE_RESUMING, "state value");
_Static_assert((int)FERRY_MIG_RUNNING_P2P == (int)VFIO_DEVICE_STATE_RUNNING_P2P, "state value");
_Static_assert(FERRY_MIG_FLAG_STOP_COPY == VFIO_MIGRATION_STOP_COPY, "flag value");
_Static_assert(FERRY_MIG_FLAG_P2P == VFIO_MIGRATION_P2P, "flag value");

#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#endif
_Static_assert(FERRY_MIG_FLAG_PRE_COPY == VFIO_MIGRATION_PRE_COPY, "flag value");

/* --- VFIO_DEVICE_FEATURE_MIG_DATA_SIZE (9): estimated STOP_COPY bytes --- */
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
struct vfio_device_feature_mig_data_size {
	__aligned_u64 stop_copy_length;
};
#endif

/* --- VFIO_MIG_GET_PRECOPY_INFO: ioctl on the saving data_fd in PRE_COPY(_P2P) --- */
#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags; /* in: must be 0; out: only meaningful after PRECOPY_INFOv2 opt-in */
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

/* --- VFIO cdev (/dev/vfio/devices/vfioN) bound to iommufd (/dev/iommu), Linux 6.6+ --- */
#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#endif

#ifndef VFIO_DEVICE_ATTACH_IOMMUFD_PT
struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#endif

/* --- iommufd (type ';' as well, command numbers from 0x80) --- */
#ifndef IOMMUFD_TYPE
#define IOMMUFD_TYPE (';')
#endif
#ifndef IOMMU_IOAS_ALLOC
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, 0x81)
#endif

/* The numbers the reference lists (computed with the real headers) must hold here too. */
_Static_assert(VFIO_DEVICE_FEATURE == 0x3B75, "ioctl number");
_Static_assert(VFIO_DEVICE_RESET == 0x3B6F, "ioctl number");
_Static_assert(VFIO_MIG_GET_PRECOPY_INFO == 0x3B79, "ioctl number");
_Static_assert(VFIO_DEVICE_BIND_IOMMUFD == 0x3B76, "ioctl number");
_Static_assert(VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3B77, "ioctl number");
_Static_assert(IOMMU_IOAS_ALLOC == 0x3B81, "ioctl number");

/* The VFIO_DEVICE_FEATURE header is 8 bytes; payload sizes of the features we use. */
#define FERRY_VFIO_FEATURE_HDR 8u
_Static_assert(sizeof(struct vfio_device_feature) == FERRY_VFIO_FEATURE_HDR, "feature header");
_Static_assert(sizeof(struct vfio_device_feature_migration) == 8, "payload size");
_Static_assert(sizeof(struct vfio_device_feature_mig_state) == 8, "payload size");
_Static_assert(sizeof(struct vfio_device_feature_mig_data_size) == 8, "payload size");
_Static_assert(sizeof(struct vfio_device_feature_dma_logging_control) == 24, "payload size");
_Static_assert(sizeof(struct vfio_device_feature_dma_logging_range) == 16, "payload size");
_Static_assert(sizeof(struct vfio_device_feature_dma_logging_report) == 32, "payload size");
_Static_assert(sizeof(struct vfio_precopy_info) == 24, "precopy info size");

#endif
