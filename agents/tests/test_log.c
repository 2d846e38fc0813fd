/* log: level names, the level filter, and quoting of peer-supplied values. Also sets the log level
 * of the whole test run: FERRY_TEST_LOG_LEVEL (default warning), so that state-change lines at
 * info do not bury the test results; set it to debug to see them. */
#include "log.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>

__attribute__((constructor)) static void test_log_level_from_env(void)
{
	const char *name = getenv("FERRY_TEST_LOG_LEVEL");
	enum ferry_log_level level = FERRY_LOG_WARNING;
	if (name)
		ferry_log_level_parse(name, &level);
	ferry_log_set_level(level);
}

FERRY_TEST(log_level_names_parse_and_filter)
{
	enum ferry_log_level l;
	const char *names[] = {"trace", "debug", "info", "warning", "error"};
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ_INT(ferry_log_level_parse(names[i], &l), 0);
		EXPECT_EQ_INT(l, i);
		EXPECT_EQ_STR(ferry_log_level_name(l), names[i]);
	}
	EXPECT_EQ_INT(ferry_log_level_parse("warn", &l), -EINVAL);
	EXPECT_EQ_INT(ferry_log_level_parse("INFO", &l), -EINVAL);
	ferry_log_set_level(FERRY_LOG_WARNING);
	EXPECT(!ferry_log_enabled(FERRY_LOG_INFO));
	EXPECT(ferry_log_enabled(FERRY_LOG_WARNING));
	EXPECT(ferry_log_enabled(FERRY_LOG_ERROR));
}

FERRY_TEST(log_quote_escapes_and_truncates)
{
	char buf[64];
	EXPECT_EQ_STR(ferry_log_quote("plain words", buf, sizeof buf), "\"plain words\"");
	EXPECT_EQ_STR(ferry_log_quote("say \"hi\"\\", buf, sizeof buf), "\"say \\\"hi\\\"\\\\\"");
	EXPECT_EQ_STR(ferry_log_quote("a\nb\tc\x7f", buf, sizeof buf), "\"a\\nb\\x09c\\x7f\"");
	EXPECT_EQ_STR(ferry_log_quote(NULL, buf, sizeof buf), "\"\"");
	char small[12];
	EXPECT_EQ_STR(ferry_log_quote("0123456789abcdef", small, sizeof small), "\"012345...\"");
	EXPECT_EQ_INT(strlen(small), 11);
}
