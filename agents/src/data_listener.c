/* The data listener; see data_listener.h. */
#include "data_listener.h"

#include "ferry.pb-c.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ferry_data_listener_open(struct ferry_data_listener *l, const char *hostport)
{
	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < FERRY_DATA_MAX_PENDING; i++)
		ferry_conn_init(&l->pending[i].conn, -1);
	int err = ferry_net_listen(hostport, FERRY_DATA_MAX_PENDING, &l->fd);
	if (err) {
		l->fd = -1;
		return err;
	}
	err = ferry_net_local_address(l->fd, l->address, sizeof l->address);
	if (err) {
		close(l->fd);
		l->fd = -1;
		return err;
	}
	ferry_log(FERRY_LOG_INFO, "msg=\"data listener up\" data_listen=%s", l->address);
	return 0;
}

static void release_slot(struct ferry_data_listener *l, struct ferry_data_pending *p)
{
	ferry_conn_close(&p->conn);
	p->closing = false;
	l->n_pending--;
}

void ferry_data_listener_close(struct ferry_data_listener *l)
{
	for (size_t i = 0; i < FERRY_DATA_MAX_PENDING; i++)
		if (l->pending[i].conn.fd >= 0)
			release_slot(l, &l->pending[i]);
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

size_t ferry_data_listener_pollfds(const struct ferry_data_listener *l, struct pollfd *pfds, size_t max)
{
	size_t n = 0;
	if (l->fd >= 0 && l->n_pending < FERRY_DATA_MAX_PENDING && n < max)
		pfds[n++] = (struct pollfd){.fd = l->fd, .events = POLLIN};
	for (size_t i = 0; i < FERRY_DATA_MAX_PENDING && n < max; i++) {
		const struct ferry_data_pending *p = &l->pending[i];
		if (p->conn.fd < 0)
			continue;
		short ev = POLLIN;
		if (ferry_conn_wants_write(&p->conn))
			ev |= POLLOUT;
		pfds[n++] = (struct pollfd){.fd = p->conn.fd, .events = ev};
	}
	return n;
}

static void accept_all(struct ferry_data_listener *l, uint64_t now_ms)
{
	while (l->n_pending < FERRY_DATA_MAX_PENDING) {
		int fd;
		int err = ferry_net_accept(l->fd, &fd);
		if (err == -EAGAIN)
			return;
		if (err) {
			/* EMFILE and friends: leave the connection in the backlog and try on the next wakeup. */
			ferry_log(FERRY_LOG_WARNING, "msg=\"data listener accept failed\" reason=\"%s\"",
				  ferry_wire_strerror(err));
			return;
		}
		struct ferry_data_pending *p = NULL;
		for (size_t i = 0; i < FERRY_DATA_MAX_PENDING && !p; i++)
			if (l->pending[i].conn.fd < 0)
				p = &l->pending[i];
		ferry_conn_init(&p->conn, fd);
		p->closing = false;
		p->deadline_ms = now_ms + FERRY_DATA_FIRST_FRAME_TIMEOUT_MS;
		if (ferry_net_peer_address(fd, p->peer, sizeof p->peer) != 0)
			snprintf(p->peer, sizeof p->peer, "unknown");
		l->n_pending++;
		l->accepted++;
		ferry_log(FERRY_LOG_DEBUG, "msg=\"data channel accepted\" peer=%s", p->peer);
	}
}

/* Sends the Error, then shuts our side and lingers so the peer can read it. */
static void reject(struct ferry_data_listener *l, struct ferry_data_pending *p, uint64_t now_ms, int code,
		   const char *message, const char *migration_id)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&ferry__v1__error_code__descriptor, code);
	char q[300];
	ferry_log(FERRY_LOG_INFO, "msg=\"data channel refused\" peer=%s code=%s reason=%s", p->peer,
		  v ? v->name : "?", ferry_log_quote(message, q, sizeof q));
	l->rejected++;
	int err = ferry_conn_send_error(&p->conn, code, message, migration_id);
	if (err < 0) {
		release_slot(l, p);
		return;
	}
	ferry_conn_discard_input(&p->conn);
	p->closing = true;
	p->deadline_ms = now_ms + FERRY_DATA_LINGER_MS;
	if (!ferry_conn_wants_write(&p->conn))
		shutdown(p->conn.fd, SHUT_WR);
}

static void answer_stream_hello(struct ferry_data_listener *l, struct ferry_data_pending *p, uint64_t now_ms,
				const Ferry__V1__StreamHello *h)
{
	char message[256];
	size_t extra = 0;
	(void)ferry_conn_buffered(&p->conn, &extra);
	if (extra || ferry_conn_wants_write(&p->conn)) {
		/* A source waits for STREAM_WELCOME before sending more: bytes after the hello are a breach. */
		reject(l, p, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE,
		       "frames after STREAM_HELLO before STREAM_WELCOME", h->migration_id);
		return;
	}
	int code = FERRY__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MIGRATION;
	snprintf(message, sizeof message, "no migration %.128s is prepared on this host", h->migration_id);
	if (l->on_hello)
		code = l->on_hello(l->hello_ctx, h, p->conn.fd, message, sizeof message);
	if (code == 0) {
		/* The migration owns the socket now: forget it without closing it. */
		p->conn.fd = -1;
		ferry_conn_close(&p->conn);
		p->closing = false;
		l->n_pending--;
		return;
	}
	reject(l, p, now_ms, code, message, h->migration_id);
}

void ferry_data_listener_set_hello_handler(struct ferry_data_listener *l, ferry_data_hello_fn fn, void *ctx)
{
	l->on_hello = fn;
	l->hello_ctx = ctx;
}

/* Looks at what arrived so far: answers as soon as the first frame is complete or known bad. */
static void examine_first_frame(struct ferry_data_listener *l, struct ferry_data_pending *p, uint64_t now_ms)
{
	char message[160];
	size_t len;
	const uint8_t *buf = ferry_conn_buffered(&p->conn, &len);
	if (len >= FERRY_FRAME_HEADER_SIZE) {
		/* Judge the header before waiting for a body of up to 1 MiB that we would refuse anyway. */
		struct ferry_frame_header h;
		int err = ferry_frame_parse_header(buf, &h);
		if (err) {
			snprintf(message, sizeof message, "bad frame: %s", ferry_frame_strerror(err));
			reject(l, p, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_FRAME, message, NULL);
			return;
		}
		if (h.type != FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO) {
			const ProtobufCEnumValue *v =
				protobuf_c_enum_descriptor_get_value(&ferry__v1__frame_type__descriptor, h.type);
			snprintf(message, sizeof message, "expected STREAM_HELLO as the first frame, got %s",
				 v ? v->name : "?");
			reject(l, p, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_UNEXPECTED_MESSAGE, message, NULL);
			return;
		}
		if (h.header_len > FERRY_DATA_MAX_FIRST_FRAME) {
			snprintf(message, sizeof message, "bad frame: STREAM_HELLO of %u bytes is over %u", h.header_len,
				 FERRY_DATA_MAX_FIRST_FRAME);
			reject(l, p, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_FRAME, message, NULL);
			return;
		}
	}
	struct ferry_frame f;
	int rc = ferry_conn_next_frame(&p->conn, &f);
	if (rc == 0)
		return;
	if (rc < 0) {
		snprintf(message, sizeof message, "bad frame: %s", ferry_wire_strerror(rc));
		reject(l, p, now_ms,
		       rc == FERRY_WIRE_EMESSAGE ? FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_MESSAGE
						 : FERRY__V1__ERROR_CODE__ERROR_CODE_BAD_FRAME,
		       message, NULL);
		return;
	}
	answer_stream_hello(l, p, now_ms, (const Ferry__V1__StreamHello *)f.msg);
	ferry_frame_release(&f);
}

static void on_connection(struct ferry_data_listener *l, struct ferry_data_pending *p, short revents, uint64_t now_ms)
{
	if (revents & POLLOUT) {
		int err = ferry_conn_flush(&p->conn);
		if (err < 0) {
			release_slot(l, p);
			return;
		}
		if (err == 0 && p->closing)
			shutdown(p->conn.fd, SHUT_WR);
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	int rc = ferry_conn_fill(&p->conn);
	if (rc == -EAGAIN)
		return;
	if (p->closing) {
		ferry_conn_discard_input(&p->conn);
		if (rc <= 0)
			release_slot(l, p); /* the peer read our Error and closed, or the link broke */
		return;
	}
	if (rc < 0) {
		release_slot(l, p);
		return;
	}
	examine_first_frame(l, p, now_ms);
	if (!p->closing && p->conn.eof) {
		ferry_log(FERRY_LOG_DEBUG, "msg=\"data channel closed before its first frame\" peer=%s", p->peer);
		release_slot(l, p);
	}
}

void ferry_data_listener_on_poll(struct ferry_data_listener *l, const struct pollfd *pfds, size_t n, uint64_t now_ms)
{
	for (size_t k = 0; k < n; k++) {
		if (!pfds[k].revents)
			continue;
		if (pfds[k].fd == l->fd) {
			accept_all(l, now_ms);
			continue;
		}
		for (size_t i = 0; i < FERRY_DATA_MAX_PENDING; i++) {
			if (l->pending[i].conn.fd == pfds[k].fd) {
				on_connection(l, &l->pending[i], pfds[k].revents, now_ms);
				break;
			}
		}
	}
}

void ferry_data_listener_on_timer(struct ferry_data_listener *l, uint64_t now_ms)
{
	for (size_t i = 0; i < FERRY_DATA_MAX_PENDING; i++) {
		struct ferry_data_pending *p = &l->pending[i];
		if (p->conn.fd < 0 || now_ms < p->deadline_ms)
			continue;
		if (p->closing) {
			release_slot(l, p);
			continue;
		}
		l->timed_out++;
		char message[96];
		snprintf(message, sizeof message, "no STREAM_HELLO within %u ms", FERRY_DATA_FIRST_FRAME_TIMEOUT_MS);
		reject(l, p, now_ms, FERRY__V1__ERROR_CODE__ERROR_CODE_TIMEOUT, message, NULL);
	}
}

uint64_t ferry_data_listener_next_deadline(const struct ferry_data_listener *l)
{
	uint64_t due = UINT64_MAX;
	for (size_t i = 0; i < FERRY_DATA_MAX_PENDING; i++)
		if (l->pending[i].conn.fd >= 0 && l->pending[i].deadline_ms < due)
			due = l->pending[i].deadline_ms;
	return due;
}
