/*
 * Downtime and total time of live migrations: a --ram-mib VM (ferry-workload, 2 vCPUs) dirtying
 * memory uniformly at each --rates MB/s, with one sim device holding --device-mib MiB of state
 * (pre-copy capable, its state changing at --device-rate), migrated between two real agents on
 * loopback with the cut-over rule at --budget-ms; --runs runs per rate.
 *
 * Per run: downtime (source vCPU stop -> destination vCPU start, as the source agent reports it),
 * total time (StartPrecopy -> COMPLETED seen by the coordinator), rounds, whether pre-copy
 * converged by the rule (the last pre-copy round's expected downtime within the budget) or was
 * ended by max_rounds, RAM and device bytes, the measured bandwidth. A run counts only if it
 * completed and the incoming workload's full memory self-check passes afterwards (its `verify`
 * command, vCPUs frozen again: every page of the 1 GiB checked, not only the last round's).
 * The source agent logs where each downtime went ("cutover timing", joined on the migration id by
 * scripts/bench/downtime).
 *
 * --baseline AGENT: another build's ferry-agent (its ferry-simdevd and ferry-workload next to it).
 * Each run then migrates once with the baseline and once with this build, alternating which goes
 * first, so both see the same load; the table has a row per build and the ratio of medians.
 * Prints a table (median / p90) and, with --csv FILE, one row per run. Not a test.
 */
#include "../tests/migration_harness.c"
#include "../tests/test_peer.c"
#include "../tests/simdevd_helper.c"
#include "bench_common.h"

#include <time.h>

#define MAX_RUNS 32
#define MAX_RATES 16

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct run {
	char id[64];
	bool ok, converged, verified;
	double downtime_ms, total_s, bandwidth_mb_s, expected_ms;
	uint32_t rounds;
	uint64_t ram_bytes, device_bytes;
};

struct knobs {
	unsigned ram_mib, device_mib, budget_ms, max_rounds;
	const char *device_rate;
};

static void device_section(char *out, size_t cap, const char *name, unsigned mib, const char *rate, const char *seed)
{
	snprintf(out, cap,
		 "[device %s]\nbackend = sim\nvendor_id = 0x1af4\ndevice_id = 0x1041\ndriver = ferry-sim\n"
		 "migration = stop_copy,pre_copy\nmigration_version = ferry-sim/1\nvm = vm1\nstop_copy_bytes = %uMiB\n"
		 "state_change_rate = %s\ndma_write_rate = 0/s\nseed = %s\n",
		 name, mib, rate, seed);
}

static struct run migrate_once(const struct knobs *k, const char *build, unsigned rate_mb_s, int index)
{
	struct run r = {0};
	struct mh_cluster c;
	char src_dev[512], dst_dev[512], ram[32], rate[32], id[64];
	device_section(src_dev, sizeof src_dev, "sim-a", k->device_mib, k->device_rate, "0x2a");
	device_section(dst_dev, sizeof dst_dev, "sim-b", k->device_mib, "0/s", "0x99");
	snprintf(ram, sizeof ram, "%uMiB", k->ram_mib);
	snprintf(rate, sizeof rate, "%llu", (unsigned long long)rate_mb_s * 1000000ull / 4096); /* pages/s */
	snprintf(id, sizeof id, "dt-%d-%s-%u-%d", (int)getpid(), build, rate_mb_s, index); /* unique: logs are joined on it */
	snprintf(r.id, sizeof r.id, "%s", id);
	if (mh_setup_devices(&c, NULL, src_dev, dst_dev, ram, rate) == 0 && c.n_vm_devices == 1) {
		usleep(300 * 1000); /* let the workload reach its dirty rate */
		Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
		pol.max_downtime_ms = k->budget_ms;
		pol.max_rounds = k->max_rounds;
		double t0 = now_s();
		if (mh_begin(&c, id, "bench-token", &pol) == 0) {
			for (int misses = 0;;) {
				Ferry__V1__Progress *p = mh_next_progress(&c.src);
				if (!p && ++misses < 6) /* MH_T_MS per frame; a loaded host's round may take longer */
					continue;
				if (!p)
					break;
				bool final = p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED ||
					     p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK;
				if (!final && p->bandwidth_bytes_per_sec) { /* a pre-copy round ended */
					r.expected_ms = p->expected_downtime_us / 1000.0;
					r.converged = p->expected_downtime_us <= (uint64_t)k->budget_ms * 1000;
					r.bandwidth_mb_s = p->bandwidth_bytes_per_sec / 1e6;
				}
				if (final) {
					r.total_s = now_s() - t0;
					r.ok = p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED;
					r.downtime_ms = p->actual_downtime_us / 1000.0;
					r.rounds = p->round + 1;
					r.ram_bytes = p->ram_bytes_sent;
					for (size_t i = 0; i < p->n_devices; i++)
						r.device_bytes += p->devices[i]->bytes_sent;
					if (!r.ok && p->error)
						fprintf(stderr, "bench_downtime: %s rolled back: %s\n", id, p->error->message);
				}
				protobuf_c_message_free_unpacked(&p->base, NULL);
				if (final)
					break;
			}
			char reply[512];
			/* The whole memory, checked after the fact: a fast migration that lost a page is no run. */
			if (r.ok && mh_workload_says(c.incoming, "freeze", reply, sizeof reply) == 0)
				r.verified = mh_workload_says(c.incoming, "verify", reply, sizeof reply) == 0 &&
					     strncmp(reply, "ok", 2) == 0;
			if (r.ok && !r.verified)
				fprintf(stderr, "bench_downtime: %s: memory check after the migration failed: %s\n", id, reply);
			mh_workload_says(c.incoming, "quit", reply, sizeof reply);
		}
	}
	mh_teardown(&c);
	return r;
}

/* One agent build under test and what its runs of the current rate gave. */
struct build {
	const char *name;
	char agent[PATH_MAX];
	double down[MAX_RUNS], total[MAX_RUNS], rounds[MAX_RUNS], bw[MAX_RUNS];
	int n, conv;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of v[0..n). */
static double quantile(double *v, int n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	int i = (int)(q * n + 0.999999) - 1;
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

int main(int argc, char **argv)
{
	struct knobs k = {.ram_mib = 1024, .device_mib = 64, .budget_ms = 300, .max_rounds = 30,
			  .device_rate = "1MiB/s"};
	int runs = 5;
	const char *rates = "50", *csv_path = NULL, *baseline = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "bench_downtime: %s needs a value\n", argv[i]);
			return 2;
		}
		if (strcmp(argv[i], "--ram-mib") == 0 || strcmp(argv[i], "--size-mib") == 0) /* make bench passes --size-mib */
			k.ram_mib = (unsigned)atoi(v);
		else if (strcmp(argv[i], "--device-mib") == 0)
			k.device_mib = (unsigned)atoi(v);
		else if (strcmp(argv[i], "--device-rate") == 0)
			k.device_rate = v;
		else if (strcmp(argv[i], "--budget-ms") == 0)
			k.budget_ms = (unsigned)atoi(v);
		else if (strcmp(argv[i], "--max-rounds") == 0)
			k.max_rounds = (unsigned)atoi(v);
		else if (strcmp(argv[i], "--runs") == 0)
			runs = atoi(v);
		else if (strcmp(argv[i], "--rates") == 0)
			rates = v;
		else if (strcmp(argv[i], "--csv") == 0)
			csv_path = v;
		else if (strcmp(argv[i], "--baseline") == 0)
			baseline = v;
		else {
			fprintf(stderr, "usage: bench_downtime [--ram-mib 1024] [--device-mib 64] [--device-rate 1MiB/s] "
					"[--budget-ms 300] [--max-rounds 30] [--runs 5] [--rates 5,20,50] [--csv FILE] "
					"[--baseline OTHER/ferry-agent]\n");
			return 2;
		}
		i++;
	}
	if (runs < 1 || runs > MAX_RUNS || k.ram_mib == 0 || k.device_mib == 0 || k.max_rounds == 0) {
		fprintf(stderr, "bench_downtime: --runs must be 1..%d; sizes and --max-rounds > 0\n", MAX_RUNS);
		return 2;
	}
	FILE *csv;
	if (bench_setup("bench_downtime", csv_path, &csv))
		return 2;
	if (baseline && access(baseline, X_OK) != 0) {
		fprintf(stderr, "bench_downtime: --baseline %s is not an executable ferry-agent\n", baseline);
		return 2;
	}
	/* bench_setup chose this build's agent; the baseline's sits in another build directory. */
	struct build builds[2] = {{.name = "candidate"}, {.name = "baseline"}};
	snprintf(builds[0].agent, sizeof builds[0].agent, "%s", getenv("FERRY_AGENT_BIN"));
	if (baseline)
		snprintf(builds[1].agent, sizeof builds[1].agent, "%s", baseline);
	int n_builds = baseline ? 2 : 1;
	printf("live migration of %u MiB dirtied uniformly, one sim device of %u MiB state (changing %s), "
	       "budget %u ms, max %u rounds, %d runs per rate%s\n",
	       k.ram_mib, k.device_mib, k.device_rate, k.budget_ms, k.max_rounds, runs,
	       baseline ? ", baseline and candidate alternating" : "");
	printf("%8s %-9s %5s %9s %9s %9s %9s %7s %10s %9s\n", "MB/s", "build", "ok", "down p50", "down p90", "total p50",
	       "total p90", "rounds", "converged", "bw MB/s");
	for (const char *p = rates; *p;) {
		unsigned rate = (unsigned)strtoul(p, (char **)&p, 10);
		while (*p == ',' || *p == ' ')
			p++;
		for (int b = 0; b < n_builds; b++)
			builds[b].n = builds[b].conv = 0;
		for (int i = 0; i < runs; i++) {
			for (int j = 0; j < n_builds; j++) {
				struct build *bd = &builds[(i + j) % n_builds]; /* who goes first alternates */
				setenv("FERRY_AGENT_BIN", bd->agent, 1);
				struct run r = migrate_once(&k, bd->name, rate, i);
				if (csv) {
					fprintf(csv, "%s,%s,%u,%u,%u,%d,%d,%d,%d,%.3f,%.3f,%u,%.3f,%.1f,%llu,%llu\n", r.id,
						bd->name, rate, k.ram_mib, k.device_mib, i, r.ok && r.verified, r.converged,
						r.verified, r.downtime_ms, r.total_s, r.rounds, r.expected_ms, r.bandwidth_mb_s,
						(unsigned long long)r.ram_bytes, (unsigned long long)r.device_bytes);
					fflush(csv);
				}
				if (!r.ok || !r.verified)
					continue;
				bd->down[bd->n] = r.downtime_ms;
				bd->total[bd->n] = r.total_s;
				bd->rounds[bd->n] = r.rounds;
				bd->bw[bd->n] = r.bandwidth_mb_s;
				bd->n++;
				bd->conv += r.converged;
			}
		}
		for (int b = 0; b < n_builds; b++) {
			struct build *bd = &builds[b];
			char cv[32];
			snprintf(cv, sizeof cv, "%d/%d", bd->conv, bd->n);
			printf("%8u %-9s %5d %9.1f %9.1f %9.2f %9.2f %7.0f %10s %9.0f\n", rate, bd->name, bd->n,
			       quantile(bd->down, bd->n, 0.5), quantile(bd->down, bd->n, 0.9), quantile(bd->total, bd->n, 0.5),
			       quantile(bd->total, bd->n, 0.9), quantile(bd->rounds, bd->n, 0.5), cv,
			       quantile(bd->bw, bd->n, 0.5));
		}
		if (baseline && builds[0].n && builds[1].n)
			printf("%8u candidate/baseline downtime median: %.2f\n", rate,
			       quantile(builds[0].down, builds[0].n, 0.5) / quantile(builds[1].down, builds[1].n, 0.5));
		fflush(stdout);
	}
	if (csv)
		fclose(csv);
	return 0;
}
