/* The fixed 16-byte header: exact layout, every type, and each rule of frame.h violated. */
#include "ferry.pb-c.h"
#include "frame.h"
#include "test.h"

#define T(name) FERRY__V1__FRAME_TYPE__FRAME_TYPE_##name

/* A valid header, to be broken one field at a time. */
static void good_header(uint8_t b[16], unsigned type, uint32_t header_len, uint32_t payload_len)
{
	struct ferry_frame_header h = {.type = (uint8_t)type, .header_len = header_len, .payload_len = payload_len};
	memset(b, 0xee, 16);
	EXPECT_EQ_INT(ferry_frame_write_header(&h, b), FERRY_FRAME_OK);
}

static int parse(const uint8_t b[16])
{
	struct ferry_frame_header h;
	return ferry_frame_parse_header(b, &h);
}

FERRY_TEST(frame_header_exact_bytes)
{
	uint8_t b[16];
	good_header(b, T(PAGE_BATCH), 0x000b0304, 0x00a0b0c0);
	static const uint8_t want[16] = {'F', 'E', 'R', 'Y', 1, 34, 0, 0, 0x04, 0x03, 0x0b, 0x00, 0xc0, 0xb0, 0xa0, 0x00};
	EXPECT(memcmp(b, want, 16) == 0);
	struct ferry_frame_header h;
	EXPECT_EQ_INT(ferry_frame_parse_header(want, &h), FERRY_FRAME_OK);
	EXPECT_EQ_INT(h.type, T(PAGE_BATCH));
	EXPECT_EQ_U64(h.header_len, 0x000b0304);
	EXPECT_EQ_U64(h.payload_len, 0x00a0b0c0);
}

FERRY_TEST(frame_header_roundtrip_every_type)
{
	const ProtobufCEnumDescriptor *d = &ferry__v1__frame_type__descriptor;
	int known = 0;
	for (unsigned i = 0; i < d->n_values; i++) {
		unsigned type = (unsigned)d->values[i].value;
		if (type == T(UNSPECIFIED))
			continue;
		known++;
		uint32_t payload = ferry_frame_type_has_payload(type) ? FERRY_FRAME_MAX_PAYLOAD : 0;
		uint8_t b[16];
		good_header(b, type, FERRY_FRAME_MAX_HEADER, payload);
		struct ferry_frame_header h = {0};
		EXPECT_EQ_INT(ferry_frame_parse_header(b, &h), FERRY_FRAME_OK);
		EXPECT_EQ_INT(h.type, type);
		EXPECT_EQ_U64(h.header_len, FERRY_FRAME_MAX_HEADER);
		EXPECT_EQ_U64(h.payload_len, payload);
	}
	EXPECT_EQ_INT(known, 17);
}

FERRY_TEST(frame_type_tables_follow_the_enum)
{
	for (unsigned type = 0; type < 300; type++) {
		int in_enum = type <= 255 && type != 0 &&
			      protobuf_c_enum_descriptor_get_value(&ferry__v1__frame_type__descriptor, (int)type);
		EXPECT_EQ_INT(ferry_frame_type_known(type), in_enum);
		int payload = type == T(PAGE_BATCH) || type == T(DEVICE_CHUNK);
		EXPECT_EQ_INT(ferry_frame_type_has_payload(type), payload);
	}
	EXPECT(!ferry_frame_type_known(10));
	EXPECT(!ferry_frame_type_known(31));
	EXPECT(!ferry_frame_type_known(40));
}

FERRY_TEST(frame_rejects_bad_magic)
{
	for (int i = 0; i < 4; i++) {
		uint8_t b[16];
		good_header(b, T(HELLO), 10, 0);
		b[i] ^= 0x20; /* 'FERY' -> 'fERY' etc. */
		EXPECT_EQ_INT(parse(b), FERRY_FRAME_EMAGIC);
	}
	uint8_t be[16];
	good_header(be, T(HELLO), 10, 0);
	memcpy(be, "YREF", 4); /* the magic written big-endian */
	EXPECT_EQ_INT(parse(be), FERRY_FRAME_EMAGIC);
}

FERRY_TEST(frame_rejects_bad_version)
{
	static const uint8_t versions[] = {0, 2, 255};
	for (size_t i = 0; i < sizeof versions; i++) {
		uint8_t b[16];
		good_header(b, T(HELLO), 10, 0);
		b[4] = versions[i];
		EXPECT_EQ_INT(parse(b), FERRY_FRAME_EVERSION);
	}
}

FERRY_TEST(frame_rejects_unknown_and_unspecified_type)
{
	static const uint8_t types[] = {0, 10, 31, 40, 128, 255};
	for (size_t i = 0; i < sizeof types; i++) {
		uint8_t b[16];
		good_header(b, T(HELLO), 10, 0);
		b[5] = types[i];
		EXPECT_EQ_INT(parse(b), FERRY_FRAME_ETYPE);
	}
}

FERRY_TEST(frame_rejects_reserved_flags)
{
	for (int bit = 0; bit < 16; bit++) {
		uint8_t b[16];
		good_header(b, T(HEARTBEAT), 10, 0);
		b[6 + bit / 8] = (uint8_t)(1u << (bit % 8));
		EXPECT_EQ_INT(parse(b), FERRY_FRAME_EFLAGS);
	}
}

FERRY_TEST(frame_rejects_header_len_over_limit)
{
	uint8_t b[16];
	good_header(b, T(INVENTORY), FERRY_FRAME_MAX_HEADER, 0);
	EXPECT_EQ_INT(parse(b), FERRY_FRAME_OK);
	b[8] = 1; /* MAX_HEADER + 1: 0x00100001 */
	EXPECT_EQ_INT(parse(b), FERRY_FRAME_EHEADER);
	memset(b + 8, 0xff, 4);
	EXPECT_EQ_INT(parse(b), FERRY_FRAME_EHEADER);
}

FERRY_TEST(frame_rejects_payload_over_limit)
{
	uint8_t b[16];
	good_header(b, T(DEVICE_CHUNK), 10, FERRY_FRAME_MAX_PAYLOAD);
	EXPECT_EQ_INT(parse(b), FERRY_FRAME_OK);
	b[12] = 1; /* MAX_PAYLOAD + 1 */
	EXPECT_EQ_INT(parse(b), FERRY_FRAME_EPAYLOAD);
	memset(b + 12, 0xff, 4);
	EXPECT_EQ_INT(parse(b), FERRY_FRAME_EPAYLOAD);
}

FERRY_TEST(frame_rejects_payload_on_type_without_one)
{
	const ProtobufCEnumDescriptor *d = &ferry__v1__frame_type__descriptor;
	for (unsigned i = 0; i < d->n_values; i++) {
		unsigned type = (unsigned)d->values[i].value;
		if (type == T(UNSPECIFIED) || ferry_frame_type_has_payload(type))
			continue;
		uint8_t b[16];
		good_header(b, type, 10, 0);
		b[12] = 1;
		EXPECT_EQ_INT(parse(b), FERRY_FRAME_EPAYLOAD);
	}
}

FERRY_TEST(frame_writer_refuses_what_the_parser_rejects)
{
	uint8_t b[16];
	struct ferry_frame_header h = {.type = 0, .header_len = 1, .payload_len = 0};
	EXPECT_EQ_INT(ferry_frame_write_header(&h, b), FERRY_FRAME_ETYPE);
	h.type = 10;
	EXPECT_EQ_INT(ferry_frame_write_header(&h, b), FERRY_FRAME_ETYPE);
	h.type = T(HELLO);
	h.header_len = FERRY_FRAME_MAX_HEADER + 1;
	EXPECT_EQ_INT(ferry_frame_write_header(&h, b), FERRY_FRAME_EHEADER);
	h.header_len = 1;
	h.payload_len = 1;
	EXPECT_EQ_INT(ferry_frame_write_header(&h, b), FERRY_FRAME_EPAYLOAD);
	h.type = T(PAGE_BATCH);
	h.payload_len = FERRY_FRAME_MAX_PAYLOAD + 1;
	EXPECT_EQ_INT(ferry_frame_write_header(&h, b), FERRY_FRAME_EPAYLOAD);
}

FERRY_TEST(frame_strerror_names_each_error)
{
	static const int errs[] = {FERRY_FRAME_EMAGIC, FERRY_FRAME_EVERSION, FERRY_FRAME_ETYPE,
				   FERRY_FRAME_EFLAGS, FERRY_FRAME_EHEADER, FERRY_FRAME_EPAYLOAD};
	const char *unknown = ferry_frame_strerror(-1);
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		EXPECT(strcmp(ferry_frame_strerror(errs[i]), unknown) != 0);
		for (size_t j = 0; j < i; j++)
			EXPECT(strcmp(ferry_frame_strerror(errs[i]), ferry_frame_strerror(errs[j])) != 0);
	}
}
