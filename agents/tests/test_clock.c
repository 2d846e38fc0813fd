/* Tests for clock.h: deadlines as timespecs. */
#include "clock.h"
#include "test.h"

FERRY_TEST(clock_timespec_add_ms_carries_into_seconds)
{
	struct timespec t = ferry_timespec_add_ms((struct timespec){.tv_sec = 10, .tv_nsec = 500000000L}, 2750);
	EXPECT_EQ_INT(t.tv_sec, 13);
	EXPECT_EQ_INT(t.tv_nsec, 250000000L);
	t = ferry_timespec_add_ms((struct timespec){.tv_sec = 10, .tv_nsec = 999999999L}, 1);
	EXPECT_EQ_INT(t.tv_sec, 11);
	EXPECT_EQ_INT(t.tv_nsec, 999999L);
	t = ferry_timespec_add_ms((struct timespec){.tv_sec = 10, .tv_nsec = 1000000L}, 999);
	EXPECT_EQ_INT(t.tv_sec, 11);
	EXPECT_EQ_INT(t.tv_nsec, 0);
	t = ferry_timespec_add_ms((struct timespec){.tv_sec = 10, .tv_nsec = 7}, 0);
	EXPECT_EQ_INT(t.tv_sec, 10);
	EXPECT_EQ_INT(t.tv_nsec, 7);
}

FERRY_TEST(clock_realtime_after_ms_is_that_far_from_now)
{
	int64_t before = ferry_realtime_ns();
	struct timespec t = ferry_realtime_after_ms(1500);
	int64_t after = ferry_realtime_ns();
	int64_t at = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
	EXPECT(at >= before + 1500000000LL);
	EXPECT(at <= after + 1500000000LL);
	EXPECT(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
}
