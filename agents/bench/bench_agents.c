/*
 * Many simulated agents against one real ferryd: N control links (default 1,000) in one process,
 * one epoll loop. Each link is the agent's own control code (control_link.c: Hello, Welcome,
 * Inventory, Heartbeat at ferryd's interval, echoes, reconnect with backoff), so ferryd sees what
 * N real ferry-agents would send; only the host facts and the VMs in the Inventory are made up.
 *
 *   bench_agents --coordinator 127.0.0.1:7100 [--agents 1000] [--vms-per-host 2] [--seconds 0]
 *                [--host-prefix bench-host-] [--ramp-ms 2000] [--report-ms 5000]
 *
 * It prints one line every --report-ms (registered links, heartbeats sent and echoed) and a final
 * `result ...` line; --seconds 0 runs until SIGINT/SIGTERM. scripts/bench/coordinator samples
 * ferryd's CPU meanwhile. Not run by `make bench` (it needs a ferryd).
 */
#include "control_link.h"
#include "clock.h"
#include "inventory.h"
#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MAX_VMS_PER_HOST 16

struct sim_agent {
	struct ferry_control_link link;
	struct ferry_inventory inv; /* its msg points into itself: never copied */
	char host_id[64];
	char boot_id[33];
	char vm_ids[MAX_VMS_PER_HOST][64];
	size_t n_vms;
	int ep_fd;        /* fd registered with epoll, -1 none */
	uint32_t ep_ev;   /* events it is registered for */
	uint64_t ep_conn; /* connect_attempts when registered: a reconnect may reuse the fd number */
	uint64_t start_ms;
	bool started;
};

struct options {
	const char *coordinator;
	const char *host_prefix;
	unsigned agents;
	unsigned vms_per_host;
	unsigned seconds;
	unsigned ramp_ms;
	unsigned report_ms;
};

static struct ferry_host_facts g_facts;

/* Made-up but plausible host facts: a 64-CPU, 512 GiB host. */
static const ProtobufCMessage *sim_inventory(void *ctx, int control_fd)
{
	struct sim_agent *a = ctx;
	(void)control_fd;
	ferry_inventory_build(&a->inv, a->host_id, &g_facts, "127.0.0.1:9", NULL, 0);
	for (size_t i = 0; i < a->n_vms; i++) {
		Ferry__V1__Vm *vm = &a->inv.vm_storage[i];
		*vm = (Ferry__V1__Vm)FERRY__V1__VM__INIT;
		vm->vm_id = a->vm_ids[i];
		vm->ram_bytes = 4ull << 30;
		vm->vcpus = 4;
		vm->state = FERRY__V1__VM_STATE__VM_STATE_RUNNING;
		vm->pid = 1;
		a->inv.vm_ptrs[i] = vm;
	}
	a->inv.msg.n_vms = a->n_vms;
	a->inv.msg.vms = a->n_vms ? a->inv.vm_ptrs : NULL;
	return &a->inv.msg.base;
}

static uint64_t sim_free_memory(void *ctx)
{
	(void)ctx;
	return g_facts.free_memory_bytes;
}

/* Keeps the epoll registration in step with the link's socket and wanted events. A closed fd has
 * already left the epoll set (the kernel drops it), so DEL/MOD failures for it are expected; a new
 * socket can get the old number, hence the connect count. */
static int sync_epoll(int ep, struct sim_agent *a)
{
	short events = 0;
	int fd = ferry_control_link_poll_fd(&a->link, &events);
	uint32_t ev = ((events & POLLIN) ? EPOLLIN : 0) | ((events & POLLOUT) ? EPOLLOUT : 0);
	struct epoll_event e = {.events = ev, .data.ptr = a};
	uint64_t conn = a->link.ctl.connect_attempts;
	if (fd != a->ep_fd || conn != a->ep_conn) {
		if (a->ep_fd >= 0)
			(void)epoll_ctl(ep, EPOLL_CTL_DEL, a->ep_fd, NULL);
		a->ep_fd = -1;
		if (fd < 0)
			return 0;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) != 0 && (errno != EEXIST || epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) != 0))
			return -errno;
		a->ep_fd = fd;
		a->ep_ev = ev;
		a->ep_conn = conn;
		return 0;
	}
	if (fd >= 0 && ev != a->ep_ev) {
		if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) != 0)
			return -errno;
		a->ep_ev = ev;
	}
	return 0;
}

/* 1,000 sockets need more than the usual soft limit of 1,024 descriptors. */
static int raise_nofile(rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -errno;
	if (rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want; /* only root may raise the hard limit */
	return setrlimit(RLIMIT_NOFILE, &rl) != 0 ? -errno : 0;
}

static int usage(const char *why)
{
	fprintf(stderr,
		"bench_agents: %s\nusage: bench_agents --coordinator HOST:PORT [--agents N] [--vms-per-host N]\n"
		"                    [--seconds N] [--host-prefix P] [--ramp-ms N] [--report-ms N]\n",
		why);
	return 2;
}

static int parse_uint(const char *name, const char *text, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || end == text || v < lo || v > hi) {
		fprintf(stderr, "bench_agents: --%s must be an integer from %u to %u, got '%s'\n", name, lo, hi, text);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"coordinator", required_argument, NULL, 'c'}, {"agents", required_argument, NULL, 'n'},
		{"vms-per-host", required_argument, NULL, 'v'}, {"seconds", required_argument, NULL, 's'},
		{"host-prefix", required_argument, NULL, 'p'}, {"ramp-ms", required_argument, NULL, 'r'},
		{"report-ms", required_argument, NULL, 'R'},   {NULL, 0, NULL, 0},
	};
	*o = (struct options){.host_prefix = "bench-host-", .agents = 1000, .vms_per_host = 2, .ramp_ms = 2000,
			      .report_ms = 5000};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int err = 0;
		switch (c) {
		case 'c': o->coordinator = optarg; break;
		case 'p': o->host_prefix = optarg; break;
		case 'n': err = parse_uint("agents", optarg, 1, 100000, &o->agents); break;
		case 'v': err = parse_uint("vms-per-host", optarg, 0, MAX_VMS_PER_HOST, &o->vms_per_host); break;
		case 's': err = parse_uint("seconds", optarg, 0, 86400, &o->seconds); break;
		case 'r': err = parse_uint("ramp-ms", optarg, 0, 600000, &o->ramp_ms); break;
		case 'R': err = parse_uint("report-ms", optarg, 100, 600000, &o->report_ms); break;
		default: return usage("unknown option");
		}
		if (err)
			return 2;
	}
	if (optind != argc)
		return usage("unexpected argument");
	if (!o->coordinator)
		return usage("--coordinator is required");
	if (strlen(o->host_prefix) > 40)
		return usage("--host-prefix is longer than 40 characters");
	return -1;
}

struct totals {
	unsigned registered;
	uint64_t heartbeats, echoed, connects, welcomes, errors;
};

static struct totals count(const struct sim_agent *agents, unsigned n)
{
	struct totals t = {0};
	for (unsigned i = 0; i < n; i++) {
		const struct ferry_control *c = &agents[i].link.ctl;
		t.registered += c->state == FERRY_CONTROL_ACTIVE;
		t.heartbeats += c->heartbeat_seq;
		t.echoed += c->last_echoed_seq;
		t.connects += c->connect_attempts;
		t.welcomes += c->welcomes;
		t.errors += c->errors_received;
	}
	return t;
}

static void print_totals(const char *label, double t_s, const struct totals *t, unsigned n)
{
	printf("%s t=%.1fs agents=%u registered=%u heartbeats_sent=%llu heartbeats_echoed=%llu connect_attempts=%llu "
	       "welcomes=%llu errors=%llu\n",
	       label, t_s, n, t->registered, (unsigned long long)t->heartbeats, (unsigned long long)t->echoed,
	       (unsigned long long)t->connects, (unsigned long long)t->welcomes, (unsigned long long)t->errors);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct options o;
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return rc;
	ferry_log_set_level(FERRY_LOG_WARNING); /* 1,000 links: only trouble is worth a line */
	int err = raise_nofile((rlim_t)o.agents + 64);
	if (err) {
		fprintf(stderr, "bench_agents: cannot raise RLIMIT_NOFILE to %u: %s\n", o.agents + 64, strerror(-err));
		return 1;
	}
	g_facts = (struct ferry_host_facts){.cpu_count = 64, .memory_bytes = 512ull << 30,
					    .free_memory_bytes = 448ull << 30};
	struct utsname u;
	snprintf(g_facts.kernel_release, sizeof g_facts.kernel_release, "%s", uname(&u) == 0 ? u.release : "unknown");

	struct sim_agent *agents = calloc(o.agents, sizeof *agents);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	int sfd = sigprocmask(SIG_BLOCK, &set, NULL) == 0 ? signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC) : -1;
	if (!agents || ep < 0 || sfd < 0) {
		fprintf(stderr, "bench_agents: setup failed: %s\n", strerror(errno));
		return 1;
	}
	struct epoll_event se = {.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &se);

	uint64_t t0 = ferry_monotonic_ms();
	for (unsigned i = 0; i < o.agents; i++) {
		struct sim_agent *a = &agents[i];
		snprintf(a->host_id, sizeof a->host_id, "%s%04u", o.host_prefix, i + 1);
		snprintf(a->boot_id, sizeof a->boot_id, "%08x%08x%016llx", i + 1, (unsigned)getpid(),
			 (unsigned long long)t0);
		a->n_vms = o.vms_per_host;
		for (size_t v = 0; v < a->n_vms; v++)
			snprintf(a->vm_ids[v], sizeof a->vm_ids[v], "%s-vm%zu", a->host_id, v + 1);
		a->ep_fd = -1;
		/* Spread the connects (and so the heartbeat phases) over the ramp, as real hosts are. */
		a->start_ms = t0 + (uint64_t)o.ramp_ms * i / o.agents;
		struct ferry_control_link_host host = {sim_inventory, sim_free_memory, a};
		ferry_control_link_init(&a->link, o.coordinator, a->host_id, a->boot_id, FERRY_AGENT_VERSION, &host,
					ferry_random_system, NULL);
	}

	uint64_t next_report = t0 + o.report_ms;
	uint64_t end = o.seconds ? t0 + (uint64_t)o.seconds * 1000 : UINT64_MAX;
	struct epoll_event events[256];
	bool stop = false;
	while (!stop) {
		uint64_t now = ferry_monotonic_ms();
		uint64_t due = next_report < end ? next_report : end;
		for (unsigned i = 0; i < o.agents; i++) {
			struct sim_agent *a = &agents[i];
			if (!a->started) {
				if (a->start_ms <= now) {
					ferry_control_link_start(&a->link, now);
					a->started = true;
				} else if (a->start_ms < due) {
					due = a->start_ms;
					continue;
				} else {
					continue;
				}
			}
			if (ferry_control_link_next_deadline(&a->link) <= now)
				ferry_control_link_on_timer(&a->link, now);
			if ((err = sync_epoll(ep, a)) != 0) {
				fprintf(stderr, "bench_agents: %s: epoll: %s\n", a->host_id, strerror(-err));
				return 1;
			}
			uint64_t d = ferry_control_link_next_deadline(&a->link);
			if (d < due)
				due = d;
		}
		now = ferry_monotonic_ms();
		if (now >= next_report) {
			struct totals t = count(agents, o.agents);
			print_totals("progress", (double)(now - t0) / 1000, &t, o.agents);
			next_report += o.report_ms;
		}
		if (now >= end)
			break;
		int timeout = due <= now ? 0 : (int)(due - now > 1000 ? 1000 : due - now);
		int n = epoll_wait(ep, events, 256, timeout);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "bench_agents: epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		now = ferry_monotonic_ms();
		for (int k = 0; k < n; k++) {
			struct sim_agent *a = events[k].data.ptr;
			if (!a) {
				stop = true;
				continue;
			}
			uint32_t ev = events[k].events;
			short revents = (short)(((ev & EPOLLIN) ? POLLIN : 0) | ((ev & EPOLLOUT) ? POLLOUT : 0) |
						((ev & EPOLLHUP) ? POLLHUP : 0) | ((ev & EPOLLERR) ? POLLERR : 0));
			ferry_control_link_on_poll(&a->link, revents, now);
			if ((err = sync_epoll(ep, a)) != 0) {
				fprintf(stderr, "bench_agents: %s: epoll: %s\n", a->host_id, strerror(-err));
				return 1;
			}
		}
	}
	struct totals t = count(agents, o.agents);
	print_totals("result", (double)(ferry_monotonic_ms() - t0) / 1000, &t, o.agents);
	for (unsigned i = 0; i < o.agents; i++)
		ferry_control_link_stop(&agents[i].link);
	free(agents);
	close(ep);
	close(sfd);
	return 0;
}
