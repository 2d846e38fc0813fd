/* libFuzzer target: arbitrary bytes as a RESUMING state stream of a sim device. The parser must
 * never crash or overrun, must split the input anywhere with the same verdict, and a stream it
 * accepts must commit exactly its staged state, while a refused one leaves the device untouched. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim_model.h"
#include "sim_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two blocks, the second short: small enough for the fuzzer to build whole valid streams. */
#define STATE_BYTES (4096 + 40)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_sim_identity id = {.vendor_id = 0x1af4, .device_id = 0x1041, .migration_version = "ferry-sim/1",
					.state_bytes = STATE_BYTES};
	struct ferry_sim_resumer whole, split;
	if (ferry_sim_resumer_init(&whole, &id) < 0 || ferry_sim_resumer_init(&split, &id) < 0)
		abort();
	int rc_whole = ferry_sim_resumer_feed(&whole, data, size);
	int rc_split = 0;
	size_t cut = size ? data[0] % (size + 1) : 0;
	rc_split = ferry_sim_resumer_feed(&split, data, cut);
	if (rc_split == 0)
		rc_split = ferry_sim_resumer_feed(&split, data + cut, size - cut);
	if (rc_whole != rc_split || (rc_whole != 0 && rc_whole != -22))
		abort();
	int fin_whole = ferry_sim_resumer_finish(&whole), fin_split = ferry_sim_resumer_finish(&split);
	if (fin_whole != fin_split || (fin_whole == 0 && memcmp(whole.staging, split.staging, STATE_BYTES) != 0))
		abort();
	if (!memchr(whole.error, '\0', sizeof whole.error))
		abort();
	ferry_sim_resumer_free(&whole);
	ferry_sim_resumer_free(&split);

	/* Through the model: commit happens iff the stream verified, and only then changes state. */
	struct ferry_sim_config cfg = {.vendor_id = 0x1af4, .device_id = 0x1041, .migration_version = "ferry-sim/1",
				       .mig_flags = 1, .state_bytes = STATE_BYTES, .seed = 1};
	struct ferry_sim_model *m;
	char err[160];
	if (ferry_sim_model_create(&cfg, &m, err, sizeof err) < 0)
		abort();
	uint32_t before = ferry_sim_model_state_crc(m);
	uint64_t sess, s;
	if (ferry_sim_model_set_state(m, FERRY_MIG_RESUMING, &sess) < 0)
		abort();
	ferry_sim_model_write(m, sess, data, size);
	int commit = ferry_sim_model_set_state(m, FERRY_MIG_STOP, &s);
	if ((commit == 0) != (fin_whole == 0))
		abort();
	if (commit != 0 && (ferry_sim_model_state(m) != FERRY_MIG_RESUMING || ferry_sim_model_state_crc(m) != before))
		abort();
	ferry_sim_model_destroy(m);
	return 0;
}
