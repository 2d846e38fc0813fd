/* The control link client state machine; see control.h. */
#include "control.h"

#include "clock.h"
#include "ferry.pb-c.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *ferry_control_state_name(enum ferry_control_state s)
{
	switch (s) {
	case FERRY_CONTROL_DISCONNECTED:
		return "disconnected";
	case FERRY_CONTROL_CONNECTING:
		return "connecting";
	case FERRY_CONTROL_AWAIT_WELCOME:
		return "await_welcome";
	case FERRY_CONTROL_ACTIVE:
		return "active";
	}
	return "unknown";
}

static const char *error_code_name(int code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&ferry__v1__error_code__descriptor, code);
	return v ? v->name : "ERROR_CODE_UNKNOWN";
}

static const char *frame_type_name(unsigned type)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&ferry__v1__frame_type__descriptor, (int)type);
	return v ? v->name : "FRAME_TYPE_UNKNOWN";
}

static void copy_string(char *dst, size_t dstlen, const char *src)
{
	snprintf(dst, dstlen, "%s", src ? src : "");
}

static void set_state(struct ferry_control *c, enum ferry_control_state to, const char *reason)
{
	char q[256];
	if (c->state != to)
		ferry_log(FERRY_LOG_INFO, "msg=\"control link state\" from=%s to=%s coordinator=%s reason=%s",
			  ferry_control_state_name(c->state), ferry_control_state_name(to), c->coordinator,
			  ferry_log_quote(reason, q, sizeof q));
	c->state = to;
}

void ferry_control_init(struct ferry_control *c, const struct ferry_control_ops *ops, void *ctx, const char *host_id,
			const char *boot_id, const char *agent_version, const char *coordinator, ferry_random_fn random,
			void *random_ctx)
{
	memset(c, 0, sizeof *c);
	c->ops = ops;
	c->ctx = ctx;
	copy_string(c->host_id, sizeof c->host_id, host_id);
	copy_string(c->boot_id, sizeof c->boot_id, boot_id);
	copy_string(c->agent_version, sizeof c->agent_version, agent_version);
	copy_string(c->coordinator, sizeof c->coordinator, coordinator);
	ferry_backoff_init(&c->backoff, FERRY_BACKOFF_INITIAL_MS, FERRY_BACKOFF_MAX_MS, FERRY_BACKOFF_JITTER_PERCENT,
			   random, random_ctx);
	c->state = FERRY_CONTROL_DISCONNECTED;
	c->deadline_ms = UINT64_MAX;
}

/* Back to DISCONNECTED, the next attempt after the backoff delay. */
static void schedule_retry(struct ferry_control *c, uint64_t now_ms, const char *reason)
{
	c->last_retry_delay_ms = ferry_backoff_next(&c->backoff);
	c->deadline_ms = now_ms + c->last_retry_delay_ms;
	set_state(c, FERRY_CONTROL_DISCONNECTED, reason);
	ferry_log(FERRY_LOG_INFO, "msg=\"reconnecting later\" coordinator=%s retry_in_ms=%u", c->coordinator,
		  c->last_retry_delay_ms);
}

/* Any failure of an open (or opening) link: close it and retry later. */
static void fail(struct ferry_control *c, uint64_t now_ms, const char *reason)
{
	if (c->state != FERRY_CONTROL_DISCONNECTED)
		c->ops->disconnect(c->ctx);
	schedule_retry(c, now_ms, reason);
}

static void attempt_connect(struct ferry_control *c, uint64_t now_ms)
{
	c->connect_attempts++;
	c->deadline_ms = now_ms + FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS;
	set_state(c, FERRY_CONTROL_CONNECTING, "dialing");
	int err = c->ops->connect(c->ctx);
	if (err < 0) {
		char reason[128];
		snprintf(reason, sizeof reason, "connect failed: %s", ferry_wire_strerror(err));
		schedule_retry(c, now_ms, reason); /* nothing was opened, so nothing to close */
	}
}

void ferry_control_start(struct ferry_control *c, uint64_t now_ms)
{
	attempt_connect(c, now_ms);
}

void ferry_control_stop(struct ferry_control *c)
{
	if (c->state != FERRY_CONTROL_DISCONNECTED)
		c->ops->disconnect(c->ctx);
	set_state(c, FERRY_CONTROL_DISCONNECTED, "shutting down");
	c->deadline_ms = UINT64_MAX;
}

/* Sends, and turns a dead connection into a retry. Returns 0 or the send's error. */
static int send_or_fail(struct ferry_control *c, uint64_t now_ms, unsigned type, const ProtobufCMessage *msg)
{
	int err = c->ops->send(c->ctx, type, msg);
	if (err < 0) {
		char reason[128];
		snprintf(reason, sizeof reason, "sending %s failed: %s", frame_type_name(type), ferry_wire_strerror(err));
		fail(c, now_ms, reason);
	}
	return err;
}

/* Tells ferryd why we hang up (best effort), then fails the link with the same reason. */
static void reject(struct ferry_control *c, uint64_t now_ms, int code, const char *message)
{
	Ferry__V1__Error e = FERRY__V1__ERROR__INIT;
	e.code = (Ferry__V1__ErrorCode)code;
	e.message = (char *)message;
	char q[256];
	ferry_log(FERRY_LOG_WARNING, "msg=\"closing control link\" coordinator=%s code=%s reason=%s", c->coordinator,
		  error_code_name(code), ferry_log_quote(message, q, sizeof q));
	(void)c->ops->send(c->ctx, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, &e.base);
	fail(c, now_ms, message);
}

void ferry_control_on_connected(struct ferry_control *c, uint64_t now_ms)
{
	if (c->state != FERRY_CONTROL_CONNECTING)
		return;
	Ferry__V1__Hello h = FERRY__V1__HELLO__INIT;
	h.protocol_version = FERRY_PROTOCOL_VERSION;
	h.min_protocol_version = FERRY_PROTOCOL_MIN_VERSION;
	h.host_id = c->host_id;
	h.agent_version = c->agent_version;
	h.boot_id = c->boot_id;
	h.sent_at_unix_ns = ferry_realtime_ns();
	c->deadline_ms = now_ms + FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS;
	set_state(c, FERRY_CONTROL_AWAIT_WELCOME, "connected, Hello sent");
	send_or_fail(c, now_ms, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO, &h.base);
}

static int send_inventory(struct ferry_control *c, uint64_t now_ms)
{
	const ProtobufCMessage *inv = c->ops->inventory(c->ctx);
	if (!inv) {
		/* Without an inventory ferryd cannot place anything here: retry the whole link. */
		fail(c, now_ms, "cannot build the inventory");
		return -1;
	}
	int err = send_or_fail(c, now_ms, FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY, inv);
	if (err == 0) {
		c->inventories_sent++;
		ferry_log(FERRY_LOG_DEBUG, "msg=\"inventory sent\" coordinator=%s", c->coordinator);
	}
	return err;
}

static void on_welcome(struct ferry_control *c, uint64_t now_ms, const Ferry__V1__Welcome *w)
{
	if (w->protocol_version < FERRY_PROTOCOL_MIN_VERSION || w->protocol_version > FERRY_PROTOCOL_VERSION) {
		char msg[160];
		snprintf(msg, sizeof msg, "ferryd chose protocol version %u, agent speaks %u..%u", w->protocol_version,
			 FERRY_PROTOCOL_MIN_VERSION, FERRY_PROTOCOL_VERSION);
		ferry_log(FERRY_LOG_ERROR, "msg=\"incompatible coordinator\" coordinator=%s chosen=%u min=%u max=%u",
			  c->coordinator, w->protocol_version, FERRY_PROTOCOL_MIN_VERSION, FERRY_PROTOCOL_VERSION);
		reject(c, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION, msg);
		return;
	}
	c->protocol_version = w->protocol_version;
	c->heartbeat_interval_ms = w->heartbeat_interval_ms ? w->heartbeat_interval_ms : FERRY_CONTROL_DEFAULT_INTERVAL_MS;
	c->heartbeat_miss_limit = w->heartbeat_miss_limit ? w->heartbeat_miss_limit : FERRY_CONTROL_DEFAULT_MISS_LIMIT;
	copy_string(c->coordinator_id, sizeof c->coordinator_id, w->coordinator_id);
	c->welcomes++;
	c->deadline_ms = UINT64_MAX;
	c->next_heartbeat_ms = now_ms + c->heartbeat_interval_ms;
	ferry_backoff_reset(&c->backoff);
	set_state(c, FERRY_CONTROL_ACTIVE, "welcomed");
	char q[160];
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"registered with coordinator\" coordinator=%s coordinator_id=%s host_id=%s protocol_version=%u "
		  "heartbeat_interval_ms=%u heartbeat_miss_limit=%u",
		  c->coordinator, ferry_log_quote(c->coordinator_id, q, sizeof q), c->host_id, c->protocol_version,
		  c->heartbeat_interval_ms, c->heartbeat_miss_limit);
	send_inventory(c, now_ms);
}

static void on_error(struct ferry_control *c, uint64_t now_ms, const Ferry__V1__Error *e)
{
	c->errors_received++;
	c->last_error_code = (int)e->code;
	/* These two never heal by retrying alone: an operator has to act, so say it loudly each time. */
	enum ferry_log_level level = e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION ||
						     e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_DUPLICATE_HOST
					     ? FERRY_LOG_ERROR
					     : FERRY_LOG_WARNING;
	char q[512], reason[600];
	ferry_log(level, "msg=\"coordinator sent an error\" coordinator=%s code=%s message=%s", c->coordinator,
		  error_code_name((int)e->code), ferry_log_quote(e->message, q, sizeof q));
	snprintf(reason, sizeof reason, "coordinator error %s", error_code_name((int)e->code));
	fail(c, now_ms, reason);
}

/* Commands go to the handler (the migration manager); without one the true answer is "not supported". */
static void on_command(struct ferry_control *c, uint64_t now_ms, const Ferry__V1__Command *cmd)
{
	if (c->on_command) {
		const Ferry__V1__CommandResult *res = c->on_command(c->command_ctx, cmd, now_ms);
		send_or_fail(c, now_ms, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND_RESULT, &res->base);
		return;
	}
	Ferry__V1__Error e = FERRY__V1__ERROR__INIT;
	e.code = FERRY__V1__ERROR_CODE__ERROR_CODE_UNSUPPORTED;
	e.message = "this agent version executes no commands yet";
	e.migration_id = cmd->migration_id;
	e.command_seq = cmd->seq;
	Ferry__V1__CommandResult r = FERRY__V1__COMMAND_RESULT__INIT;
	r.migration_id = cmd->migration_id;
	r.seq = cmd->seq;
	r.error = &e;
	char q[160];
	ferry_log(FERRY_LOG_WARNING, "msg=\"command not supported\" migration_id=%s command_seq=%llu",
		  ferry_log_quote(cmd->migration_id, q, sizeof q), (unsigned long long)cmd->seq);
	send_or_fail(c, now_ms, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND_RESULT, &r.base);
}

void ferry_control_on_frame(struct ferry_control *c, uint64_t now_ms, const struct ferry_frame *f)
{
	if (c->state != FERRY_CONTROL_AWAIT_WELCOME && c->state != FERRY_CONTROL_ACTIVE)
		return; /* no connection to speak of: a late frame from a closed link */
	c->last_rx_ms = now_ms;
	ferry_log(FERRY_LOG_TRACE, "msg=\"frame received\" type=%s", frame_type_name(f->type));
	if (f->type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR) {
		on_error(c, now_ms, (const Ferry__V1__Error *)f->msg);
		return;
	}
	char msg[160];
	if (c->state == FERRY_CONTROL_AWAIT_WELCOME) {
		if (f->type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_WELCOME) {
			on_welcome(c, now_ms, (const Ferry__V1__Welcome *)f->msg);
			return;
		}
		snprintf(msg, sizeof msg, "expected WELCOME or ERROR after HELLO, got %s", frame_type_name(f->type));
		reject(c, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE, msg);
		return;
	}
	switch (f->type) {
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT: {
		const Ferry__V1__Heartbeat *hb = (const Ferry__V1__Heartbeat *)f->msg;
		if (hb->seq > c->last_echoed_seq)
			c->last_echoed_seq = hb->seq;
		ferry_log(FERRY_LOG_TRACE, "msg=\"heartbeat echoed\" seq=%llu", (unsigned long long)hb->seq);
		return;
	}
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND:
		on_command(c, now_ms, (const Ferry__V1__Command *)f->msg);
		return;
	default:
		snprintf(msg, sizeof msg, "unexpected %s on the control link", frame_type_name(f->type));
		reject(c, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE, msg);
		return;
	}
}

void ferry_control_on_bad_frame(struct ferry_control *c, uint64_t now_ms, int err)
{
	if (c->state != FERRY_CONTROL_AWAIT_WELCOME && c->state != FERRY_CONTROL_ACTIVE)
		return;
	char msg[160];
	snprintf(msg, sizeof msg, "bad frame from coordinator: %s", ferry_wire_strerror(err));
	reject(c, now_ms,
	       err == FERRY_WIRE_EMESSAGE ? FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE
					  : FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_FRAME,
	       msg);
}

void ferry_control_on_closed(struct ferry_control *c, uint64_t now_ms, const char *reason)
{
	if (c->state == FERRY_CONTROL_DISCONNECTED)
		return;
	fail(c, now_ms, reason);
}

static void send_heartbeat(struct ferry_control *c, uint64_t now_ms)
{
	Ferry__V1__Heartbeat hb = FERRY__V1__HEARTBEAT__INIT;
	hb.seq = ++c->heartbeat_seq;
	hb.sent_at_unix_ns = ferry_realtime_ns();
	hb.free_memory_bytes = c->ops->free_memory_bytes(c->ctx);
	hb.active_migrations = c->active_migrations;
	send_or_fail(c, now_ms, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &hb.base);
}

static uint64_t silence_deadline(const struct ferry_control *c)
{
	return c->last_rx_ms + (uint64_t)c->heartbeat_miss_limit * c->heartbeat_interval_ms;
}

void ferry_control_on_timer(struct ferry_control *c, uint64_t now_ms)
{
	char reason[128];
	switch (c->state) {
	case FERRY_CONTROL_DISCONNECTED:
		if (now_ms >= c->deadline_ms)
			attempt_connect(c, now_ms);
		return;
	case FERRY_CONTROL_CONNECTING:
	case FERRY_CONTROL_AWAIT_WELCOME:
		if (now_ms >= c->deadline_ms) {
			snprintf(reason, sizeof reason, "%s timed out after %u ms",
				 c->state == FERRY_CONTROL_CONNECTING ? "connect" : "waiting for Welcome",
				 FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS);
			fail(c, now_ms, reason);
		}
		return;
	case FERRY_CONTROL_ACTIVE:
		if (now_ms >= silence_deadline(c)) {
			snprintf(reason, sizeof reason, "nothing from coordinator for %llu ms",
				 (unsigned long long)(now_ms - c->last_rx_ms));
			fail(c, now_ms, reason);
			return;
		}
		if (now_ms >= c->next_heartbeat_ms) {
			send_heartbeat(c, now_ms);
			/* After a stall, do not fire a burst of late heartbeats: one now, the next in a full interval. */
			c->next_heartbeat_ms += c->heartbeat_interval_ms;
			if (c->next_heartbeat_ms <= now_ms)
				c->next_heartbeat_ms = now_ms + c->heartbeat_interval_ms;
		}
		return;
	}
}

uint64_t ferry_control_next_deadline(const struct ferry_control *c)
{
	if (c->state != FERRY_CONTROL_ACTIVE)
		return c->deadline_ms;
	uint64_t silence = silence_deadline(c);
	return c->next_heartbeat_ms < silence ? c->next_heartbeat_ms : silence;
}

void ferry_control_set_command_handler(struct ferry_control *c, ferry_control_command_fn fn, void *ctx)
{
	c->on_command = fn;
	c->command_ctx = ctx;
}

int ferry_control_send_report(struct ferry_control *c, uint64_t now_ms, unsigned type, const ProtobufCMessage *msg)
{
	if (c->state != FERRY_CONTROL_ACTIVE)
		return -ENOTCONN;
	return send_or_fail(c, now_ms, type, msg);
}

void ferry_control_inventory_changed(struct ferry_control *c, uint64_t now_ms)
{
	if (c->state == FERRY_CONTROL_ACTIVE)
		send_inventory(c, now_ms);
}
