/* Field-by-field comparison of two protobuf-c messages of the same schema, driven by the
 * generated descriptors, so a vector mismatch names the field ("devices[1].state: got 3, want 2")
 * rather than a byte offset. Used by the vector checks (tests and programs/ferry-vectors.c). */
#ifndef FERRY_MESSAGE_DIFF_H
#define FERRY_MESSAGE_DIFF_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Returns 0 when every field of `got` equals the one in `want` (including presence of
 * sub-messages and the chosen oneof member), else 1 with the first difference written to `why`.
 * Unknown fields are not compared here; compare packed bytes for that. */
int ferry_message_diff(const ProtobufCMessage *got, const ProtobufCMessage *want, char *why, size_t why_len);

#endif
