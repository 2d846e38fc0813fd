/* Blocking frame I/O on a data channel; see stream_io.h. */
#include "stream_io.h"

#include "crc32c.h"
#include "frame.h"
#include "net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

void ferry_stream_tune_socket(int fd)
{
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* Fixed large buffers beat autotuning on loopback (1222/1503 vs 837/840 MiB/s for 1/2
	 * channels, docs/benchmarks.md); the kernel caps them at net.core.{w,r}mem_max. */
	int big = 8 << 20;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

/* sendmsg until every iovec is out; iov is consumed. */
static int send_iov(int fd, struct iovec *iov, int n, int timeout_ms)
{
	while (n > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			int err = ferry_net_retry(fd, errno, POLLOUT, timeout_ms);
			if (err)
				return err;
			continue;
		}
		size_t left = (size_t)w;
		while (n > 0 && left >= iov->iov_len) {
			left -= iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + left;
			iov->iov_len -= left;
		}
	}
	return 0;
}

int ferry_stream_sendv(int fd, unsigned type, const ProtobufCMessage *msg, const struct iovec *payload, int n_payload,
		       int timeout_ms)
{
	if (ferry_wire_descriptor(type) != msg->descriptor || n_payload < 0 || n_payload > FERRY_STREAM_MAX_IOV)
		return -EINVAL;
	uint64_t payload_len = 0;
	for (int i = 0; i < n_payload; i++)
		payload_len += payload[i].iov_len;
	if (payload_len > FERRY_FRAME_MAX_PAYLOAD)
		return FERRY_FRAME_EPAYLOAD;
	size_t mlen = protobuf_c_message_get_packed_size(msg);
	struct ferry_frame_header h = {.type = (uint8_t)type, .header_len = (uint32_t)mlen,
				       .payload_len = (uint32_t)payload_len};
	if (mlen > FERRY_FRAME_MAX_HEADER)
		return FERRY_FRAME_EHEADER;
	/* A full PAGE_BATCH's message (512 page checksums and their runs) fits without a malloc. */
	uint8_t small[FERRY_FRAME_HEADER_SIZE + 4096];
	uint8_t *buf = mlen + FERRY_FRAME_HEADER_SIZE <= sizeof small ? small : malloc(FERRY_FRAME_HEADER_SIZE + mlen);
	if (!buf)
		return -ENOMEM;
	int err = ferry_frame_write_header(&h, buf);
	if (!err) {
		protobuf_c_message_pack(msg, buf + FERRY_FRAME_HEADER_SIZE);
		struct iovec iov[FERRY_STREAM_MAX_IOV + 1];
		iov[0] = (struct iovec){buf, FERRY_FRAME_HEADER_SIZE + mlen};
		int n = 1;
		for (int i = 0; i < n_payload; i++)
			if (payload[i].iov_len)
				iov[n++] = payload[i];
		err = send_iov(fd, iov, n, timeout_ms);
	}
	if (buf != small)
		free(buf);
	return err;
}

int ferry_stream_send(int fd, unsigned type, const ProtobufCMessage *msg, const void *payload, uint32_t payload_len,
		      int timeout_ms)
{
	struct iovec one = {(void *)payload, payload_len};
	return ferry_stream_sendv(fd, type, msg, &one, 1, timeout_ms);
}

int ferry_stream_recv(int fd, struct ferry_frame *f, int timeout_ms)
{
	memset(f, 0, sizeof *f);
	uint8_t head[FERRY_FRAME_HEADER_SIZE];
	int err = ferry_net_read_all(fd, head, sizeof head, timeout_ms);
	if (err)
		return err;
	struct ferry_frame_header h;
	err = ferry_frame_parse_header(head, &h);
	if (err)
		return err;
	uint8_t *buf = malloc(FERRY_FRAME_HEADER_SIZE + (size_t)h.header_len);
	if (!buf)
		return -ENOMEM;
	/* The copy says "no payload" so the codec validates the message alone; the payload stays in
	 * the socket for the caller. */
	struct ferry_frame_header alone = {.type = h.type, .header_len = h.header_len, .payload_len = 0};
	err = ferry_frame_write_header(&alone, buf);
	if (!err)
		err = ferry_net_read_all(fd, buf + FERRY_FRAME_HEADER_SIZE, h.header_len, timeout_ms);
	size_t consumed = 0;
	if (!err)
		err = ferry_wire_decode(buf, FERRY_FRAME_HEADER_SIZE + (size_t)h.header_len, f, &consumed);
	free(buf);
	if (err) {
		ferry_frame_release(f);
		return err;
	}
	f->payload_len = h.payload_len;
	return 0;
}

int ferry_stream_read_payload(int fd, void *dst, size_t len, uint32_t *crc, int timeout_ms)
{
	int err = ferry_net_read_all(fd, dst, len, timeout_ms);
	if (!err && crc)
		*crc = ferry_crc32c(*crc, dst, len);
	return err;
}

int ferry_stream_skip_payload(int fd, size_t len, int timeout_ms)
{
	uint8_t sink[16384];
	while (len) {
		size_t n = len < sizeof sink ? len : sizeof sink;
		int err = ferry_net_read_all(fd, sink, n, timeout_ms);
		if (err)
			return err;
		len -= n;
	}
	return 0;
}
