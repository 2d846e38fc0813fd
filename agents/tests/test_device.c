/* Device descriptors: backend numbers are the wire's, and the proto form carries every field. */
#include "device.h"
#include "test.h"

FERRY_TEST(device_backend_values_match_the_wire)
{
	EXPECT_EQ_INT(FERRY_BACKEND_VFIO, 1);
	EXPECT_EQ_INT(FERRY_BACKEND_SIM, 2);
	EXPECT_EQ_INT(FERRY_MIGRATION_STOP_COPY, 1);
	EXPECT_EQ_INT(FERRY_MIGRATION_P2P, 2);
	EXPECT_EQ_INT(FERRY_MIGRATION_PRE_COPY, 4);
	EXPECT_EQ_STR(ferry_device_backend_name(FERRY_BACKEND_SIM), "sim");
	EXPECT_EQ_STR(ferry_device_backend_name(FERRY_BACKEND_VFIO), "vfio");
	EXPECT_EQ_STR(ferry_device_backend_name((enum ferry_device_backend)0), "unknown");
}

FERRY_TEST(device_to_proto_copies_every_field_without_allocating)
{
	struct ferry_device_info d = {
		.name = "0000:3b:00.1",
		.backend = FERRY_BACKEND_VFIO,
		.vendor_id = 0x8086,
		.device_id = 0xffff,
		.driver = "ice-vfio-pci",
		.migration_flags = FERRY_MIGRATION_STOP_COPY | FERRY_MIGRATION_P2P,
		.dma_logging = true,
		.saving_layout_handshake = true,
		.migration_version = "ice/2",
		.vm_id = "vm-9",
		.stop_copy_bytes = UINT64_MAX,
		.state = FERRY__V1__DEVICE_STATE__DEVICE_STATE_STOP,
	};
	Ferry__V1__Device out;
	ferry_device_to_proto(&d, &out);
	EXPECT(out.base.descriptor == &ferry__v1__device__descriptor);
	EXPECT(out.id == d.name);
	EXPECT(out.driver == d.driver);
	EXPECT(out.migration_version == d.migration_version);
	EXPECT(out.vm_id == d.vm_id);
	EXPECT_EQ_INT(out.backend, FERRY__V1__DEVICE_BACKEND__DEVICE_BACKEND_VFIO);
	EXPECT_EQ_INT(out.vendor_id, 0x8086);
	EXPECT_EQ_INT(out.device_id, 0xffff);
	EXPECT_EQ_INT(out.migration_flags, 3);
	EXPECT(out.dma_logging);
	EXPECT(out.saving_layout_handshake);
	EXPECT_EQ_INT(out.state, FERRY__V1__DEVICE_STATE__DEVICE_STATE_STOP);
	EXPECT_EQ_U64(out.stop_copy_bytes, UINT64_MAX);
}
