/* Destination device matching; see migration_device_match.h. */
#include "migration_device_match.h"

#include <errno.h>
#include <string.h>

#include "errbuf.h"

static bool same_identity(const struct ferry_device_compat *a, const struct ferry_device_compat *b)
{
	return a->vendor_id == b->vendor_id && a->device_id == b->device_id && strcmp(a->driver, b->driver) == 0 &&
	       strcmp(a->migration_version, b->migration_version) == 0;
}

static bool same_caps(const struct ferry_mig_caps *a, const struct ferry_mig_caps *b)
{
	return a->mig_flags == b->mig_flags && a->dma_logging == b->dma_logging &&
	       a->saving_layout_regions == b->saving_layout_regions;
}

int ferry_mig_device_match(const struct ferry_mig_device_desc *want, size_t n_want,
			   const struct ferry_mig_device_desc *local, const bool *busy, size_t n_local, size_t *out,
			   char *err, size_t errlen)
{
	bool taken[64] = {false};
	if (n_local > 64) {
		ferry_errbuf_set(err, errlen, "%zu local devices, at most 64 are matched", n_local);
		return -E2BIG;
	}
	for (size_t i = 0; i < n_want; i++) {
		const struct ferry_mig_device_desc *w = &want[i];
		size_t twins = 0, identity_only = 0;
		out[i] = n_local;
		for (size_t k = 0; k < n_local && out[i] == n_local; k++) {
			if (!same_identity(&w->compat, &local[k].compat))
				continue;
			if (!same_caps(&w->caps, &local[k].caps)) {
				identity_only++;
				continue;
			}
			twins++;
			if (!taken[k] && !(busy && busy[k])) {
				out[i] = k;
				taken[k] = true;
			}
		}
		if (out[i] != n_local)
			continue;
		const struct ferry_device_compat *c = &w->compat;
		ferry_errbuf_set(err, errlen,
				 "source device %s (%04x:%04x, driver %s, migration_version '%s', flags 0x%x) has no free "
				 "twin here: %zu with the same identity and capabilities, all taken; %zu with the same "
				 "identity but other capabilities",
				 w->name, c->vendor_id, c->device_id, c->driver, c->migration_version, w->caps.mig_flags,
				 twins, identity_only);
		return -ENODEV;
	}
	return 0;
}
