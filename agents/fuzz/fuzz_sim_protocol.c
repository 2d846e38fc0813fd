/* libFuzzer target: arbitrary bytes as a request to ferry-simdevd (sim_protocol.h). The header
 * decoder must accept only well-formed requests and an accepted header must re-encode to the same
 * bytes; the SET_FAULTS and PROBE payload decoders must only accept values in range and round-trip;
 * and ferry_sim_recv over a real socket must never overrun its buffer or leak a descriptor. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECV_CAP 4096 /* smaller than FERRY_SIM_MAX_PAYLOAD, so the -EMSGSIZE path is reachable */

static void check_header(const uint8_t *data)
{
	struct ferry_sim_msg m;
	if (ferry_sim_hdr_decode(data, true, &m) != 0)
		return;
	if (m.op == FERRY_SIM_OP_INVALID || m.op >= FERRY_SIM_OP_COUNT || m.result != 0 ||
	    m.payload_len > FERRY_SIM_MAX_PAYLOAD)
		abort();
	uint8_t again[FERRY_SIM_HDR_LEN];
	ferry_sim_hdr_encode(&m, again);
	if (memcmp(again, data, FERRY_SIM_HDR_LEN) != 0)
		abort();
}

static void check_payloads(const uint8_t *p, size_t n)
{
	if (n >= FERRY_SIM_WIRE_FAULTS_LEN) {
		struct ferry_sim_faults f;
		if (ferry_sim_faults_decode(p, &f) == 0) {
			uint8_t again[FERRY_SIM_WIRE_FAULTS_LEN];
			ferry_sim_faults_encode(&f, again);
			if (memcmp(again, p, sizeof again) != 0)
				abort();
		}
	}
	if (n >= FERRY_SIM_WIRE_INFO_LEN) {
		struct ferry_sim_wire_info wi, wi2;
		if (ferry_sim_info_decode(p, &wi) == 0) {
			uint8_t again[FERRY_SIM_WIRE_INFO_LEN];
			ferry_sim_info_encode(&wi, again);
			/* Bytes after a string's NUL are not carried: compare the values. */
			if (ferry_sim_info_decode(again, &wi2) != 0 || wi.mig_flags != wi2.mig_flags ||
			    wi.dma_logging != wi2.dma_logging || wi.saving_layout_regions != wi2.saving_layout_regions ||
			    wi.vendor_id != wi2.vendor_id || wi.device_id != wi2.device_id ||
			    wi.state_bytes != wi2.state_bytes || strcmp(wi.driver, wi2.driver) != 0 ||
			    strcmp(wi.migration_version, wi2.migration_version) != 0)
				abort();
		}
	}
}

/* The server's receive path: the bytes arrive on a socket, then the peer hangs up. */
static void check_recv(const uint8_t *data, size_t size)
{
	int sv[2];
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return;
	if (size && write(sv[0], data, size) != (ssize_t)size)
		abort();
	close(sv[0]);
	static uint8_t buf[RECV_CAP];
	for (int i = 0; i < 64; i++) {
		struct ferry_sim_msg m;
		int fd = -2;
		int rc = ferry_sim_recv(sv[1], true, &m, buf, sizeof buf, &fd);
		if (rc != 0) {
			if (fd != -1 || (rc != -ECONNRESET && rc != -EPROTO && rc != -EMSGSIZE))
				abort();
			break;
		}
		if (m.payload_len > sizeof buf || fd != -1)
			abort();
	}
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= FERRY_SIM_HDR_LEN) {
		check_header(data);
		check_payloads(data + FERRY_SIM_HDR_LEN, size - FERRY_SIM_HDR_LEN);
	}
	check_recv(data, size);
	return 0;
}
