/* Test-only pause points; see test_pause.h. */
#include "test_pause.h"

#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
