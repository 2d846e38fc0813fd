/* Test-only hooks read from the environment; see test_hooks.h. */
#include "test_hooks.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool is_one(const char *name)
{
	const char *v = getenv(name);
	return v && strcmp(v, "1") == 0;
}

void ferry_test_pause_point(const char *point, const char *migration_id)
{
	const char *at = getenv("FERRY_TEST_PAUSE_AT");
	if (!at || strcmp(at, point) != 0)
		return;
	const char *ms_env = getenv("FERRY_TEST_PAUSE_MS");
	unsigned long long ms = ms_env ? strtoull(ms_env, NULL, 10) : 60000;
	ferry_log(FERRY_LOG_WARNING, "msg=\"test pause\" point=%s migration_id=%s pause_ms=%llu", point, migration_id, ms);
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint64_t ferry_test_corrupt_batch(void)
{
	const char *v = getenv("FERRY_TEST_CORRUPT_BATCH");
	return v ? strtoull(v, NULL, 10) : 0;
}

bool ferry_test_tear_page(uint64_t *page)
{
	const char *v = getenv("FERRY_TEST_TEAR_PAGE");
	if (!v || !*v)
		return false;
	*page = strtoull(v, NULL, 10);
	return true;
}

bool ferry_test_corrupt_vcpu_state(void)
{
	return is_one("FERRY_TEST_CORRUPT_VCPU_STATE");
}

bool ferry_test_corrupt_page(bool *final, uint64_t *page)
{
	const char *v = getenv("FERRY_TEST_CORRUPT_PAGE");
	if (!v || !*v)
		return false;
	*final = strcmp(v, "final") == 0;
	*page = *final ? 0 : strtoull(v, NULL, 10);
	return true;
}

bool ferry_test_dma_log_ignored(void)
{
	return is_one("FERRY_TEST_DMA_LOG_IGNORED");
}
