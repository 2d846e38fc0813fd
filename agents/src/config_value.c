/* Value parsers for the agent config file; see config_value.h. */
#include "config_value.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "device.h"

/* Values are quoted back in messages; a pathological value is cut short rather than filling err. */
#define QUOTE_MAX 64

static bool span_is(const char *v, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(v, word, n) == 0;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ferry__value_copy(const char *v, size_t n, char *dst, size_t dstsize, char *why, size_t whylen)
{
	if (n >= dstsize) {
		snprintf(why, whylen, "value is longer than %zu bytes", dstsize - 1);
		return -ERANGE;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

int ferry__value_pci_id(const char *v, size_t n, uint16_t *out, char *why, size_t whylen)
{
	uint32_t value = 0;
	size_t i = 0;
	bool hex = n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
	if (hex)
		i = 2;
	if (i == n)
		goto bad;
	for (; i < n; i++) {
		int d = hex ? hex_digit(v[i]) : (is_digit(v[i]) ? v[i] - '0' : -1);
		if (d < 0)
			goto bad;
		value = value * (hex ? 16u : 10u) + (uint32_t)d;
		if (value > 0xffff) {
			snprintf(why, whylen, "value out of range (max 0xffff)");
			return -ERANGE;
		}
	}
	*out = (uint16_t)value;
	return 0;
bad:
	snprintf(why, whylen, "bad number '%.*s' (expected hex 0x.. or decimal)",
		 (int)(n < QUOTE_MAX ? n : QUOTE_MAX), v);
	return -EINVAL;
}

struct size_unit {
	const char *name;
	unsigned shift;
};

static const struct size_unit size_units[] = {
	{"B", 0},   {"K", 10},   {"KiB", 10}, {"M", 20},   {"MiB", 20},
	{"G", 30},  {"GiB", 30}, {"T", 40},   {"TiB", 40},
};

int ferry__value_size(const char *v, size_t n, uint64_t *out, char *why, size_t whylen)
{
	int q = (int)(n < QUOTE_MAX ? n : QUOTE_MAX);
	if (n > 0 && v[0] == '-') {
		snprintf(why, whylen, "negative size '%.*s'", q, v);
		return -ERANGE;
	}
	uint64_t value = 0;
	size_t i = 0;
	bool overflow = false;
	for (; i < n && is_digit(v[i]); i++) {
		uint64_t d = (uint64_t)(v[i] - '0');
		if (value > (UINT64_MAX - d) / 10)
			overflow = true; /* keep scanning so junk after the digits is still reported */
		else
			value = value * 10 + d;
	}
	if (i == 0) {
		snprintf(why, whylen, "bad number '%.*s' (expected digits and an optional unit)", q, v);
		return -EINVAL;
	}
	size_t unit_at = i;
	while (unit_at < n && (v[unit_at] == ' ' || v[unit_at] == '\t'))
		unit_at++;
	const char *unit = v + unit_at;
	size_t unit_len = n - unit_at;
	unsigned shift = 0;
	if (unit_len > 0) {
		bool known = false;
		for (size_t u = 0; u < sizeof size_units / sizeof size_units[0]; u++) {
			if (span_is(unit, unit_len, size_units[u].name)) {
				shift = size_units[u].shift;
				known = true;
				break;
			}
		}
		if (!known) {
			snprintf(why, whylen, "bad unit '%.*s' (expected B, KiB, MiB, GiB or TiB)",
				 (int)(unit_len < QUOTE_MAX ? unit_len : QUOTE_MAX), unit);
			return -EINVAL;
		}
	}
	if (overflow || (shift > 0 && value > (UINT64_MAX >> shift))) {
		snprintf(why, whylen, "value out of range (more than 2^64-1 bytes)");
		return -ERANGE;
	}
	*out = value << shift;
	return 0;
}

int ferry__value_bool(const char *v, size_t n, bool *out, char *why, size_t whylen)
{
	if (span_is(v, n, "true")) {
		*out = true;
		return 0;
	}
	if (span_is(v, n, "false")) {
		*out = false;
		return 0;
	}
	snprintf(why, whylen, "expected true or false, not '%.*s'", (int)(n < QUOTE_MAX ? n : QUOTE_MAX), v);
	return -EINVAL;
}

static size_t trim_left(const char *v, size_t n)
{
	size_t i = 0;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return i;
}

int ferry__value_migration(const char *v, size_t n, uint32_t *out, char *why, size_t whylen)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} caps[] = {
		{"stop_copy", FERRY_MIGRATION_STOP_COPY},
		{"p2p", FERRY_MIGRATION_P2P},
		{"pre_copy", FERRY_MIGRATION_PRE_COPY},
	};
	uint32_t flags = 0;
	size_t start = 0;
	for (;;) {
		size_t end = start;
		while (end < n && v[end] != ',')
			end++;
		size_t b = start + trim_left(v + start, end - start), e = end;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e == b) {
			snprintf(why, whylen, "empty item in the capability list");
			return -EINVAL;
		}
		uint32_t bit = 0;
		for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
			if (span_is(v + b, e - b, caps[c].name))
				bit = caps[c].bit;
		int q = (int)(e - b < QUOTE_MAX ? e - b : QUOTE_MAX);
		if (bit == 0) {
			snprintf(why, whylen, "unknown capability '%.*s' (expected stop_copy, p2p, pre_copy)", q,
				 v + b);
			return -EINVAL;
		}
		if (flags & bit) {
			snprintf(why, whylen, "capability '%.*s' is listed twice", q, v + b);
			return -EINVAL;
		}
		flags |= bit;
		if (end == n)
			break;
		start = end + 1;
	}
	if (!(flags & FERRY_MIGRATION_STOP_COPY)) {
		snprintf(why, whylen, "stop_copy is required (the kernel requires it of every migratable device)");
		return -EINVAL;
	}
	*out = flags;
	return 0;
}

int ferry__value_host_port(const char *v, size_t n, bool allow_port_zero, char *why, size_t whylen)
{
	int q = (int)(n < QUOTE_MAX ? n : QUOTE_MAX);
	size_t colon = n;
	while (colon > 0 && v[colon - 1] != ':')
		colon--;
	/* colon is now one past the last ':' (0 if there is none). */
	if (colon < 2 || colon == n) {
		snprintf(why, whylen, "expected HOST:PORT, not '%.*s'", q, v);
		return -EINVAL;
	}
	size_t host_len = colon - 1;
	bool host_ok = v[0] == '[' ? host_len >= 3 && v[host_len - 1] == ']' /* "[::1]" */
				   : memchr(v, ':', host_len) == NULL;
	if (!host_ok) {
		snprintf(why, whylen, "expected HOST:PORT with an IPv6 host in brackets, not '%.*s'", q, v);
		return -EINVAL;
	}
	uint32_t port = 0;
	for (size_t i = colon; i < n; i++) {
		if (!is_digit(v[i])) {
			snprintf(why, whylen, "bad port '%.*s'", (int)(n - colon < QUOTE_MAX ? n - colon : QUOTE_MAX),
				 v + colon);
			return -EINVAL;
		}
		port = port * 10 + (uint32_t)(v[i] - '0');
		if (port > 65535)
			break;
	}
	if (port > 65535 || (port == 0 && !allow_port_zero)) {
		snprintf(why, whylen, "port out of range (%s..65535)", allow_port_zero ? "0" : "1");
		return -ERANGE;
	}
	return 0;
}

int ferry__value_log_level(const char *v, size_t n, char *why, size_t whylen)
{
	static const char *const levels[] = {"trace", "debug", "info", "warning", "error"};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (span_is(v, n, levels[i]))
			return 0;
	snprintf(why, whylen, "expected trace, debug, info, warning or error, not '%.*s'",
		 (int)(n < QUOTE_MAX ? n : QUOTE_MAX), v);
	return -EINVAL;
}

int ferry__value_rate(const char *v, size_t n, uint64_t *out, char *why, size_t whylen)
{
	/* "SIZE/s": the unit is bytes per second, so the "/s" is required: a bare size would leave a
	 * reader guessing whether it is per second, per tick or in total. */
	if (n < 2 || v[n - 2] != '/' || v[n - 1] != 's') {
		snprintf(why, whylen, "expected a rate such as '256KiB/s', not '%.*s'", (int)(n < QUOTE_MAX ? n : QUOTE_MAX),
			 v);
		return -EINVAL;
	}
	n -= 2;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return ferry__value_size(v, n, out, why, whylen);
}

int ferry__value_u64(const char *v, size_t n, uint64_t *out, char *why, size_t whylen)
{
	bool hex = n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X');
	size_t i = hex ? 2 : 0;
	uint64_t value = 0, base = hex ? 16 : 10;
	if (i == n)
		goto bad;
	for (; i < n; i++) {
		int d = hex ? hex_digit(v[i]) : (is_digit(v[i]) ? v[i] - '0' : -1);
		if (d < 0)
			goto bad;
		if (value > (UINT64_MAX - (uint64_t)d) / base) {
			snprintf(why, whylen, "value out of range (max 2^64-1)");
			return -ERANGE;
		}
		value = value * base + (uint64_t)d;
	}
	*out = value;
	return 0;
bad:
	snprintf(why, whylen, "bad number '%.*s' (expected hex 0x.. or decimal)", (int)(n < QUOTE_MAX ? n : QUOTE_MAX),
		 v);
	return -EINVAL;
}
