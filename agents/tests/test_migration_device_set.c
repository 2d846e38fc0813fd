/* The devices of one migration (migration_device_set.h) over in-process sim devices: a two-device
 * source streams pre-copy and stop-copy chunks that a two-device destination puts back together
 * into identical states, with the exact P2P order on both sides; the destination refuses bad
 * chunks (checksum, gap, out of order, after the end, unknown device, incomplete stream); a fault
 * at STOP_COPY rolls the source back to RUNNING. */
#include "test.h"

#include <errno.h>
#include <stdlib.h>

#include "crc32c.h"
#include "migration_device_set.h"
#include "sim_local.h"

#define ALL (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)
enum { R = FERRY_MIG_RUNNING, S = FERRY_MIG_STOP, SC = FERRY_MIG_STOP_COPY, RS = FERRY_MIG_RESUMING,
       RP = FERRY_MIG_RUNNING_P2P, PC = FERRY_MIG_PRE_COPY, PP = FERRY_MIG_PRE_COPY_P2P };

static const char *const names[] = {"nic0", "gpu1"};

struct steps {
	uint32_t dev[32], target[32];
	size_t n;
};

static void record(void *ctx, const struct ferry_group_step *step, int rc)
{
	struct steps *s = ctx;
	if (rc == 0 && s->n < 32) {
		s->dev[s->n] = step->device;
		s->target[s->n++] = step->target;
	}
}

struct side {
	struct ferry_device *dev[2];
	struct ferry_mig_device_set set;
	struct ferry_mig_device_hooks hooks;
	struct steps steps;
};

static int setup(struct side *s, enum ferry_group_role role, uint64_t seed, size_t n)
{
	struct ferry_group_member m[2];
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < n; i++) {
		s->dev[i] = sim_local_create(ALL, i == 1 ? 0x2 : 0, seed + i); /* gpu1 needs the handshake */
		m[i] = (struct ferry_group_member){.name = names[i], .dev = s->dev[i]};
		s->dev[i]->ops->probe(s->dev[i], &m[i].caps);
	}
	char err[256] = "";
	int rc = ferry_mig_device_set_init(&s->set, role, m, n, err, sizeof err);
	if (rc == 0)
		rc = ferry_mig_device_set_register(&s->set, &s->hooks);
	s->set.g.on_step = record;
	s->set.g.on_step_ctx = &s->steps;
	if (rc)
		fprintf(stderr, "  setup: %s\n", err);
	return rc;
}

static void teardown(struct side *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s->dev[i]->ops->close(s->dev[i]);
}

static void expect_steps(const struct steps *got, const uint32_t (*want)[2], size_t n, int line)
{
	bool same = got->n == n;
	for (size_t i = 0; same && i < n; i++)
		same = got->dev[i] == want[i][0] && got->target[i] == want[i][1];
	if (same)
		return;
	fprintf(stderr, "  line %d: steps", line);
	for (size_t i = 0; i < got->n; i++)
		fprintf(stderr, " (%u,%s)", got->dev[i], ferry_mig_state_name(got->target[i]));
	fprintf(stderr, "\n");
	ferry_test_failures++;
}

#define EXPECT_STEPS(s, ...)                                                          \
	do {                                                                          \
		static const uint32_t want_[][2] = {__VA_ARGS__};                     \
		expect_steps((s), want_, sizeof want_ / sizeof want_[0], __LINE__);   \
	} while (0)

/* A chunk in flight. */
struct chunk {
	char device[16];
	uint64_t offset;
	bool stop_copy, end;
	uint32_t crc;
	uint8_t *data;
	size_t len;
};

struct wire {
	struct chunk c[4096];
	size_t n;
};

/* Reads what each device has now, as the sender does in a round; returns the chunks read. */
static size_t pull(struct side *src, size_t n_dev, struct wire *w)
{
	size_t got = 0;
	for (size_t i = 0; i < n_dev; i++) {
		uint8_t buf[3000];
		struct ferry_mig_device_chunk ch;
		char err[256];
		ssize_t r;
		while (w->n < 4096 && (r = ferry_mig_device_set_read(&src->set, i, buf, sizeof buf, &ch, err, sizeof err)) >= 0) {
			struct chunk *c = &w->c[w->n++];
			snprintf(c->device, sizeof c->device, "%s", names[ch.device]);
			c->offset = ch.offset;
			c->stop_copy = ch.stop_copy;
			c->end = ch.end_of_stream;
			c->len = (size_t)r;
			c->data = malloc(c->len ? c->len : 1);
			memcpy(c->data, buf, c->len);
			c->crc = ferry_crc32c(0, buf, c->len);
			got++;
			if (r == 0)
				break;
		}
	}
	return got;
}

static int push(struct side *dst, const struct chunk *c, char *err, size_t errlen)
{
	return ferry_mig_device_set_write(&dst->set, c->device, c->offset, c->stop_copy, c->end, c->crc, c->data, c->len,
					  err, errlen);
}

static void free_wire(struct wire *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->c[i].data);
	w->n = 0;
}

static uint32_t state_of(struct ferry_device *d)
{
	uint32_t st = 0;
	d->ops->get_state(d, &st);
	return st;
}

FERRY_TEST(migration_device_set_two_devices_migrate_in_p2p_order)
{
	struct side src, dst;
	static struct wire w;
	char err[512] = "";
	EXPECT_EQ_INT(setup(&src, FERRY_GROUP_SOURCE, 10, 2), 0);
	EXPECT_EQ_INT(setup(&dst, FERRY_GROUP_DESTINATION, 50, 2), 0);

	EXPECT_EQ_INT(ferry_mig_devices_precopy_start(&src.hooks, err, sizeof err), 0);
	EXPECT_EQ_INT(state_of(src.dev[0]), PC);
	EXPECT_EQ_INT(state_of(src.dev[1]), PC);
	EXPECT(pull(&src, 2, &w) > 0); /* the initial pass */
	struct ferry_mig_device_progress p;
	ferry_mig_device_set_progress(&src.set, 0, &p);
	EXPECT_EQ_STR(p.name, "nic0");
	EXPECT_EQ_INT(p.state, PC);
	EXPECT_EQ_U64(p.precopy_initial_bytes, 0);
	EXPECT(p.bytes_sent > 8192);
	/* The devices keep running: a second of changes makes dirty pre-copy data. */
	for (size_t i = 0; i < 2; i++)
		ferry_sim_model_advance(sim_local_model(src.dev[i]), 1000000000);
	ferry_mig_device_set_progress(&src.set, 1, &p);
	EXPECT(p.precopy_dirty_bytes > 0);
	EXPECT(ferry_mig_devices_stop_copy_bytes(&src.hooks) >= p.precopy_dirty_bytes);
	EXPECT(pull(&src, 2, &w) > 0);

	/* Cutover: both P2P-quiesced before either stops, then the final state and the end marks. */
	EXPECT_EQ_INT(ferry_mig_devices_cutover(&src.hooks, err, sizeof err), 0);
	size_t before = w.n;
	pull(&src, 2, &w);
	EXPECT(w.n > before);
	EXPECT(w.c[w.n - 1].end && w.c[w.n - 1].len == 0 && w.c[w.n - 1].stop_copy);
	struct ferry_mig_device_chunk ch;
	uint8_t b[16];
	EXPECT_EQ_INT(ferry_mig_device_set_read(&src.set, 0, b, sizeof b, &ch, err, sizeof err), -ENOMSG);
	EXPECT_EQ_INT(ferry_mig_device_set_stop(&src.set, err, sizeof err), 0);
	EXPECT_EQ_INT(state_of(src.dev[0]), S);
	EXPECT_EQ_INT(state_of(src.dev[1]), S);
	EXPECT_STEPS(&src.steps, {0, PC}, {1, PC}, {0, PP}, {1, PP}, {0, SC}, {1, SC}, {0, S}, {1, S});

	/* Destination: RESUMING before any byte, chunks in order, then RUNNING_P2P before RUNNING. */
	EXPECT_EQ_INT(ferry_mig_devices_resuming(&dst.hooks, err, sizeof err), 0);
	for (size_t i = 0; i < w.n; i++) {
		int rc = push(&dst, &w.c[i], err, sizeof err);
		if (rc) {
			fprintf(stderr, "  chunk %zu: %s\n", i, err);
			EXPECT_EQ_INT(rc, 0);
			break;
		}
	}
	EXPECT_EQ_INT(ferry_mig_devices_resume(&dst.hooks, err, sizeof err), 0);
	EXPECT_STEPS(&dst.steps, {0, RS}, {1, RS}, {0, RP}, {1, RP}, {0, R}, {1, R});
	for (size_t i = 0; i < 2; i++) {
		EXPECT_EQ_INT(state_of(dst.dev[i]), R);
		EXPECT_EQ_INT(ferry_sim_model_state_crc(sim_local_model(dst.dev[i])),
			      ferry_sim_model_state_crc(sim_local_model(src.dev[i])));
	}
	free_wire(&w);
	teardown(&src, 2);
	teardown(&dst, 2);
}

FERRY_TEST(migration_device_set_destination_refuses_bad_chunks)
{
	struct side src, dst;
	static struct wire w;
	char err[512] = "";
	EXPECT_EQ_INT(setup(&src, FERRY_GROUP_SOURCE, 20, 1), 0);
	EXPECT_EQ_INT(setup(&dst, FERRY_GROUP_DESTINATION, 60, 1), 0);
	EXPECT_EQ_INT(ferry_mig_devices_precopy_start(&src.hooks, err, sizeof err), 0);
	pull(&src, 1, &w);
	EXPECT_EQ_INT(ferry_mig_devices_cutover(&src.hooks, err, sizeof err), 0);
	pull(&src, 1, &w);
	EXPECT(w.n >= 4);
	EXPECT_EQ_INT(ferry_mig_devices_resuming(&dst.hooks, err, sizeof err), 0);

	struct chunk c = w.c[1];
	EXPECT_EQ_INT(push(&dst, &c, err, sizeof err), -EPROTO); /* a gap: chunk 0 is missing */
	EXPECT(strstr(err, "a gap") != NULL);
	c = w.c[0];
	c.crc ^= 1;
	EXPECT_EQ_INT(push(&dst, &c, err, sizeof err), -EBADMSG);
	EXPECT(strstr(err, "checksum") != NULL);
	snprintf(c.device, sizeof c.device, "nope");
	EXPECT_EQ_INT(push(&dst, &c, err, sizeof err), -ENODEV);
	EXPECT_EQ_INT(push(&dst, &w.c[0], err, sizeof err), 0);
	EXPECT_EQ_INT(push(&dst, &w.c[0], err, sizeof err), -EPROTO); /* again: out of order */
	EXPECT(strstr(err, "out of order") != NULL);
	EXPECT_EQ_INT(push(&dst, &w.c[1], err, sizeof err), 0);
	/* The stream is not complete: resume refuses, rollback resets the device to RUNNING with its
	 * own state. */
	uint32_t own = ferry_sim_model_state_crc(sim_local_model(dst.dev[0]));
	EXPECT_EQ_INT(ferry_mig_devices_resume(&dst.hooks, err, sizeof err), -EPROTO);
	EXPECT(strstr(err, "incomplete") != NULL);
	ferry_mig_devices_rollback(&dst.hooks);
	EXPECT_EQ_INT(state_of(dst.dev[0]), R);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(sim_local_model(dst.dev[0])), own);
	/* Nothing after the end. */
	EXPECT_EQ_INT(ferry_mig_devices_resuming(&dst.hooks, err, sizeof err), 0);
	for (size_t i = 0; i < w.n; i++)
		EXPECT_EQ_INT(push(&dst, &w.c[i], err, sizeof err), 0);
	EXPECT_EQ_INT(push(&dst, &w.c[w.n - 1], err, sizeof err), -EPROTO);
	EXPECT(strstr(err, "after the end") != NULL);
	EXPECT_EQ_INT(ferry_mig_devices_resume(&dst.hooks, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_sim_model_state_crc(sim_local_model(dst.dev[0])),
		      ferry_sim_model_state_crc(sim_local_model(src.dev[0])));
	free_wire(&w);
	teardown(&src, 1);
	teardown(&dst, 1);
}

FERRY_TEST(migration_device_set_fault_at_stop_copy_rolls_the_source_back)
{
	struct side src;
	static struct wire w;
	char err[512] = "";
	EXPECT_EQ_INT(setup(&src, FERRY_GROUP_SOURCE, 30, 2), 0);
	EXPECT_EQ_INT(ferry_mig_devices_precopy_start(&src.hooks, err, sizeof err), 0);
	pull(&src, 2, &w);
	struct ferry_sim_faults f = {.fail_arc = true, .fail_arc_from = PP, .fail_arc_to = SC,
				     .fail_arc_mode = FERRY_SIM_FAIL_TO_ERROR};
	ferry_sim_model_set_faults(sim_local_model(src.dev[1]), &f);
	EXPECT(ferry_mig_devices_cutover(&src.hooks, err, sizeof err) < 0);
	EXPECT(strstr(err, "gpu1") != NULL);
	ferry_mig_devices_rollback(&src.hooks);
	EXPECT_EQ_INT(state_of(src.dev[0]), R);
	EXPECT_EQ_INT(state_of(src.dev[1]), R);
	free_wire(&w);
	teardown(&src, 2);
}
