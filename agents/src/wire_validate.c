/* See wire_validate.h. A walk over the protobuf encoding guided by the generated descriptors;
 * protobuf-c still does the real decoding afterwards. */
#include "wire_validate.h"

#include "wire.h"

#define MAX_FIELD_NUMBER 536870911u /* 2^29 - 1 */
#define MAX_DEPTH 32                /* ferry.proto nests 3 deep; this only guards a future cycle */

/* Reads a varint of at most 10 bytes; returns its length, or 0 if it is cut short or too long. */
static size_t read_varint(const uint8_t *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	for (size_t i = 0; i < len && i < 10; i++) {
		v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*out = v;
			return i + 1;
		}
	}
	return 0;
}

int ferry__utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t extra;
		uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte (Unicode table 3-7) */
		if (c >= 0xc2 && c <= 0xdf) {
			extra = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			extra = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			extra = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			if (c == 0xf4)
				hi = 0x8f; /* past U+10FFFF */
		} else {
			return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
		}
		if (n - i <= extra)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= extra; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += extra + 1;
	}
	return 1;
}

static int validate(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, int depth)
{
	if (depth > MAX_DEPTH)
		return FERRY_WIRE_EMESSAGE;
	while (len > 0) {
		uint64_t key, n;
		size_t k = read_varint(p, len, &key);
		if (!k || key >> 3 == 0 || key >> 3 > MAX_FIELD_NUMBER)
			return FERRY_WIRE_EMESSAGE;
		p += k;
		len -= k;
		switch (key & 7) {
		case 0: /* varint */
			k = read_varint(p, len, &n);
			if (!k)
				return FERRY_WIRE_EMESSAGE;
			break;
		case 1: /* fixed64 */
			k = 8;
			break;
		case 5: /* fixed32 */
			k = 4;
			break;
		case 2: { /* length-delimited: string, bytes, message, packed scalars */
			k = read_varint(p, len, &n);
			if (!k || n > len - k)
				return FERRY_WIRE_EMESSAGE;
			const uint8_t *body = p + k;
			const ProtobufCFieldDescriptor *f =
				protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_STRING && !ferry__utf8_valid(body, (size_t)n))
				return FERRY_WIRE_EMESSAGE;
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    validate(f->descriptor, body, (size_t)n, depth + 1) != 0)
				return FERRY_WIRE_EMESSAGE;
			k += (size_t)n;
			break;
		}
		default: /* 3, 4: groups (not in proto3); 6, 7: not wire types */
			return FERRY_WIRE_EMESSAGE;
		}
		if (k > len)
			return FERRY_WIRE_EMESSAGE;
		p += k;
		len -= k;
	}
	return 0;
}

int ferry__wire_validate(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len)
{
	return validate(desc, data, len, 0);
}
