/*
 * bench_autoconverge: does the throttle make a non-converging migration converge? One table.
 *
 *   bench_autoconverge [--size-mib N]   (make bench passes 1024; clamped to 128, default 64)
 *
 * A VM whose vCPUs dirty 40000 pages/s (about 156 MiB/s, uniform) is migrated between two real
 * agents on loopback with the bandwidth capped at 64 MiB/s, max downtime 50 ms, at most 12
 * rounds: unthrottled it cannot converge (it dirties faster than the link carries) and is cut over
 * by the round limit with a long stop-and-copy. The same migration runs with StartPrecopy's
 * throttle_percent at 0, 50, 80 and 95 (applied at once by the source workload). Per throttle:
 * rounds, why the cutover came, dirty rate during pre-copy (the agent's Progress, rounds >= 1),
 * dirty data left at cutover, and the downtime the destination measured; ratios against the
 * unthrottled run of the same invocation. The harness plays ferryd (tests/migration_harness.c).
 */
#include "../tests/migration_harness.c"
#include "../tests/simdevd_helper.c"
#include "../tests/test_peer.c"
#include "bench_common.h"

#define MAX_ROUNDS 12u

struct outcome {
	int completed;
	uint32_t rounds;
	double dirty_mib_s;   /* mean Progress dirty rate over pre-copy rounds >= 1 */
	double left_mib;      /* dirty data the last pre-copy round left for the stop-and-copy */
	double downtime_ms;
};

static void migrate(const char *ram, uint32_t throttle, struct outcome *o)
{
	struct mh_cluster c;
	memset(o, 0, sizeof *o);
	if (mh_setup(&c, NULL, NULL, ram, "40000") == 0) {
		Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
		pol.max_downtime_ms = 50;
		pol.max_rounds = MAX_ROUNDS;
		pol.bandwidth_bytes_per_sec = 64u << 20;
		pol.throttle_percent = throttle;
		char id[32];
		snprintf(id, sizeof id, "bench-ac-%u", throttle);
		if (mh_begin(&c, id, "bench-token", &pol) == 0) {
			double rate_sum = 0;
			unsigned rate_n = 0;
			for (Ferry__V1__Progress *p; (p = mh_next_progress(&c.src)) != NULL;) {
				int final = p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED ||
					    p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_ROLLED_BACK;
				if (!final && p->round >= 1 && p->dirty_rate_bytes_per_sec) {
					rate_sum += p->dirty_rate_bytes_per_sec / 1048576.0;
					rate_n++;
				}
				if (!final && p->pages_dirtied)
					o->left_mib = p->pages_dirtied * 4096.0 / 1048576.0;
				if (final) {
					o->completed = p->phase == FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED;
					o->rounds = p->round + 1;
					o->downtime_ms = p->actual_downtime_us / 1000.0;
				}
				protobuf_c_message_free_unpacked(&p->base, NULL);
				if (final)
					break;
			}
			o->dirty_mib_s = rate_n ? rate_sum / rate_n : 0;
			char reply[256];
			mh_workload_says(c.incoming, "quit", reply, sizeof reply);
		}
	}
	mh_teardown(&c);
}

int main(int argc, char **argv)
{
	unsigned mib = 64;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--size-mib") == 0)
			mib = (unsigned)atoi(argv[i + 1]);
	if (mib > 128)
		mib = 128; /* at 64 MiB/s a larger VM only makes every round longer */
	char ram[32];
	snprintf(ram, sizeof ram, "%uMiB", mib);
	if (bench_setup("bench_autoconverge", NULL, NULL))
		return 2;
	printf("bench_autoconverge: %u MiB VM dirtying 40000 pages/s, link capped at 64 MiB/s, max downtime 50 ms, "
	       "at most %u rounds\n\n",
	       mib, MAX_ROUNDS);
	printf("| throttle %% | completed | rounds (with the final) | cutover by | dirty MiB/s | vs 0 %% | left at cutover MiB | downtime ms "
	       "| vs 0 %% |\n");
	printf("|-----------:|:---------:|-----------------------:|:-----------|------------:|-------:|--------------------:|------------:"
	       "|-------:|\n");
	static const uint32_t throttles[] = {0, 50, 80, 95};
	struct outcome base = {0};
	for (size_t k = 0; k < sizeof throttles / sizeof throttles[0]; k++) {
		struct outcome o;
		migrate(ram, throttles[k], &o);
		if (k == 0)
			base = o;
		printf("| %10u | %9s | %23u | %-10s | %11.1f | %6.2f | %19.1f | %11.1f | %6.2f |\n", throttles[k],
		       o.completed ? "yes" : "no", o.rounds, o.rounds >= MAX_ROUNDS ? "max rounds" : "downtime",
		       o.dirty_mib_s, base.dirty_mib_s > 0 ? o.dirty_mib_s / base.dirty_mib_s : 0, o.left_mib,
		       o.downtime_ms, base.downtime_ms > 0 ? o.downtime_ms / base.downtime_ms : 0);
		fflush(stdout);
	}
	return 0;
}
