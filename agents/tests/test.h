/*
 * Minimal test harness: each tests/test_*.c file defines tests with FERRY_TEST(name) { ... } and
 * checks with EXPECT / EXPECT_EQ_*; the runner (tests/runner.c) runs every test in a forked child
 * so one crash or failed check cannot hide another, and ends with "N passed, N failed".
 * FERRY_TEST_FILTER=substring runs only matching tests.
 */
#ifndef FERRY_TEST_H
#define FERRY_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct ferry_test {
	const char *name;
	void (*fn)(void);
	struct ferry_test *next;
};

void ferry_test_register(struct ferry_test *t);
extern int ferry_test_failures; /* checks failed in the current test (in the child) */

#define FERRY_TEST(name)                                                                   \
	static void test_##name(void);                                                     \
	static struct ferry_test ferry_test_rec_##name = {#name, test_##name, NULL};       \
	__attribute__((constructor)) static void ferry_test_reg_##name(void)               \
	{                                                                                  \
		ferry_test_register(&ferry_test_rec_##name);                               \
	}                                                                                  \
	static void test_##name(void)

#define EXPECT(cond)                                                                       \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "  %s:%d: expected %s\n", __FILE__, __LINE__, #cond);   \
			ferry_test_failures++;                                             \
		}                                                                          \
	} while (0)

#define EXPECT_EQ_INT(a, b)                                                                \
	do {                                                                               \
		long long va_ = (long long)(a), vb_ = (long long)(b);                      \
		if (va_ != vb_) {                                                          \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,  \
				__LINE__, #a, va_, #b, vb_);                               \
			ferry_test_failures++;                                             \
		}                                                                          \
	} while (0)

#define EXPECT_EQ_U64(a, b)                                                                \
	do {                                                                               \
		uint64_t va_ = (uint64_t)(a), vb_ = (uint64_t)(b);                         \
		if (va_ != vb_) {                                                          \
			fprintf(stderr, "  %s:%d: %s == %" PRIu64 ", expected %" PRIu64 "\n",    \
				__FILE__, __LINE__, #a, va_, vb_);                         \
			ferry_test_failures++;                                             \
		}                                                                          \
	} while (0)

#define EXPECT_EQ_STR(a, b)                                                                \
	do {                                                                               \
		const char *sa_ = (a), *sb_ = (b);                                         \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                               \
			fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,    \
				__LINE__, #a, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");  \
			ferry_test_failures++;                                             \
		}                                                                          \
	} while (0)

#endif
