/*
 * How the source hands guest pages to a data channel (issue 5's "measure the options"): one TCP
 * loopback stream of guest RAM (a filled memfd, as ferry-workload's) into memory populated before
 * the clock starts (as the destination agent's), with the agent's socket tuning, sent by
 *
 *   send       send(2) from the memfd mapping, 2 MiB per call: what the agent does (its sendmsg
 *              iovecs point into the same mapping), the kernel's copy into the socket the only one;
 *   zerocopy   the same with SO_ZEROCOPY + MSG_ZEROCOPY: the kernel pins the pages instead of
 *              copying them and reports on the error queue when it let go of them (and whether it
 *              had to copy after all, SO_EE_CODE_ZEROCOPY_COPIED);
 *   sendfile   sendfile(2) from the memfd (the page cache spliced into the socket).
 *
 *   bench_send_modes [--size-mib N] [--reps R]     (defaults 1024, 5)
 *
 * Modes alternate within each rep, so they share the machine's drift; the table gives the median
 * GB/s and CPU s/GiB (sender + receiver) over reps, and for zerocopy the share of sends the kernel
 * copied anyway. On loopback (and veth) the receiving socket is local, so the kernel copies the
 * pinned pages when it delivers them (skb_orphan_frags_rx) and says so in every completion: this
 * machine cannot show what MSG_ZEROCOPY does on a real NIC.
 */
#include <errno.h>
#include <time.h> /* before linux/errqueue.h, which uses struct timespec */

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "ram_alloc.h"
#include "stream_io.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif

#define CHUNK (2u << 20)
#define MAX_REPS 32

enum mode { MODE_SEND, MODE_ZEROCOPY, MODE_SENDFILE, N_MODES };
static const char *const mode_names[N_MODES] = {"send", "zerocopy", "sendfile"};

/* What the sender reports back through a pipe. */
struct sender_result {
	double cpu_s;
	uint64_t zc_sends, zc_copied; /* zerocopy: sends completed, and those the kernel copied */
};

static double rusage_s(void)
{
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

/* Reaps MSG_ZEROCOPY completions from the error queue; waits for one when `wait`. */
static int reap_completions(int fd, bool wait, struct sender_result *res)
{
	for (;;) {
		char control[128];
		struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof control};
		if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (!wait)
				return 0;
			struct pollfd p = {.fd = fd, .events = 0}; /* POLLERR is always reported */
			if (poll(&p, 1, 10000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			const struct sock_extended_err *e = (const void *)CMSG_DATA(c);
			if (e->ee_origin != SO_EE_ORIGIN_ZEROCOPY)
				continue;
			uint64_t n = (uint64_t)(e->ee_data - e->ee_info) + 1; /* sends [ee_info, ee_data] */
			res->zc_sends += n;
			if (e->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				res->zc_copied += n;
		}
		return 0;
	}
}

/* The sender child: streams `bytes` of the memfd to `a` in `mode`. */
static int sender(int memfd, const uint8_t *ram, uint64_t bytes, enum mode mode, const struct sockaddr_in *a,
		  struct sender_result *res)
{
	memset(res, 0, sizeof *res);
	double c0 = rusage_s();
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	ferry_stream_tune_socket(fd);
	if (mode == MODE_ZEROCOPY && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one))
		return -errno;
	if (connect(fd, (const struct sockaddr *)a, sizeof *a))
		return -errno;
	uint64_t issued = 0;
	for (uint64_t sent = 0; sent < bytes;) {
		size_t n = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
		ssize_t w;
		if (mode == MODE_SENDFILE) {
			off_t off = (off_t)sent;
			w = sendfile(fd, memfd, &off, n);
		} else {
			w = send(fd, ram + sent, n, mode == MODE_ZEROCOPY ? MSG_ZEROCOPY : 0);
		}
		if (w < 0 && errno == ENOBUFS && mode == MODE_ZEROCOPY) { /* optmem full of pinned sends */
			int rc = reap_completions(fd, true, res);
			if (rc)
				return rc;
			continue;
		}
		if (w <= 0)
			return w < 0 ? -errno : -EPIPE;
		sent += (uint64_t)w;
		if (mode == MODE_ZEROCOPY) {
			issued++;
			int rc = reap_completions(fd, false, res);
			if (rc)
				return rc;
		}
	}
	while (mode == MODE_ZEROCOPY && res->zc_sends < issued) {
		int rc = reap_completions(fd, true, res);
		if (rc)
			return rc;
	}
	close(fd);
	res->cpu_s = rusage_s() - c0;
	return 0;
}

/* One stream; seconds from accept to the last byte received (0 on failure). */
static double stream_once(int memfd, const uint8_t *ram, uint8_t *dst, uint64_t bytes, enum mode mode, double *cpu_s,
			  struct sender_result *res)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), pipefd[2];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len) || pipe(pipefd))
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		struct sender_result r;
		int rc = sender(memfd, ram, bytes, mode, &a, &r);
		if (rc)
			fprintf(stderr, "bench_send_modes: %s: %s\n", mode_names[mode], strerror(-rc));
		_exit(!rc && write(pipefd[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
	}
	close(pipefd[1]);
	int fd = accept(l, NULL, NULL);
	if (fd >= 0)
		ferry_stream_tune_socket(fd);
	double c0 = rusage_s(), t0 = bench_now_s();
	uint64_t got = 0;
	while (fd >= 0 && got < bytes) {
		ssize_t r = recv(fd, dst + got, bytes - got, 0);
		if (r <= 0)
			break;
		got += (uint64_t)r;
	}
	double dt = bench_now_s() - t0, recv_cpu = rusage_s() - c0;
	if (fd >= 0)
		close(fd);
	close(l);
	int status = 0;
	waitpid(pid, &status, 0);
	bool ok = read(pipefd[0], res, sizeof *res) == (ssize_t)sizeof *res && WIFEXITED(status) &&
		  WEXITSTATUS(status) == 0 && got == bytes;
	close(pipefd[0]);
	*cpu_s = recv_cpu + res->cpu_s;
	return ok ? dt : 0;
}

int main(int argc, char **argv)
{
	unsigned mib = 1024;
	int reps = 5;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--size-mib") == 0 && i + 1 < argc)
			mib = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_send_modes [--size-mib 1024] [--reps 5]\n");
			return 2;
		}
	}
	if (mib == 0 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "bench_send_modes: --size-mib must be > 0 and --reps 1..%d\n", MAX_REPS);
		return 2;
	}
	uint64_t bytes = (uint64_t)mib << 20;
	int memfd = memfd_create("bench-guest-ram", 0);
	if (memfd < 0 || ftruncate(memfd, (off_t)bytes)) {
		perror("bench_send_modes: memfd");
		return 1;
	}
	uint8_t *ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	uint8_t *dst = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED || dst == MAP_FAILED) {
		perror("bench_send_modes: mmap");
		return 1;
	}
	uint64_t s = 0x9E3779B97F4A7C15ull; /* xorshift64: incompressible, never zero pages */
	for (uint64_t i = 0; i < bytes; i += 8) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		memcpy(ram + i, &s, 8);
	}
	struct ferry_ram_alloc_plan plan = {FERRY_RAM_ALLOC_POPULATE, 1};
	(void)ferry_ram_alloc(-1, dst, bytes, &plan, NULL); /* the destination's RAM, before any clock */

	double secs[N_MODES][MAX_REPS], cpu[N_MODES][MAX_REPS];
	uint64_t zc_sends = 0, zc_copied = 0;
	int ok[N_MODES] = {0};
	printf("%u MiB of random guest RAM (memfd) into populated memory over TCP loopback, %d reps, modes "
	       "alternating\n", mib, reps);
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < N_MODES; k++) {
			int m = (k + r) % N_MODES; /* rotate who goes first */
			struct sender_result res;
			double c, t = stream_once(memfd, ram, dst, bytes, (enum mode)m, &c, &res);
			if (t <= 0 || memcmp(ram, dst, bytes) != 0) {
				fprintf(stderr, "bench_send_modes: %s rep %d failed or delivered wrong bytes\n", mode_names[m], r);
				continue;
			}
			memset(dst, 0, bytes); /* the next stream must write every byte again */
			secs[m][ok[m]] = t;
			cpu[m][ok[m]++] = c;
			if (m == MODE_ZEROCOPY) {
				zc_sends += res.zc_sends;
				zc_copied += res.zc_copied;
			}
			printf("  rep %d %-8s %.3f s %.2f GB/s\n", r, mode_names[m], t, (double)bytes / t / 1e9);
		}
	double base = ok[MODE_SEND] ? bench_median(secs[MODE_SEND], ok[MODE_SEND]) : 0;
	printf("\n| mode | runs | GB/s (median) | of send | CPU s/GiB | sends copied by the kernel |\n"
	       "|---|---:|---:|---:|---:|---|\n");
	for (int m = 0; m < N_MODES; m++) {
		if (!ok[m]) {
			printf("| %s | 0 | failed | | | |\n", mode_names[m]);
			continue;
		}
		double t = bench_median(secs[m], ok[m]), c = bench_median(cpu[m], ok[m]);
		char copied[64] = "-";
		if (m == MODE_ZEROCOPY)
			snprintf(copied, sizeof copied, "%llu of %llu", (unsigned long long)zc_copied,
				 (unsigned long long)zc_sends);
		printf("| %s | %d | %.2f | %.0f %% | %.2f | %s |\n", mode_names[m], ok[m], (double)bytes / t / 1e9,
		       base > 0 ? 100.0 * base / t : 0, c / ((double)bytes / (1 << 30)), copied);
	}
	return ok[MODE_SEND] && ok[MODE_ZEROCOPY] && ok[MODE_SENDFILE] ? 0 : 1;
}
