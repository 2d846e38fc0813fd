/* The sim device's migration stream: header, saving producer, resuming parser; see sim_stream.h. */
#include "sim_stream.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "errbuf.h"

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static uint64_t *bitmap_alloc(uint64_t bits)
{
	return calloc((size_t)((bits + 63) / 64) + 1, sizeof(uint64_t));
}

static bool bit_test(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static void bit_set(uint64_t *bm, uint64_t i)
{
	bm[i / 64] |= UINT64_C(1) << (i % 64);
}

static void bit_clear(uint64_t *bm, uint64_t i)
{
	bm[i / 64] &= ~(UINT64_C(1) << (i % 64));
}

static uint64_t block_len(uint64_t state_bytes, uint64_t block)
{
	uint64_t off = block * FERRY_SIM_BLOCK_SIZE;
	uint64_t left = state_bytes - off;
	return left < FERRY_SIM_BLOCK_SIZE ? left : FERRY_SIM_BLOCK_SIZE;
}

void ferry_sim_header_encode(const struct ferry_sim_identity *id, uint8_t out[FERRY_SIM_HEADER_LEN])
{
	memset(out, 0, FERRY_SIM_HEADER_LEN);
	put_u64(out + 0, FERRY_SIM_STREAM_MAGIC);
	put_u32(out + 8, FERRY_SIM_STREAM_VERSION);
	put_u32(out + 12, FERRY_SIM_HEADER_LEN);
	put_u16(out + 16, id->vendor_id);
	put_u16(out + 18, id->device_id);
	put_u32(out + 20, FERRY_SIM_BLOCK_SIZE);
	put_u64(out + 24, id->state_bytes);
	size_t vlen = strnlen(id->migration_version, 127); /* byte 159 stays NUL */
	memcpy(out + 32, id->migration_version, vlen);
	put_u32(out + 160, 0);
	put_u32(out + 164, ferry_crc32c(0, out, 164));
}

int ferry_sim_header_check(const uint8_t hdr[FERRY_SIM_HEADER_LEN], const struct ferry_sim_identity *local, char *err,
			   size_t errlen)
{
	uint64_t magic = get_u64(hdr);
	if (magic != FERRY_SIM_STREAM_MAGIC) {
		ferry_errbuf_set(err, errlen, "stream magic 0x%016llx is not a ferry-sim stream", (unsigned long long)magic);
		return -EINVAL;
	}
	uint32_t version = get_u32(hdr + 8);
	if (version != FERRY_SIM_STREAM_VERSION) {
		/* v1 (no per-block CRCs) comes from an older ferry-simdevd: name it, the fix is an upgrade. */
		ferry_errbuf_set(err, errlen, "stream version %u, this device reads version %u%s", version,
				 FERRY_SIM_STREAM_VERSION,
				 version == 1 ? " (version 1: an older ferry-simdevd, before per-block checksums)" : "");
		return -EINVAL;
	}
	uint32_t crc = ferry_crc32c(0, hdr, 164);
	if (get_u32(hdr + 12) != FERRY_SIM_HEADER_LEN || get_u32(hdr + 160) != 0 || get_u32(hdr + 164) != crc) {
		ferry_errbuf_set(err, errlen, "stream header is corrupt (length, flags or checksum)");
		return -EINVAL;
	}
	char version_str[128];
	memcpy(version_str, hdr + 32, 128);
	if (version_str[127] != '\0') {
		ferry_errbuf_set(err, errlen, "stream migration_version is not terminated");
		return -EINVAL;
	}
	uint16_t vendor = get_u16(hdr + 16), device = get_u16(hdr + 18);
	if (vendor != local->vendor_id || device != local->device_id) {
		ferry_errbuf_set(err, errlen, "stream is from device %04x:%04x, this device is %04x:%04x", vendor, device,
				 local->vendor_id, local->device_id);
		return -EINVAL;
	}
	if (strcmp(version_str, local->migration_version) != 0) {
		ferry_errbuf_set(err, errlen, "stream migration_version '%s', this device has '%s'", version_str,
				 local->migration_version);
		return -EINVAL;
	}
	uint32_t bs = get_u32(hdr + 20);
	uint64_t size = get_u64(hdr + 24);
	if (bs != FERRY_SIM_BLOCK_SIZE || size != local->state_bytes) {
		ferry_errbuf_set(err, errlen, "stream state is %llu bytes in %u-byte blocks, this device has %llu in %u",
				 (unsigned long long)size, bs, (unsigned long long)local->state_bytes,
				 FERRY_SIM_BLOCK_SIZE);
		return -EINVAL;
	}
	return 0;
}

/* ---- saving ---- */

int ferry_sim_saver_init(struct ferry_sim_saver *s, const struct ferry_sim_identity *id)
{
	memset(s, 0, sizeof *s);
	s->id = *id;
	s->n_blocks = ferry_sim_blocks(id->state_bytes);
	s->initial = bitmap_alloc(s->n_blocks);
	s->dirty = bitmap_alloc(s->n_blocks);
	if (!s->initial || !s->dirty) {
		ferry_sim_saver_free(s);
		return -ENOMEM;
	}
	for (uint64_t b = 0; b < s->n_blocks; b++)
		bit_set(s->initial, b);
	s->n_initial = s->n_blocks;
	return 0;
}

void ferry_sim_saver_free(struct ferry_sim_saver *s)
{
	free(s->initial);
	free(s->dirty);
	s->initial = s->dirty = NULL;
}

void ferry_sim_saver_note_change(struct ferry_sim_saver *s, uint64_t off, uint64_t len)
{
	if (len == 0 || off >= s->id.state_bytes)
		return;
	uint64_t last = (off + len - 1) / FERRY_SIM_BLOCK_SIZE;
	for (uint64_t b = off / FERRY_SIM_BLOCK_SIZE; b <= last && b < s->n_blocks; b++) {
		/* A block still waiting for its first pass carries the change anyway. */
		if (!bit_test(s->initial, b) && !bit_test(s->dirty, b)) {
			bit_set(s->dirty, b);
			s->n_dirty++;
		}
	}
}

/* Lowest set bit of bm at or after 0; the bitmaps are small enough to scan word by word. */
static uint64_t first_set(const uint64_t *bm, uint64_t bits)
{
	for (uint64_t w = 0; w * 64 < bits; w++)
		if (bm[w])
			return w * 64 + (uint64_t)__builtin_ctzll(bm[w]);
	return bits;
}

/* Writes a record head {tag, index, crc, crc of those 12 bytes} at out. */
static void put_record_head(uint8_t *out, uint32_t tag, uint32_t index, uint32_t crc)
{
	put_u32(out, tag);
	put_u32(out + 4, index);
	put_u32(out + 8, crc);
	put_u32(out + 12, ferry_crc32c(0, out, 12));
}

static void stage_block(struct ferry_sim_saver *s, const uint8_t *state, const struct ferry_sim_block_crc *crcs,
			uint64_t b, bool initial)
{
	uint64_t len = block_len(s->id.state_bytes, b);
	put_record_head(s->out, FERRY_SIM_TAG_BLOCK, (uint32_t)b, crcs->crc[b]);
	memcpy(s->out + FERRY_SIM_RECORD_HEAD, state + b * FERRY_SIM_BLOCK_SIZE, len);
	s->out_len = FERRY_SIM_RECORD_HEAD + len;
	s->out_pos = 0;
	s->out_initial = initial;
}

/* Stages the next piece of the stream; false if there is nothing to stage. */
static bool stage_next(struct ferry_sim_saver *s, const uint8_t *state, const struct ferry_sim_block_crc *crcs,
		       bool final)
{
	if (!s->header_sent) {
		ferry_sim_header_encode(&s->id, s->out);
		s->out_len = FERRY_SIM_HEADER_LEN;
		s->out_pos = 0;
		s->out_initial = true;
		s->header_sent = true;
		return true;
	}
	if (s->n_initial) {
		uint64_t b = first_set(s->initial, s->n_blocks);
		bit_clear(s->initial, b);
		s->n_initial--;
		stage_block(s, state, crcs, b, true);
		return true;
	}
	if (s->n_dirty) {
		uint64_t b = first_set(s->dirty, s->n_blocks);
		bit_clear(s->dirty, b);
		s->n_dirty--;
		stage_block(s, state, crcs, b, false);
		return true;
	}
	if (final && !s->end_sent) {
		/* Joined from the live block CRCs: no pass over the state while it is frozen. */
		put_record_head(s->out, FERRY_SIM_TAG_END, (uint32_t)s->n_blocks, ferry_sim_block_crc_whole(crcs));
		s->out_len = FERRY_SIM_RECORD_HEAD;
		s->out_pos = 0;
		s->out_initial = false;
		s->end_sent = true;
		return true;
	}
	return false;
}

size_t ferry_sim_saver_read(struct ferry_sim_saver *s, const uint8_t *state, const struct ferry_sim_block_crc *crcs,
			    bool final, void *buf, size_t len)
{
	uint8_t *dst = buf;
	size_t done = 0;
	while (done < len) {
		if (s->out_pos == s->out_len && !stage_next(s, state, crcs, final))
			break;
		size_t n = s->out_len - s->out_pos;
		if (n > len - done)
			n = len - done;
		memcpy(dst + done, s->out + s->out_pos, n);
		s->out_pos += n;
		done += n;
	}
	return done;
}

static uint64_t records_bytes(const struct ferry_sim_saver *s, const uint64_t *bm, uint64_t count)
{
	if (count == 0)
		return 0;
	uint64_t bytes = count * (FERRY_SIM_RECORD_HEAD + FERRY_SIM_BLOCK_SIZE);
	uint64_t last = s->n_blocks - 1, short_by = FERRY_SIM_BLOCK_SIZE - block_len(s->id.state_bytes, last);
	return bit_test(bm, last) ? bytes - short_by : bytes;
}

uint64_t ferry_sim_saver_initial_bytes(const struct ferry_sim_saver *s)
{
	uint64_t staged = s->out_initial ? s->out_len - s->out_pos : 0;
	uint64_t header = s->header_sent ? 0 : FERRY_SIM_HEADER_LEN;
	return header + staged + records_bytes(s, s->initial, s->n_initial);
}

uint64_t ferry_sim_saver_dirty_bytes(const struct ferry_sim_saver *s)
{
	uint64_t staged = s->out_initial ? 0 : s->out_len - s->out_pos;
	return staged + records_bytes(s, s->dirty, s->n_dirty);
}

uint64_t ferry_sim_saver_remaining_bytes(const struct ferry_sim_saver *s)
{
	uint64_t end = s->end_sent ? 0 : FERRY_SIM_RECORD_HEAD;
	return ferry_sim_saver_initial_bytes(s) + ferry_sim_saver_dirty_bytes(s) + end;
}

uint64_t ferry_sim_stream_full_bytes(uint64_t state_bytes)
{
	return FERRY_SIM_HEADER_LEN + ferry_sim_blocks(state_bytes) * FERRY_SIM_RECORD_HEAD + state_bytes +
	       FERRY_SIM_RECORD_HEAD;
}

/* ---- resuming ---- */

int ferry_sim_resumer_init(struct ferry_sim_resumer *r, const struct ferry_sim_identity *local)
{
	memset(r, 0, sizeof *r);
	r->local = *local;
	r->n_blocks = ferry_sim_blocks(local->state_bytes);
	r->staging = calloc(1, (size_t)local->state_bytes + 1);
	r->received = bitmap_alloc(r->n_blocks);
	if (!r->staging || !r->received || ferry_sim_block_crc_init(&r->crcs, local->state_bytes) < 0) {
		ferry_sim_resumer_free(r);
		return -ENOMEM;
	}
	r->phase = FERRY_SIM_RESUME_HEADER;
	return 0;
}

void ferry_sim_resumer_free(struct ferry_sim_resumer *r)
{
	free(r->staging);
	free(r->received);
	ferry_sim_block_crc_free(&r->crcs);
	r->staging = NULL;
	r->received = NULL;
}

__attribute__((format(printf, 2, 3))) static int resume_fail(struct ferry_sim_resumer *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	r->phase = FERRY_SIM_RESUME_FAILED;
	r->rc = -EINVAL;
	return r->rc;
}

/* Fills r->buf up to `want` bytes; true once it holds them. */
static bool gather(struct ferry_sim_resumer *r, const uint8_t **p, size_t *left, size_t want)
{
	size_t n = want - r->have;
	if (n > *left)
		n = *left;
	memcpy(r->buf + r->have, *p, n);
	r->have += n;
	*p += n;
	*left -= n;
	return r->have == want;
}

static int on_end(struct ferry_sim_resumer *r, uint32_t want)
{
	if (r->n_received != r->n_blocks)
		return resume_fail(r, "stream ended after %llu of %llu blocks", (unsigned long long)r->n_received,
				   (unsigned long long)r->n_blocks);
	/* Every block was checked against its own CRC on arrival: joining those is the whole check. */
	uint32_t got = ferry_sim_block_crc_whole(&r->crcs);
	if (want != got)
		return resume_fail(r, "state checksum 0x%08x, the source sent 0x%08x", got, want);
	r->phase = FERRY_SIM_RESUME_DONE;
	return 0;
}

static int on_record_head(struct ferry_sim_resumer *r)
{
	uint32_t tag = get_u32(r->buf), index = get_u32(r->buf + 4), crc = get_u32(r->buf + 8);
	r->have = 0;
	if (get_u32(r->buf + 12) != ferry_crc32c(0, r->buf, 12))
		return resume_fail(r, "record head (tag %u, index %u) is corrupt: its checksum does not match", tag,
				   index);
	if (tag == FERRY_SIM_TAG_BLOCK) {
		if (index >= r->n_blocks)
			return resume_fail(r, "block %u is outside the state's %llu blocks", index,
					   (unsigned long long)r->n_blocks);
		r->index = index;
		r->want_crc = crc;
		r->body_crc = 0;
		r->body_have = 0;
		r->phase = FERRY_SIM_RESUME_BLOCK_BODY;
		return 0;
	}
	if (tag == FERRY_SIM_TAG_END) {
		if (index != r->n_blocks)
			return resume_fail(r, "END record counts %u blocks, the state has %llu", index,
					   (unsigned long long)r->n_blocks);
		return on_end(r, crc);
	}
	return resume_fail(r, "unknown record tag %u", tag);
}

int ferry_sim_resumer_feed(struct ferry_sim_resumer *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t left = len;
	int rc = 0;
	while (left > 0 && rc == 0) {
		switch (r->phase) {
		case FERRY_SIM_RESUME_HEADER:
			if (gather(r, &p, &left, FERRY_SIM_HEADER_LEN)) {
				r->have = 0;
				if (ferry_sim_header_check(r->buf, &r->local, r->error, sizeof r->error) < 0) {
					r->phase = FERRY_SIM_RESUME_FAILED;
					r->rc = -EINVAL;
					return r->rc;
				}
				r->phase = FERRY_SIM_RESUME_RECORD_HEAD;
			}
			break;
		case FERRY_SIM_RESUME_RECORD_HEAD:
			if (gather(r, &p, &left, FERRY_SIM_RECORD_HEAD))
				rc = on_record_head(r);
			break;
		case FERRY_SIM_RESUME_BLOCK_BODY: {
			uint64_t blen = block_len(r->local.state_bytes, r->index);
			size_t n = (size_t)(blen - r->body_have);
			if (n > left)
				n = left;
			uint8_t *dst = r->staging + (uint64_t)r->index * FERRY_SIM_BLOCK_SIZE + r->body_have;
			memcpy(dst, p, n);
			r->body_crc = ferry_crc32c(r->body_crc, dst, n);
			r->body_have += n;
			p += n;
			left -= n;
			if (r->body_have == blen) {
				/* Refused in the write that completes it, as a driver rejects bad data. */
				if (r->body_crc != r->want_crc)
					return resume_fail(r, "block %u checksum 0x%08x, its record head says 0x%08x", r->index,
							   r->body_crc, r->want_crc);
				r->crcs.crc[r->index] = r->body_crc;
				if (!bit_test(r->received, r->index)) {
					bit_set(r->received, r->index);
					r->n_received++;
				}
				r->phase = FERRY_SIM_RESUME_RECORD_HEAD;
			}
			break;
		}
		case FERRY_SIM_RESUME_DONE:
			return resume_fail(r, "%zu bytes after the END record", left);
		case FERRY_SIM_RESUME_FAILED:
			return r->rc;
		}
	}
	return rc;
}

int ferry_sim_resumer_finish(struct ferry_sim_resumer *r)
{
	switch (r->phase) {
	case FERRY_SIM_RESUME_DONE:
		return 0;
	case FERRY_SIM_RESUME_FAILED:
		return r->rc;
	case FERRY_SIM_RESUME_HEADER:
		/* Incomplete is not corrupt: more writes may still complete it (mtty allows that too). */
		snprintf(r->error, sizeof r->error, "stream incomplete: %zu of %u header bytes", r->have,
			 FERRY_SIM_HEADER_LEN);
		return -EINVAL;
	default:
		snprintf(r->error, sizeof r->error, "stream incomplete: %llu of %llu blocks and no END record",
			 (unsigned long long)r->n_received, (unsigned long long)r->n_blocks);
		return -EINVAL;
	}
}
