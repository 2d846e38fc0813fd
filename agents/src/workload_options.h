/*
 * Command line of ferry-workload:
 *
 *   ferry-workload --control PATH [--ram SIZE] [--vcpus N] [--dirty-rate RATE]
 *                  [--pattern uniform|hot:SIZE|sweep] [--seed N] [--thp] [--uffd]
 *                  [--start-frozen] [--log-level LEVEL]
 *                  [--agent-socket PATH [--vm-id ID] [--incoming [--verify-at-start full|written]]]
 *
 * SIZE: bytes with an optional binary unit, "256MiB", "2GiB", "64KiB" ("M", "G", "K" also accepted);
 * in hot:SIZE a bare number means MiB. RATE: page writes per second over all vCPUs ("5000"), or
 * bytes per second with a unit ("20MiB/s"); 0 = as fast as possible. Defaults: --ram 256MiB,
 * --vcpus 1, --dirty-rate 1000, --pattern uniform, --seed 1.
 *
 * --agent-socket registers the VM with the local agent (workload_ipc.h, part 2) under --vm-id
 * (default "vm-PID"); the workload refuses to start when the agent refuses it. --incoming (needs
 * --agent-socket) starts a migration destination: guest RAM comes from the agent, and the vCPUs
 * wait for the agent's `start`, then run from the source's state after memory verified; --ram,
 * --vcpus, --pattern and --seed must be the source's. --start-frozen: the vCPUs wait for `thaw`
 * (with --incoming: after `start`, holding the source's state, as QEMU's -S with -incoming).
 * --verify-at-start (incoming): `written` (default) checks at start only the pages the agent marked
 * as written since its last round check (staged_verify.h), or all of RAM when the agent sends no
 * bitmap; `full` always checks all of RAM.
 */
#ifndef FERRY_WORKLOAD_OPTIONS_H
#define FERRY_WORKLOAD_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "workload.h"

struct ferry_workload_options {
	struct ferry_workload_config config;
	const char *control_path;
	int give_uffd;
	const char *agent_socket; /* NULL: do not register */
	const char *vm_id;        /* NULL: "vm-PID" */
	int incoming;
	int verify_full;          /* --verify-at-start full */
	enum ferry_log_level log_level;
};

/* "256MiB" -> bytes. -EINVAL for anything else, -ERANGE on overflow. `bare_unit` multiplies a
 * number without a unit (1 for bytes, 1 << 20 for MiB). */
int ferry_workload_parse_size(const char *s, uint64_t bare_unit, uint64_t *out);
/* "5000" -> 5000 pages/s; "20MiB/s" -> 5120 pages/s. */
int ferry_workload_parse_rate(const char *s, uint64_t *pages_per_s);
/* "uniform", "sweep", "hot:N" -> pattern and hot-set bytes. */
int ferry_workload_parse_pattern(const char *s, enum ferry_workload_pattern *pattern, uint64_t *hot_bytes);

/* The launch words of `c` (workload_ipc.h, register's launch=): dirty rate, pattern, seed and
 * --thp, joined by ',', so that a destination started with them (plus --vcpus, --ram and its
 * identity) runs the same VM. 0, or -ENOSPC when cap is too small. */
int ferry_workload_options_launch(const struct ferry_workload_config *c, char *out, size_t cap);

/* Parses argv. 0, 1 if --help was asked (usage printed), or -EINVAL with the reason in err. */
int ferry_workload_options_parse(int argc, char **argv, struct ferry_workload_options *out, char *err, size_t errlen);

#endif
