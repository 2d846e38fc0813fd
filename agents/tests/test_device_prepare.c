/* The saving-layout handshake from the agent's side (device_prepare.h) against the sim device
 * model: refusal before, success after, timeout, device without the capability, and a refusal of
 * the completion itself; the device always stays RUNNING when the request cannot be made. */
#include "test.h"

#include <errno.h>

#include "device_prepare.h"
#include "mig_fsm.h"
#include "sim_local.h"

#define ALL_FLAGS (FERRY_MIG_FLAG_STOP_COPY | FERRY_MIG_FLAG_P2P | FERRY_MIG_FLAG_PRE_COPY)
#define REGIONS UINT64_C(0x5)

struct fake_clock {
	uint64_t now;
	unsigned sleeps;
};

static uint64_t fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->now;
}

static void fake_sleep(void *ctx, uint64_t ms)
{
	struct fake_clock *c = ctx;
	c->now += ms;
	c->sleeps++;
}

static uint32_t state_of(struct ferry_device *dev)
{
	uint32_t s = FERRY_MIG_NR_STATES;
	dev->ops->get_state(dev, &s);
	return s;
}

FERRY_TEST(prepare_opens_saving_only_on_session_opening_requests)
{
	EXPECT(ferry_request_opens_saving(FERRY_MIG_RUNNING, FERRY_MIG_PRE_COPY, ALL_FLAGS));
	EXPECT(ferry_request_opens_saving(FERRY_MIG_RUNNING, FERRY_MIG_STOP_COPY, ALL_FLAGS));
	EXPECT(ferry_request_opens_saving(FERRY_MIG_RUNNING_P2P, FERRY_MIG_PRE_COPY_P2P, ALL_FLAGS));
	/* Inside the saving group the same session continues: no new handshake. */
	EXPECT(!ferry_request_opens_saving(FERRY_MIG_PRE_COPY, FERRY_MIG_PRE_COPY_P2P, ALL_FLAGS));
	EXPECT(!ferry_request_opens_saving(FERRY_MIG_PRE_COPY_P2P, FERRY_MIG_STOP_COPY, ALL_FLAGS));
	EXPECT(!ferry_request_opens_saving(FERRY_MIG_RUNNING, FERRY_MIG_RESUMING, ALL_FLAGS));
	EXPECT(!ferry_request_opens_saving(FERRY_MIG_RUNNING, FERRY_MIG_RUNNING_P2P, ALL_FLAGS));
	/* Refused by the kernel anyway (PRE_COPY unsupported): nothing to prepare. */
	EXPECT(!ferry_request_opens_saving(FERRY_MIG_RUNNING, FERRY_MIG_PRE_COPY, FERRY_MIG_FLAG_STOP_COPY));
}

FERRY_TEST(prepare_device_refuses_saving_state_before_the_handshake)
{
	struct ferry_device *dev = sim_local_create(ALL_FLAGS, REGIONS, 1);
	int fd;
	/* Asked directly, without the handshake, the device refuses and nothing moves. */
	EXPECT_EQ_INT(dev->ops->set_state(dev, FERRY_MIG_PRE_COPY, &fd), -EBUSY);
	EXPECT_EQ_INT(state_of(dev), FERRY_MIG_RUNNING);
	EXPECT(strstr(ferry_device_error(dev), "saving layout") != NULL);
	dev->ops->close(dev);
}

FERRY_TEST(prepare_completes_the_handshake_then_enters_the_saving_state)
{
	struct ferry_device *dev = sim_local_create(ALL_FLAGS, REGIONS, 2);
	struct ferry_mig_caps caps;
	EXPECT_EQ_INT(dev->ops->probe(dev, &caps), 0);
	EXPECT_EQ_U64(caps.saving_layout_regions, REGIONS);
	struct fake_clock clk = {0};
	struct ferry_prepare_clock c = {fake_now, fake_sleep, &clk};
	struct ferry_prepare_opts opts = {.timeout_ms = 100, .clock = &c};
	sim_local_layout_busy(dev, 3); /* still busy three times: retried, within the deadline */
	uint32_t state;
	int fd;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_device_request(dev, "dev0", &caps, FERRY_MIG_RUNNING, FERRY_MIG_PRE_COPY, &opts, &state, &fd,
					   err, sizeof err), 0);
	EXPECT_EQ_INT(state, FERRY_MIG_PRE_COPY);
	EXPECT_EQ_INT(state_of(dev), FERRY_MIG_PRE_COPY);
	EXPECT(fd >= 0);
	EXPECT_EQ_INT(sim_local_layout_calls(dev), 4);
	EXPECT_EQ_INT(clk.sleeps, 3);
	/* PRE_COPY -> STOP_COPY keeps the session: no second handshake. */
	EXPECT_EQ_INT(ferry_device_request(dev, "dev0", &caps, FERRY_MIG_PRE_COPY, FERRY_MIG_STOP_COPY, &opts, &state, &fd,
					   err, sizeof err), 0);
	EXPECT_EQ_INT(sim_local_layout_calls(dev), 4);
	EXPECT_EQ_INT(state_of(dev), FERRY_MIG_STOP_COPY);
	dev->ops->close(dev);
}

FERRY_TEST(prepare_timeout_fails_cleanly_with_the_device_running)
{
	struct ferry_device *dev = sim_local_create(ALL_FLAGS, REGIONS, 3);
	struct ferry_mig_caps caps;
	dev->ops->probe(dev, &caps);
	struct fake_clock clk = {.now = 1000};
	struct ferry_prepare_clock c = {fake_now, fake_sleep, &clk};
	struct ferry_prepare_opts opts = {.timeout_ms = 50, .clock = &c};
	sim_local_layout_busy(dev, UINT32_MAX);
	uint32_t state;
	int fd;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_device_request(dev, "dev0", &caps, FERRY_MIG_RUNNING, FERRY_MIG_PRE_COPY, &opts, &state, &fd,
					   err, sizeof err), -ETIMEDOUT);
	EXPECT_EQ_INT(state, FERRY_MIG_RUNNING);
	EXPECT_EQ_INT(state_of(dev), FERRY_MIG_RUNNING);
	EXPECT_EQ_INT(fd, -1);
	EXPECT_EQ_INT(sim_local_set_state_calls(dev), 0); /* the saving state was never requested */
	EXPECT_EQ_U64(clk.now, 1050);                      /* gave up exactly at the deadline */
	EXPECT(strstr(err, "device dev0 did not complete the saving layout of regions 0x5 within 50 ms") != NULL);
	dev->ops->close(dev);
}

FERRY_TEST(prepare_refused_completion_fails_cleanly_with_the_device_running)
{
	struct ferry_device *dev = sim_local_create(ALL_FLAGS, REGIONS, 4);
	struct ferry_mig_caps caps;
	dev->ops->probe(dev, &caps);
	caps.saving_layout_regions = 0x1; /* the agent completes the wrong regions: the device refuses */
	uint32_t state;
	int fd;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_device_request(dev, "dev0", &caps, FERRY_MIG_RUNNING, FERRY_MIG_STOP_COPY, NULL, &state, &fd,
					   err, sizeof err), -EINVAL);
	EXPECT_EQ_INT(state_of(dev), FERRY_MIG_RUNNING);
	EXPECT_EQ_INT(sim_local_set_state_calls(dev), 0);
	EXPECT(strstr(err, "device dev0 refused the saving layout of regions 0x1") != NULL);
	dev->ops->close(dev);
}

FERRY_TEST(prepare_device_without_the_capability_needs_nothing)
{
	struct ferry_device *dev = sim_local_create(ALL_FLAGS, 0, 5);
	struct ferry_mig_caps caps;
	dev->ops->probe(dev, &caps);
	EXPECT_EQ_U64(caps.saving_layout_regions, 0);
	uint32_t state;
	int fd;
	char err[256] = "";
	EXPECT_EQ_INT(ferry_device_prepare_saving(dev, "dev0", &caps, NULL, err, sizeof err), 0);
	EXPECT_EQ_INT(ferry_device_request(dev, "dev0", &caps, FERRY_MIG_RUNNING, FERRY_MIG_PRE_COPY, NULL, &state, &fd,
					   err, sizeof err), 0);
	EXPECT_EQ_INT(sim_local_layout_calls(dev), 0);
	EXPECT_EQ_INT(state_of(dev), FERRY_MIG_PRE_COPY);
	dev->ops->close(dev);
}

FERRY_TEST(prepare_failed_request_reports_where_the_device_is)
{
	struct ferry_device *dev = sim_local_create(ALL_FLAGS, 0, 6);
	struct ferry_mig_caps caps;
	dev->ops->probe(dev, &caps);
	struct ferry_sim_faults f = {.fail_arc = true, .fail_arc_from = FERRY_MIG_RUNNING_P2P,
				     .fail_arc_to = FERRY_MIG_STOP, .fail_arc_mode = FERRY_SIM_FAIL_STAY};
	ferry_sim_model_set_faults(sim_local_model(dev), &f);
	uint32_t state;
	int fd;
	char err[256] = "";
	EXPECT(ferry_device_request(dev, "dev0", &caps, FERRY_MIG_RUNNING, FERRY_MIG_STOP_COPY, NULL, &state, &fd, err,
				    sizeof err) < 0);
	EXPECT_EQ_INT(state, FERRY_MIG_RUNNING_P2P); /* the path's first arc ran, the second failed */
	EXPECT(strstr(err, "device dev0: RUNNING -> STOP_COPY failed") != NULL);
	EXPECT(strstr(err, "(device is in RUNNING_P2P)") != NULL);
	dev->ops->close(dev);
}
