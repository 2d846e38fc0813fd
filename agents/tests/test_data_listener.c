/* The data listener on real loopback sockets: STREAM_HELLO gets UNKNOWN_MIGRATION, anything else
 * UNEXPECTED_MESSAGE, garbage BAD_FRAME, silence TIMEOUT; the Error always reaches the peer; the
 * listener keeps serving and holds at most FERRY_DATA_MAX_PENDING connections. */
#include "clock.h"
#include "data_listener.h"
#include "ferry.pb-c.h"
#include "test.h"
#include "test_peer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct listener_thread {
	struct ferry_data_listener l;
	atomic_bool stop;
	pthread_t th;
};

static void pump(struct ferry_data_listener *l, int timeout_ms)
{
	struct pollfd pfds[FERRY_DATA_MAX_PENDING + 1];
	size_t n = ferry_data_listener_pollfds(l, pfds, FERRY_DATA_MAX_PENDING + 1);
	if (poll(pfds, n, timeout_ms) > 0)
		ferry_data_listener_on_poll(l, pfds, n, ferry_monotonic_ms());
	ferry_data_listener_on_timer(l, ferry_monotonic_ms());
}

static void *listener_main(void *arg)
{
	struct listener_thread *t = arg;
	while (!atomic_load(&t->stop))
		pump(&t->l, 20);
	ferry_data_listener_close(&t->l);
	return NULL;
}

static struct listener_thread *start_listener(void)
{
	struct listener_thread *t = calloc(1, sizeof *t);
	if (ferry_data_listener_open(&t->l, "127.0.0.1:0") != 0)
		abort();
	pthread_create(&t->th, NULL, listener_main, t);
	return t;
}

static void stop_listener(struct listener_thread *t)
{
	atomic_store(&t->stop, true);
	pthread_join(t->th, NULL);
	free(t);
}

/* Reads the one Error the listener answers with, then checks it closed the connection. */
static Ferry__V1__Error *expect_error_then_close(struct test_peer *p)
{
	Ferry__V1__Error *e = (Ferry__V1__Error *)test_peer_expect(p, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, 5000);
	EXPECT(e != NULL);
	struct ferry_frame f;
	EXPECT_EQ_INT(test_peer_read_frame(p, &f, 5000), 0); /* end of stream, not a reset */
	return e;
}

static int send_stream_hello(struct test_peer *p, const char *migration_id)
{
	Ferry__V1__StreamHello h = FERRY__V1__STREAM_HELLO__INIT;
	h.protocol_version = FERRY_STREAM_PROTOCOL_VERSION;
	h.migration_id = (char *)migration_id;
	h.token = (ProtobufCBinaryData){5, (uint8_t *)"\x00\x01\x02\xfe\xff"};
	h.channel_count = 4;
	h.page_size = 4096;
	return test_peer_send(p, FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, &h.base);
}

FERRY_TEST(data_listener_stream_hello_gets_unknown_migration)
{
	struct listener_thread *t = start_listener();
	EXPECT(strncmp(t->l.address, "127.0.0.1:", 10) == 0 && strcmp(t->l.address, "127.0.0.1:0") != 0);
	struct test_peer p;
	EXPECT_EQ_INT(test_peer_connect(&p, t->l.address, 5000), 0);
	EXPECT_EQ_INT(send_stream_hello(&p, "m-7"), 0);
	Ferry__V1__Error *e = expect_error_then_close(&p);
	if (e) {
		EXPECT_EQ_INT(e->code, FERRY__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MIGRATION);
		EXPECT_EQ_STR(e->message, "no migration m-7 is prepared on this host");
		EXPECT_EQ_STR(e->migration_id, "m-7");
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	test_peer_close(&p);
	stop_listener(t);
}

FERRY_TEST(data_listener_garbage_gets_bad_frame_and_the_listener_keeps_serving)
{
	struct listener_thread *t = start_listener();
	struct test_peer p;

	/* Lots of non-frame bytes: the Error must still arrive (no reset from unread input). */
	EXPECT_EQ_INT(test_peer_connect(&p, t->l.address, 5000), 0);
	static char junk[256 << 10];
	memset(junk, 'x', sizeof junk);
	memcpy(junk, "GET / HTTP/1.1\r\n", 16);
	EXPECT_EQ_INT(test_peer_send_raw(&p, junk, sizeof junk), 0);
	Ferry__V1__Error *e = expect_error_then_close(&p);
	if (e) {
		EXPECT_EQ_INT(e->code, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_FRAME);
		EXPECT_EQ_STR(e->message, "bad frame: bad frame magic");
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	test_peer_close(&p);

	/* A valid frame of the wrong type. */
	EXPECT_EQ_INT(test_peer_connect(&p, t->l.address, 5000), 0);
	Ferry__V1__Heartbeat hb = FERRY__V1__HEARTBEAT__INIT;
	EXPECT_EQ_INT(test_peer_send(&p, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &hb.base), 0);
	e = expect_error_then_close(&p);
	if (e) {
		EXPECT_EQ_INT(e->code, FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE);
		EXPECT_EQ_STR(e->message, "expected STREAM_HELLO as the first frame, got FRAME_TYPE_HEARTBEAT");
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	test_peer_close(&p);

	/* A STREAM_HELLO header announcing a 1 MiB message is refused from the header alone. */
	EXPECT_EQ_INT(test_peer_connect(&p, t->l.address, 5000), 0);
	struct ferry_frame_header big = {FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, FERRY_FRAME_MAX_HEADER, 0};
	uint8_t hdr[FERRY_FRAME_HEADER_SIZE];
	EXPECT_EQ_INT(ferry_frame_write_header(&big, hdr), 0);
	EXPECT_EQ_INT(test_peer_send_raw(&p, hdr, sizeof hdr), 0);
	e = expect_error_then_close(&p);
	if (e) {
		EXPECT_EQ_INT(e->code, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_FRAME);
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	test_peer_close(&p);

	/* A STREAM_HELLO whose protobuf body does not decode. */
	EXPECT_EQ_INT(test_peer_connect(&p, t->l.address, 5000), 0);
	struct ferry_frame_header bad = {FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO, 2, 0};
	EXPECT_EQ_INT(ferry_frame_write_header(&bad, hdr), 0);
	EXPECT_EQ_INT(test_peer_send_raw(&p, hdr, sizeof hdr), 0);
	EXPECT_EQ_INT(test_peer_send_raw(&p, "\x12\x7f", 2), 0); /* string field 2, length past the end */
	e = expect_error_then_close(&p);
	if (e) {
		EXPECT_EQ_INT(e->code, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE);
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	test_peer_close(&p);

	/* Still serving. */
	EXPECT_EQ_INT(test_peer_connect(&p, t->l.address, 5000), 0);
	EXPECT_EQ_INT(send_stream_hello(&p, "m-8"), 0);
	e = expect_error_then_close(&p);
	if (e) {
		EXPECT_EQ_INT(e->code, FERRY__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MIGRATION);
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	test_peer_close(&p);
	atomic_store(&t->stop, true);
	pthread_join(t->th, NULL);
	EXPECT_EQ_U64(t->l.accepted, 5);
	EXPECT_EQ_U64(t->l.rejected, 5);
	free(t);
}

FERRY_TEST(data_listener_holds_at_most_64_pending_connections)
{
	struct ferry_data_listener l;
	EXPECT_EQ_INT(ferry_data_listener_open(&l, "127.0.0.1:0"), 0);
	static struct test_peer idle[FERRY_DATA_MAX_PENDING];
	for (int i = 0; i < FERRY_DATA_MAX_PENDING; i++)
		EXPECT_EQ_INT(test_peer_connect(&idle[i], l.address, 5000), 0);
	for (int i = 0; i < 200 && l.n_pending < FERRY_DATA_MAX_PENDING; i++)
		pump(&l, 10);
	EXPECT_EQ_INT(l.n_pending, FERRY_DATA_MAX_PENDING);

	/* Full: the listener is no longer polled, so the 65th waits in the kernel backlog. */
	struct pollfd pfds[FERRY_DATA_MAX_PENDING + 1];
	size_t n = ferry_data_listener_pollfds(&l, pfds, FERRY_DATA_MAX_PENDING + 1);
	EXPECT_EQ_INT(n, FERRY_DATA_MAX_PENDING);
	for (size_t i = 0; i < n; i++)
		EXPECT(pfds[i].fd != l.fd);
	struct test_peer extra;
	EXPECT_EQ_INT(test_peer_connect(&extra, l.address, 5000), 0);
	EXPECT_EQ_INT(send_stream_hello(&extra, "m-9"), 0);
	pump(&l, 50);
	EXPECT_EQ_U64(l.accepted, FERRY_DATA_MAX_PENDING);

	/* One idle peer leaves: its slot frees and the waiting connection is served. */
	test_peer_close(&idle[0]);
	for (int i = 0; i < 200 && l.rejected == 0; i++)
		pump(&l, 10);
	EXPECT_EQ_U64(l.accepted, FERRY_DATA_MAX_PENDING + 1);
	Ferry__V1__Error *e = NULL;
	for (int i = 0; i < 200 && !e; i++) {
		struct ferry_frame f;
		pump(&l, 0);
		int rc = test_peer_read_frame(&extra, &f, 10);
		if (rc == 1) {
			EXPECT_EQ_INT(f.type, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
			e = (Ferry__V1__Error *)f.msg;
			f.msg = NULL;
			ferry_frame_release(&f);
		}
	}
	EXPECT(e && e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MIGRATION);
	if (e)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	test_peer_close(&extra);
	for (int i = 1; i < FERRY_DATA_MAX_PENDING; i++)
		test_peer_close(&idle[i]);
	ferry_data_listener_close(&l);
	EXPECT_EQ_INT(l.n_pending, 0);
}

FERRY_TEST(data_listener_silent_connection_gets_timeout_after_the_first_frame_deadline)
{
	struct ferry_data_listener l;
	EXPECT_EQ_INT(ferry_data_listener_open(&l, "127.0.0.1:0"), 0);
	struct test_peer p;
	EXPECT_EQ_INT(test_peer_connect(&p, l.address, 5000), 0);
	for (int i = 0; i < 200 && l.n_pending == 0; i++)
		pump(&l, 10);
	EXPECT_EQ_INT(l.n_pending, 1);
	uint64_t due = ferry_data_listener_next_deadline(&l);
	EXPECT(due != UINT64_MAX);
	ferry_data_listener_on_timer(&l, due - 1);
	EXPECT_EQ_U64(l.timed_out, 0);
	ferry_data_listener_on_timer(&l, due); /* time jumps: no waiting 5 s in a test */
	EXPECT_EQ_U64(l.timed_out, 1);
	Ferry__V1__Error *e = (Ferry__V1__Error *)test_peer_expect(&p, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, 5000);
	EXPECT(e && e->code == FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT);
	if (e)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	/* Lingering ends when the peer closes, or at the linger deadline. */
	EXPECT_EQ_U64(ferry_data_listener_next_deadline(&l), due + FERRY_DATA_LINGER_MS);
	ferry_data_listener_on_timer(&l, due + FERRY_DATA_LINGER_MS);
	EXPECT_EQ_INT(l.n_pending, 0);
	test_peer_close(&p);
	ferry_data_listener_close(&l);
}
