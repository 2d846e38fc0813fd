/* The 16-byte frame header; the layout and rules are documented in frame.h. */
#include "frame.h"

#include "ferry.pb-c.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Known types come from the generated enum descriptor, so a FrameType added to ferry.proto is
 * accepted here as soon as the code is regenerated, with no second list to keep in step. */
int ferry_frame_type_known(unsigned type)
{
	if (type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_UNSPECIFIED || type > UINT8_MAX)
		return 0;
	return protobuf_c_enum_descriptor_get_value(&ferry__v1__frame_type__descriptor, (int)type) != NULL;
}

int ferry_frame_type_has_payload(unsigned type)
{
	return type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_PAGE_BATCH ||
	       type == FERRY__V1__FRAME_TYPE__FRAME_TYPE_DEVICE_CHUNK;
}

/* The rules shared by the parser and the writer, checked in header order so that a header with
 * several faults reports the first one, the same way on both sides. */
static int check_lengths(unsigned type, uint32_t header_len, uint32_t payload_len)
{
	if (!ferry_frame_type_known(type))
		return FERRY_FRAME_ETYPE;
	if (header_len > FERRY_FRAME_MAX_HEADER)
		return FERRY_FRAME_EHEADER;
	if (payload_len > FERRY_FRAME_MAX_PAYLOAD)
		return FERRY_FRAME_EPAYLOAD;
	if (payload_len != 0 && !ferry_frame_type_has_payload(type))
		return FERRY_FRAME_EPAYLOAD;
	return FERRY_FRAME_OK;
}

int ferry_frame_parse_header(const uint8_t buf[FERRY_FRAME_HEADER_SIZE], struct ferry_frame_header *out)
{
	if (get_le32(buf) != FERRY_FRAME_MAGIC)
		return FERRY_FRAME_EMAGIC;
	if (buf[4] != FERRY_FRAME_VERSION)
		return FERRY_FRAME_EVERSION;
	uint8_t type = buf[5];
	uint16_t flags = get_le16(buf + 6);
	uint32_t header_len = get_le32(buf + 8);
	uint32_t payload_len = get_le32(buf + 12);
	if (!ferry_frame_type_known(type))
		return FERRY_FRAME_ETYPE;
	if (flags != 0)
		return FERRY_FRAME_EFLAGS;
	int err = check_lengths(type, header_len, payload_len);
	if (err)
		return err;
	out->type = type;
	out->header_len = header_len;
	out->payload_len = payload_len;
	return FERRY_FRAME_OK;
}

int ferry_frame_write_header(const struct ferry_frame_header *h, uint8_t buf[FERRY_FRAME_HEADER_SIZE])
{
	int err = check_lengths(h->type, h->header_len, h->payload_len);
	if (err)
		return err;
	put_le32(buf, FERRY_FRAME_MAGIC);
	buf[4] = FERRY_FRAME_VERSION;
	buf[5] = h->type;
	buf[6] = 0;
	buf[7] = 0;
	put_le32(buf + 8, h->header_len);
	put_le32(buf + 12, h->payload_len);
	return FERRY_FRAME_OK;
}

const char *ferry_frame_strerror(int err)
{
	switch (err) {
	case FERRY_FRAME_OK:
		return "ok";
	case FERRY_FRAME_EMAGIC:
		return "bad frame magic";
	case FERRY_FRAME_EVERSION:
		return "unsupported frame version";
	case FERRY_FRAME_ETYPE:
		return "unknown frame type";
	case FERRY_FRAME_EFLAGS:
		return "reserved frame flags set";
	case FERRY_FRAME_EHEADER:
		return "frame message length over limit";
	case FERRY_FRAME_EPAYLOAD:
		return "frame payload length over limit or not allowed for this type";
	}
	return "unknown frame error";
}
