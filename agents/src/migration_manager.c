/* The agent's migrations; see migration_manager.h. */
#include "migration_manager.h"

#include "clock.h"
#include "log.h"
#include "migration_dest.h"
#include "migration_device_binding.h"
#include "migration_source.h"
#include "migration_throttle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE(x) FERRY__V1__ERROR_CODE__ERROR_CODE_##x

int ferry_migration_manager_init(struct ferry_migration_manager *mm, struct ferry_vm_listener *vms,
				 struct ferry_device_registry *devices, const char *vm_socket, int (*data_address)(void *, char *, size_t),
				 int (*send)(void *, unsigned, const ProtobufCMessage *), void *ctx)
{
	memset(mm, 0, sizeof *mm);
	ferry_command_table_init(&mm->commands);
	mm->vms = vms;
	mm->devices = devices;
	snprintf(mm->vm_socket, sizeof mm->vm_socket, "%s", vm_socket);
	mm->data_address = data_address;
	mm->send = send;
	mm->ctx = ctx;
	return ferry_mig_reporter_init(&mm->reporter);
}

static struct ferry_migration *find(struct ferry_migration_manager *mm, const char *id)
{
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++)
		if (mm->migs[i].used && strcmp(mm->migs[i].id, id) == 0)
			return &mm->migs[i];
	return NULL;
}

/* The registry's `held` marks: every device of a migration still in a slot (its threads may use
 * the handle until the slot is released). */
static void hold_devices(struct ferry_migration_manager *mm)
{
	if (!mm->devices)
		return;
	memset(mm->devices->held, 0, sizeof mm->devices->held);
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++)
		for (size_t k = 0; mm->migs[i].used && mm->migs[i].devices && k < mm->migs[i].devices->set.g.n; k++)
			mm->devices->held[mm->migs[i].devices->reg_index[k]] = true;
}

static void release(struct ferry_migration_manager *mm, struct ferry_migration *m)
{
	mm->throttle[m - mm->migs] = 0;
	ferry_migration_source_free(m);
	ferry_migration_dest_free(m);
	free(m->devices);
	pthread_mutex_destroy(&m->lock);
	memset(m, 0, sizeof *m);
	hold_devices(mm);
}

/* A free slot, reclaiming the oldest finished migration if needed. */
static struct ferry_migration *new_migration(struct ferry_migration_manager *mm, const char *id, const char *vm_id,
					     enum ferry_migr_role role, const ProtobufCBinaryData *token, uint32_t channels)
{
	struct ferry_migration *m = NULL;
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS && !m; i++)
		if (!mm->migs[i].used)
			m = &mm->migs[i];
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS && !m; i++)
		if (ferry_mig_state_final(ferry_migration_state(&mm->migs[i])) && ferry_migration_dest_idle(&mm->migs[i]))
			m = &mm->migs[i];
	if (!m)
		return NULL;
	if (m->used)
		release(mm, m);
	m->used = true;
	snprintf(m->id, sizeof m->id, "%s", id);
	snprintf(m->vm_id, sizeof m->vm_id, "%s", vm_id);
	m->role = role;
	m->token_len = token->len < FERRY_MIG_TOKEN_MAX ? token->len : FERRY_MIG_TOKEN_MAX;
	memcpy(m->token, token->data, m->token_len);
	m->channels = channels ? channels : FERRY_STREAM_DEFAULT_CHANNELS;
	if (m->channels > FERRY_MIG_MAX_CHANNELS)
		m->channels = FERRY_MIG_MAX_CHANNELS;
	pthread_mutex_init(&m->lock, NULL);
	m->state = role == FERRY_MIG_SOURCE ? FERRY_MIG_SRC_PREPARED : FERRY_MIG_DST_PREPARED;
	m->reporter = &mm->reporter;
	return m;
}

/* busy[k]: registry device k is held by an unfinished migration (its devices are not free). */
static void devices_in_use(struct ferry_migration_manager *mm, bool *busy)
{
	memset(busy, 0, sizeof(bool) * FERRY_MAX_DEVICES);
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++) {
		struct ferry_migration *m = &mm->migs[i];
		if (!m->used || !m->devices || ferry_mig_state_final(ferry_migration_state(m)))
			continue;
		for (size_t k = 0; k < m->devices->set.g.n; k++)
			busy[m->devices->reg_index[k]] = true;
	}
}

/* An Event of a migration with five attributes (key, value); lost when the control link is down. */
static void send_event(struct ferry_migration_manager *mm, const char *migration_id, const char *kind,
		       const char *message, int64_t at_unix_ns, const char *const kv[5][2])
{
	Ferry__V1__Attribute a[5], *ap[5];
	for (size_t i = 0; i < 5; i++) {
		ferry__v1__attribute__init(&a[i]);
		a[i].key = (char *)kv[i][0];
		a[i].value = (char *)kv[i][1];
		ap[i] = &a[i];
	}
	Ferry__V1__Event e = FERRY__V1__EVENT__INIT;
	e.migration_id = (char *)migration_id;
	e.kind = (char *)kind;
	e.message = (char *)message;
	e.at_unix_ns = at_unix_ns;
	e.n_attributes = 5;
	e.attributes = ap;
	if (mm->send(mm->ctx, FERRY__V1__FRAME_TYPE__FRAME_TYPE_EVENT, &e.base) < 0)
		ferry_log(FERRY_LOG_DEBUG, "msg=\"event not sent: control link down\" migration_id=%s kind=%s", migration_id,
			  kind);
}

/* A device step as Event "device_state_changed": attributes device_id (this host's),
 * peer_device_id (the other side's), role, state (the target; "reset" for a reset), result. */
static void send_device_event(struct ferry_migration_manager *mm, const struct ferry_mig_report *r)
{
	const struct ferry_mig_device_step *s = &r->device_step;
	const char *state = s->target == FERRY_MIG_ERROR ? "reset" : ferry_mig_state_name(s->target);
	const char *result = s->rc == 0 ? "ok" : strerror(-s->rc);
	char message[300];
	snprintf(message, sizeof message, "device %s %s %s%s%s", s->device,
		 s->target == FERRY_MIG_ERROR ? "was" : "went to", state, s->rc ? ": " : "", s->rc ? result : "");
	const char *kv[5][2] = {{"device_id", s->device}, {"peer_device_id", s->peer_device},
				{"role", r->role == FERRY_MIG_SOURCE ? "source" : "destination"}, {"state", state},
				{"result", result}};
	send_event(mm, r->migration_id, "device_state_changed", message, s->at_unix_ns, kv);
}

static void send_progress(struct ferry_migration_manager *mm, const struct ferry_mig_report *r)
{
	if (r->device_step.present) {
		mm->device_changes++;
		send_device_event(mm, r);
		return;
	}
	Ferry__V1__Progress p = FERRY__V1__PROGRESS__INIT;
	Ferry__V1__DeviceProgress dp[FERRY_MIG_REPORT_DEVICES], *dps[FERRY_MIG_REPORT_DEVICES];
	for (size_t i = 0; i < r->n_devices; i++) {
		const struct ferry_mig_report_device *d = &r->devices[i];
		ferry__v1__device_progress__init(&dp[i]);
		dp[i].device_id = (char *)d->id;
		dp[i].state = (Ferry__V1__DeviceState)ferry_device_state_to_wire(d->state);
		dp[i].precopy_initial_bytes = d->precopy_initial_bytes;
		dp[i].precopy_dirty_bytes = d->precopy_dirty_bytes;
		dp[i].stop_copy_bytes = d->stop_copy_bytes;
		dp[i].bytes_sent = d->bytes_sent;
		p.device_bytes_sent += d->bytes_sent; /* the migration's total, as ram_bytes_sent */
		dps[i] = &dp[i];
	}
	p.device_bytes_sent += r->device_bytes_in_round; /* mid-round: not yet in devices[].bytes_sent */
	p.mid_round = r->mid_round;
	p.n_devices = r->n_devices;
	p.devices = dps;
	Ferry__V1__Error e = FERRY__V1__ERROR__INIT;
	p.migration_id = (char *)r->migration_id;
	p.vm_id = (char *)r->vm_id;
	p.role = r->role == FERRY_MIG_SOURCE ? FERRY__V1__MIGRATION_ROLE__MIGRATION_ROLE_SOURCE
					     : FERRY__V1__MIGRATION_ROLE__MIGRATION_ROLE_DESTINATION;
	p.phase = (Ferry__V1__AgentPhase)ferry_mig_state_phase(r->state);
	p.round = r->round;
	p.ram_bytes_sent = r->ram_bytes_sent;
	p.pages_dirtied = r->pages_dirtied;
	p.dirty_bytes_remaining = r->dirty_bytes_remaining;
	p.dirty_rate_bytes_per_sec = r->dirty_rate_bytes_per_sec;
	p.bandwidth_bytes_per_sec = r->bandwidth_bytes_per_sec;
	p.expected_downtime_us = r->expected_downtime_us;
	p.actual_downtime_us = r->actual_downtime_us;
	p.sent_at_unix_ns = ferry_realtime_ns();
	if (r->error_code) {
		e.code = (Ferry__V1__ErrorCode)r->error_code;
		e.message = (char *)r->error;
		e.migration_id = (char *)r->migration_id;
		p.error = &e;
	}
	if (mm->send(mm->ctx, FERRY__V1__FRAME_TYPE__FRAME_TYPE_PROGRESS, &p.base) < 0)
		ferry_log(FERRY_LOG_DEBUG, "msg=\"progress not sent: control link down\" migration_id=%s",
			  r->migration_id);
}

/* Event "throttle_changed" (see migration_manager.h); `error` NULL when the workload took it. */
static void send_throttle_event(struct ferry_migration_manager *mm, const struct ferry_migration *m, uint32_t percent,
				uint32_t previous, const char *reason, const char *error)
{
	char message[300], now[12], before[12];
	snprintf(now, sizeof now, "%u", percent);
	snprintf(before, sizeof before, "%u", previous);
	snprintf(message, sizeof message, "vCPU throttle %u %% -> %u %% (%s)%s%.200s", previous, percent, reason,
		 error ? ": not applied: " : "", error ? error : "");
	const char *kv[5][2] = {{"role", "source"}, {"throttle_percent", now}, {"previous_percent", before},
				{"reason", reason}, {"result", error ? error : "ok"}};
	send_event(mm, m->id, "throttle_changed", message, ferry_realtime_ns(), kv);
}

/* Makes `percent` the source VM's throttle if another one is in effect, through its workload,
 * and reports it. 0, or -errno with the reason in msg (the throttle in effect is unchanged, except
 * for a reset to 0, which is recorded anyway: the VM the migration held runs on without it). */
static int set_throttle(struct ferry_migration_manager *mm, struct ferry_migration *m, uint32_t percent,
			const char *reason, char *msg, size_t cap)
{
	uint32_t *cur = &mm->throttle[m - mm->migs];
	if (percent == *cur)
		return 0;
	char err[FERRY_CMD_MESSAGE_MAX];
	int rc = -ENOENT;
	const struct ferry_vm_entry *vm = ferry_vm_registry_find(&mm->vms->registry, m->vm_id);
	if (vm)
		rc = ferry_mig_throttle_workload(vm->reg.control, percent, err, sizeof err);
	else
		snprintf(err, sizeof err, "VM %.128s is not registered on this host any more", m->vm_id);
	send_throttle_event(mm, m, percent, *cur, reason, rc ? err : NULL);
	char q[300];
	ferry_log(rc ? FERRY_LOG_WARNING : FERRY_LOG_INFO,
		  "msg=\"vCPU throttle %s\" migration_id=%s vm_id=%s throttle_percent=%u previous_percent=%u reason=%s%s%s",
		  rc ? "not applied" : "applied", m->id, m->vm_id, percent, *cur, reason, rc ? " error=" : "",
		  rc ? ferry_log_quote(err, q, sizeof q) : "");
	if (rc == 0 || percent == 0)
		*cur = percent;
	if (rc)
		snprintf(msg, cap, "vCPU throttle %u %% not applied: %.200s", percent, err);
	return rc;
}

/* A source that ended: a rollback turns the throttle off (the VM runs on here); after a completion
 * the source workload is gone and the destination runs unthrottled. */
static void end_throttles(struct ferry_migration_manager *mm)
{
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++) {
		struct ferry_migration *m = &mm->migs[i];
		if (!m->used || !mm->throttle[i])
			continue;
		enum ferry_migr_state st = ferry_migration_state(m);
		char msg[FERRY_CMD_MESSAGE_MAX];
		if (st == FERRY_MIG_SRC_ROLLED_BACK)
			set_throttle(mm, m, 0, "rollback", msg, sizeof msg);
		else if (st == FERRY_MIG_SRC_COMPLETED)
			mm->throttle[i] = 0;
	}
}

static int prepare_destination(struct ferry_migration_manager *mm, const Ferry__V1__Command *cmd, uint64_t now_ms,
			       char *msg, size_t cap, char *address, size_t acap)
{
	const Ferry__V1__PrepareDestination *p = cmd->prepare_destination;
	if (!p->vm_id[0] || p->token.len == 0) {
		snprintf(msg, cap, "PrepareDestination needs vm_id and token");
		return CODE(BAD_MESSAGE);
	}
	if (ferry_vm_registry_find(&mm->vms->registry, p->vm_id)) {
		snprintf(msg, cap, "VM %.128s is already registered on this host", p->vm_id);
		return CODE(UNEXPECTED_MESSAGE);
	}
	struct ferry_mig_device_binding *devices = NULL;
	if (p->n_devices) {
		bool busy[FERRY_MAX_DEVICES];
		if (!mm->devices) {
			snprintf(msg, cap, "this agent has no device registry: devices cannot migrate here");
			return CODE(UNSUPPORTED);
		}
		devices_in_use(mm, busy);
		int drc = ferry_mig_device_binding_destination(mm->devices, p->vm_id, p->devices, p->n_devices, busy,
							       &devices, msg, cap);
		if (drc < 0)
			return drc == -ENOMEM ? CODE(INTERNAL) : CODE(DEVICE);
	}
	int rc = mm->data_address(mm->ctx, address, acap);
	if (rc) {
		free(devices);
		snprintf(msg, cap, "cannot tell the data address: %s", strerror(-rc));
		return CODE(INTERNAL);
	}
	struct ferry_migration *m =
		new_migration(mm, cmd->migration_id, p->vm_id, FERRY_MIG_DESTINATION, &p->token, p->channels);
	if (!m) {
		free(devices);
		snprintf(msg, cap, "too many migrations on this host");
		return CODE(UNSUPPORTED);
	}
	m->devices = devices;
	if (devices) {
		ferry_mig_device_binding_observe(devices, m);
		hold_devices(mm);
	}
	rc = ferry_migration_dest_prepare(m, p->ram_bytes, p->vcpus, p->launch_args, p->n_launch_args, mm->vm_socket,
					  now_ms, msg, cap);
	if (rc) {
		release(mm, m);
		return rc == -EINVAL ? CODE(BAD_MESSAGE) : rc == -ENOSPC || rc == -ENOMEM ? CODE(MEMORY) : CODE(INTERNAL);
	}
	return 0;
}

static int prepare_source(struct ferry_migration_manager *mm, const Ferry__V1__Command *cmd, char *msg, size_t cap)
{
	const Ferry__V1__PrepareSource *p = cmd->prepare_source;
	const struct ferry_vm_entry *vm = ferry_vm_registry_find(&mm->vms->registry, p->vm_id);
	if (!vm) {
		snprintf(msg, cap, "no VM %.128s runs on this host", p->vm_id);
		return CODE(BAD_MESSAGE);
	}
	if (!p->destination_address[0] || p->token.len == 0) {
		snprintf(msg, cap, "PrepareSource needs destination_address and token");
		return CODE(BAD_MESSAGE);
	}
	struct ferry_mig_device_binding *devices = NULL;
	if (mm->devices) {
		bool busy[FERRY_MAX_DEVICES];
		devices_in_use(mm, busy);
		int drc = ferry_mig_device_binding_source(mm->devices, p->vm_id, busy, &devices, msg, cap);
		if (drc < 0)
			return drc == -ENOMEM ? CODE(INTERNAL) : CODE(DEVICE);
	}
	struct ferry_migration *m = new_migration(mm, cmd->migration_id, p->vm_id, FERRY_MIG_SOURCE, &p->token, p->channels);
	if (!m) {
		free(devices);
		snprintf(msg, cap, "too many migrations on this host");
		return CODE(UNSUPPORTED);
	}
	m->devices = devices;
	if (devices) {
		ferry_mig_device_binding_observe(devices, m);
		hold_devices(mm);
	}
	int rc = ferry_migration_source_prepare(m, vm, p->destination_address, msg, cap);
	if (rc) {
		release(mm, m);
		return rc == -EOPNOTSUPP ? CODE(UNSUPPORTED) : CODE(MEMORY);
	}
	return 0;
}

static void to_policy(const Ferry__V1__MigrationPolicy *in, struct ferry_mig_policy *out)
{
	memset(out, 0, sizeof *out);
	if (!in)
		return;
	out->max_downtime_ms = in->max_downtime_ms;
	out->bandwidth_bytes_per_sec = in->bandwidth_bytes_per_sec;
	out->max_rounds = in->max_rounds;
	out->channels = in->channels;
	out->throttle_percent = in->throttle_percent;
}

static int on_existing(struct ferry_migration_manager *mm, struct ferry_migration *m, const Ferry__V1__Command *cmd,
		       char *msg, size_t cap)
{
	struct ferry_mig_policy pol;
	bool src = m->role == FERRY_MIG_SOURCE;
	switch (cmd->body_case) {
	case FERRY__V1__COMMAND__BODY_START_PRECOPY: {
		if (!src)
			break;
		to_policy(cmd->start_precopy->policy, &pol);
		if (ferry_mig_throttle_check(pol.throttle_percent, msg, cap))
			return CODE(BAD_MESSAGE);
		if (ferry_migration_fire(m, FERRY_MIG_EV_START_PRECOPY, 0, NULL) == FERRY_MIG_INVALID)
			break;
		if (ferry_migration_source_start(m, &pol, msg, cap)) {
			ferry_migration_fire(m, FERRY_MIG_EV_FAILURE, CODE(INTERNAL), msg);
			return CODE(INTERNAL);
		}
		/* Pre-copy runs either way; a throttle the workload did not take is in the Event. */
		char terr[FERRY_CMD_MESSAGE_MAX];
		set_throttle(mm, m, pol.throttle_percent, "policy", terr, sizeof terr);
		return 0;
	}
	case FERRY__V1__COMMAND__BODY_ADJUST_POLICY:
		if (!src || ferry_mig_state_final(ferry_migration_state(m)))
			break;
		to_policy(cmd->adjust_policy->policy, &pol);
		if (ferry_mig_throttle_check(pol.throttle_percent, msg, cap))
			return CODE(BAD_MESSAGE);
		ferry_migration_source_adjust(m, &pol);
		return set_throttle(mm, m, pol.throttle_percent, "policy", msg, cap) ? CODE(INTERNAL) : 0;
	case FERRY__V1__COMMAND__BODY_FORCE_CUTOVER:
		if (!src || ferry_migration_fire(m, FERRY_MIG_EV_FORCE_CUTOVER, 0, NULL) == FERRY_MIG_INVALID)
			break;
		ferry_migration_source_force_cutover(m);
		return 0;
	case FERRY__V1__COMMAND__BODY_ABORT: {
		enum ferry_migr_state st = ferry_migration_state(m);
		if (st == FERRY_MIG_SRC_COMPLETED || st == FERRY_MIG_DST_RESUMED) {
			snprintf(msg, cap, "migration %.128s already completed: too late to abort", m->id);
			return CODE(UNEXPECTED_MESSAGE);
		}
		if (src)
			ferry_migration_source_abort(m, cmd->abort->reason);
		else
			ferry_migration_dest_abort(m, cmd->abort->reason);
		return 0;
	}
	case FERRY__V1__COMMAND__BODY_QUERY_MIGRATION: {
		struct ferry_mig_report r;
		ferry_migration_report_base(m, &r);
		send_progress(mm, &r);
		return 0;
	}
	default:
		break;
	}
	snprintf(msg, cap, "command not valid for a %s migration in state %s", src ? "source" : "destination",
		 ferry_migr_state_name(ferry_migration_state(m)));
	return CODE(UNEXPECTED_MESSAGE);
}

static int execute(struct ferry_migration_manager *mm, const Ferry__V1__Command *cmd, uint64_t now_ms, char *msg,
		   size_t cap, char *address, size_t acap)
{
	struct ferry_migration *m = find(mm, cmd->migration_id);
	bool prepare = cmd->body_case == FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION ||
		       cmd->body_case == FERRY__V1__COMMAND__BODY_PREPARE_SOURCE;
	if (!cmd->migration_id[0]) {
		snprintf(msg, cap, "command without a migration id");
		return CODE(BAD_MESSAGE);
	}
	if (prepare && m) {
		snprintf(msg, cap, "migration %.128s is prepared already", cmd->migration_id);
		return CODE(UNEXPECTED_MESSAGE);
	}
	if (cmd->body_case == FERRY__V1__COMMAND__BODY_PREPARE_DESTINATION)
		return prepare_destination(mm, cmd, now_ms, msg, cap, address, acap);
	if (cmd->body_case == FERRY__V1__COMMAND__BODY_PREPARE_SOURCE)
		return prepare_source(mm, cmd, msg, cap);
	if (!m) {
		snprintf(msg, cap, "no migration %.128s on this host", cmd->migration_id);
		return CODE(UNKNOWN_MIGRATION);
	}
	return on_existing(mm, m, cmd, msg, cap);
}

const Ferry__V1__CommandResult *ferry_migration_manager_command(struct ferry_migration_manager *mm,
								 const Ferry__V1__Command *cmd, uint64_t now_ms)
{
	const struct ferry_command_record *rec;
	char msg[FERRY_CMD_MESSAGE_MAX] = "", address[FERRY_CMD_ADDRESS_MAX] = "";
	int code;
	enum ferry_command_verdict v = ferry_command_table_lookup(&mm->commands, cmd->migration_id, cmd->seq, &rec);
	if (v == FERRY_CMD_REPEAT) {
		code = rec->code;
		snprintf(msg, sizeof msg, "%s", rec->message);
		snprintf(address, sizeof address, "%s", rec->data_address);
		ferry_log(FERRY_LOG_INFO, "msg=\"repeated command answered from the record\" migration_id=%s command_seq=%llu",
			  cmd->migration_id, (unsigned long long)cmd->seq);
	} else if (v == FERRY_CMD_STALE) {
		code = CODE(STALE_COMMAND);
		snprintf(msg, sizeof msg, "command %llu is older than the last one executed",
			 (unsigned long long)cmd->seq);
	} else {
		code = execute(mm, cmd, now_ms, msg, sizeof msg, address, sizeof address);
		ferry_command_table_record(&mm->commands, cmd->migration_id, cmd->seq, code, msg, address);
		char q[300];
		ferry_log(code ? FERRY_LOG_WARNING : FERRY_LOG_INFO,
			  "msg=\"command executed\" migration_id=%s command_seq=%llu body=%d code=%d reason=%s",
			  cmd->migration_id, (unsigned long long)cmd->seq, (int)cmd->body_case, code,
			  ferry_log_quote(msg, q, sizeof q));
	}
	snprintf(mm->result_id, sizeof mm->result_id, "%s", cmd->migration_id);
	snprintf(mm->result_message, sizeof mm->result_message, "%s", msg);
	snprintf(mm->result_address, sizeof mm->result_address, "%s", address);
	ferry__v1__command_result__init(&mm->result);
	ferry__v1__error__init(&mm->result_error);
	mm->result.migration_id = mm->result_id;
	mm->result.seq = cmd->seq;
	mm->result.data_address = mm->result_address;
	if (code) {
		mm->result_error.code = (Ferry__V1__ErrorCode)code;
		mm->result_error.message = mm->result_message;
		mm->result_error.migration_id = mm->result_id;
		mm->result_error.command_seq = cmd->seq;
		mm->result.error = &mm->result_error;
	}
	return &mm->result;
}

int ferry_migration_manager_stream_hello(void *ctx, const Ferry__V1__StreamHello *h, int fd, char *msg, size_t cap)
{
	struct ferry_migration_manager *mm = ctx;
	struct ferry_migration *m = find(mm, h->migration_id);
	if (!m || m->role != FERRY_MIG_DESTINATION || !m->dst) {
		snprintf(msg, cap, "no migration %.128s is prepared on this host", h->migration_id);
		return CODE(UNKNOWN_MIGRATION);
	}
	return ferry_migration_dest_accept(m, h, fd, msg, cap);
}

int ferry_migration_manager_fd(const struct ferry_migration_manager *mm)
{
	return mm->reporter.event_fd;
}

void ferry_migration_manager_poll(struct ferry_migration_manager *mm, uint64_t now_ms)
{
	struct ferry_mig_report r;
	while (ferry_mig_reporter_take(&mm->reporter, &r))
		send_progress(mm, &r);
	end_throttles(mm);
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++)
		if (mm->migs[i].used && mm->migs[i].dst)
			ferry_migration_dest_poll(&mm->migs[i], mm->vms, now_ms);
	/* Reports posted by the polls just made (a confirm, a discard) go out now, not next wakeup. */
	while (ferry_mig_reporter_take(&mm->reporter, &r))
		send_progress(mm, &r);
}

uint64_t ferry_migration_manager_next_deadline(const struct ferry_migration_manager *mm, uint64_t now_ms)
{
	/* Destinations wait on their workload (registration, `start` answer, exit): look again soon. */
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++)
		if (mm->migs[i].used && mm->migs[i].dst)
			return now_ms + 50;
	return UINT64_MAX;
}

unsigned ferry_migration_manager_active(struct ferry_migration_manager *mm)
{
	unsigned n = 0;
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++)
		if (mm->migs[i].used && !ferry_mig_state_final(ferry_migration_state(&mm->migs[i])))
			n++;
	return n;
}

void ferry_migration_manager_close(struct ferry_migration_manager *mm)
{
	for (size_t i = 0; i < FERRY_MAX_MIGRATIONS; i++) {
		struct ferry_migration *m = &mm->migs[i];
		if (!m->used)
			continue;
		if (m->src && !ferry_mig_state_final(ferry_migration_state(m)))
			ferry_migration_source_abort(m, "agent stopping");
		char msg[FERRY_CMD_MESSAGE_MAX];
		if (ferry_migration_state(m) != FERRY_MIG_SRC_COMPLETED)
			set_throttle(mm, m, 0, "agent_stopping", msg, sizeof msg);
		release(mm, m);
	}
	ferry_mig_reporter_destroy(&mm->reporter);
}
