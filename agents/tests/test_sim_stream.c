/* The sim device's data stream through the model: pre-copy (initial, dirty, ENOMSG), STOP_COPY's
 * end of stream, MIG_DATA_SIZE, the source -> bytes -> destination round trip, and every way the
 * destination refuses a stream while keeping its state untouched. */
#include "test.h"

#include <errno.h>
#include <stdlib.h>

#include "crc32c.h"
#include "sim_model.h"
#include "sim_stream.h"

#define ALL_FLAGS (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)
#define STATE_BYTES (5 * 4096 + 300)

static struct ferry_sim_model *make_dev(uint64_t seed, uint64_t change_rate)
{
	struct ferry_sim_config c = {
		.vendor_id = 0x1af4,
		.device_id = 0x1041,
		.migration_version = "ferry-sim/1",
		.mig_flags = ALL_FLAGS,
		.state_bytes = STATE_BYTES,
		.change_bytes_per_sec = change_rate,
		.seed = seed,
	};
	struct ferry_sim_model *m = NULL;
	char err[160];
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &m, err, sizeof err), 0);
	return m;
}

/* Everything a saving session gives until it says "nothing now" (-ENOMSG) or ends (0). */
struct bytes {
	uint8_t *p;
	size_t n;
};

static ssize_t drain(struct ferry_sim_model *m, uint64_t sess, struct bytes *out, size_t chunk)
{
	uint8_t buf[7000];
	ssize_t n;
	while ((n = ferry_sim_model_read(m, sess, buf, chunk)) > 0) {
		out->p = realloc(out->p, out->n + (size_t)n);
		memcpy(out->p + out->n, buf, (size_t)n);
		out->n += (size_t)n;
	}
	return n;
}

static uint64_t full_initial(void)
{
	return FERRY_SIM_HEADER_LEN + 6 * FERRY_SIM_RECORD_HEAD + STATE_BYTES;
}

FERRY_TEST(sim_stream_precopy_initial_dirty_and_enomsg)
{
	struct ferry_sim_model *m = make_dev(1, 0);
	uint64_t sess, s;
	struct ferry_precopy_info pi;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, FERRY_MIG_PRE_COPY, &sess), 0);
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
	EXPECT_EQ_U64(pi.initial_bytes, full_initial());
	EXPECT_EQ_U64(pi.dirty_bytes, 0);

	uint8_t buf[1000];
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess, buf, 1000), 1000);
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
	EXPECT_EQ_U64(pi.initial_bytes, full_initial() - 1000); /* shrinks as it is read */

	struct bytes got = {0};
	EXPECT_EQ_INT(drain(m, sess, &got, 333), -ENOMSG); /* momentarily exhausted, not the end */
	EXPECT_EQ_U64(got.n + 1000, full_initial());
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
	EXPECT_EQ_U64(pi.initial_bytes, 0);
	EXPECT_EQ_U64(pi.dirty_bytes, 0);
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess, buf, sizeof buf), -ENOMSG);

	ferry_sim_model_destroy(m);
	free(got.p);

	/* A device that keeps running changes its state, which makes dirty data. */
	m = make_dev(1, 8 * 4096);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, FERRY_MIG_PRE_COPY, &sess), 0);
	got = (struct bytes){0};
	EXPECT_EQ_INT(drain(m, sess, &got, 4096), -ENOMSG);
	ferry_sim_model_advance(m, 125000000); /* 125 ms at 32 KiB/s: one block-sized update */
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
	EXPECT_EQ_U64(pi.initial_bytes, 0);
	EXPECT(pi.dirty_bytes >= FERRY_SIM_RECORD_HEAD + 300);
	uint64_t dirty = pi.dirty_bytes;
	size_t before = got.n;
	EXPECT_EQ_INT(drain(m, sess, &got, 4096), -ENOMSG);
	EXPECT_EQ_U64(got.n - before, dirty);
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
	EXPECT_EQ_U64(pi.dirty_bytes, 0);

	/* Outside the pre-copy states precopy info is EINVAL, even on the same live session. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, FERRY_MIG_STOP_COPY, &s), 0);
	EXPECT_EQ_U64(s, 0); /* the same session continues */
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), -EINVAL);
	free(got.p);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_stream_stop_copy_ends_with_zero_reads)
{
	struct ferry_sim_model *m = make_dev(2, 1 << 20);
	uint64_t sess;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, FERRY_MIG_STOP_COPY, &sess), 0);
	uint64_t size = ferry_sim_model_stop_copy_size(m);
	EXPECT_EQ_U64(size, ferry_sim_stream_full_bytes(STATE_BYTES));
	ferry_sim_model_advance(m, 1000000000); /* stopped: nothing changes */
	struct bytes got = {0};
	EXPECT_EQ_INT(drain(m, sess, &got, 999), 0);
	EXPECT_EQ_U64(got.n, size); /* MIG_DATA_SIZE was exact */
	EXPECT_EQ_U64(ferry_sim_model_stop_copy_size(m), 0);
	uint8_t b[16];
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess, b, sizeof b), 0); /* and stays ended */
	free(got.p);
	ferry_sim_model_destroy(m);
}

/* Source runs pre-copy with a changing state, then STOP_COPY; the destination receives the bytes
 * in odd segments and commits. Returns the stream. */
static struct bytes migrate(struct ferry_sim_model *src)
{
	uint64_t sess, s;
	struct bytes out = {0};
	EXPECT_EQ_INT(ferry_sim_model_set_state(src, FERRY_MIG_PRE_COPY, &sess), 0);
	EXPECT_EQ_INT(drain(src, sess, &out, 1500), -ENOMSG);
	ferry_sim_model_advance(src, 200000000);
	EXPECT_EQ_INT(drain(src, sess, &out, 1500), -ENOMSG);
	ferry_sim_model_advance(src, 200000000); /* changes the last pass will carry */
	EXPECT_EQ_INT(ferry_sim_model_set_state(src, FERRY_MIG_PRE_COPY_P2P, &s), 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(src, FERRY_MIG_STOP_COPY, &s), 0);
	EXPECT_EQ_INT(drain(src, sess, &out, 1500), 0);
	return out;
}

static int feed(struct ferry_sim_model *dst, uint64_t sess, const struct bytes *b, size_t seg)
{
	for (size_t off = 0; off < b->n; off += seg) {
		size_t n = b->n - off < seg ? b->n - off : seg;
		ssize_t rc = ferry_sim_model_write(dst, sess, b->p + off, n);
		if (rc < 0)
			return (int)rc;
	}
	return 0;
}

FERRY_TEST(sim_stream_round_trip_gives_identical_state)
{
	struct ferry_sim_model *src = make_dev(3, 16 * 4096), *dst = make_dev(4, 16 * 4096);
	EXPECT(ferry_sim_model_state_crc(src) != ferry_sim_model_state_crc(dst));
	struct bytes stream = migrate(src);
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RESUMING, &sess), 0);
	EXPECT(sess != 0);
	EXPECT_EQ_INT(feed(dst, sess, &stream, 777), 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RUNNING, &s), 0);
	EXPECT(memcmp(ferry_sim_model_state_bytes(src), ferry_sim_model_state_bytes(dst), STATE_BYTES) == 0);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(src), ferry_sim_model_state_crc(dst));
	free(stream.p);
	ferry_sim_model_destroy(src);
	ferry_sim_model_destroy(dst);
}

/* The destination rejects `stream` (write or commit), stays in RESUMING with its state unchanged,
 * and names the reason. */
static void expect_rejected(const struct bytes *stream, struct ferry_sim_model *dst, const char *reason)
{
	uint32_t before = ferry_sim_model_state_crc(dst);
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RESUMING, &sess), 0);
	int wrc = feed(dst, sess, stream, 4000);
	int crc_rc = ferry_sim_model_set_state(dst, FERRY_MIG_STOP, &s);
	EXPECT(wrc == -EINVAL || wrc == 0);
	EXPECT_EQ_INT(crc_rc, -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_state(dst), FERRY_MIG_RESUMING);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(dst), before);
	if (!strstr(ferry_sim_model_error(dst), reason)) {
		fprintf(stderr, "  error '%s' does not name '%s'\n", ferry_sim_model_error(dst), reason);
		ferry_test_failures++;
	}
	ferry_sim_model_reset(dst); /* the only way to abort a resume */
	EXPECT_EQ_INT(ferry_sim_model_state(dst), FERRY_MIG_RUNNING);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(dst), before);
}

FERRY_TEST(sim_stream_destination_rejects_bad_streams_unchanged)
{
	struct ferry_sim_model *src = make_dev(5, 4096), *dst = make_dev(6, 0);
	struct bytes good = migrate(src);
	struct bytes bad = {malloc(good.n), good.n};

	memcpy(bad.p, good.p, good.n);
	bad.p[0] ^= 1;
	expect_rejected(&bad, dst, "magic");

	memcpy(bad.p, good.p, good.n);
	bad.p[8] = 3; /* a foreign version */
	expect_rejected(&bad, dst, "version 3");

	memcpy(bad.p, good.p, good.n);
	bad.p[100] ^= 0x40; /* inside the header, caught by its checksum */
	expect_rejected(&bad, dst, "corrupt");

	memcpy(bad.p, good.p, good.n);
	bad.p[FERRY_SIM_HEADER_LEN + FERRY_SIM_RECORD_HEAD + 10] ^= 1; /* a state byte */
	expect_rejected(&bad, dst, "checksum");

	struct bytes cut = {good.p, good.n - 5};
	expect_rejected(&cut, dst, "incomplete");

	struct bytes empty = {good.p, 0};
	expect_rejected(&empty, dst, "header");
	free(bad.p);

	/* Another device's identity: a different migration_version, a different state size. */
	struct ferry_sim_config c = *ferry_sim_model_config(dst);
	struct ferry_sim_model *other = NULL;
	char err[160];
	snprintf(c.migration_version, sizeof c.migration_version, "ferry-sim/2");
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &other, err, sizeof err), 0);
	expect_rejected(&good, other, "migration_version");
	ferry_sim_model_destroy(other);
	c = *ferry_sim_model_config(dst);
	c.state_bytes += 4096;
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &other, err, sizeof err), 0);
	expect_rejected(&good, other, "state is");
	ferry_sim_model_destroy(other);

	/* Trailing bytes after END. */
	struct bytes more = {malloc(good.n + 1), good.n + 1};
	memcpy(more.p, good.p, good.n);
	more.p[good.n] = 0;
	expect_rejected(&more, dst, "after the END");
	free(more.p);

	/* The good stream still commits. */
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RESUMING, &sess), 0);
	EXPECT_EQ_INT(feed(dst, sess, &good, 1), 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_STOP, &s), 0);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(dst), ferry_sim_model_state_crc(src));
	free(good.p);
	ferry_sim_model_destroy(src);
	ferry_sim_model_destroy(dst);
}

FERRY_TEST(sim_stream_refused_resuming_data)
{
	struct ferry_sim_model *dst = make_dev(7, 0);
	struct ferry_sim_faults f = {.refuse_resuming_data = true};
	ferry_sim_model_set_faults(dst, &f);
	uint64_t sess;
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RESUMING, &sess), 0);
	uint8_t b[8] = {0};
	EXPECT_EQ_INT(ferry_sim_model_write(dst, sess, b, sizeof b), -EIO);
	ferry_sim_model_destroy(dst);
}

FERRY_TEST(sim_stream_running_state_is_deterministic_per_seed)
{
	struct ferry_sim_model *a = make_dev(9, 100000), *b = make_dev(9, 100000), *c = make_dev(10, 100000);
	for (int i = 0; i < 5; i++) {
		ferry_sim_model_advance(a, 300000000);
		ferry_sim_model_advance(b, 300000000);
		ferry_sim_model_advance(c, 300000000);
	}
	EXPECT_EQ_INT(ferry_sim_model_state_crc(a), ferry_sim_model_state_crc(b));
	EXPECT(ferry_sim_model_state_crc(a) != ferry_sim_model_state_crc(c));
	/* Stopped devices do not change. */
	uint64_t s;
	uint32_t before = ferry_sim_model_state_crc(a);
	EXPECT_EQ_INT(ferry_sim_model_set_state(a, FERRY_MIG_STOP, &s), 0);
	ferry_sim_model_advance(a, 1000000000);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(a), before);
	ferry_sim_model_destroy(a);
	ferry_sim_model_destroy(b);
	ferry_sim_model_destroy(c);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A copy of `good` with a header whose version is `version`, re-sealed with a valid checksum. */
static struct bytes with_version(const struct bytes *good, uint32_t version)
{
	struct bytes b = {malloc(good->n), good->n};
	memcpy(b.p, good->p, good->n);
	put_le32(b.p + 8, version);
	put_le32(b.p + 164, ferry_crc32c(0, b.p, 164));
	return b;
}

FERRY_TEST(sim_stream_v2_record_heads_carry_block_crcs)
{
	struct ferry_sim_model *src = make_dev(21, 0);
	struct bytes s = migrate(src);
	/* Header, 6 blocks each with a 16-byte head, an END head: nothing else. */
	EXPECT_EQ_U64(s.n, FERRY_SIM_HEADER_LEN + 6 * FERRY_SIM_RECORD_HEAD + STATE_BYTES + FERRY_SIM_RECORD_HEAD);
	EXPECT_EQ_U64(get_le32(s.p + 8), 2);
	const uint8_t *rec = s.p + FERRY_SIM_HEADER_LEN;
	EXPECT_EQ_U64(get_le32(rec), FERRY_SIM_TAG_BLOCK);
	EXPECT_EQ_U64(get_le32(rec + 4), 0);
	EXPECT_EQ_U64(get_le32(rec + 8), ferry_crc32c(0, rec + FERRY_SIM_RECORD_HEAD, FERRY_SIM_BLOCK_SIZE));
	EXPECT_EQ_U64(get_le32(rec + 12), ferry_crc32c(0, rec, 12));
	const uint8_t *end = s.p + s.n - FERRY_SIM_RECORD_HEAD;
	EXPECT_EQ_U64(get_le32(end), FERRY_SIM_TAG_END);
	EXPECT_EQ_U64(get_le32(end + 4), 6);
	EXPECT_EQ_U64(get_le32(end + 8), ferry_sim_model_state_crc(src)); /* joined == direct */
	free(s.p);
	ferry_sim_model_destroy(src);
}

FERRY_TEST(sim_stream_corrupt_block_fails_the_write_that_completes_it)
{
	struct ferry_sim_model *src = make_dev(22, 0), *dst = make_dev(23, 0);
	struct bytes good = migrate(src);
	size_t first_body = FERRY_SIM_HEADER_LEN + FERRY_SIM_RECORD_HEAD;
	good.p[first_body + 10] ^= 1; /* a state byte of block 0 */
	uint32_t before = ferry_sim_model_state_crc(dst);
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RESUMING, &sess), 0);
	/* Everything before block 0's last byte is accepted; that write is refused. */
	size_t end_of_block = first_body + FERRY_SIM_BLOCK_SIZE;
	EXPECT_EQ_INT(ferry_sim_model_write(dst, sess, good.p, end_of_block - 1), (ssize_t)(end_of_block - 1));
	EXPECT_EQ_INT(ferry_sim_model_write(dst, sess, good.p + end_of_block - 1, 1), -EINVAL);
	EXPECT(strstr(ferry_sim_model_error(dst), "block 0 checksum") != NULL);
	/* Once refused, the session stays refused and the commit fails, the state untouched. */
	EXPECT_EQ_INT(ferry_sim_model_write(dst, sess, good.p + end_of_block, 16), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_STOP, &s), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_state(dst), FERRY_MIG_RESUMING);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(dst), before);
	free(good.p);
	ferry_sim_model_destroy(src);
	ferry_sim_model_destroy(dst);
}

FERRY_TEST(sim_stream_v2_refuses_bad_heads_end_crc_truncation_and_v1)
{
	struct ferry_sim_model *src = make_dev(24, 4096), *dst = make_dev(25, 0);
	struct bytes good = migrate(src), bad = {malloc(good.n), good.n};

	/* A record head whose index was damaged: caught by the head's own checksum. */
	memcpy(bad.p, good.p, good.n);
	bad.p[FERRY_SIM_HEADER_LEN + 4] ^= 0x02;
	expect_rejected(&bad, dst, "record head");

	/* A consistent END head whose whole-state CRC is wrong. */
	memcpy(bad.p, good.p, good.n);
	uint8_t *end = bad.p + bad.n - FERRY_SIM_RECORD_HEAD;
	put_le32(end + 8, get_le32(end + 8) ^ 0x100);
	put_le32(end + 12, ferry_crc32c(0, end, 12));
	expect_rejected(&bad, dst, "state checksum");

	/* END counting other than the state's blocks. */
	memcpy(bad.p, good.p, good.n);
	end = bad.p + bad.n - FERRY_SIM_RECORD_HEAD;
	put_le32(end + 4, 7);
	put_le32(end + 12, ferry_crc32c(0, end, 12));
	expect_rejected(&bad, dst, "END record counts");

	/* Truncated anywhere in the END head, or inside a block. */
	struct bytes cut = {good.p, good.n - 1};
	expect_rejected(&cut, dst, "incomplete");
	cut.n = good.n - FERRY_SIM_RECORD_HEAD;
	expect_rejected(&cut, dst, "incomplete");
	cut.n = FERRY_SIM_HEADER_LEN + FERRY_SIM_RECORD_HEAD + 100;
	expect_rejected(&cut, dst, "incomplete");
	free(bad.p);

	/* A version 1 stream (or any other) is refused by its version, with a valid header. */
	struct bytes v1 = with_version(&good, 1);
	expect_rejected(&v1, dst, "stream version 1, this device reads version 2 (version 1: an older ferry-simdevd");
	free(v1.p);

	/* The same stream re-sealed as version 2 still commits: the refusals above were the damage. */
	struct bytes v2 = with_version(&good, 2);
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_RESUMING, &sess), 0);
	EXPECT_EQ_INT(feed(dst, sess, &v2, 333), 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(dst, FERRY_MIG_STOP, &s), 0);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(dst), ferry_sim_model_state_crc(src));
	free(v2.p);
	free(good.p);
	ferry_sim_model_destroy(src);
	ferry_sim_model_destroy(dst);
}
