/* The frame codec: every type round-trips, every rule is enforced through decode, partial input
 * asks for more without reading past the end, and garbage messages are refused. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

#include "ferry.pb-c.h"
#include "test.h"
#include "vectors_canonical.h"
#include "wire.h"

#define T(name) FERRY__V1__FRAME_TYPE__FRAME_TYPE_##name

/* "FRAME_TYPE_COMMAND_RESULT" -> "CommandResult", the message name the type must carry. */
static void camel_from_enum(const char *enum_name, char *out, size_t n)
{
	const char *p = enum_name + strlen("FRAME_TYPE_");
	size_t k = 0;
	int upper = 1;
	for (; *p && k + 1 < n; p++) {
		if (*p == '_') {
			upper = 1;
			continue;
		}
		out[k++] = (char)(upper ? *p : tolower((unsigned char)*p));
		upper = 0;
	}
	out[k] = '\0';
}

FERRY_TEST(wire_descriptor_for_every_type_is_the_named_message)
{
	const ProtobufCEnumDescriptor *d = &ferry__v1__frame_type__descriptor;
	for (unsigned i = 0; i < d->n_values; i++) {
		unsigned type = (unsigned)d->values[i].value;
		const ProtobufCMessageDescriptor *m = ferry_wire_descriptor(type);
		if (type == T(UNSPECIFIED)) {
			EXPECT(m == NULL);
			continue;
		}
		char want[64];
		camel_from_enum(d->values[i].name, want, sizeof want);
		EXPECT(m != NULL);
		if (m)
			EXPECT_EQ_STR(m->short_name, want);
	}
	for (unsigned type = 0; type < 300; type++)
		EXPECT_EQ_INT(ferry_wire_descriptor(type) != NULL, ferry_frame_type_known(type));
}

/* Encodes an empty message of `type` with `payload_len` bytes of payload. */
static int encode_empty(unsigned type, const uint8_t *payload, uint32_t payload_len, uint8_t **out, size_t *len)
{
	const ProtobufCMessageDescriptor *desc = ferry_wire_descriptor(type);
	if (!desc)
		return -EINVAL;
	ProtobufCMessage *m = calloc(1, desc->sizeof_message);
	if (!m)
		return -ENOMEM;
	desc->message_init(m);
	int rc = ferry_wire_encode(type, m, payload, payload_len, out, len);
	free(m);
	return rc;
}

FERRY_TEST(wire_roundtrip_every_type_empty_message)
{
	static uint8_t payload[333];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 13);
	const ProtobufCEnumDescriptor *d = &ferry__v1__frame_type__descriptor;
	for (unsigned i = 0; i < d->n_values; i++) {
		unsigned type = (unsigned)d->values[i].value;
		if (type == T(UNSPECIFIED))
			continue;
		uint32_t plen = ferry_frame_type_has_payload(type) ? sizeof payload : 0;
		uint8_t *buf = NULL;
		size_t len = 0, used = 0;
		EXPECT_EQ_INT(encode_empty(type, payload, plen, &buf, &len), 0);
		struct ferry_frame f;
		EXPECT_EQ_INT(ferry_wire_decode(buf, len, &f, &used), 0);
		EXPECT_EQ_U64(used, len);
		EXPECT_EQ_INT(f.type, type);
		EXPECT(f.msg && f.msg->descriptor == ferry_wire_descriptor(type));
		EXPECT_EQ_U64(f.payload_len, plen);
		EXPECT(plen == 0 || (f.payload == buf + len - plen && memcmp(f.payload, payload, plen) == 0));
		ferry_frame_release(&f);
		free(buf);
	}
}

/* The canonical vectors carry a full message (and payload) for every type: decode, re-encode the
 * decoded message, and get the very same bytes back. */
FERRY_TEST(wire_roundtrip_every_type_full_message)
{
	int seen[256] = {0};
	for (size_t i = 0; i < FERRY_VECTOR_COUNT; i++) {
		const struct ferry_vector *v = &ferry_vectors[i];
		uint8_t *buf = NULL, *again = NULL;
		size_t len = 0, again_len = 0, used = 0;
		EXPECT_EQ_INT(v->encode(&buf, &len), 0);
		struct ferry_frame f;
		EXPECT_EQ_INT(ferry_wire_decode(buf, len, &f, &used), 0);
		EXPECT_EQ_U64(used, len);
		EXPECT_EQ_INT(f.type, v->type);
		EXPECT_EQ_INT(ferry_wire_encode(f.type, f.msg, f.payload, f.payload_len, &again, &again_len), 0);
		EXPECT(again_len == len && memcmp(again, buf, len) == 0);
		seen[v->type & 0xff] = 1;
		ferry_frame_release(&f);
		free(buf);
		free(again);
	}
	const ProtobufCEnumDescriptor *d = &ferry__v1__frame_type__descriptor;
	for (unsigned i = 0; i < d->n_values; i++)
		if (d->values[i].value != T(UNSPECIFIED))
			EXPECT(seen[d->values[i].value]);
}

FERRY_TEST(wire_encode_refuses_mismatched_message)
{
	Ferry__V1__Hello hello = FERRY__V1__HELLO__INIT;
	uint8_t *buf = (uint8_t *)"untouched";
	size_t len = 99;
	EXPECT_EQ_INT(ferry_wire_encode(T(WELCOME), &hello.base, NULL, 0, &buf, &len), -EINVAL);
	EXPECT(buf == NULL);
	EXPECT_EQ_INT(ferry_wire_encode(T(HELLO), NULL, NULL, 0, &buf, &len), -EINVAL);
	EXPECT_EQ_INT(ferry_wire_encode(0, &hello.base, NULL, 0, &buf, &len), FERRY_FRAME_ETYPE);
	EXPECT_EQ_INT(ferry_wire_encode(10, &hello.base, NULL, 0, &buf, &len), FERRY_FRAME_ETYPE);
	EXPECT_EQ_INT(ferry_wire_encode(256 + T(HELLO), &hello.base, NULL, 0, &buf, &len), FERRY_FRAME_ETYPE);
}

FERRY_TEST(wire_encode_refuses_lengths_the_decoder_would_reject)
{
	uint8_t byte = 0, *buf = NULL;
	size_t len = 0;
	Ferry__V1__Hello hello = FERRY__V1__HELLO__INIT;
	EXPECT_EQ_INT(ferry_wire_encode(T(HELLO), &hello.base, &byte, 1, &buf, &len), FERRY_FRAME_EPAYLOAD);
	Ferry__V1__PageBatch batch = FERRY__V1__PAGE_BATCH__INIT;
	/* Limits are checked before the payload is read, so a 1-byte buffer is enough here. */
	EXPECT_EQ_INT(ferry_wire_encode(T(PAGE_BATCH), &batch.base, &byte, FERRY_FRAME_MAX_PAYLOAD + 1, &buf, &len),
		      FERRY_FRAME_EPAYLOAD);
	EXPECT_EQ_INT(ferry_wire_encode(T(PAGE_BATCH), &batch.base, NULL, 5, &buf, &len), -EINVAL);

	char *big = malloc(FERRY_FRAME_MAX_HEADER + 1);
	EXPECT(big != NULL);
	if (!big)
		return;
	memset(big, 'x', FERRY_FRAME_MAX_HEADER);
	big[FERRY_FRAME_MAX_HEADER] = '\0';
	Ferry__V1__Event ev = FERRY__V1__EVENT__INIT;
	ev.message = big;
	EXPECT_EQ_INT(ferry_wire_encode(T(EVENT), &ev.base, NULL, 0, &buf, &len), FERRY_FRAME_EHEADER);
	EXPECT(buf == NULL);
	/* Just under the limit (tag + 3-byte length + string) is accepted. */
	big[FERRY_FRAME_MAX_HEADER - 4] = '\0';
	EXPECT_EQ_INT(ferry_wire_encode(T(EVENT), &ev.base, NULL, 0, &buf, &len), 0);
	EXPECT_EQ_U64(len, FERRY_FRAME_HEADER_SIZE + FERRY_FRAME_MAX_HEADER);
	free(buf);
	free(big);
}

/* Every proper prefix of every vector asks for more, and never reads beyond its length: each
 * prefix sits in its own exact-size allocation, so AddressSanitizer catches any over-read. */
FERRY_TEST(wire_decode_every_prefix_needs_more)
{
	for (size_t i = 0; i < FERRY_VECTOR_COUNT; i++) {
		uint8_t *buf = NULL;
		size_t len = 0;
		EXPECT_EQ_INT(ferry_vectors[i].encode(&buf, &len), 0);
		int wrong = 0;
		for (size_t n = 0; n < len; n++) {
			uint8_t *prefix = malloc(n ? n : 1);
			memcpy(prefix, buf, n);
			struct ferry_frame f;
			size_t used = 12345;
			int rc = ferry_wire_decode(prefix, n, &f, &used);
			if (rc != 0 || used != 0 || f.msg != NULL)
				wrong++;
			ferry_frame_release(&f);
			free(prefix);
		}
		EXPECT_EQ_INT(wrong, 0);
		free(buf);
	}
}

FERRY_TEST(wire_decode_frames_back_to_back)
{
	uint8_t *a = NULL, *b = NULL;
	size_t la = 0, lb = 0, used = 0;
	EXPECT_EQ_INT(ferry_vectors[11].encode(&a, &la), 0); /* page_batch, with payload */
	EXPECT_EQ_INT(ferry_vectors[0].encode(&b, &lb), 0);  /* hello */
	uint8_t *both = malloc(la + lb);
	memcpy(both, a, la);
	memcpy(both + la, b, lb);
	struct ferry_frame f;
	EXPECT_EQ_INT(ferry_wire_decode(both, la + lb, &f, &used), 0);
	EXPECT_EQ_U64(used, la);
	EXPECT_EQ_INT(f.type, T(PAGE_BATCH));
	EXPECT_EQ_INT(ferry_wire_check_payload_crc(&f), 0);
	ferry_frame_release(&f);
	EXPECT_EQ_INT(ferry_wire_decode(both + la, lb, &f, &used), 0);
	EXPECT_EQ_U64(used, lb);
	EXPECT_EQ_INT(f.type, T(HELLO));
	EXPECT_EQ_STR(((Ferry__V1__Hello *)f.msg)->boot_id, "b00t-1234");
	ferry_frame_release(&f);
	ferry_frame_release(&f); /* releasing twice is harmless */
	free(a);
	free(b);
	free(both);
}

/* A heartbeat frame with one header byte replaced must fail with `want`, even though the
 * rest of the frame is fine, and even when more bytes would be needed for the whole frame. */
static void expect_decode_error(size_t offset, uint8_t value, int want)
{
	uint8_t *buf = NULL;
	size_t len = 0, used = 99;
	EXPECT_EQ_INT(ferry_vectors[3].encode(&buf, &len), 0);
	buf[offset] = value;
	struct ferry_frame f;
	EXPECT_EQ_INT(ferry_wire_decode(buf, len, &f, &used), want);
	EXPECT_EQ_U64(used, 0);
	EXPECT(f.msg == NULL);
	EXPECT_EQ_INT(ferry_wire_decode(buf, FERRY_FRAME_HEADER_SIZE, &f, &used), want);
	free(buf);
}

FERRY_TEST(wire_decode_reports_each_header_rule)
{
	expect_decode_error(0, 'f', FERRY_FRAME_EMAGIC);
	expect_decode_error(4, 2, FERRY_FRAME_EVERSION);
	expect_decode_error(5, 0, FERRY_FRAME_ETYPE);
	expect_decode_error(5, 10, FERRY_FRAME_ETYPE);
	expect_decode_error(6, 1, FERRY_FRAME_EFLAGS);
	expect_decode_error(7, 0x80, FERRY_FRAME_EFLAGS);
	expect_decode_error(11, 0x01, FERRY_FRAME_EHEADER);
	expect_decode_error(12, 0x01, FERRY_FRAME_EPAYLOAD); /* payload on a HEARTBEAT */
	expect_decode_error(15, 0x01, FERRY_FRAME_EPAYLOAD);
}

static int decode_body(unsigned type, const uint8_t *body, uint32_t body_len)
{
	uint8_t buf[64];
	struct ferry_frame_header h = {.type = (uint8_t)type, .header_len = body_len};
	EXPECT_EQ_INT(ferry_frame_write_header(&h, buf), 0);
	if (body_len)
		memcpy(buf + FERRY_FRAME_HEADER_SIZE, body, body_len);
	struct ferry_frame f;
	size_t used = 0;
	int rc = ferry_wire_decode(buf, FERRY_FRAME_HEADER_SIZE + body_len, &f, &used);
	ferry_frame_release(&f);
	return rc;
}

FERRY_TEST(wire_decode_refuses_garbage_messages)
{
	static const uint8_t bad_varint[] = {0x08, 0xff};           /* field 1 varint, cut short */
	static const uint8_t long_string[] = {0x1a, 0x10, 'a', 'b'}; /* host_id claims 16 bytes */
	static const uint8_t zero_tag[] = {0x00, 0x01};              /* field number 0 */
	static const uint8_t ten_ff[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t bad_wiretype[] = {0x0f, 0x00};          /* wire type 7 does not exist */
	EXPECT_EQ_INT(decode_body(T(HELLO), bad_varint, sizeof bad_varint), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(HELLO), long_string, sizeof long_string), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(HELLO), zero_tag, sizeof zero_tag), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(INVENTORY), ten_ff, sizeof ten_ff), FERRY_WIRE_EMESSAGE);
	EXPECT_EQ_INT(decode_body(T(COMMAND), bad_wiretype, sizeof bad_wiretype), FERRY_WIRE_EMESSAGE);
	/* An empty body is a valid all-default message. */
	EXPECT_EQ_INT(decode_body(T(HELLO), NULL, 0), 0);
}

static void expect_crc_check(size_t vector, size_t flip_at)
{
	uint8_t *buf = NULL;
	size_t len = 0, used = 0;
	EXPECT_EQ_INT(ferry_vectors[vector].encode(&buf, &len), 0);
	struct ferry_frame f;
	EXPECT_EQ_INT(ferry_wire_decode(buf, len, &f, &used), 0);
	EXPECT(f.payload_len > flip_at);
	EXPECT_EQ_INT(ferry_wire_check_payload_crc(&f), 0);
	buf[len - f.payload_len + flip_at] ^= 0x01; /* the payload lives in buf */
	EXPECT_EQ_INT(ferry_wire_check_payload_crc(&f), FERRY_WIRE_ECHECKSUM);
	ferry_frame_release(&f);
	free(buf);
}

FERRY_TEST(wire_payload_crc_check)
{
	EXPECT_EQ_STR(ferry_vectors[11].file, "page_batch.frame");
	EXPECT_EQ_STR(ferry_vectors[12].file, "device_chunk.frame");
	expect_crc_check(11, 0);
	expect_crc_check(11, 4096 + 17); /* each page has its own */
	expect_crc_check(11, 3 * 4096 - 1);
	expect_crc_check(12, 50);
	/* Types without a payload have nothing to check. */
	uint8_t *buf = NULL;
	size_t len = 0, used = 0;
	EXPECT_EQ_INT(ferry_vectors[0].encode(&buf, &len), 0);
	struct ferry_frame f;
	EXPECT_EQ_INT(ferry_wire_decode(buf, len, &f, &used), 0);
	EXPECT_EQ_INT(ferry_wire_check_payload_crc(&f), 0);
	ferry_frame_release(&f);
	free(buf);
}

FERRY_TEST(wire_strerror_covers_every_error)
{
	static const int errs[] = {FERRY_WIRE_EMESSAGE, FERRY_WIRE_ECHECKSUM, FERRY_FRAME_EMAGIC, FERRY_FRAME_EPAYLOAD,
				   -EINVAL, -ENOMEM};
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		EXPECT(ferry_wire_strerror(errs[i]) != NULL && ferry_wire_strerror(errs[i])[0] != '\0');
		for (size_t j = 0; j < i; j++)
			EXPECT(strcmp(ferry_wire_strerror(errs[i]), ferry_wire_strerror(errs[j])) != 0);
	}
	EXPECT_EQ_STR(ferry_wire_strerror(FERRY_FRAME_ETYPE), ferry_frame_strerror(FERRY_FRAME_ETYPE));
}
