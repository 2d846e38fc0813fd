/* The sim device protocol's encoding and socket I/O; the protocol is documented in sim_protocol.h. */
#include "sim_protocol.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void ferry_sim_info_encode(const struct ferry_sim_wire_info *in, uint8_t out[FERRY_SIM_WIRE_INFO_LEN])
{
	memset(out, 0, FERRY_SIM_WIRE_INFO_LEN);
	put32(out, in->mig_flags);
	put32(out + 4, in->dma_logging);
	put64(out + 8, in->saving_layout_regions);
	put32(out + 16, (uint32_t)in->vendor_id | (uint32_t)in->device_id << 16);
	put64(out + 24, in->state_bytes);
	memcpy(out + 32, in->driver, strnlen(in->driver, 63));
	memcpy(out + 96, in->migration_version, strnlen(in->migration_version, 127));
}

int ferry_sim_info_decode(const uint8_t in[FERRY_SIM_WIRE_INFO_LEN], struct ferry_sim_wire_info *out)
{
	memset(out, 0, sizeof *out);
	out->mig_flags = get32(in);
	out->dma_logging = get32(in + 4);
	out->saving_layout_regions = get64(in + 8);
	out->vendor_id = (uint16_t)get32(in + 16);
	out->device_id = (uint16_t)(get32(in + 16) >> 16);
	out->state_bytes = get64(in + 24);
	memcpy(out->driver, in + 32, 64);
	memcpy(out->migration_version, in + 96, 128);
	if (out->driver[63] || out->migration_version[127])
		return -EPROTO;
	return 0;
}

void ferry_sim_faults_encode(const struct ferry_sim_faults *f, uint8_t out[FERRY_SIM_WIRE_FAULTS_LEN])
{
	put32(out, f->fail_arc);
	put32(out + 4, f->fail_arc_from);
	put32(out + 8, f->fail_arc_to);
	put32(out + 12, (uint32_t)f->fail_arc_mode);
	put32(out + 16, f->error_in_stop_copy);
	put32(out + 20, f->refuse_resuming_data);
}

int ferry_sim_faults_decode(const uint8_t in[FERRY_SIM_WIRE_FAULTS_LEN], struct ferry_sim_faults *out)
{
	uint32_t v[6];
	for (int i = 0; i < 6; i++)
		v[i] = get32(in + 4 * i);
	if (v[0] > 1 || v[1] >= FERRY_MIG_NR_STATES || v[2] >= FERRY_MIG_NR_STATES || v[3] > FERRY_SIM_FAIL_TO_ERROR ||
	    v[4] > 1 || v[5] > 1)
		return -EPROTO;
	*out = (struct ferry_sim_faults){
		.fail_arc = v[0],
		.fail_arc_from = v[1],
		.fail_arc_to = v[2],
		.fail_arc_mode = (enum ferry_sim_fail_mode)v[3],
		.error_in_stop_copy = v[4],
		.refuse_resuming_data = v[5],
	};
	return 0;
}

void ferry_sim_hdr_encode(const struct ferry_sim_msg *m, uint8_t out[FERRY_SIM_HDR_LEN])
{
	put32(out, FERRY_SIM_PROTO_MAGIC);
	put32(out + 4, FERRY_SIM_PROTO_VERSION | (uint32_t)m->op << 16);
	put32(out + 8, (uint32_t)m->result);
	put32(out + 12, m->payload_len);
	put64(out + 16, m->a);
	put64(out + 24, m->b);
}

int ferry_sim_hdr_decode(const uint8_t in[FERRY_SIM_HDR_LEN], bool is_request, struct ferry_sim_msg *out)
{
	uint32_t vo = get32(in + 4);
	out->op = (uint16_t)(vo >> 16);
	out->result = (int32_t)get32(in + 8);
	out->payload_len = get32(in + 12);
	out->a = get64(in + 16);
	out->b = get64(in + 24);
	if (get32(in) != FERRY_SIM_PROTO_MAGIC || (vo & 0xffff) != FERRY_SIM_PROTO_VERSION ||
	    out->payload_len > FERRY_SIM_MAX_PAYLOAD)
		return -EPROTO;
	if (is_request && (out->op == FERRY_SIM_OP_INVALID || out->op >= FERRY_SIM_OP_COUNT || out->result != 0))
		return -EPROTO;
	return 0;
}

int ferry_sim_send(int sock, const struct ferry_sim_msg *m, const void *payload, int pass_fd)
{
	uint8_t hdr[FERRY_SIM_HDR_LEN];
	ferry_sim_hdr_encode(m, hdr);
	struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)payload, m->payload_len}};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = m->payload_len ? 2 : 1};
	if (pass_fd >= 0) {
		memset(&ctl, 0, sizeof ctl);
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	size_t total = sizeof hdr + m->payload_len, sent = 0;
	while (sent < total) {
		ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		sent += (size_t)n;
		/* The fd went with the first bytes; move the iovecs past what was sent. */
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int read_full(int sock, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(sock, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPROTO; /* EOF inside a message */
		got += (size_t)n;
	}
	return 0;
}

int ferry_sim_recv(int sock, bool is_request, struct ferry_sim_msg *m, void *buf, size_t cap, int *got_fd)
{
	uint8_t hdr[FERRY_SIM_HDR_LEN];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {hdr, sizeof hdr};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
	int fd = -1;
	if (got_fd)
		*got_fd = -1;
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof fd);
	int rc = (size_t)n < sizeof hdr ? read_full(sock, hdr + n, sizeof hdr - (size_t)n) : 0;
	if (rc == 0)
		rc = ferry_sim_hdr_decode(hdr, is_request, m);
	if (rc == 0 && m->payload_len > cap)
		rc = -EMSGSIZE;
	if (rc == 0 && m->payload_len)
		rc = read_full(sock, buf, m->payload_len);
	if (rc == 0 && got_fd)
		*got_fd = fd;
	else if (fd >= 0)
		close(fd);
	return rc;
}
