/*
 * Migration throughput: a VM of --size-mib MiB random RAM (ferry-workload pages) with frozen vCPUs
 * migrated between two real agents on loopback with each --channels count, beside, in the same
 * run, plain TCP loopback streams of the same number of bytes:
 *   tcp-ram  one stream from populated random RAM into fresh shared memory, populated 2 MiB at a
 *            time as the agent did before it preallocated (read RAM, two kernel copies, allocate
 *            and fill fresh memory), with the agent's socket tuning (8 MiB buffers);
 *   tcp-prealloc  the same stream into shared memory populated (MADV_POPULATE_WRITE) before the
 *            clock starts, as the destination agent and QEMU's prealloc destination do: the fair
 *            baseline for round 0 (its populate time is its dest_alloc_s);
 *   tcp-hot  one stream of a 2 MiB buffer sent over and over into a 2 MiB buffer (cache-hot, the
 *            upper bound of loopback TCP on this machine).
 * The runs are interleaved: rep r is one round of every configuration (tcp-ram, tcp-hot,
 * tcp-prealloc, then ferry with each channel count), so each ferry run has a tcp-prealloc run taken
 * right before it. On a shared machine the loopback rate drifts over minutes by more than the
 * effect measured (tcp-prealloc moved 2.85..4.38 GB/s within one session); a ratio of medians of
 * runs taken minutes apart carries that drift, a ratio within one rep much less of it.
 * Prints a table (median of --reps runs; "of tcp-ram" / "of tcp-prealloc" are ratios of those
 * medians) and, per ferry channel count, the paired ratio: the median over reps of tcp-prealloc
 * seconds / ferry seconds of the same rep, with its min..max and the number of pairs (reps where
 * both runs succeeded). The paired ratio is the number the goal (ferry at >= 90 % of
 * tcp-prealloc) is judged on. With --no-tcp there is nothing to pair and that line is omitted.
 * With --csv FILE, one row per run (rep pairs rows of one round):
 *   kind,size_mib,channels,rep,seconds,gb_s,end_to_end_s,cpu_s,dest_alloc_s
 * seconds/gb_s: for ferry the source's round 0 (every page, from the first batch to the last
 * ROUND_ACK, measured by the agent and reported in Progress); end_to_end_s: PrepareDestination ->
 * COMPLETED as the coordinator sees it (includes the destination's RAM allocation, its memory
 * self-check and start); dest_alloc_s: the destination agent's allocation of the incoming RAM
 * (its log's alloc_ms), before round 0.
 * cpu_s: CPU seconds (user + system) of both agents from PrepareDestination to COMPLETED, or of the
 * TCP sender and receiver while streaming: the cost per GiB, which on a shared 2-core machine is
 * steadier than the wall time (and, with the cores saturated, what bounds the rate).
 * GB = 1e9 bytes. The harness plays ferryd (tests/migration_harness.c); the agent measured is
 * $FERRY_AGENT_BIN, else the ferry-agent of the same build directory.
 */
#include "../tests/migration_harness.c"
#include "../tests/test_peer.c"
#include "../tests/simdevd_helper.c"
#include "bench_common.h"

#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "migration.h"
#include "ram_alloc.h"
#include "ram_populate.h"
#include "stream_io.h"

#define MAX_REPS 32
#define MAX_CONFIGS 16 /* channel counts in one run */

/* CPU seconds (user + system, all threads) a process has used so far; 0 if unreadable. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double rusage_s(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + (double)r->ru_stime.tv_sec +
	       r->ru_stime.tv_usec / 1e6;
}

/* Anonymous shared memory the size of guest RAM (what ferry-workload's memfd is). */
static uint8_t *map_ram(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

enum tcp_kind {
	TCP_HOT,      /* a 2 MiB buffer on both ends */
	TCP_RAM,      /* populated random RAM into fresh RAM, populated 2 MiB at a time */
	TCP_PREALLOC, /* populated random RAM into RAM populated before the clock starts */
};

/* One TCP loopback stream of `bytes`; seconds from accept to the last byte, or 0 on failure;
 * *cpu_s: CPU seconds of sender and receiver while streaming (the sender's RAM fill excluded);
 * *alloc_s: TCP_PREALLOC's populate of the receiving RAM (0 otherwise). */
static double loopback_s(uint64_t bytes, enum tcp_kind kind, double *cpu_s, double *alloc_s)
{
	bool hot = kind == TCP_HOT;
	*cpu_s = *alloc_s = 0;
	int l = socket(AF_INET, SOCK_STREAM, 0), cpu_pipe[2];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len) ||
	    pipe(cpu_pipe))
		return 0;
	const size_t chunk = 2u << 20;
	pid_t pid = fork();
	if (pid == 0) {
		uint8_t *src = hot ? malloc(chunk) : map_ram(bytes);
		if (!src)
			_exit(1);
		uint64_t s = 0x9E3779B97F4A7C15ull; /* xorshift64: incompressible, never zero pages */
		for (uint64_t i = 0; i < (hot ? chunk : bytes); i += 8) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			memcpy(src + i, &s, 8);
		}
		struct rusage r0, r1;
		getrusage(RUSAGE_SELF, &r0);
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ferry_stream_tune_socket(fd);
		if (connect(fd, (struct sockaddr *)&a, sizeof a))
			_exit(1);
		for (uint64_t sent = 0; sent < bytes;) {
			const uint8_t *p = hot ? src + sent % chunk : src + sent;
			size_t n = hot ? chunk - sent % chunk : (bytes - sent < chunk ? bytes - sent : chunk);
			ssize_t w = send(fd, p, n, 0);
			if (w <= 0)
				_exit(1);
			sent += (uint64_t)w;
		}
		close(fd);
		getrusage(RUSAGE_SELF, &r1);
		double used = rusage_s(&r1) - rusage_s(&r0);
		_exit(write(cpu_pipe[1], &used, sizeof used) == sizeof used ? 0 : 1);
	}
	close(cpu_pipe[1]);
	uint8_t *dst = hot ? malloc(chunk) : map_ram(bytes);
	if (dst && kind == TCP_PREALLOC) {
		struct ferry_ram_alloc_plan plan = {FERRY_RAM_ALLOC_POPULATE, 1};
		double a0 = bench_now_s();
		(void)ferry_ram_alloc(-1, dst, bytes, &plan, NULL);
		*alloc_s = bench_now_s() - a0;
	}
	int fd = accept(l, NULL, NULL);
	if (fd >= 0)
		ferry_stream_tune_socket(fd);
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = bench_now_s();
	uint64_t got = 0;
	while (dst && fd >= 0 && got < bytes) {
		uint8_t *p = hot ? dst : dst + got;
		size_t want = hot ? chunk : (bytes - got < chunk ? bytes - got : chunk);
		if (kind == TCP_RAM && got % chunk == 0) /* fresh memory: allocate a chunk at once */
			(void)ferry_ram_populate(p, want, true);
		ssize_t r = recv(fd, p, hot ? chunk : chunk - got % chunk, 0);
		if (r <= 0)
			break;
		got += (uint64_t)r;
	}
	double t = bench_now_s() - t0;
	getrusage(RUSAGE_SELF, &r1);
	double sender = 0;
	if (read(cpu_pipe[0], &sender, sizeof sender) != sizeof sender)
		sender = 0;
	*cpu_s = sender + rusage_s(&r1) - rusage_s(&r0);
	close(cpu_pipe[0]);
	close(fd);
	close(l);
	waitpid(pid, NULL, 0);
	if (hot)
		free(dst);
	else if (dst)
		munmap(dst, bytes);
	return got == bytes && t > 0 ? t : 0;
}

/* The agents' log lines of one run go to a file (stderr is the agents' log), from which the
 * destination's allocation time is read, then they are passed on to the real stderr. */
static int log_to_file(FILE **f)
{
	int saved = dup(STDERR_FILENO);
	*f = tmpfile();
	if (saved < 0 || !*f) {
		if (*f)
			fclose(*f);
		*f = NULL;
		return saved;
	}
	fflush(stderr);
	dup2(fileno(*f), STDERR_FILENO);
	return saved;
}

/* Restores stderr and copies the run's log there; the last "alloc_ms=" in it, in seconds (0: none). */
static double log_restore(FILE *f, int saved)
{
	double alloc_s = 0;
	fflush(stderr);
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	if (!f)
		return 0;
	char line[2048];
	rewind(f);
	while (fgets(line, sizeof line, f)) {
		const char *a = strstr(line, "msg=\"incoming guest RAM allocated\"");
		const char *ms = a ? strstr(a, " alloc_ms=") : NULL;
		if (ms)
			alloc_s = strtod(ms + 10, NULL) / 1000.0;
		fputs(line, stderr);
	}
	fclose(f);
	return alloc_s;
}

/* One migration of the frozen VM with `channels`: round-0 seconds (0 on failure), *e2e_s the
 * PrepareDestination -> COMPLETED wall time, *cpu_s the CPU seconds both agents used meanwhile,
 * *alloc_s the destination's allocation of the incoming RAM. */
static double migration_s(uint32_t channels, const char *ram, double *e2e_s, double *cpu_s, double *alloc_s)
{
	struct mh_cluster c;
	double secs = 0;
	FILE *log = NULL;
	*e2e_s = *cpu_s = 0;
	int saved = log_to_file(&log);
	if (mh_setup_with(&c, NULL, NULL, ram, "1000", "--start-frozen") == 0) {
		c.channels = channels;
		Ferry__V1__MigrationPolicy pol = FERRY__V1__MIGRATION_POLICY__INIT;
		pol.max_downtime_ms = 300;
		char id[32];
		snprintf(id, sizeof id, "bench-%u", channels);
		double t0 = bench_now_s(), cpu0 = proc_cpu_s(c.src.agent) + proc_cpu_s(c.dst.agent);
		if (mh_begin(&c, id, "bench-token", &pol) == 0) {
			/* The harness waits MH_T_MS per frame; a loaded host can take longer for round 0. */
			Ferry__V1__Progress *p = NULL;
			for (int tries = 0; !p && tries < 6; tries++)
				p = mh_next_progress(&c.src);
			if (p && p->round == 0 && p->bandwidth_bytes_per_sec)
				secs = (double)p->ram_bytes_sent / (double)p->bandwidth_bytes_per_sec;
			if (p)
				protobuf_c_message_free_unpacked(&p->base, NULL);
			p = NULL;
			for (int tries = 0; !p && tries < 6; tries++)
				p = mh_final_progress(&c.src);
			*e2e_s = bench_now_s() - t0;
			*cpu_s = proc_cpu_s(c.src.agent) + proc_cpu_s(c.dst.agent) - cpu0;
			if (!p || p->phase != FERRY__V1__AGENT_PHASE__AGENT_PHASE_COMPLETED)
				secs = 0; /* only a completed migration counts */
			if (p)
				protobuf_c_message_free_unpacked(&p->base, NULL);
			char reply[256];
			mh_workload_says(c.incoming, "quit", reply, sizeof reply);
		}
	}
	mh_teardown(&c);
	*alloc_s = log_restore(log, saved);
	return secs;
}

static void csv_row(FILE *csv, const char *kind, unsigned mib, unsigned channels, int rep, double s, double e2e,
		    double cpu, double alloc)
{
	if (csv)
		fprintf(csv, "%s,%u,%u,%d,%.4f,%.4f,%.4f,%.3f,%.4f\n", kind, mib, channels, rep, s,
			s > 0 ? ((double)mib * 1048576.0) / s / 1e9 : 0, e2e, cpu, alloc);
}

/* One table row; ratios against the same run's tcp-ram and tcp-prealloc (0: not measured). */
static void print_row(const char *name, unsigned mib, double s, double cpu, double e2e, double alloc, double tcp_ram_s,
		      double tcp_prealloc_s)
{
	double gb_s = s > 0 ? ((double)mib * 1048576.0) / s / 1e9 : 0;
	char ratio[16] = "-", pre[16] = "-";
	if (s > 0 && tcp_ram_s > 0)
		snprintf(ratio, sizeof ratio, "%.0f%%", 100.0 * tcp_ram_s / s);
	if (s > 0 && tcp_prealloc_s > 0)
		snprintf(pre, sizeof pre, "%.0f%%", 100.0 * tcp_prealloc_s / s);
	printf("%-24s %9.3f %8.2f %10s %14s %12.2f", name, s, gb_s, ratio, pre, cpu * 1024.0 / mib);
	if (alloc > 0)
		printf("   dest alloc %.3f s", alloc);
	if (e2e > 0)
		printf("   end-to-end %.3f s", e2e);
	printf("\n");
}

/* The runs of one configuration, indexed by rep. */
struct runs {
	double s[MAX_REPS], e2e[MAX_REPS], cpu[MAX_REPS], alloc[MAX_REPS];
};

/* Median of v[0..n), v left as it is (its order pairs it with other configurations' runs). */
static double median_of(const double *v, int n)
{
	double tmp[MAX_REPS];
	memcpy(tmp, v, (size_t)n * sizeof *v);
	return bench_median(tmp, n);
}

/* The paired ratio: per rep where both succeeded, tcp-prealloc seconds / ferry seconds of that
 * rep; prints their median, min..max and count. */
static void print_paired(const char *name, const double *pre_s, const double *ferry_s, int reps)
{
	double q[MAX_REPS];
	int n = 0;
	for (int r = 0; r < reps; r++)
		if (pre_s[r] > 0 && ferry_s[r] > 0)
			q[n++] = pre_s[r] / ferry_s[r];
	if (n == 0) {
		printf("%s: paired ratio of tcp-prealloc - (0 pairs)\n", name);
		return;
	}
	double m = bench_median(q, n); /* sorts q */
	printf("%s: paired ratio of tcp-prealloc median %.0f %% (%.0f..%.0f %%, %d pair%s)\n", name, 100.0 * m,
	       100.0 * q[0], 100.0 * q[n - 1], n, n > 1 ? "s" : "");
}

int main(int argc, char **argv)
{
	unsigned mib = 256;
	int reps = 3;
	const char *channels = "1,2,4", *csv_path = NULL;
	bool tcp = true;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--size-mib") == 0 && v)
			mib = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--reps") == 0 && v)
			reps = atoi(argv[++i]);
		else if (strcmp(argv[i], "--channels") == 0 && v)
			channels = argv[++i];
		else if (strcmp(argv[i], "--csv") == 0 && v)
			csv_path = argv[++i];
		else if (strcmp(argv[i], "--no-tcp") == 0)
			tcp = false;
		else {
			fprintf(stderr, "usage: bench_migration [--size-mib N] [--reps R] [--channels 1,2,4] [--csv FILE] "
					"[--no-tcp]\n");
			return 2;
		}
	}
	if (mib == 0 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "bench_migration: --size-mib must be > 0 and --reps in 1..%d\n", MAX_REPS);
		return 2;
	}
	unsigned chans[MAX_CONFIGS];
	int nch = 0;
	for (const char *p = channels; *p;) {
		unsigned n = (unsigned)strtoul(p, (char **)&p, 10);
		while (*p == ',' || *p == ' ')
			p++;
		if (n == 0 || n > FERRY_MIG_MAX_CHANNELS) {
			fprintf(stderr, "bench_migration: channel count %u is not in 1..%u\n", n, FERRY_MIG_MAX_CHANNELS);
			return 2;
		}
		if (nch == MAX_CONFIGS) {
			fprintf(stderr, "bench_migration: at most %d channel counts\n", MAX_CONFIGS);
			return 2;
		}
		chans[nch++] = n;
	}
	char ram[32];
	snprintf(ram, sizeof ram, "%uMiB", mib);
	FILE *csv;
	if (bench_setup("bench_migration", csv_path, &csv))
		return 2;
	uint64_t bytes = (uint64_t)mib << 20;
	printf("migration of %u MiB random RAM, vCPUs frozen, loopback (median of %d runs each, reps interleaved)\n", mib,
	       reps);
	printf("%-24s %9s %8s %10s %14s %12s\n", "configuration", "seconds", "GB/s", "of tcp-ram", "of tcp-prealloc",
	       "CPU s/GiB");
	fflush(stdout);
	static const struct {
		enum tcp_kind kind;
		const char *csv, *name;
	} kinds[] = {{TCP_RAM, "tcp-ram", "tcp-ram, 1 stream"},
		     {TCP_PREALLOC, "tcp-prealloc", "tcp-prealloc, 1 stream"},
		     {TCP_HOT, "tcp-hot", "tcp-hot, 1 stream"}};
	enum { N_KINDS = sizeof kinds / sizeof kinds[0], PRE = 1 };
	/* Within a rep tcp-prealloc runs last, right before the ferry runs it is paired with. */
	static const int order[N_KINDS] = {0, 2, PRE};
	static struct runs tcp_runs[N_KINDS], ferry_runs[MAX_CONFIGS];
	for (int r = 0; r < reps; r++) {
		fprintf(stderr, "bench_migration: rep %d of %d\n", r + 1, reps);
		for (int o = 0; tcp && o < N_KINDS; o++) {
			int k = order[o];
			struct runs *t = &tcp_runs[k];
			t->s[r] = loopback_s(bytes, kinds[k].kind, &t->cpu[r], &t->alloc[r]);
			csv_row(csv, kinds[k].csv, mib, 1, r, t->s[r], 0, t->cpu[r], t->alloc[r]);
		}
		for (int i = 0; i < nch; i++) {
			struct runs *f = &ferry_runs[i];
			f->s[r] = migration_s(chans[i], ram, &f->e2e[r], &f->cpu[r], &f->alloc[r]);
			csv_row(csv, "ferry", mib, chans[i], r, f->s[r], f->e2e[r], f->cpu[r], f->alloc[r]);
			if (csv)
				fflush(csv);
		}
	}
	double tcp_ram = 0, tcp_pre = 0;
	if (tcp) {
		tcp_ram = median_of(tcp_runs[0].s, reps);
		tcp_pre = median_of(tcp_runs[PRE].s, reps);
		for (int k = 0; k < N_KINDS; k++) {
			const struct runs *t = &tcp_runs[k];
			print_row(kinds[k].name, mib, median_of(t->s, reps), median_of(t->cpu, reps), 0,
				  median_of(t->alloc, reps), tcp_ram, tcp_pre);
		}
	}
	char names[MAX_CONFIGS][32];
	for (int i = 0; i < nch; i++) {
		const struct runs *f = &ferry_runs[i];
		snprintf(names[i], sizeof names[i], "ferry, %u channel%s", chans[i], chans[i] > 1 ? "s" : "");
		print_row(names[i], mib, median_of(f->s, reps), median_of(f->cpu, reps), median_of(f->e2e, reps),
			  median_of(f->alloc, reps), tcp_ram, tcp_pre);
	}
	for (int i = 0; tcp && i < nch; i++)
		print_paired(names[i], tcp_runs[PRE].s, ferry_runs[i].s, reps);
	if (csv)
		fclose(csv);
	return 0;
}
