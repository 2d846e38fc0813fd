/* Multi-device order (device_group.h): the pure check and plans, and the executor over sim devices
 * (the real model, in process): the exact (device, state) sequence with two and three devices on
 * both sides, and rollback from a failure injected at every step of the source sequence. */
#include "test.h"

#include <errno.h>
#include <stdlib.h>

#include "device_group.h"
#include "mig_fsm.h"
#include "sim_local.h"

#define ALL (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)
#define NO_PRE (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P)
#define RESET FERRY_GROUP_RESET
enum { R = FERRY_MIG_RUNNING, S = FERRY_MIG_STOP, SC = FERRY_MIG_STOP_COPY, RS = FERRY_MIG_RESUMING,
       RP = FERRY_MIG_RUNNING_P2P, PC = FERRY_MIG_PRE_COPY, PP = FERRY_MIG_PRE_COPY_P2P };

struct recorded {
	uint32_t device, target;
	int rc;
};

struct recorder {
	struct recorded steps[64];
	size_t n;
};

static void record(void *ctx, const struct ferry_group_step *step, int rc)
{
	struct recorder *r = ctx;
	if (r->n < 64)
		r->steps[r->n++] = (struct recorded){step->device, step->target, rc};
}

/* Expected sequence as {device, target} pairs; rc is checked separately. */
static void expect_sequence(const struct recorder *r, const uint32_t (*want)[2], size_t n, int line)
{
	if (r->n != n) {
		fprintf(stderr, "  line %d: %zu steps, expected %zu:", line, r->n, n);
		for (size_t i = 0; i < r->n; i++)
			fprintf(stderr, " (%u,%s)", r->steps[i].device,
				r->steps[i].target == RESET ? "RESET" : ferry_mig_state_name(r->steps[i].target));
		fprintf(stderr, "\n");
		ferry_test_failures++;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (r->steps[i].device != want[i][0] || r->steps[i].target != want[i][1]) {
			fprintf(stderr, "  line %d: step %zu is (%u,%u), expected (%u,%u)\n", line, i, r->steps[i].device,
				r->steps[i].target, want[i][0], want[i][1]);
			ferry_test_failures++;
		}
	}
}
#define EXPECT_SEQ(r, ...)                                                                    \
	do {                                                                                  \
		static const uint32_t want_[][2] = {__VA_ARGS__};                             \
		expect_sequence((r), want_, sizeof want_ / sizeof want_[0], __LINE__);        \
	} while (0)

struct fixture {
	struct ferry_device *dev[3];
	struct ferry_device_group g;
	struct recorder rec;
};

static const char *const names[] = {"dev0", "dev1", "dev2"};

static int setup(struct fixture *f, enum ferry_group_role role, const uint32_t *flags, size_t n, uint64_t seed)
{
	struct ferry_group_member m[3];
	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < n; i++) {
		f->dev[i] = sim_local_create(flags[i], i == 1 ? 0x2 : 0, seed + i); /* dev1 needs the handshake */
		m[i] = (struct ferry_group_member){.name = names[i], .dev = f->dev[i]};
		f->dev[i]->ops->probe(f->dev[i], &m[i].caps);
	}
	char err[256];
	int rc = ferry_device_group_init(&f->g, role, m, n, err, sizeof err);
	f->g.on_step = record;
	f->g.on_step_ctx = &f->rec;
	return rc;
}

static void teardown(struct fixture *f)
{
	for (size_t i = 0; i < 3; i++)
		if (f->dev[i])
			f->dev[i]->ops->close(f->dev[i]);
}

static uint32_t state_of(struct ferry_device *dev)
{
	uint32_t s = FERRY_MIG_NR_STATES;
	dev->ops->get_state(dev, &s);
	return s;
}

FERRY_TEST(group_check_refuses_several_devices_when_one_lacks_p2p)
{
	const char *n2[] = {"gpu0", "nic1"};
	uint32_t ok[] = {ALL, NO_PRE}, bad[] = {ALL, FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY};
	char why[256] = "";
	EXPECT_EQ_INT(ferry_group_check(n2, ok, 2, why, sizeof why), 0);
	EXPECT_EQ_INT(ferry_group_check(n2, bad, 2, why, sizeof why), -EOPNOTSUPP);
	EXPECT(strstr(why, "the VM has 2 devices and device nic1 lacks P2P") != NULL);
	/* One device without P2P is fine: there is no peer to protect. */
	EXPECT_EQ_INT(ferry_group_check(n2 + 1, bad + 1, 1, why, sizeof why), 0);
	uint32_t none[] = {0};
	EXPECT_EQ_INT(ferry_group_check(n2, none, 1, why, sizeof why), -EOPNOTSUPP);
	EXPECT(strstr(why, "gpu0 cannot migrate") != NULL);
	EXPECT_EQ_INT(ferry_group_check(n2, ok, 0, why, sizeof why), 0);
}

FERRY_TEST(group_plan_quiesces_every_device_before_any_stops)
{
	uint32_t flags[] = {ALL, NO_PRE, ALL};
	uint32_t st[] = {R, R, R};
	struct ferry_group_step s[3];
	EXPECT_EQ_INT(ferry_group_plan(FERRY_STAGE_PRECOPY, flags, st, 3, s), 2);
	EXPECT(s[0].device == 0 && s[0].target == PC && s[1].device == 2 && s[1].target == PC);
	uint32_t after_pre[] = {PC, R, PC};
	EXPECT_EQ_INT(ferry_group_plan(FERRY_STAGE_QUIESCE, flags, after_pre, 3, s), 3);
	EXPECT(s[0].target == PP && s[1].target == RP && s[2].target == PP);
	uint32_t quiesced[] = {PP, RP, PP};
	EXPECT_EQ_INT(ferry_group_plan(FERRY_STAGE_STOP_COPY, flags, quiesced, 3, s), 3);
	EXPECT(s[0].target == SC && s[1].target == SC && s[2].target == SC);
	/* A single device without P2P: no quiesce step, straight to STOP_COPY. */
	uint32_t lone[] = {FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_PRE_COPY}, pc[] = {PC};
	EXPECT_EQ_INT(ferry_group_plan(FERRY_STAGE_QUIESCE, lone, pc, 1, s), 0);
	EXPECT_EQ_INT(ferry_group_plan(FERRY_STAGE_PREPARE_START, lone, (uint32_t[]){RS}, 1, s), 0);
}

FERRY_TEST(group_plan_rollback_goes_through_running_p2p_in_reverse_order)
{
	uint32_t flags[] = {ALL, ALL, ALL};
	uint32_t st[] = {SC, FERRY_MIG_ERROR, PP};
	struct ferry_group_step s[6];
	size_t n = ferry_group_plan_rollback(FERRY_GROUP_SOURCE, flags, st, 3, s);
	const uint32_t want[][2] = {{2, RP}, {1, RESET}, {0, RP}, {2, R}, {0, R}};
	EXPECT_EQ_INT(n, 5);
	for (size_t i = 0; i < n && i < 5; i++)
		EXPECT(s[i].device == want[i][0] && s[i].target == want[i][1]);
	uint32_t dst[] = {RP, RS, R};
	n = ferry_group_plan_rollback(FERRY_GROUP_DESTINATION, flags, dst, 3, s);
	EXPECT_EQ_INT(n, 2);
	EXPECT(s[0].device == 1 && s[0].target == RESET && s[1].device == 0 && s[1].target == RESET);
}

FERRY_TEST(group_source_sequence_with_three_devices)
{
	struct fixture f;
	uint32_t flags[] = {ALL, ALL, NO_PRE};
	EXPECT_EQ_INT(setup(&f, FERRY_GROUP_SOURCE, flags, 3, 10), 0);
	char err[512] = "";
	EXPECT_EQ_INT(ferry_device_group_run(&f.g, FERRY_STAGE_PRECOPY, err, sizeof err), 0);
	EXPECT_EQ_INT(sim_local_layout_calls(f.dev[1]), 1); /* dev1's handshake came before its PRE_COPY */
	EXPECT_EQ_INT(ferry_device_group_run(&f.g, FERRY_STAGE_QUIESCE, err, sizeof err), 0);
	/* Quiesce is one arc per device, nothing stopped yet. */
	uint32_t arcs[8][2];
	EXPECT_EQ_INT(ferry_sim_model_last_arcs(sim_local_model(f.dev[0]), arcs, 8), 1);
	EXPECT(arcs[0][0] == PC && arcs[0][1] == PP);
	EXPECT_EQ_INT(ferry_device_group_run(&f.g, FERRY_STAGE_STOP_COPY, err, sizeof err), 0);
	EXPECT_SEQ(&f.rec, {0, PC}, {1, PC}, {0, PP}, {1, PP}, {2, RP}, {0, SC}, {1, SC}, {2, SC});
	for (int i = 0; i < 3; i++)
		EXPECT_EQ_INT(state_of(f.dev[i]), SC);
	EXPECT(f.g.m[0].data_fd >= 0 && f.g.m[2].data_fd >= 0);
	EXPECT_EQ_INT(sim_local_layout_calls(f.dev[1]), 1); /* PRE_COPY -> STOP_COPY keeps the session */
	teardown(&f);
}

/* Moves the saved stream of every source device into the matching destination device. */
static void transfer(struct ferry_device **src, struct ferry_device **dst, size_t n)
{
	uint8_t buf[4096];
	for (size_t i = 0; i < n; i++) {
		ssize_t r;
		while ((r = src[i]->ops->read_data(src[i], buf, sizeof buf)) > 0)
			EXPECT_EQ_INT(dst[i]->ops->write_data(dst[i], buf, (size_t)r), 0);
		EXPECT_EQ_INT(r, 0);
	}
}

FERRY_TEST(group_destination_sequence_with_two_devices)
{
	struct fixture src, dst;
	uint32_t flags[] = {NO_PRE, NO_PRE};
	EXPECT_EQ_INT(setup(&src, FERRY_GROUP_SOURCE, flags, 2, 20), 0);
	EXPECT_EQ_INT(setup(&dst, FERRY_GROUP_DESTINATION, flags, 2, 90), 0);
	char err[512] = "";
	EXPECT_EQ_INT(ferry_device_group_run(&src.g, FERRY_STAGE_QUIESCE, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_device_group_run(&src.g, FERRY_STAGE_STOP_COPY, err, sizeof err), 0);
	EXPECT_SEQ(&src.rec, {0, RP}, {1, RP}, {0, SC}, {1, SC});

	EXPECT_EQ_INT(ferry_device_group_run(&dst.g, FERRY_STAGE_RESUMING, err, sizeof err), 0);
	transfer(src.dev, dst.dev, 2);
	EXPECT_EQ_INT(ferry_device_group_run(&dst.g, FERRY_STAGE_PREPARE_START, err, sizeof err), 0);
	/* Every device committed its state and is P2P-quiesced before any runs. */
	for (int i = 0; i < 2; i++)
		EXPECT_EQ_INT(state_of(dst.dev[i]), RP);
	EXPECT_EQ_INT(ferry_device_group_run(&dst.g, FERRY_STAGE_START, err, sizeof err), 0);
	EXPECT_SEQ(&dst.rec, {0, RS}, {1, RS}, {0, RP}, {1, RP}, {0, R}, {1, R});
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ_INT(state_of(dst.dev[i]), R);
		EXPECT_EQ_U64(ferry_sim_model_state_crc(sim_local_model(dst.dev[i])),
			      ferry_sim_model_state_crc(sim_local_model(src.dev[i])));
	}
	teardown(&src);
	teardown(&dst);
}

FERRY_TEST(group_destination_failure_resets_every_device)
{
	struct fixture dst;
	uint32_t flags[] = {NO_PRE, NO_PRE};
	EXPECT_EQ_INT(setup(&dst, FERRY_GROUP_DESTINATION, flags, 2, 30), 0);
	char err[512] = "";
	EXPECT_EQ_INT(ferry_device_group_run(&dst.g, FERRY_STAGE_RESUMING, err, sizeof err), 0);
	/* No state arrived: RESUMING -> STOP (the commit) fails on dev0, and both are reset. */
	EXPECT(ferry_device_group_run(&dst.g, FERRY_STAGE_PREPARE_START, err, sizeof err) < 0);
	EXPECT_SEQ(&dst.rec, {0, RS}, {1, RS}, {0, RP}, {1, RESET}, {0, RESET});
	EXPECT(strstr(err, "prepare_start stage failed: device dev0: RESUMING -> RUNNING_P2P failed") != NULL);
	EXPECT(strstr(err, "rolled back: every device is RUNNING") != NULL);
	for (int i = 0; i < 2; i++)
		EXPECT_EQ_INT(state_of(dst.dev[i]), R);
	teardown(&dst);
}

FERRY_TEST(group_two_devices_rollback_after_second_stop_copy_fails)
{
	struct fixture f;
	uint32_t flags[] = {ALL, ALL};
	EXPECT_EQ_INT(setup(&f, FERRY_GROUP_SOURCE, flags, 2, 40), 0);
	struct ferry_sim_faults fault = {.fail_arc = true, .fail_arc_from = PP, .fail_arc_to = SC,
					 .fail_arc_mode = FERRY_SIM_FAIL_STAY};
	ferry_sim_model_set_faults(sim_local_model(f.dev[1]), &fault);
	char err[512] = "";
	EXPECT_EQ_INT(ferry_device_group_run(&f.g, FERRY_STAGE_PRECOPY, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_device_group_run(&f.g, FERRY_STAGE_QUIESCE, err, sizeof err), 0);
	EXPECT(ferry_device_group_run(&f.g, FERRY_STAGE_STOP_COPY, err, sizeof err) < 0);
	/* dev1 failed in PRE_COPY_P2P, dev0 is in STOP_COPY: both to RUNNING_P2P (reverse order), then
	 * both to RUNNING (reverse order). */
	EXPECT_SEQ(&f.rec, {0, PC}, {1, PC}, {0, PP}, {1, PP}, {0, SC}, {1, SC}, {1, RP}, {0, RP}, {1, R}, {0, R});
	EXPECT_EQ_INT(f.rec.steps[5].rc, -EIO);
	EXPECT(strstr(err, "stop_copy stage failed: device dev1: PRE_COPY_P2P -> STOP_COPY failed") != NULL);
	for (int i = 0; i < 2; i++)
		EXPECT_EQ_INT(state_of(f.dev[i]), R);
	teardown(&f);
}

/* The source sequence of three devices with full capabilities, as (device, target, arc from). */
static const uint32_t source_steps[9][3] = {
	{0, PC, R}, {1, PC, R}, {2, PC, R}, {0, PP, PC}, {1, PP, PC}, {2, PP, PC}, {0, SC, PP}, {1, SC, PP}, {2, SC, PP},
};

/* The P2P rule during rollback: once a device goes to RUNNING, no device is still stopped. */
static void expect_no_run_while_a_peer_is_stopped(struct fixture *f, size_t first_rollback_step)
{
	uint32_t st[3];
	for (int i = 0; i < 3; i++)
		st[i] = R;
	for (size_t k = 0; k < first_rollback_step; k++)
		if (f->rec.steps[k].rc == 0)
			st[f->rec.steps[k].device] = f->rec.steps[k].target;
	for (size_t k = first_rollback_step; k < f->rec.n; k++) {
		const struct recorded *s = &f->rec.steps[k];
		if (s->target == R)
			for (int i = 0; i < 3; i++)
				EXPECT(st[i] != S && st[i] != SC && st[i] != PP);
		st[s->device] = s->target == RESET ? R : s->target;
	}
}

FERRY_TEST(group_rollback_from_a_failure_at_every_source_step)
{
	for (int mode = FERRY_SIM_FAIL_STAY; mode <= FERRY_SIM_FAIL_TO_ERROR; mode++) {
		for (size_t k = 0; k < 9; k++) {
			struct fixture f;
			uint32_t flags[] = {ALL, ALL, ALL};
			EXPECT_EQ_INT(setup(&f, FERRY_GROUP_SOURCE, flags, 3, 50 + k), 0);
			struct ferry_sim_faults fault = {.fail_arc = true, .fail_arc_from = source_steps[k][2],
							 .fail_arc_to = source_steps[k][1],
							 .fail_arc_mode = (enum ferry_sim_fail_mode)mode};
			ferry_sim_model_set_faults(sim_local_model(f.dev[source_steps[k][0]]), &fault);
			enum ferry_group_stage stages[] = {FERRY_STAGE_PRECOPY, FERRY_STAGE_QUIESCE, FERRY_STAGE_STOP_COPY};
			char err[512] = "";
			int failed_stage = -1;
			for (int s = 0; s < 3 && failed_stage < 0; s++)
				if (ferry_device_group_run(&f.g, stages[s], err, sizeof err) < 0)
					failed_stage = s;
			EXPECT_EQ_INT(failed_stage, (int)(k / 3));
			/* Steps before k succeeded in order, step k failed, then rollback only. */
			EXPECT(f.rec.n > k);
			for (size_t j = 0; j <= k && j < f.rec.n; j++) {
				EXPECT_EQ_INT(f.rec.steps[j].device, source_steps[j][0]);
				EXPECT_EQ_INT(f.rec.steps[j].target, source_steps[j][1]);
				EXPECT_EQ_INT(f.rec.steps[j].rc == 0, j < k);
			}
			for (size_t j = k + 1; j < f.rec.n; j++)
				EXPECT_EQ_INT(f.rec.steps[j].rc, 0);
			/* The failed device in ERROR is reset; others go RUNNING_P2P / RUNNING in reverse order. */
			int resets = 0;
			uint32_t last_device = 3, last_target = 0;
			for (size_t j = k + 1; j < f.rec.n; j++) {
				const struct recorded *s = &f.rec.steps[j];
				resets += s->target == RESET;
				if (s->target == last_target)
					EXPECT(s->device < last_device);
				last_device = s->device;
				last_target = s->target;
			}
			EXPECT_EQ_INT(resets, mode == FERRY_SIM_FAIL_TO_ERROR ? 1 : 0);
			expect_no_run_while_a_peer_is_stopped(&f, k + 1);
			EXPECT(strstr(err, "rolled back: every device is RUNNING") != NULL);
			for (int i = 0; i < 3; i++)
				EXPECT_EQ_INT(state_of(f.dev[i]), R);
			if (ferry_test_failures)
				fprintf(stderr, "  (failure injected at step %zu, mode %d)\n", k, mode);
			teardown(&f);
			if (ferry_test_failures)
				return;
		}
	}
}

FERRY_TEST(group_refuses_a_handshake_timeout_and_stays_running)
{
	struct fixture f;
	uint32_t flags[] = {ALL, ALL};
	EXPECT_EQ_INT(setup(&f, FERRY_GROUP_SOURCE, flags, 2, 60), 0);
	f.g.prepare.timeout_ms = 20;
	sim_local_layout_busy(f.dev[1], UINT32_MAX);
	char err[512] = "";
	EXPECT_EQ_INT(ferry_device_group_run(&f.g, FERRY_STAGE_PRECOPY, err, sizeof err), -ETIMEDOUT);
	EXPECT_SEQ(&f.rec, {0, PC}, {1, PC}, {0, R});
	EXPECT(strstr(err, "device dev1 did not complete the saving layout") != NULL);
	for (int i = 0; i < 2; i++)
		EXPECT_EQ_INT(state_of(f.dev[i]), R);
	teardown(&f);
}
