/* A VM's devices moving together; see device_group.h. */
#include "device_group.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errbuf.h"
#include "log.h"
#include "mig_fsm.h"

int ferry_group_check(const char *const *names, const uint32_t *mig_flags, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++)
		if (!(mig_flags[i] & FERRY_MIG_FLAG_STOP_COPY)) {
			ferry_errbuf_set(why, whylen, "device %s cannot migrate (no STOP_COPY capability)", names[i]);
			return -EOPNOTSUPP;
		}
	if (n < 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(mig_flags[i] & FERRY_MIG_FLAG_P2P)) {
			ferry_errbuf_set(why, whylen,
					 "the VM has %zu devices and device %s lacks P2P: without a P2P-quiesced state a "
					 "still-running device could DMA into one already stopped",
					 n, names[i]);
			return -EOPNOTSUPP;
		}
	return 0;
}

static bool has(uint32_t flags, uint32_t flag)
{
	return (flags & flag) != 0;
}

/* The state one device is asked to reach in `stage`, or its current state when it needs no step. */
static uint32_t stage_target(enum ferry_group_stage stage, uint32_t flags, uint32_t state)
{
	switch (stage) {
	case FERRY_STAGE_PRECOPY:
		return has(flags, FERRY_MIG_FLAG_PRE_COPY) ? FERRY_MIG_PRE_COPY : state;
	case FERRY_STAGE_QUIESCE:
		if (!has(flags, FERRY_MIG_FLAG_P2P))
			return state;
		return state == FERRY_MIG_PRE_COPY ? FERRY_MIG_PRE_COPY_P2P
		       : state == FERRY_MIG_RUNNING ? FERRY_MIG_RUNNING_P2P
						    : state;
	case FERRY_STAGE_STOP_COPY:
		return FERRY_MIG_STOP_COPY;
	case FERRY_STAGE_RESUMING:
		return FERRY_MIG_RESUMING;
	case FERRY_STAGE_PREPARE_START:
		return has(flags, FERRY_MIG_FLAG_P2P) && state != FERRY_MIG_RUNNING ? FERRY_MIG_RUNNING_P2P : state;
	case FERRY_STAGE_START:
		return FERRY_MIG_RUNNING;
	}
	return state;
}

size_t ferry_group_plan(enum ferry_group_stage stage, const uint32_t *mig_flags, const uint32_t *states, size_t n,
			struct ferry_group_step *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t target = stage_target(stage, mig_flags[i], states[i]);
		if (target != states[i])
			out[k++] = (struct ferry_group_step){(uint32_t)i, target};
	}
	return k;
}

/* Stopped, resuming or quiesced: a state from which a device must pass RUNNING_P2P before it may
 * initiate DMA again. */
static bool needs_p2p_on_the_way_up(uint32_t state)
{
	return state == FERRY_MIG_STOP || state == FERRY_MIG_STOP_COPY || state == FERRY_MIG_RESUMING ||
	       state == FERRY_MIG_PRE_COPY_P2P;
}

size_t ferry_group_plan_rollback(enum ferry_group_role role, const uint32_t *mig_flags, const uint32_t *states,
				 size_t n, struct ferry_group_step *out)
{
	uint32_t s[FERRY_GROUP_MAX_DEVICES];
	size_t k = 0;
	if (n > FERRY_GROUP_MAX_DEVICES)
		n = FERRY_GROUP_MAX_DEVICES;
	memcpy(s, states, n * sizeof *s);
	if (role == FERRY_GROUP_DESTINATION) {
		for (size_t i = n; i-- > 0;)
			if (s[i] != FERRY_MIG_RUNNING)
				out[k++] = (struct ferry_group_step){(uint32_t)i, FERRY_GROUP_RESET};
		return k;
	}
	for (size_t i = n; i-- > 0;) {
		if (s[i] == FERRY_MIG_ERROR || s[i] >= FERRY_MIG_NR_STATES) {
			out[k++] = (struct ferry_group_step){(uint32_t)i, FERRY_GROUP_RESET};
			s[i] = FERRY_MIG_RUNNING;
		} else if (has(mig_flags[i], FERRY_MIG_FLAG_P2P) && needs_p2p_on_the_way_up(s[i])) {
			out[k++] = (struct ferry_group_step){(uint32_t)i, FERRY_MIG_RUNNING_P2P};
			s[i] = FERRY_MIG_RUNNING_P2P;
		}
	}
	for (size_t i = n; i-- > 0;)
		if (s[i] != FERRY_MIG_RUNNING)
			out[k++] = (struct ferry_group_step){(uint32_t)i, FERRY_MIG_RUNNING};
	return k;
}

const char *ferry_group_stage_name(enum ferry_group_stage stage)
{
	switch (stage) {
	case FERRY_STAGE_PRECOPY: return "precopy";
	case FERRY_STAGE_QUIESCE: return "quiesce";
	case FERRY_STAGE_STOP_COPY: return "stop_copy";
	case FERRY_STAGE_RESUMING: return "resuming";
	case FERRY_STAGE_PREPARE_START: return "prepare_start";
	case FERRY_STAGE_START: return "start";
	}
	return "unknown";
}

int ferry_device_group_init(struct ferry_device_group *g, enum ferry_group_role role,
			    const struct ferry_group_member *members, size_t n, char *err, size_t errlen)
{
	memset(g, 0, sizeof *g);
	if (n > FERRY_GROUP_MAX_DEVICES) {
		ferry_errbuf_set(err, errlen, "%zu devices in one VM; at most %d", n, FERRY_GROUP_MAX_DEVICES);
		return -E2BIG;
	}
	const char *names[FERRY_GROUP_MAX_DEVICES];
	uint32_t flags[FERRY_GROUP_MAX_DEVICES];
	for (size_t i = 0; i < n; i++) {
		g->m[i] = members[i];
		g->m[i].data_fd = -1;
		names[i] = members[i].name;
		flags[i] = members[i].caps.mig_flags;
	}
	g->role = role;
	g->n = n;
	return ferry_group_check(names, flags, n, err, errlen);
}

static int read_states(struct ferry_device_group *g, char *err, size_t errlen)
{
	for (size_t i = 0; i < g->n; i++) {
		struct ferry_group_member *m = &g->m[i];
		int rc = m->dev->ops->get_state(m->dev, &m->state);
		if (rc < 0) {
			ferry_errbuf_set(err, errlen, "device %s: cannot read its state: %s", m->name,
					 ferry_device_error(m->dev)[0] ? ferry_device_error(m->dev) : strerror(-rc));
			m->state = FERRY_MIG_NR_STATES; /* unknown: rollback resets it */
			return rc;
		}
	}
	return 0;
}

static int execute(struct ferry_device_group *g, const struct ferry_group_step *step, char *err, size_t errlen)
{
	struct ferry_group_member *m = &g->m[step->device];
	int rc;
	if (step->target == FERRY_GROUP_RESET) {
		rc = m->dev->ops->reset(m->dev);
		if (rc == 0) {
			m->state = FERRY_MIG_RUNNING;
			m->data_fd = -1;
		} else {
			ferry_errbuf_set(err, errlen, "device %s: reset failed: %s", m->name,
					 ferry_device_error(m->dev)[0] ? ferry_device_error(m->dev) : strerror(-rc));
		}
	} else {
		int fd = -1;
		rc = ferry_device_request(m->dev, m->name, &m->caps, m->state, step->target, &g->prepare, &m->state, &fd,
					  err, errlen);
		if (rc == 0 && fd >= 0)
			m->data_fd = fd;
		if (!ferry_mig_state_is_saving(m->state) && m->state != FERRY_MIG_RESUMING)
			m->data_fd = -1;
	}
	ferry_log(rc == 0 ? FERRY_LOG_DEBUG : FERRY_LOG_WARNING, "msg=\"device step\" device=%s target=%s result=%d",
		  m->name, step->target == FERRY_GROUP_RESET ? "RESET" : ferry_mig_state_name(step->target), rc);
	if (g->on_step)
		g->on_step(g->on_step_ctx, step, rc);
	return rc;
}

int ferry_device_group_rollback(struct ferry_device_group *g, char *err, size_t errlen)
{
	uint32_t states[FERRY_GROUP_MAX_DEVICES], flags[FERRY_GROUP_MAX_DEVICES];
	struct ferry_group_step steps[2 * FERRY_GROUP_MAX_DEVICES];
	char why[256];
	for (size_t i = 0; i < g->n; i++) {
		struct ferry_group_member *m = &g->m[i];
		if (m->dev->ops->get_state(m->dev, &m->state) < 0)
			m->state = FERRY_MIG_NR_STATES; /* unreadable: reset it */
		states[i] = m->state;
		flags[i] = m->caps.mig_flags;
	}
	size_t n = ferry_group_plan_rollback(g->role, flags, states, g->n, steps);
	for (size_t k = 0; k < n; k++) {
		struct ferry_group_member *m = &g->m[steps[k].device];
		if (steps[k].target != FERRY_GROUP_RESET && m->state == steps[k].target)
			continue; /* a reset after an earlier failure got it there already */
		if (execute(g, &steps[k], why, sizeof why) < 0 && steps[k].target != FERRY_GROUP_RESET) {
			/* A request failed: reset is the one way back that does not depend on the state. */
			struct ferry_group_step reset = {steps[k].device, FERRY_GROUP_RESET};
			execute(g, &reset, why, sizeof why);
		}
	}
	int rc = 0;
	size_t used = 0;
	if (err && errlen)
		err[0] = '\0';
	for (size_t i = 0; i < g->n; i++) {
		struct ferry_group_member *m = &g->m[i];
		uint32_t state;
		int grc = m->dev->ops->get_state(m->dev, &state);
		if (grc == 0 && state == FERRY_MIG_RUNNING)
			continue;
		rc = rc ? rc : (grc < 0 ? grc : -EIO);
		if (err && used < errlen) {
			int w = snprintf(err + used, errlen - used, "%sdevice %s is in %s", used ? ", " : "",
					 m->name, grc == 0 ? ferry_mig_state_name(state) : "an unreadable state");
			used += w > 0 ? (size_t)w : 0;
		}
	}
	return rc;
}

int ferry_device_group_run(struct ferry_device_group *g, enum ferry_group_stage stage, char *err, size_t errlen)
{
	char why[384] = "", back[256] = "";
	int rc = read_states(g, why, sizeof why);
	if (rc == 0) {
		uint32_t states[FERRY_GROUP_MAX_DEVICES], flags[FERRY_GROUP_MAX_DEVICES];
		struct ferry_group_step steps[FERRY_GROUP_MAX_DEVICES];
		for (size_t i = 0; i < g->n; i++) {
			states[i] = g->m[i].state;
			flags[i] = g->m[i].caps.mig_flags;
		}
		size_t n = ferry_group_plan(stage, flags, states, g->n, steps);
		for (size_t k = 0; k < n && rc == 0; k++)
			rc = execute(g, &steps[k], why, sizeof why);
	}
	if (rc == 0)
		return 0;
	int brc = ferry_device_group_rollback(g, back, sizeof back);
	ferry_errbuf_set(err, errlen, "%s stage failed: %s; %s%s", ferry_group_stage_name(stage), why,
			 brc == 0 ? "rolled back: every device is RUNNING" : "rollback incomplete: ", brc == 0 ? "" : back);
	ferry_log(FERRY_LOG_ERROR, "msg=\"device group stage failed\" stage=%s rolled_back=%s", ferry_group_stage_name(stage),
		  brc == 0 ? "true" : "false");
	return rc;
}
