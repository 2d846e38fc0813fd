/* What the decoder refuses beyond protobuf-c's own checks (wire_validate.h), and what it must
 * still accept: unknown fields with sane numbers, any valid UTF-8. */
#include <errno.h>
#include <stdlib.h>

#include "ferry.pb-c.h"
#include "test.h"
#include "wire.h"
#include "wire_validate.h"

#define T(name) FERRY__V1__FRAME_TYPE__FRAME_TYPE_##name

static int decode_body(unsigned type, const void *body, uint32_t body_len)
{
	uint8_t *buf = malloc(FERRY_FRAME_HEADER_SIZE + body_len);
	struct ferry_frame_header h = {.type = (uint8_t)type, .header_len = body_len};
	EXPECT_EQ_INT(ferry_frame_write_header(&h, buf), 0);
	if (body_len)
		memcpy(buf + FERRY_FRAME_HEADER_SIZE, body, body_len);
	struct ferry_frame f;
	size_t used = 0;
	int rc = ferry_wire_decode(buf, FERRY_FRAME_HEADER_SIZE + body_len, &f, &used);
	EXPECT(rc != 0 || used == FERRY_FRAME_HEADER_SIZE + body_len);
	ferry_frame_release(&f);
	free(buf);
	return rc;
}

/* Hello.host_id (field 3) holding `s`. */
static int decode_host_id(const char *s, size_t n)
{
	uint8_t body[64] = {0x1a, (uint8_t)n};
	memcpy(body + 2, s, n);
	return decode_body(T(HELLO), body, (uint32_t)(n + 2));
}

FERRY_TEST(wire_validate_utf8_rules)
{
	EXPECT(ferry__utf8_valid((const uint8_t *)"", 0));
	EXPECT(ferry__utf8_valid((const uint8_t *)"h\xc3\xb4te-\xce\xb1", 8));
	EXPECT(ferry__utf8_valid((const uint8_t *)"\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", 13));
	EXPECT(ferry__utf8_valid((const uint8_t *)"\xed\x9f\xbf\xee\x80\x80", 6)); /* U+D7FF, U+E000 */
	static const char *const bad[] = {
		"a\0b",          /* NUL */
		"\xc0\x80",      /* overlong NUL */
		"\xc1\xbf",      /* overlong */
		"\xe0\x9f\xbf",  /* overlong 3-byte */
		"\xed\xa0\x80",  /* surrogate U+D800 */
		"\xf0\x8f\xbf\xbf", /* overlong 4-byte */
		"\xf4\x90\x80\x80", /* U+110000 */
		"\xf5\x80\x80\x80",
		"\x80",          /* lone continuation */
		"\xc3",          /* cut short */
		"\xe2\x82",      /* cut short */
		"\xe2\x28\xa1",  /* bad continuation */
		"\xff",
	};
	static const size_t bad_len[] = {3, 2, 2, 3, 3, 4, 4, 4, 1, 1, 2, 3, 1};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ferry__utf8_valid((const uint8_t *)bad[i], bad_len[i]))
			fprintf(stderr, "  accepted bad UTF-8 #%zu\n", i);
		EXPECT(!ferry__utf8_valid((const uint8_t *)bad[i], bad_len[i]));
	}
}

FERRY_TEST(wire_decode_refuses_strings_that_are_not_utf8)
{
	EXPECT_EQ_INT(decode_host_id("host-a", 6), 0);
	EXPECT_EQ_INT(decode_host_id("h\xc3\xb4te-\xce\xb1", 8), 0);
	EXPECT_EQ_INT(decode_host_id("\xc0\x80", 2), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_host_id("\xed\xa0\x80", 3), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_host_id("host\xff", 5), FERRY_WIRE_EMESSAGE);
	/* protobuf-c would cut "host-a\0x" to "host-a": refuse instead of changing the value. */
	EXPECT_EQ_INT(decode_host_id("host-a\0x", 8), FERRY_WIRE_EMESSAGE);
}

FERRY_TEST(wire_decode_refuses_bad_strings_in_nested_messages)
{
	/* Inventory.devices (8) = Device { id (1) = ... }, and Command.prepare_destination (10) =
	 * PrepareDestination { devices (4) = Device { driver (5) = ... } }. */
	static const uint8_t good[] = {0x42, 0x06, 0x0a, 0x04, 's', 'i', 'm', '0'};
	static const uint8_t bad[] = {0x42, 0x06, 0x0a, 0x04, 's', 'i', 0xc0, 0x80};
	static const uint8_t deep_good[] = {0x52, 0x05, 0x22, 0x03, 0x2a, 0x01, 'x'};
	static const uint8_t deep_bad[] = {0x52, 0x05, 0x22, 0x03, 0x2a, 0x01, 0x00};
	EXPECT_EQ_INT(decode_body(T(INVENTORY), good, sizeof good), 0);
	EXPECT_EQ_INT(decode_body(T(INVENTORY), bad, sizeof bad), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(COMMAND), deep_good, sizeof deep_good), 0);
	EXPECT_EQ_INT(decode_body(T(COMMAND), deep_bad, sizeof deep_bad), FERRY_WIRE_EMESSAGE);
}

FERRY_TEST(wire_decode_refuses_field_number_zero_in_any_encoding)
{
	/* Found by fuzz_frame: protobuf-c 1.4.1 accepts the tag 80 80 00 (field 0, overlong) as an
	 * unknown field, then re-encodes it as 00, which it rejects. */
	static const uint8_t overlong_zero[] = {0x08, 0x01, 0x80, 0x80, 0x00, 0x00};
	static const uint8_t short_zero[] = {0x08, 0x01, 0x00, 0x00};
	EXPECT_EQ_INT(decode_body(T(STREAM_HELLO), overlong_zero, sizeof overlong_zero), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(STREAM_HELLO), short_zero, sizeof short_zero), FERRY_WIRE_EMESSAGE);
}

FERRY_TEST(wire_decode_unknown_fields)
{
	/* Field 15 varint, field 2^29-1 fixed32, field 100 length-delimited with non-UTF-8 bytes (not
	 * a string field here): all skipped, as a newer peer may send them. */
	static const uint8_t ok[] = {0x78, 0x05, 0xfd, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3, 4, 0xa2, 0x06, 0x02, 0xff, 0x00};
	EXPECT_EQ_INT(decode_body(T(HEARTBEAT), ok, sizeof ok), 0);
	static const uint8_t too_big[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x00}; /* field 2^29 */
	static const uint8_t group[] = {0x7b, 0x7c};                              /* field 15, start/end group */
	static const uint8_t wire6[] = {0x7e, 0x00};
	static const uint8_t cut_fixed64[] = {0x79, 1, 2, 3};
	static const uint8_t long_len[] = {0x7a, 0x05, 'a'};
	EXPECT_EQ_INT(decode_body(T(HEARTBEAT), too_big, sizeof too_big), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(HEARTBEAT), group, sizeof group), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(HEARTBEAT), wire6, sizeof wire6), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(HEARTBEAT), cut_fixed64, sizeof cut_fixed64), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(HEARTBEAT), long_len, sizeof long_len), FERRY_WIRE_EMESSAGE);
}

FERRY_TEST(wire_encode_refuses_strings_the_decoder_refuses)
{
	Ferry__V1__Hello hello = FERRY__V1__HELLO__INIT;
	uint8_t *buf = NULL;
	size_t len = 0;
	hello.host_id = "bad\xc3";
	EXPECT_EQ_INT(ferry_wire_encode(T(HELLO), &hello.base, NULL, 0, &buf, &len), -EINVAL);
	EXPECT(buf == NULL);
	hello.host_id = "h\xc3\xb4te";
	EXPECT_EQ_INT(ferry_wire_encode(T(HELLO), &hello.base, NULL, 0, &buf, &len), 0);
	free(buf);
}
