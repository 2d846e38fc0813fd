/*
 * ferry-agent: the per-host daemon. This file is the command line and the event loop only; the
 * control link (control.h, control_link.h), the data listener (data_listener.h), the config file
 * (config.h) and the inventory (inventory.h) live in the library.
 *
 *   ferry-agent --coordinator HOST:PORT --host-id NAME [--config FILE] [--data-listen HOST:PORT]
 *               [--vm-socket PATH] [--log-level trace|debug|info|warning|error]
 *
 * --vm-socket (config vm_socket) is where workloads register their VMs (vm_listener.h); default
 * $XDG_RUNTIME_DIR/ferry/agent.sock, else /run/ferry/agent.sock. When another live agent owns it the
 * agent refuses to start (exit 1): two agents on one host is a misconfiguration, and running on
 * without VM registration would hide it. Several agents playing several hosts on one machine
 * (tests, the demo) each pass their own --vm-socket.
 *
 * Devices: every configured device is opened through its backend at start (device_registry.h)
 * and the Inventory reports what the devices say. Sim devices live in the host's ferry-simdevd
 * (config sim_socket, default next to the VM socket); when none answers there the agent starts
 * one, detached, so it outlives the agent as kernel devices do (simdevd_launch.h). A device a dead
 * agent left mid-migration is returned to RUNNING when opened (device_registry.h). ferryd gets an
 * Inventory when VMs change and, coalesced (inventory_pacer.h), when a migration moves a device.
 *
 * Command-line flags win over the config file. Exit status: 0 after SIGTERM/SIGINT, 2 for usage or
 * config errors, 1 when the agent cannot start (e.g. the data listen address is taken).
 */
#include "clock.h"
#include "config.h"
#include "control_link.h"
#include "data_listener.h"
#include "device_registry.h"
#include "inventory.h"
#include "inventory_pacer.h"
#include "log.h"
#include "migration_manager.h"
#include "net.h"
#include "simdevd_launch.h"
#include "vm_listener.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define DEFAULT_DATA_LISTEN "0.0.0.0:7101"
#define MAX_POLL_MS 60000

struct agent {
	struct ferry_agent_config cfg;
	struct ferry_data_listener data;
	struct ferry_control_link link;
	struct ferry_inventory inventory;
	struct ferry_vm_listener vms;
	struct ferry_migration_manager migrations;
	struct ferry_device_registry devices;
	/* Inventories on device changes (inventory_pacer.h): what was seen of both counters. */
	struct ferry_inventory_pacer pacer;
	uint64_t device_changes_seen, inventories_seen;
	char config_path[4096]; /* absolute, for ferry-simdevd; "" without --config */
	char boot_id[33];
};

static void usage(FILE *to)
{
	fprintf(to, "usage: ferry-agent --coordinator HOST:PORT --host-id NAME [--config FILE]\n"
		    "                   [--data-listen HOST:PORT] [--vm-socket PATH]\n"
		    "                   [--log-level trace|debug|info|warning|error]\n"
		    "       ferry-agent --version | --help\n"
		    "defaults: --data-listen " DEFAULT_DATA_LISTEN ", --log-level info; flags win over the config file\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ferry-agent: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	return 2;
}

/* Copies a flag over the config value; flags win. Returns 0 or 2 when the value is too long. */
static int set_field(char *field, size_t size, const char *flag, const char *value)
{
	if (strlen(value) >= size)
		return usage_error("%s: value too long", flag);
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

/* Parses argv into a->cfg (config file first, then flags over it). Returns -1 to go on, or the
 * exit status. */
static int parse_options(int argc, char **argv, struct agent *a)
{
	static const struct option opts[] = {
		{"coordinator", required_argument, NULL, 'c'}, {"host-id", required_argument, NULL, 'i'},
		{"config", required_argument, NULL, 'f'},      {"data-listen", required_argument, NULL, 'd'},
		{"log-level", required_argument, NULL, 'l'},   {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},           {"vm-socket", required_argument, NULL, 's'},
		{NULL, 0, NULL, 0},
	};
	const char *coordinator = NULL, *host_id = NULL, *config = NULL, *data_listen = NULL, *log_level = NULL;
	const char *vm_socket = NULL;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': coordinator = optarg; break;
		case 'i': host_id = optarg; break;
		case 'f': config = optarg; break;
		case 'd': data_listen = optarg; break;
		case 'l': log_level = optarg; break;
		case 's': vm_socket = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("ferry-agent " FERRY_AGENT_VERSION "\n"); return 0;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);

	memset(&a->cfg, 0, sizeof a->cfg);
	if (config) {
		char err[512];
		if (ferry_config_load(config, &a->cfg, err, sizeof err) != 0) {
			fprintf(stderr, "ferry-agent: %s\n", err);
			return 2;
		}
		if (!realpath(config, a->config_path))
			snprintf(a->config_path, sizeof a->config_path, "%s", config);
	}
	int rc = 0;
	if (coordinator)
		rc = rc ? rc : set_field(a->cfg.coordinator, sizeof a->cfg.coordinator, "--coordinator", coordinator);
	if (host_id)
		rc = rc ? rc : set_field(a->cfg.host_id, sizeof a->cfg.host_id, "--host-id", host_id);
	if (data_listen)
		rc = rc ? rc : set_field(a->cfg.data_listen, sizeof a->cfg.data_listen, "--data-listen", data_listen);
	if (log_level)
		rc = rc ? rc : set_field(a->cfg.log_level, sizeof a->cfg.log_level, "--log-level", log_level);
	if (vm_socket)
		rc = rc ? rc : set_field(a->cfg.vm_socket, sizeof a->cfg.vm_socket, "--vm-socket", vm_socket);
	if (rc)
		return rc;
	if (a->cfg.vm_socket[0] == '\0')
		ferry_vm_listener_default_path(a->cfg.vm_socket, sizeof a->cfg.vm_socket);
	if (!a->cfg.data_listen[0])
		snprintf(a->cfg.data_listen, sizeof a->cfg.data_listen, "%s", DEFAULT_DATA_LISTEN);

	if (!a->cfg.coordinator[0])
		return usage_error("%s", "--coordinator is required (or coordinator = in the config file)");
	if (!a->cfg.host_id[0])
		return usage_error("%s", "--host-id is required (or host_id = in the config file)");
	char host[FERRY_NET_HOST_MAX];
	uint16_t port;
	if (ferry_net_parse_hostport(a->cfg.coordinator, host, sizeof host, &port) != 0 || port == 0)
		return usage_error("coordinator '%s' is not HOST:PORT", a->cfg.coordinator);
	if (ferry_net_parse_hostport(a->cfg.data_listen, host, sizeof host, &port) != 0)
		return usage_error("data listen address '%s' is not HOST:PORT", a->cfg.data_listen);
	enum ferry_log_level level = FERRY_LOG_INFO;
	if (a->cfg.log_level[0] && ferry_log_level_parse(a->cfg.log_level, &level) != 0)
		return usage_error("log level '%s' is not trace|debug|info|warning|error", a->cfg.log_level);
	ferry_log_set_level(level);
	return -1;
}

static void read_facts(struct ferry_host_facts *facts)
{
	int err = ferry_host_facts_read(facts);
	if (err) {
		/* Zeros tell ferryd "unknown"; refusing to register over it would help nobody. */
		ferry_log(FERRY_LOG_WARNING, "msg=\"cannot read host facts\" reason=\"%s\"", strerror(-err));
		memset(facts, 0, sizeof *facts);
	}
}

static const ProtobufCMessage *build_inventory(void *ctx, int control_fd)
{
	struct agent *a = ctx;
	struct ferry_host_facts facts;
	char data_address[FERRY_NET_ADDR_MAX];
	read_facts(&facts);
	int err = ferry_net_advertised_address(a->data.address, control_fd, data_address, sizeof data_address);
	if (err) {
		ferry_log(FERRY_LOG_WARNING, "msg=\"cannot tell the data address\" data_listen=%s reason=\"%s\"",
			  a->data.address, strerror(-err));
		return NULL;
	}
	ferry_device_registry_refresh(&a->devices);
	ferry_inventory_build(&a->inventory, a->cfg.host_id, &facts, data_address, a->devices.info, a->devices.n);
	ferry_inventory_set_vms(&a->inventory, &a->vms.registry, a->devices.info, a->devices.n);
	return &a->inventory.msg.base;
}

static uint64_t free_memory(void *ctx)
{
	struct ferry_host_facts facts;
	read_facts(&facts);
	return facts.free_memory_bytes;
}

/* A new boot id per process start: ferryd tells a restarted agent from a duplicate host with it. */
static void make_boot_id(char out[33])
{
	uint8_t b[16];
	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
		uint64_t t = (uint64_t)ferry_realtime_ns() ^ ((uint64_t)getpid() << 32);
		memcpy(b, &t, 8);
		memcpy(b + 8, &t, 8);
	}
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* SIGTERM and SIGINT arrive as a readable fd, so the loop sees them without races. */
static int open_signal_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN); /* a peer hanging up is an error code, not a death */
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* A VM registered or left: ferryd learns it from a fresh Inventory. */
static void vms_changed(void *ctx)
{
	struct agent *a = ctx;
	ferry_device_registry_sync_memory(&a->devices, &a->vms.registry);
	ferry_control_inventory_changed(&a->link.ctl, ferry_monotonic_ms());
}

/* Finds or starts ferry-simdevd when the config has sim devices, then opens every device. A
 * failure here is logged and leaves the devices UNSPECIFIED in the inventory: the host still
 * registers, and the operator sees why in the log. */
static void open_devices(struct agent *a)
{
	char sim_socket[sizeof a->cfg.sim_socket] = "";
	bool has_sim = false;
	for (size_t i = 0; i < a->cfg.n_devices; i++)
		has_sim = has_sim || a->cfg.devices[i].backend == FERRY_BACKEND_SIM;
	if (has_sim) {
		char binary[sizeof a->cfg.simdevd], log_path[sizeof sim_socket + 8], err[512], q[600];
		if (a->cfg.sim_socket[0])
			snprintf(sim_socket, sizeof sim_socket, "%s", a->cfg.sim_socket);
		else
			ferry_simdevd_default_socket(a->cfg.vm_socket, sim_socket, sizeof sim_socket);
		ferry_simdevd_log_path(sim_socket, log_path, sizeof log_path);
		if (a->cfg.simdevd[0])
			snprintf(binary, sizeof binary, "%s", a->cfg.simdevd);
		else if (ferry_simdevd_default_binary(binary, sizeof binary) < 0)
			snprintf(binary, sizeof binary, "ferry-simdevd");
		struct ferry_simdevd_launch l = {sim_socket, binary, a->config_path, log_path,
						 FERRY_SIMDEVD_START_TIMEOUT_MS};
		pid_t pid;
		bool started;
		if (ferry_simdevd_ensure(&l, &pid, &started, err, sizeof err) == 0)
			ferry_log(FERRY_LOG_INFO, "msg=\"%s ferry-simdevd\" sim_socket=%s pid=%d log=%s",
				  started ? "started" : "found a live", sim_socket, (int)pid, log_path);
		else
			ferry_log(FERRY_LOG_ERROR, "msg=\"no ferry-simdevd: sim devices unavailable\" sim_socket=%s reason=%s",
				  sim_socket, ferry_log_quote(err, q, sizeof q));
	}
	ferry_device_registry_open(&a->devices, &a->cfg, sim_socket, NULL);
	ferry_device_registry_sync_memory(&a->devices, &a->vms.registry);
}

/* A migration moved a device: ferryd learns the new state from an Inventory, coalesced. Any
 * Inventory the link sent meanwhile (Welcome, VM change) already carried it. */
static void devices_changed(struct agent *a, uint64_t now)
{
	if (a->link.ctl.inventories_sent != a->inventories_seen) {
		a->inventories_seen = a->link.ctl.inventories_sent;
		ferry_inventory_pacer_sent(&a->pacer, now);
	}
	if (a->migrations.device_changes != a->device_changes_seen) {
		a->device_changes_seen = a->migrations.device_changes;
		ferry_inventory_pacer_note(&a->pacer, now);
	}
	if (!ferry_inventory_pacer_due(&a->pacer, now))
		return;
	if (a->link.ctl.state == FERRY_CONTROL_ACTIVE) {
		ferry_log(FERRY_LOG_DEBUG, "msg=\"device states changed: sending the inventory\"");
		ferry_control_inventory_changed(&a->link.ctl, now);
	}
	/* Sent, or the link is down and the next Welcome sends a fresh one. */
	a->inventories_seen = a->link.ctl.inventories_sent;
	ferry_inventory_pacer_sent(&a->pacer, now);
}

/* Returns 0, or 1 when the agent must not start. */
static int open_vm_socket(struct agent *a)
{
	char err[512], q[600];
	int rc = ferry_vm_listener_open(&a->vms, a->cfg.vm_socket, vms_changed, a, err, sizeof err);
	if (rc == 0)
		return 0;
	ferry_log(FERRY_LOG_ERROR, "msg=\"cannot own the VM socket\" vm_socket=%s reason=%s", a->cfg.vm_socket,
		  ferry_log_quote(err, q, sizeof q));
	return 1;
}

/* Migration hooks: where data channels reach us, and Progress out on the control link. */
static int migration_data_address(void *ctx, char *out, size_t cap)
{
	struct agent *a = ctx;
	return ferry_net_advertised_address(a->data.address, a->link.conn.fd, out, cap);
}

static int migration_send(void *ctx, unsigned type, const ProtobufCMessage *msg)
{
	struct agent *a = ctx;
	return ferry_control_send_report(&a->link.ctl, ferry_monotonic_ms(), type, msg);
}

static const struct Ferry__V1__CommandResult *migration_command(void *ctx, const struct Ferry__V1__Command *cmd,
								 uint64_t now_ms)
{
	struct agent *a = ctx;
	return ferry_migration_manager_command(&a->migrations, cmd, now_ms);
}

static int run(struct agent *a)
{
	int sfd = open_signal_fd();
	if (sfd < 0) {
		ferry_log(FERRY_LOG_ERROR, "msg=\"cannot set up signals\" reason=\"%s\"", strerror(-sfd));
		return 1;
	}
	int err = ferry_data_listener_open(&a->data, a->cfg.data_listen);
	if (err) {
		ferry_log(FERRY_LOG_ERROR, "msg=\"cannot listen for data channels\" data_listen=%s reason=\"%s\"",
			  a->cfg.data_listen, strerror(-err));
		close(sfd);
		return 1;
	}
	if (open_vm_socket(a)) {
		ferry_data_listener_close(&a->data);
		close(sfd);
		return 1;
	}
	open_devices(a);
	make_boot_id(a->boot_id);
	struct ferry_control_link_host host = {build_inventory, free_memory, a};
	ferry_control_link_init(&a->link, a->cfg.coordinator, a->cfg.host_id, a->boot_id, FERRY_AGENT_VERSION, &host,
				ferry_random_system, NULL);
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"ferry-agent starting\" version=" FERRY_AGENT_VERSION
		  " host_id=%s coordinator=%s data_listen=%s vm_socket=%s devices=%zu boot_id=%s",
		  a->cfg.host_id, a->cfg.coordinator, a->data.address, a->vms.fd >= 0 ? a->vms.path : "none",
		  a->cfg.n_devices, a->boot_id);
	if (ferry_migration_manager_init(&a->migrations, &a->vms, &a->devices, a->cfg.vm_socket, migration_data_address,
					 migration_send, a) != 0) {
		ferry_log(FERRY_LOG_ERROR, "msg=\"cannot set up migrations\"");
		return 1;
	}
	ferry_inventory_pacer_init(&a->pacer);
	ferry_control_set_command_handler(&a->link.ctl, migration_command, a);
	ferry_data_listener_set_hello_handler(&a->data, ferry_migration_manager_stream_hello, &a->migrations);
	ferry_control_link_start(&a->link, ferry_monotonic_ms());

	for (;;) {
		struct pollfd pfds[2 + FERRY_DATA_MAX_PENDING + 1 + FERRY_VM_MAX_CONNS + 1 + 1];
		pfds[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		pfds[1].fd = ferry_control_link_poll_fd(&a->link, &pfds[1].events);
		pfds[1].revents = 0;
		size_t n_data = ferry_data_listener_pollfds(&a->data, pfds + 2, FERRY_DATA_MAX_PENDING + 1);
		struct pollfd *vm_pfds = pfds + 2 + n_data;
		size_t n_vm = ferry_vm_listener_pollfds(&a->vms, vm_pfds, FERRY_VM_MAX_CONNS + 1);
		vm_pfds[n_vm] = (struct pollfd){.fd = ferry_migration_manager_fd(&a->migrations), .events = POLLIN};

		uint64_t now = ferry_monotonic_ms();
		uint64_t due = ferry_control_link_next_deadline(&a->link);
		uint64_t data_due = ferry_data_listener_next_deadline(&a->data);
		if (data_due < due)
			due = data_due;
		uint64_t vm_due = ferry_vm_listener_next_deadline(&a->vms);
		if (vm_due < due)
			due = vm_due;
		uint64_t mig_due = ferry_migration_manager_next_deadline(&a->migrations, now);
		if (mig_due < due)
			due = mig_due;
		uint64_t inv_due = ferry_inventory_pacer_deadline(&a->pacer);
		if (inv_due < due)
			due = inv_due;
		int timeout = due <= now ? 0 : (due - now > MAX_POLL_MS ? MAX_POLL_MS : (int)(due - now));

		int rc = poll(pfds, 2 + n_data + n_vm + 1, timeout);
		if (rc < 0 && errno != EINTR) {
			ferry_log(FERRY_LOG_ERROR, "msg=\"poll failed\" reason=\"%s\"", strerror(errno));
			break;
		}
		now = ferry_monotonic_ms();
		if (rc > 0 && (pfds[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				ferry_log(FERRY_LOG_INFO, "msg=\"shutting down\" signal=%s",
					  si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
				ferry_migration_manager_close(&a->migrations);
				ferry_control_link_stop(&a->link);
				ferry_data_listener_close(&a->data);
				ferry_vm_listener_close(&a->vms);
				ferry_device_registry_close(&a->devices);
				close(sfd);
				ferry_log(FERRY_LOG_INFO, "msg=\"ferry-agent stopped\"");
				return 0;
			}
		}
		if (rc > 0) {
			ferry_control_link_on_poll(&a->link, pfds[1].revents, now);
			ferry_data_listener_on_poll(&a->data, pfds + 2, n_data, now);
			ferry_vm_listener_on_poll(&a->vms, vm_pfds, n_vm, now);
		}
		ferry_control_link_on_timer(&a->link, now);
		ferry_data_listener_on_timer(&a->data, now);
		ferry_vm_listener_on_timer(&a->vms, now);
		ferry_migration_manager_poll(&a->migrations, now);
		devices_changed(a, now);
		a->link.ctl.active_migrations = ferry_migration_manager_active(&a->migrations);
	}
	ferry_migration_manager_close(&a->migrations);
	ferry_control_link_stop(&a->link);
	ferry_data_listener_close(&a->data);
	ferry_vm_listener_close(&a->vms);
	ferry_device_registry_close(&a->devices);
	close(sfd);
	return 1;
}

int main(int argc, char **argv)
{
	static struct agent agent; /* large (64 devices, inventory storage): not on the stack */
	int rc = parse_options(argc, argv, &agent);
	if (rc >= 0)
		return rc;
	return run(&agent);
}
