/*
 * Live-migration test harness: real ferry-agent processes (a source and a destination host),
 * each registered with a scripted ferryd (test_peer.h) that the test plays, and a real source
 * ferry-workload. The test drives the migration as a coordinator would: PrepareDestination gets
 * the vcpus and launch_args of the source VM as the source's Inventory reported them.
 */
#ifndef FERRY_MIGRATION_HARNESS_H
#define FERRY_MIGRATION_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ferry.pb-c.h"
#include "test_peer.h"
#include "workload_ipc.h"

#define MH_T_MS 20000

struct mh_host {
	struct test_peer ferryd;
	pid_t agent;
	char data_address[64];
	char vm_socket[108];
	char config[128];     /* --config file, "" = none */
	char sim_socket[108]; /* its ferry-simdevd (config sim_socket), "" = no sim devices */
	/* Every successful "device_state_changed" Event read so far, in order, as "DEVICE STATE". */
	char device_steps[128][96];
	size_t n_device_steps;
	/* Every "throttle_changed" Event read so far, in order, as "PERCENT REASON RESULT". */
	char throttle_steps[32][160];
	size_t n_throttle_steps;
	unsigned mid_round_reports; /* skipped by mh_next_progress, or read by mh_progress_until */
};

/* The source VM as its Inventory described it, to be copied into PrepareDestination. */
struct mh_vm {
	uint64_t ram_bytes;
	uint32_t vcpus;
	char words[FERRY_VM_LAUNCH_ARGS_MAX][64];
	char *launch_args[FERRY_VM_LAUNCH_ARGS_MAX];
	size_t n_launch_args;
};

/* One migration test: both hosts, the source workload and its control socket. */
struct mh_cluster {
	char dir[64];
	struct mh_host src, dst;
	pid_t workload;
	char control[128];  /* the source workload's control socket */
	char incoming[128]; /* the destination's incoming workload's control socket */
	struct mh_vm vm;
	uint32_t channels; /* data channels mh_begin asks for; 0 = 2 */
	/* The source's devices of vm1 as its Inventory reported them (mh_begin puts them in
	 * PrepareDestination); owned by src_inventory. */
	Ferry__V1__Inventory *src_inventory;
	Ferry__V1__Device *vm_devices[16];
	size_t n_vm_devices;
};

/* Starts both agents (env: NULL-terminated "NAME=VALUE" lists for each, may be NULL), then the
 * source workload "vm1" (--ram ram --vcpus 2 --pattern uniform --seed 5 --dirty-rate rate) and
 * waits until the source's Inventory shows it (filling c->vm). 0 or -1. */
int mh_setup(struct mh_cluster *c, const char *const *src_env, const char *const *dst_env, const char *ram,
	     const char *rate);
/* mh_setup with one more workload option (e.g. "--start-frozen"), NULL for none. */
int mh_setup_with(struct mh_cluster *c, const char *const *src_env, const char *const *dst_env, const char *ram,
		  const char *rate, const char *extra);
/* mh_setup with device sections: each host gets a config file with its own ferry-simdevd
 * (sim_socket in the test's directory) and the given `[device ...]` text (NULL: no config);
 * src_env as for mh_setup. */
int mh_setup_devices(struct mh_cluster *c, const char *const *src_env, const char *src_devices,
		     const char *dst_devices, const char *ram, const char *rate);
/* mh_setup_devices with one more workload option (e.g. "--pattern=hot:32"), NULL for none. */
int mh_setup_devices_with(struct mh_cluster *c, const char *const *src_env, const char *src_devices,
			  const char *dst_devices, const char *ram, const char *rate, const char *extra);
/* Stops the agents (SIGTERM), any source workload still running and the hosts' ferry-simdevd. */
void mh_teardown(struct mh_cluster *c);
/* SIGKILLs a host's agent and reaps it. */
void mh_kill_agent(struct mh_host *h);
/* SIGKILLs the agent (if still running) and starts a new one for `name` ("src"/"dst") with the same
 * config, registered with a new scripted ferryd; its first Inventory (caller frees), NULL on failure. */
Ferry__V1__Inventory *mh_restart_agent(struct mh_cluster *c, struct mh_host *h, const char *name);

/* PrepareDestination (seq 1) on dst with c->vm, PrepareSource (seq 1) and StartPrecopy (seq 2) with
 * `policy` on src, 2 channels. 0 when all were accepted. */
int mh_begin(struct mh_cluster *c, const char *id, const char *token, const Ferry__V1__MigrationPolicy *policy);

/* Sends a command; its result (caller frees) or NULL on timeout. Progress frames read meanwhile are
 * dropped. */
Ferry__V1__CommandResult *mh_command(struct mh_host *h, Ferry__V1__Command *cmd);
/* The result's error code (0 = accepted), -1 for none; frees r. */
int mh_result_code(Ferry__V1__CommandResult *r);
/* Abort / ForceCutover / AdjustPolicy of migration `id` with `seq`: the result code, -1 for none. */
int mh_abort(struct mh_host *h, const char *id, uint64_t seq);
int mh_force_cutover(struct mh_host *h, const char *id, uint64_t seq);
int mh_adjust(struct mh_host *h, const char *id, uint64_t seq, const Ferry__V1__MigrationPolicy *policy);

/* Next Progress from a host (caller frees), NULL on timeout; mid-round reports (mid_round) are
 * counted in h->mid_round_reports and skipped. */
Ferry__V1__Progress *mh_next_progress(struct mh_host *h);
/* Next Progress from a host, mid-round reports included (caller frees), NULL on timeout. */
Ferry__V1__Progress *mh_next_progress_any(struct mh_host *h);
/* Progress, mid-round reports included, until `stop` says true for one: that one (caller frees),
 * NULL on timeout. Every other one is freed after `stop` saw it, so `stop` may gather figures from
 * them through ctx. Mid-round reports read count in h->mid_round_reports. */
Ferry__V1__Progress *mh_progress_until(struct mh_host *h, bool (*stop)(const Ferry__V1__Progress *p, void *ctx),
				       void *ctx);
/* Whether a Progress is the end of its migration (COMPLETED, ROLLED_BACK or FAILED). */
bool mh_progress_is_final(const Ferry__V1__Progress *p);
/* Progress until one in a final phase (COMPLETED / ROLLED_BACK); that one, NULL on timeout. */
Ferry__V1__Progress *mh_final_progress(struct mh_host *h);

/* One command on a workload's control socket (retrying the connect for a while): 0 or -errno. */
int mh_workload_says(const char *control, const char *cmd, char *reply, size_t cap);
/* The workload's `field` (a number in its "stats" answer), polled every 10 ms for at most 5 s until
 * `done(value, ctx)`: the last value read, UINT64_MAX if none. Stops at once when nothing answers
 * on `control` any more (a gone workload is a failure to report, not a reason to wait). */
uint64_t mh_workload_stat_until(const char *control, const char *field, bool (*done)(uint64_t v, void *ctx),
				void *ctx);
/* Predicates for mh_workload_stat_until; ctx points at the uint64_t to compare with. */
bool mh_stat_eq(uint64_t v, void *want);
bool mh_stat_gt(uint64_t v, void *than);
/* Whether nothing answers on `control` any more, waiting a bounded time for it to go. */
int mh_workload_gone(const char *control);
/* The source workload after a rollback: alive, not frozen, memory self-check passing, vCPUs
 * writing. Returns the number of failed checks (0 = all good), each explained on stderr. */
int mh_source_runs_on(struct mh_cluster *c);

/* Sends STREAM_HELLO for `id` with `token` (channel 0 of 2) to `address`: the answer's frame type
 * and, for an Error, its code in *code. */
int mh_stream_hello(const char *address, const char *id, const char *token, uint64_t ram_bytes, int *code);
/* The same as a source speaking data-stream protocol `version`; an Error's message goes to
 * message (cap bytes) unless it is NULL. */
int mh_stream_hello_as(const char *address, const char *id, const char *token, uint64_t ram_bytes, uint32_t version,
		       int *code, char *message, size_t cap);

#endif
