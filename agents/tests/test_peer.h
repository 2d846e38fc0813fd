/*
 * A scripted peer for tests: plays ferryd on the control link or a source agent on a data
 * channel, over a real loopback socket, with blocking steps bounded by timeouts.
 */
#ifndef FERRY_TEST_PEER_H
#define FERRY_TEST_PEER_H

#include "conn.h"

struct test_peer {
	int listen_fd;      /* -1 unless test_peer_listen */
	struct ferry_conn conn; /* the current connection, fd -1 when none */
	char address[64];   /* where test_peer_listen listens */
};

/* Listens on 127.0.0.1 with a kernel-chosen port (peer->address). */
int test_peer_listen(struct test_peer *p);
/* Waits for one connection on the listener. */
int test_peer_accept(struct test_peer *p, int timeout_ms);
/* Connects to `address` (the peer plays the client). */
int test_peer_connect(struct test_peer *p, const char *address, int timeout_ms);

/* Next frame within timeout_ms: 1 with *f set, 0 at end of stream, or negative (timeout, bad frame). */
int test_peer_read_frame(struct test_peer *p, struct ferry_frame *f, int timeout_ms);
/* Next frame, which must be of `type` (complains on stderr otherwise): its message, owned by the
 * caller (protobuf_c_message_free_unpacked), or NULL. */
ProtobufCMessage *test_peer_expect(struct test_peer *p, unsigned type, int timeout_ms);
/* Reads (and drops) frames until the other side closes. 0, or -ETIMEDOUT. */
int test_peer_expect_closed(struct test_peer *p, int timeout_ms);

int test_peer_send(struct test_peer *p, unsigned type, const ProtobufCMessage *msg);
int test_peer_send_raw(struct test_peer *p, const void *bytes, size_t len);
int test_peer_send_welcome(struct test_peer *p, uint32_t version, uint32_t interval_ms, uint32_t miss_limit);
int test_peer_send_error(struct test_peer *p, int code, const char *message);

void test_peer_close_conn(struct test_peer *p);
void test_peer_close(struct test_peer *p);

#endif
