/*
 * Data-channel count: a 256 MiB (--size-mib N) VM with frozen vCPUs migrated between two
 * real agents on loopback with 1, 2 and 4 channels, beside a plain TCP loopback stream of the
 * same bytes measured in the same run. Prints one table; the numbers chose
 * FERRY_STREAM_DEFAULT_CHANNELS (docs/benchmarks.md).
 *
 * Rate = the source's round-0 Progress bandwidth (every page, pre-copy, measured by the agent from
 * the first batch to the last ROUND_ACK). The harness plays ferryd (tests/migration_harness.c);
 * the agent measured is $FERRY_AGENT_BIN, else the ferry-agent of the same build directory.
 */
#include "../tests/migration_harness.c"
#include "../tests/test_peer.c"
#include "../tests/simdevd_helper.c"

#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One TCP loopback stream of `bytes` in 2 MiB writes; MiB/s, or 0 on failure. */
static double loopback_mib_s(uint64_t bytes)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len))
		return 0;
	const size_t chunk = 2u << 20;
	uint8_t *buf = malloc(chunk);
	memset(buf, 0xa5, chunk);
	pid_t pid = fork();
	if (pid == 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&a, sizeof a))
			_exit(1);
		for (uint64_t sent = 0; sent < bytes;) {
			ssize_t w = send(s, buf, chunk, 0);
			if (w <= 0)
				_exit(1);
			sent += (uint64_t)w;
		}
		close(s);
		_exit(0);
	}
	int s = accept(l, NULL, NULL);
	double t0 = now_s();
	uint64_t got = 0;
	for (ssize_t r; got < bytes && (r = recv(s, buf, chunk, 0)) > 0;)
		got += (uint64_t)r;
	double t = now_s() - t0;
	close(s);
	close(l);
	waitpid(pid, NULL, 0);
	free(buf);
	return got == bytes && t > 0 ? bytes / 1048576.0 / t : 0;
}

/* One migration of the frozen VM with `channels`; round-0 MiB/s, or 0 on failure. */
static double migration_mib_s(uint32_t channels, const char *ram)
{
	struct mh_cluster c;
	double mib_s = 0;
	if (mh_setup_with(&c, NULL, NULL, ram, "1000", "--start-frozen") == 0) {
		c.channels = channels;
		Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
		pol.max_downtime_ms = 300;
		char id[32];
		snprintf(id, sizeof id, "bench-%u", channels);
		if (mh_begin(&c, id, "bench-token", &pol) == 0) {
			Ferry__V1__Progress *p = mh_next_progress(&c.src);
			if (p && p->round == 0 && p->bandwidth_bytes_per_sec)
				mib_s = p->bandwidth_bytes_per_sec / 1048576.0;
			if (p)
				protobuf_c_message_free_unpacked(&p->base, NULL);
			p = mh_final_progress(&c.src);
			if (!p || p->phase != FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED)
				mib_s = 0; /* only a completed migration counts */
			if (p)
				protobuf_c_message_free_unpacked(&p->base, NULL);
			char reply[256];
			mh_workload_says(c.incoming, "quit", reply, sizeof reply);
		}
	}
	mh_teardown(&c);
	return mib_s;
}

int main(int argc, char **argv)
{
	unsigned mib = 256;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--size-mib") == 0)
			mib = (unsigned)atoi(argv[i + 1]);
	char ram[32];
	snprintf(ram, sizeof ram, "%uMiB", mib);
	if (!getenv("FERRY_AGENT_BIN")) { /* built as BUILD/bench/bench_migration: the agent is BUILD/ferry-agent */
		char self[PATH_MAX], agent[PATH_MAX + 32];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0)
			return 2;
		self[n] = '\0';
		snprintf(agent, sizeof agent, "%s/../ferry-agent", dirname(self));
		setenv("FERRY_AGENT_BIN", agent, 1);
	}
	int repeats = 3;
	printf("migration of %u MiB, vCPUs frozen, loopback (best of %d runs each)\n", mib, repeats);
	printf("%-22s %12s\n", "configuration", "MiB/s");
	double tcp = 0;
	for (int r = 0; r < repeats; r++) {
		double v = loopback_mib_s((uint64_t)mib << 20);
		tcp = v > tcp ? v : tcp;
	}
	printf("%-22s %12.0f\n", "plain TCP, 1 stream", tcp);
	static const uint32_t counts[] = {1, 2, 4};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		double best = 0;
		for (int r = 0; r < repeats; r++) {
			double v = migration_mib_s(counts[i], ram);
			best = v > best ? v : best;
		}
		char name[32];
		snprintf(name, sizeof name, "ferry, %u channel%s", counts[i], counts[i] > 1 ? "s" : "");
		printf("%-22s %12.0f   (%.0f%% of plain TCP)\n", name, best, tcp > 0 ? 100 * best / tcp : 0);
	}
	return 0;
}
