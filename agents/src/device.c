/* Device descriptor -> ferry.v1.Device. */
#include "device.h"

void ferry_device_to_proto(const struct ferry_device_info *d, Ferry__V1__Device *out)
{
	Ferry__V1__Device init = FERRY__V1__DEVICE__INIT;
	*out = init;
	/* protobuf-c declares the fields char * but only reads them while packing. */
	out->id = (char *)d->name;
	out->backend = (Ferry__V1__DeviceBackend)d->backend;
	out->vendor_id = d->vendor_id;
	out->device_id = d->device_id;
	out->driver = (char *)d->driver;
	out->migration_flags = d->migration_flags;
	out->dma_logging = d->dma_logging;
	out->saving_layout_handshake = d->saving_layout_handshake;
	out->migration_version = (char *)d->migration_version;
	out->vm_id = (char *)d->vm_id;
	out->state = (Ferry__V1__DeviceState)d->state;
	out->stop_copy_bytes = d->stop_copy_bytes;
}

const char *ferry_device_backend_name(enum ferry_device_backend backend)
{
	switch (backend) {
	case FERRY_BACKEND_SIM:
		return "sim";
	case FERRY_BACKEND_VFIO:
		return "vfio";
	}
	return "unknown";
}
