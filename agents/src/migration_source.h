/*
 * The source side of a migration: dirty tracking of the VM's guest RAM, the pre-copy rounds over
 * N data channels, the cut-over rule, the stop-and-copy round and the wait for the destination's
 * ResumeConfirm; rollback (thaw, VM runs on here) on any failure before that confirm.
 *
 * Rounds: round 0 sends every page, round r > 0 the pages the tracker harvested while round r-1
 * was sent. Pages are split over the channels by FERRY_STREAM_CHUNK_PAGES-page regions (region k
 * goes on channel k mod N), sent in PAGE_BATCHes of at most one region (2 MiB) whose all-zero
 * pages travel as PageRun.zero flags only. Data pages go from guest RAM to the socket without a
 * copy of our own, each with its CRC-32C (PageBatch.page_crc32c): a page written between its
 * CRC and its send arrives mismatching and is sent again next round (staged_verify.h). Each channel ends the round with END_OF_ROUND and waits
 * for the destination's ROUND_ACK before the next round starts, so rounds never overlap. After
 * each round a Progress report goes out and the cut-over rule (cutover_rule.h) is applied here,
 * at once: expected downtime = (dirty bytes + device stop-copy bytes) / measured bandwidth <=
 * budget (passed up once for one more round predicted to halve it), or a ForceCutover came, or
 * the round count reached max_rounds.
 *
 * Devices (migration_device_binding.h, m->devices): pre-copy starts them (PRE_COPY) and their DMA
 * logs (migration_dma_log.h), whose reports join every harvest. Each round, channel 0 sends after
 * its pages what each device offers as DEVICE_CHUNKs {device_id, round, offset, stop_copy,
 * end_of_stream, payload_crc32c}, device after device; END_OF_ROUND.device_bytes counts their
 * payload. In the final round the devices are in STOP_COPY and each stream is sent to its end,
 * closed by an empty chunk with end_of_stream; then the devices go to STOP.
 *
 * Cutover: the workload's vCPUs freeze (its control socket: `freeze`), the devices go to
 * STOP_COPY (migration_devices.h), the last harvest is sent as the final round, the vCPU state
 * (`export`) travels as a VCPU_STATE frame {vcpus, state, state_crc32c} on channel 0, then the
 * source waits for RESUME_CONFIRM on channel 0. On the confirm the workload is told to `quit`
 * (released); downtime = freeze time here -> vCPU start on the destination (Unix ns clocks of both
 * hosts, which must be synchronised).
 *
 * Test-only faults (test_hooks.h): FERRY_TEST_CORRUPT_BATCH=N sends the N-th PAGE_BATCH of every
 * migration with a wrong checksum for one page (damaged in transit); FERRY_TEST_TEAR_PAGE=N has
 * the guest halfway through writing page N when round 0 sends it, after its checksum (a torn page);
 * FERRY_TEST_CORRUPT_VCPU_STATE=1 flips one byte of the vCPU state after its checksum.
 */
#ifndef FERRY_MIGRATION_SOURCE_H
#define FERRY_MIGRATION_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "migration.h"
#include "migration_devices.h"
#include "vm_registry.h"

#define FERRY_STREAM_CHUNK_PAGES 512u          /* one batch at most: 2 MiB of 4 KiB pages */
#define FERRY_STREAM_IO_TIMEOUT_MS 10000       /* no progress on a channel for this long: failed */
#define FERRY_STREAM_CONFIRM_TIMEOUT_MS 30000  /* final round acknowledged -> ResumeConfirm */
#define FERRY_STREAM_DEFAULT_CHANNELS 2u       /* docs/benchmarks.md: 2 beat 1 and 4 on loopback */

/* Prepares a source for VM `vm` (registered mode=run): asks the workload for its RAM address
 * (`attach`), maps its memfd, opens the dirty tracker. -errno with the reason in err (e.g.
 * -EOPNOTSUPP on a kernel without the tracker). m->src is set on success. */
int ferry_migration_source_prepare(struct ferry_migration *m, const struct ferry_vm_entry *vm,
				   const char *destination_address, char *err, size_t errlen);

/* Starts pre-copy with `policy` (0 fields take defaults): the worker thread runs from here. */
int ferry_migration_source_start(struct ferry_migration *m, const struct ferry_mig_policy *policy, char *err,
				 size_t errlen);

/* AdjustPolicy: non-zero fields replace the current ones (bandwidth takes effect at once). */
void ferry_migration_source_adjust(struct ferry_migration *m, const struct ferry_mig_policy *policy);
/* ForceCutover: the cutover starts when the current round ends. */
void ferry_migration_source_force_cutover(struct ferry_migration *m);
/* Abort: the worker stops at once (its channels are shut down) and rolls back. Before start, the
 * migration rolls back here. */
void ferry_migration_source_abort(struct ferry_migration *m, const char *reason);

/* Joins the worker (the state must be final or the worker not started) and frees m->src. */
void ferry_migration_source_free(struct ferry_migration *m);

#endif
