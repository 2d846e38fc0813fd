/* Shared benchmark setup; see bench_common.h. */
#include "bench_common.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bench_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

int bench_setup(const char *name, const char *csv_path, FILE **csv)
{
	if (csv)
		*csv = NULL;
	if (!getenv("FERRY_AGENT_BIN")) {
		char self[PATH_MAX], agent[PATH_MAX + 32];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0) {
			fprintf(stderr, "%s: cannot find my own executable: %s\n", name, strerror(n < 0 ? errno : ENOENT));
			return 2;
		}
		self[n] = '\0';
		snprintf(agent, sizeof agent, "%s/../ferry-agent", dirname(self));
		setenv("FERRY_AGENT_BIN", agent, 1);
	}
	if (csv_path && csv) {
		*csv = fopen(csv_path, "a");
		if (!*csv) {
			fprintf(stderr, "%s: cannot open %s: %s\n", name, csv_path, strerror(errno));
			return 2;
		}
	}
	return 0;
}
