/* Scripted loopback peer for tests; see test_peer.h. */
#include "test_peer.h"

#include "clock.h"
#include "ferry.pb-c.h"
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int wait_fd(int fd, short events, uint64_t deadline)
{
	uint64_t now = ferry_monotonic_ms();
	if (now >= deadline)
		return -ETIMEDOUT;
	struct pollfd pfd = {.fd = fd, .events = events};
	int rc = poll(&pfd, 1, (int)(deadline - now));
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

int test_peer_listen(struct test_peer *p)
{
	memset(p, 0, sizeof *p);
	ferry_conn_init(&p->conn, -1);
	int err = ferry_net_listen("127.0.0.1:0", 16, &p->listen_fd);
	if (err) {
		p->listen_fd = -1;
		return err;
	}
	return ferry_net_local_address(p->listen_fd, p->address, sizeof p->address);
}

int test_peer_accept(struct test_peer *p, int timeout_ms)
{
	uint64_t deadline = ferry_monotonic_ms() + (uint64_t)timeout_ms;
	ferry_conn_close(&p->conn);
	for (;;) {
		int fd;
		int err = ferry_net_accept(p->listen_fd, &fd);
		if (err == 0) {
			ferry_conn_init(&p->conn, fd);
			return 0;
		}
		if (err != -EAGAIN)
			return err;
		err = wait_fd(p->listen_fd, POLLIN, deadline);
		if (err)
			return err;
	}
}

int test_peer_connect(struct test_peer *p, const char *address, int timeout_ms)
{
	memset(p, 0, sizeof *p);
	p->listen_fd = -1;
	int fd;
	int err = ferry_net_connect(address, timeout_ms, &fd);
	ferry_conn_init(&p->conn, err ? -1 : fd);
	return err;
}

int test_peer_read_frame(struct test_peer *p, struct ferry_frame *f, int timeout_ms)
{
	uint64_t deadline = ferry_monotonic_ms() + (uint64_t)timeout_ms;
	for (;;) {
		int rc = ferry_conn_next_frame(&p->conn, f);
		if (rc != 0)
			return rc;
		if (p->conn.eof)
			return 0;
		rc = ferry_conn_fill(&p->conn);
		if (rc == -EAGAIN) {
			int err = wait_fd(p->conn.fd, POLLIN, deadline);
			if (err)
				return err;
		} else if (rc < 0) {
			return rc;
		}
	}
}

ProtobufCMessage *test_peer_expect(struct test_peer *p, unsigned type, int timeout_ms)
{
	struct ferry_frame f;
	int rc = test_peer_read_frame(p, &f, timeout_ms);
	if (rc != 1) {
		fprintf(stderr, "  test_peer: waiting for frame type %u: %s\n", type,
			rc == 0 ? "end of stream" : ferry_wire_strerror(rc));
		return NULL;
	}
	if (f.type != type) {
		fprintf(stderr, "  test_peer: expected frame type %u, got %u\n", type, f.type);
		ferry_frame_release(&f);
		return NULL;
	}
	ProtobufCMessage *m = f.msg;
	f.msg = NULL; /* ownership moves to the caller */
	ferry_frame_release(&f);
	return m;
}

int test_peer_expect_closed(struct test_peer *p, int timeout_ms)
{
	uint64_t deadline = ferry_monotonic_ms() + (uint64_t)timeout_ms;
	for (;;) {
		struct ferry_frame f;
		uint64_t now = ferry_monotonic_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		int rc = test_peer_read_frame(p, &f, (int)(deadline - now));
		if (rc == 0)
			return 0;
		if (rc < 0)
			return rc == -ECONNRESET ? 0 : rc;
		ferry_frame_release(&f);
	}
}

static int flush_all(struct test_peer *p)
{
	uint64_t deadline = ferry_monotonic_ms() + 5000;
	for (;;) {
		int rc = ferry_conn_flush(&p->conn);
		if (rc <= 0)
			return rc;
		rc = wait_fd(p->conn.fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
}

int test_peer_send(struct test_peer *p, unsigned type, const ProtobufCMessage *msg)
{
	int err = ferry_conn_send(&p->conn, type, msg, NULL, 0);
	return err ? err : flush_all(p);
}

int test_peer_send_raw(struct test_peer *p, const void *bytes, size_t len)
{
	return ferry_net_write_all(p->conn.fd, bytes, len, 5000);
}

int test_peer_send_welcome(struct test_peer *p, uint32_t version, uint32_t interval_ms, uint32_t miss_limit)
{
	Ferry__V1__Welcome w = FERRY__V1__WELCOME__INIT;
	w.protocol_version = version;
	w.coordinator_id = "fake-ferryd";
	w.heartbeat_interval_ms = interval_ms;
	w.heartbeat_miss_limit = miss_limit;
	w.server_time_unix_ns = ferry_realtime_ns();
	return test_peer_send(p, FERRY__V1__FRAME_TYPE__FRAME_TYPE_WELCOME, &w.base);
}

int test_peer_send_error(struct test_peer *p, int code, const char *message)
{
	int err = ferry_conn_send_error(&p->conn, code, message, NULL);
	return err ? err : flush_all(p);
}

void test_peer_close_conn(struct test_peer *p)
{
	ferry_conn_close(&p->conn);
}

void test_peer_close(struct test_peer *p)
{
	ferry_conn_close(&p->conn);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	p->listen_fd = -1;
}
