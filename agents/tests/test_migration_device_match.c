/* Destination device matching (migration_device_match.h): twins found in order, busy and already
 * given devices skipped, and a clear refusal when identity or capabilities differ. */
#include "test.h"

#include <errno.h>

#include "migration_device_match.h"

#define ALL (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)

static struct ferry_mig_device_desc desc(const char *name, uint16_t device_id, const char *version, uint32_t flags)
{
	struct ferry_mig_device_desc d = {.name = name, .caps = {.mig_flags = flags, .dma_logging = true}};
	d.compat.vendor_id = 0x1af4;
	d.compat.device_id = device_id;
	snprintf(d.compat.driver, sizeof d.compat.driver, "ferry-sim");
	snprintf(d.compat.migration_version, sizeof d.compat.migration_version, "%s", version);
	return d;
}

FERRY_TEST(migration_device_match_finds_free_twins)
{
	struct ferry_mig_device_desc want[2] = {desc("src-nic", 0x1041, "v1", ALL), desc("src-nic2", 0x1041, "v1", ALL)};
	struct ferry_mig_device_desc local[4] = {desc("gpu", 0x1050, "v1", ALL), desc("nic-a", 0x1041, "v1", ALL),
						 desc("nic-b", 0x1041, "v1", ALL), desc("nic-c", 0x1041, "v1", ALL)};
	bool busy[4] = {false, true, false, false}; /* nic-a belongs to another VM */
	size_t out[2];
	char err[512] = "";
	EXPECT_EQ_INT(ferry_mig_device_match(want, 2, local, busy, 4, out, err, sizeof err), 0);
	EXPECT_EQ_U64(out[0], 2); /* nic-b */
	EXPECT_EQ_U64(out[1], 3); /* nic-c: each local device is given once */
	EXPECT_EQ_INT(ferry_mig_device_match(want, 2, local, NULL, 4, out, err, sizeof err), 0);
	EXPECT_EQ_U64(out[0], 1);
	EXPECT_EQ_U64(out[1], 2);
}

FERRY_TEST(migration_device_match_refuses_with_the_reason)
{
	struct ferry_mig_device_desc want[1] = {desc("src-nic", 0x1041, "v1", ALL)};
	struct ferry_mig_device_desc local[2] = {desc("nic-old", 0x1041, "v0", ALL),
						 desc("nic-nopre", 0x1041, "v1", ALL & ~FERRY_MIG_FLAG_PRE_COPY)};
	size_t out[2];
	char err[512] = "";
	EXPECT_EQ_INT(ferry_mig_device_match(want, 1, local, NULL, 2, out, err, sizeof err), -ENODEV);
	EXPECT(strstr(err, "src-nic") != NULL);
	EXPECT(strstr(err, "migration_version 'v1'") != NULL);
	EXPECT(strstr(err, "1 with the same identity but other capabilities") != NULL);

	struct ferry_mig_device_desc two[2] = {desc("a", 0x1041, "v1", ALL), desc("b", 0x1041, "v1", ALL)};
	struct ferry_mig_device_desc one[1] = {desc("x", 0x1041, "v1", ALL)};
	EXPECT_EQ_INT(ferry_mig_device_match(two, 2, one, NULL, 1, out, err, sizeof err), -ENODEV);
	EXPECT(strstr(err, "source device b") != NULL);
	EXPECT(strstr(err, "1 with the same identity and capabilities, all taken") != NULL);
}
