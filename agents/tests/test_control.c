/* The control link state machine with recorded ops and a hand-driven clock: every transition,
 * timer and retry delay exactly (the same on a real socket: test_control_link.c). */
#include "control.h"
#include "ferry.pb-c.h"
#include "test.h"

#include <errno.h>
#include <stdlib.h>

/* ---- recorded ops ---- */

#define MAX_SENT 32

struct recorder {
	int connect_result;
	int send_result;
	int connects, disconnects;
	size_t n_sent;
	unsigned sent_types[MAX_SENT];
	uint8_t *sent_bytes[MAX_SENT]; /* packed messages, for inspection */
	size_t sent_len[MAX_SENT];
	Ferry__V1__Inventory inventory;
	bool inventory_fails;
};

static int rec_connect(void *ctx)
{
	struct recorder *r = ctx;
	r->connects++;
	return r->connect_result;
}

static int rec_send(void *ctx, unsigned type, const ProtobufCMessage *msg)
{
	struct recorder *r = ctx;
	if (r->send_result < 0)
		return r->send_result;
	if (r->n_sent < MAX_SENT) {
		size_t n = protobuf_c_message_get_packed_size(msg);
		r->sent_bytes[r->n_sent] = malloc(n ? n : 1);
		protobuf_c_message_pack(msg, r->sent_bytes[r->n_sent]);
		r->sent_len[r->n_sent] = n;
		r->sent_types[r->n_sent] = type;
		r->n_sent++;
	}
	return 0;
}

static void rec_disconnect(void *ctx)
{
	((struct recorder *)ctx)->disconnects++;
}

static const ProtobufCMessage *rec_inventory(void *ctx)
{
	struct recorder *r = ctx;
	return r->inventory_fails ? NULL : &r->inventory.base;
}

static uint64_t rec_free_memory(void *ctx)
{
	return 123456789;
}

static const struct ferry_control_ops rec_ops = {rec_connect, rec_send, rec_disconnect, rec_inventory,
						 rec_free_memory};

static uint32_t zero_random(void *ctx)
{
	return 0; /* every delay at its low jitter edge: base * 0.8 */
}

static void recorder_init(struct recorder *r)
{
	memset(r, 0, sizeof *r);
	ferry__v1__inventory__init(&r->inventory);
	r->inventory.host_id = "host-a";
}

static void recorder_free(struct recorder *r)
{
	for (size_t i = 0; i < r->n_sent; i++)
		free(r->sent_bytes[i]);
}

static ProtobufCMessage *sent_message(struct recorder *r, size_t i)
{
	return protobuf_c_message_unpack(ferry_wire_descriptor(r->sent_types[i]), NULL, r->sent_len[i],
					 r->sent_bytes[i]);
}

/* Feeds a message as if it arrived in a frame. */
static void feed(struct ferry_control *c, uint64_t now, unsigned type, ProtobufCMessage *msg)
{
	struct ferry_frame f = {.type = type, .msg = msg};
	ferry_control_on_frame(c, now, &f);
}

static void welcome(struct ferry_control *c, uint64_t now, uint32_t version, uint32_t interval, uint32_t misses)
{
	Ferry__V1__Welcome w = FERRY__V1__WELCOME__INIT;
	w.protocol_version = version;
	w.coordinator_id = "ferryd-test";
	w.heartbeat_interval_ms = interval;
	w.heartbeat_miss_limit = misses;
	feed(c, now, FERRY__V1__FRAME_TYPE__FRAME_TYPE_WELCOME, &w.base);
}

static void setup(struct ferry_control *c, struct recorder *r)
{
	recorder_init(r);
	ferry_control_init(c, &rec_ops, r, "host-a", "boot-1", "0.1.0", "ferryd:7100", zero_random, NULL);
}

/* setup, then started and connected at time 0: the link awaits the Welcome. */
static void setup_connected(struct ferry_control *c, struct recorder *r)
{
	setup(c, r);
	ferry_control_start(c, 0);
	ferry_control_on_connected(c, 0);
}

/* setup_connected, then welcomed at time 0 with a heartbeat every interval_ms (3 misses allowed). */
static void setup_active(struct ferry_control *c, struct recorder *r, uint32_t interval_ms)
{
	setup_connected(c, r);
	welcome(c, 0, 1, interval_ms, 3);
}

/* After a drop: waits out the retry delay and connects again. Returns the time it did. */
static uint64_t reconnect(struct ferry_control *c)
{
	uint64_t now = ferry_control_next_deadline(c);
	ferry_control_on_timer(c, now);
	ferry_control_on_connected(c, now);
	return now;
}

FERRY_TEST(control_connect_sends_hello_then_welcome_sends_inventory)
{
	struct ferry_control c;
	struct recorder r;
	setup(&c, &r);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	ferry_control_start(&c, 1000);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_CONNECTING);
	EXPECT_EQ_INT(r.connects, 1);
	EXPECT_EQ_U64(ferry_control_next_deadline(&c), 1000 + FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS);

	ferry_control_on_connected(&c, 1010);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_AWAIT_WELCOME);
	EXPECT_EQ_INT(r.n_sent, 1);
	EXPECT_EQ_INT(r.sent_types[0], FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO);
	Ferry__V1__Hello *h = (Ferry__V1__Hello *)sent_message(&r, 0);
	EXPECT(h != NULL);
	if (h) {
		EXPECT_EQ_INT(h->protocol_version, FERRY_PROTOCOL_VERSION);
		EXPECT_EQ_INT(h->min_protocol_version, FERRY_PROTOCOL_MIN_VERSION);
		EXPECT_EQ_STR(h->host_id, "host-a");
		EXPECT_EQ_STR(h->boot_id, "boot-1");
		EXPECT_EQ_STR(h->agent_version, "0.1.0");
		EXPECT(h->sent_at_unix_ns > 0);
		protobuf_c_message_free_unpacked(&h->base, NULL);
	}

	welcome(&c, 1020, 1, 250, 4);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_ACTIVE);
	EXPECT_EQ_INT(c.heartbeat_interval_ms, 250);
	EXPECT_EQ_INT(c.heartbeat_miss_limit, 4);
	EXPECT_EQ_STR(c.coordinator_id, "ferryd-test");
	EXPECT_EQ_INT(r.n_sent, 2);
	EXPECT_EQ_INT(r.sent_types[1], FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY);
	Ferry__V1__Inventory *inv = (Ferry__V1__Inventory *)sent_message(&r, 1);
	EXPECT(inv && strcmp(inv->host_id, "host-a") == 0);
	if (inv)
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	EXPECT_EQ_U64(ferry_control_next_deadline(&c), 1020 + 250);
	recorder_free(&r);
}

FERRY_TEST(control_heartbeats_every_interval_and_echo_keeps_the_link)
{
	struct ferry_control c;
	struct recorder r;
	setup_active(&c, &r, 100);
	size_t base = r.n_sent;
	ferry_control_on_timer(&c, 99);
	EXPECT_EQ_INT(r.n_sent, base); /* not due yet */
	for (uint64_t t = 100; t <= 1000; t += 100) {
		ferry_control_on_timer(&c, t);
		Ferry__V1__Heartbeat echo = FERRY__V1__HEARTBEAT__INIT;
		echo.seq = c.heartbeat_seq;
		feed(&c, t, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &echo.base);
	}
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_ACTIVE);
	EXPECT_EQ_INT(r.n_sent, base + 10);
	EXPECT_EQ_U64(c.heartbeat_seq, 10);
	EXPECT_EQ_U64(c.last_echoed_seq, 10);
	Ferry__V1__Heartbeat *hb = (Ferry__V1__Heartbeat *)sent_message(&r, base + 9);
	EXPECT(hb != NULL);
	if (hb) {
		EXPECT_EQ_U64(hb->seq, 10);
		EXPECT_EQ_U64(hb->free_memory_bytes, 123456789);
		EXPECT_EQ_INT(hb->active_migrations, 0);
		protobuf_c_message_free_unpacked(&hb->base, NULL);
	}
	EXPECT_EQ_INT(r.disconnects, 0);
	recorder_free(&r);
}

FERRY_TEST(control_drops_the_link_after_miss_limit_silent_intervals)
{
	struct ferry_control c;
	struct recorder r;
	setup_active(&c, &r, 100);
	/* Heartbeats go out, nothing comes back. */
	ferry_control_on_timer(&c, 100);
	ferry_control_on_timer(&c, 200);
	ferry_control_on_timer(&c, 299);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_ACTIVE);
	EXPECT_EQ_U64(ferry_control_next_deadline(&c), 300);
	ferry_control_on_timer(&c, 300);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	EXPECT_EQ_INT(r.disconnects, 1);
	/* First retry: base 100 ms at the low jitter edge (zero_random) = 80 ms. */
	EXPECT_EQ_INT(c.last_retry_delay_ms, 80);
	EXPECT_EQ_U64(ferry_control_next_deadline(&c), 380);
	ferry_control_on_timer(&c, 379);
	EXPECT_EQ_INT(r.connects, 1);
	ferry_control_on_timer(&c, 380);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_CONNECTING);
	EXPECT_EQ_INT(r.connects, 2);
	recorder_free(&r);
}

FERRY_TEST(control_failed_connects_back_off_doubling_to_the_cap_and_reset_after_welcome)
{
	struct ferry_control c;
	struct recorder r;
	setup(&c, &r);
	r.connect_result = -ECONNREFUSED;
	uint64_t now = 0;
	ferry_control_start(&c, now);
	const uint32_t want[] = {80, 160, 320, 640, 1280, 2560, 4000, 4000};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
		EXPECT_EQ_INT(c.last_retry_delay_ms, want[i]);
		now = ferry_control_next_deadline(&c);
		ferry_control_on_timer(&c, now);
	}
	EXPECT_EQ_INT(r.connects, 9);
	EXPECT_EQ_INT(r.disconnects, 0); /* nothing was ever connected */

	r.connect_result = 0;
	now = reconnect(&c);
	welcome(&c, now, 1, 1000, 3);
	ferry_control_on_closed(&c, now + 5, "coordinator closed the connection");
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	EXPECT_EQ_INT(c.last_retry_delay_ms, 80); /* the Welcome reset the backoff */
	recorder_free(&r);
}

FERRY_TEST(control_incompatible_version_error_closes_and_retries_with_backoff)
{
	struct ferry_control c;
	struct recorder r;
	setup(&c, &r);
	uint64_t now = 0;
	ferry_control_start(&c, now);
	for (int attempt = 0; attempt < 3; attempt++) {
		ferry_control_on_connected(&c, now);
		Ferry__V1__Error e = FERRY__V1__ERROR__INIT;
		e.code = FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION;
		e.message = "agent speaks 1..1, ferryd speaks 2..2";
		feed(&c, now, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, &e.base);
		EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
		EXPECT_EQ_INT(c.last_error_code, FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION);
		EXPECT_EQ_INT(c.last_retry_delay_ms, 80u << attempt); /* no Welcome: the delay keeps growing */
		now = ferry_control_next_deadline(&c);
		ferry_control_on_timer(&c, now);
		EXPECT_EQ_INT(c.state, FERRY_CONTROL_CONNECTING);
	}
	EXPECT_EQ_U64(c.errors_received, 3);
	EXPECT_EQ_INT(r.disconnects, 3);
	EXPECT_EQ_U64(c.welcomes, 0);
	recorder_free(&r);
}

FERRY_TEST(control_welcome_with_a_version_we_do_not_speak_is_refused)
{
	struct ferry_control c;
	struct recorder r;
	setup_connected(&c, &r);
	welcome(&c, 1, FERRY_PROTOCOL_VERSION + 1, 1000, 3);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	EXPECT_EQ_INT(r.n_sent, 2);
	EXPECT_EQ_INT(r.sent_types[1], FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
	Ferry__V1__Error *e = (Ferry__V1__Error *)sent_message(&r, 1);
	EXPECT(e && e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_INCOMPATIBLE_VERSION);
	if (e)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	recorder_free(&r);
}

FERRY_TEST(control_handshake_times_out_without_welcome_or_connect)
{
	struct ferry_control c;
	struct recorder r;
	setup(&c, &r);
	ferry_control_start(&c, 0);
	ferry_control_on_timer(&c, FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS - 1);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_CONNECTING);
	ferry_control_on_timer(&c, FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	uint64_t now = reconnect(&c);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_AWAIT_WELCOME);
	ferry_control_on_timer(&c, now + FERRY_CONTROL_HANDSHAKE_TIMEOUT_MS);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	EXPECT_EQ_INT(r.disconnects, 2);
	recorder_free(&r);
}

FERRY_TEST(control_unexpected_first_frame_and_bad_frames_close_with_an_error)
{
	struct ferry_control c;
	struct recorder r;
	setup_connected(&c, &r);
	Ferry__V1__Heartbeat hb = FERRY__V1__HEARTBEAT__INIT;
	feed(&c, 1, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &hb.base);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	EXPECT_EQ_INT(r.sent_types[r.n_sent - 1], FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
	Ferry__V1__Error *e = (Ferry__V1__Error *)sent_message(&r, r.n_sent - 1);
	EXPECT(e && e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE);
	if (e)
		protobuf_c_message_free_unpacked(&e->base, NULL);

	uint64_t now = reconnect(&c);
	welcome(&c, now, 1, 1000, 3);
	ferry_control_on_bad_frame(&c, now, FERRY_FRAME_EMAGIC);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	e = (Ferry__V1__Error *)sent_message(&r, r.n_sent - 1);
	EXPECT(e && e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_FRAME);
	if (e)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	EXPECT_EQ_INT(r.disconnects, 2);
	recorder_free(&r);
}

FERRY_TEST(control_command_is_answered_unsupported_and_the_link_stays)
{
	struct ferry_control c;
	struct recorder r;
	setup_active(&c, &r, 1000);
	Ferry__V1__Command cmd = FERRY__V1__COMMAND__INIT;
	cmd.migration_id = "m-7";
	cmd.seq = 3;
	feed(&c, 5, FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND, &cmd.base);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_ACTIVE);
	EXPECT_EQ_INT(r.sent_types[r.n_sent - 1], FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND_RESULT);
	Ferry__V1__CommandResult *res = (Ferry__V1__CommandResult *)sent_message(&r, r.n_sent - 1);
	EXPECT(res && res->error && res->error->code == FERRY__V1__ERROR_CODE__ERROR_CODE_UNSUPPORTED);
	if (res) {
		EXPECT_EQ_STR(res->migration_id, "m-7");
		EXPECT_EQ_U64(res->seq, 3);
		protobuf_c_message_free_unpacked(&res->base, NULL);
	}
	recorder_free(&r);
}

FERRY_TEST(control_inventory_changes_are_sent_only_when_active_and_send_failure_retries)
{
	struct ferry_control c;
	struct recorder r;
	setup(&c, &r);
	ferry_control_start(&c, 0);
	ferry_control_inventory_changed(&c, 0);
	EXPECT_EQ_INT(r.n_sent, 0);
	ferry_control_on_connected(&c, 0);
	welcome(&c, 0, 1, 1000, 3);
	ferry_control_inventory_changed(&c, 10);
	EXPECT_EQ_U64(c.inventories_sent, 2);
	r.send_result = -EPIPE;
	ferry_control_inventory_changed(&c, 20);
	EXPECT_EQ_INT(c.state, FERRY_CONTROL_DISCONNECTED);
	EXPECT_EQ_INT(r.disconnects, 1);
	ferry_control_stop(&c);
	EXPECT_EQ_U64(ferry_control_next_deadline(&c), UINT64_MAX);
	recorder_free(&r);
}
