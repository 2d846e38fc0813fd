/* Framed connection over a non-blocking socket; see conn.h. */
#include "conn.h"

#include "ferry.pb-c.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reads go in chunks of at least this size; the buffer grows beyond it only for a frame that
 * is larger, and never beyond one maximal frame plus one read. */
#define READ_CHUNK 65536u
#define MAX_FRAME ((size_t)FERRY_FRAME_HEADER_SIZE + FERRY_FRAME_MAX_HEADER + FERRY_FRAME_MAX_PAYLOAD)

void ferry_conn_init(struct ferry_conn *c, int fd)
{
	memset(c, 0, sizeof *c);
	c->fd = fd;
}

void ferry_conn_close(struct ferry_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

/* Makes room for at least READ_CHUNK more bytes after in_len, moving undecoded bytes to the front. */
static int reserve_input(struct ferry_conn *c)
{
	if (c->in_start > 0) {
		memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
		c->in_len -= c->in_start;
		c->in_start = 0;
	}
	if (c->in_cap - c->in_len >= READ_CHUNK)
		return 0;
	size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
	while (cap - c->in_len < READ_CHUNK)
		cap *= 2;
	/* A valid frame never needs more than MAX_FRAME buffered; the decoder rejects longer
	 * lengths from the header alone, so this bound is only a backstop. */
	if (cap > MAX_FRAME + READ_CHUNK)
		cap = MAX_FRAME + READ_CHUNK;
	if (cap - c->in_len == 0)
		return -ENOBUFS;
	uint8_t *n = realloc(c->in, cap);
	if (!n)
		return -ENOMEM;
	c->in = n;
	c->in_cap = cap;
	return 0;
}

int ferry_conn_fill(struct ferry_conn *c)
{
	int err = reserve_input(c);
	if (err)
		return err;
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			return (int)n;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

int ferry_conn_next_frame(struct ferry_conn *c, struct ferry_frame *f)
{
	size_t consumed = 0;
	memset(f, 0, sizeof *f);
	if (c->in_len == c->in_start)
		return 0;
	int err = ferry_wire_decode(c->in + c->in_start, c->in_len - c->in_start, f, &consumed);
	if (err < 0)
		return err;
	if (consumed == 0)
		return 0;
	c->in_start += consumed;
	c->frames_in++;
	return 1;
}

const uint8_t *ferry_conn_buffered(const struct ferry_conn *c, size_t *len)
{
	*len = c->in_len - c->in_start;
	return c->in ? c->in + c->in_start : NULL;
}

void ferry_conn_discard_input(struct ferry_conn *c)
{
	c->in_start = c->in_len = 0;
}

bool ferry_conn_wants_write(const struct ferry_conn *c)
{
	return c->out_len > c->out_start;
}

int ferry_conn_flush(struct ferry_conn *c)
{
	while (c->out_start < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_start, c->out_len - c->out_start, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_start += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		return n < 0 ? -errno : -EPIPE;
	}
	c->out_start = c->out_len = 0;
	return 0;
}

int ferry_conn_send(struct ferry_conn *c, unsigned type, const ProtobufCMessage *msg, const void *payload,
		    uint32_t payload_len)
{
	uint8_t *frame;
	size_t len;
	int err = ferry_wire_encode(type, msg, payload, payload_len, &frame, &len);
	if (err)
		return err;
	size_t pending = c->out_len - c->out_start;
	if (pending + len > FERRY_CONN_MAX_PENDING_OUT) {
		free(frame);
		return -ENOBUFS;
	}
	if (pending == 0) {
		/* Nothing queued: reuse the buffer from its start. */
		c->out_start = c->out_len = 0;
	} else if (c->out_start > 0) {
		memmove(c->out, c->out + c->out_start, pending);
		c->out_start = 0;
		c->out_len = pending;
	}
	if (c->out_cap - c->out_len < len) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap - c->out_len < len)
			cap *= 2;
		uint8_t *n = realloc(c->out, cap);
		if (!n) {
			free(frame);
			return -ENOMEM;
		}
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, frame, len);
	c->out_len += len;
	free(frame);
	c->frames_out++;
	err = ferry_conn_flush(c);
	return err < 0 ? err : 0;
}

int ferry_conn_send_error(struct ferry_conn *c, int code, const char *message, const char *migration_id)
{
	Ferry__V1__Error e = FERRY__V1__ERROR__INIT;
	e.code = (Ferry__V1__ErrorCode)code;
	e.message = (char *)(message ? message : "");
	e.migration_id = (char *)(migration_id ? migration_id : "");
	return ferry_conn_send(c, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR, &e.base, NULL, 0);
}
