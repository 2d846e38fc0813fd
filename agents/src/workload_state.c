/* Text form of the vCPU state blob; see workload_state.h. */
#include "workload_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "errbuf.h"

int ferry_vcpu_state_format(const struct ferry_vcpu_state *states, unsigned n, char *buf, size_t cap)
{
	size_t off = 0;
	if (cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		const struct ferry_vcpu_state *s = &states[i];
		int k = snprintf(buf + off, cap - off, "%s%" PRIx64 ".%" PRIx64 ".%" PRIx64 ".%" PRIx64, i ? "," : "", s->rng,
				 s->cursor, s->writes, s->max_generation);
		if (k < 0 || (size_t)k >= cap - off)
			return -ENOSPC;
		off += (size_t)k;
	}
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One hex field of 1..16 digits; advances *p past it. */
static int parse_field(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	int digits = 0;
	for (int d; (d = hex_digit(**p)) >= 0; (*p)++) {
		if (++digits > 16)
			return -EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	if (digits == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int ferry_vcpu_state_parse(const char *text, struct ferry_vcpu_state *out, unsigned cap, char *err, size_t errlen)
{
	const char *p = text;
	unsigned n = 0;
	for (;;) {
		if (n == cap) {
			ferry_errbuf_set(err, errlen, "vCPU state holds more than %u vCPUs", cap);
			return -EINVAL;
		}
		uint64_t f[4];
		for (int k = 0; k < 4; k++) {
			if (parse_field(&p, &f[k]) || (k < 3 && *p++ != '.')) {
				ferry_errbuf_set(err, errlen, "vCPU state: group %u is not R.C.W.G in hex (at \"%.16s\")", n,
						 p > text ? p - 1 : p);
				return -EINVAL;
			}
		}
		out[n++] = (struct ferry_vcpu_state){.rng = f[0], .cursor = f[1], .writes = f[2], .max_generation = f[3]};
		if (*p == '\0' || *p == ' ')
			return (int)n;
		if (*p++ != ',') {
			ferry_errbuf_set(err, errlen, "vCPU state: unexpected '%c' after group %u", p[-1], n - 1);
			return -EINVAL;
		}
	}
}
