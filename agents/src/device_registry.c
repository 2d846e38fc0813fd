/* The agent's open devices; see device_registry.h. */
#include "device_registry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "device_prepare.h"
#include "errbuf.h"
#include "log.h"
#include "sim_backend.h"
#include "vfio_backend.h"

static const struct ferry_device_ops *ops_of(enum ferry_device_backend backend)
{
	return backend == FERRY_BACKEND_SIM ? &ferry_sim_ops : backend == FERRY_BACKEND_VFIO ? &ferry_vfio_ops : NULL;
}

/* Logs a device problem once per distinct reason, so a refresh loop does not repeat itself. */
static void note_error(struct ferry_device_registry *r, size_t i, const char *what, const char *why)
{
	char text[sizeof r->error[0]], q[300];
	snprintf(text, sizeof text, "%s: %s", what, why);
	if (strcmp(text, r->error[i]) == 0)
		return;
	snprintf(r->error[i], sizeof r->error[i], "%s", text);
	ferry_log(FERRY_LOG_ERROR, "msg=\"device unavailable\" device=%s backend=%s reason=%s", r->info[i].name,
		  ferry_device_backend_name(r->info[i].backend), ferry_log_quote(text, q, sizeof q));
}

static void close_device(struct ferry_device_registry *r, size_t i)
{
	if (r->dev[i])
		r->dev[i]->ops->close(r->dev[i]);
	r->dev[i] = NULL;
	memset(&r->caps[i], 0, sizeof r->caps[i]);
	r->info[i].state = 0;
	r->memory_owner[i] = 0;
}

/* What the backend says wins over the config; a difference is worth a warning, since the
 * coordinator matches devices on these values. */
static void adopt_backend_facts(struct ferry_device_registry *r, size_t i, const struct ferry_device_compat *c)
{
	struct ferry_device_info *d = &r->info[i];
	const struct ferry_mig_caps *caps = &r->caps[i];
	bool layout = caps->saving_layout_regions != 0;
	if (d->migration_flags != caps->mig_flags || d->dma_logging != caps->dma_logging ||
	    d->saving_layout_handshake != layout || d->vendor_id != c->vendor_id || d->device_id != c->device_id ||
	    strcmp(d->driver, c->driver) != 0 || strcmp(d->migration_version, c->migration_version) != 0)
		ferry_log(FERRY_LOG_WARNING,
			  "msg=\"device differs from its config; reporting what the device says\" device=%s "
			  "migration_flags=0x%x dma_logging=%d saving_layout_handshake=%d vendor_id=0x%04x device_id=0x%04x "
			  "driver=%s migration_version=%s",
			  d->name, caps->mig_flags, caps->dma_logging, layout, c->vendor_id, c->device_id, c->driver,
			  c->migration_version);
	d->migration_flags = caps->mig_flags;
	d->dma_logging = caps->dma_logging;
	d->saving_layout_handshake = layout;
	d->vendor_id = c->vendor_id;
	d->device_id = c->device_id;
	snprintf(d->driver, sizeof d->driver, "%s", c->driver);
	snprintf(d->migration_version, sizeof d->migration_version, "%s", c->migration_version);
}

/* Reads state and stop-copy size of an open device. A failure closes it. */
static int read_live(struct ferry_device_registry *r, size_t i)
{
	struct ferry_device *dev = r->dev[i];
	uint32_t state;
	int rc = dev->ops->get_state(dev, &state);
	if (rc < 0) {
		note_error(r, i, "get_state", ferry_device_error(dev)[0] ? ferry_device_error(dev) : strerror(-rc));
		if (!r->held[i])
			close_device(r, i);
		return rc;
	}
	r->info[i].state = ferry_device_state_to_wire(state);
	/* MIG_DATA_SIZE may be asked in any state, but a device in ERROR has nothing meaningful to
	 * say; the config's estimate stands in then, and when the query fails. */
	uint64_t bytes = r->configured_stop_copy[i];
	if (state != FERRY_MIG_ERROR && dev->ops->stop_copy_size(dev, &bytes) < 0) {
		ferry_log(FERRY_LOG_WARNING, "msg=\"MIG_DATA_SIZE failed; reporting the configured estimate\" device=%s",
			  r->info[i].name);
		bytes = r->configured_stop_copy[i];
	}
	r->info[i].stop_copy_bytes = bytes;
	return 0;
}

/* Pure: what to do with a device found in `state` that no migration of this agent owns. */
enum ferry_device_recovery ferry_device_recovery_for(uint32_t state)
{
	switch (state) {
	case FERRY_MIG_RUNNING:
		return FERRY_RECOVER_NONE;
	case FERRY_MIG_STOP:
	case FERRY_MIG_RUNNING_P2P:
	case FERRY_MIG_PRE_COPY:
	case FERRY_MIG_PRE_COPY_P2P:
	case FERRY_MIG_STOP_COPY:
		return FERRY_RECOVER_TO_RUNNING;
	default: /* RESUMING, ERROR, anything unknown */
		return FERRY_RECOVER_RESET;
	}
}

/* A device found mid-migration with no migration of this agent owning it (see the header): back to
 * RUNNING, by the kernel's own arcs or VFIO_DEVICE_RESET, logged either way. 0 or the error. */
static int recover_device(struct ferry_device_registry *r, size_t i)
{
	struct ferry_device *dev = r->dev[i];
	const char *name = r->info[i].name;
	uint32_t found;
	int rc = dev->ops->get_state(dev, &found);
	if (rc < 0)
		return rc; /* read_live reports it */
	enum ferry_device_recovery how = ferry_device_recovery_for(found);
	if (how == FERRY_RECOVER_NONE)
		return 0;
	char err[256] = "", q[300];
	const char *action = "set_state_running";
	if (how == FERRY_RECOVER_TO_RUNNING) {
		uint32_t now;
		int fd;
		rc = ferry_device_request(dev, name, &r->caps[i], found, FERRY_MIG_RUNNING, NULL, &now, &fd, err, sizeof err);
		if (rc < 0) {
			ferry_log(FERRY_LOG_WARNING, "msg=\"orphaned device did not return to RUNNING; resetting it\" "
						     "device=%s state_found=%s reason=%s",
				  name, ferry_mig_state_name(found), ferry_log_quote(err, q, sizeof q));
			how = FERRY_RECOVER_RESET;
		}
	}
	if (how == FERRY_RECOVER_RESET) {
		action = "reset";
		rc = dev->ops->reset(dev);
		if (rc < 0)
			snprintf(err, sizeof err, "VFIO_DEVICE_RESET: %s",
				 ferry_device_error(dev)[0] ? ferry_device_error(dev) : strerror(-rc));
	}
	if (rc < 0) {
		ferry_log(FERRY_LOG_ERROR, "msg=\"orphaned device could not be returned to RUNNING\" device=%s state_found=%s "
					   "action=%s reason=%s",
			  name, ferry_mig_state_name(found), action, ferry_log_quote(err, q, sizeof q));
		return rc;
	}
	ferry_log(FERRY_LOG_WARNING,
		  "msg=\"device was left mid-migration with no migration of this agent owning it; returned to RUNNING\" "
		  "device=%s state_found=%s action=%s",
		  name, ferry_mig_state_name(found), action);
	return 0;
}

static int open_device(struct ferry_device_registry *r, size_t i)
{
	struct ferry_device_info *d = &r->info[i];
	char address[512], err[256] = "";
	if (d->backend == FERRY_BACKEND_SIM) {
		if (!r->sim_socket[0]) {
			note_error(r, i, "open", "no ferry-simdevd socket");
			return -ENOENT;
		}
		snprintf(address, sizeof address, "socket=%s,device=%s", r->sim_socket, d->name);
	} else {
		if (!d->address[0]) {
			note_error(r, i, "open", "no address configured (address = cdev=PATH,pci=BDF or group=N,pci=BDF)");
			return -EINVAL;
		}
		snprintf(address, sizeof address, "%s", d->address);
	}
	const struct ferry_device_ops *ops = ops_of(d->backend);
	if (!ops) {
		note_error(r, i, "open", "unknown backend");
		return -EINVAL;
	}
	struct ferry_device_open_args args = {.address = address, .sys = r->sys, .error = err, .error_cap = sizeof err};
	int rc = ops->open(&args, &r->dev[i]);
	if (rc < 0) {
		r->dev[i] = NULL;
		note_error(r, i, "open", err[0] ? err : strerror(-rc));
		return rc;
	}
	struct ferry_device_compat compat;
	const char *step = "probe";
	rc = r->dev[i]->ops->probe(r->dev[i], &r->caps[i]);
	if (rc == 0) {
		step = "compat";
		rc = r->dev[i]->ops->compat(r->dev[i], &compat);
	}
	if (rc < 0) {
		note_error(r, i, step, ferry_device_error(r->dev[i])[0] ? ferry_device_error(r->dev[i]) : strerror(-rc));
		close_device(r, i);
		return rc;
	}
	adopt_backend_facts(r, i, &compat);
	if (!r->held[i])
		recover_device(r, i);
	if ((rc = read_live(r, i)) < 0)
		return rc;
	r->error[i][0] = '\0';
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"device opened\" device=%s backend=%s state=%s migration_flags=0x%x saving_layout_regions=0x%" PRIx64
		  " stop_copy_bytes=%" PRIu64,
		  d->name, ops->name, ferry_mig_state_name((uint32_t)d->state - 1), r->caps[i].mig_flags,
		  r->caps[i].saving_layout_regions, d->stop_copy_bytes);
	return 0;
}

void ferry_device_registry_open(struct ferry_device_registry *r, const struct ferry_agent_config *cfg,
				const char *sim_socket, const struct ferry_syscalls *sys)
{
	memset(r, 0, sizeof *r);
	r->sys = sys;
	snprintf(r->sim_socket, sizeof r->sim_socket, "%s", sim_socket ? sim_socket : "");
	r->n = cfg->n_devices < FERRY_MAX_DEVICES ? cfg->n_devices : FERRY_MAX_DEVICES;
	for (size_t i = 0; i < r->n; i++) {
		r->info[i] = cfg->devices[i];
		r->info[i].state = 0;
		r->configured_stop_copy[i] = cfg->devices[i].stop_copy_bytes;
		open_device(r, i);
	}
}

void ferry_device_registry_refresh(struct ferry_device_registry *r)
{
	for (size_t i = 0; i < r->n; i++) {
		if (r->dev[i])
			read_live(r, i);
		else
			open_device(r, i);
	}
}

size_t ferry_device_registry_sync_memory(struct ferry_device_registry *r, const struct ferry_vm_registry *vms)
{
	size_t changed = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct ferry_device_info *d = &r->info[i];
		if (d->backend != FERRY_BACKEND_SIM || !d->vm_id[0] || !r->dev[i])
			continue;
		const struct ferry_vm_entry *vm = ferry_vm_registry_find(vms, d->vm_id);
		uint64_t owner = vm ? vm->owner : 0;
		if (owner == r->memory_owner[i])
			continue;
		int rc = vm ? ferry_sim_attach_memory(r->dev[i], vm->memfd, vm->reg.ram_bytes)
			    : ferry_sim_attach_memory(r->dev[i], -1, 0);
		if (rc < 0) {
			char q[300];
			ferry_log(FERRY_LOG_ERROR, "msg=\"cannot %s guest memory\" device=%s vm_id=%s reason=%s",
				  vm ? "attach" : "detach", d->name, d->vm_id,
				  ferry_log_quote(ferry_device_error(r->dev[i]), q, sizeof q));
			continue;
		}
		r->memory_owner[i] = owner;
		changed++;
		if (vm)
			ferry_log(FERRY_LOG_INFO, "msg=\"guest memory attached\" device=%s vm_id=%s ram_bytes=%" PRIu64,
				  d->name, d->vm_id, vm->reg.ram_bytes);
		else
			ferry_log(FERRY_LOG_INFO, "msg=\"guest memory detached\" device=%s vm_id=%s", d->name, d->vm_id);
	}
	return changed;
}

int ferry_device_registry_find(const struct ferry_device_registry *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->info[i].name, name) == 0)
			return (int)i;
	return -1;
}

void ferry_device_registry_close(struct ferry_device_registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		close_device(r, i);
}
