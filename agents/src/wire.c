/* The frame codec; the protocol is described at the top of wire.h. */
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ferry.pb-c.h"
#include "wire_validate.h"

/* A switch without default over the generated enum: -Wswitch (in -Wall, with -Werror) fails the
 * build when ferry.proto gains a FrameType that has no schema here. */
const ProtobufCMessageDescriptor *ferry_wire_descriptor(unsigned type)
{
	if (type > UINT8_MAX)
		return NULL;
	switch ((Ferry__V1__FrameType)type) {
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_UNSPECIFIED:
	case _FERRY__V1__FRAME_TYPE_IS_INT_SIZE:
		return NULL;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_HELLO:
		return &ferry__v1__hello__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_WELCOME:
		return &ferry__v1__welcome__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_ERROR:
		return &ferry__v1__error__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_HEARTBEAT:
		return &ferry__v1__heartbeat__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_INVENTORY:
		return &ferry__v1__inventory__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND:
		return &ferry__v1__command__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_COMMAND_RESULT:
		return &ferry__v1__command_result__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_PROGRESS:
		return &ferry__v1__progress__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_EVENT:
		return &ferry__v1__event__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_HELLO:
		return &ferry__v1__stream_hello__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_STREAM_WELCOME:
		return &ferry__v1__stream_welcome__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_PAGE_BATCH:
		return &ferry__v1__page_batch__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_DEVICE_CHUNK:
		return &ferry__v1__device_chunk__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_END_OF_ROUND:
		return &ferry__v1__end_of_round__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_ROUND_ACK:
		return &ferry__v1__round_ack__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_RESUME_CONFIRM:
		return &ferry__v1__resume_confirm__descriptor;
	case FERRY__V1__FRAME_TYPE__FRAME_TYPE_VCPU_STATE:
		return &ferry__v1__vcpu_state__descriptor;
	}
	return NULL; /* a value between the enumerators, e.g. 10..31 */
}

int ferry_wire_encode(unsigned type, const ProtobufCMessage *msg, const void *payload, uint32_t payload_len,
		      uint8_t **out, size_t *out_len)
{
	if (!out || !out_len || !msg || (payload_len && !payload))
		return -EINVAL;
	*out = NULL;
	*out_len = 0;
	const ProtobufCMessageDescriptor *desc = ferry_wire_descriptor(type);
	if (!desc)
		return FERRY_FRAME_ETYPE;
	if (msg->descriptor != desc)
		return -EINVAL;

	size_t msg_len = protobuf_c_message_get_packed_size(msg);
	if (msg_len > FERRY_FRAME_MAX_HEADER)
		return FERRY_FRAME_EHEADER;
	struct ferry_frame_header h = {
		.type = (uint8_t)type,
		.header_len = (uint32_t)msg_len,
		.payload_len = payload_len,
	};
	uint8_t head[FERRY_FRAME_HEADER_SIZE];
	int err = ferry_frame_write_header(&h, head);
	if (err)
		return err;

	size_t total = FERRY_FRAME_HEADER_SIZE + msg_len + payload_len;
	uint8_t *buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, head, sizeof head);
	/* Validating our own output keeps the encoder from sending what every decoder must refuse,
	 * e.g. a string that is not UTF-8. */
	if (protobuf_c_message_pack(msg, buf + FERRY_FRAME_HEADER_SIZE) != msg_len ||
	    ferry__wire_validate(desc, buf + FERRY_FRAME_HEADER_SIZE, msg_len) != 0) {
		free(buf);
		return -EINVAL;
	}
	if (payload_len)
		memcpy(buf + FERRY_FRAME_HEADER_SIZE + msg_len, payload, payload_len);
	*out = buf;
	*out_len = total;
	return 0;
}

int ferry_wire_decode(const uint8_t *buf, size_t len, struct ferry_frame *out, size_t *consumed)
{
	memset(out, 0, sizeof *out);
	*consumed = 0;
	if (len < FERRY_FRAME_HEADER_SIZE)
		return 0;
	struct ferry_frame_header h;
	int err = ferry_frame_parse_header(buf, &h);
	if (err)
		return err;
	/* Both lengths are bounded by the header checks, so this sum cannot overflow. */
	size_t total = FERRY_FRAME_HEADER_SIZE + (size_t)h.header_len + h.payload_len;
	if (len < total)
		return 0;

	const ProtobufCMessageDescriptor *desc = ferry_wire_descriptor(h.type);
	if (!desc)
		return FERRY_FRAME_ETYPE; /* a known FrameType without a schema here: refuse, don't guess */
	if (ferry__wire_validate(desc, buf + FERRY_FRAME_HEADER_SIZE, h.header_len) != 0)
		return FERRY_WIRE_EMESSAGE;
	ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, h.header_len, buf + FERRY_FRAME_HEADER_SIZE);
	if (!msg)
		return FERRY_WIRE_EMESSAGE;
	out->type = h.type;
	out->msg = msg;
	out->payload = h.payload_len ? buf + FERRY_FRAME_HEADER_SIZE + h.header_len : NULL;
	out->payload_len = h.payload_len;
	*consumed = total;
	return 0;
}

void ferry_frame_release(struct ferry_frame *f)
{
	if (!f)
		return;
	if (f->msg)
		protobuf_c_message_free_unpacked(f->msg, NULL);
	memset(f, 0, sizeof *f);
}

static int check_page_crcs(const Ferry__V1__PageBatch *b, const uint8_t *payload, size_t len)
{
	enum { PAGE_BYTES = 4096 };
	if (len % PAGE_BYTES || b->n_page_crc32c != len / PAGE_BYTES)
		return FERRY_WIRE_ECHECKSUM;
	for (size_t i = 0; i < b->n_page_crc32c; i++)
		if (ferry_crc32c(0, payload + i * PAGE_BYTES, PAGE_BYTES) != b->page_crc32c[i])
			return FERRY_WIRE_ECHECKSUM;
	return 0;
}

int ferry_wire_check_payload_crc(const struct ferry_frame *f)
{
	uint32_t want;
	if (!f->msg)
		return 0;
	if (f->type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_PAGE_BATCH &&
	    f->msg->descriptor == &ferry__v1__page_batch__descriptor)
		return check_page_crcs((const Ferry__V1__PageBatch *)f->msg, f->payload, f->payload_len);
	else if (f->type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_DEVICE_CHUNK &&
		 f->msg->descriptor == &ferry__v1__device_chunk__descriptor)
		want = ((const Ferry__V1__DeviceChunk *)f->msg)->payload_crc32c;
	else
		return 0;
	uint32_t got = ferry_crc32c(0, f->payload, f->payload_len);
	return got == want ? 0 : FERRY_WIRE_ECHECKSUM;
}

const char *ferry_wire_strerror(int err)
{
	switch (err) {
	case FERRY_WIRE_EMESSAGE:
		return "frame message does not decode as its type's schema";
	case FERRY_WIRE_ECHECKSUM:
		return "payload checksum mismatch";
	case -EINVAL:
		return "invalid argument: wrong message schema for the frame type, or a string that is not UTF-8";
	case -ENOMEM:
		return "out of memory";
	}
	if (err <= FERRY_FRAME_EMAGIC && err >= FERRY_FRAME_EPAYLOAD)
		return ferry_frame_strerror(err);
	if (err == 0)
		return "ok";
	return err < 0 ? strerror(-err) : "unknown wire error";
}
