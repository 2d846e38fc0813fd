/* libFuzzer target: the config parser on arbitrary text must never crash, overrun or leave a
 * device with an unterminated string, and must either succeed or explain itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ferry_agent_config cfg;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	char err[256] = "";
	int rc = ferry_config_parse(text, "fuzz.conf", &cfg, err, sizeof err);
	if (rc != 0 && (rc != -1 || strncmp(err, "fuzz.conf:", 10) != 0))
		abort();
	if (rc == 0) {
		if (cfg.n_devices > FERRY_MAX_DEVICES)
			abort();
		for (size_t i = 0; i < cfg.n_devices; i++) {
			const struct ferry_device_info *d = &cfg.devices[i];
			if (!memchr(d->name, 0, sizeof d->name) || !memchr(d->driver, 0, sizeof d->driver) ||
			    !memchr(d->vm_id, 0, sizeof d->vm_id) || !(d->migration_flags & 1) ||
			    (d->backend != FERRY_BACKEND_SIM && d->backend != FERRY_BACKEND_VFIO))
				abort();
		}
	}
	free(text);
	return 0;
}
