/* A migration's devices on this host; see migration_device_binding.h. */
#include "migration_device_binding.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "errbuf.h"
#include "mig_fsm.h"
#include "migration_device_match.h"

static struct ferry_mig_device_desc local_desc(const struct ferry_device_registry *r, size_t i)
{
	const struct ferry_device_info *d = &r->info[i];
	struct ferry_mig_device_desc desc = {.name = d->name};
	desc.compat.vendor_id = d->vendor_id;
	desc.compat.device_id = d->device_id;
	snprintf(desc.compat.driver, sizeof desc.compat.driver, "%s", d->driver);
	snprintf(desc.compat.migration_version, sizeof desc.compat.migration_version, "%s", d->migration_version);
	desc.caps = r->caps[i];
	desc.caps.saving_layout_regions = r->caps[i].saving_layout_regions != 0; /* what the wire can say */
	return desc;
}

static struct ferry_mig_device_desc wire_desc(const Ferry__V1__Device *w)
{
	struct ferry_mig_device_desc desc = {.name = w->id};
	desc.compat.vendor_id = (uint16_t)w->vendor_id;
	desc.compat.device_id = (uint16_t)w->device_id;
	snprintf(desc.compat.driver, sizeof desc.compat.driver, "%s", w->driver);
	snprintf(desc.compat.migration_version, sizeof desc.compat.migration_version, "%s", w->migration_version);
	desc.caps.mig_flags = w->migration_flags;
	desc.caps.dma_logging = w->dma_logging;
	desc.caps.saving_layout_regions = w->saving_layout_handshake;
	return desc;
}

/*
 * Whether a destination device is free to resume into. The kernel's RESUMING is entered from STOP
 * only (the core composes RUNNING -> [RUNNING_P2P ->] STOP -> RESUMING): RUNNING is the state an
 * opened or reset device is in, STOP the one a device that migrated its VM away is left in. Any
 * other state means someone else's data session (PRE_COPY*, STOP_COPY, RESUMING), a transition
 * under way (RUNNING_P2P), or ERROR, where every request fails until a reset; binding it would
 * break that session or fail later. *state = the state read, FERRY_MIG_NR_STATES if unreadable.
 */
static bool idle_state(struct ferry_device *dev, uint32_t *state)
{
	if (dev->ops->get_state(dev, state) < 0)
		*state = FERRY_MIG_NR_STATES;
	return *state == FERRY_MIG_RUNNING || *state == FERRY_MIG_STOP;
}

/* Builds the binding over registry devices idx[0..n). */
static int build(const struct ferry_device_registry *r, enum ferry_group_role role, const size_t *idx,
		 const char *const *peer, size_t n, struct ferry_mig_device_binding **out, char *err, size_t errlen)
{
	struct ferry_group_member members[FERRY_GROUP_MAX_DEVICES];
	struct ferry_mig_device_binding *b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		members[i] = (struct ferry_group_member){.name = r->info[idx[i]].name, .dev = r->dev[idx[i]],
							 .caps = r->caps[idx[i]], .data_fd = -1};
		b->reg_index[i] = (int)idx[i];
		snprintf(b->peer[i], sizeof b->peer[i], "%s", peer ? peer[i] : r->info[idx[i]].name);
	}
	int rc = ferry_mig_device_set_init(&b->set, role, members, n, err, errlen);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*out = b;
	return 0;
}

int ferry_mig_device_binding_source(const struct ferry_device_registry *r, const char *vm_id, const bool *busy,
				    struct ferry_mig_device_binding **out, char *err, size_t errlen)
{
	size_t idx[FERRY_GROUP_MAX_DEVICES], n = 0;
	*out = NULL;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->info[i].vm_id, vm_id) != 0)
			continue;
		if (!r->dev[i] || (busy && busy[i])) {
			ferry_errbuf_set(err, errlen, "device %s of VM %s %s", r->info[i].name, vm_id,
					 r->dev[i] ? "is in another migration" : "is not open here");
			if (r->dev[i] == NULL && r->error[i][0])
				ferry_errbuf_set(err, errlen, "device %s of VM %s is not open here: %s", r->info[i].name,
						 vm_id, r->error[i]);
			return -ENODEV;
		}
		if (n == FERRY_GROUP_MAX_DEVICES) {
			ferry_errbuf_set(err, errlen, "VM %s has more than %d devices", vm_id, FERRY_GROUP_MAX_DEVICES);
			return -E2BIG;
		}
		idx[n++] = i;
	}
	return n ? build(r, FERRY_GROUP_SOURCE, idx, NULL, n, out, err, errlen) : 0;
}

int ferry_mig_device_binding_destination(const struct ferry_device_registry *r, const char *vm_id,
					 Ferry__V1__Device *const *want, size_t n_want, const bool *busy,
					 struct ferry_mig_device_binding **out, char *err, size_t errlen)
{
	struct ferry_mig_device_desc w[FERRY_GROUP_MAX_DEVICES], local[FERRY_MAX_DEVICES];
	bool taken[FERRY_MAX_DEVICES];
	size_t match[FERRY_GROUP_MAX_DEVICES];
	const char *peer[FERRY_GROUP_MAX_DEVICES];
	*out = NULL;
	if (n_want == 0)
		return 0;
	if (n_want > FERRY_GROUP_MAX_DEVICES) {
		ferry_errbuf_set(err, errlen, "%zu devices, at most %d migrate together", n_want, FERRY_GROUP_MAX_DEVICES);
		return -E2BIG;
	}
	for (size_t i = 0; i < n_want; i++) {
		w[i] = wire_desc(want[i]);
		peer[i] = want[i]->id;
	}
	for (size_t k = 0; k < r->n; k++) {
		local[k] = local_desc(r, k);
		const char *owner = r->info[k].vm_id;
		taken[k] = !r->dev[k] || (busy && busy[k]) || (owner[0] && strcmp(owner, vm_id) != 0);
	}
	/* Twins that are not idle are set aside and the match rerun; each pass sets one more aside. */
	char not_idle[256] = "";
	size_t used = 0;
	for (;;) {
		int rc = ferry_mig_device_match(w, n_want, local, taken, r->n, match, err, errlen);
		if (rc < 0) {
			size_t len = err ? strnlen(err, errlen) : 0;
			if (rc == -ENODEV && not_idle[0] && len < errlen)
				snprintf(err + len, errlen - len,
					 "; not free to resume into (a destination device must be RUNNING or STOP): %s",
					 not_idle);
			return rc;
		}
		bool again = false;
		for (size_t i = 0; i < n_want; i++) {
			uint32_t state;
			if (idle_state(r->dev[match[i]], &state))
				continue;
			taken[match[i]] = again = true;
			if (used < sizeof not_idle) {
				int n = snprintf(not_idle + used, sizeof not_idle - used, "%sdevice %s is in %s",
						 used ? ", " : "", r->info[match[i]].name,
						 state < FERRY_MIG_NR_STATES ? ferry_mig_state_name(state)
									     : "an unreadable state");
				used += n > 0 ? (size_t)n : 0;
			}
		}
		if (!again)
			break;
	}
	return build(r, FERRY_GROUP_DESTINATION, match, peer, n_want, out, err, errlen);
}

void ferry_mig_device_binding_report(struct ferry_mig_device_binding *b, struct ferry_mig_report *rep)
{
	rep->n_devices = 0;
	for (size_t i = 0; b && i < b->set.g.n && i < FERRY_MIG_REPORT_DEVICES; i++) {
		struct ferry_mig_device_progress p;
		ferry_mig_device_set_progress(&b->set, i, &p);
		struct ferry_mig_report_device *d = &rep->devices[rep->n_devices++];
		snprintf(d->id, sizeof d->id, "%s", p.name);
		d->state = p.state;
		d->precopy_initial_bytes = p.precopy_initial_bytes;
		d->precopy_dirty_bytes = p.precopy_dirty_bytes;
		d->stop_copy_bytes = p.stop_copy_bytes;
		d->bytes_sent = p.bytes_sent;
	}
}


static void on_step(void *ctx, const struct ferry_group_step *step, int rc)
{
	struct ferry_migration *m = ctx;
	struct ferry_mig_device_binding *b = m->devices;
	struct ferry_mig_report rep;
	ferry_migration_report_base(m, &rep);
	struct ferry_mig_device_step *s = &rep.device_step;
	s->present = true;
	snprintf(s->device, sizeof s->device, "%s", b->set.names[step->device]);
	snprintf(s->peer_device, sizeof s->peer_device, "%s", b->peer[step->device]);
	s->target = step->target;
	s->rc = rc;
	s->at_unix_ns = ferry_realtime_ns();
	ferry_mig_reporter_post(m->reporter, &rep);
}

void ferry_mig_device_binding_observe(struct ferry_mig_device_binding *b, struct ferry_migration *m)
{
	b->set.g.on_step = on_step;
	b->set.g.on_step_ctx = m;
}

int ferry_mig_device_binding_find_peer(const struct ferry_mig_device_binding *b, const char *peer_id)
{
	for (size_t i = 0; i < b->set.g.n; i++)
		if (strcmp(b->peer[i], peer_id) == 0)
			return (int)i;
	return -1;
}
