/* conn: framing over a socketpair: byte-by-byte arrival, two frames in one read, a payload frame,
 * a bad frame, output queued while the peer does not read, end of stream. */
#include "conn.h"
#include "ferry.pb-c.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void make_pair(struct ferry_conn *a, struct ferry_conn *b)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		abort();
	ferry_conn_init(a, sv[0]);
	ferry_conn_init(b, sv[1]);
}

static size_t encode_heartbeat(uint64_t seq, uint8_t **out)
{
	Ferry__V1__Heartbeat hb = FERRY__V1__HEARTBEAT__INIT;
	hb.seq = seq;
	hb.free_memory_bytes = 1u << 30;
	size_t len = 0;
	if (ferry_wire_encode(FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &hb.base, NULL, 0, out, &len) != 0)
		abort();
	return len;
}

FERRY_TEST(conn_frame_arriving_byte_by_byte_is_decoded_once_complete)
{
	struct ferry_conn a, b;
	make_pair(&a, &b);
	uint8_t *frame;
	size_t len = encode_heartbeat(77, &frame);
	struct ferry_frame f;
	for (size_t i = 0; i < len; i++) {
		EXPECT_EQ_INT(write(a.fd, frame + i, 1), 1);
		EXPECT_EQ_INT(ferry_conn_fill(&b), 1);
		int rc = ferry_conn_next_frame(&b, &f);
		EXPECT_EQ_INT(rc, i + 1 == len ? 1 : 0);
	}
	EXPECT_EQ_INT(f.type, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT);
	EXPECT_EQ_U64(((Ferry__V1__Heartbeat *)f.msg)->seq, 77);
	ferry_frame_release(&f);
	EXPECT_EQ_INT(ferry_conn_next_frame(&b, &f), 0);
	EXPECT_EQ_INT(ferry_conn_fill(&b), -EAGAIN);
	free(frame);
	ferry_conn_close(&a);
	ferry_conn_close(&b);
}

FERRY_TEST(conn_two_frames_in_one_read_come_out_in_order)
{
	struct ferry_conn a, b;
	make_pair(&a, &b);
	Ferry__V1__Heartbeat hb = FERRY__V1__HEARTBEAT__INIT;
	hb.seq = 1;
	EXPECT_EQ_INT(ferry_conn_send(&a, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT, &hb.base, NULL, 0), 0);
	static uint8_t page[4096 * 2];
	for (size_t i = 0; i < sizeof page; i++)
		page[i] = (uint8_t)i;
	Ferry__V1__PageBatch pb = FERRY__V1__PAGE_BATCH__INIT;
	pb.round = 3;
	EXPECT_EQ_INT(ferry_conn_send(&a, FERRY__V1__FRAME_TYPE__FRAME_TYPE_PAGE_BATCH, &pb.base, page, sizeof page), 0);
	EXPECT(!ferry_conn_wants_write(&a));

	EXPECT(ferry_conn_fill(&b) > 0);
	struct ferry_frame f1, f2, f3;
	EXPECT_EQ_INT(ferry_conn_next_frame(&b, &f1), 1);
	EXPECT_EQ_INT(ferry_conn_next_frame(&b, &f2), 1);
	EXPECT_EQ_INT(ferry_conn_next_frame(&b, &f3), 0);
	EXPECT_EQ_INT(f1.type, FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT);
	EXPECT_EQ_U64(((Ferry__V1__Heartbeat *)f1.msg)->seq, 1);
	EXPECT_EQ_INT(f2.type, FERRY__V1__FRAME_TYPE__FRAME_TYPE_PAGE_BATCH);
	EXPECT_EQ_INT(((Ferry__V1__PageBatch *)f2.msg)->round, 3);
	EXPECT_EQ_INT(f2.payload_len, sizeof page);
	EXPECT(f2.payload && memcmp(f2.payload, page, sizeof page) == 0);
	EXPECT_EQ_U64(b.frames_in, 2);
	EXPECT_EQ_U64(a.frames_out, 2);
	ferry_frame_release(&f1);
	ferry_frame_release(&f2);
	ferry_conn_close(&a);
	ferry_conn_close(&b);
}

FERRY_TEST(conn_bad_magic_is_an_error_not_a_wait)
{
	struct ferry_conn a, b;
	make_pair(&a, &b);
	uint8_t junk[16] = "GET / HTTP/1.1\r\n";
	EXPECT_EQ_INT(write(a.fd, junk, sizeof junk), (long)sizeof junk);
	EXPECT(ferry_conn_fill(&b) > 0);
	struct ferry_frame f;
	EXPECT_EQ_INT(ferry_conn_next_frame(&b, &f), FERRY_FRAME_EMAGIC);
	ferry_conn_close(&a);
	ferry_conn_close(&b);
}

FERRY_TEST(conn_message_that_does_not_decode_is_an_error)
{
	struct ferry_conn a, b;
	make_pair(&a, &b);
	uint8_t *frame;
	size_t len = encode_heartbeat(5, &frame);
	/* Replace the protobuf body with a field key announcing a length past the end. */
	EXPECT(len > FERRY_FRAME_HEADER_SIZE + 1);
	frame[FERRY_FRAME_HEADER_SIZE] = 0x12; /* field 2, length-delimited: not valid for int64 */
	frame[FERRY_FRAME_HEADER_SIZE + 1] = 0x7f;
	EXPECT_EQ_INT(write(a.fd, frame, len), (long)len);
	EXPECT(ferry_conn_fill(&b) > 0);
	struct ferry_frame f;
	EXPECT(ferry_conn_next_frame(&b, &f) < 0);
	free(frame);
	ferry_conn_close(&a);
	ferry_conn_close(&b);
}

FERRY_TEST(conn_output_is_queued_while_the_peer_does_not_read)
{
	struct ferry_conn a, b;
	make_pair(&a, &b);
	static uint8_t payload[1u << 20];
	Ferry__V1__DeviceChunk dc = FERRY__V1__DEVICE_CHUNK__INIT;
	dc.device_id = "sim0";
	/* 4 MiB through a socketpair whose buffer is far smaller: the rest must be queued. */
	for (int i = 0; i < 4; i++) {
		dc.offset = (uint64_t)i << 20;
		EXPECT_EQ_INT(ferry_conn_send(&a, FERRY__V1__FRAME_TYPE__FRAME_TYPE_DEVICE_CHUNK, &dc.base, payload,
					      sizeof payload),
			      0);
	}
	EXPECT(ferry_conn_wants_write(&a));
	EXPECT_EQ_INT(ferry_conn_flush(&a), 1);

	/* Alternate reading and flushing until all four frames arrived, in order. */
	uint64_t next_offset = 0;
	int got = 0;
	for (int spins = 0; got < 4 && spins < 100000; spins++) {
		ferry_conn_flush(&a);
		int rc = ferry_conn_fill(&b);
		EXPECT(rc > 0 || rc == -EAGAIN);
		struct ferry_frame f;
		while (ferry_conn_next_frame(&b, &f) == 1) {
			EXPECT_EQ_U64(((Ferry__V1__DeviceChunk *)f.msg)->offset, next_offset);
			EXPECT_EQ_INT(f.payload_len, sizeof payload);
			next_offset += 1u << 20;
			got++;
			ferry_frame_release(&f);
		}
	}
	EXPECT_EQ_INT(got, 4);
	EXPECT(!ferry_conn_wants_write(&a));
	ferry_conn_close(&a);
	ferry_conn_close(&b);
}

FERRY_TEST(conn_end_of_stream_and_send_to_closed_peer)
{
	struct ferry_conn a, b;
	make_pair(&a, &b);
	ferry_conn_close(&a);
	EXPECT_EQ_INT(ferry_conn_fill(&b), 0);
	EXPECT(b.eof);
	EXPECT_EQ_INT(ferry_conn_send_error(&b, FERRY__V1__ERROR_CODE__ERROR_CODE_INTERNAL, "x", NULL), -EPIPE);
	ferry_conn_close(&b);
	ferry_conn_close(&b); /* twice is harmless */
	EXPECT_EQ_INT(b.fd, -1);
}

FERRY_TEST(conn_error_frame_carries_code_message_and_migration)
{
	struct ferry_conn a, b;
	make_pair(&a, &b);
	EXPECT_EQ_INT(ferry_conn_send_error(&a, FERRY__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MIGRATION, "no such", "m-1"), 0);
	EXPECT(ferry_conn_fill(&b) > 0);
	struct ferry_frame f;
	EXPECT_EQ_INT(ferry_conn_next_frame(&b, &f), 1);
	EXPECT_EQ_INT(f.type, FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR);
	Ferry__V1__Error *e = (Ferry__V1__Error *)f.msg;
	EXPECT_EQ_INT(e->code, FERRY__V1__ERROR_CODE__ERROR_CODE_UNKNOWN_MIGRATION);
	EXPECT_EQ_STR(e->message, "no such");
	EXPECT_EQ_STR(e->migration_id, "m-1");
	ferry_frame_release(&f);
	ferry_conn_close(&a);
	ferry_conn_close(&b);
}
