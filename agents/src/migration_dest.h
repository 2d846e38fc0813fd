/*
 * The destination side of a migration: the incoming workload (started here, as libvirt starts
 * QEMU -incoming), the data channels' receivers writing pages straight into its guest RAM, the
 * `start` with the source's vCPU state, and the RESUME_CONFIRM back to the source.
 *
 * Guest RAM (migration_dest_ram.h): PrepareDestination refuses a VM whose RAM does not fit this
 * host (MEMORY). Once the incoming workload registered, its memfd is mapped and allocated
 * (FERRY_DEST_ALLOC, ram_alloc.h) on a thread of its own; registration and allocation must end
 * within ferry_dest_ram_deadline_ms of PrepareDestination (else TIMEOUT; an allocation that finds
 * no memory: MEMORY).
 *
 * Channels: a STREAM_HELLO must carry this migration's token and an unused channel index below
 * the prepared channel count; otherwise BAD_TOKEN and the channel is closed (the migration and
 * the agent carry on). Each accepted channel gets its own receiver thread, which answers
 * STREAM_WELCOME only once the guest RAM is allocated (so pre-copy starts on ready memory; an
 * allocation failure or timeout answers ERROR instead and discards the migration), then reads every
 * PAGE_BATCH's payload directly into the guest-RAM mapping while checksumming it; a mismatch (or
 * any protocol breach) sends ERROR on that channel, closes every channel, and discards the
 * migration: the incoming workload is killed and never runs. Writing before the checksum is known
 * is safe for that reason: memory of a failed migration is never used.
 *
 * DEVICE_CHUNKs (channel 0 only, see migration_source.h): the first one puts the devices in
 * RESUMING; each is written by the device set (checksum, exact offset). A discarded migration
 * resets the devices it put in RESUMING.
 *
 * Memory is checked in stages (staged_verify.h): round 0's pages (all of RAM; never the final
 * round) are self-checked by their receiver as each batch lands intact, while in cache; for later
 * rounds, when a round's last END_OF_ROUND arrives, before that channel's ROUND_ACK, the pages
 * written since the last check (and round 0's failures) are self-checked; a page that failed and
 * did not arrive again in the next round fails the migration (ERROR_CODE_MEMORY, naming the page).
 * The final round's pages are left to the workload, which checks only those at `start` (the
 * bitmap comes with it). Test-only fault: FERRY_TEST_CORRUPT_PAGE=N (page N goes bad right after
 * it landed in round 0) or =final (the final round's first page goes bad at its end).
 *
 * Once every channel delivered its final END_OF_ROUND and the vCPU state arrived, the event loop
 * (ferry_migration_dest_poll) runs the device resume hooks and sends the workload its `start`;
 * on "ok started" it sends RESUME_CONFIRM {vcpu_start_unix_ns, memory_verified} on channel 0.
 *
 * The incoming workload: `ferry-workload --incoming --vm-id ID --ram BYTES --vcpus N --agent-socket
 * SOCK --control DIR/incoming-ID.sock LAUNCH_ARGS...` from $FERRY_WORKLOAD_BIN, else ferry-workload
 * next to the agent's executable. N and LAUNCH_ARGS are PrepareDestination's vcpus and
 * launch_args, which the coordinator copies from the source's Inventory Vm (the source workload
 * reported them at registration, workload_ipc.h). Launch arguments may only be --dirty-rate,
 * --pattern, --seed, --thp, --log-level and their values. Before its `start` the workload exits
 * when its registration connection closes, so a killed agent leaves no incoming VM behind.
 */
#ifndef FERRY_MIGRATION_DEST_H
#define FERRY_MIGRATION_DEST_H

#include <stddef.h>
#include <stdint.h>

#include "ferry.pb-c.h"
#include "migration.h"
#include "vm_listener.h"

/* Starts the incoming workload for m->vm_id with ram_bytes, vcpus and launch_args (checked: see
 * above; -EINVAL with the reason), registering at `vm_socket`, once the RAM passed the admission
 * check (-ENOSPC: it does not fit this host). m->dst is set on success. -errno with the reason in
 * err. */
int ferry_migration_dest_prepare(struct ferry_migration *m, uint64_t ram_bytes, uint32_t vcpus,
				 char *const *launch_args, size_t n_launch_args, const char *vm_socket, uint64_t now_ms,
				 char *err, size_t errlen);

/* A STREAM_HELLO for m arrived on `fd`. Returns 0 (fd taken: welcomed, its receiver runs) or a
 * ferry.v1.ErrorCode with the reason in msg (fd not taken). */
int ferry_migration_dest_accept(struct ferry_migration *m, const Ferry__V1__StreamHello *h, int fd, char *msg,
				size_t cap);

/* Event loop work: maps the incoming RAM once the workload registered, starts the workload when
 * everything is loaded, confirms or discards on its answer, kills and reaps it when discarded. */
void ferry_migration_dest_poll(struct ferry_migration *m, struct ferry_vm_listener *vms, uint64_t now_ms);

/* Abort: discards (refused once resumed: returns -EALREADY). */
int ferry_migration_dest_abort(struct ferry_migration *m, const char *reason);

/* Whether nothing runs any more for m (final state, receivers joined, workload reaped if dead). */
int ferry_migration_dest_idle(struct ferry_migration *m);

/* Stops everything (kills a workload that never ran), joins, frees m->dst. */
void ferry_migration_dest_free(struct ferry_migration *m);

#endif
