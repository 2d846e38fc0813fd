/* ferry-workload's command line; see workload_options.h. */
#include "workload_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_check.h"

static const struct {
	const char *suffix;
	uint64_t mult;
} units[] = {
	{"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
	{"K", 1ull << 10},   {"M", 1ull << 20},   {"G", 1ull << 30},   {"T", 1ull << 40},
	{"B", 1},
};

/* Parses "<digits><unit?><tail>" where tail must equal `tail` exactly. */
static int parse_scaled(const char *s, uint64_t bare_unit, const char *tail, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	uint64_t mult = 0;
	if (strcmp(end, tail) == 0) {
		mult = bare_unit;
	} else {
		for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
			size_t k = strlen(units[i].suffix);
			if (strncmp(end, units[i].suffix, k) == 0 && strcmp(end + k, tail) == 0) {
				mult = units[i].mult;
				break;
			}
		}
	}
	if (mult == 0)
		return -EINVAL;
	if (n > UINT64_MAX / mult)
		return -ERANGE;
	*out = n * mult;
	return 0;
}

int ferry_workload_parse_size(const char *s, uint64_t bare_unit, uint64_t *out)
{
	return parse_scaled(s, bare_unit, "", out);
}

int ferry_workload_parse_rate(const char *s, uint64_t *pages_per_s)
{
	if (!s)
		return -EINVAL;
	uint64_t v;
	if (strchr(s, '/')) {
		int rc = parse_scaled(s, 0, "/s", &v); /* a byte rate needs its unit */
		if (rc)
			return rc;
		*pages_per_s = v / FERRY_PAGE_BYTES;
		return v && !*pages_per_s ? -EINVAL : 0; /* under one page per second */
	}
	int rc = parse_scaled(s, 1, "", &v);
	if (rc == 0 && strspn(s, "0123456789") != strlen(s))
		return -EINVAL; /* "5M" is ambiguous: pages or bytes? */
	if (rc == 0)
		*pages_per_s = v;
	return rc;
}

int ferry_workload_parse_pattern(const char *s, enum ferry_workload_pattern *pattern, uint64_t *hot_bytes)
{
	*hot_bytes = 0;
	if (strcmp(s, "uniform") == 0) {
		*pattern = FERRY_WORKLOAD_UNIFORM;
		return 0;
	}
	if (strcmp(s, "sweep") == 0) {
		*pattern = FERRY_WORKLOAD_SWEEP;
		return 0;
	}
	if (strncmp(s, "hot:", 4) == 0) {
		int rc = ferry_workload_parse_size(s + 4, 1ull << 20, hot_bytes);
		if (rc)
			return rc;
		if (*hot_bytes < FERRY_PAGE_BYTES)
			return -EINVAL;
		*pattern = FERRY_WORKLOAD_HOT;
		return 0;
	}
	return -EINVAL;
}

int ferry_workload_options_launch(const struct ferry_workload_config *c, char *out, size_t cap)
{
	char pattern[48];
	if (c->pattern == FERRY_WORKLOAD_HOT)
		snprintf(pattern, sizeof pattern, "hot:%lluKiB", (unsigned long long)(c->hot_bytes / 1024));
	else
		snprintf(pattern, sizeof pattern, "%s", c->pattern == FERRY_WORKLOAD_SWEEP ? "sweep" : "uniform");
	int n = snprintf(out, cap, "--dirty-rate,%llu,--pattern,%s,--seed,%llu%s", (unsigned long long)c->dirty_rate_pages,
			 pattern, (unsigned long long)c->seed, c->thp ? ",--thp" : "");
	return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ferry-workload --control PATH [--ram SIZE] [--vcpus N] [--dirty-rate RATE]\n"
		   "                      [--pattern uniform|hot:SIZE|sweep] [--seed N] [--thp] [--uffd]\n"
		   "                      [--start-frozen] [--log-level trace|debug|info|warning|error]\n"
		   "                      [--agent-socket PATH [--vm-id ID] [--incoming [--verify-at-start full|written]]]\n");
}

enum { OPT_RAM = 256, OPT_VCPUS, OPT_RATE, OPT_PATTERN, OPT_SEED, OPT_THP, OPT_UFFD, OPT_CONTROL, OPT_FROZEN,
       OPT_LOG, OPT_HELP, OPT_AGENT, OPT_VM_ID, OPT_INCOMING,
       OPT_VERIFY };

int ferry_workload_options_parse(int argc, char **argv, struct ferry_workload_options *out, char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{"ram", required_argument, NULL, OPT_RAM},
		{"vcpus", required_argument, NULL, OPT_VCPUS},
		{"dirty-rate", required_argument, NULL, OPT_RATE},
		{"pattern", required_argument, NULL, OPT_PATTERN},
		{"seed", required_argument, NULL, OPT_SEED},
		{"thp", no_argument, NULL, OPT_THP},
		{"uffd", no_argument, NULL, OPT_UFFD},
		{"control", required_argument, NULL, OPT_CONTROL},
		{"start-frozen", no_argument, NULL, OPT_FROZEN},
		{"log-level", required_argument, NULL, OPT_LOG},
		{"help", no_argument, NULL, OPT_HELP},
		{"agent-socket", required_argument, NULL, OPT_AGENT},
		{"vm-id", required_argument, NULL, OPT_VM_ID},
		{"incoming", no_argument, NULL, OPT_INCOMING},
		{"verify-at-start", required_argument, NULL, OPT_VERIFY},
		{NULL, 0, NULL, 0},
	};
	memset(out, 0, sizeof *out);
	out->config.ram_bytes = 256ull << 20;
	out->config.vcpus = 1;
	out->config.dirty_rate_pages = 1000;
	out->config.pattern = FERRY_WORKLOAD_UNIFORM;
	out->config.seed = 1;
	out->log_level = FERRY_LOG_INFO;
	optind = 1;
	opterr = 0;
	int li = -1, verify_given = 0;
	for (int c; (c = getopt_long(argc, argv, "", longopts, &li)) != -1; li = -1) {
		int rc = 0;
		uint64_t v = 0;
		const char *what = li >= 0 ? longopts[li].name : argv[optind - 1];
		switch (c) {
		case OPT_RAM:
			rc = ferry_workload_parse_size(optarg, 1, &out->config.ram_bytes);
			if (!rc && (out->config.ram_bytes == 0 || out->config.ram_bytes % FERRY_PAGE_BYTES))
				rc = -EINVAL;
			break;
		case OPT_VCPUS:
			rc = ferry_workload_parse_size(optarg, 1, &v);
			if (!rc && (v == 0 || v > FERRY_WORKLOAD_MAX_VCPUS || strspn(optarg, "0123456789") != strlen(optarg)))
				rc = -EINVAL;
			out->config.vcpus = (unsigned)v;
			break;
		case OPT_RATE:
			rc = ferry_workload_parse_rate(optarg, &out->config.dirty_rate_pages);
			break;
		case OPT_PATTERN:
			rc = ferry_workload_parse_pattern(optarg, &out->config.pattern, &out->config.hot_bytes);
			break;
		case OPT_SEED:
			rc = ferry_workload_parse_size(optarg, 1, &out->config.seed);
			break;
		case OPT_THP:
			out->config.thp = 1;
			break;
		case OPT_UFFD:
			out->give_uffd = 1;
			break;
		case OPT_CONTROL:
			out->control_path = optarg;
			break;
		case OPT_FROZEN:
			out->config.start_frozen = 1;
			break;
		case OPT_LOG:
			rc = ferry_log_level_parse(optarg, &out->log_level);
			break;
		case OPT_AGENT:
			out->agent_socket = optarg;
			break;
		case OPT_VM_ID:
			out->vm_id = optarg;
			break;
		case OPT_INCOMING:
			out->incoming = 1;
			break;
		case OPT_VERIFY:
			verify_given = 1;
			out->verify_full = strcmp(optarg, "full") == 0;
			if (!out->verify_full && strcmp(optarg, "written") != 0)
				rc = -EINVAL;
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		default:
			snprintf(err, errlen, "unknown or incomplete option %s", what);
			return -EINVAL;
		}
		if (rc) {
			snprintf(err, errlen, "bad value \"%s\" for --%s", optarg, what);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	if (!out->control_path) {
		snprintf(err, errlen, "--control PATH is required");
		return -EINVAL;
	}
	if (verify_given && !out->incoming) {
		snprintf(err, errlen, "--verify-at-start needs --incoming");
		return -EINVAL;
	}
	if ((out->incoming || out->vm_id) && !out->agent_socket) {
		snprintf(err, errlen, "%s needs --agent-socket PATH", out->incoming ? "--incoming" : "--vm-id");
		return -EINVAL;
	}
	if (out->config.pattern == FERRY_WORKLOAD_HOT && out->config.hot_bytes > out->config.ram_bytes) {
		snprintf(err, errlen, "hot set of %llu bytes is larger than --ram (%llu bytes)",
			 (unsigned long long)out->config.hot_bytes, (unsigned long long)out->config.ram_bytes);
		return -EINVAL;
	}
	return 0;
}
