/* Reading, checking and writing vector files; see vectors_canonical.h. */
#include "vectors_canonical.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message_diff.h"
#include "wire.h"

/* Compares a decoded frame with the decoded canonical one. */
static int compare_frames(const struct ferry_frame *got, const struct ferry_frame *want, char *why, size_t why_len)
{
	if (got->type != want->type) {
		snprintf(why, why_len, "frame type %u, want %u", got->type, want->type);
		return 1;
	}
	if (ferry_message_diff(got->msg, want->msg, why, why_len))
		return 1;
	if (got->payload_len != want->payload_len ||
	    (want->payload_len && memcmp(got->payload, want->payload, want->payload_len) != 0)) {
		snprintf(why, why_len, "raw payload differs (%u bytes, want %u)", got->payload_len, want->payload_len);
		return 1;
	}
	size_t got_len = protobuf_c_message_get_packed_size(got->msg);
	size_t want_len = protobuf_c_message_get_packed_size(want->msg);
	uint8_t *got_packed = malloc(got_len ? got_len : 1), *want_packed = malloc(want_len ? want_len : 1);
	int differ = 1;
	if (got_packed && want_packed) {
		protobuf_c_message_pack(got->msg, got_packed);
		protobuf_c_message_pack(want->msg, want_packed);
		differ = got_len != want_len || memcmp(got_packed, want_packed, got_len) != 0;
	}
	if (differ)
		snprintf(why, why_len, "re-packed message differs (%zu bytes, want %zu): unknown fields?", got_len,
			 want_len);
	free(got_packed);
	free(want_packed);
	return differ;
}

int ferry_vector_check(const struct ferry_vector *v, const uint8_t *buf, size_t len, char *why, size_t why_len)
{
	uint8_t *canon = NULL;
	size_t canon_len = 0, used = 0;
	struct ferry_frame got = {0}, want = {0};
	int rc = v->encode(&canon, &canon_len);
	if (rc < 0) {
		snprintf(why, why_len, "cannot encode the canonical frame: %s", ferry_wire_strerror(rc));
		goto out;
	}
	rc = ferry_wire_decode(canon, canon_len, &want, &used);
	if (rc < 0 || used != canon_len) {
		snprintf(why, why_len, "canonical frame does not decode: %s", ferry_wire_strerror(rc));
		rc = rc < 0 ? rc : -EINVAL;
		goto out;
	}
	rc = ferry_wire_decode(buf, len, &got, &used);
	if (rc < 0) {
		snprintf(why, why_len, "does not decode: %s", ferry_wire_strerror(rc));
		rc = 1;
	} else if (used == 0) {
		snprintf(why, why_len, "truncated frame (%zu bytes)", len);
		rc = 1;
	} else if (used != len) {
		snprintf(why, why_len, "%zu trailing bytes after the frame", len - used);
		rc = 1;
	} else {
		rc = compare_frames(&got, &want, why, why_len);
	}
out:
	ferry_frame_release(&got);
	ferry_frame_release(&want);
	free(canon);
	return rc;
}

/* Reads a whole (small) file; 0 or -errno. */
static int read_file(const char *path, uint8_t **out, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	int rc = 0;
	while (buf) {
		if (len == cap) {
			uint8_t *bigger = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!bigger) {
				rc = -EFBIG;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f))
				rc = -EIO;
			break;
		}
	}
	if (!buf)
		rc = -ENOMEM;
	fclose(f);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

int ferry_vector_check_file(const struct ferry_vector *v, const char *dir, char *why, size_t why_len)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%s/%s", dir, v->file);
	int rc = read_file(path, &buf, &len);
	if (rc) {
		snprintf(why, why_len, "cannot read %s: %s", path, strerror(-rc));
		return 1;
	}
	rc = ferry_vector_check(v, buf, len, why, why_len);
	free(buf);
	return rc;
}

int ferry_vector_write_file(const struct ferry_vector *v, const char *dir)
{
	char path[4096], tmp[4200];
	uint8_t *buf = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%s/%s", dir, v->file);
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	int rc = v->encode(&buf, &len);
	if (rc < 0)
		return rc;
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		rc = -errno;
		goto out;
	}
	int write_failed = fwrite(buf, 1, len, f) != len;
	int close_failed = fclose(f) != 0;
	if (write_failed || close_failed) {
		rc = -EIO;
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		rc = -errno;
		unlink(tmp);
	}
out:
	free(buf);
	return rc;
}
