/* Host facts and the Inventory message. */
#include <errno.h>
#include <stdlib.h>

#include "inventory.h"
#include "test.h"

static const char meminfo_sample[] = "MemTotal:       16318588 kB\n"
				     "MemFree:         1234567 kB\n"
				     "MemAvailable:    9876543 kB\n"
				     "Buffers:          102400 kB\n"
				     "HugePages_Total:       0\n";

FERRY_TEST(inventory_meminfo_parses_total_and_available_in_bytes)
{
	uint64_t total = 0, avail = 0;
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo(meminfo_sample, &total, &avail), 0);
	EXPECT_EQ_U64(total, 16318588ull * 1024);
	EXPECT_EQ_U64(avail, 9876543ull * 1024);
}

FERRY_TEST(inventory_meminfo_missing_or_malformed_field_is_einval)
{
	uint64_t total = 11, avail = 22;
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo("MemTotal: 100 kB\nMemFree: 50 kB\n", &total, &avail), -EINVAL);
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo("MemAvailable: 50 kB\n", &total, &avail), -EINVAL);
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo("", &total, &avail), -EINVAL);
	/* Only a whole field name at the start of a line counts. */
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo("XMemTotal: 1 kB\nMemTotalX: 1 kB\nMemAvailable: 5 kB\n",
						     &total, &avail),
		      -EINVAL);
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo("MemTotal: lots kB\nMemAvailable: 5 kB\n", &total, &avail),
		      -EINVAL);
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo("MemTotal: 100 MB\nMemAvailable: 5 kB\n", &total, &avail),
		      -EINVAL);
	EXPECT_EQ_INT(ferry_host_facts_parse_meminfo("MemTotal: 18014398509481984 kB\nMemAvailable: 5 kB\n", &total,
						     &avail),
		      -ERANGE);
	/* Outputs are untouched on failure. */
	EXPECT_EQ_U64(total, 11);
	EXPECT_EQ_U64(avail, 22);
}

FERRY_TEST(inventory_host_facts_read_this_host)
{
	struct ferry_host_facts f;
	memset(&f, 0xa5, sizeof f);
	EXPECT_EQ_INT(ferry_host_facts_read(&f), 0);
	EXPECT(f.cpu_count >= 1);
	EXPECT(f.free_memory_bytes > 0);
	EXPECT(f.memory_bytes >= f.free_memory_bytes);
	EXPECT(memchr(f.kernel_release, '\0', sizeof f.kernel_release) != NULL);
	EXPECT(strlen(f.kernel_release) > 0);
}

static const struct ferry_device_info devices[2] = {
	{
		.name = "sim0",
		.backend = FERRY_BACKEND_SIM,
		.vendor_id = 0x15b3,
		.device_id = 0x101e,
		.driver = "ferry-sim",
		.migration_flags = 7,
		.dma_logging = true,
		.saving_layout_handshake = true,
		.migration_version = "ferry-sim/1",
		.vm_id = "vm-1",
		.stop_copy_bytes = 67108864,
		.state = FERRY__V1__DEVICE_STATE__DEVICE_STATE_RUNNING,
	},
	{
		.name = "0000:3b:00.1",
		.backend = FERRY_BACKEND_VFIO,
		.vendor_id = 0x8086,
		.device_id = 0x1889,
		.driver = "ice-vfio-pci",
		.migration_flags = 3,
		.migration_version = "ice/2",
		.state = 0,
	},
};

static void expect_same_device(const Ferry__V1__Device *got, const struct ferry_device_info *want)
{
	EXPECT_EQ_STR(got->id, want->name);
	EXPECT_EQ_INT(got->backend, want->backend);
	EXPECT_EQ_INT(got->vendor_id, want->vendor_id);
	EXPECT_EQ_INT(got->device_id, want->device_id);
	EXPECT_EQ_STR(got->driver, want->driver);
	EXPECT_EQ_INT(got->migration_flags, want->migration_flags);
	EXPECT_EQ_INT(got->dma_logging, want->dma_logging);
	EXPECT_EQ_INT(got->saving_layout_handshake, want->saving_layout_handshake);
	EXPECT_EQ_STR(got->migration_version, want->migration_version);
	EXPECT_EQ_STR(got->vm_id, want->vm_id);
	EXPECT_EQ_INT(got->state, want->state);
	EXPECT_EQ_U64(got->stop_copy_bytes, want->stop_copy_bytes);
}

FERRY_TEST(inventory_build_packs_and_unpacks_to_the_same_values)
{
	const struct ferry_host_facts facts = {
		.cpu_count = 2,
		.memory_bytes = 25769803776ull,
		.free_memory_bytes = 20000000000ull,
		.kernel_release = "6.18.44",
	};
	static struct ferry_inventory inv;
	ferry_inventory_build(&inv, "hôte-α", &facts, "10.0.0.1:7101", devices, 2);

	size_t size = ferry__v1__inventory__get_packed_size(&inv.msg);
	uint8_t *buf = malloc(size);
	EXPECT(buf != NULL);
	EXPECT_EQ_U64(ferry__v1__inventory__pack(&inv.msg, buf), size);
	Ferry__V1__Inventory *got = ferry__v1__inventory__unpack(NULL, size, buf);
	EXPECT(got != NULL);
	if (got) {
		EXPECT_EQ_STR(got->host_id, "hôte-α");
		EXPECT_EQ_INT(got->cpu_count, 2);
		EXPECT_EQ_U64(got->memory_bytes, 25769803776ull);
		EXPECT_EQ_U64(got->free_memory_bytes, 20000000000ull);
		EXPECT_EQ_STR(got->agent_version, "0.1.0");
		EXPECT_EQ_STR(got->kernel_release, "6.18.44");
		EXPECT_EQ_STR(got->data_address, "10.0.0.1:7101");
		EXPECT_EQ_INT(got->n_devices, 2);
		if (got->n_devices == 2) {
			expect_same_device(got->devices[0], &devices[0]);
			expect_same_device(got->devices[1], &devices[1]);
		}
		EXPECT_EQ_INT(got->n_vms, 0);
		ferry__v1__inventory__free_unpacked(got, NULL);
	}
	free(buf);
}

FERRY_TEST(inventory_build_with_no_devices_and_real_facts)
{
	struct ferry_host_facts facts;
	EXPECT_EQ_INT(ferry_host_facts_read(&facts), 0);
	static struct ferry_inventory inv;
	ferry_inventory_build(&inv, "host-b", &facts, "0.0.0.0:7101", NULL, 0);
	uint8_t buf[1024];
	size_t size = ferry__v1__inventory__get_packed_size(&inv.msg);
	EXPECT(size <= sizeof buf);
	if (size > sizeof buf)
		return;
	ferry__v1__inventory__pack(&inv.msg, buf);
	Ferry__V1__Inventory *got = ferry__v1__inventory__unpack(NULL, size, buf);
	EXPECT(got != NULL);
	if (got) {
		EXPECT_EQ_STR(got->host_id, "host-b");
		EXPECT_EQ_INT(got->cpu_count, facts.cpu_count);
		EXPECT_EQ_U64(got->memory_bytes, facts.memory_bytes);
		EXPECT_EQ_STR(got->kernel_release, facts.kernel_release);
		EXPECT_EQ_INT(got->n_devices, 0);
		ferry__v1__inventory__free_unpacked(got, NULL);
	}
}
