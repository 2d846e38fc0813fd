/* The test-only hooks (test_hooks.h) read their switches as documented and are off when unset. */
#include "test.h"

#include <stdlib.h>

#include "test_hooks.h"

FERRY_TEST(test_hooks_are_off_when_unset)
{
	unsetenv("FERRY_TEST_CORRUPT_BATCH");
	unsetenv("FERRY_TEST_CORRUPT_VCPU_STATE");
	unsetenv("FERRY_TEST_CORRUPT_PAGE");
	unsetenv("FERRY_TEST_DMA_LOG_IGNORED");
	bool final = true;
	uint64_t page = 7;
	EXPECT_EQ_U64(ferry_test_corrupt_batch(), 0);
	EXPECT(!ferry_test_corrupt_vcpu_state());
	EXPECT(!ferry_test_corrupt_page(&final, &page));
	EXPECT(!ferry_test_dma_log_ignored());
	setenv("FERRY_TEST_CORRUPT_PAGE", "", 1); /* empty is unset */
	EXPECT(!ferry_test_corrupt_page(&final, &page));
	setenv("FERRY_TEST_DMA_LOG_IGNORED", "0", 1); /* only "1" switches a boolean hook on */
	EXPECT(!ferry_test_dma_log_ignored());
}

FERRY_TEST(test_hooks_read_their_switches)
{
	setenv("FERRY_TEST_CORRUPT_BATCH", "3", 1);
	setenv("FERRY_TEST_CORRUPT_VCPU_STATE", "1", 1);
	setenv("FERRY_TEST_DMA_LOG_IGNORED", "1", 1);
	EXPECT_EQ_U64(ferry_test_corrupt_batch(), 3);
	EXPECT(ferry_test_corrupt_vcpu_state());
	EXPECT(ferry_test_dma_log_ignored());
	bool final = true;
	uint64_t page = 0;
	setenv("FERRY_TEST_CORRUPT_PAGE", "2000", 1);
	EXPECT(ferry_test_corrupt_page(&final, &page));
	EXPECT(!final);
	EXPECT_EQ_U64(page, 2000);
	setenv("FERRY_TEST_CORRUPT_PAGE", "final", 1);
	EXPECT(ferry_test_corrupt_page(&final, &page));
	EXPECT(final);
}
