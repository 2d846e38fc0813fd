/* Internal to the wire codec: checks a protobuf message body before protobuf-c unpacks it, for
 * the things protobuf-c 1.4 lets through but the Swift side (and the proto3 rules) refuse. */
#ifndef FERRY_WIRE_VALIDATE_H
#define FERRY_WIRE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Returns 0 if `data` is a well-formed message of `desc` as far as these rules go:
 *   - every field number is in 1..2^29-1 (protobuf-c accepts an overlong-encoded 0, found by
 *     fuzzing, and then re-encodes it as a tag it itself rejects);
 *   - wire types are 0, 1, 2 or 5 (no groups), lengths stay inside the body;
 *   - every string field of the schema, at any depth, is valid UTF-8 without U+0000 (protobuf-c
 *     keeps strings NUL-terminated, so an embedded NUL would silently cut the value).
 * Unknown fields are skipped, as proto3 requires. Otherwise returns FERRY_WIRE_EMESSAGE. */
int ferry__wire_validate(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len);

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF) and no NUL byte. */
int ferry__utf8_valid(const uint8_t *s, size_t n);

#endif
