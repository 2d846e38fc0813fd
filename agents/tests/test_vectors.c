/* Cross-language vectors (proto/vectors/README.md): our own files and the Swift side's files
 * decode to the canonical values, and the checker does notice a wrong value. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test.h"
#include "vectors_canonical.h"
#include "wire.h"

static void vector_dir(const char *side, char *out, size_t n)
{
	const char *repo = getenv("FERRY_REPO");
	snprintf(out, n, "%s/proto/vectors/%s", repo ? repo : "..", side);
}

static void expect_all_match(const char *dir)
{
	for (size_t i = 0; i < FERRY_VECTOR_COUNT; i++) {
		char why[512] = "";
		int rc = ferry_vector_check_file(&ferry_vectors[i], dir, why, sizeof why);
		if (rc != 0)
			fprintf(stderr, "  %s/%s: %s\n", dir, ferry_vectors[i].file, why);
		EXPECT_EQ_INT(rc, 0);
	}
}

FERRY_TEST(vectors_c_files_decode_to_canonical_values)
{
	char dir[4096];
	vector_dir("c", dir, sizeof dir);
	expect_all_match(dir);
}

FERRY_TEST(vectors_swift_files_decode_to_canonical_values)
{
	char dir[4096];
	struct stat st;
	vector_dir("swift", dir, sizeof dir);
	if (stat(dir, &st) != 0 && errno == ENOENT) {
		fprintf(stderr, "  note: %s does not exist yet (written by the Swift side); skipped\n", dir);
		return;
	}
	expect_all_match(dir);
}

FERRY_TEST(vectors_canonical_frames_match_themselves)
{
	for (size_t i = 0; i < FERRY_VECTOR_COUNT; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		char why[512] = "";
		EXPECT_EQ_INT(ferry_vectors[i].encode(&buf, &len), 0);
		EXPECT_EQ_INT(ferry_vector_check(&ferry_vectors[i], buf, len, why, sizeof why), 0);
		free(buf);
	}
}

/* hello.frame with one byte changed, truncated, or extended must be reported, naming the field. */
FERRY_TEST(vectors_check_reports_a_wrong_value)
{
	const struct ferry_vector *hello = &ferry_vectors[0];
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[512] = "";
	EXPECT_EQ_STR(hello->file, "hello.frame");
	EXPECT_EQ_INT(hello->encode(&buf, &len), 0);
	uint8_t *at = memchr(buf, 'b', len); /* first byte of boot_id "b00t-1234" */
	EXPECT(at != NULL);
	if (!at)
		return;
	*at = 'B';
	EXPECT_EQ_INT(ferry_vector_check(hello, buf, len, why, sizeof why), 1);
	EXPECT(strstr(why, "boot_id") != NULL);
	*at = 'b';

	EXPECT_EQ_INT(ferry_vector_check(hello, buf, len - 1, why, sizeof why), 1);
	EXPECT(strstr(why, "truncated") != NULL);
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, buf, len);
	longer[len] = 0;
	EXPECT_EQ_INT(ferry_vector_check(hello, longer, len + 1, why, sizeof why), 1);
	EXPECT(strstr(why, "trailing") != NULL);
	buf[5] = 2; /* now a WELCOME frame */
	EXPECT_EQ_INT(ferry_vector_check(hello, buf, len, why, sizeof why), 1);
	free(longer);
	free(buf);
}

/* An extra field unknown to the schema decodes fine but is not the canonical value. */
FERRY_TEST(vectors_check_reports_unknown_fields)
{
	const struct ferry_vector *hb = &ferry_vectors[3];
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[512] = "";
	EXPECT_EQ_STR(hb->file, "heartbeat.frame");
	EXPECT_EQ_INT(hb->encode(&buf, &len), 0);
	uint8_t *more = malloc(len + 2);
	memcpy(more, buf, len);
	more[len] = 0x78; /* field 15, varint */
	more[len + 1] = 0x01;
	more[8] = (uint8_t)(more[8] + 2); /* header_len */
	EXPECT_EQ_INT(ferry_vector_check(hb, more, len + 2, why, sizeof why), 1);
	EXPECT(strstr(why, "re-packed") != NULL);
	free(more);
	free(buf);
}

FERRY_TEST(vectors_missing_file_is_a_mismatch)
{
	char why[512] = "";
	EXPECT_EQ_INT(ferry_vector_check_file(&ferry_vectors[0], "/nonexistent-ferry-vectors", why, sizeof why), 1);
	EXPECT(strstr(why, "cannot read") != NULL);
}
