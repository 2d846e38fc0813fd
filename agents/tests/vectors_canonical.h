/* The 16 canonical wire vectors of proto/vectors/README.md, shared by the C tests and
 * programs/ferry-vectors.c (which writes proto/vectors/c and checks any vector directory). */
#ifndef FERRY_VECTORS_CANONICAL_H
#define FERRY_VECTORS_CANONICAL_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_VECTOR_COUNT 17

struct ferry_vector {
	const char *file; /* e.g. "hello.frame" */
	unsigned type;    /* ferry.v1.FrameType */
	/* Encodes the canonical frame with ferry_wire_encode; the caller frees *out. */
	int (*encode)(uint8_t **out, size_t *out_len);
};

extern const struct ferry_vector ferry_vectors[FERRY_VECTOR_COUNT];

/* Decodes `buf` (one whole file) and compares the decoded values with vector `v`: frame type,
 * every message field, the raw payload, and finally the packed message bytes (equal values pack
 * equally in protobuf-c, which also catches unknown fields). Returns 0, or 1 with a reason in
 * `why`, or a negative error if the canonical frame cannot be built. */
int ferry_vector_check(const struct ferry_vector *v, const uint8_t *buf, size_t len, char *why, size_t why_len);

/* ferry_vector_check on DIR/v->file; a missing or unreadable file is a mismatch (returns 1). */
int ferry_vector_check_file(const struct ferry_vector *v, const char *dir, char *why, size_t why_len);

/* Writes the canonical frame to DIR/v->file (through a temporary file and rename). 0 or -errno. */
int ferry_vector_write_file(const struct ferry_vector *v, const char *dir);

#endif
