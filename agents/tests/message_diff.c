/* See message_diff.h. */
#include "message_diff.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int diff_fields(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path, char *why,
		       size_t why_len);

static size_t element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default: /* 32-bit integers, enums, float, protobuf_c_boolean */
		return 4;
	}
}

/* Renders one value for a message; bytes as hex, strings quoted. */
static void render(ProtobufCType type, const void *v, char *out, size_t n)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		snprintf(out, n, "%" PRId32, *(const int32_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		snprintf(out, n, "%" PRIu32, *(const uint32_t *)v);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		snprintf(out, n, "%" PRId64, *(const int64_t *)v);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(out, n, "%" PRIu64, *(const uint64_t *)v);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		snprintf(out, n, "%g", (double)*(const float *)v);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		snprintf(out, n, "%g", *(const double *)v);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		snprintf(out, n, "%s", *(const protobuf_c_boolean *)v ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)v;
		snprintf(out, n, "\"%s\"", s ? s : "");
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *d = v;
		size_t used = 0;
		out[0] = '\0';
		for (size_t i = 0; i < d->len && used + 4 < n; i++)
			used += (size_t)snprintf(out + used, n - used, "%s%02x", i ? " " : "", d->data[i]);
		if (d->len == 0)
			snprintf(out, n, "(empty)");
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		snprintf(out, n, "%s", *(ProtobufCMessage *const *)v ? "(set)" : "(unset)");
		break;
	}
}

static int equal_value(ProtobufCType type, const void *a, const void *b)
{
	switch (type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *sa = *(const char *const *)a, *sb = *(const char *const *)b;
		return strcmp(sa ? sa : "", sb ? sb : "") == 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *da = a, *db = b;
		return da->len == db->len && (da->len == 0 || memcmp(da->data, db->data, da->len) == 0);
	}
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)a == !*(const protobuf_c_boolean *)b;
	default:
		return memcmp(a, b, element_size(type)) == 0;
	}
}

/* Compares one value (a scalar, or a sub-message pointer) at `path`. */
static int diff_value(const ProtobufCFieldDescriptor *f, const void *a, const void *b, const char *path, char *why,
		      size_t why_len)
{
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		const ProtobufCMessage *ma = *(ProtobufCMessage *const *)a, *mb = *(ProtobufCMessage *const *)b;
		if (ma && mb)
			return diff_fields(ma, mb, path, why, why_len);
		if (!ma && !mb)
			return 0;
	} else if (equal_value(f->type, a, b)) {
		return 0;
	}
	char ra[96], rb[96];
	render(f->type, a, ra, sizeof ra);
	render(f->type, b, rb, sizeof rb);
	snprintf(why, why_len, "%s: got %s, want %s", path, ra, rb);
	return 1;
}

static int diff_fields(const ProtobufCMessage *a, const ProtobufCMessage *b, const char *path, char *why,
		       size_t why_len)
{
	const ProtobufCMessageDescriptor *desc = b->descriptor;
	if (a->descriptor != desc) {
		snprintf(why, why_len, "%s: got a %s, want a %s", path[0] ? path : "message", a->descriptor->name,
			 desc->name);
		return 1;
	}
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const char *pa = (const char *)a + f->offset, *pb = (const char *)b + f->offset;
		char sub[256];
		snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", f->name);

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t na = *(const size_t *)((const char *)a + f->quantifier_offset);
			size_t nb = *(const size_t *)((const char *)b + f->quantifier_offset);
			if (na != nb) {
				snprintf(why, why_len, "%s: got %zu elements, want %zu", sub, na, nb);
				return 1;
			}
			const char *ea = *(const char *const *)pa, *eb = *(const char *const *)pb;
			size_t size = element_size(f->type);
			for (size_t k = 0; k < na; k++) {
				char item[280];
				snprintf(item, sizeof item, "%s[%zu]", sub, k);
				if (diff_value(f, ea + k * size, eb + k * size, item, why, why_len))
					return 1;
			}
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t ca = *(const uint32_t *)((const char *)a + f->quantifier_offset);
			uint32_t cb = *(const uint32_t *)((const char *)b + f->quantifier_offset);
			if (ca != f->id && cb != f->id)
				continue;
			if (ca != cb) {
				snprintf(why, why_len, "%s: oneof case got field %" PRIu32 ", want %" PRIu32, sub, ca, cb);
				return 1;
			}
		}
		if (diff_value(f, pa, pb, sub, why, why_len))
			return 1;
	}
	return 0;
}

int ferry_message_diff(const ProtobufCMessage *got, const ProtobufCMessage *want, char *why, size_t why_len)
{
	return diff_fields(got, want, "", why, why_len);
}
