/* The sim device's state machine against the kernel: every (from, to) pair under every capability
 * set, the arcs each flag set makes a driver implement (reference 1.5), the paths of 1.6, session
 * opening/continuation/death (1.7), ERROR and reset (1.11), injected faults and the saving-layout
 * handshake. */
#include "test.h"

#include <errno.h>

#include "sim_model.h"
#include "sim_stream.h"

static const uint32_t flag_sets[] = {
	FERRY_MIG_FLAG_STOP_COPY,
	FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P,
	FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY,
	FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY,
};

enum { E = FERRY_MIG_ERROR, S = FERRY_MIG_STOP, R = FERRY_MIG_RUNNING, SC = FERRY_MIG_STOP_COPY,
       RS = FERRY_MIG_RESUMING, RP = FERRY_MIG_RUNNING_P2P, PC = FERRY_MIG_PRE_COPY, PP = FERRY_MIG_PRE_COPY_P2P };

static struct ferry_sim_config base_config(uint32_t flags)
{
	struct ferry_sim_config c = {
		.vendor_id = 0x1af4,
		.device_id = 0x1041,
		.migration_version = "ferry-sim/1",
		.mig_flags = flags,
		.dma_logging = true,
		.state_bytes = 3 * 4096 + 100,
		.seed = 7,
	};
	return c;
}

static struct ferry_sim_model *make(const struct ferry_sim_config *c)
{
	struct ferry_sim_model *m = NULL;
	char err[160] = "";
	int rc = ferry_sim_model_create(c, &m, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "  create: %s\n", err);
	return m;
}

/* Writes a complete, valid stream from a twin device into m's resuming session, so that leaving
 * RESUMING (the commit arc) can succeed as it does in a real migration. */
static void feed_valid_stream(struct ferry_sim_model *m, uint64_t sess)
{
	struct ferry_sim_config c = *ferry_sim_model_config(m);
	c.seed ^= 0xabcdef;
	c.faults = (struct ferry_sim_faults){0};
	c.saving_layout_regions = 0;
	struct ferry_sim_model *src = make(&c);
	uint64_t out;
	EXPECT_EQ_INT(ferry_sim_model_set_state(src, SC, &out), 0);
	char buf[5000];
	ssize_t n;
	while ((n = ferry_sim_model_read(src, out, buf, sizeof buf)) > 0)
		EXPECT_EQ_INT(ferry_sim_model_write(m, sess, buf, (size_t)n), n);
	EXPECT_EQ_INT(n, 0);
	ferry_sim_model_destroy(src);
}

/* Puts a fresh model into `state` (from RUNNING), with a valid stream written if RESUMING. */
static void enter(struct ferry_sim_model *m, uint32_t state)
{
	uint64_t s = 0;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, state, &s), 0);
	if (state == RS)
		feed_valid_stream(m, s);
}

/* The arcs a driver must implement per flag set, copied from the reference's section 1.5 table
 * (written out by hand, not derived from mig_fsm, so the two are checked against each other). */
static const uint8_t arcs_sc[][2] = {{R, S}, {S, R}, {S, SC}, {SC, S}, {S, RS}, {RS, S}};
static const uint8_t arcs_p2p[][2] = {{R, RP}, {RP, R}, {RP, S}, {S, RP}, {S, SC}, {SC, S}, {S, RS}, {RS, S}};
static const uint8_t arcs_pc[][2] = {{R, S}, {S, R}, {S, SC}, {SC, S}, {S, RS}, {RS, S}, {R, PC}, {PC, R}, {PC, SC}};
static const uint8_t arcs_all[][2] = {{R, RP},  {RP, R},  {RP, S},  {S, RP},  {S, SC},  {SC, S},  {S, RS},
				       {RS, S},  {R, PC},  {PC, R},  {PC, PP}, {PP, PC}, {PP, RP}, {PP, SC},
				       {RP, PP}};

static void expect_arc_set(uint32_t flags, bool seen[8][8])
{
	const uint8_t(*want)[2];
	size_t n;
	switch (flags) {
	case FERRY_MIG_FLAG_STOP_COPY:
		want = arcs_sc, n = sizeof arcs_sc / sizeof arcs_sc[0];
		break;
	case FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P:
		want = arcs_p2p, n = sizeof arcs_p2p / sizeof arcs_p2p[0];
		break;
	case FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY:
		want = arcs_pc, n = sizeof arcs_pc / sizeof arcs_pc[0];
		break;
	default:
		want = arcs_all, n = sizeof arcs_all / sizeof arcs_all[0];
		break;
	}
	bool expected[8][8] = {{false}};
	for (size_t i = 0; i < n; i++)
		expected[want[i][0]][want[i][1]] = true;
	for (int a = 0; a < 8; a++)
		for (int b = 0; b < 8; b++)
			if (expected[a][b] != seen[a][b]) {
				fprintf(stderr, "  flags 0x%x arc %s -> %s: executed %d, reference says %d\n", flags,
					ferry_mig_state_name((uint32_t)a), ferry_mig_state_name((uint32_t)b), seen[a][b],
					expected[a][b]);
				ferry_test_failures++;
			}
}

/* Every (from, to) pair, to including ERROR and an out-of-range value, under every flag set: the
 * model accepts exactly what mig_fsm (the kernel's table) accepts, runs exactly its path, and
 * returns a session exactly when the last arc opens one. */
FERRY_TEST(sim_model_every_pair_matches_kernel_walk)
{
	int cases = 0;
	for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
		uint32_t flags = flag_sets[f];
		bool seen[8][8] = {{false}};
		struct ferry_sim_config c = base_config(flags);
		for (uint32_t from = 1; from < FERRY_MIG_NR_STATES; from++) {
			if (!ferry_mig_state_supported(from, flags))
				continue;
			for (uint32_t to = 0; to <= FERRY_MIG_NR_STATES; to++) {
				struct ferry_sim_model *m = make(&c);
				uint64_t opened = 0;
				enter(m, from);
				EXPECT_EQ_INT(ferry_sim_model_state(m), from);
				uint64_t live_before = ferry_sim_model_session(m);

				uint32_t path[FERRY_MIG_MAX_PATH];
				size_t n = 0;
				int want_rc = ferry_mig_path(from, to, flags, path, FERRY_MIG_MAX_PATH, &n);
				int rc = ferry_sim_model_set_state(m, to, &opened);
				uint32_t arcs[FERRY_MIG_MAX_PATH][2];
				size_t na = ferry_sim_model_last_arcs(m, arcs, FERRY_MIG_MAX_PATH);
				cases++;
				if (want_rc < 0) {
					EXPECT_EQ_INT(rc, -EINVAL);
					EXPECT_EQ_INT(ferry_sim_model_state(m), from);
					EXPECT_EQ_INT(na, 0);
					EXPECT_EQ_U64(opened, 0);
					EXPECT_EQ_U64(ferry_sim_model_session(m), live_before);
					ferry_sim_model_destroy(m);
					continue;
				}
				EXPECT_EQ_INT(rc, 0);
				EXPECT_EQ_INT(ferry_sim_model_state(m), to);
				EXPECT_EQ_INT(na, n);
				enum ferry_mig_arc_session last = FERRY_MIG_SESSION_NONE;
				for (size_t i = 0; i < na && i < n; i++) {
					EXPECT_EQ_INT(arcs[i][1], path[i]);
					EXPECT_EQ_INT(arcs[i][0], i ? path[i - 1] : from);
					seen[arcs[i][0]][arcs[i][1]] = true;
					last = ferry_mig_arc_session(arcs[i][0], arcs[i][1]);
				}
				bool opens = last == FERRY_MIG_SESSION_OPEN_SAVING || last == FERRY_MIG_SESSION_OPEN_RESUMING;
				EXPECT_EQ_INT(opened != 0, opens);
				if (opens)
					EXPECT_EQ_U64(ferry_sim_model_session(m), opened);
				/* A session survives only a move inside the saving group (or none at all). */
				bool keeps = n == 0 || (ferry_mig_state_is_saving(from) && ferry_mig_state_is_saving(to));
				if (!opens)
					EXPECT_EQ_U64(ferry_sim_model_session(m), keeps ? live_before : 0);
				ferry_sim_model_destroy(m);
			}
		}
		expect_arc_set(flags, seen);
	}
	/* 4 + 5 + 5 + 7 starting states, each against 9 targets. */
	EXPECT_EQ_INT(cases, (4 + 5 + 5 + 7) * 9);
}

static void expect_path(struct ferry_sim_model *m, uint32_t from, uint32_t to, const uint32_t *want, size_t n,
			bool opens)
{
	uint64_t s = 0;
	ferry_sim_model_reset(m);
	enter(m, from);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, to, &s), 0);
	uint32_t arcs[FERRY_MIG_MAX_PATH][2];
	size_t na = ferry_sim_model_last_arcs(m, arcs, FERRY_MIG_MAX_PATH);
	EXPECT_EQ_INT(na, n);
	for (size_t i = 0; i < n && i < na; i++)
		EXPECT_EQ_INT(arcs[i][1], want[i]);
	EXPECT_EQ_INT(s != 0, opens);
}

/* The full paths listed in reference 1.6 for a P2P + PRE_COPY device, and two without P2P. */
FERRY_TEST(sim_model_reference_paths)
{
	struct ferry_sim_config c = base_config(flag_sets[3]);
	struct ferry_sim_model *m = make(&c);
	expect_path(m, R, S, (uint32_t[]){RP, S}, 2, false);
	expect_path(m, R, SC, (uint32_t[]){RP, S, SC}, 3, true);
	expect_path(m, R, RS, (uint32_t[]){RP, S, RS}, 3, true);
	expect_path(m, R, PP, (uint32_t[]){RP, PP}, 2, true);
	expect_path(m, PC, SC, (uint32_t[]){PP, SC}, 2, false);
	expect_path(m, PC, S, (uint32_t[]){R, RP, S}, 3, false);
	expect_path(m, PP, R, (uint32_t[]){RP, R}, 2, false);
	expect_path(m, S, R, (uint32_t[]){RP, R}, 2, false);
	expect_path(m, S, PC, (uint32_t[]){RP, R, PC}, 3, true);
	expect_path(m, SC, R, (uint32_t[]){S, RP, R}, 3, false);
	expect_path(m, RS, R, (uint32_t[]){S, RP, R}, 3, false);
	ferry_sim_model_destroy(m);

	c = base_config(FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY);
	m = make(&c);
	expect_path(m, R, SC, (uint32_t[]){S, SC}, 2, true);
	expect_path(m, PC, SC, (uint32_t[]){SC}, 1, false);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_refuses_configs_the_kernel_cannot_present)
{
	struct ferry_sim_model *m = NULL;
	char err[160];
	struct ferry_sim_config c = base_config(FERRY_MIG_FLAG_P2P);
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &m, err, sizeof err), -EINVAL);
	c = base_config(FERRY_MIG_FLAG_STOP_COPY | (1u << 3));
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &m, err, sizeof err), -EINVAL);
	c = base_config(FERRY_MIG_FLAG_STOP_COPY);
	c.state_bytes = 0;
	EXPECT_EQ_INT(ferry_sim_model_create(&c, &m, err, sizeof err), -EINVAL);
	EXPECT(strstr(err, "state size") != NULL);
	EXPECT(m == NULL);
}

FERRY_TEST(sim_model_blocked_arcs_and_error_requests_are_einval)
{
	struct ferry_sim_config c = base_config(flag_sets[3]);
	struct ferry_sim_model *m = make(&c);
	uint64_t s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, SC, &s), 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PP, &s), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, E, &s), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_state(m), SC);
	EXPECT(ferry_sim_model_session(m) != 0); /* refused requests leave the session alone */
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_failed_arc_stays_where_it_failed)
{
	struct ferry_sim_config c = base_config(flag_sets[3]);
	c.faults = (struct ferry_sim_faults){.fail_arc = true, .fail_arc_from = RP, .fail_arc_to = S,
					     .fail_arc_mode = FERRY_SIM_FAIL_STAY};
	struct ferry_sim_model *m = make(&c);
	uint64_t s = 99;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, SC, &s), -EIO);
	EXPECT_EQ_U64(s, 0);
	EXPECT_EQ_INT(ferry_sim_model_state(m), RP); /* R -> RP ran, RP -> S failed */
	uint32_t arcs[FERRY_MIG_MAX_PATH][2];
	EXPECT_EQ_INT(ferry_sim_model_last_arcs(m, arcs, FERRY_MIG_MAX_PATH), 2);
	EXPECT(strstr(ferry_sim_model_error(m), "RUNNING_P2P -> STOP") != NULL);
	/* Not ERROR: ordinary requests still work. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, R, &s), 0);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_error_is_left_only_by_reset_which_kills_the_session)
{
	struct ferry_sim_config c = base_config(flag_sets[3]);
	c.faults = (struct ferry_sim_faults){.fail_arc = true, .fail_arc_from = PP, .fail_arc_to = SC,
					     .fail_arc_mode = FERRY_SIM_FAIL_TO_ERROR};
	struct ferry_sim_model *m = make(&c);
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &sess), 0);
	EXPECT(sess != 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, SC, &s), -EIO);
	EXPECT_EQ_INT(ferry_sim_model_state(m), E);
	for (uint32_t t = 0; t < FERRY_MIG_NR_STATES; t++)
		EXPECT_EQ_INT(ferry_sim_model_set_state(m, t, &s), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_state(m), E);
	char buf[64];
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess, buf, sizeof buf), -ENODEV);

	ferry_sim_model_reset(m);
	EXPECT_EQ_INT(ferry_sim_model_state(m), R);
	EXPECT_EQ_U64(ferry_sim_model_session(m), 0);
	struct ferry_sim_faults none = {0};
	ferry_sim_model_set_faults(m, &none);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), 0);
	EXPECT(s != 0 && s != sess); /* a new session, never the dead one's number */
	/* A reset in the middle of a live session kills it too (asynchronous reset, 6.9). */
	ferry_sim_model_reset(m);
	struct ferry_precopy_info pi;
	EXPECT_EQ_INT(ferry_sim_model_read(m, s, buf, sizeof buf), -ENODEV);
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, s, &pi), -ENODEV);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_error_during_stop_copy)
{
	struct ferry_sim_config c = base_config(flag_sets[0]);
	c.faults.error_in_stop_copy = true;
	struct ferry_sim_model *m = make(&c);
	uint64_t sess, s;
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, SC, &sess), 0);
	char buf[256];
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess, buf, sizeof buf), -EIO);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, S, &s), -EIO);
	EXPECT_EQ_INT(ferry_sim_model_state(m), E);
	ferry_sim_model_reset(m);
	EXPECT_EQ_INT(ferry_sim_model_state(m), R);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_ended_session_answers_enodev)
{
	struct ferry_sim_config c = base_config(flag_sets[2]);
	struct ferry_sim_model *m = make(&c);
	uint64_t sess, s;
	char buf[64];
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &sess), 0);
	EXPECT(ferry_sim_model_read(m, sess, buf, sizeof buf) > 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, R, &s), 0); /* PRE_COPY -> RUNNING ends it */
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess, buf, sizeof buf), -ENODEV);
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess + 100, buf, sizeof buf), -EBADF);
	/* A resuming session is write-only, a saving one read-only. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, RS, &sess), 0);
	EXPECT_EQ_INT(ferry_sim_model_read(m, sess, buf, sizeof buf), -EBADF);
	ferry_sim_model_reset(m);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, SC, &sess), 0);
	EXPECT_EQ_INT(ferry_sim_model_write(m, sess, buf, sizeof buf), -EBADF);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_saving_layout_handshake)
{
	struct ferry_sim_config c = base_config(flag_sets[3]);
	c.saving_layout_regions = 0x5;
	struct ferry_sim_model *m = make(&c);
	uint64_t s;
	/* Refused before: nothing moves, not even the RUNNING -> RUNNING_P2P first arc. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), -EBUSY);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, SC, &s), -EBUSY);
	EXPECT_EQ_INT(ferry_sim_model_state(m), R);
	uint32_t arcs[FERRY_MIG_MAX_PATH][2];
	EXPECT_EQ_INT(ferry_sim_model_last_arcs(m, arcs, FERRY_MIG_MAX_PATH), 0);
	EXPECT(!ferry_sim_model_saving_layout_done(m));
	/* Non-saving moves need nothing. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, S, &s), 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, RS, &s), 0);
	ferry_sim_model_reset(m);
	/* A wrong mask is refused and completes nothing. */
	EXPECT_EQ_INT(ferry_sim_model_complete_saving_layout(m, 0x4), -EINVAL);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), -EBUSY);
	/* Success after. */
	EXPECT_EQ_INT(ferry_sim_model_complete_saving_layout(m, 0x5), 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), 0);
	EXPECT(s != 0);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, SC, &s), 0);
	/* Back in RUNNING the handshake is undone. */
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, R, &s), 0);
	EXPECT(!ferry_sim_model_saving_layout_done(m));
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), -EBUSY);
	/* And by reset. */
	EXPECT_EQ_INT(ferry_sim_model_complete_saving_layout(m, 0x5), 0);
	ferry_sim_model_reset(m);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), -EBUSY);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_without_saving_layout_needs_nothing)
{
	struct ferry_sim_config c = base_config(flag_sets[3]);
	struct ferry_sim_model *m = make(&c);
	uint64_t s;
	EXPECT(ferry_sim_model_saving_layout_done(m));
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, &s), 0);
	EXPECT_EQ_INT(ferry_sim_model_complete_saving_layout(m, 0), 0);
	EXPECT_EQ_INT(ferry_sim_model_complete_saving_layout(m, 1), -EOPNOTSUPP);
	ferry_sim_model_destroy(m);
}

/* The regression behind a hang in test_sim_backend: every u64 changed at a random place re-sent a
 * whole 4 KiB block, so a device changing 64 KiB/s made ~33 MB/s of pre-copy data and a reader
 * slower than ~300 us per 10000-byte read never saw -ENOMSG. Pre-copy data must follow the change
 * rate (at block granularity) and never exceed the state, however time advances. */
#define RATE_STATE_BYTES (64u * 1024)
#define RATE_BYTES_PER_SEC (64u * 1024)

static struct ferry_sim_model *make_running(uint64_t state_bytes, uint64_t change_rate, uint64_t *sess)
{
	struct ferry_sim_config c = base_config(FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY);
	c.state_bytes = state_bytes;
	c.change_bytes_per_sec = change_rate;
	struct ferry_sim_model *m = make(&c);
	EXPECT_EQ_INT(ferry_sim_model_set_state(m, PC, sess), 0);
	uint8_t buf[16384];
	while (ferry_sim_model_read(m, *sess, buf, sizeof buf) > 0) /* the initial pass */
		;
	return m;
}

FERRY_TEST(sim_model_precopy_data_follows_the_change_rate)
{
	uint64_t sess;
	struct ferry_sim_model *m = make_running(RATE_STATE_BYTES, RATE_BYTES_PER_SEC, &sess);
	const uint64_t record = FERRY_SIM_RECORD_HEAD + FERRY_SIM_BLOCK_SIZE;
	/* 1 ms at 64 KiB/s changes 64 bytes: at most the one or two blocks that run touches. */
	for (int i = 0; i < 50; i++) {
		struct ferry_precopy_info pi;
		ferry_sim_model_advance(m, 1000000);
		EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
		EXPECT(pi.dirty_bytes <= 2 * record);
		uint8_t buf[16384];
		while (ferry_sim_model_read(m, sess, buf, sizeof buf) > 0)
			;
	}
	/* 1 s changes 64 KiB: 16 blocks' worth, plus the run in progress. */
	struct ferry_precopy_info pi;
	ferry_sim_model_advance(m, 1000000000);
	EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
	EXPECT(pi.dirty_bytes <= 17 * record);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_slow_reader_still_drains_precopy)
{
	/* A reader taking 1 ms per 10000-byte read (a loaded machine, strace) must reach -ENOMSG. */
	uint64_t sess;
	struct ferry_sim_model *m = make_running(RATE_STATE_BYTES, RATE_BYTES_PER_SEC, &sess);
	ferry_sim_model_advance(m, 50000000); /* a gap first: 50 ms of changes */
	ssize_t r = 1;
	int reads = 0;
	uint8_t buf[10000];
	while (reads < 10000 && (r = ferry_sim_model_read(m, sess, buf, sizeof buf)) > 0) {
		reads++;
		ferry_sim_model_advance(m, 1000000);
	}
	EXPECT_EQ_INT(r, -ENOMSG);
	EXPECT(reads < 100);
	ferry_sim_model_destroy(m);
}

FERRY_TEST(sim_model_dirty_data_never_exceeds_the_state)
{
	uint64_t sess;
	struct ferry_sim_model *m = make_running(3 * 4096 + 100, UINT64_C(1) << 30, &sess);
	const uint64_t all_blocks = ferry_sim_blocks(3 * 4096 + 100) * FERRY_SIM_RECORD_HEAD + 3 * 4096 + 100;
	for (int i = 0; i < 5; i++) {
		struct ferry_precopy_info pi;
		ferry_sim_model_advance(m, UINT64_C(3600) * 1000000000); /* an hour at 1 GiB/s */
		EXPECT_EQ_INT(ferry_sim_model_precopy_info(m, sess, &pi), 0);
		EXPECT_EQ_U64(pi.initial_bytes, 0);
		EXPECT(pi.dirty_bytes <= all_blocks);
		EXPECT(ferry_sim_model_stop_copy_size(m) <= ferry_sim_stream_full_bytes(3 * 4096 + 100));
	}
	ferry_sim_model_destroy(m);
}
