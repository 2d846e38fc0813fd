/* The control state machine on a TCP connection; see control_link.h. */
#include "control_link.h"

#include "ferry.pb-c.h"
#include "log.h"
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

static int link_connect(void *ctx)
{
	struct ferry_control_link *l = ctx;
	int fd;
	ferry_conn_close(&l->conn);
	int err = ferry_net_connect_start(l->coordinator, &fd);
	if (err)
		return err;
	ferry_conn_init(&l->conn, fd);
	l->connecting = true;
	return 0;
}

static int link_send(void *ctx, unsigned type, const ProtobufCMessage *msg)
{
	struct ferry_control_link *l = ctx;
	if (l->conn.fd < 0 || l->connecting)
		return -ENOTCONN;
	return ferry_conn_send(&l->conn, type, msg, NULL, 0);
}

static void link_disconnect(void *ctx)
{
	struct ferry_control_link *l = ctx;
	if (l->conn.fd >= 0 && !l->connecting)
		(void)ferry_conn_flush(&l->conn); /* a queued Error frame, if the socket takes it */
	ferry_conn_close(&l->conn);
	l->connecting = false;
}

static const ProtobufCMessage *link_inventory(void *ctx)
{
	struct ferry_control_link *l = ctx;
	return l->host.inventory(l->host.ctx, l->conn.fd);
}

static uint64_t link_free_memory(void *ctx)
{
	struct ferry_control_link *l = ctx;
	return l->host.free_memory_bytes(l->host.ctx);
}

static const struct ferry_control_ops link_ops = {
	.connect = link_connect,
	.send = link_send,
	.disconnect = link_disconnect,
	.inventory = link_inventory,
	.free_memory_bytes = link_free_memory,
};

void ferry_control_link_init(struct ferry_control_link *l, const char *coordinator, const char *host_id,
			     const char *boot_id, const char *agent_version, const struct ferry_control_link_host *host,
			     ferry_random_fn random, void *random_ctx)
{
	memset(l, 0, sizeof *l);
	ferry_conn_init(&l->conn, -1);
	snprintf(l->coordinator, sizeof l->coordinator, "%s", coordinator);
	l->host = *host;
	ferry_control_init(&l->ctl, &link_ops, l, host_id, boot_id, agent_version, coordinator, random, random_ctx);
}

void ferry_control_link_start(struct ferry_control_link *l, uint64_t now_ms)
{
	ferry_control_start(&l->ctl, now_ms);
}

int ferry_control_link_poll_fd(const struct ferry_control_link *l, short *events)
{
	if (l->conn.fd < 0) {
		*events = 0;
		return -1;
	}
	*events = l->connecting ? POLLOUT : (short)(POLLIN | (ferry_conn_wants_write(&l->conn) ? POLLOUT : 0));
	return l->conn.fd;
}

static void closed(struct ferry_control_link *l, uint64_t now_ms, const char *what, int err)
{
	char reason[160];
	snprintf(reason, sizeof reason, "%s: %s", what, ferry_wire_strerror(err));
	ferry_control_on_closed(&l->ctl, now_ms, reason);
}

/* Dispatches every complete frame in the buffer. Returns false when the connection went away. */
static bool dispatch_frames(struct ferry_control_link *l, uint64_t now_ms)
{
	for (;;) {
		struct ferry_frame f;
		int rc = ferry_conn_next_frame(&l->conn, &f);
		if (rc == 0)
			return true;
		if (rc < 0) {
			ferry_control_on_bad_frame(&l->ctl, now_ms, rc);
			return false;
		}
		ferry_control_on_frame(&l->ctl, now_ms, &f);
		ferry_frame_release(&f);
		if (l->conn.fd < 0)
			return false; /* the state machine hung up */
	}
}

void ferry_control_link_on_poll(struct ferry_control_link *l, short revents, uint64_t now_ms)
{
	if (l->conn.fd < 0 || revents == 0)
		return;
	if (l->connecting) {
		int err = ferry_net_connect_finish(l->conn.fd);
		if (err) {
			closed(l, now_ms, "connect failed", err);
			return;
		}
		l->connecting = false;
		ferry_control_on_connected(&l->ctl, now_ms);
		return;
	}
	if (revents & POLLOUT) {
		int err = ferry_conn_flush(&l->conn);
		if (err < 0) {
			closed(l, now_ms, "write failed", err);
			return;
		}
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		int rc = ferry_conn_fill(&l->conn);
		if (rc == -EAGAIN)
			return;
		if (rc < 0) {
			closed(l, now_ms, "read failed", rc);
			return;
		}
		/* Frames that arrived before an end of stream still count. */
		if (!dispatch_frames(l, now_ms))
			return;
		if (rc == 0)
			ferry_control_on_closed(&l->ctl, now_ms, "coordinator closed the connection");
	}
}

void ferry_control_link_on_timer(struct ferry_control_link *l, uint64_t now_ms)
{
	ferry_control_on_timer(&l->ctl, now_ms);
}

uint64_t ferry_control_link_next_deadline(const struct ferry_control_link *l)
{
	return ferry_control_next_deadline(&l->ctl);
}

void ferry_control_link_stop(struct ferry_control_link *l)
{
	ferry_control_stop(&l->ctl);
	ferry_conn_close(&l->conn);
}
