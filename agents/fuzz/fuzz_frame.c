/*
 * libFuzzer target for the frame decoder, fed the way a connection reader feeds it: bytes arrive
 * in chunks (the first input byte picks the chunk size), and the reader decodes frame after
 * frame from what it has, asking for more when told to, stopping at the first error.
 *
 * Each call sees an exact-size copy of the unread bytes, so AddressSanitizer reports any read
 * past `len`. Every decoded frame also goes through the payload checksum and a re-encode: the
 * re-encoded frame must decode to a message that encodes to the very same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reencode(const struct ferry_frame *f)
{
	uint8_t *once = NULL, *twice = NULL;
	size_t once_len = 0, twice_len = 0, used = 0;
	int rc = ferry_wire_encode(f->type, f->msg, f->payload, f->payload_len, &once, &once_len);
	if (rc == FERRY_FRAME_EHEADER)
		return; /* re-packing may grow a message past the limit; refusing it is right */
	if (rc != 0)
		__builtin_trap();
	struct ferry_frame again;
	if (ferry_wire_decode(once, once_len, &again, &used) != 0 || used != once_len || again.type != f->type ||
	    again.payload_len != f->payload_len)
		__builtin_trap();
	if (ferry_wire_check_payload_crc(&again) != ferry_wire_check_payload_crc(f))
		__builtin_trap();
	if (ferry_wire_encode(again.type, again.msg, again.payload, again.payload_len, &twice, &twice_len) != 0 ||
	    twice_len != once_len || memcmp(once, twice, once_len) != 0)
		__builtin_trap();
	ferry_frame_release(&again);
	free(once);
	free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t chunk = (size_t)data[0] + 1;
	data++;
	size--;

	size_t pos = 0, avail = 0;
	while (pos < size) {
		avail = avail + chunk < size ? avail + chunk : size;
		for (;;) {
			size_t n = avail - pos;
			uint8_t *window = malloc(n ? n : 1);
			if (!window)
				return 0;
			if (n)
				memcpy(window, data + pos, n);
			struct ferry_frame f;
			size_t used = 0;
			int rc = ferry_wire_decode(window, n, &f, &used);
			if (rc < 0 || used > n) {
				if (used > n || f.msg)
					__builtin_trap();
				free(window);
				return 0; /* a reader closes the connection here */
			}
			if (used == 0) {
				free(window);
				break; /* need more bytes */
			}
			(void)ferry_wire_check_payload_crc(&f);
			check_reencode(&f);
			ferry_frame_release(&f);
			free(window);
			pos += used;
		}
		if (avail == size)
			break;
	}
	return 0;
}
